"""Reading into Spark: csv, parquet, json and catalog tables as DataFrames with `__row`.

Files are understood as on DuckDB (sources/sniff.py: compression, encoding, header, delimiter;
sources/mapping.py: column names), then Spark reads them:

* `__row` is the 1-based row number in the source: parquet's own row index, and for csv/json a
  consecutive number built from each split's position (monotonically_increasing_id alone is not
  consecutive), computed once on a cached copy.
* CSV columns are all text, read strictly; dates, timestamps, booleans and decimals are typed
  when every value converts (integers stay text, as on DuckDB). OMOP CDM files
  (`infer_all_types`) are typed the way DuckDB's read_csv(sample_size=-1) types them.
"""

from __future__ import annotations

import codecs
import csv as pycsv
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING

from healthdq.errors import SourceError
from healthdq.governance.messages import engine_message
from healthdq.sources import sniff
from healthdq.sources.base import ROW, ReadOptions, RegisteredTable
from healthdq.sources.compose import datetime_from_parts
from healthdq.sources.locate import format_of, is_remote, resolve_files
from healthdq.sources.mapping import map_columns

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from healthdq.engine.spark import SparkEngine

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
# Hadoop picks a decompressor by file name only.
COMPRESSED_SUFFIX = {"gzip": ".gz", "zstd": ".zst"}
# DuckDB's CSV type candidates in the order its sniffer tries them, each as the full-value
# pattern DuckDB accepts (measured on DuckDB 1.x/2.x: '01' and '+5' stay text, '-01' is an
# integer, 'yes'/'t' are booleans) and the Spark type it becomes. DuckDB's TIME, TIMESTAMPTZ and
# non-ISO date formats are not tried: such columns stay text here.
CANDIDATES: list[tuple[str, str]] = [
    ("BOOLEAN", r"^(?i:true|false|t|f|yes|no)$"),
    ("BIGINT", r"^(0|[1-9][0-9]*|-[0-9]+)$"),
    (
        "DOUBLE",
        r"^(((0|[1-9][0-9]*)(\.[0-9]*)?|\.[0-9]+|-([0-9]+(\.[0-9]*)?|\.[0-9]+))"
        r"([eE][+-]?[0-9]+)?|(?i:nan))$",
    ),
    ("DATE", r"^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}$"),
    (
        "TIMESTAMP_NTZ",
        r"^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}[ T][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?$",
    ),
]


def register(
    engine: SparkEngine, name: str, location: str, options: ReadOptions, workdir: str | None
) -> RegisteredTable:
    """Make `location` queryable as temp view `name` with a `__row` column."""
    from pyspark.sql import functions as F

    warnings: list[str] = []
    try:
        df, fmt, rows = _read(engine, location, options, warnings, workdir)
    except SourceError:
        raise
    except Exception as exc:  # Spark's own errors (unreadable file, no such table)
        raise SourceError(first_line(exc), path=location) from None
    mapped = map_columns(
        df.columns, options.mapping, location, options.lower_case, options.aliases, options.parts
    )
    warnings += mapped.warnings
    df = df.select(
        engine.quote(ROW),
        *[F.col(engine.quote(src)).alias(out) for src, out in mapped.pairs],
        *[
            F.expr(engine.render(datetime_from_parts(d, t))).alias(out)
            for d, t, out in mapped.composed
        ],
    )
    df.createOrReplaceTempView(name)
    if rows is None:
        rows = int(engine.spark.sql(f"SELECT count(*) FROM {engine.quote(name)}").collect()[0][0])
    columns = {c: spark_type(t) for c, t in df.dtypes if c != ROW}
    return RegisteredTable(
        name=name,
        source=location,
        format=str(fmt),
        columns=columns,
        rows=rows,
        warnings=warnings,
        bindings=mapped.bound,
    )


def spark_type(name: str) -> str:
    return TYPE_NAMES.get(name.upper(), name.upper())


def first_line(exc: BaseException) -> str:
    """Spark's message without data: readers quote the line or value they failed on."""
    return engine_message(exc)


def _read(
    engine: SparkEngine,
    location: str,
    options: ReadOptions,
    warnings: list[str],
    workdir: str | None,
) -> tuple[DataFrame, str | None, int | None]:
    fmt = options.format
    if fmt == "table":
        # A table or view already in the session's catalog (Databricks, Hive metastore).
        df = engine.spark.table(location)
        return (df if ROW in df.columns else number(engine, df)), fmt, None
    if is_remote(location):
        # Cluster storage: Spark lists it; the format comes from the extension.
        files, detected = [location], format_of(location.rstrip("/"))
    else:
        local, detected = resolve_files(location, workdir)
        files = [str(Path(f).resolve()) for f in local]
    fmt = fmt or detected
    if fmt == "csv":
        if options.infer_all_types:
            if len(files) != 1 or is_remote(files[0]):
                raise SourceError("give one local CSV file per CDM table", path=location)
            df, rows = _csv_all_types(engine, files[0], warnings)
            return df, fmt, rows
        return _csv(engine, files, options, warnings), fmt, None
    if fmt == "parquet":
        if len(files) > 1:
            warnings.append(f"{len(files)} files read; sample row numbers restart in each file")
            if not options.union_by_name and not is_remote(files[0]):
                _same_parquet_schema(files)
        return _parquet(engine, files, options.union_by_name), fmt, None
    if fmt == "json":
        return _json(engine, files), fmt, None
    raise SourceError(
        "unrecognised file type for Spark (use --format csv|parquet|json|table)", path=location
    )


def _parquet(engine: SparkEngine, files: list[str], union_by_name: bool) -> DataFrame:
    from pyspark.sql import functions as F

    df = engine.spark.read.parquet(*files, mergeSchema=union_by_name)
    # The file's own row index: no copy, and numbers match DuckDB's file_row_number.
    return df.select(
        (F.col("_metadata.row_index") + F.lit(1)).alias(ROW),
        *[F.col(engine.quote(c)) for c in df.columns],
    )


def _same_parquet_schema(files: list[str]) -> None:
    """Refuse files whose schemas differ, naming the first file and the odd one (footers only)."""
    import pyarrow.parquet as pq

    def schema(path: str) -> list[tuple[str, str]]:
        # Names and types; nullability differs between writers' files of one table.
        try:
            return [(f.name.lower(), str(f.type)) for f in pq.read_schema(path)]
        except Exception as exc:
            raise SourceError(
                f"not a readable Parquet file ({first_line(exc)})", path=path
            ) from None

    reference = schema(files[0])
    for f in files[1:]:
        other = schema(f)
        if other != reference:
            ours, theirs = [n for n, _ in reference], [n for n, _ in other]
            detail = sniff.describe_difference(ours, theirs)
            if ours == theirs:
                detail = "column types differ"
            raise SourceError(
                f"schema differs from {files[0]} ({detail}); give --union-by-name to combine "
                "files by column name",
                path=f,
            )


def _json(engine: SparkEngine, files: list[str]) -> DataFrame:
    multiline = False
    if not is_remote(files[0]):
        with open(files[0], "rb") as fh:
            multiline = fh.read(4096).lstrip().startswith(b"[")
    df = engine.spark.read.json(files, multiLine=multiline)
    if not multiline and not is_remote(files[0]):
        # Spark sorts inferred JSON fields by name; keep the file's own order as DuckDB does.
        with open(files[0], encoding="utf-8", errors="replace") as fh:
            first = fh.readline()
        try:
            keys = list(json.loads(first)) if first.strip().startswith("{") else []
        except ValueError:
            keys = []
        order = [c for c in keys if c in df.columns]
        order += [c for c in df.columns if c not in order]
        df = df.select(*[engine.quote(c) for c in order])
    return _typed(engine, number(engine, df), JSON_TYPES)


def charset(encoding: str, path: str) -> str:
    """Spark takes Java charset names ('ISO-8859-1', not Python's 'latin-1')."""
    try:
        return JAVA_CHARSETS.get(codecs.lookup(encoding).name, encoding)
    except LookupError:
        raise SourceError(f"unknown encoding '{encoding}'", path=path) from None


def _layouts(files: list[str], options: ReadOptions) -> list[sniff.CsvLayout]:
    first = sniff.csv_layout(files[0], options.encoding, options.delimiter)
    layouts = [first] + [
        sniff.csv_layout(f, first.encoding, first.delimiter, sniff.OTHER_HEAD_BYTES)
        for f in files[1:]
    ]
    for lay in layouts:
        wanted = COMPRESSED_SUFFIX.get(lay.compression or "")
        if wanted and not lay.path.lower().endswith(wanted):
            raise SourceError(
                f"file is {lay.compression}-compressed but not named *{wanted}: Spark would read "
                f"it as text (rename it to end in {wanted})",
                path=lay.path,
            )
    if not options.union_by_name:
        for lay in layouts[1:]:
            sniff.same_columns(first, lay)
    return layouts


def _csv(
    engine: SparkEngine, files: list[str], options: ReadOptions, warnings: list[str]
) -> DataFrame:
    if is_remote(files[0]):
        encoding = options.encoding or "utf-8"
        head_df = engine.spark.read.text(files[0]).limit(1).collect()
        head = (head_df[0][0] if head_df else "").encode("utf-8")
        names, delimiter = sniff.header(head, encoding, options.delimiter, files[0])
        return _csv_files(engine, files, names, delimiter, encoding)
    layouts = _layouts(files, options)
    warnings += [w for lay in layouts for w in lay.warnings]
    first = layouts[0]
    if not options.union_by_name or len(layouts) == 1:
        return _csv_files(engine, files, first.names, first.delimiter, first.encoding)
    # Files with different columns: each read and numbered alone, then combined by name with
    # row numbers running on from file to file.
    from pyspark.sql import functions as F

    combined: DataFrame | None = None
    offset = 0
    for lay in layouts:
        part = _csv_files(engine, [lay.path], lay.names, lay.delimiter, first.encoding)
        rows = part.count()
        part = part.withColumn(ROW, F.col(ROW) + F.lit(offset))
        offset += rows
        combined = (
            part if combined is None else combined.unionByName(part, allowMissingColumns=True)
        )
    assert combined is not None
    return combined


def _csv_files(
    engine: SparkEngine, files: list[str], names: list[str], delimiter: str, encoding: str
) -> DataFrame:
    java = charset(encoding, files[0])
    # Spark's line splitter assumes a one-byte newline: UTF-16 is read whole per file.
    df = read_csv_text(engine, files, names, delimiter, java, java.startswith("UTF-16"))
    try:
        numbered = number(engine, df)
    except Exception as exc:
        raise _csv_error(exc, files, delimiter, encoding) from None
    return _typed(engine, numbered, {t for t, _ in TYPE_PATTERNS})


def read_csv_text(
    engine: SparkEngine,
    files: list[str],
    names: list[str],
    delimiter: str,
    java_charset: str,
    multiline: bool,
) -> DataFrame:
    """CSV files with a known header as all-text columns, read strictly (DuckDB's rules)."""
    from pyspark.sql.types import StringType, StructField, StructType

    return engine.spark.read.csv(
        files,
        schema=StructType([StructField(n, StringType()) for n in names]),
        header=True,
        sep=delimiter,
        quote='"',
        escape='"',
        encoding=java_charset,
        multiLine=multiline,
        mode="FAILFAST",  # a ragged row is an error, never a silently padded row
    )


def _csv_error(exc: Exception, files: list[str], delimiter: str, encoding: str) -> SourceError:
    text = str(exc)
    if "MALFORMED" not in text and "Malformed" not in text:
        return SourceError(first_line(exc), path=next((f for f in files if f in text), files[0]))
    # Spark names the record, not its line: find the first ragged line locally.
    for path in files:
        if is_remote(path) or sniff.compression(path):
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


def number(engine: SparkEngine, df: DataFrame) -> DataFrame:
    """Add a consecutive 1-based `__row` in file order, cached so it is computed once.

    Rows of one split are contiguous in one partition, so a row's number is the rows in
    earlier splits (ordered by file, then offset) plus its index within its split. Only the
    per-split counts come back to the driver.
    """
    from pyspark.sql import functions as F

    meta = "_metadata" in df.columns or _has_metadata(df)
    file_col = F.col("_metadata.file_path") if meta else F.lit("")
    start_col = F.col("_metadata.file_block_start") if meta else F.lit(0)
    tagged = df.select(
        *[F.col(engine.quote(c)) for c in df.columns],
        file_col.alias("__file"),
        start_col.alias("__start"),
        F.monotonically_increasing_id().alias("__mid"),
    )
    tagged = engine.keep(tagged)
    splits = (
        tagged.groupBy("__file", "__start", F.shiftright("__mid", PARTITION_SHIFT).alias("__part"))
        .agg(F.count(F.lit(1)).alias("n"), F.min("__mid").alias("first"))
        .collect()
    )
    offsets = []
    seen = 0
    for s in sorted(splits, key=lambda r: (r["__file"], r["__start"], r["__part"])):
        offsets.append((s["__file"], int(s["__start"]), int(s["__part"]), seen - s["first"]))
        seen += int(s["n"])
    base = engine.spark.createDataFrame(
        offsets, "__file string, __start long, __part long, __base long"
    )
    joined = tagged.withColumn("__part", F.shiftright("__mid", PARTITION_SHIFT)).join(
        F.broadcast(base), ["__file", "__start", "__part"]
    )
    numbered = joined.select(
        (F.col("__mid") + F.col("__base") + F.lit(1)).alias(ROW),
        *[F.col(engine.quote(c)) for c in df.columns],
    )
    numbered = engine.keep(numbered)
    numbered.count()
    tagged.unpersist()
    return numbered


def _has_metadata(df: DataFrame) -> bool:
    import logging

    # PySpark logs every failed DataFrame call as an ERROR with the whole plan: a probe's
    # expected failure is not one.
    quiet = logging.getLogger("DataFrameQueryContextLogger")
    was = quiet.disabled
    quiet.disabled = True
    try:
        df.select("_metadata.file_path")
        return True
    except Exception:
        return False
    finally:
        quiet.disabled = was


def _typed(engine: SparkEngine, df: DataFrame, allowed: set[str]) -> DataFrame:
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
    head = df.select(*[F.col(engine.quote(c)) for c in text]).limit(SNIFF_ROWS).collect()
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
        value = F.col(engine.quote(c))
        nonblank = value.isNotNull() & (F.trim(value) != "")
        converts = F.expr(f"try_cast({engine.quote(c)} AS {t})").isNotNull()
        ok = value.rlike(dict(patterns)[t]) & converts
        aggs.append(F.count_if(nonblank & ~ok).alias(f"bad|{c}"))
    bad = df.agg(*aggs).collect()[0].asDict()
    types = {c: t for c, t in candidates.items() if bad[f"bad|{c}"] == 0}
    if not types:
        return df
    return df.select(
        *[
            F.expr(f"try_cast({engine.quote(c)} AS {types[c]})").alias(c)
            if c in types
            else F.col(engine.quote(c))
            for c in df.columns
        ]
    )


# -- OMOP CDM files: every column typed from all of its values ---------------------------------


def _csv_all_types(engine: SparkEngine, path: str, warnings: list[str]) -> tuple[DataFrame, int]:
    """The file as a typed, row-numbered DataFrame, and its row count."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import LongType, StringType, StructField, StructType

    layout = sniff.csv_layout(path)
    warnings += layout.warnings
    java = charset(layout.encoding, path)
    names = layout.names
    schema = StructType([StructField(n, StringType()) for n in names])
    if layout.header_only:
        # A header and no rows (most of a small CDM's tables): every column text, no Spark job.
        empty = StructType([StructField(ROW, LongType()), *schema.fields])
        return engine.spark.createDataFrame([], empty), 0

    def read(multiline: bool) -> tuple[DataFrame, dict[str, str], int]:
        raw = read_csv_text(engine, [path], names, layout.delimiter, java, multiline)
        if raw.rdd.getNumPartitions() == 1:
            # One split: monotonically_increasing_id is already 0, 1, 2... in file order.
            numbered = raw.select(
                (F.monotonically_increasing_id() + F.lit(1)).alias(ROW),
                *[F.col(engine.quote(c)) for c in raw.columns],
            )
        else:
            numbered = number(engine, raw)
        types, rows = _all_types(engine, numbered)
        return numbered, types, rows

    try:
        numbered, types, rows = read(multiline=java.startswith("UTF-16"))
    except Exception as exc:
        if "malformed" not in str(exc).lower():
            raise
        # A quoted value holding a line break (NOTE.note_text): read the file whole.
        numbered, types, rows = read(multiline=True)
    if not types:
        return numbered, rows
    typed = numbered.select(
        *[
            F.expr(f"try_cast(trim({engine.quote(c)}) AS {types[c]})").alias(c)
            if c in types
            else F.col(engine.quote(c))
            for c in numbered.columns
        ]
    )
    # Kept typed, so the checks read converted values, not text (computed on first use).
    return engine.keep(typed), rows


def _all_types(engine: SparkEngine, df: DataFrame) -> tuple[dict[str, str], int]:
    """Each text column's type: the first candidate that every non-NULL value matches in full.

    One pass counts, per column and candidate, the values that do not convert (and the rows).
    """
    from pyspark.sql import functions as F

    text = [c for c, t in df.dtypes if c != ROW and t == "string"]
    aggs = [F.count(F.lit(1)).alias("rows")]
    for i, c in enumerate(text):
        value = F.col(engine.quote(c))
        trimmed = F.trim(value)
        aggs.append(F.count(value).alias(f"n{i}"))
        for j, (kind, pattern) in enumerate(CANDIDATES):
            converts = F.expr(f"try_cast(trim({engine.quote(c)}) AS {kind})").isNotNull()
            ok = trimmed.rlike(pattern) & converts
            aggs.append(F.count_if(value.isNotNull() & ~ok).alias(f"b{i}_{j}"))
    counts = df.agg(*aggs).collect()[0].asDict()
    types: dict[str, str] = {}
    for i, c in enumerate(text):
        if not counts[f"n{i}"]:
            continue  # no values: text, as in DuckDB
        for j, (kind, _) in enumerate(CANDIDATES):
            if counts[f"b{i}_{j}"] == 0:
                types[c] = kind
                break
    return types, int(counts["rows"])
