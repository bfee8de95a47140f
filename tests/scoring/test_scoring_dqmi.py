"""DQMI scoring against hand-computed numbers, including NHS Digital's published example."""

from __future__ import annotations

import json

import pytest
from scoring_factories import rule, run

from healthdq.scoring import fit_for_purpose, score, score_run


def _item(scores: dict, table: str, column: str) -> dict:
    return next(i for i in scores["items"] if i["table"] == table and i["column"] == column)


def _dqmi_item(
    table: str, col: str, n: int, nulls: int, invalid: int, defaults: int | None, threshold: float
) -> list:
    """Rules for one data item; validity and default rules count over populated values."""
    populated = n - nulls
    rules = [
        rule(table, "not_null", col, violating=nulls, denominator=n),
        rule(table, "allowed_values", col, violating=invalid, denominator=populated),
    ]
    if defaults is not None:
        rules.append(
            rule(
                table,
                "default_value",
                col,
                violating=defaults,
                denominator=populated,
                threshold=threshold,
            )
        )
    return rules


def _coverage_rules(table: str, passed: int, failed: int) -> list:
    return [rule(table, "row_count", status="passed") for _ in range(passed)] + [
        rule(table, "freshness", "d", status="failed") for _ in range(failed)
    ]


def test_reproduces_published_dqmi_example() -> None:
    """Appendix 1 of the DQMI methodology: item scores and DQMI = 47.2."""
    rules = (
        # Dataset 1: coverage 1 (no coverage rules, rows present).
        _dqmi_item("ds1", "a", 2500, 0, 100, 100, 2.0)  # 2400 valid and complete -> 94
        + _dqmi_item("ds1", "b", 2500, 0, 0, 100, 100.0)  # -> 100
        # 250 nulls, 250 of 2250 invalid: 2000 valid and complete; 100 defaults -> 76
        + _dqmi_item("ds1", "c", 2500, 250, 250, 100, 0.0)
        # Dataset 2: coverage 1/3.
        + _dqmi_item("ds2", "a", 1000, 0, 100, 900, 0.0)  # -> 0
        + _dqmi_item("ds2", "b", 1000, 0, 200, 800, 100.0)  # -> 80
        + _dqmi_item("ds2", "c", 1000, 0, 100, 450, 0.0)  # -> 45
        + _dqmi_item("ds2", "d", 1000, 0, 0, 100, 3.5)  # -> 93.5
        + _coverage_rules("ds2", 1, 2)
        # Dataset 3: coverage 1/3, no default rules.
        + _dqmi_item("ds3", "a", 10000, 0, 0, None, 0.0)
        + _dqmi_item("ds3", "b", 10000, 0, 0, None, 0.0)
        + _coverage_rules("ds3", 1, 2)
        # Dataset 7: coverage 2/3.
        + _dqmi_item("ds7", "a", 50000, 0, 0, 100, 2.0)  # -> 100
        + _dqmi_item("ds7", "b", 50000, 0, 1000, 5000, 100.0)  # -> 98
        + _dqmi_item("ds7", "c", 50000, 0, 5000, 5000, 3.5)  # -> 83.5
        + _coverage_rules("ds7", 2, 1)
    )
    result = run(rules, {"ds1": 2500, "ds2": 1000, "ds3": 10000, "ds7": 50000})
    scores = score_run(result)

    expected = {
        ("ds1", "a"): 94.0, ("ds1", "b"): 100.0, ("ds1", "c"): 76.0,
        ("ds2", "a"): 0.0, ("ds2", "b"): 80.0, ("ds2", "c"): 45.0, ("ds2", "d"): 93.5,
        ("ds3", "a"): 100.0, ("ds3", "b"): 100.0,
        ("ds7", "a"): 100.0, ("ds7", "b"): 98.0, ("ds7", "c"): 83.5,
    }  # fmt: skip
    for (t, c), want in expected.items():
        assert _item(scores, t, c)["score"] == pytest.approx(want), (t, c)
    # (9.7 / 12) * (7 / 12) * 100 = 47.15..., published to one decimal as 47.2.
    assert scores["overall"] == pytest.approx(9.7 / 12 * 7 / 12 * 100, abs=0.005)
    assert scores["dimensions"]["coverage"] == pytest.approx(58.33)
    # Table score = mean item score x table coverage: (0 + 80 + 45 + 93.5) / 4 / 3.
    assert scores["tables"]["ds2"]["score"] == pytest.approx(18.21)
    assert scores["tables"]["ds2"]["items"] == 4
    assert scores["tables"]["ds2"]["dimensions"]["coverage"] == pytest.approx(33.33)
    assert scores["tables"]["ds1"]["score"] == pytest.approx(90.0)
    # Item c of ds1: 90% complete, 250/2250 invalid, 100/2250 default.
    ds1_c = _item(scores, "ds1", "c")
    assert ds1_c["completeness"] == pytest.approx(90.0)
    assert ds1_c["validity"] == pytest.approx(88.89)
    assert ds1_c["default"] == pytest.approx(95.56)
    assert ds1_c["defaults_in_excess"] == pytest.approx(4.0)
    assert len(ds1_c["rules"]) == 3
    assert scores["excluded"] == []
    assert result.scores["overall"] == scores["overall"]


def test_empty_result_scores_none_without_crashing() -> None:
    result = score(run([]))
    assert result.scores["overall"] is None
    assert result.scores["items"] == [] and result.scores["tables"] == {}
    assert result.scores["dimensions"] == {
        "coverage": None, "completeness": None, "validity": None, "default": None,
    }  # fmt: skip
    assert result.scores["kahn"]["total"]["total"] == 0
    assert result.scores["kahn"]["total"]["pct_passed"] is None
    json.dumps(result.scores)


def test_table_without_item_rules_has_no_score() -> None:
    scores = score_run(run([rule("t", "row_count", status="passed")], {"t": 10}))
    assert scores["tables"]["t"] == {
        "score": None,
        "dimensions": {"coverage": 100.0, "completeness": None, "validity": None, "default": None},
        "items": 0,
    }
    assert scores["overall"] is None


def test_error_and_not_applicable_rules_do_not_contribute() -> None:
    rules = [
        rule("t", "not_null", "x", violating=10, denominator=100, rule_id="nn"),
        rule("t", "regex", "x", status="error", rule_id="broken", message="bad pattern"),
        rule("t", "range", "x", status="not_applicable", rule_id="na"),
        rule("t", "row_count", status="error", rule_id="rc"),
        # A cross-field rule is not a data item measure, even if tagged validity.
        rule(
            "t",
            "compare",
            ["a", "b"],
            violating=50,
            denominator=100,
            rule_id="cmp",
            dimension="validity",
        ),
        rule("t", "unique", ["x"], violating=50, denominator=100, rule_id="uq"),  # 'other'
        # Passed with nothing to count (e.g. no populated values): no measurement.
        rule("t", "allowed_values", "y", violating=0, denominator=0, rule_id="empty"),
    ]
    scores = score_run(run(rules, {"t": 100}))
    assert [i["column"] for i in scores["items"]] == ["x"]
    x = scores["items"][0]
    assert x["rules"] == ["nn"]
    assert x["score"] == 90.0 and x["validity"] is None and x["default"] is None
    assert scores["excluded"] == [
        {"rule_id": "broken", "reason": "error"},
        {"rule_id": "na", "reason": "not_applicable"},
        {"rule_id": "rc", "reason": "error"},
        {"rule_id": "cmp", "reason": "not a single data item"},
        {"rule_id": "empty", "reason": "no measurement"},
    ]
    # The errored row_count is no evidence either way: coverage stays 1.
    # Item y is expected but unmeasured: it counts in coverage (1.0), not in the score mean.
    assert scores["overall"] == 90.0
    assert scores["dimensions"]["coverage"] == 100.0


def test_worst_validity_rule_is_used() -> None:
    rules = [
        rule("t", "not_null", "x", violating=5, denominator=100),
        rule("t", "regex", "x", violating=5, denominator=95),
        rule("t", "allowed_values", "x", violating=19, denominator=95),
    ]
    item = score_run(run(rules, {"t": 100}))["items"][0]
    # 95% complete x (1 - 19/95) valid = 76% valid and complete.
    assert item["validity"] == pytest.approx(80.0)
    assert item["score"] == pytest.approx(76.0)


def test_empty_table_has_zero_coverage_and_pulls_overall_down() -> None:
    rules = [
        rule("full", "not_null", "x", violating=10, denominator=100),
        rule("empty", "not_null", "y", status="not_applicable"),
    ]
    scores = score_run(run(rules, {"full": 100, "empty": 0}))
    assert scores["tables"]["empty"]["score"] == 0.0
    assert scores["tables"]["empty"]["dimensions"]["coverage"] == 0.0
    assert scores["tables"]["full"]["score"] == 90.0
    # mean item score 90 x mean coverage over the two expected items (1 + 0) / 2.
    assert scores["overall"] == 45.0


def test_percentage_from_counts_and_dimension_from_kind() -> None:
    r = rule("t", "not_null", "x", violating=1, denominator=4)
    r.pct_violating = None
    r.dimension = None
    scores = score_run(run([r], {"t": 4}))
    assert scores["items"][0]["completeness"] == 75.0


def test_only_tolerated_defaults_are_free() -> None:
    # 20% of populated values are defaults, 5% of records tolerated: 15 points in excess.
    rules = [rule("t", "default_value", "x", violating=20, denominator=100, threshold=5.0)]
    item = score_run(run(rules, {"t": 100}))["items"][0]
    assert item["default"] == 80.0
    assert item["defaults_in_excess"] == 15.0
    assert item["score"] == 85.0


def test_fit_for_purpose() -> None:
    rules = [
        rule("good", "not_null", "x", violating=1, denominator=100),
        rule("bad", "not_null", "x", violating=30, denominator=100),
        rule("none", "row_count", status="passed"),
    ]
    scores = score_run(run(rules, {"good": 100, "bad": 100, "none": 5}))
    assert fit_for_purpose(scores, 95.0) == {"good": True, "bad": False, "none": None}


def test_docs_worked_example() -> None:
    """The worked example in docs/scoring.md."""
    rules = [
        rule("apc", "not_null", "nhs_number", violating=20, denominator=1000),
        rule("apc", "validator", "nhs_number", violating=10, denominator=980),
        rule("apc", "not_null", "ethnic_category", violating=0, denominator=1000),
        rule("apc", "allowed_values", "ethnic_category", violating=50, denominator=1000),
        rule(
            "apc",
            "default_value",
            "ethnic_category",
            violating=150,
            denominator=1000,
            threshold=10.0,
        ),
        rule("apc", "allowed_values", "sex", violating=0, denominator=1000),
        rule("apc", "compare", ["admission_date", "discharge_date"], violating=3, denominator=1000),
        rule("apc", "row_count", status="passed"),
        rule("apc", "freshness", "discharge_date", status="failed"),
    ]
    scores = score_run(run(rules, {"apc": 1000}))
    assert [(i["column"], i["score"]) for i in scores["items"]] == [
        ("ethnic_category", 90.0), ("nhs_number", 97.0), ("sex", 100.0),
    ]  # fmt: skip
    assert scores["tables"]["apc"]["score"] == 47.83
    assert scores["overall"] == 47.83
    assert scores["dimensions"] == {
        "coverage": 50.0, "completeness": 99.0, "validity": 97.99, "default": 85.0,
    }  # fmt: skip
