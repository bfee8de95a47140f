"""Spark engine: the same fused checks, run by Spark SQL on a local session or a cluster.

The planner's SQL is dialect-neutral apart from the few aggregates this class supplies, so a
contract gives the same numbers here as on DuckDB. Conversions that may fail are rendered as
TRY_CAST / TRY_TO_TIMESTAMP, so results do not depend on `spark.sql.ansi.enabled` (on by default
since Spark 4, where a plain CAST of 'abc' to BIGINT raises). Sessions created here also turn
ANSI mode off and use UTC, like DuckDB's defaults.

Files are read by sources/spark_reader.py (row numbers, strict CSV, typing).
"""

from __future__ import annotations

import tempfile
import time
from typing import TYPE_CHECKING, Any

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect

from healthdq.engine.base import Engine, ProgressCallback
from healthdq.sources import spark_reader
from healthdq.sources.base import ROW, ReadOptions, RegisteredTable, quote_ident

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession


def _plain(value: Any) -> Any:
    """Spark Rows and arrays as plain Python, so the runner reads structs as dicts."""
    from pyspark.sql import Row

    if isinstance(value, Row):
        return {k: _plain(v) for k, v in value.asDict(recursive=False).items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _sql_string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def create_session(app_name: str = "healthdq", master: str = "local[2]") -> SparkSession:
    """A local session with the settings healthdq's results are defined under."""
    from pyspark.sql import SparkSession

    spark = (
        SparkSession.builder.master(master)
        .appName(app_name)
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        # A few hundred grouped rows per query: the default 200 shuffle partitions is overhead.
        .config("spark.sql.shuffle.partitions", "8")
        .config("spark.sql.ansi.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    return spark


class SparkEngine(Engine):
    name = "spark"
    dialect = "spark"

    def __init__(self, spark: SparkSession | None = None, master: str = "local[2]") -> None:
        if spark is None:
            from pyspark.sql import SparkSession

            # Under spark-submit or in a notebook a session already exists: use it, never stop it.
            spark = SparkSession.getActiveSession()
            self._owned = spark is None
            if spark is None:
                spark = create_session(master=master)
        else:
            self._owned = False
        self.spark = spark
        self.query_seconds = 0.0
        self.queries = 0
        self._cached: list[DataFrame] = []
        self._temps: dict[str, DataFrame] = {}  # materialised lookups by name
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._bounded_min_by = self._probe("SELECT min_by(x, x, 2) FROM VALUES (1) AS t(x)")

    def _probe(self, sql: str) -> bool:
        try:
            self.spark.sql(sql).collect()
            return True
        except Exception:
            return False

    # -- rendering --------------------------------------------------------------------------
    def render(self, expression: exp.Expr) -> str:
        def safe(node: exp.Expr) -> exp.Expr:
            if isinstance(node, exp.TryCast):
                node = node.copy()
                node.set("safe", True)
            elif isinstance(node, exp.StrToTime) and node.args.get("safe"):
                # TO_TIMESTAMP raises on a bad value under ANSI mode; TRY_TO_TIMESTAMP never.
                fmt = Dialect.get_or_raise(self.dialect).generator().format_time(node) or "''"
                return exp.Anonymous(
                    this="TRY_TO_TIMESTAMP",
                    expressions=[node.this, exp.Literal.string(fmt[1:-1])],
                )
            return node

        return expression.copy().transform(safe).sql(dialect=self.dialect)

    def count_if(self, predicate: str) -> str:
        return f"count_if({predicate})"

    def hash_key(self, columns: list[str]) -> str:
        return f"xxhash64({', '.join(self.quote(c) for c in columns)})"

    def _struct(self, columns: list[str]) -> str:
        fields = [ROW, *[c for c in columns if c != ROW]]
        return (
            "named_struct(" + ", ".join(f"{_sql_string(c)}, {self.quote(c)}" for c in fields) + ")"
        )

    def sample(self, predicate: str, columns: list[str], limit: int) -> str:
        struct = self._struct(columns)
        row = self.quote(ROW)
        # The struct sits in a CASE so it is built only for matching rows: the aggregate's input
        # projection runs before FILTER, on every row.
        item = f"CASE WHEN {predicate} THEN {struct} END"
        if self._bounded_min_by:
            # Spark 4's min_by with a count keeps a bounded heap per group, like DuckDB's arg_min.
            return f"min_by({item}, {row}, {int(limit)}) FILTER (WHERE {predicate})"
        # Spark 3.5: collect then keep the first rows; __row is the struct's first field.
        return (
            f"slice(array_sort(collect_list({item}) FILTER (WHERE {predicate})), 1, {int(limit)})"
        )

    # -- execution --------------------------------------------------------------------------
    def fetch(self, sql: str, progress: ProgressCallback | None = None) -> list[tuple[Any, ...]]:
        started = time.perf_counter()
        try:
            rows = self.spark.sql(sql).collect()
        finally:
            self.query_seconds += time.perf_counter() - started
            self.queries += 1
        if progress is not None:
            progress(1.0)
        return [tuple(_plain(v) for v in row) for row in rows]

    def fetch_arrow(self, sql: str) -> Any:
        started = time.perf_counter()
        try:
            return self.spark.sql(sql).toArrow()
        finally:
            self.query_seconds += time.perf_counter() - started
            self.queries += 1

    def query_frame(self, sql: str) -> Any:
        """A cached DataFrame of the query: computed in the session on first scan, kept there
        for the rule scans that follow, never collected to the driver."""
        return self.spark.sql(sql).cache()

    # -- sources ----------------------------------------------------------------------------
    def register(self, name: str, location: str, options: ReadOptions) -> RegisteredTable:
        return spark_reader.register(self, name, location, options, self.workdir())

    def register_frame(self, name: str, frame: Any, options: ReadOptions) -> RegisteredTable:
        from healthdq.sources.frames import register_spark

        return register_spark(self, name, frame, options)

    def workdir(self) -> str:
        """A local folder for unpacked zips, removed on close()."""
        if self._tmp is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="healthdq-spark-")
        return self._tmp.name

    # -- hand-written SQL (the OMOP runner) ---------------------------------------------------
    def create_temp(
        self, name: str, sql: str, materialize: bool = False, native: bool = False
    ) -> None:
        df = self.spark.sql(sql if native else self.translate(sql))
        previous = self._temps.pop(name, None)
        if previous is not None:
            previous.unpersist()  # a lookup built again (a second run on this session)
        if materialize:
            df = self.keep(df)
            self._temps[name] = df
        df.createOrReplaceTempView(name)

    def drop_temp(self, name: str) -> None:
        previous = self._temps.pop(name, None)
        if previous is not None:
            previous.unpersist()
        self.spark.catalog.dropTempView(name)

    def top_k(self, item: str, weight: str, k: int) -> str:
        if self._bounded_min_by:
            return f"max_by({item}, {weight}, {int(k)})"
        # Spark 3.5: collect, sort by weight descending, keep the first k.
        pairs = f"collect_list(named_struct('w', {weight}, 'x', {item}))"
        return f"transform(slice(sort_array({pairs}, false), 1, {int(k)}), p -> p.x)"

    def unpivot(self, relation: str, items: list[tuple[int, str]]) -> str:
        # stack() emits one row per (label, value) pair of each input row: one pass.
        pairs = ", ".join(f"{c}, {v}" for c, v in items)
        return f"SELECT stack({len(items)}, {pairs}) AS (c, v) FROM {self.quote(relation)}"

    def describe(self, relation: str) -> dict[str, str]:
        dtypes = self.spark.table(self.quote(relation)).dtypes
        return {c: spark_reader.spark_type(t) for c, t in dtypes}

    def register_secret(self, name: str, values: dict[str, bytes]) -> None:
        from pyspark.sql.types import BinaryType, StructField, StructType

        schema = StructType([StructField(c, BinaryType(), False) for c in values])
        # Data in a local relation, not SQL literals: the key never appears in SQL text.
        row = tuple(bytearray(v) for v in values.values())
        self.spark.createDataFrame([row], schema).createOrReplaceTempView(name)

    def register_values(self, name: str, column: str, values: list[str]) -> None:
        from pyspark.sql.types import StringType, StructField, StructType

        schema = StructType([StructField(column, StringType(), False)])
        self.spark.createDataFrame([(v,) for v in values], schema).createOrReplaceTempView(name)

    def restrict(self, name: str, where: str) -> None:
        # A DataFrame's temp view holds its analysed plan: replacing `name` by a filter over
        # the old `name` does not recurse.
        sql = self.translate(f"SELECT * FROM {quote_ident(name)} AS t WHERE {where}")
        self.spark.sql(sql).createOrReplaceTempView(name)

    def export(self, sql: str, path: str, fmt: str, native: bool = False) -> None:
        df = self.spark.sql(sql if native else self.translate(sql))
        writer = df.write.mode("errorifexists")
        if fmt == "csv":
            writer = writer.option("header", True)
        writer.format(fmt).save(path)

    def keep(self, df: DataFrame) -> DataFrame:
        """`df` persisted (computed on first use) until close()."""
        kept = df.persist()
        self._cached.append(kept)
        return kept

    def seal(self, locations: list[str]) -> None:
        # Sources are read through the DataFrame API; no SQL may read a file by path.
        self.spark.conf.set("spark.sql.runSQLOnFiles", "false")

    def close(self) -> None:
        for df in self._cached:
            df.unpersist()
        self._cached.clear()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
        if self._owned:
            self.spark.stop()
