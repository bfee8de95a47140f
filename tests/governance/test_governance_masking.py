from datetime import UTC, date, datetime

import pytest

from healthdq.governance.masking import mask_samples, mask_value
from healthdq.results import ColumnInfo, RuleResult, RunResult, Sample, TableResult


@pytest.mark.parametrize(
    ("kind", "value", "expected"),
    [
        ("nhs_number", "9434765919", "943 *** **19"),
        ("nhs_number", "943 476 5919", "943 *** **19"),
        ("nhs_number", "943-476-5919", "943-***-**19"),
        ("nhs_number", 9434765910, "943 *** **10"),
        ("nhs_number", "12345", "12***"),
        ("nhs_number", "N/A", "***"),
        ("nhs_number", "", "*"),
        ("postcode", "LS1 4AP", "LS1 ***"),
        ("postcode", "LS14AP", "LS1***"),
        ("postcode", "sw1a 1aa", "sw1a ***"),
        ("postcode", "EC1A1BB", "EC1A***"),
        ("postcode", "NOT A POSTCODE", "NO***"),
        ("postcode", "ZZ", "***"),
        ("date_of_birth", "1950-03-12", "1950-**-**"),
        ("date_of_birth", "12/03/1950", "1950-**-**"),
        ("date_of_birth", date(1950, 3, 12), "1950-**-**"),
        ("date_of_birth", datetime(1950, 3, 12, 10, 0, tzinfo=UTC), "1950-**-**"),
        ("date_of_birth", "unknown", "****-**-**"),
        ("name", "Alice Smith", "***"),
        ("name", "Al", "***"),
        ("address", "1 High Street, Leeds", "***"),
        ("local_id", "MRN0001234", "***"),
        ("free_text", "patient said ...", "***"),
        ("something_new", "secret-ish", "***"),
    ],
)
def test_mask_value(kind: str, value: object, expected: str) -> None:
    assert mask_value(kind, value) == expected


@pytest.mark.parametrize("value", ["9434765919", 42, 3.5, "LS1 4AP", None])
def test_non_identifier_unchanged(value: object) -> None:
    assert mask_value(None, value) == value
    assert mask_value("none", value) == value


def test_missing_value_stays_missing() -> None:
    assert mask_value("nhs_number", None) is None


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("nhs_number", "9434765919"),
        ("nhs_number", "ABCDEFG"),
        ("postcode", "LS1 4AP"),
        ("postcode", "NOT A POSTCODE"),
        ("date_of_birth", "1950-03-12"),
        ("name", "Alice"),
    ],
)
def test_masking_is_idempotent(kind: str, value: str) -> None:
    once = mask_value(kind, value)
    assert mask_value(kind, once) == once


def _result() -> RunResult:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    return RunResult(
        healthdq_version="0.1.0",
        run_id="r1",
        contract="apc",
        contract_version="1",
        started_at=now,
        finished_at=now,
        run_date="2026-01-01",
        engine="duckdb",
        masked=False,
        tables=[
            TableResult(
                name="apc",
                source="apc.csv",
                rows=3,
                columns=[
                    ColumnInfo(name="nhs_number", type="VARCHAR", identifier="nhs_number"),
                    ColumnInfo(name="postcode", type="VARCHAR", identifier="postcode"),
                    ColumnInfo(name="sex", type="VARCHAR"),
                ],
            )
        ],
        rules=[
            RuleResult(
                rule_id="r1",
                table="apc",
                kind="validator",
                status="failed",
                samples=[
                    Sample(
                        row=2,
                        values={
                            "nhs_number": "9434765919",
                            "postcode": "LS1 4AP",
                            "sex": "X",
                            "dob": "1950-03-12",
                        },
                    )
                ],
            )
        ],
    )


def test_mask_samples_uses_tables_and_explicit_kinds() -> None:
    result = _result()
    out = mask_samples(result, {("apc", "dob"): "date_of_birth"})
    assert out is result  # masked in place, so ignoring the return value cannot leak
    assert result.masked is True
    assert result.rules[0].samples[0].values == {
        "nhs_number": "943 *** **19",
        "postcode": "LS1 ***",
        "sex": "X",
        "dob": "1950-**-**",
    }


def test_mask_samples_only_matching_table() -> None:
    result = _result()
    mask_samples(result, {("other", "sex"): "name"})
    assert result.rules[0].samples[0].values["sex"] == "X"
