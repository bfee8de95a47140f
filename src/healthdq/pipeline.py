"""One pipeline for every job: read → run → score → govern → audit → store → render.

The CLI verbs, the Python API (api.py) and later the server call these functions and nothing
else, so masking, small-number suppression and the audit entry are applied here, once, for every
verb. A job returns its result; files are written only through the renderer registry.

Order, and why: small-number suppression runs before scoring (a group score must never be
computed from a figure that is then hidden); masking runs after scoring (scores use counts, not
values) and before anything leaves the process (audit, store, files).
"""

from __future__ import annotations

import uuid
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from healthdq.errors import HealthdqError
from healthdq.results import AuditRef, RunResult
from healthdq.rules import model as m
from healthdq.sources.base import ReadOptions

if TYPE_CHECKING:
    from healthdq.engine.base import Engine
    from healthdq.governance.anonymise import SearchResult
    from healthdq.governance.risk import RiskReport
    from healthdq.profile import TableProfile
    from healthdq.store import Store

# Failing-row samples are patient-level rows read back into memory: bound them.
MAX_SAMPLE_SIZE = 1000
TableProgress = Callable[[str, float], None]


@dataclass
class Settings:
    """What every job shares: governance, audit, store and outputs."""

    unmask: bool = False
    suppress_small_numbers: bool = True
    # Mark the data identifiable (None: as the contract says) and the policy then applied to
    # every table of counts (None: the contract's, default hes); docs/governance.md.
    identifiable: bool | None = None
    suppression: str | None = None
    audit_log: Path | None = None
    # Key for the audit chain (default: $HEALTHDQ_AUDIT_KEY_FILE; none: unkeyed, docs/audit.md).
    audit_key_file: Path | None = None
    # Where warnings about the audit log go (a quarantined line); default: Python's warnings.
    on_warning: Callable[[str], None] | None = None
    # Outputs: renderer name (json, html, junit, dqd-json...) -> file.
    outputs: dict[str, Path] = field(default_factory=dict)
    # Options of each renderer, by name, e.g. {"dqd-json": {"case": "snake"}}.
    output_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Engine construction when the job is given an engine name.
    threads: int | None = None
    spark_master: str = "local[2]"
    # DuckDB's memory limit (e.g. '2GB'; default: DuckDB's, 80% of RAM); beyond it, spill to disk.
    memory_limit: str | None = None
    # An empty table (header only) fails the run unless allowed.
    allow_empty: bool = False
    # Results store: a PostgreSQL URL or a DuckDB file (None: HEALTHDQ_STORE, else
    # .healthdq/runs.duckdb); keep_run=False stores nothing. `dataset` names the data for
    # history and trends (default: the contract's name).
    store: str | None = None
    keep_run: bool = True
    dataset: str | None = None


def check_sample_size(sample_size: int) -> int:
    """Refuse sizes that would break rules (negative, or more rows than a report can hold)."""
    if sample_size < 0:
        raise HealthdqError(f"--sample-size must be 0 or more, got {sample_size}")
    if sample_size > MAX_SAMPLE_SIZE:
        raise HealthdqError(f"--sample-size must be at most {MAX_SAMPLE_SIZE}, got {sample_size}")
    return sample_size


def parse_run_date(text: str | None, option: str = "--run-date") -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise HealthdqError(f"{option} '{text}' is not YYYY-MM-DD") from None


def _engine(engine: Engine | str, settings: Settings) -> tuple[Engine, bool]:
    """The engine to use and whether this job owns (and so closes) it."""
    if isinstance(engine, str):
        from healthdq.engine.registry import create_engine

        engine_options = {
            "threads": settings.threads,
            "master": settings.spark_master,
            "memory_limit": settings.memory_limit,
        }
        return create_engine(engine, **engine_options), True
    return engine, False


# -- govern ------------------------------------------------------------------------------------
def _govern(
    result: RunResult, identifiers: dict[tuple[str, str], str], settings: Settings
) -> RunResult:
    from healthdq.governance.masking import mask_metrics, mask_samples

    if settings.unmask:
        result.masked = False
        return result
    mask_metrics(result, identifiers)
    return mask_samples(result, identifiers)


def contract_identifiers(contract: m.Contract) -> dict[tuple[str, str], str]:
    return {
        (t, c): s.identifier
        for t, tspec in contract.tables.items()
        for c, s in tspec.columns.items()
        if s.identifier
    }


# -- audit -------------------------------------------------------------------------------------
def _warn(message: str, settings: Settings) -> None:
    if settings.on_warning is not None:
        settings.on_warning(message)
    else:
        warnings.warn(message, stacklevel=4)


def _audit_preflight(settings: Settings) -> None:
    """A bad key or an unwritable log fails before the run, not after it."""
    from healthdq.governance.audit import default_key_file, key_file_warning, open_log

    open_log(settings.audit_log, settings.audit_key_file).preflight()
    message = key_file_warning(settings.audit_key_file or default_key_file())
    if message is not None:
        _warn(message, settings)


def _audit(
    action: str,
    dataset: str,
    rows: int,
    columns: list[str],
    settings: Settings,
    detail: dict[str, Any] | None = None,
) -> AuditRef:
    """Every access to patient-level rows is written to the audit log, whatever the verb."""
    from healthdq.governance.audit import KEYED, open_log

    log = open_log(settings.audit_log, settings.audit_key_file)
    event = log.record(
        action=action,
        dataset=dataset,
        rows=rows,
        columns=columns,
        unmasked=settings.unmask,
        detail=detail,
    )
    for message in log.warnings:
        _warn(message, settings)
    # The log's head after this run: kept in the result (and the store) so that a later
    # deletion of the log's last entries is detectable.
    return AuditRef(log=str(log.path), head=event["hash"], keyed=event["chain"] == KEYED)


def _audit_run(
    action: str,
    result: RunResult,
    dataset: str,
    settings: Settings,
    extra: dict[str, Any] | None = None,
) -> None:
    sampled = sum(len(r.samples) for r in result.rules)
    result.audit = _audit(
        action,
        dataset,
        sampled,
        sorted({c for r in result.rules if r.samples for c in r.columns}),
        settings,
        {"run_id": result.run_id, "contract": result.contract, **(extra or {})},
    )


# -- national data opt-out ---------------------------------------------------------------------
class _OptOutFilter:
    """Removes opted-out patients' rows from each table as it is registered, before any rule
    runs (so no sample, count or breakdown includes them); remembers how many went."""

    def __init__(self, path: Path, contract: m.Contract) -> None:
        from healthdq.governance.optout import load_opt_out

        self.opt_out = load_opt_out(path)
        self.columns = {
            t.lower(): c
            for (t, c), kind in contract_identifiers(contract).items()
            if kind == "nhs_number"
        }
        self.removed: dict[str, int] = {}
        self._engines: set[int] = set()

    def __call__(self, engine: Engine, table: str, reg: Any) -> Any:
        from healthdq.governance import optout as oo

        if id(engine) not in self._engines:
            oo.register(engine, self.opt_out)
            self._engines.add(id(engine))
        if reg.format == "fhir":
            # A FHIR view: the opted-out patients' resources go before the view runs.
            from healthdq.governance.optout_fhir import restrict as restrict_fhir
            from healthdq.sources.fhir_views import rerun_view

            def kept(resources: str) -> str:
                restrict_fhir(engine, resources, f"{resources}_opted_in")
                return f"{resources}_opted_in"

            restricted, self.removed[table] = rerun_view(engine, table, reg, kept)
            return restricted
        wanted = self.columns.get(table.lower())
        column = next((c for c in reg.columns if wanted and c.lower() == wanted.lower()), None)
        if column is None:
            raise HealthdqError(
                f"table {table} has no NHS number column (identifier: nhs_number) to apply the "
                "opt-out to",
                path=self.opt_out.path,
            )
        restricted, self.removed[table] = oo.restrict(engine, reg, column)
        return restricted

    def report(self, result: RunResult) -> dict[str, Any]:
        """Each table's count removed, small-number suppressed, as a table note; audit detail."""
        from healthdq.governance.optout import suppress_table

        shown, total = suppress_table(self.removed)
        for table in result.tables:
            if table.name in shown:
                table.warnings.append(
                    f"national data opt-out: {shown[table.name]} records of opted-out patients "
                    "removed before the checks"
                )
        return {
            "opt_out": {"path": self.opt_out.path, "sha256": self.opt_out.sha256, "removed": total}
        }


def _load_opt_out(path: Path | None) -> Any:
    """The opt-out file, read and checked before anything is opened (None: no opt-out)."""
    if path is None:
        return None
    from healthdq.governance.optout import load_opt_out

    return load_opt_out(path)


def _opt_out_rows(
    engine: Engine, registered: Any, opted: Any, column: str | None, location: Any
) -> tuple[Any, int]:
    """One table without the opted-out patients' rows (verbs without a contract)."""
    from healthdq.governance import optout as oo

    return oo.apply(engine, registered, opted, column, source_label(location))


def _opt_out_note(result: Any, opted: Any, removed: int | dict[str, int]) -> dict[str, Any]:
    """Put an opt-out on a job's result (the file, and the records removed as published: HES
    rule, secondary suppression across tables) and return its audit detail ({} without one)."""
    if opted is None:
        return {}
    from healthdq.governance.optout import suppress_table

    counts = removed if isinstance(removed, dict) else {"data": removed}
    result.opt_out_file = opted.path
    result.opted_out = suppress_table(counts)[1]
    total = sum(counts.values())
    return {"opt_out": {"path": opted.path, "sha256": opted.sha256, "removed": total}}


def source_label(source: Any) -> str:
    """A location as given, or what kind of DataFrame it was (never the frame's contents)."""
    from healthdq.sources.frames import frame_label

    return source if isinstance(source, str) else frame_label(source)


def input_files(location: Any) -> list[str]:
    """The local files a source location names, as given (a zip is one file: it is not
    unpacked to be hashed); none for a DataFrame, a remote URL or a location that is not there."""
    import glob as globmod

    from healthdq.sources.locate import FORMATS, suffix

    if not isinstance(location, str):
        return []
    path = Path(location)
    if any(ch in location for ch in "*?["):
        return sorted(f for f in globmod.glob(location, recursive=True) if Path(f).is_file())
    if path.is_dir():
        return sorted(str(p) for p in path.iterdir() if p.is_file() and suffix(p.name) in FORMATS)
    return [location] if path.is_file() else []


class _InputHashes:
    """SHA-256 of every input file, computed on a thread while the engine runs: the files are
    read once more (as every audited verb does), but that read overlaps the job's own scan
    (hashlib releases the GIL). `result()` waits for the hashes; `cancel()` stops early (a job
    that failed must not wait for a multi-GB file to be hashed)."""

    def __init__(self, sources: Mapping[str, Any]) -> None:
        import threading

        self._stop = threading.Event()
        self._out: list[dict[str, Any]] = []
        self._thread = threading.Thread(
            target=self._hash, args=(dict(sources),), name="healthdq-hash", daemon=True
        )
        self._thread.start()

    def _file(self, path: str) -> str | None:
        import hashlib

        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            while block := handle.read(1 << 22):
                if self._stop.is_set():
                    return None
                digest.update(block)
        return digest.hexdigest()

    def _hash(self, sources: dict[str, Any]) -> None:
        for table, location in sources.items():
            files: dict[str, str | None] = {}
            for f in input_files(location):
                try:
                    files[f] = self._file(f)
                except OSError:  # gone or unreadable since the engine read it: say so
                    files[f] = None
            self._out.append({"table": table, "source": source_label(location), "files": files})

    def result(self) -> list[dict[str, Any]]:
        self._thread.join()
        return self._out

    def cancel(self) -> None:
        self._stop.set()


def contract_detail(contract: m.Contract) -> dict[str, Any]:
    """The contract (or pack) a run checked against, for the audit entry: its file's SHA-256 and
    a SHA-256 of the parsed contract (which also covers what the file pulls in)."""
    import hashlib

    parsed = contract.model_dump_json().encode("utf-8")
    return {
        "name": contract.name,
        "version": contract.version,
        "path": contract.path,
        "sha256": config_hash(contract),
        "parsed_sha256": hashlib.sha256(parsed).hexdigest(),
    }


# -- store -------------------------------------------------------------------------------------
def _open_store(settings: Settings) -> Store | None:
    """The run's store, created and migrated before the run: a bad one fails in a second."""
    if not settings.keep_run:
        return None
    from healthdq.store import open_store

    store = open_store(settings.store)
    store.prepare()
    return store


def _keep(store: Store | None, result: RunResult, verb: str, settings: Settings) -> None:
    """Keep the (already masked) result, its metrics and the files just rendered."""
    if store is None:
        return
    rendered = {
        name: Path(path).read_bytes()
        for name, path in settings.outputs.items()
        if Path(path).is_file()
    }
    store.save_run(result, verb=verb, dataset=settings.dataset or result.contract, outputs=rendered)


# -- render ------------------------------------------------------------------------------------
def _settle(result: RunResult) -> RunResult:
    """The result as it will be stored (values as JSON types), so that a stored run
    re-renders byte-identically to what this run renders."""
    return RunResult.model_validate_json(result.model_dump_json())


def _render(
    result: RunResult, settings: Settings, defaults: Mapping[str, dict[str, Any]] | None = None
) -> None:
    """Every output through the registry; a job's defaults yield to the settings' options."""
    from healthdq.report.registry import render

    for name, path in settings.outputs.items():
        options = {**(defaults or {}).get(name, {}), **settings.output_options.get(name, {})}
        render(name, result, path, **options)


# -- jobs --------------------------------------------------------------------------------------
def check(
    contract: m.Contract,
    sources: Mapping[str, Any],
    *,
    read_options: ReadOptions | Mapping[str, ReadOptions] | None = None,
    sample_size: int = 5,
    group_by: list[str] | None = None,
    run_date: date | None = None,
    engine: Engine | str = "duckdb",
    settings: Settings | None = None,
    progress: TableProgress | None = None,
    data_standard_date: date | None = None,
    opt_out: Path | None = None,
) -> RunResult:
    """Check `sources` (table -> path or DataFrame) against `contract`; govern, audit, render.

    `opt_out`: a national data opt-out file; those patients' rows are removed before the checks.
    """
    from healthdq.engine.runner import RunOptions, run_contract
    from healthdq.governance.suppression import apply_policy, suppress_small_numbers
    from healthdq.results.metrics import result_metrics
    from healthdq.scoring import score

    cfg = settings or Settings()
    _audit_preflight(cfg)
    if isinstance(read_options, ReadOptions) or read_options is None:
        per_table = {n: read_options or ReadOptions() for n in contract.tables}
    else:
        per_table = dict(read_options)
    opted = _OptOutFilter(opt_out, contract) if opt_out is not None else None
    options = RunOptions(
        sample_size=check_sample_size(sample_size),
        group_by=list(group_by or []),
        run_date=run_date,
        data_standard_date=data_standard_date,
        restrict=opted,
    )
    store = _open_store(cfg)
    hashes = _InputHashes(sources)
    eng, owned = _engine(engine, cfg)
    try:
        result = run_contract(eng, contract, dict(sources), per_table, options, progress)
    except BaseException:
        hashes.cancel()
        raise
    finally:
        if owned:
            eng.close()
    inputs = hashes.result()
    _check_empty(result, cfg, contract)
    opt_detail = opted.report(result) if opted is not None else None
    policy = suppression_policy(contract, cfg)
    if policy is not None:
        apply_policy(result, policy)
    elif cfg.suppress_small_numbers:
        suppress_small_numbers(result, contract.small_number)
    result.metrics += result_metrics(result)
    score(result)
    result = _govern(result, contract_identifiers(contract), cfg)
    dataset = ", ".join(f"{t}={source_label(s)}" for t, s in sources.items())
    detail = {"inputs": inputs, "config": contract_detail(contract), **(opt_detail or {})}
    _audit_run("check.samples", result, dataset, cfg, detail)
    result = _settle(result)
    _render(result, cfg)
    _keep(store, result, "check", cfg)
    return result


def suppression_policy(contract: m.Contract | None, settings: Settings) -> Any:
    """The small-number policy for identifiable data, or None when the data is not marked so.
    Identifiable data is always suppressed: --no-suppress does not apply to it."""
    from healthdq.governance.suppression import parse_policy

    identifiable = settings.identifiable
    if identifiable is None:
        identifiable = contract.identifiable if contract is not None else False
    text = settings.suppression or (contract.suppression if contract is not None else "hes")
    policy = parse_policy(text)  # a bad policy is an error even when not applied
    return policy if identifiable else None


def contract_sources(
    contract: m.Contract, given: Mapping[str, Any], hint: str = "pass TABLE=PATH"
) -> dict[str, Any]:
    """Table -> the data given for it; a table not given falls back to its contract `source:`
    (inside the contract file's folder, rules/sandbox.py). A table with neither is an error
    ending in `hint`."""
    from healthdq.rules.sandbox import contract_source

    sources = dict(given)
    for name, spec in contract.tables.items():
        if name not in sources and spec.source:
            sources[name] = contract_source(contract, spec.source)
    missing = [n for n in contract.tables if n not in sources]
    if missing:
        raise HealthdqError(f"no data for table(s) {', '.join(missing)}: {hint}")
    return sources


def fhir_view_sources(contract: m.Contract, location: str) -> dict[str, str] | None:
    """One FHIR location for every view table of a FHIR contract (fhir-uk-core); None when the
    contract has no `fhir_view` tables."""
    views = [n for n, spec in contract.tables.items() if spec.fhir_view]
    return dict.fromkeys(views, location) if views else None


def empty_tables(result: RunResult, contract: m.Contract | None = None) -> list[str]:
    """Tables with no rows; given the contract, only those whose emptiness fails the run (a
    FHIR view with no rows means the data holds no resources of that kind: not a failure)."""
    views = {n for n, s in contract.tables.items() if s.fhir_view} if contract else set()
    return [t.name for t in result.tables if t.rows == 0 and t.name not in views]


def _check_empty(result: RunResult, settings: Settings, contract: m.Contract) -> None:
    """A header-only table: every rule is not applicable, and the run fails unless allowed."""
    empty = empty_tables(result)
    if not empty:
        return
    failing = empty_tables(result, contract)
    for table in result.tables:
        if table.rows == 0:
            allowed = settings.allow_empty or table.name not in failing
            table.warnings.append(
                f"table {table.name} has no rows: nothing was checked"
                + ("" if allowed else " (exit 1; --allow-empty to accept)")
            )
    for rule in result.rules:
        if rule.table in empty and rule.status != "error":
            rule.status = "not_applicable"
            rule.message = "table has no rows"
            rule.samples = []
    result.summary = {s: 0 for s in ("passed", "failed", "not_applicable", "error")}
    for r in result.rules:
        result.summary[r.status] += 1
    result.summary["rules"] = len(result.rules)


def omop(
    location: str,
    *,
    run_date: date | None = None,
    sample_size: int = 5,
    schema: str | None = None,
    check_names: list[str] | None = None,
    tables: list[str] | None = None,
    dqd_case: str = "camel",
    engine: Engine | str = "duckdb",
    settings: Settings | None = None,
) -> RunResult:
    """OHDSI DQD's OMOP CDM v5.4 checks on `location`; govern, audit, render.

    `dqd_case` is the dqd-json renderer's field case (camel: DQD 2.x, snake: DQD 1.x).
    """
    from healthdq.omop.runner import run_omop
    from healthdq.scoring import score

    if dqd_case not in ("camel", "snake"):
        raise HealthdqError(f"--dqd-case must be camel or snake, got '{dqd_case}'")
    cfg = settings or Settings()
    _audit_preflight(cfg)
    store = _open_store(cfg)
    eng, owned = _engine(engine, cfg)
    try:
        result = run_omop(
            location,
            engine=eng,
            run_date=run_date,
            sample_size=check_sample_size(sample_size),
            schema=schema,
            check_names=check_names or None,
            tables=tables or None,
        )
    finally:
        if owned:
            eng.close()
    result = score(result)
    # OMOP ids are pseudonymous, but person_id still identifies a row: mask it like an NHS number.
    identifiers = {(t.name, "person_id"): "local_id" for t in result.tables if t.name}
    # Plausibility samples carry the person's birth and death dates (__p_birth, __p_death60):
    # dates that identify, masked as dates of birth.
    for rule in result.rules:
        for sample in rule.samples:
            for column in sample.values:
                if column.startswith(("__p_birth", "__p_death")):
                    identifiers[(rule.table, column)] = "date_of_birth"
    result = _govern(result, identifiers, cfg)
    _audit_run("omop.samples", result, location, cfg)
    result = _settle(result)
    _render(result, cfg, {"dqd-json": {"case": dqd_case}})
    _keep(store, result, "omop", cfg)
    return result


def profile(
    location: Any,
    *,
    table: str = "data",
    read_options: ReadOptions | None = None,
    engine: Engine | str = "duckdb",
    settings: Settings | None = None,
    top_n: int = 10,
) -> TableProfile:
    """Profile every column of `location` (a path or a DataFrame) on any engine; govern
    (identifiers masked unless unmasked), audit."""
    from healthdq.governance.masking import mask_profile
    from healthdq.profile import profile_table
    from healthdq.sources.frames import register

    cfg = settings or Settings()
    policy = suppression_policy(None, cfg)
    _audit_preflight(cfg)
    eng, owned = _engine(engine, cfg)
    try:
        register(eng, table, location, read_options or ReadOptions())
        prof = profile_table(eng, table, top_n)
        if not cfg.unmask:
            mask_profile(prof)
        if policy is not None:
            from healthdq.governance.suppression import protect_profile

            protect_profile(prof, policy, _top_value_rows(eng, table, prof))
    finally:
        if owned:
            eng.close()
    # A profile reads every row and shows values (identifiers masked): an audited access.
    _audit(
        "profile",
        source_label(location),
        prof.rows,
        [c.name for c in prof.columns],
        cfg,
        {"identifiers": {c.name: c.identifier for c in prof.columns if c.identifier}},
    )
    return prof


def _top_value_rows(eng: Engine, table: str, prof: TableProfile) -> dict[tuple[str, str], int]:
    """Rows holding each listed most-frequent value (and each min, max and date range end),
    over the whole table: one grouped read.
    The values go to the engine as a relation (parameters), never into SQL text."""
    from healthdq.governance.messages import engine_message
    from healthdq.governance.suppression import EXTREMES

    items, names, keys = [], {}, []
    for i, col in enumerate(prof.columns):
        listed = [*col.top_values]
        listed += [str(getattr(col, f)) for f in EXTREMES if getattr(col, f) is not None]
        if listed:
            text = col.family == "text"
            items.append((i, eng.quote(col.name) if text else eng.as_text(col.name)))
            names[i] = col.name
            keys += [f"{i}\x01{v}" for v in dict.fromkeys(listed)]
    if not items:
        return {}
    eng.register_values("__hdq_profile_tops", "k", keys)
    sql = (
        f"SELECT k, count(*) FROM (SELECT concat(c, chr(1), v) AS k FROM "
        f"({eng.unpivot(table, items)}) AS u) AS t "
        "WHERE k IN (SELECT k FROM __hdq_profile_tops) GROUP BY k"
    )
    try:
        rows = eng.fetch(sql)
    except Exception as exc:  # the engine's own error, without any value in it
        raise HealthdqError(f"small-number suppression: {engine_message(exc, [])}") from None
    out: dict[tuple[str, str], int] = {}
    for key, n in rows:
        index, value = str(key).split("\x01", 1)
        out[(names[int(index)], value)] = int(n)
    return out


# -- pseudonymise ------------------------------------------------------------------------------
OUT_FORMATS = ("parquet", "csv")


def _out_format(out: Path, out_format: str | None, option: str = "--out-format") -> str:
    """The format a single output file is written in: given, else its suffix (parquet if none)."""
    fmt = out_format or out.suffix.lstrip(".").lower() or "parquet"
    if fmt not in OUT_FORMATS:
        hint = f" (or give {option} parquet|csv)" if option else ""
        raise HealthdqError(f"--out {out}: write .parquet or .csv{hint}")
    return fmt


def _out_targets(
    out: Path, tables: list[str], out_format: str | None
) -> tuple[dict[str, Path], str]:
    """Table -> output path, and the format: one table writes OUT itself, several a folder."""
    if len(tables) == 1:
        return {tables[0]: out}, _out_format(out, out_format)
    fmt = out_format or "parquet"
    if fmt not in OUT_FORMATS:
        raise HealthdqError(f"--out-format must be parquet or csv, got '{fmt}'")
    if out.exists() and not out.is_dir():
        raise HealthdqError(
            "several tables are written to a folder: --out must be one", path=str(out)
        )
    return {t: out / f"{t}.{fmt}" for t in tables}, fmt


def _source_files(location: str, workdir: str | None) -> list[str]:
    from healthdq.sources.locate import resolve_files

    try:
        return resolve_files(location, workdir)[0]
    except HealthdqError:
        return []


def pseudonymise(
    sources: Mapping[str, str],
    config: Any,
    out: Path,
    *,
    key_file: Path | None = None,
    opt_out: Path | None = None,
    read_options: ReadOptions | None = None,
    out_format: str | None = None,
    run_date: date | None = None,
    engine: Engine | str = "duckdb",
    settings: Settings | None = None,
) -> Any:
    """Write `sources` (table -> location) pseudonymised by `config` (governance/pseudonymise.py)
    to `out`, opted-out patients removed, in one engine pass per table; audited.

    Nothing is written unless every table was written: outputs go to temporary names beside
    their targets and are renamed at the end.
    """
    import os
    import shutil
    import time

    from healthdq.engine.dates import FORMATS, detect_formats
    from healthdq.errors import SourceError
    from healthdq.governance import optout as oo
    from healthdq.governance import pseudonymise as ps
    from healthdq.governance.audit import content_hash
    from healthdq.governance.messages import engine_message
    from healthdq.sources.frames import register

    if getattr(config, "fhir", None) is not None:
        return pseudonymise_fhir(
            sources, config, out, key_file=key_file, opt_out=opt_out, engine=engine,
            settings=settings,
        )  # fmt: skip
    started = time.perf_counter()
    started_at = datetime.now(UTC)
    cfg = settings or Settings()
    _audit_preflight(cfg)
    key = ps.load_key(ps.key_file_from(key_file))
    warning = ps.key_file_warning(ps.key_file_from(key_file))
    if warning:
        _warn(warning, cfg)
    opted = oo.load_opt_out(opt_out) if opt_out is not None else None
    targets, fmt = _out_targets(Path(out), list(sources), out_format)
    store = _open_store(cfg)
    hashes = _InputHashes(sources)
    eng, owned = _engine(engine, cfg)
    written: dict[str, Path] = {}
    temps: list[Path] = []
    outputs: list[ps.TableOutput] = []
    removed: dict[str, int] = {}
    try:
        registered = {}
        for name, location in sources.items():
            registered[name] = register(eng, name, location, read_options or ReadOptions())
        eng.register_secret(ps.SECRET, key.secret_row())
        if opted is not None:
            oo.register(eng, opted)
        plans = {}
        for name, reg in registered.items():
            planner = ps.Planner(config, name, reg.columns, run_date or date.today())
            methods = planner.methods()
            dated = {c for c, mth in methods.items() if mth.name in ps.DATE_METHODS}
            dated |= {
                planner.column(str(mth.arg), planner.loc(c))
                for c, mth in methods.items()
                if mth.name == "age_at"
            }
            wanted = [c for c in dated if ps.is_text(reg.columns[c])]
            for column, found in detect_formats(eng, name, wanted).items():
                if found is None:
                    raise ps.ContractError(
                        f"table {name}: column '{column}' does not hold dates in a known format",
                        path=config.path,
                    )
                if found != "ISO":
                    planner.date_formats[column] = FORMATS[found]
            plans[name] = planner.plan(opt_out=opted is not None)
            if opted is not None and planner.patient is not None:
                patient_sql = ps.nhs_text(planner.patient, reg.columns[planner.patient], "t")
                removed[name] = oo.count_removed(eng, name, patient_sql)
        for name, plan in plans.items():
            target = targets[name]
            target.parent.mkdir(parents=True, exist_ok=True)
            temp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
            temps.append(temp)
            try:
                eng.export(plan.native_sql(eng), str(temp), fmt, native=True)
            except HealthdqError:
                raise
            except Exception as exc:  # the engine's own error, without any value in it
                raise SourceError(
                    f"could not write table {name}: {engine_message(exc, list(plan.methods))}",
                    path=source_label(sources[name]),
                ) from None
            written[name] = temp
    except BaseException:
        hashes.cancel()
        for temp in temps:
            if temp.is_dir():
                shutil.rmtree(temp, ignore_errors=True)
            else:
                temp.unlink(missing_ok=True)
        raise
    finally:
        if owned:
            eng.close()
    inputs = hashes.result()
    shown, total = oo.suppress_table(removed) if opted is not None else ({}, None)
    detail_outputs: list[dict[str, Any]] = []
    for name, temp in written.items():
        target = targets[name]
        if target.is_dir():
            shutil.rmtree(target)
        os.replace(temp, target)
        rows = registered[name].rows - removed.get(name, 0)
        outputs.append(
            ps.TableOutput(
                name=name,
                source=source_label(sources[name]),
                output=str(target),
                rows=rows,
                opted_out=shown.get(name),
                columns=plans[name].methods,
            )
        )
        detail_outputs.append(
            {"table": name, "path": str(target), "rows": rows, "sha256": content_hash(target)}
        )
    run_id = uuid.uuid4().hex
    result = ps.PseudonymiseResult(
        run_id=run_id if store is not None else None,
        tables=outputs,
        engine=eng.name,
        key_id=key.key_id,
        format=fmt,
        opted_out=total,
        opt_out_file=opted.path if opted else None,
        config=config.path,
    )
    detail: dict[str, Any] = {
        "run_id": run_id,
        "config": {"path": config.path, "sha256": config_hash(config)},
        "inputs": inputs,
        "outputs": detail_outputs,
        "linkage_id": key.key_id,
        "methods": {o.name: o.columns for o in outputs},
    }
    if opted is not None:
        detail["opt_out"] = {"path": opted.path, "sha256": opted.sha256, "removed": total}
    result.audit = _audit(
        "pseudonymise",
        ", ".join(f"{t}={source_label(s)}" for t, s in sources.items()),
        sum(o.rows for o in outputs),
        sorted({c for o in outputs for c in o.columns}),
        cfg,
        detail,
    )
    if store is not None:
        run = _pseudonymise_run(
            result,
            run_id,
            started_at,
            {n: r.rows for n, r in registered.items()},
            {o["table"]: o["sha256"] for o in detail_outputs},
            config_hash(config),
        )
        _keep(store, run, "pseudonymise", cfg)
    result.seconds = round(time.perf_counter() - started, 3)
    return result


def _pseudonymise_run(
    done: Any,
    run_id: str,
    started: datetime,
    rows_in: dict[str, int],
    hashes: dict[str, str],
    config_sha256: str | None,
) -> RunResult:
    """A pseudonymise run as the store keeps runs: per table its output rows, input rows,
    opted-out records (as published), each output column's method and the output's SHA-256.
    Never the key (only its linkage id) nor any value from the data. A table's input rows are
    left out when its opted-out count is suppressed: input minus output would give it back."""
    from healthdq import __version__
    from healthdq.results import ColumnInfo, Metric, TableResult

    metrics: list[Metric] = []
    tables = []
    for t in done.tables:
        hidden = t.opted_out is not None and not t.opted_out.isdigit()
        metrics.append(Metric(name="rows_out", value=t.rows, table=t.name))
        if not hidden:
            metrics.append(Metric(name="rows_in", value=rows_in[t.name], table=t.name))
        if t.opted_out is not None:
            value = float(t.opted_out) if t.opted_out.isdigit() else None
            metrics.append(Metric(name="opted_out", value=value, text=t.opted_out, table=t.name))
        metrics.append(Metric(name="output_sha256", text=hashes[t.name], table=t.name))
        metrics += [
            Metric(name="method", text=method, table=t.name, column=column)
            for column, method in t.columns.items()
        ]
        tables.append(
            TableResult(
                name=t.name,
                source=t.source,
                rows=t.rows,
                columns=[ColumnInfo(name=c, type=mth) for c, mth in t.columns.items()],
                bindings={"output": t.output},
            )
        )
    if done.opted_out is not None:
        value = float(done.opted_out) if done.opted_out.isdigit() else None
        metrics.append(Metric(name="opted_out", value=value, text=done.opted_out))
    name = Path(done.config).stem if done.config else "pseudonymise"
    finished = datetime.now(UTC)
    return _settle(
        RunResult(
            healthdq_version=__version__,
            run_id=run_id,
            contract=name,
            contract_version=f"sha256:{config_sha256[:12]}" if config_sha256 else "-",
            started_at=started,
            finished_at=finished,
            run_date=started.date().isoformat(),
            engine=done.engine,
            tables=tables,
            rules=[],
            summary={"passed": 0, "failed": 0, "not_applicable": 0, "error": 0, "rules": 0},
            metrics=metrics,
            audit=done.audit,
            source_metadata=[
                {
                    "verb": "pseudonymise",
                    "linkage_id": done.key_id,
                    "format": done.format,
                    "config": done.config,
                    "opt_out_file": done.opt_out_file,
                }
            ],
        )
    )


def _fhir_out_folder(out: Path) -> None:
    """FHIR is written to a folder of NDJSON files: refuse anything else before any work."""
    if out.exists() and not out.is_dir():
        raise HealthdqError(
            "FHIR is written to a folder (one NDJSON file per resource type): --out must be one",
            path=str(out),
        )
    if out.is_dir() and any(
        not (p.is_file() and p.name.endswith(".ndjson")) for p in out.iterdir()
    ):
        raise HealthdqError(
            "--out folder holds files other than .ndjson: give a new or empty folder",
            path=str(out),
        )


def pseudonymise_fhir(
    sources: Mapping[str, str],
    config: Any,
    out: Path,
    *,
    key_file: Path | None = None,
    opt_out: Path | None = None,
    engine: Engine | str = "duckdb",
    settings: Settings | None = None,
) -> Any:
    """Write the FHIR at the one location in `sources` pseudonymised by the config's `fhir:`
    paths to folder `out`, one `<Type>.ndjson` per resource type, opted-out patients' resources
    (and every resource referring to them) removed; in the engine (DuckDB), audited.

    Nothing is written unless every file was: the folder is written under a temporary name
    beside `out` and renamed at the end.
    """
    import os
    import shutil
    import time

    from healthdq.errors import SourceError
    from healthdq.fhir.read import DEFAULT_TABLE, fhir_files, read_fhir
    from healthdq.governance import fhir_pseudonymise as fp
    from healthdq.governance import optout as oo
    from healthdq.governance import pseudonymise as ps
    from healthdq.governance.audit import content_hash
    from healthdq.governance.messages import engine_message
    from healthdq.sources.base import quote_literal

    started = time.perf_counter()
    started_at = datetime.now(UTC)
    cfg = settings or Settings()
    _audit_preflight(cfg)
    key = ps.load_key(ps.key_file_from(key_file))
    warning = ps.key_file_warning(ps.key_file_from(key_file))
    if warning:
        _warn(warning, cfg)
    if len(sources) != 1:
        raise HealthdqError("FHIR: give one DATA location (a file, folder or glob of FHIR)")
    ((label, location),) = sources.items()
    opted = oo.load_opt_out(opt_out) if opt_out is not None else None
    out = Path(out)
    _fhir_out_folder(out)
    store = _open_store(cfg)
    name = engine if isinstance(engine, str) else engine.name
    if name != "duckdb":
        raise HealthdqError("FHIR pseudonymisation runs on the DuckDB engine (--engine duckdb)")
    eng, owned = _engine(engine, cfg)
    if eng.name != "duckdb":
        if owned:
            eng.close()
        raise HealthdqError("FHIR pseudonymisation runs on the DuckDB engine (--engine duckdb)")
    temp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    con: Any = getattr(eng, "con", eng)
    written: dict[str, Path] = {}
    try:
        issues = read_fhir(eng, location, DEFAULT_TABLE)
        files = [f.path for f in fhir_files(location)[0]]
        eng.register_secret(ps.SECRET, key.secret_row())
        if opted is not None:
            oo.register(eng, opted)
        prepared = fp.prepare(con, DEFAULT_TABLE, config, opted is not None)
        fplan = fp.plan(config, sorted(prepared.types), prepared.keys)
        temp.mkdir(parents=True)
        for rtype in sorted(prepared.types):
            path = temp / f"{rtype}.ndjson"
            sql = fp.select_sql(config, fplan, rtype)
            try:
                con.execute(
                    f"COPY ({sql}) TO {quote_literal(str(path))} (FORMAT csv, HEADER false, "
                    "QUOTE '', ESCAPE '', DELIMITER '\x1e')"
                )
            except Exception as exc:  # the engine's own error, without any value in it
                raise SourceError(
                    f"could not write {rtype}: {engine_message(exc, ['line'])}", path=location
                ) from None
            written[rtype] = out / path.name
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    finally:
        if owned:
            eng.close()
    if out.is_dir():
        shutil.rmtree(out)
    os.replace(temp, out)
    removed = {t: n for t, n in prepared.removed.items() if opted is not None}
    shown, total = oo.suppress_table(removed) if opted is not None else ({}, None)
    outputs = [
        ps.TableOutput(
            name=rtype,
            source=location,
            output=str(target),
            rows=prepared.types[rtype],
            opted_out=shown.get(rtype),
            columns=fplan.methods.get(rtype, {}),
        )
        for rtype, target in written.items()
    ]
    run_id = uuid.uuid4().hex
    result = ps.PseudonymiseResult(
        run_id=run_id if store is not None else None,
        tables=outputs,
        engine=eng.name,
        key_id=key.key_id,
        format="ndjson",
        opted_out=total,
        opt_out_file=opted.path if opted else None,
        config=config.path,
        read_issues=len([i for i in issues if not i.kept]),
    )
    detail: dict[str, Any] = {
        "run_id": run_id,
        "config": {"path": config.path, "sha256": config_hash(config)},
        "inputs": [
            {"table": label, "source": location, "files": {f: content_hash(f) for f in files}}
        ],
        "outputs": [
            {"table": o.name, "path": o.output, "rows": o.rows, "sha256": content_hash(o.output)}
            for o in outputs
        ],
        "linkage_id": key.key_id,
        "fhir_ids": config.fhir_ids,
        "methods": {o.name: o.columns for o in outputs},
    }
    if opted is not None:
        detail["opt_out"] = {"path": opted.path, "sha256": opted.sha256, "removed": total}
    result.audit = _audit(
        "pseudonymise",
        f"fhir={location}",
        sum(o.rows for o in outputs),
        sorted({c for o in outputs for c in o.columns}),
        cfg,
        detail,
    )
    if store is not None:
        rows_in = {o.name: o.rows + removed.get(o.name, 0) for o in outputs}
        hashes = {o["table"]: o["sha256"] for o in detail["outputs"]}
        run = _pseudonymise_run(result, run_id, started_at, rows_in, hashes, config_hash(config))
        _keep(store, run, "pseudonymise", cfg)
    result.seconds = round(time.perf_counter() - started, 3)
    return result


def config_hash(config: Any) -> str | None:
    """SHA-256 of the config file's bytes (None for a config built in code)."""
    from healthdq.governance.audit import content_hash

    path = getattr(config, "path", None)
    if path and Path(path).is_file():
        return content_hash(path)
    return None


# -- fhir ----------------------------------------------------------------------------------------
@dataclass
class FhirRead:
    """What `fhir read` found: resources per resourceType and the read issues."""

    counts: dict[str, int]
    issues: list[Any]  # healthdq.fhir.read.FhirReadIssue


def fhir_read(
    location: str, *, engine: Engine | str = "duckdb", settings: Settings | None = None
) -> FhirRead:
    """Read FHIR (resource, Bundle, NDJSON, folder or glob) and count resources per type.

    No data leaves the engine but counts and read issues (which never quote the data).
    """
    from healthdq.fhir.read import DEFAULT_TABLE, read_fhir

    cfg = settings or Settings()
    eng, owned = _engine(engine, cfg)
    try:
        issues = read_fhir(eng, location, DEFAULT_TABLE)
        rows = eng.fetch(
            f"SELECT resource_type, count(*) FROM {eng.quote(DEFAULT_TABLE)} "
            "GROUP BY resource_type ORDER BY resource_type"
        )
    finally:
        if owned:
            eng.close()
    return FhirRead({str(t): int(n) for t, n in rows}, issues)


@dataclass
class FhirView:
    """What `fhir view` wrote: rows and columns of the flat table, and the read issues."""

    out: str
    rows: int
    columns: list[str]
    issues: list[Any]  # healthdq.fhir.read.FhirReadIssue
    audit: AuditRef | None = None
    # National data opt-out: the file and the resources removed, as published (1-7 shown as *).
    opt_out_file: str | None = None
    opted_out: str | None = None


def fhir_view(
    view: str,
    location: str,
    out: Path,
    *,
    out_format: str | None = None,
    opt_out: Path | None = None,
    engine: Engine | str = "duckdb",
    settings: Settings | None = None,
) -> FhirView:
    """Flatten FHIR data with a SQL-on-FHIR ViewDefinition (a JSON file or a built-in view's
    name) and write the table to `out` (Parquet or CSV); the engine runs the view's one query
    and writes the file. Audited: the output holds patient-level rows. `opt_out`: opted-out
    patients' resources, and those referring to them, are removed before the view runs."""
    import os
    import shutil

    from healthdq.fhir.read import DEFAULT_TABLE, read_fhir
    from healthdq.fhir.view import compile_view, resolve_view, runtime_error

    cfg = settings or Settings()
    opted = _load_opt_out(opt_out)
    removed: dict[str, int] = {}
    source = "__fhir_opted_in" if opted is not None else DEFAULT_TABLE
    definition, label = resolve_view(view)
    fmt = _out_format(Path(out), out_format, "--format")
    _audit_preflight(cfg)
    eng, owned = _engine(engine, cfg)
    temp = Path(out).with_name(f".{Path(out).name}.tmp-{os.getpid()}")
    try:
        if opted is not None and eng.name != "duckdb":
            raise HealthdqError("--opt-out on FHIR data runs on the duckdb engine")
        compiled = compile_view(definition, eng.dialect, source)
    except HealthdqError as exc:
        if owned:
            eng.close()
        raise HealthdqError(exc.message, path=label) from None
    try:
        issues = read_fhir(eng, location, DEFAULT_TABLE)
        if opted is not None:
            from healthdq.governance import optout as oo
            from healthdq.governance.optout_fhir import restrict

            oo.register(eng, opted)
            removed = restrict(eng, DEFAULT_TABLE, source)
        table = "__fhir_view"
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        try:
            eng.create_temp(table, compiled.sql, materialize=True, native=True)
            rows = int(eng.fetch(f"SELECT count(*) FROM {eng.quote(table)}")[0][0])
            # export() reads DuckDB's SQL (translated for Spark): the name needs no quotes.
            eng.export(f"SELECT * FROM {table}", str(temp), fmt)
        except HealthdqError:
            raise
        except Exception as exc:  # the engine's own error
            error = runtime_error(exc, label)
            if error is None:
                raise
            raise error from None
    except BaseException:
        if temp.is_dir():
            shutil.rmtree(temp, ignore_errors=True)
        else:
            temp.unlink(missing_ok=True)
        raise
    finally:
        if owned:
            eng.close()
    target = Path(out)
    if target.is_dir():
        shutil.rmtree(target)
    os.replace(temp, target)
    columns = [name for name, _ in compiled.columns]
    result = FhirView(str(target), rows, columns, issues)
    detail = _opt_out_note(result, opted, removed)
    result.audit = _audit(
        "fhir_view",
        source_label(location),
        rows,
        columns,
        cfg,
        {
            "view": label,
            "resource": compiled.resource,
            "output": str(target),
            "format": fmt,
            **detail,
        },
    )
    return result


@dataclass
class FhirValidation:
    """What `fhir validate` found: the governed run (rule results per check kind and
    resourceType), every OperationOutcome issue, and the lines the reader could not read."""

    result: RunResult
    issues: list[Any]  # healthdq.fhir.validate.FhirIssue
    read_issues: list[Any]  # healthdq.fhir.read.FhirReadIssue


def fhir_validate(
    location: str,
    *,
    sample_size: int = 5,
    outcome: Path | None = None,
    engine: Engine | str = "duckdb",
    settings: Settings | None = None,
) -> FhirValidation:
    """Validate FHIR R4 data against the core definitions; score, govern, audit, store,
    render like any run, and write the OperationOutcome NDJSON to `outcome` if given."""
    import uuid
    from datetime import UTC, datetime

    from healthdq import __version__
    from healthdq.fhir.definitions import load
    from healthdq.fhir.read import DEFAULT_TABLE, read_fhir
    from healthdq.fhir.validate import read_issue, rule_results, validate, write_outcome
    from healthdq.results import ColumnInfo, TableResult
    from healthdq.results.metrics import result_metrics
    from healthdq.scoring import score

    cfg = settings or Settings()
    _audit_preflight(cfg)
    store = _open_store(cfg)
    started = datetime.now(UTC)
    eng, owned = _engine(engine, cfg)
    try:
        read_issues = read_fhir(eng, location, DEFAULT_TABLE)
        validation = validate(eng, DEFAULT_TABLE)
    finally:
        if owned:
            eng.close()
    result = RunResult(
        healthdq_version=__version__,
        run_id=str(uuid.uuid4()),
        contract="fhir-r4-core",
        contract_version=load().version,
        started_at=started,
        finished_at=datetime.now(UTC),
        run_date=started.date().isoformat(),
        engine=getattr(eng, "name", str(engine)),
        tables=[
            TableResult(
                name=t,
                source=location,
                rows=n,
                columns=[ColumnInfo(name="resource", type="JSON")],
            )
            for t, n in sorted(validation.resources.items())
        ],
        rules=rule_results(validation, read_issues, check_sample_size(sample_size)),
    )
    result.summary = {s: 0 for s in ("passed", "failed", "not_applicable", "error")}
    for r in result.rules:
        result.summary[r.status] += 1
    result.summary["rules"] = len(result.rules)
    result.metrics += result_metrics(result)
    score(result)
    result = _govern(result, {}, cfg)
    _audit_run("fhir.validate.samples", result, location, cfg)
    result = _settle(result)
    _render(result, cfg)
    _keep(store, result, "fhir-validate", cfg)
    issues = [read_issue(i) for i in read_issues if not i.kept] + validation.issues
    if outcome is not None:
        write_outcome(issues, outcome)
    return FhirValidation(result, issues, read_issues)


# -- redact ------------------------------------------------------------------------------------
def redact(
    location: str,
    columns: list[str],
    out: Path,
    *,
    detector: str = "builtin",
    read_options: ReadOptions | None = None,
    out_format: str | None = None,
    opt_out: Path | None = None,
    nhs_number_column: str | None = None,
    engine: Engine | str = "duckdb",
    settings: Settings | None = None,
) -> Any:
    """Write `location` with identifiers in the free-text `columns` replaced by tags
    (governance/freetext.py), every other column as it was; audited. The built-in detector is
    SQL run by the engine; `presidio` runs Presidio as a function inside a DuckDB scan.
    `opt_out`: those patients' rows (by `nhs_number_column`, else the column named as an NHS
    number) are removed first.

    Nothing is written unless the whole file was: the output goes to a temporary name beside
    its target and is renamed at the end.
    """
    import os
    import shutil
    import time

    from healthdq.errors import SourceError
    from healthdq.governance import freetext as ft
    from healthdq.governance.audit import content_hash
    from healthdq.governance.messages import engine_message
    from healthdq.sources.frames import register

    started = time.perf_counter()
    if detector not in ft.DETECTORS:
        raise HealthdqError(
            f"--detector must be one of {', '.join(ft.DETECTORS)}, got '{detector}'"
        )
    wanted = [c.strip() for c in columns if c.strip()]
    if not wanted:
        raise HealthdqError("--columns: name at least one free-text column")
    cfg = settings or Settings()
    opted = _load_opt_out(opt_out)
    _audit_preflight(cfg)
    out = Path(out)
    targets, fmt = _out_targets(out, ["data"], out_format)
    eng, owned = _engine(engine, cfg)
    temp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    removed = 0
    try:
        reg = register(eng, "data", location, read_options or ReadOptions())
        if opted is not None:
            reg, removed = _opt_out_rows(eng, reg, opted, nhs_number_column, location)
        by_lower = {c.lower(): c for c in reg.columns}
        missing = [c for c in wanted if c not in reg.columns and c.lower() not in by_lower]
        if missing:
            raise SourceError(
                f"--columns: no column {', '.join(repr(c) for c in missing)} "
                f"(columns: {', '.join(reg.columns)})",
                path=source_label(location),
            )
        chosen = [c if c in reg.columns else by_lower[c.lower()] for c in wanted]
        if detector == "presidio":
            from healthdq.governance.presidio import register_function

            function = register_function(eng)
            sql_of = {c: f"{function}(CAST({eng.quote(c)} AS VARCHAR))" for c in chosen}
        else:
            sql_of = {c: ft.redact_sql(eng.as_text(c), eng) for c in chosen}
        out.parent.mkdir(parents=True, exist_ok=True)
        try:
            eng.export(ft.select_sql("data", reg.columns, sql_of), str(temp), fmt)
        except HealthdqError:
            raise
        except Exception as exc:  # the engine's own error, without any value in it
            raise SourceError(
                f"could not write {out}: {engine_message(exc, chosen)}",
                path=source_label(location),
            ) from None
    except BaseException:
        if temp.is_dir():
            shutil.rmtree(temp, ignore_errors=True)
        else:
            temp.unlink(missing_ok=True)
        raise
    finally:
        if owned:
            eng.close()
    target = targets["data"]
    if target.is_dir():
        shutil.rmtree(target)
    os.replace(temp, target)
    result = ft.RedactResult(
        source=source_label(location),
        output=str(target),
        rows=reg.rows,
        columns=chosen,
        detector=detector,
        engine=eng.name,
        format=fmt,
    )
    detail = _opt_out_note(result, opted, removed)
    inputs = _source_files(location, None) if isinstance(location, str) else []
    result.audit = _audit(
        "redact",
        source_label(location),
        reg.rows,
        chosen,
        cfg,
        {
            "detector": detector,
            "inputs": {f: content_hash(f) for f in inputs},
            "output": {"path": str(target), "sha256": content_hash(target)},
            **detail,
        },
    )
    result.seconds = round(time.perf_counter() - started, 3)
    return result


def risk(
    location: Any,
    *,
    qi: list[str],
    sensitive: list[str] | None = None,
    population: int | None = None,
    threshold: float | None = None,
    small_number: int = 7,
    table: str = "data",
    read_options: ReadOptions | None = None,
    opt_out: Path | None = None,
    nhs_number_column: str | None = None,
    engine: Engine | str = "duckdb",
    settings: Settings | None = None,
) -> RiskReport:
    """Disclosure risk of `location` (a path or a DataFrame) for these quasi-identifiers:
    k, l, t, re-identification risks and population uniqueness (docs/risk.md); small numbers
    suppressed unless turned off; audited (it reads every row)."""
    from healthdq.governance.risk import DEFAULT_THRESHOLD, measure, suppress
    from healthdq.sources.frames import register

    cfg = settings or Settings()
    opted = _load_opt_out(opt_out)
    removed = 0
    if population is not None and population < 1:
        raise HealthdqError(f"--population must be 1 or more, got {population}")
    _audit_preflight(cfg)
    label = source_label(location)
    eng, owned = _engine(engine, cfg)
    try:
        registered = register(eng, table, location, read_options or ReadOptions())
        if opted is not None:
            registered, removed = _opt_out_rows(eng, registered, opted, nhs_number_column, location)
        report = measure(
            eng,
            table,
            registered.columns,
            qi,
            sensitive or [],
            threshold=DEFAULT_THRESHOLD if threshold is None else threshold,
            population=population,
            source=label,
        )
    finally:
        if owned:
            eng.close()
    if cfg.suppress_small_numbers:
        suppress(report, small_number)
    detail = _opt_out_note(report, opted, removed)
    # A risk run reads every row's quasi-identifiers: an audited access (no values recorded).
    _audit(
        "risk",
        label,
        report.rows,
        [*qi, *(sensitive or [])],
        cfg,
        {"qi": list(qi), "sensitive": list(sensitive or []), "k": report.k, **detail},
    )
    return report


def risk_search(
    location: Any,
    *,
    qi: list[str],
    hierarchies: str | Path,
    target_k: int,
    target_l: int | None = None,
    target_t: float | None = None,
    sensitive: str | None = None,
    max_suppression: float = 0.0,
    out: str | Path | None = None,
    small_number: int = 7,
    table: str = "data",
    read_options: ReadOptions | None = None,
    opt_out: Path | None = None,
    nhs_number_column: str | None = None,
    engine: Engine | str = "duckdb",
    settings: Settings | None = None,
) -> SearchResult:
    """The least generalisation over `hierarchies` (plus record suppression) reaching k (and
    l, t) (docs/risk.md "Anonymisation search"); writes the transformed data to `out` if given;
    audited. Bad input (a hierarchy that misses a value, an unreachable target) writes nothing."""
    from healthdq.governance.anonymise import search
    from healthdq.governance.hierarchy import load_hierarchies
    from healthdq.sources.frames import register

    cfg = settings or Settings()
    opted = _load_opt_out(opt_out)
    removed = 0
    loaded = load_hierarchies(hierarchies)
    fmt = "parquet"
    if out is not None:
        out_path = Path(out)
        fmt = _out_format(out_path, None, option="")
        if out_path.exists():
            raise HealthdqError("output already exists: remove it or choose another", path=str(out))
    _audit_preflight(cfg)
    label = source_label(location)
    eng, owned = _engine(engine, cfg)
    try:
        registered = register(eng, table, location, read_options or ReadOptions())
        if opted is not None:
            registered, removed = _opt_out_rows(eng, registered, opted, nhs_number_column, location)
        result = search(
            eng,
            table,
            registered.columns,
            qi,
            loaded,
            target_k=target_k,
            target_l=target_l,
            target_t=target_t,
            sensitive=sensitive,
            max_suppression=max_suppression,
            hierarchy_path=str(hierarchies),
            source=label,
            out=None if out is None else str(out),
            out_format=fmt,
        )
    finally:
        if owned:
            eng.close()
    if cfg.suppress_small_numbers:
        from healthdq.governance.risk import suppress_search

        suppress_search(result, small_number)
    detail = _opt_out_note(result, opted, removed)
    _audit(
        "risk.search",
        label,
        result.rows,
        [*qi, *([sensitive] if sensitive else [])],
        cfg,
        {
            "qi": list(qi),
            "target_k": target_k,
            "target_l": target_l,
            "target_t": target_t,
            "transformation": result.transformation,
            "output": result.output,
            **detail,
        },
    )
    return result
