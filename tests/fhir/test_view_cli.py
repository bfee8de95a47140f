"""`healthdq fhir view VIEW DATA --out FILE`: the table written, bad views in one line, exit 2."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow.csv as pacsv
import pyarrow.parquet as pq

CLI = Callable[..., tuple[int, str, str]]
WRITE = Callable[[str, str], Path]

RESOURCES = [
    {"resourceType": "Patient", "id": "p1", "gender": "female", "name": [{"family": "A"}]},
    {"resourceType": "Patient", "id": "p2", "name": [{"family": "B"}, {"family": "C"}]},
    {"resourceType": "Observation", "id": "o1", "status": "final"},
]
VIEW: dict[str, Any] = {
    "resource": "Patient",
    "select": [
        {"column": [{"name": "id", "path": "id"}, {"name": "gender", "path": "gender"}]},
        {"forEach": "name", "column": [{"name": "family", "path": "family"}]},
    ],
}


def ndjson(write: WRITE) -> Path:
    return write("export/data.ndjson", "".join(json.dumps(r) + "\n" for r in RESOURCES))


def test_writes_parquet_and_csv(cli: CLI, write: WRITE, tmp_path: Path) -> None:
    data = ndjson(write)
    view = write("patient.json", json.dumps(VIEW))
    code, out, err = cli("fhir", "view", view, data, "--out", tmp_path / "t.parquet")
    assert code == 0, err
    assert "3 rows, 3 columns" in out
    rows = pq.read_table(tmp_path / "t.parquet").to_pylist()
    assert sorted(r["family"] for r in rows) == ["A", "B", "C"]
    code, _, err = cli("fhir", "view", view, data, "--out", tmp_path / "t.csv")
    assert code == 0, err
    assert pacsv.read_csv(tmp_path / "t.csv").column_names == ["id", "gender", "family"]


def test_builtin_view_by_name(cli: CLI, write: WRITE, tmp_path: Path) -> None:
    code, out, err = cli("fhir", "view", "Patient", ndjson(write), "--out", tmp_path / "p.parquet")
    assert code == 0, err
    assert pq.read_table(tmp_path / "p.parquet").num_rows == 2


def test_bad_view_is_one_line_with_file_and_json_path(
    cli: CLI, write: WRITE, tmp_path: Path
) -> None:
    bad = write("bad.json", json.dumps({"resource": "Patient", "select": [{"forEach": "@@"}]}))
    code, out, err = cli("fhir", "view", bad, ndjson(write), "--out", tmp_path / "x.parquet")
    assert code == 2
    assert f"{bad}: $.select[0].forEach: unexpected character" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "x.parquet").exists()


def test_runtime_view_error_and_bad_json(cli: CLI, write: WRITE, tmp_path: Path) -> None:
    data = ndjson(write)
    many = write(
        "many.json",
        json.dumps(
            {"resource": "Patient", "select": [{"column": [{"name": "f", "path": "name.family"}]}]}
        ),
    )
    code, _, err = cli("fhir", "view", many, data, "--out", tmp_path / "x.parquet")
    assert code == 2
    assert f"{many}: $.select[0].column[0]: column 'f' has more than one value" in err
    assert not list(tmp_path.glob("*x.parquet*"))
    broken = write("broken.json", '{"resource": "Patient",\n  "select": [}')
    code, _, err = cli("fhir", "view", broken, data, "--out", tmp_path / "x.parquet")
    assert code == 2 and f"{broken}:2:" in err


def test_an_output_that_is_not_parquet_or_csv(cli: CLI, write: WRITE, tmp_path: Path) -> None:
    data = ndjson(write)
    view = write("patient.json", json.dumps(VIEW))
    code, _, err = cli("fhir", "view", view, data, "--out", tmp_path / "t.xlsx")
    assert code == 2
    assert err.count("\n") == 1 and "write .parquet or .csv (or give --format" in err, err
    assert not (tmp_path / "t.xlsx").exists()


NHS_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"


def _opt_out_export(write: WRITE) -> Path:
    """Two patients, one opted out (NHS number 943 476 5919), in a Bundle and in NDJSON: their
    encounters refer to them by relative reference and by urn:uuid fullUrl."""
    patient = {
        "resourceType": "Patient",
        "id": "out",
        "identifier": [
            {"system": "https://example.org/mrn", "value": "M1"},
            {"system": NHS_SYSTEM, "value": "943 476 5919"},
        ],
    }
    kept = {
        "resourceType": "Patient",
        "id": "in",
        "identifier": [{"system": NHS_SYSTEM, "value": "4010232137"}],
    }
    lines = [
        patient,
        kept,
        {"resourceType": "Encounter", "id": "e1", "status": "finished",
         "subject": {"reference": "Patient/out"}},
        {"resourceType": "Encounter", "id": "e2", "status": "finished",
         "subject": {"reference": "Patient/in"}},
        {"resourceType": "Observation", "id": "o1", "status": "final",
         "performer": [{"reference": "https://fhir.example/Patient/out/_history/2"}]},
    ]  # fmt: skip
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"fullUrl": "urn:uuid:1f0c", "resource": {**patient, "id": "b-out"}},
            {"fullUrl": "urn:uuid:2a7d", "resource": {"resourceType": "Encounter", "id": "e3",
             "status": "finished", "subject": {"reference": "urn:uuid:1f0c"}}},
        ],
    }  # fmt: skip
    write("export/bundle.json", json.dumps(bundle))
    return write("export/data.ndjson", "".join(json.dumps(r) + "\n" for r in lines))


def test_opt_out_removes_patients_and_what_refers_to_them(
    cli: CLI, write: WRITE, tmp_path: Path
) -> None:
    data = _opt_out_export(write).parent
    opt = write("optout.txt", "9434765919\n")
    out = tmp_path / "enc.csv"
    code, stdout, err = cli("fhir", "view", "Encounter", data, "--out", out, "--opt-out", opt)
    assert code == 0, err
    assert [r["id"] for r in pacsv.read_csv(out).to_pylist()] == ["e2"]
    # Removed: 2 patients, 2 encounters, 1 observation and the Bundle: published as *.
    assert "resources removed: *" in err
    event = json.loads((tmp_path / "audit.jsonl").read_text().strip().splitlines()[-1])
    assert event["detail"]["opt_out"]["removed"] == 6
    code, _, err = cli("fhir", "view", "Patient", data, "--out", out, "--opt-out", opt)
    assert code == 0, err
    assert [r["id"] for r in pacsv.read_csv(out).to_pylist()] == ["in"]
    assert "943" not in out.read_text()


def test_opt_out_without_it_keeps_everything(cli: CLI, write: WRITE, tmp_path: Path) -> None:
    data = _opt_out_export(write).parent
    out = tmp_path / "enc.csv"
    code, _, err = cli("fhir", "view", "Encounter", data, "--out", out)
    assert code == 0, err
    assert sorted(r["id"] for r in pacsv.read_csv(out).to_pylist()) == ["e1", "e2", "e3"]
