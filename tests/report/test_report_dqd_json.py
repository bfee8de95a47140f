"""The dqd-json renderer on a contract run (no DQD reference): healthdq's names, DQD's layout."""

import json
from pathlib import Path

from healthdq.report.json_report import load_json, write_json
from healthdq.report.registry import render, renderer_names
from healthdq.results import RunResult


def test_contract_run_in_dqd_layout(result: RunResult, tmp_path: Path) -> None:
    assert "dqd-json" in renderer_names()
    out = tmp_path / "dqd.json"
    render("dqd-json", result, out)
    data = json.loads(out.read_text())
    items = {i["checkId"]: i for i in data["CheckResults"]}
    valid = items["apc.nhs_number.valid"]
    assert (valid["checkName"], valid["cdmTableName"], valid["cdmFieldName"]) == (
        "validator",
        "APC",
        "NHS_NUMBER",
    )
    assert (valid["category"], valid["context"], valid["failed"]) == (
        "Conformance",
        "Verification",
        1,
    )
    assert valid["pctViolatedRows"] == 120 / 10_000
    errored = items["apc.ethnos.sql"]
    assert errored["isError"] == 1 and errored["numViolatedRows"] is None
    assert errored["error"]  # the rule's message, as contract rules carry it
    na = items["op.attend.allowed"]
    assert na["notApplicable"] == 1 and na["notApplicableReason"]
    overview = data["Overview"]
    assert overview["countTotal"] == len(result.rules)
    assert overview["countErrorFailed"] == 1 and overview["countThresholdFailed"] == 2
    assert data["Metadata"] == [{"DQD_VERSION": f"healthdq {result.healthdq_version}"}]


def test_stored_contract_run_renders_the_same(result: RunResult, tmp_path: Path) -> None:
    write_json(result, tmp_path / "run.json")
    render("dqd-json", result, tmp_path / "a.json", case="snake")
    render("dqd-json", load_json(tmp_path / "run.json"), tmp_path / "b.json", case="snake")
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()
    assert "NUM_VIOLATED_ROWS" in json.loads((tmp_path / "a.json").read_text())["CheckResults"][0]
