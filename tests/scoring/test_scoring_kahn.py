"""Kahn overview counts, laid out as in the OHDSI DQD overview."""

from __future__ import annotations

from scoring_factories import rule

from healthdq.scoring import kahn_overview


def test_counts_by_category_and_context() -> None:
    rules = [
        rule("t", "not_null", "a", violating=0, denominator=10),  # completeness/verification
        rule("t", "not_null", "b", violating=1, denominator=10),  # failed
        rule("t", "row_count", status="failed"),  # completeness/validation
        rule("t", "regex", "a", status="error"),  # conformance/verification
        rule("t", "allowed_values", "a", violating=0, denominator=10),  # conformance/verif.
        rule("t", "range", "a", status="not_applicable"),  # plausibility/verification
        rule("t", "default_value", "a", violating=0, denominator=10),  # plausibility/validation
    ]
    # Metadata missing on the result: falls back to the kind's defaults.
    rules[1].category = None
    rules[1].context = None
    # Unknown kind and no metadata: counted only in totals.
    odd = rule("t", "sql", [], status="passed")
    odd.kind = "custom"
    odd.category = None
    odd.context = None
    rules.append(odd)

    k = kahn_overview(rules).model_dump()
    comp = k["categories"]["completeness"]
    assert comp["verification"] == {
        "passed": 1, "failed": 1, "not_applicable": 0, "error": 0, "total": 2, "pct_passed": 50.0,
    }  # fmt: skip
    assert comp["validation"]["failed"] == 1 and comp["validation"]["pct_passed"] == 0.0
    assert comp["total"]["total"] == 3 and comp["total"]["pct_passed"] == 33.33
    conf = k["categories"]["conformance"]["verification"]
    # The error is counted but not in the percentage.
    assert (conf["passed"], conf["error"], conf["pct_passed"]) == (1, 1, 100.0)
    plaus = k["categories"]["plausibility"]
    assert plaus["verification"]["not_applicable"] == 1
    assert plaus["verification"]["pct_passed"] is None
    assert plaus["validation"]["passed"] == 1
    assert k["contexts"]["verification"]["total"] == 5
    assert k["contexts"]["verification"]["pct_passed"] == 66.67  # 2 of 3 decided
    assert k["contexts"]["validation"]["total"] == 2
    assert k["uncategorised"]["passed"] == 1 and k["uncategorised"]["total"] == 1
    assert k["total"] == {
        "passed": 4, "failed": 2, "not_applicable": 1, "error": 1, "total": 8,
        "pct_passed": 66.67,
    }  # fmt: skip


def test_empty() -> None:
    k = kahn_overview([]).model_dump()
    assert k["total"]["total"] == 0 and k["total"]["pct_passed"] is None
    assert set(k["categories"]) == {"conformance", "completeness", "plausibility"}
