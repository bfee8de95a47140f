"""pseudonymise on Spark: the in-SQL HMAC against RFC 4231 and Python's hmac (sha2 over binary
concatenation), and the same rows as DuckDB for every method, with the opt-out applied."""

from __future__ import annotations

import hashlib
import hmac
import sys
from pathlib import Path
from typing import Any

import duckdb

from healthdq import pipeline
from healthdq.governance.pseudonymise import IPAD, OPAD, hmac_pads, hmac_sql, load_config

# tests/governance is a package on the tests folder's path (pytest's prepend import mode).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from governance.pseudo_data import PATIENTS, write_dataset  # noqa: E402
from governance.test_pseudonymise_hmac import RFC4231  # noqa: E402


def test_spark_hmac_matches_rfc4231_and_python(spark_engine: Any) -> None:
    from pyspark.sql.types import BinaryType, StringType, StructField, StructType

    cases = [(k, d) for k, d, _ in RFC4231] + [
        (b"k" * 32, b"943 476 5919"),
        (b"\x00\xff" * 40, "é£ – ünïcode".encode()),
    ]
    rows = [
        (bytearray(hmac_pads(k)[0]), bytearray(hmac_pads(k)[1]), bytearray(d)) for k, d in cases
    ]
    schema = StructType(
        [
            StructField(IPAD, BinaryType()),
            StructField(OPAD, BinaryType()),
            StructField("m", BinaryType()),
        ]
    )
    spark_engine.spark.createDataFrame(rows, schema).createOrReplaceTempView("hv")
    sql = hmac_sql("__m").replace("encode(__m)", "m")
    got = [r[0] for r in spark_engine.fetch(spark_engine.translate(f"SELECT {sql} FROM hv"))]
    want = [hmac.new(k, d, hashlib.sha256).hexdigest() for k, d in cases]
    assert got == want
    assert got[: len(RFC4231)] == [e for _, _, e in RFC4231]
    # Text encoded as UTF-8 by Spark itself, as pseudonymise does.
    spark_engine.spark.createDataFrame(
        [(bytearray(hmac_pads(b"k" * 32)[0]), bytearray(hmac_pads(b"k" * 32)[1]), "é£")],
        StructType([*schema.fields[:2], StructField("t", StringType())]),
    ).createOrReplaceTempView("ht")
    text = spark_engine.fetch(spark_engine.translate(f"SELECT {hmac_sql('t')} FROM ht"))[0][0]
    assert text == hmac.new(b"k" * 32, "é£".encode(), hashlib.sha256).hexdigest()


def _rows(path: Path) -> list[tuple[Any, ...]]:
    glob = f"{path}/*.parquet" if path.is_dir() else str(path)
    return duckdb.sql(f"SELECT * FROM '{glob}' ORDER BY ALL").fetchall()


def test_spark_writes_what_duckdb_writes(spark_engine: Any, tmp_path: Path) -> None:
    files = write_dataset(tmp_path / "in")
    opt = tmp_path / "optout.txt"
    opt.write_text(f"{PATIENTS[0]}\n{PATIENTS[5]}\n", encoding="utf-8")
    config = load_config(files["config"])
    out: dict[str, dict[str, Path]] = {}
    for name, engine in (("duckdb", "duckdb"), ("spark", spark_engine)):
        result = pipeline.pseudonymise(
            {"apc": str(files["apc"]), "ae": str(files["ae"])},
            config,
            tmp_path / name,
            key_file=files["key"],
            opt_out=opt,
            engine=engine,
            settings=pipeline.Settings(audit_log=tmp_path / "audit.jsonl"),
        )
        assert [t.opted_out for t in result.tables] == ["*", "*"]
        out[name] = {t.name: Path(t.output) for t in result.tables}
    assert out["spark"]["apc"].is_dir()  # Spark writes a folder of part files
    for table in ("apc", "ae"):
        assert _rows(out["spark"][table]) == _rows(out["duckdb"][table])
    assert len(_rows(out["duckdb"]["apc"])) == len(PATIENTS) + 1 - 2
