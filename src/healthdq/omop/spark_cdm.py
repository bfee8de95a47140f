"""Open a CDM folder on the Spark engine: Spark reads the CSV and Parquet files itself.

Each table comes out as DuckDB's folder reader (cdm.py) makes it, so every check gives the same
numbers on both engines: a temp view named after the file in lower case, lower-case columns, a
consecutive 1-based `__row`, and CSV columns typed from *every* value, the way DuckDB's
read_csv(sample_size=-1) types them: an id column is BIGINT only when all of its values are
integers, else it stays text (and cdmDatatype reports it).
"""

from __future__ import annotations

import codecs
import gzip
from pathlib import Path
from typing import TYPE_CHECKING

from healthdq.engine.spark import JAVA_CHARSETS, SparkEngine
from healthdq.governance.messages import engine_message
from healthdq.omop.cdm import Cdm, CdmTable, folder_tables
from healthdq.sources import csv as local_csv
from healthdq.sources.base import ROW

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

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


def open_folder(engine: SparkEngine, folder: Path, cdm: Cdm) -> None:
    """Register every CSV/Parquet file of `folder` as a CDM table view (see cdm._from_folder)."""
    for name, path in folder_tables(folder, cdm):
        try:
            if path.name.lower().endswith((".parquet", ".pq")):
                df = _parquet(engine, path)
                rows = int(df.count())
            else:
                df, rows = _csv(engine, path)
            _lower(engine, df).createOrReplaceTempView(name)
            columns = {c: t for c, t in engine.describe(name).items() if c != ROW}
        except Exception as exc:  # Spark's own errors: unreadable file, ragged rows
            reason = engine_message(exc)
            cdm.warnings.append(f"{path.name}: cannot be read ({reason})")
            continue
        cdm.tables[name] = CdmTable(name=name, source=str(path), columns=columns, rows=rows)


def _lower(engine: SparkEngine, df: DataFrame) -> DataFrame:
    """Lower-case column names; of two that differ only in case, the first wins (as in DuckDB)."""
    from pyspark.sql import functions as F

    select = [F.col(engine.quote(ROW))]
    seen = {ROW}
    for c in df.columns:
        if c.lower() in seen:
            continue
        seen.add(c.lower())
        select.append(F.col(engine.quote(c)).alias(c.lower()))
    return df.select(*select)


def _parquet(engine: SparkEngine, path: Path) -> DataFrame:
    from pyspark.sql import functions as F

    df = engine.spark.read.parquet(str(path.resolve()))
    # The file's own row index, as DuckDB's file_row_number.
    return df.select(
        (F.col("_metadata.row_index") + F.lit(1)).alias(ROW),
        *[F.col(engine.quote(c)) for c in df.columns],
    )


def _head(path: Path) -> bytes:
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rb") as fh:
        return bytes(fh.read(local_csv.HEAD_BYTES))


def _csv(engine: SparkEngine, path: Path) -> tuple[DataFrame, int]:
    """The file as a typed, row-numbered DataFrame, and its row count."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import LongType, StringType, StructField, StructType

    head = _head(path)
    encoding, _warning = local_csv._detect_encoding(head, str(path))
    names, delimiter = local_csv._header(head, encoding, None, str(path))
    charset = JAVA_CHARSETS.get(codecs.lookup(encoding).name, encoding)
    schema = StructType([StructField(n, StringType()) for n in names])
    if len(head) < local_csv.HEAD_BYTES and not _after_header(head, encoding).strip():
        # A header and no rows (most of a small CDM's tables): every column text, no Spark job.
        empty = StructType([StructField(ROW, LongType()), *schema.fields])
        return engine.spark.createDataFrame([], empty), 0

    def read(multiline: bool) -> tuple[DataFrame, dict[str, str], int]:
        raw = engine.read_csv_text([str(path.resolve())], names, delimiter, charset, multiline)
        if raw.rdd.getNumPartitions() == 1:
            # One split: monotonically_increasing_id is already 0, 1, 2... in file order.
            numbered = raw.select(
                (F.monotonically_increasing_id() + F.lit(1)).alias(ROW),
                *[F.col(engine.quote(c)) for c in raw.columns],
            )
        else:
            numbered = engine.number_rows(raw)
        types, rows = _types(engine, numbered)
        return numbered, types, rows

    try:
        numbered, types, rows = read(multiline=charset.startswith("UTF-16"))
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


def _after_header(head: bytes, encoding: str) -> str:
    text = head.decode("utf-16" if encoding == "utf-16" else encoding, errors="replace")
    return text.lstrip("\ufeff").split("\n", 1)[1] if "\n" in text else ""


def _types(engine: SparkEngine, df: DataFrame) -> tuple[dict[str, str], int]:
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
