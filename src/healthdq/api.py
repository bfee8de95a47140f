"""The Python API: `healthdq.check`, `healthdq.profile`, `healthdq.omop` (docs/python.md).

Each function turns keyword options into a call of the same pipeline job the CLI runs, so
masking, small-number suppression, the audit entry and outputs are exactly the CLI's. `data` is
a path or a DataFrame (pandas, polars, pyarrow, a DuckDB relation, Spark); the engine follows
from it: a Spark DataFrame runs on its own Spark session, every other frame on DuckDB, which
scans the frame's memory in place.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from healthdq import pipeline
from healthdq.errors import HealthdqError
from healthdq.results import RunResult
from healthdq.sources.base import ReadOptions
from healthdq.sources.frames import LABELS, frame_kind, frame_view

if TYPE_CHECKING:
    from healthdq.engine.base import Engine
    from healthdq.profile import TableProfile
    from healthdq.rules import model as m

__all__ = ["check", "omop", "profile"]

PathLike = str | os.PathLike[str]


def check(
    data: Any,
    *,
    pack: str | None = None,
    contract: PathLike | m.Contract | None = None,
    mapping: Mapping[str, str] | None = None,
    group_by: str | Iterable[str] | None = None,
    run_date: date | str | None = None,
    data_standard_date: date | str | None = None,
    sample_size: int = 5,
    unmask: bool = False,
    suppress_small_numbers: bool = True,
    identifiable: bool | None = None,
    suppression: str | None = None,
    allow_empty: bool = False,
    engine: str | None = None,
    outputs: Mapping[str, PathLike] | None = None,
    audit_log: PathLike | None = None,
    audit_key_file: PathLike | None = None,
    threads: int | None = None,
    spark_master: str = "local[2]",
    format: str | None = None,
    delimiter: str | None = None,
    encoding: str | None = None,
    table: str | None = None,
    store: PathLike | None = None,
    keep_run: bool = True,
    dataset: str | None = None,
) -> RunResult:
    """Check `data` against a shipped `pack` or a `contract` (a file, YAML text or a Contract).

    `data`: a path, glob or DataFrame for a one-table contract, or {table: path or DataFrame}.
    `mapping`: {pack_column: your_column}. `outputs`: {"html"|"json"|"junit": path}.
    Identifiers in samples are masked unless `unmask=True` (audited). `identifiable=True` (or
    the contract's `identifiable`) applies the `suppression` policy (hes, round5, threshold:N)
    to every table of counts (docs/governance.md). The run is kept in the
    results store (`store`: a DuckDB path or postgresql:// URL; default $HEALTHDQ_STORE, else
    .healthdq/runs.duckdb) unless `keep_run=False`. Raises HealthdqError with the CLI's
    one-line message on bad input.
    """
    spec = _contract(contract, pack)
    sources = _sources(spec, data)
    eng, owned = _engine(list(sources.values()), engine, threads, spark_master)
    read = ReadOptions(
        format=format,
        delimiter=delimiter,
        encoding=encoding,
        table=table,
        mapping=_mapping(mapping),
    )
    try:
        return pipeline.check(
            spec,
            sources,
            read_options=read,
            sample_size=sample_size,
            group_by=[group_by] if isinstance(group_by, str) else list(group_by or []),
            run_date=_run_date(run_date),
            data_standard_date=_run_date(data_standard_date, "data_standard_date"),
            engine=eng,
            settings=_settings(
                unmask=unmask,
                suppress_small_numbers=suppress_small_numbers,
                identifiable=identifiable,
                suppression=suppression,
                allow_empty=allow_empty,
                outputs=outputs,
                audit_log=audit_log,
                audit_key_file=audit_key_file,
                threads=threads,
                spark_master=spark_master,
                store=store,
                keep_run=keep_run,
                dataset=dataset,
            ),
        )
    finally:
        _release(eng, owned, list(sources))


def profile(
    data: Any,
    *,
    table: str = "data",
    engine: str | None = None,
    audit_log: PathLike | None = None,
    audit_key_file: PathLike | None = None,
    threads: int | None = None,
    spark_master: str = "local[2]",
    format: str | None = None,
    delimiter: str | None = None,
    encoding: str | None = None,
) -> TableProfile:
    """Profile every column of `data` (a path or a DataFrame); identifier values masked."""
    location = _location(data)
    eng, owned = _engine([location], engine, threads, spark_master)
    try:
        return pipeline.profile(
            location,
            table=table,
            read_options=ReadOptions(format=format, delimiter=delimiter, encoding=encoding),
            engine=eng,
            settings=_settings(
                audit_log=audit_log,
                audit_key_file=audit_key_file,
                threads=threads,
                spark_master=spark_master,
            ),
        )
    finally:
        _release(eng, owned, [table])


def omop(
    cdm: PathLike,
    *,
    run_date: date | str | None = None,
    sample_size: int = 5,
    schema: str | None = None,
    checks: Iterable[str] | None = None,
    tables: Iterable[str] | None = None,
    dqd_case: str = "camel",
    unmask: bool = False,
    engine: str = "duckdb",
    outputs: Mapping[str, PathLike] | None = None,
    audit_log: PathLike | None = None,
    audit_key_file: PathLike | None = None,
    threads: int | None = None,
    spark_master: str = "local[2]",
    store: PathLike | None = None,
    keep_run: bool = True,
    dataset: str | None = None,
) -> RunResult:
    """OHDSI DQD's OMOP CDM v5.4 checks on `cdm`: a DuckDB file, a folder, or postgres:DSN.

    `outputs` may also name "dqd-json" (DQD's own format, field case from `dqd_case`).
    `store`, `keep_run` and `dataset` as for `check`.
    """
    if not isinstance(cdm, str | os.PathLike):
        raise HealthdqError(
            f"omop reads a CDM location (DuckDB file, folder or postgres:DSN), "
            f"not a {LABELS.get(frame_kind(cdm) or '', type(cdm).__name__)}"
        )
    return pipeline.omop(
        os.fspath(cdm),
        run_date=_run_date(run_date),
        sample_size=sample_size,
        schema=schema,
        check_names=list(checks or []),
        tables=list(tables or []),
        dqd_case=dqd_case,
        engine=engine,
        settings=_settings(
            unmask=unmask,
            outputs=outputs,
            audit_log=audit_log,
            audit_key_file=audit_key_file,
            threads=threads,
            spark_master=spark_master,
            store=store,
            keep_run=keep_run,
            dataset=dataset,
        ),
    )


# -- turning arguments into pipeline inputs ----------------------------------------------------
def _contract(contract: PathLike | m.Contract | None, pack: str | None) -> m.Contract:
    from healthdq.rules import model as m
    from healthdq.rules.loader import load_contract, load_pack, parse_contract

    if (contract is None) == (pack is None):
        raise HealthdqError("give exactly one of contract= or pack=")
    if pack is not None:
        return load_pack(pack)
    if isinstance(contract, m.Contract):
        return contract
    if isinstance(contract, str) and "\n" in contract:  # YAML text pasted in a notebook
        return parse_contract(contract)
    return load_contract(os.fspath(contract))  # type: ignore[arg-type]


def _location(data: Any) -> Any:
    """A path as a string, or the DataFrame itself; anything else is refused."""
    if isinstance(data, str | os.PathLike):
        return os.fspath(data)
    if frame_kind(data) is None:
        raise HealthdqError(
            "data must be a path or a DataFrame (pandas, polars, pyarrow Table, DuckDB relation, "
            f"Spark), got {type(data).__name__}"
        )
    return data


def _sources(spec: m.Contract, data: Any) -> dict[str, Any]:
    """Table -> location or frame; tables not given fall back to the contract's `source:`."""
    names = list(spec.tables)
    if isinstance(data, Mapping):
        unknown = [str(t) for t in data if t not in spec.tables]
        if unknown:
            raise HealthdqError(
                f"'{unknown[0]}': this contract has tables {', '.join(names)}; "
                "give {table: data} for those"
            )
        sources = {str(t): _location(v) for t, v in data.items()}
    elif len(names) == 1:
        sources = {names[0]: _location(data)}
    elif isinstance(data, str | Path) and pipeline.fhir_view_sources(spec, str(data)):
        sources = pipeline.fhir_view_sources(spec, str(data)) or {}
    else:
        raise HealthdqError(
            f"this contract has tables {', '.join(names)}: give data as {{table: data}}"
        )
    return pipeline.contract_sources(spec, sources, "give {table: data}")


def _engine(
    values: list[Any], engine: str | None, threads: int | None, spark_master: str
) -> tuple[Engine | str, bool]:
    """The engine the data can be scanned on in place, and whether this call owns it."""
    from healthdq.engine.registry import create_engine

    kinds = {frame_kind(v) for v in values if not isinstance(v, str)}
    if "spark" in kinds:
        if engine not in (None, "spark") or len(kinds) > 1:
            other = (
                next(k for k in sorted(kinds, key=str) if k != "spark") if len(kinds) > 1 else None
            )
            raise HealthdqError(
                "a Spark DataFrame is checked on the spark engine"
                + (f", not with a {LABELS[other]}" if other else f", not engine='{engine}'")
            )
        sessions = {id(v.sparkSession): v.sparkSession for v in values if not isinstance(v, str)}
        if len(sessions) > 1:
            raise HealthdqError(
                "Spark DataFrames from different sessions cannot be checked together"
            )
        # The DataFrame's own session: never a new one, and never stopped by healthdq.
        session = next(iter(sessions.values()))
        return create_engine("spark", spark=session, threads=threads, master=spark_master), True
    if kinds and engine not in (None, "duckdb"):
        kind = next(iter(kinds))
        raise HealthdqError(
            f"a {LABELS[kind or 'arrow']} is checked on the duckdb engine, not engine='{engine}' "
            "(pass a Spark DataFrame to use Spark)"
        )
    return engine or "duckdb", False


def _release(engine: Engine | str, owned: bool, tables: list[str]) -> None:
    """Close an engine this call made; drop the temp views it left in the user's session."""
    if not owned or isinstance(engine, str):
        return
    spark = getattr(engine, "spark", None)
    engine.close()  # an engine on the user's session unpersists its caches, never stops it
    if spark is not None:
        for name in tables:
            spark.catalog.dropTempView(frame_view(name))


def _mapping(mapping: Mapping[str, str] | None) -> dict[str, str]:
    if mapping is None:
        return {}
    if not isinstance(mapping, Mapping):
        raise HealthdqError("mapping must be {pack_column: your_column}")
    return {str(k): str(v) for k, v in mapping.items()}


def _run_date(value: date | str | None, option: str = "--run-date") -> date | None:
    if value is None or isinstance(value, date):
        return value
    return pipeline.parse_run_date(str(value), option)


def _settings(
    *,
    outputs: Mapping[str, PathLike] | None = None,
    audit_log: PathLike | None = None,
    audit_key_file: PathLike | None = None,
    store: PathLike | None = None,
    **options: Any,
) -> pipeline.Settings:
    from healthdq.report.registry import get_renderer

    files = {str(k): Path(os.fspath(v)) for k, v in (outputs or {}).items()}
    for name in files:
        get_renderer(name)  # an unknown output fails before the run, not after it
    return pipeline.Settings(
        outputs=files,
        audit_log=Path(os.fspath(audit_log)) if audit_log is not None else None,
        audit_key_file=Path(os.fspath(audit_key_file)) if audit_key_file is not None else None,
        store=os.fspath(store) if store is not None else None,
        **options,
    )
