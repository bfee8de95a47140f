"""The free-text redaction SQL gives the same text on Spark as on DuckDB."""

from __future__ import annotations

from typing import Any

import duckdb

from healthdq.governance.freetext import redact_sql
from healthdq.synth.notes import labelled_notes


def test_spark_redacts_as_duckdb(spark: Any) -> None:
    texts = [n.text for n in labelled_notes(60, seed=5)] + [None, "Tel +44 (0)20 7946 0958"]
    con = duckdb.connect()
    con.execute("CREATE TABLE t (i INTEGER, note VARCHAR)")
    con.executemany("INSERT INTO t VALUES (?, ?)", list(enumerate(texts)))
    expected = [
        r[0]
        for r in con.execute(f"SELECT {redact_sql('note', 'duckdb')} FROM t ORDER BY i").fetchall()
    ]
    frame = spark.createDataFrame(list(enumerate(texts)), "i INT, note STRING")
    frame.createOrReplaceTempView("notes_redact")
    got = [
        r[0]
        for r in spark.sql(
            f"SELECT {redact_sql('note', 'spark')} FROM notes_redact ORDER BY i"
        ).collect()
    ]
    assert got == expected
    assert any("[NHS_NUMBER]" in (g or "") for g in got)
