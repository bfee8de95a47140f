"""DataFrames as sources: pandas, polars, pyarrow, DuckDB relations and Spark DataFrames.

A frame is registered where the engine can scan it in place. DuckDB reads Arrow, pandas and polars
memory directly (`register`: no copy of the columns); a Spark DataFrame becomes a temp view in its
own session. Like a file's row number, each row gets `__row`, its 1-based position in the frame.
Nested and complex columns are refused up front with a one-line error naming the column.
"""

from __future__ import annotations

import numbers
import re
from collections.abc import Mapping
from datetime import date, time
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from healthdq.errors import SourceError
from healthdq.sources.base import ROW, ReadOptions, RegisteredTable, quote_ident

if TYPE_CHECKING:
    import duckdb

    from healthdq.engine.base import Engine
    from healthdq.engine.spark import SparkEngine

# (top-level module, class name) -> kind. Classes are recognised by name so that no DataFrame
# library is imported just to ask whether an object is one of its frames.
_KINDS: dict[tuple[str, str], str] = {
    ("pandas", "DataFrame"): "pandas",
    ("polars", "DataFrame"): "polars",
    ("pyarrow", "Table"): "arrow",
    ("pyarrow", "RecordBatch"): "arrow",
    ("duckdb", "DuckDBPyRelation"): "duckdb",
    ("_duckdb", "DuckDBPyRelation"): "duckdb",
    ("pyspark", "DataFrame"): "spark",  # classic and Spark Connect
}
LABELS: dict[str, str] = {
    "pandas": "pandas DataFrame",
    "polars": "polars DataFrame",
    "arrow": "pyarrow Table",
    "duckdb": "DuckDB relation",
    "spark": "Spark DataFrame",
}
# Types a rule cannot compare: nested values (struct, map, list, union) and Python objects.
_NESTED = re.compile(r"^(STRUCT|MAP|UNION)\b|\[\d*\]$", re.IGNORECASE)
_SPARK_NESTED = re.compile(r"^(struct|map|array)<", re.IGNORECASE)


def frame_kind(data: object) -> str | None:
    """'pandas', 'polars', 'arrow', 'duckdb' or 'spark' for a DataFrame; None for anything else."""
    for cls in type(data).__mro__:
        kind = _KINDS.get((cls.__module__.split(".")[0], cls.__name__))
        if kind:
            return kind
    return None


def frame_label(data: object) -> str:
    """What the user passed, for messages and reports ('pandas DataFrame')."""
    kind = frame_kind(data)
    return LABELS[kind] if kind else type(data).__name__


def register(engine: Engine, name: str, data: Any, options: ReadOptions) -> RegisteredTable:
    """Register a location (path, glob, table) or a DataFrame on `engine` as relation `name`."""
    if options.fhir_view and isinstance(data, str):
        from healthdq.sources.fhir_views import register_fhir_view

        return register_fhir_view(engine, name, data, options)
    if isinstance(data, str):
        return engine.register(name, data, options)
    return engine.register_frame(name, data, options)


def _unsupported(label: str, column: str, kind: str) -> SourceError:
    return SourceError(
        f"column '{column}' of the {label} has type {kind}, which healthdq cannot check: "
        "convert it to text or numbers, or drop it"
    )


# -- DuckDB ------------------------------------------------------------------------------------
def _numbered(kind: str, frame: Any) -> Any:
    """The frame with `__row` added, sharing the frame's own column buffers."""
    if kind == "pandas":
        import numpy as np

        for column, dtype in frame.dtypes.items():
            if dtype.kind in "cV":  # complex numbers, raw bytes records: no SQL type
                raise _unsupported(LABELS[kind], str(column), str(dtype))
            if dtype == np.dtype(object):
                _check_objects(frame[column], str(column))
        # A shallow copy shares the user's column blocks (pandas 2 and 3); the new column is
        # added to the copy only, so the user's frame is left as it was.
        numbered = frame.copy(deep=False)
        numbered[ROW] = np.arange(1, len(frame) + 1, dtype="int64")
        return numbered
    if kind == "polars":
        import polars as pl

        # Arrow at polars' newest level keeps its string views: DuckDB scans them, no copy
        # (the default level rewrites every string column as large_string).
        numbered = frame.with_row_index(ROW, offset=1)
        return numbered.to_arrow(compat_level=pl.CompatLevel.newest())
    import pyarrow as pa
    import pyarrow.compute as pc

    if kind == "duckdb":
        # A relation belongs to its own connection, which another connection cannot scan:
        # run its query once into Arrow, then scan that in place.
        fetch = getattr(frame, "to_arrow_table", None) or frame.fetch_arrow_table
        frame = fetch()
    elif isinstance(frame, pa.RecordBatch):
        frame = pa.Table.from_batches([frame])
    rows = pc.cumulative_sum(pa.repeat(pa.scalar(1, pa.int64()), frame.num_rows))
    return frame.append_column(ROW, rows)


# Python values an object column may hold: DuckDB would turn anything else into its repr text.
_SCALARS: tuple[type, ...] = (str, bytes, numbers.Real, Decimal, date, time)
# Values of an object column looked at: the head, as DuckDB's own type detection does.
OBJECT_SAMPLE = 1000


def _check_objects(series: Any, column: str) -> None:
    """Refuse an object column of dicts, complex numbers or arbitrary objects (by its head)."""
    for value in series.iloc[:OBJECT_SAMPLE]:
        if value is None or isinstance(value, _SCALARS) or _is_missing(value):
            continue
        kind = "dict" if isinstance(value, Mapping) else type(value).__name__
        raise _unsupported(LABELS["pandas"], column, f"object ({kind} values)")


def _is_missing(value: Any) -> bool:
    import pandas as pd

    return bool(pd.api.types.is_scalar(value) and pd.isna(value))


def _columns_of(kind: str, frame: Any) -> list[str]:
    if kind == "pandas":
        return [str(c) for c in frame.columns]
    return list(frame.schema.names) if kind in ("arrow", "duckdb") else list(frame.columns)


def _one_column(kind: str, frame: Any, column: str) -> Any:
    if kind == "pandas":
        return frame[[column]]
    return frame.select([column]) if kind == "arrow" else frame.select(column)


def register_duckdb(
    con: duckdb.DuckDBPyConnection, name: str, frame: Any, options: ReadOptions
) -> RegisteredTable:
    """Register `frame` on a DuckDB connection: DuckDB scans its memory where it lies."""
    import duckdb

    from healthdq.sources.duckdb_reader import mapped_view

    kind = frame_kind(frame)
    if kind is None or kind == "spark":
        raise SourceError(f"the duckdb engine cannot read a {frame_label(frame)}")
    label = LABELS[kind]
    base = f"__src_{name}"
    try:
        scannable = _numbered(kind, frame)
        con.register(base, scannable)
        described = con.execute(f"DESCRIBE {quote_ident(base)}").fetchall()
    except SourceError:
        raise
    except (duckdb.Error, TypeError, ValueError) as exc:
        raise _culprit(con, kind, frame, label) or SourceError(
            f"cannot read the {label}: {_first_line(exc)}"
        ) from None
    columns = {str(r[0]): str(r[1]) for r in described if r[0] != ROW}
    for column, typ in columns.items():
        if _NESTED.search(typ):
            raise _unsupported(label, column, typ)
    mapped = mapped_view(con, name, base, list(columns), options, f"the {label}")
    try:
        count = con.execute(f"SELECT count(*) FROM {quote_ident(name)}").fetchone()
    except duckdb.Error as exc:  # a pandas object column that converts badly past the sample
        raise _culprit(con, kind, frame, label) or SourceError(
            f"cannot read the {label}: {_first_line(exc)}"
        ) from None
    described = con.execute(f"DESCRIBE {quote_ident(name)}").fetchall()
    return RegisteredTable(
        name=name,
        source=label,
        format=kind,
        columns={str(r[0]): str(r[1]) for r in described if r[0] != ROW},
        rows=int(count[0]) if count else 0,
        warnings=mapped.warnings,
        bindings=mapped.bound,
    )


def _culprit(
    con: duckdb.DuckDBPyConnection, kind: str, frame: Any, label: str
) -> SourceError | None:
    """The first column DuckDB cannot read on its own (only asked after a failure)."""
    import duckdb

    for column in _columns_of(kind, frame):
        probe = "__healthdq_probe"
        try:
            con.register(probe, _one_column(kind, frame, column))
            con.execute(f"SELECT count({quote_ident(column)}) FROM {probe}").fetchall()
        except (duckdb.Error, TypeError, ValueError) as exc:
            return _unsupported(label, column, _type_name(kind, frame, column, exc))
        finally:
            con.unregister(probe)
    return None


def _type_name(kind: str, frame: Any, column: str, exc: BaseException) -> str:
    if kind == "pandas":
        return str(frame[column].dtype)
    return _first_line(exc)


# -- Spark -------------------------------------------------------------------------------------
def frame_view(name: str) -> str:
    """The temp view a Spark DataFrame is registered under (dropped after the run)."""
    return f"__healthdq_frame_{name}"


def register_spark(
    engine: SparkEngine, name: str, frame: Any, options: ReadOptions
) -> RegisteredTable:
    """Register a Spark DataFrame as a temp view on the engine's session (no copy out of Spark)."""
    if frame_kind(frame) != "spark":
        raise SourceError(
            f"the spark engine reads Spark DataFrames, not a {frame_label(frame)}: "
            "use engine='duckdb'"
        )
    for column, typ in frame.dtypes:
        if _SPARK_NESTED.match(typ):
            raise _unsupported(LABELS["spark"], column, typ)
    view = frame_view(name)
    frame.createOrReplaceTempView(view)
    registered = engine.register(
        name,
        view,
        ReadOptions(format="table", mapping=dict(options.mapping), aliases=dict(options.aliases)),
    )
    registered.source = LABELS["spark"]
    registered.format = "spark"
    registered.warnings = [
        w.replace(f"in {view}", "in the Spark DataFrame") for w in registered.warnings
    ]
    return registered


def _first_line(exc: BaseException) -> str:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    return lines[0] if lines else type(exc).__name__
