"""End to end: every seeded defect in the synthetic extracts is found with its exact count.

The synthetic generator injects defects at exact, documented rates (synth/spec.py) and keeps every
other value valid, so each pack rule must report exactly the injected count — and rules with no
injected defect must report zero.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from healthdq.engine.duckdb import DuckDBEngine
from healthdq.engine.runner import RunOptions, run_contract
from healthdq.rules.loader import load_pack
from healthdq.synth import generate

ROWS = 12_345  # not a multiple of the defect modulus: the partial block is counted too
RUN_DATE = date(2026, 1, 1)

# defect class -> the pack rule (without the 'kind.' prefix) that must catch it
COMMON = {
    "nhs_number_missing": "nhs_number.not_null",
    "nhs_number_bad_check": "nhs_number.valid",
    "nhs_number_bad_format": "nhs_number.valid",
    "nhs_number_separators": "nhs_number.format",
    "dob_missing": "date_of_birth.not_null",
    "dob_default": "date_of_birth.default",
    "sex_invalid": "sex.valid",
    "ethnic_invalid": "ethnic_category.valid",
    "ethnic_legacy": "ethnic_category.era",
    "ethnic_not_known": "ethnic_category.default",
    "postcode_missing": "postcode.not_null",
    "postcode_invalid": "postcode.valid",
    "postcode_default": "postcode.default",
    "gp_practice_default": "gp_practice_code.default",
    "gp_practice_invalid": "gp_practice_code.valid",
    "provider_invalid": "provider_code.valid",
}
CATCHES = {
    "apc": {
        **COMMON,
        "dob_future": "date_of_birth.before_admission",
        "duplicate_key": "episode_id.unique",
        "admission_method_invalid": "admission_method.valid",
        "discharge_before_admission": "discharge_date.after_admission",
        "diag_01_missing": "diag_01.not_null",
        "diag_01_invalid": "diag_01.valid",
        "opertn_invalid": "opertn_01.valid",
        "treatment_function_invalid": "treatment_function_code.valid",
    },
    "ae": {
        **COMMON,
        "dob_future": "date_of_birth.before_arrival",
        "duplicate_key": "attendance_id.unique",
        "departure_before_arrival": "departure_datetime.after_arrival",
        "sctid_invalid": "chief_complaint.valid",
        "attendance_disposal_invalid": "attendance_disposal.valid",
    },
    "op": {
        **COMMON,
        "dob_future": "date_of_birth.before_appointment",
        "duplicate_key": "appointment_id.unique",
        "appointment_before_referral": "referral_date.before_appointment",
        "opertn_invalid": "opertn_01.valid",
        "treatment_function_invalid": "treatment_function_code.valid",
    },
}
# A future date of birth may also fall after the run date: that rule sees a subset of dob_future.
ALSO_SEES = {"date_of_birth.valid": "dob_future"}


@pytest.mark.parametrize("per_distinct_min_rows", [0, 10**9], ids=["per-distinct", "per-row"])
@pytest.mark.parametrize("kind", ["apc", "ae", "op"])
def test_pack_finds_every_injected_defect_exactly(
    kind: str, per_distinct_min_rows: int, tmp_path: Path
) -> None:
    synth = generate(kind, ROWS, tmp_path / f"{kind}.parquet", seed=7)
    assert set(CATCHES[kind]) == set(synth.expected), "every defect class is mapped to a rule"
    expected: dict[str, int] = {}
    for defect, rule in CATCHES[kind].items():
        expected[f"{kind}.{rule}"] = expected.get(f"{kind}.{rule}", 0) + synth.expected[defect]
    engine = DuckDBEngine()
    try:
        result = run_contract(
            engine,
            load_pack(f"nhs-{kind}"),
            {kind: str(synth.path)},
            options=RunOptions(run_date=RUN_DATE, per_distinct_min_rows=per_distinct_min_rows),
        )
    finally:
        engine.close()
    assert [r.rule_id for r in result.rules if r.status == "error"] == []
    got = {r.rule_id: r.violating_rows for r in result.rules if r.violating_rows is not None}
    for rule_id, count in expected.items():
        assert count > 0, f"{rule_id}: too few rows to inject this defect"
        assert got[rule_id] == count, rule_id
    for rule_id, count in got.items():
        suffix = rule_id.split(".", 1)[1]
        if rule_id in expected:
            continue
        if suffix in ALSO_SEES:
            assert count <= synth.expected[ALSO_SEES[suffix]], rule_id
        else:
            assert count == 0, f"{rule_id} flags {count} rows but no defect was injected"
    assert result.tables[0].rows == ROWS
    samples = {r.rule_id: [s.row for s in r.samples] for r in result.rules}
    assert all(len(v) <= 5 for v in samples.values())
