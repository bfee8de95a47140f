"""`healthdq fhir validate`: read, validate, OperationOutcome NDJSON, rule results in the run."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from healthdq import pipeline

GOOD = {"resourceType": "Patient", "id": "p1", "gender": "female"}
BAD = {"resourceType": "Patient", "id": "p2", "gender": "F", "birthDate": "2001-02-29"}
OBS = {
    "resourceType": "Observation",
    "id": "o1",
    "status": "final",
    "code": {"text": "heart rate"},
    "subject": {"reference": "Patient/p1"},
}


def data(write: Callable[[str, str], Path]) -> Path:
    lines = [json.dumps(GOOD), json.dumps(BAD), "{not json", json.dumps(OBS)]
    return write("export/Patient.ndjson", "\n".join(lines) + "\n")


def test_cli_writes_outcome_and_exits_1(
    cli: Callable[..., tuple[int, str, str]], write: Callable[[str, str], Path], tmp_path: Path
) -> None:
    path = data(write)
    outcome = tmp_path / "out.ndjson"
    code, out, err = cli(
        "fhir", "validate", path, "--outcome", outcome, "--json", tmp_path / "r.json"
    )
    assert code == 1
    assert "3 resources validated" in out
    assert f"{path}:2: error code-invalid Patient.gender" in out
    assert f"{path}:3: not valid JSON" in err
    lines = [json.loads(x) for x in outcome.read_text().splitlines()]
    assert [o["resourceType"] for o in lines] == ["OperationOutcome"] * 2
    first = [(i["severity"], i["code"], i.get("expression")) for i in lines[0]["issue"]]
    assert first == [("error", "structure", None)]  # the unreadable line 3 comes first
    issues = [
        (i["severity"], i["code"], i["expression"], i["diagnostics"]) for i in lines[1]["issue"]
    ]
    assert issues == [
        ("error", "value", ["Patient.birthDate"], f"{path}:2"),
        ("error", "code-invalid", ["Patient.gender"], f"{path}:2"),
    ]
    assert "p2" not in outcome.read_text()  # ids are not written
    result = json.loads((tmp_path / "r.json").read_text())
    rules = {r["rule_id"]: r for r in result["rules"]}
    assert rules["fhir.binding.Patient"]["status"] == "failed"
    assert rules["fhir.binding.Patient"]["violating_rows"] == 1
    assert rules["fhir.binding.Patient"]["denominator"] == 2
    assert rules["fhir.binding.Observation"]["status"] == "passed"
    assert rules["fhir.json"]["violating_rows"] == 1


def test_pipeline_job_scores_and_stores(write: Callable[[str, str], Path]) -> None:
    path = data(write)
    found = pipeline.fhir_validate(str(path), settings=pipeline.Settings())
    assert found.result.contract == "fhir-r4-core"
    assert found.result.scores.dqmi is not None
    failed = sorted(r.rule_id for r in found.result.failed())
    assert failed == ["fhir.binding.Patient", "fhir.format.Patient", "fhir.json"]
    sample = next(r for r in found.result.rules if r.rule_id == "fhir.format.Patient").samples[0]
    assert sample.row == 2 and sample.values["expression"] == "Patient.birthDate"
    # kept in the results store like any run (conftest points HEALTHDQ_STORE at tmp_path)
    from healthdq.store import open_store

    store = open_store(None)
    (summary,) = store.list_runs(verb="fhir-validate")
    stored = store.load_run(summary.run_id)
    assert stored.run_id == found.result.run_id
    assert {r.rule_id for r in stored.failed()} == set(failed)


def test_cli_clean_data_exits_0(
    cli: Callable[..., tuple[int, str, str]], write: Callable[[str, str], Path]
) -> None:
    path = write("ok.ndjson", json.dumps(GOOD) + "\n" + json.dumps(OBS) + "\n")
    code, out, _ = cli("fhir", "validate", path, "--no-store")
    assert code == 0, out
    assert "2 resources validated" in out and "no issues" in out
