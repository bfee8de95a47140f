"""The fhir-uk-core pack on a seeded synthetic export: every seeded defect found, exactly.

`healthdq synth fhir` seeds defects at known rates (healthdq.synth.fhir_spec); the pack, run
through the ordinary pipeline (read FHIR -> views -> rules), must report each rule's failing
count as the spec predicts and pass every rule that no defect targets.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

import healthdq
from healthdq.errors import HealthdqError
from healthdq.fhir.ukcore import (
    identifiers,
    observation_ranges,
    ukcore_views,
    view_definition,
    view_names,
)
from healthdq.results import RunResult
from healthdq.rules.loader import load_pack
from healthdq.synth.fhir import OBSERVATIONS, OUT_OF_RANGE_OFFSET, generate_fhir
from healthdq.synth.fhir_spec import expected_fhir_by_rule, resource_counts
from healthdq.validators.valueset import load_valueset

Cli = Callable[..., tuple[int, str, str]]
N = 23_457
RUN_DATE = "2025-06-01"


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ukcore") / "export"
    generate_fhir(N, out, seed=11)
    return out


@pytest.fixture(scope="module")
def result(export: Path) -> RunResult:
    return healthdq.check(str(export), pack="fhir-uk-core", run_date=RUN_DATE, keep_run=False)


def test_every_seeded_defect_found_exactly(result: RunResult) -> None:
    expected = expected_fhir_by_rule(N)
    got = {r.rule_id: r for r in result.rules}
    assert not [r.rule_id for r in result.rules if r.status == "error"]
    in_range = [r for r in result.rules if r.rule_id.endswith(".in_range")]
    assert sum(r.violating_rows or 0 for r in in_range) == expected.pop("observation.*.in_range")
    for rule_id, count in expected.items():
        assert got[rule_id].violating_rows == count, rule_id
        assert got[rule_id].status == "failed", rule_id
    targeted = set(expected) | {r.rule_id for r in in_range if r.violating_rows}
    for rule in result.rules:
        if rule.rule_id not in targeted:
            assert rule.status in ("passed", "not_applicable"), rule.rule_id
            assert not rule.violating_rows, rule.rule_id


def test_tables_are_views_of_the_export(result: RunResult) -> None:
    counts = resource_counts(N)
    rows = {t.name: t.rows for t in result.tables}
    assert rows["patient"] == counts["Patient"]
    assert rows["encounter"] == counts["Encounter"]
    assert rows["observation"] == counts["Observation"]
    assert rows["organization"] == counts["Organization"]
    # One row per SNOMED CT coding: every Condition but those without a code.
    assert (
        rows["condition_snomed"]
        == counts["Condition"] - expected_fhir_by_rule(N)["condition.code.present"]
    )
    # No Observation carries a SNOMED CT code: an empty view is not applicable, not a failure.
    assert rows["observation_snomed"] == 0
    snomed = next(r for r in result.rules if r.rule_id == "observation.code.sctid_valid")
    assert snomed.status == "not_applicable"


def test_identifiers_are_masked(result: RunResult) -> None:
    rule = next(r for r in result.rules if r.rule_id == "patient.nhs_number.valid")
    assert rule.samples
    for sample in rule.samples:
        value = str(sample.values["nhs_number"])
        assert "*" in value and not value.isdigit()


def test_range_rules_follow_the_cited_ranges() -> None:
    pack = load_pack("fhir-uk-core")
    rules = {r.id: r for r in pack.tables["observation"].rules if r.id.endswith(".in_range")}
    ranges = observation_ranges()
    assert len(rules) == len(ranges)
    for rng in ranges:
        rule = rules[f"observation.{rng.name}.in_range"]
        dumped = rule.model_dump()
        assert (float(dumped["min"]), float(dumped["max"])) == (rng.low, rng.high)
        assert dumped["when"] == f"loinc_code = '{rng.loinc}' AND unit = '{rng.unit}'"
    # Every synthetic Observation code has a cited range; clean values fall inside it and a
    # seeded value (clean + offset) above it.
    by_code = {(r.loinc, r.unit): r for r in ranges}
    for code, _, unit, lo, hi, dec, _, _ in OBSERVATIONS:
        rng = by_code[(code, unit)]
        scale = 10 if dec else 1
        assert rng.low <= lo / scale and hi / scale <= rng.high
        assert lo / scale + OUT_OF_RANGE_OFFSET > rng.high


def test_uk_core_data_is_consistent() -> None:
    ids = identifiers()
    assert ids["nhs_number_system"] == "https://fhir.nhs.uk/Id/nhs-number"
    assert ids["ods_organisation_code_system"] == "https://fhir.nhs.uk/Id/ods-organization-code"
    pack = load_pack("fhir-uk-core")
    for name, table in pack.tables.items():
        assert table.fhir_view in view_names(), name
    # The built-in views' UK Core systems and URLs are those the UK Core definitions fix.
    patient = str(view_definition("Patient"))
    for key in ("nhs_number_system", "nhs_number_verification_status_extension"):
        assert ids[key] in patient
    assert ids["ethnic_category_extension"] in patient
    assert ids["ods_organisation_code_system"] in str(view_definition("Organization"))
    assert set(ukcore_views()) <= set(view_names())
    assert {"01", "02", "03", "04", "05", "06", "07", "08"} <= set(
        load_valueset("ukcore_nhs_number_verification_status")
    )
    assert "99" in load_valueset("ukcore_ethnic_category")
    with pytest.raises(HealthdqError, match="unknown FHIR view"):
        view_definition("no_such_view")


def test_cli_check_on_fhir(tmp_path: Path, cli: Cli) -> None:
    small = generate_fhir(2_000, tmp_path / "export", seed=3).path
    out = tmp_path / "results.json"
    code, _, err = cli(
        "check", small, "--pack", "fhir-uk-core", "--run-date", RUN_DATE, "--json", out, "--quiet"
    )
    assert code == 1, err  # seeded defects fail error rules
    assert out.exists()
    # Not FHIR: one line naming the file, exit 2.
    bad = tmp_path / "data.csv"
    bad.write_text("a,b\n1,2\n")
    code, _, err = cli("check", bad, "--pack", "fhir-uk-core")
    assert code == 2
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and "data.csv" in lines[0] and "Traceback" not in err


def test_encounter_periods_compare_as_instants(tmp_path: Path) -> None:
    """A stay across the autumn clock change ends 'earlier' on the clock but later in time."""
    lines = [
        '{"resourceType":"Encounter","id":"dst","status":"finished","class":{"code":"IMP"},'
        '"subject":{"reference":"Patient/p"},"period":{"start":"2022-10-30T01:52:06+01:00",'
        '"end":"2022-10-30T01:07:06+00:00"}}',
        '{"resourceType":"Encounter","id":"bad","status":"finished","class":{"code":"IMP"},'
        '"subject":{"reference":"Patient/p"},"period":{"start":"2022-10-30T09:00:00+00:00",'
        '"end":"2022-10-30T08:00:00+00:00"}}',
    ]
    path = tmp_path / "Encounter.ndjson"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    run = healthdq.check(str(path), pack="fhir-uk-core", run_date=RUN_DATE, keep_run=False)
    rule = next(r for r in run.rules if r.rule_id == "encounter.period.end_after_start")
    assert (rule.violating_rows, rule.denominator) == (1, 2)
    # No Patient in the data: the patient rules are not applicable, the row count warns.
    assert {t.name: t.rows for t in run.tables}["patient"] == 0


def test_check_opt_out_removes_a_patients_resources(export: Path, tmp_path: Path, cli: Cli) -> None:
    import json

    from healthdq.validators.nhs_number import nhs_number_is_valid

    system = identifiers()["nhs_number_system"]
    patients = [json.loads(x) for x in (export / "Patient.ndjson").read_text().splitlines()]
    chosen, number = next(
        (p, i["value"])
        for p in patients
        for i in p.get("identifier", [])
        if i.get("system") == system and nhs_number_is_valid(i["value"])
    )
    ref = f"Patient/{chosen['id']}"
    encounters = [json.loads(x) for x in (export / "Encounter.ndjson").read_text().splitlines()]
    theirs = sum(e.get("subject", {}).get("reference") == ref for e in encounters)
    assert theirs > 0
    opt = tmp_path / "optout.txt"
    opt.write_text(number + "\n")
    out = tmp_path / "r.json"
    code, _, err = cli(
        "check", export, "--pack", "fhir-uk-core", "--run-date", RUN_DATE,
        "--opt-out", opt, "--json", out, "--fail-on", "never", "--no-store",
    )  # fmt: skip
    assert code == 0, err
    rows = {t["name"]: t["rows"] for t in json.loads(out.read_text())["tables"]}
    counts = resource_counts(N)
    assert rows["patient"] == counts["Patient"] - 1
    assert rows["encounter"] == counts["Encounter"] - theirs
