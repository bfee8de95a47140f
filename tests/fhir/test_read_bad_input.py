"""Bad FHIR input (issue 11 item 8): each problem is a FhirReadIssue naming the file and line (or
entry index), and everything else in the file is still read. Fixtures are built here."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fhir_data import bundle, ndjson, observation, patient

from healthdq.engine.duckdb import DuckDBEngine
from healthdq.fhir.read import MAX_DEPTH, FhirReadIssue, read_fhir

Write = Callable[[str, str | bytes], Path]
NHS_NUMBER = "9434765919"  # a valid-looking identifier that must never reach a message


@pytest.fixture
def engine() -> Any:
    eng = DuckDBEngine(threads=1)
    yield eng
    eng.close()


def ids(engine: Any) -> list[tuple[str | None, int, int | None]]:
    return engine.con.execute(
        "SELECT id, source_line, source_entry FROM fhir_resources "
        "ORDER BY source_file, source_line, source_entry NULLS FIRST"
    ).fetchall()


def no_data_in(issues: list[FhirReadIssue]) -> None:
    for issue in issues:
        assert NHS_NUMBER not in str(issue)


def test_truncated_json_line(engine: Any, write: Write) -> None:
    cut = json.dumps(patient("p2", identifier=[{"value": NHS_NUMBER}]))[:40]
    path = write("p.ndjson", ndjson([patient("p1")]) + cut + "\n" + ndjson([patient("p3")]))
    issues = read_fhir(engine, str(path))
    assert [(i.file, i.line, i.entry, i.kept) for i in issues] == [(str(path), 2, None, False)]
    assert "not valid JSON" in issues[0].message
    assert ids(engine) == [("p1", 1, None), ("p3", 3, None)]
    no_data_in(issues)


def test_truncated_json_file_beside_good_ones(engine: Any, write: Write) -> None:
    write("dir/a.json", json.dumps(bundle("collection", [{"resource": patient("p1")}]))[:-30])
    write("dir/b.json", json.dumps(patient("p2"), indent=2))
    issues = read_fhir(engine, str(Path(write("dir/c.ndjson", ndjson([patient("p3")]))).parent))
    assert [(Path(i.file).name, i.line, i.kept) for i in issues] == [("a.json", 1, False)]
    assert [r[0] for r in ids(engine)] == ["p2", "p3"]


def test_non_json_line_in_ndjson(engine: Any, write: Write) -> None:
    text = ndjson([patient("p1")]) + f"ERROR 500 patient {NHS_NUMBER} not found\n"
    path = write("p.ndjson", text + ndjson([observation("o1", "Patient/p1")]))
    issues = read_fhir(engine, str(path))
    assert [(i.line, i.message) for i in issues] == [
        (2, "not valid JSON (truncated, or not a JSON line): skipped")
    ]
    assert ids(engine) == [("p1", 1, None), ("o1", 3, None)]
    no_data_in(issues)


def test_bundle_entry_without_resource(engine: Any, write: Write) -> None:
    entries = [
        {"fullUrl": "urn:uuid:a", "resource": patient("p1")},
        {"fullUrl": "urn:uuid:b", "request": {"method": "DELETE", "url": f"Patient/{NHS_NUMBER}"}},
        {"fullUrl": "urn:uuid:c", "resource": patient("p3")},
    ]
    path = write("b.json", json.dumps(bundle("transaction", entries)))
    issues = read_fhir(engine, str(path))
    assert [(i.line, i.entry, i.message) for i in issues] == [
        (1, 1, "Bundle entry has no resource: skipped")
    ]
    assert ids(engine) == [("b-transaction", 1, None), ("p1", 1, 0), ("p3", 1, 2)]
    no_data_in(issues)


def test_three_megabyte_single_line_resource_is_read(engine: Any, write: Write) -> None:
    binary = {"resourceType": "Binary", "id": "big", "data": "QUJD" * 750_000}
    path = write("b.ndjson", ndjson([patient("p1"), binary, patient("p3")]))
    assert len(path.read_bytes()) > 3_000_000
    assert read_fhir(engine, str(path)) == []
    assert ids(engine) == [("p1", 1, None), ("big", 2, None), ("p3", 3, None)]
    size = engine.con.execute(
        "SELECT strlen(resource->>'data') FROM fhir_resources WHERE id = 'big'"
    ).fetchone()
    assert size == (3_000_000,)


def test_unknown_resource_type_is_reported_and_kept(engine: Any, write: Write) -> None:
    odd = {"resourceType": "Patinet", "id": "x1"}
    path = write("p.ndjson", ndjson([patient("p1"), odd, {"id": "x2"}]))
    issues = read_fhir(engine, str(path))
    assert [(i.line, i.message, i.kept) for i in issues] == [
        (2, "unknown resourceType 'Patinet' (not a FHIR R4 resource): read", True),
        (3, "no resourceType: not a FHIR resource, skipped", False),
    ]
    assert ids(engine) == [("p1", 1, None), ("x1", 2, None)]


def test_two_hundred_deep_nesting(engine: Any, write: Write) -> None:
    nested: dict[str, Any] = {"url": "http://example.org/leaf", "valueString": "x"}
    for _ in range(200):
        nested = {"url": "http://example.org/n", "extension": [nested]}
    deep = patient("deep", extension=[nested])
    path = write("p.ndjson", ndjson([patient("p1"), deep, patient("p3")]))
    issues = read_fhir(engine, str(path))
    assert [(i.line, i.message, i.kept) for i in issues] == [
        (2, f"nested more than {MAX_DEPTH} levels deep: read", True)
    ]
    assert ids(engine) == [("p1", 1, None), ("deep", 2, None), ("p3", 3, None)]


def test_byte_order_mark(engine: Any, write: Write) -> None:
    write("in/a.ndjson", b"\xef\xbb\xbf" + ndjson([patient("p1"), patient("p2")]).encode())
    path = write("in/b.json", b"\xef\xbb\xbf" + json.dumps(patient("p3"), indent=1).encode())
    issues = read_fhir(engine, str(path.parent))
    assert [(Path(i.file).name, i.line, i.kept) for i in issues] == [
        ("a.ndjson", 1, True),
        ("b.json", 1, True),
    ]
    assert all("byte order mark" in i.message for i in issues)
    assert ids(engine) == [("p1", 1, None), ("p2", 2, None), ("p3", 1, None)]


def test_gzip_file_that_ends_early(engine: Any, write: Write) -> None:
    lines = [patient(f"p{i}", note="x" * 200) for i in range(1, 2001)]
    whole = gzip.compress(ndjson(lines).encode())
    path = write("p.ndjson.gz", whole[: len(whole) // 2])
    issues = read_fhir(engine, str(path))
    gz = [i for i in issues if "gzip" in i.message]
    assert len(gz) == 1 and gz[0].file == str(path) and not gz[0].kept
    read = ids(engine)
    assert 0 < len(read) < 2000
    # Every line before the break is read, in order; the break is on the next line.
    assert read == [(f"p{n}", n, None) for n in range(1, len(read) + 1)]
    assert gz[0].line == len(read) + 1
    assert all(i.line == len(read) + 1 for i in issues)
