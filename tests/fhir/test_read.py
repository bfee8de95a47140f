"""Reading FHIR R4 into the `fhir_resources` table (DuckDB): files, Bundles, NDJSON, folders."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fhir_data import bundle, ndjson, observation, patient

from healthdq.engine.duckdb import DuckDBEngine
from healthdq.errors import SourceError
from healthdq.fhir.read import COLUMNS, read_fhir

Write = Callable[[str, str | bytes], Path]


@pytest.fixture
def engine() -> Any:
    eng = DuckDBEngine(threads=1)
    yield eng
    eng.close()


def rows(engine: Any, table: str = "fhir_resources") -> list[tuple[Any, ...]]:
    return engine.con.execute(
        "SELECT resource_type, id, full_url, source_file, source_line, source_entry "
        f"FROM {table} ORDER BY source_file, source_line, source_entry NULLS FIRST"
    ).fetchall()


def test_table_has_the_contract_columns(engine: Any, write: Write) -> None:
    path = write("p.json", json.dumps(patient("p1")))
    assert read_fhir(engine, str(path)) == []
    assert [(c, t) for c, t in engine.describe("fhir_resources").items()] == COLUMNS
    assert rows(engine) == [("Patient", "p1", None, str(path), 1, None)]
    resource = engine.con.execute("SELECT resource->>'gender' FROM fhir_resources").fetchone()
    assert resource == ("female",)


def test_ndjson_one_file_per_type_and_mixed(engine: Any, write: Write) -> None:
    write("exp/Patient.ndjson", ndjson([patient("p1"), patient("p2")]))
    write("exp/Observation.ndjson", ndjson([observation("o1", "Patient/p1")]))
    write("exp/mixed.ndjson", ndjson([patient("p3"), observation("o2", "Patient/p3")]))
    folder = str(Path(write("exp/notes.txt", "not FHIR")).parent)
    assert read_fhir(engine, folder) == []
    got = [(r[0], r[1], Path(r[3]).name, r[4]) for r in rows(engine)]
    assert got == [
        ("Observation", "o1", "Observation.ndjson", 1),
        ("Patient", "p1", "Patient.ndjson", 1),
        ("Patient", "p2", "Patient.ndjson", 2),
        ("Patient", "p3", "mixed.ndjson", 1),
        ("Observation", "o2", "mixed.ndjson", 2),
    ]


def test_gzip_ndjson_and_glob(engine: Any, write: Write) -> None:
    write("a.ndjson.gz", gzip.compress(ndjson([patient("p1"), patient("p2")]).encode()))
    path = write("b.ndjson", "\n" + ndjson([patient("p3")]) + "\n")
    assert read_fhir(engine, str(path.parent / "*.ndjson*"), table="t") == []
    assert [(r[1], r[4]) for r in rows(engine, "t")] == [("p1", 1), ("p2", 2), ("p3", 2)]


@pytest.mark.parametrize("kind", ["collection", "transaction", "batch", "searchset", "document"])
def test_bundles_are_unwrapped(engine: Any, write: Write, kind: str) -> None:
    entries = [
        {"fullUrl": "urn:uuid:0d6f", "resource": patient("p1")},
        {
            "fullUrl": "http://x.org/fhir/Observation/o1",
            "resource": observation("o1", "urn:uuid:0d6f"),
        },
    ]
    if kind in ("transaction", "batch"):
        for e in entries:
            e["request"] = {"method": "POST", "url": e["resource"]["resourceType"]}
    path = write("b.json", json.dumps(bundle(kind, entries), indent=2))
    assert read_fhir(engine, str(path)) == []
    assert rows(engine) == [
        ("Bundle", f"b-{kind}", None, str(path), 1, None),
        ("Patient", "p1", "urn:uuid:0d6f", str(path), 1, 0),
        ("Observation", "o1", "http://x.org/fhir/Observation/o1", str(path), 1, 1),
    ]
    # urn:uuid: references resolve through full_url.
    resolved = engine.con.execute(
        "SELECT t.id FROM fhir_resources o JOIN fhir_resources t "
        "ON t.full_url = o.resource->'subject'->>'reference' WHERE o.resource_type = 'Observation'"
    ).fetchall()
    assert resolved == [("p1",)]


def test_missing_location_is_one_error(engine: Any, tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="file not found"):
        read_fhir(engine, str(tmp_path / "nope.ndjson"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(SourceError, match="no .json, .ndjson"):
        read_fhir(engine, str(tmp_path / "empty"))


def test_cli_counts_per_type(cli: Any, write: Write) -> None:
    path = write("p.ndjson", ndjson([patient("p1"), patient("p2"), observation("o1", "x")]))
    code, out, err = cli("fhir", "read", str(path))
    assert code == 0, err
    assert "3 resources read" in out
    assert "Observation" in out and "Patient" in out


def test_cli_exit_2_on_unreadable_line(cli: Any, write: Write) -> None:
    path = write("p.ndjson", ndjson([patient("p1")]) + '{"resourceType": "Pat\n')
    code, _, err = cli("fhir", "read", str(path))
    assert code == 2
    assert f"{path}:2: not valid JSON" in err
    assert "Traceback" not in err


def test_json_named_file_holding_ndjson(engine: Any, write: Write) -> None:
    path = write("export.json", ndjson([patient("p1"), patient("p2")]))
    assert read_fhir(engine, str(path)) == []
    assert [(r[1], r[4]) for r in rows(engine)] == [("p1", 1), ("p2", 2)]


def test_relative_references_resolve(engine: Any, write: Write) -> None:
    write("x/Patient.ndjson", ndjson([patient("p1"), patient("p2")]))
    path = write("x/Observation.ndjson", ndjson([observation("o1", "Patient/p2")]))
    assert read_fhir(engine, str(path.parent)) == []
    resolved = engine.con.execute(
        "SELECT p.id FROM fhir_resources o JOIN fhir_resources p "
        "ON p.resource_type || '/' || p.id = o.resource->'subject'->>'reference' "
        "WHERE o.resource_type = 'Observation'"
    ).fetchall()
    assert resolved == [("p2",)]
