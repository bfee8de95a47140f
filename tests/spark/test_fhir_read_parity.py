"""FHIR reading gives the same `fhir_resources` rows and read issues on Spark as on DuckDB."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

from healthdq.engine.duckdb import DuckDBEngine
from healthdq.fhir.read import read_fhir

COLUMNS = "resource_type, id, resource, full_url, source_file, source_line, source_entry"


def _ndjson(resources: list[Any]) -> str:
    return "".join(json.dumps(r) + "\n" for r in resources)


def _export(folder: Path) -> Path:
    """A small export holding every kind of file and every kind of problem."""
    folder.mkdir()
    patients = [{"resourceType": "Patient", "id": f"p{i}", "gender": "male"} for i in range(50)]
    nested: dict[str, Any] = {"url": "http://example.org/leaf", "valueString": "x"}
    for _ in range(200):
        nested = {"url": "http://example.org/n", "extension": [nested]}
    deep = {"resourceType": "Patient", "id": "deep", "extension": [nested]}
    (folder / "Patient.ndjson").write_text(
        _ndjson(patients[:20])
        + '{"resourceType": "Pat\n\nnot json\n[1]\n'
        + _ndjson([deep, *patients[20:]]),
        encoding="utf-8",
    )
    obs = [
        {"resourceType": "Observation", "id": f"o{i}", "valueQuantity": {"value": 1.5}}
        for i in range(30)
    ]
    (folder / "Observation.ndjson.gz").write_bytes(gzip.compress(_ndjson(obs).encode()))
    whole = gzip.compress(_ndjson(patients * 20).encode())
    (folder / "Broken.ndjson.gz").write_bytes(whole[: len(whole) // 2])
    (folder / "bom.ndjson").write_bytes(b"\xef\xbb\xbf" + _ndjson([{"resourceType": "X"}]).encode())
    entries = [
        {"fullUrl": "urn:uuid:1", "resource": patients[0]},
        {"fullUrl": "urn:uuid:2"},
        {"fullUrl": "urn:uuid:3", "resource": {"id": "no-type"}},
        7,
        {"fullUrl": "Observation/o1", "resource": obs[1]},
    ]
    bundle = {"resourceType": "Bundle", "type": "searchset", "entry": entries}
    (folder / "bundle.json").write_text(json.dumps(bundle, indent=2), encoding="utf-8")
    return folder


def _read(engine: Any, location: str) -> tuple[list[Any], list[tuple[Any, ...]]]:
    issues = read_fhir(engine, location)
    rows = [
        (*r[:2], json.loads(r[2]), *r[3:])
        for r in engine.fetch(f"SELECT {COLUMNS} FROM fhir_resources")
    ]
    return issues, sorted(rows, key=lambda r: (r[4], r[5], -1 if r[6] is None else r[6]))


def test_spark_reads_fhir_as_duckdb_does(spark_engine: Any, tmp_path: Path) -> None:
    location = str(_export(tmp_path / "export"))
    duck = DuckDBEngine()
    try:
        expected_issues, expected_rows = _read(duck, location)
    finally:
        duck.close()
    issues, rows = _read(spark_engine, location)
    assert issues == expected_issues
    assert rows == expected_rows
    assert len(rows) > 100
    kinds = {i.message.split(":")[0].split(" (")[0] for i in issues}
    assert {
        "not valid JSON",
        "not a JSON object",
        "Bundle entry has no resource",
        "Bundle entry is not a JSON object",
        "gzip file ends early",
        "nested more than 100 levels deep",
        "unknown resourceType 'X'",
        "no resourceType",
        "starts with a UTF-8 byte order mark",
    } <= kinds
    assert spark_engine.describe("fhir_resources") == {
        "resource_type": "VARCHAR",
        "id": "VARCHAR",
        "resource": "VARCHAR",
        "full_url": "VARCHAR",
        "source_file": "VARCHAR",
        "source_line": "BIGINT",
        "source_entry": "INTEGER",
    }
