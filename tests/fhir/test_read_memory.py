"""Reading FHIR bounds DuckDB's memory by default (a 5 GB export in ~1.2 GB, BENCHMARKS.md)."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

from healthdq.engine.duckdb import DuckDBEngine
from healthdq.fhir.read import read_fhir

LINE = json.dumps({"resourceType": "Patient", "id": "p1", "gender": "female"})


def _limit(con: duckdb.DuckDBPyConnection) -> str:
    return str(con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0])


def test_default_limit_is_one_gib(tmp_path: Path) -> None:
    path = tmp_path / "Patient.ndjson"
    path.write_text(LINE + "\n", encoding="utf-8")
    engine = DuckDBEngine()
    try:
        assert read_fhir(engine, str(path)) == []
        assert engine.memory_limit == "1024MiB"
        assert _limit(engine.con) == "1.0 GiB"
        assert engine.fetch("SELECT count(*) FROM fhir_resources") == [(1,)]
    finally:
        engine.close()


def test_an_asked_limit_or_a_bare_connection_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "Patient.ndjson"
    path.write_text(LINE + "\n", encoding="utf-8")
    engine = DuckDBEngine(memory_limit="3GB")
    try:
        read_fhir(engine, str(path))
        assert _limit(engine.con) == "2.7 GiB"  # DuckDB shows 3 GB (10^9 bytes) in GiB
    finally:
        engine.close()
    con = duckdb.connect()
    before = _limit(con)
    read_fhir(con, str(path))
    assert _limit(con) == before
