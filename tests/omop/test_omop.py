"""The OMOP CDM v5.4 pack: DQD catalogue, statuses, fused = one-query-per-check, bad input."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from omop_fixture import TABLES, MakeCdm, build
from typer.testing import CliRunner

from healthdq import pipeline
from healthdq.cli import app
from healthdq.errors import HealthdqError
from healthdq.omop import load_catalogue, run_omop
from healthdq.omop import runner as omop_runner
from healthdq.omop.runner import summary_by_category
from healthdq.report.dqd_json import to_dqd
from healthdq.report.json_report import load_json
from healthdq.report.registry import render
from healthdq.results import RuleResult, RunResult

RUN_DATE = date(2025, 1, 1)


def _by_id(run: RunResult) -> dict[str, RuleResult]:
    return {o.rule_id: o for o in run.rules}


def test_catalogue_is_dqd_v54() -> None:
    checks = load_catalogue()
    ids = [c.check_id for c in checks]
    assert len(ids) == len(set(ids)) == 2535
    names = {c.check_name for c in checks}
    assert len(names) == 27
    pk = next(c for c in checks if c.check_id == "field_isprimarykey_person_person_id")
    assert (pk.category, pk.subcategory, pk.context, pk.severity) == (
        "Conformance",
        "Relational",
        "Verification",
        "fatal",
    )
    within = next(c for c in checks if c.check_id.startswith("field_withinvisitdates_measurement"))
    assert within.threshold == 5.0


@pytest.fixture(scope="module")
def seeded_run(tmp_path_factory: pytest.TempPathFactory) -> RunResult:
    import duckdb

    path = tmp_path_factory.mktemp("omop") / "cdm.duckdb"
    con = duckdb.connect(str(path))
    build(con)
    con.close()
    return run_omop(str(path), run_date=RUN_DATE)


@pytest.fixture(scope="module")
def seeded(seeded_run: RunResult) -> dict[str, RuleResult]:
    return _by_id(seeded_run)


@pytest.mark.parametrize(
    ("check_id", "violated", "denominator", "status"),
    [
        ("concept_plausiblegender_condition_occurrence_condition_concept_id_26662", 1, 3, "failed"),
        ("field_isforeignkey_condition_occurrence_condition_concept_id", 1, 4, "failed"),
        ("field_withinvisitdates_measurement_measurement_date", 1, 2, "failed"),
        ("field_plausiblebeforedeath_measurement_measurement_date", 1, 1, "failed"),
        ("field_plausibleafterbirth_measurement_measurement_date", 1, 4, "failed"),
        ("field_isrequired_measurement_person_id", 1, 5, "failed"),
        ("field_isprimarykey_measurement_measurement_id", 0, 5, "passed"),
        (
            "concept_plausibleunitconceptids_measurement_measurement_concept_id_3006315",
            1,
            5,
            "failed",
        ),
        ("table_measurepersoncompleteness_observation_period", 1, 4, "failed"),
        ("table_measureobservationperiodoverlap_observation_period", 1, 3, "failed"),
        ("field_fkdomain_measurement_unit_concept_id", 0, 5, "passed"),
        ("table_cdmtable_person", 0, 1, "passed"),
        ("table_cdmtable_note", 1, 1, "failed"),
    ],
)
def test_seeded_defects(
    seeded: dict[str, RuleResult], check_id: str, violated: int, denominator: int, status: str
) -> None:
    o = seeded[check_id]
    assert (o.violating_rows, o.denominator, o.status) == (violated, denominator, status), o


def test_not_applicable_reasons_follow_dqd(seeded: dict[str, RuleResult]) -> None:
    note = seeded["field_isrequired_note_note_id"]
    assert note.not_applicable_reason == "Table NOTE does not exist."
    assert seeded["field_cdmfield_note_note_id"].status == "not_applicable"
    # A CDM field absent from the table (visit_detail_id is not in the fixture).
    o = seeded["field_isforeignkey_measurement_visit_detail_id"]
    assert o.not_applicable_reason == "Field MEASUREMENT.VISIT_DETAIL_ID does not exist."
    assert seeded["field_cdmfield_measurement_visit_detail_id"].status == "failed"
    # A concept never recorded: concept-level check not applicable.
    missing = seeded["concept_plausiblegender_condition_occurrence_condition_concept_id_26935"]
    assert (
        missing.not_applicable_reason
        == "CONDITION_CONCEPT_ID=26935 is missing from the CONDITION_OCCURRENCE table."
    )
    assert not any(o.status == "error" for o in seeded.values())


@pytest.mark.parametrize("per_distinct_min_rows", [0, 10**9])
def test_fused_equals_one_query_per_check(
    make_cdm: MakeCdm, monkeypatch: pytest.MonkeyPatch, per_distinct_min_rows: int
) -> None:
    # 0: concept checks evaluated once per distinct concept id; 10**9: joined per row.
    monkeypatch.setattr(omop_runner, "PER_DISTINCT_MIN_ROWS", per_distinct_min_rows)
    path = make_cdm("parquet")
    fused = run_omop(str(path), run_date=RUN_DATE, tables=["measurement", "condition_occurrence"])
    naive = run_omop(
        str(path), run_date=RUN_DATE, tables=["measurement", "condition_occurrence"], fused=False
    )
    a = {o.rule_id: (o.status, o.violating_rows, o.denominator) for o in fused.rules}
    b = {o.rule_id: (o.status, o.violating_rows, o.denominator) for o in naive.rules}
    assert a == b
    assert sum(t.scans for t in fused.tables) < sum(t.scans for t in naive.tables)


def test_vocabulary_absent_is_not_applicable(make_cdm: MakeCdm) -> None:
    run = run_omop(str(make_cdm("csv", skip=("concept",))), run_date=RUN_DATE)
    got = _by_id(run)
    o = got["field_fkdomain_measurement_unit_concept_id"]
    assert o.status == "not_applicable"
    assert o.not_applicable_reason == "Table CONCEPT does not exist."
    assert (
        got["field_isforeignkey_measurement_person_id"].status == "passed"
    )  # no vocabulary needed
    assert not any(o.status == "error" for o in run.rules)


def test_mixed_case_names(make_cdm: MakeCdm) -> None:
    run = run_omop(str(make_cdm("csv", upper=True)), run_date=RUN_DATE)
    got = _by_id(run)
    assert got["table_cdmtable_measurement"].status == "passed"
    assert got["field_withinvisitdates_measurement_measurement_date"].violating_rows == 1
    assert not any(o.status == "error" for o in run.rules)


def test_wrong_column_types_are_results(make_cdm: MakeCdm) -> None:
    extra = {
        "measurement": """SELECT CAST(measurement_id AS VARCHAR) || CASE WHEN measurement_id = 1000
            THEN 'x' ELSE '' END AS measurement_id, CASE WHEN person_id = 3 THEN 'abc'
            ELSE CAST(person_id AS VARCHAR) END AS person_id, measurement_concept_id,
            CAST(measurement_date AS VARCHAR) AS measurement_date, measurement_type_concept_id,
            unit_concept_id, value_as_number, visit_occurrence_id FROM (
            """
        + TABLES["measurement"]
        + ")"
    }
    run = run_omop(str(make_cdm("duckdb", extra=extra)), run_date=RUN_DATE)
    got = _by_id(run)
    assert got["field_cdmdatatype_measurement_measurement_id"].violating_rows == 1
    assert got["field_cdmdatatype_measurement_person_id"].violating_rows == 1
    assert got["field_isforeignkey_measurement_person_id"].violating_rows == 1
    assert got["field_withinvisitdates_measurement_measurement_date"].violating_rows == 1
    assert not any(o.status == "error" for o in run.rules)


def test_empty_cdm(tmp_path: Path) -> None:
    folder = tmp_path / "empty"
    folder.mkdir()
    (folder / "person.csv").write_text("person_id,gender_concept_id,year_of_birth\n")
    (folder / "death.csv").write_text("")
    run = run_omop(str(folder), run_date=RUN_DATE)
    got = _by_id(run)
    assert got["table_cdmtable_person"].status == "passed"
    empty = got["field_isrequired_person_person_id"]
    assert empty.not_applicable_reason == "Table PERSON is empty."
    assert got["table_cdmtable_measurement"].status == "failed"
    assert not any(o.status == "error" for o in run.rules)
    total = summary_by_category(run)["Total"]
    assert total["passed"] + total["failed"] > 0


def test_dqd_json_and_cli(make_cdm: MakeCdm, tmp_path: Path) -> None:
    path = make_cdm("csv")
    out = tmp_path / "dqd.json"
    res = CliRunner().invoke(
        app,
        [
            "omop",
            str(path),
            "--dqd-json",
            str(out),
            "--html",
            str(tmp_path / "r.html"),
            "--summary-json",
            str(tmp_path / "s.json"),
            "--run-date",
            "2025-01-01",
        ],
    )
    assert res.exit_code == 0, res.output
    data = json.loads(out.read_text())
    assert {
        "startTimestamp",
        "endTimestamp",
        "executionTime",
        "CheckResults",
        "Metadata",
        "Overview",
    } <= set(data)
    item = data["CheckResults"][0]
    for key in (
        "numViolatedRows",
        "pctViolatedRows",
        "numDenominatorRows",
        "checkId",
        "notApplicableReason",
        "thresholdValue",
        "isError",
        "notApplicable",
        "failed",
        "passed",
        "cdmTableName",
        "category",
        "context",
        "sqlFile",
    ):
        assert key in item
    assert data["Overview"]["countTotal"] == len(data["CheckResults"])
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["by_category"]["Total"]["executed"] == 2535
    assert (tmp_path / "r.html").exists()


def test_to_dqd_pct_is_fraction(seeded_run: RunResult) -> None:
    o = _by_id(seeded_run)["field_isrequired_measurement_person_id"]
    assert o.pct_violating == pytest.approx(20.0)
    item = next(i for i in to_dqd(seeded_run)["CheckResults"] if i["checkId"] == o.rule_id)
    assert item["pctViolatedRows"] == pytest.approx(0.2)
    assert (item["numViolatedRows"], item["numDenominatorRows"], item["failed"]) == (1, 5, 1)
    assert (item["cdmTableName"], item["cdmFieldName"], item["checkName"]) == (
        "MEASUREMENT",
        "PERSON_ID",
        "isRequired",
    )


def test_rule_results_carry_time_queries_and_reasons(seeded: dict[str, RuleResult]) -> None:
    na = seeded["field_isrequired_note_note_id"]
    assert na.not_applicable_reason == na.message == "Table NOTE does not exist."
    assert na.error is None
    pk = seeded["field_isprimarykey_measurement_measurement_id"]
    assert pk.queries is not None and pk.queries >= 1
    assert pk.elapsed_ms is not None and pk.elapsed_ms > 0
    assert pk.query_text and "measurement_id" in pk.query_text
    assert pk.reference is not None and pk.reference.check_level == "FIELD"
    failed = seeded["field_isrequired_measurement_person_id"]
    assert failed.samples  # failing rows kept; passing and n/a checks keep none
    assert not na.samples and not pk.samples


@pytest.mark.parametrize("case", ["camel", "snake"])
def test_dqd_json_rerenders_byte_identical_from_stored_run(
    make_cdm: MakeCdm, tmp_path: Path, case: str
) -> None:
    extra = {
        "cdm_source": "SELECT 'Seeded CDM' AS cdm_source_name, DATE '2024-05-01' AS "
        "source_release_date, 'v5.4' AS cdm_version"
    }
    path = make_cdm("csv", extra=extra)
    direct, stored = tmp_path / "dqd.json", tmp_path / "run.json"
    res = CliRunner().invoke(
        app,
        ["omop", str(path), "--dqd-json", str(direct), "--dqd-case", case, "--json", str(stored)]
        + ["--run-date", "2025-01-01", "--quiet", "--audit-log", str(tmp_path / "audit.jsonl")],
    )
    assert res.exit_code == 0, res.output
    again = tmp_path / "again.json"
    render("dqd-json", load_json(stored), again, case=case)
    assert again.read_bytes() == direct.read_bytes()
    data = json.loads(direct.read_text())
    key = "CDM_SOURCE_NAME"
    assert data["Metadata"][0][key] == "Seeded CDM"
    assert data["Metadata"][0]["SOURCE_RELEASE_DATE"] == "2024-05-01"
    items = data["CheckResults"]
    status = "STATUS" if case == "snake" else "status"
    assert status not in items[0]
    failed = "FAILED" if case == "snake" else "failed"
    assert data["Overview"]["countThresholdFailed"] == sum(i[failed] for i in items) > 0


def test_bad_dqd_case_is_refused_before_running(make_cdm: MakeCdm, tmp_path: Path) -> None:
    audit = tmp_path / "audit.jsonl"
    settings = pipeline.Settings(audit_log=audit, outputs={"dqd-json": tmp_path / "d.json"})
    with pytest.raises(HealthdqError, match="--dqd-case must be camel or snake, got 'kebab'"):
        pipeline.omop(str(make_cdm("csv")), dqd_case="kebab", settings=settings)
    assert not audit.exists() and not (tmp_path / "d.json").exists()


def test_dqd_snake_case(make_cdm: MakeCdm) -> None:
    run = run_omop(str(make_cdm("csv")), run_date=RUN_DATE, tables=["person"])
    item = to_dqd(run, case="snake")["CheckResults"][0]
    assert {"NUM_VIOLATED_ROWS", "CHECK_NAME", "CDM_TABLE_NAME", "NOT_APPLICABLE_REASON"} <= set(
        item
    )


def test_bad_locations_are_one_line_errors(tmp_path: Path) -> None:
    runner = CliRunner()
    for location in ("postgres:dbname=none", str(tmp_path / "missing"), str(tmp_path)):
        res = runner.invoke(app, ["omop", location, "--quiet"])
        assert res.exit_code != 0
        assert isinstance(res.exception, Exception)
        assert "Traceback" not in res.output
