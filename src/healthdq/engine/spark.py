"""Spark engine: the same fused checks, run by Spark SQL on a local session or a cluster.

The planner's SQL is dialect-neutral apart from the few aggregates this class supplies, so a
contract gives the same numbers here as on DuckDB. Two Spark-specific choices:

* Conversions that may fail are rendered as TRY_CAST / TRY_TO_TIMESTAMP, so results do not depend
  on `spark.sql.ansi.enabled` (on by default since Spark 4, where a plain CAST of 'abc' to BIGINT
  raises). Sessions created here also turn ANSI mode off and use UTC, like DuckDB's defaults.
* `__row` is the 1-based row number in the source: parquet's own row index, and for csv/json a
  consecutive number built from each split's position (monotonically_increasing_id alone is not
  consecutive), computed once on a cached copy.
"""

from __future__ import annotations

import codecs
import csv as pycsv
import json
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect

from healthdq.engine.base import Engine, ProgressCallback
from healthdq.errors import SourceError
from healthdq.governance.messages import engine_message
from healthdq.sources.base import ROW, ReadOptions, RegisteredTable, resolve_files

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

# Split-local row index: monotonically_increasing_id packs the partition id above bit 33.
PARTITION_SHIFT = 33
# Text patterns a csv/json string column must match in full to be typed (codes stay text).
TYPE_PATTERNS: list[tuple[str, str]] = [
    ("DATE", r"^\d{4}-\d{2}-\d{2}$"),
    ("TIMESTAMP", r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$"),
    ("BOOLEAN", r"^(?i:true|false)$"),
    ("DOUBLE", r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"),
]
INTEGER = re.compile(r"^[+-]?\d+$")
SNIFF_ROWS = 2_000  # rows read to propose a type per column, as DuckDB's sniffer does
# Only JSON strings are re-typed, and only to dates and timestamps (numbers arrive typed).
JSON_TYPES = {"DATE", "TIMESTAMP"}
# Spark type names as the rest of healthdq (and DuckDB) spell them, so reports read the same.
TYPE_NAMES = {"STRING": "VARCHAR", "INT": "INTEGER", "TIMESTAMP_NTZ": "TIMESTAMP", "LONG": "BIGINT"}
JAVA_CHARSETS = {
    "iso8859-1": "ISO-8859-1",
    "utf-8": "UTF-8",
    "utf-16": "UTF-16",
    "utf-16-le": "UTF-16LE",
    "utf-16-be": "UTF-16BE",
    "ascii": "US-ASCII",
}
REMOTE = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]+:(//|/)")  # s3://, abfss://, dbfs:/, hdfs://


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

    # -- sources ----------------------------------------------------------------------------
    def register(self, name: str, location: str, options: ReadOptions) -> RegisteredTable:
        fmt = options.format
        warnings: list[str] = []
        try:
            df, fmt = self._read(location, fmt, options, warnings)
        except SourceError:
            raise
        except Exception as exc:  # Spark's own errors (unreadable file, no such table)
            raise SourceError(engine_message(exc), path=location) from None
        bound: dict[str, str] = {}
        df = self._mapped(df, options, location, warnings, bound)
        df.createOrReplaceTempView(name)
        rows = int(self.spark.sql(f"SELECT count(*) FROM {self.quote(name)}").collect()[0][0])
        columns = {c: TYPE_NAMES.get(t.upper(), t.upper()) for c, t in df.dtypes if c != ROW}
        return RegisteredTable(
            name=name,
            source=location,
            format=str(fmt),
            columns=columns,
            rows=rows,
            warnings=warnings,
            bindings=bound,
        )

    def register_frame(self, name: str, frame: Any, options: ReadOptions) -> RegisteredTable:
        from healthdq.sources.frames import register_spark

        return register_spark(self, name, frame, options)

    def _read(
        self, location: str, fmt: str | None, options: ReadOptions, warnings: list[str]
    ) -> tuple[DataFrame, str | None]:
        if fmt == "table":
            # A table or view already in the session's catalog (Databricks, Hive metastore).
            df = self.spark.table(location)
            return (df if ROW in df.columns else self._number(df)), fmt
        files, detected = self._files(location)
        fmt = fmt or detected
        if fmt == "csv":
            return self._csv(files, options, warnings), fmt
        if fmt == "parquet":
            if len(files) > 1:
                warnings.append(f"{len(files)} files read; sample row numbers restart in each file")
            return self._parquet(files), fmt
        if fmt == "json":
            return self._json(files), fmt
        raise SourceError(
            "unrecognised file type for Spark (use --format csv|parquet|json|table)", path=location
        )

    def _files(self, location: str) -> tuple[list[str], str | None]:
        if REMOTE.match(location) and not location.startswith("file:"):
            # Cluster storage: Spark lists it; the format comes from the extension.
            from healthdq.sources.base import FORMATS, _suffix

            return [location], FORMATS.get(_suffix(location.rstrip("/")))
        files, fmt = resolve_files(location)
        return [str(Path(f).resolve()) for f in files], fmt

    def _mapped(
        self,
        df: DataFrame,
        options: ReadOptions,
        location: str,
        warnings: list[str],
        bound: dict[str, str],
    ) -> DataFrame:
        from pyspark.sql import functions as F

        from healthdq.sources.aliases import bind_columns

        columns = [c for c in df.columns if c != ROW]
        binding = bind_columns(columns, options.mapping, options.aliases, location)
        warnings += binding.warnings
        bound.update(binding.bound)
        select = [F.col(self.quote(ROW))]
        for c in columns:
            select.append(F.col(self.quote(c)).alias(binding.renames.get(c.lower(), c)))
        return df.select(*select)

    def _parquet(self, files: list[str]) -> DataFrame:
        from pyspark.sql import functions as F

        df = self.spark.read.parquet(*files)
        # The file's own row index: no copy, and numbers match DuckDB's file_row_number.
        return df.select(
            (F.col("_metadata.row_index") + F.lit(1)).alias(ROW),
            *[F.col(self.quote(c)) for c in df.columns],
        )

    def _json(self, files: list[str]) -> DataFrame:
        multiline = False
        if not REMOTE.match(files[0]):
            with open(files[0], "rb") as fh:
                multiline = fh.read(4096).lstrip().startswith(b"[")
        df = self.spark.read.json(files, multiLine=multiline)
        if not multiline and not REMOTE.match(files[0]):
            # Spark sorts inferred JSON fields by name; keep the file's own order as DuckDB does.
            with open(files[0], encoding="utf-8", errors="replace") as fh:
                first = fh.readline()
            try:
                keys = list(json.loads(first)) if first.strip().startswith("{") else []
            except ValueError:
                keys = []
            order = [c for c in keys if c in df.columns]
            order += [c for c in df.columns if c not in order]
            df = df.select(*[self.quote(c) for c in order])
        numbered = self._number(df)
        return self._typed(numbered, JSON_TYPES)

    def _csv(self, files: list[str], options: ReadOptions, warnings: list[str]) -> DataFrame:
        from healthdq.sources import csv as local_csv

        encoding = options.encoding
        delimiter = options.delimiter
        if REMOTE.match(files[0]):
            encoding = encoding or "utf-8"
            head_df = self.spark.read.text(files[0]).limit(1).collect()
            head = (head_df[0][0] if head_df else "").encode("utf-8")
        else:
            with open(files[0], "rb") as fh:
                head = fh.read(local_csv.HEAD_BYTES)
            if encoding is None:
                encoding, warning = local_csv._detect_encoding(head, files[0])
                if warning:
                    warnings.append(warning)
        names, delimiter = local_csv._header(head, encoding, delimiter, files[0])
        # Spark takes Java charset names ('ISO-8859-1', not Python's 'latin-1').
        try:
            charset = JAVA_CHARSETS.get(codecs.lookup(encoding).name, encoding)
        except LookupError:
            raise SourceError(f"unknown encoding '{encoding}'", path=files[0]) from None
        # Spark's line splitter assumes a one-byte newline: UTF-16 is read whole per file.
        df = self.read_csv_text(files, names, delimiter, charset, charset.startswith("UTF-16"))
        try:
            numbered = self._number(df)
        except Exception as exc:
            raise self._csv_error(exc, files, delimiter, encoding) from None
        return self._typed(numbered, {t for t, _ in TYPE_PATTERNS})

    def read_csv_text(
        self, files: list[str], names: list[str], delimiter: str, charset: str, multiline: bool
    ) -> DataFrame:
        """CSV files with a known header as all-text columns, read strictly (DuckDB's rules)."""
        from pyspark.sql.types import StringType, StructField, StructType

        return self.spark.read.csv(
            files,
            schema=StructType([StructField(n, StringType()) for n in names]),
            header=True,
            sep=delimiter,
            quote='"',
            escape='"',
            encoding=charset,
            multiLine=multiline,
            mode="FAILFAST",  # a ragged row is an error, never a silently padded row
        )

    def _csv_error(
        self, exc: Exception, files: list[str], delimiter: str, encoding: str
    ) -> SourceError:
        text = str(exc)
        if "MALFORMED" not in text and "Malformed" not in text:
            return SourceError(engine_message(exc), path=files[0])
        # Spark names the record, not its line: find the first ragged line locally.
        for path in files:
            if REMOTE.match(path):
                break
            with open(path, encoding=encoding, errors="replace", newline="") as fh:
                reader = pycsv.reader(fh, delimiter=delimiter, quotechar='"')
                width = None
                for record in reader:
                    if width is None:
                        width = len(record)
                    elif len(record) != width and record:
                        return SourceError(
                            f"ragged row: expected {width} columns, found {len(record)} "
                            "(wrong delimiter?)",
                            path=path,
                            line=reader.line_num,
                        )
        return SourceError("ragged row (wrong delimiter?)", path=files[0])

    def _number(self, df: DataFrame) -> DataFrame:
        """Add a consecutive 1-based `__row` in file order, cached so it is computed once.

        Rows of one split are contiguous in one partition, so a row's number is the rows in
        earlier splits (ordered by file, then offset) plus its index within its split. Only the
        per-split counts come back to the driver.
        """
        from pyspark.sql import functions as F

        meta = "_metadata" in df.columns or self._has_metadata(df)
        file_col = F.col("_metadata.file_path") if meta else F.lit("")
        start_col = F.col("_metadata.file_block_start") if meta else F.lit(0)
        tagged = df.select(
            *[F.col(self.quote(c)) for c in df.columns],
            file_col.alias("__file"),
            start_col.alias("__start"),
            F.monotonically_increasing_id().alias("__mid"),
        )
        tagged = tagged.persist()
        self._cached.append(tagged)
        splits = (
            tagged.groupBy(
                "__file", "__start", F.shiftright("__mid", PARTITION_SHIFT).alias("__part")
            )
            .agg(F.count(F.lit(1)).alias("n"), F.min("__mid").alias("first"))
            .collect()
        )
        offsets = []
        seen = 0
        for s in sorted(splits, key=lambda r: (r["__file"], r["__start"], r["__part"])):
            offsets.append((s["__file"], int(s["__start"]), int(s["__part"]), seen - s["first"]))
            seen += int(s["n"])
        base = self.spark.createDataFrame(
            offsets, "__file string, __start long, __part long, __base long"
        )
        joined = tagged.withColumn("__part", F.shiftright("__mid", PARTITION_SHIFT)).join(
            F.broadcast(base), ["__file", "__start", "__part"]
        )
        numbered = joined.select(
            (F.col("__mid") + F.col("__base") + F.lit(1)).alias(ROW),
            *[F.col(self.quote(c)) for c in df.columns],
        )
        numbered = numbered.persist()
        numbered.count()
        self._cached.append(numbered)
        tagged.unpersist()
        return numbered

    @staticmethod
    def _has_metadata(df: DataFrame) -> bool:
        try:
            df.select("_metadata.file_path")
            return True
        except Exception:
            return False

    def _typed(self, df: DataFrame, allowed: set[str]) -> DataFrame:
        """Type string columns whose every non-blank value is a date, timestamp, ... in full.

        Mirrors the csv reader on DuckDB: a sniff of the first rows proposes a type per column
        (integers stay text, so NHS codes keep leading zeros), then one pass over all rows keeps
        it only if every value converts. The sniff keeps the full pass to a few columns.
        """
        from pyspark.sql import functions as F

        text = [c for c, t in df.dtypes if t == "string" and c != ROW]
        patterns = [(t, p) for t, p in TYPE_PATTERNS if t in allowed]
        if not text or not patterns:
            return df
        head = df.select(*[F.col(self.quote(c)) for c in text]).limit(SNIFF_ROWS).collect()
        candidates: dict[str, str] = {}
        for i, c in enumerate(text):
            values = [r[i] for r in head if r[i] is not None and r[i].strip()]
            for t, p in patterns if values else []:
                if t == "DOUBLE" and all(INTEGER.match(v) for v in values):
                    continue
                if all(re.match(p, v) for v in values):
                    candidates[c] = t
                    break
        if not candidates:
            return df
        aggs = []
        for c, t in candidates.items():
            value = F.col(self.quote(c))
            nonblank = value.isNotNull() & (F.trim(value) != "")
            converts = F.expr(f"try_cast({self.quote(c)} AS {t})").isNotNull()
            ok = value.rlike(dict(patterns)[t]) & converts
            aggs.append(F.count_if(nonblank & ~ok).alias(f"bad|{c}"))
        bad = df.agg(*aggs).collect()[0].asDict()
        types = {c: t for c, t in candidates.items() if bad[f"bad|{c}"] == 0}
        if not types:
            return df
        return df.select(
            *[
                F.expr(f"try_cast({self.quote(c)} AS {types[c]})").alias(c)
                if c in types
                else F.col(self.quote(c))
                for c in df.columns
            ]
        )

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
        return {c: TYPE_NAMES.get(t.upper(), t.upper()) for c, t in dtypes}

    def keep(self, df: DataFrame) -> DataFrame:
        """`df` persisted (computed on first use) until close()."""
        kept = df.persist()
        self._cached.append(kept)
        return kept

    def number_rows(self, df: DataFrame) -> DataFrame:
        """`df` with a consecutive 1-based `__row` in file order (cached until close())."""
        return self._number(df)

    def seal(self, locations: list[str]) -> None:
        # Sources are read through the DataFrame API; no SQL may read a file by path.
        self.spark.conf.set("spark.sql.runSQLOnFiles", "false")

    def close(self) -> None:
        for df in self._cached:
            df.unpersist()
        self._cached.clear()
        if self._owned:
            self.spark.stop()
