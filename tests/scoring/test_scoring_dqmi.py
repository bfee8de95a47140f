"""DQMI scoring against hand-computed numbers, including NHS Digital's published example."""

from __future__ import annotations

import json
from typing import Any

import pytest
from scoring_factories import rule, run

from healthdq.results import RunResult
from healthdq.scoring import fit_for_purpose, score, score_run


def _dqmi(result: RunResult) -> dict[str, Any]:
    """The DQMI of a run as plain data (as written to JSON)."""
    return score_run(result).model_dump()


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
    scores = _dqmi(result)

    expected = {
        ("ds1", "a"): 94.0, ("ds1", "b"): 100.0, ("ds1", "c"): 76.0,
        ("ds2", "a"): 0.0, ("ds2", "b"): 80.0, ("ds2", "c"): 45.0, ("ds2", "d"): 93.5,
        ("ds3", "a"): 100.0, ("ds3", "b"): 100.0,
        ("ds7", "a"): 100.0, ("ds7", "b"): 98.0, ("ds7", "c"): 83.5,
    }  # fmt: skip
    for (t, c), want in expected.items():
        assert _item(scores, t, c)["score"] == pytest.approx(want), (t, c)
    # (9.7 / 12) * (7 / 12) * 100 = 47.15..., published to one decimal as 47.2.
    assert scores["score"] == pytest.approx(9.7 / 12 * 7 / 12 * 100, abs=0.005)
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
    assert result.scores.dqmi is not None and result.scores.dqmi.score == scores["score"]
    assert scores["state"] == "scored" and scores["ran"]["rules_pct"] == 100.0


def test_empty_result_scores_none_without_crashing() -> None:
    result = score(run([]))
    dqmi, kahn = result.scores.dqmi, result.scores.kahn
    assert dqmi is not None and kahn is not None
    assert dqmi.score is None and dqmi.state == "not_scored"
    assert dqmi.items == [] and dqmi.tables == {}
    assert dqmi.ran.rules_pct is None and dqmi.ran.pct is None
    assert dqmi.dimensions.model_dump() == {
        "coverage": None, "completeness": None, "validity": None, "default": None,
    }  # fmt: skip
    assert kahn.total.total == 0 and kahn.total.pct_passed is None
    json.dumps(result.scores.model_dump(mode="json"))


def test_table_without_item_rules_has_no_score() -> None:
    scores = _dqmi(run([rule("t", "row_count", status="passed")], {"t": 10}))
    table = scores["tables"]["t"]
    assert table["score"] is None and table["items"] == 0
    assert table["dimensions"] == {
        "coverage": 100.0, "completeness": None, "validity": None, "default": None,
    }  # fmt: skip
    assert scores["score"] is None


def test_errors_count_against_the_score_and_not_applicable_is_left_out() -> None:
    rules = [
        rule("t", "not_null", "x", violating=10, denominator=100, rule_id="nn"),
        rule("t", "not_null", "z", violating=0, denominator=100, rule_id="z_nn"),
        rule("t", "regex", "z", status="error", rule_id="broken", message="bad pattern"),
        rule("t", "range", "x", status="not_applicable", rule_id="na"),
        rule("t", "row_count", status="error", rule_id="rc"),
        rule("t", "row_count", status="passed", rule_id="rc_ok"),
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
    scores = _dqmi(run(rules, {"t": 100}))
    items = {i["column"]: i for i in scores["items"]}
    assert list(items) == ["x", "z"]
    assert items["x"]["rules"] == ["nn"] and items["x"]["score"] == 90.0
    assert items["x"]["validity"] is None and items["x"]["default"] is None
    # The errored regex zeroes item z (it would have scored 100 from its not_null alone).
    assert items["z"]["errored"] == ["broken"]
    assert items["z"]["score"] == 0.0 and items["z"]["validity"] == 0.0
    assert scores["excluded"] == [
        {"rule_id": "na", "reason": "not_applicable"},
        {"rule_id": "cmp", "reason": "not a single data item"},
        {"rule_id": "empty", "reason": "no measurement"},
    ]
    # The errored row_count is an expectation not shown to be met: coverage 1 of 2.
    assert scores["dimensions"]["coverage"] == 50.0
    # mean(90, 0) x 0.5; items x, y, z expected, z did not run.
    assert scores["score"] == 22.5
    assert scores["ran"] == {
        "rules_total": 9, "rules_ran": 7, "items_total": 3, "items_ran": 2,
        "rules_pct": 77.78, "items_pct": 66.67,
    }  # fmt: skip
    assert scores["state"] == "insufficient"


def test_insufficient_below_the_threshold_and_scored_at_it() -> None:
    ok = [rule("t", "not_null", f"c{i}", violating=0, denominator=10) for i in range(4)]
    broken = rule("t", "not_null", "c4", status="error")
    dqmi = score_run(run([*ok, broken], {"t": 10}))
    # 4 of 5 rules and items ran: exactly 80%, the threshold, so the score may be headlined.
    assert dqmi.ran.pct == 80.0 and dqmi.min_coverage_pct == 80.0
    assert dqmi.state == "scored" and dqmi.headline == dqmi.score == 80.0
    second = rule("t", "not_null", "c3", status="error")
    dqmi = score_run(run([*ok[:3], second, broken], {"t": 10}))
    assert dqmi.state == "insufficient" and dqmi.insufficient
    assert dqmi.headline is None and dqmi.score == 60.0


def test_pack_on_unmapped_data_does_not_headline_a_near_perfect_score() -> None:
    """Issue 8/10: 43 of 46 rules in error once headlined 99.9."""
    ran = [rule("t", "not_null", f"ok{i}", violating=0, denominator=1000) for i in range(3)]
    errored = [rule("t", "allowed_values", f"c{i}", status="error") for i in range(43)]
    dqmi = score_run(run(ran + errored, {"t": 1000}))
    assert dqmi.state == "insufficient" and dqmi.headline is None
    assert dqmi.ran.rules_ran == 3 and dqmi.ran.rules_total == 46
    assert dqmi.score is not None and dqmi.score < 10.0


def test_worst_validity_rule_is_used() -> None:
    rules = [
        rule("t", "not_null", "x", violating=5, denominator=100),
        rule("t", "regex", "x", violating=5, denominator=95),
        rule("t", "allowed_values", "x", violating=19, denominator=95),
    ]
    item = _dqmi(run(rules, {"t": 100}))["items"][0]
    # 95% complete x (1 - 19/95) valid = 76% valid and complete.
    assert item["validity"] == pytest.approx(80.0)
    assert item["score"] == pytest.approx(76.0)


def test_empty_table_has_zero_coverage_and_pulls_overall_down() -> None:
    rules = [
        rule("full", "not_null", "x", violating=10, denominator=100),
        rule("empty", "not_null", "y", status="not_applicable"),
    ]
    scores = _dqmi(run(rules, {"full": 100, "empty": 0}))
    assert scores["tables"]["empty"]["score"] == 0.0
    assert scores["tables"]["empty"]["dimensions"]["coverage"] == 0.0
    assert scores["tables"]["full"]["score"] == 90.0
    # mean item score 90 x mean coverage over the two expected items (1 + 0) / 2.
    assert scores["score"] == 45.0


def test_percentage_from_counts_and_dimension_from_kind() -> None:
    r = rule("t", "not_null", "x", violating=1, denominator=4)
    r.pct_violating = None
    r.dimension = None
    scores = _dqmi(run([r], {"t": 4}))
    assert scores["items"][0]["completeness"] == 75.0


def test_only_tolerated_defaults_are_free() -> None:
    # 20% of populated values are defaults, 5% of records tolerated: 15 points in excess.
    rules = [rule("t", "default_value", "x", violating=20, denominator=100, threshold=5.0)]
    item = _dqmi(run(rules, {"t": 100}))["items"][0]
    assert item["default"] == 80.0
    assert item["defaults_in_excess"] == 15.0
    assert item["score"] == 85.0


def test_fit_for_purpose() -> None:
    rules = [
        rule("good", "not_null", "x", violating=1, denominator=100),
        rule("bad", "not_null", "x", violating=30, denominator=100),
        rule("none", "row_count", status="passed"),
    ]
    dqmi = score_run(run(rules, {"good": 100, "bad": 100, "none": 5}))
    assert fit_for_purpose(dqmi, 95.0) == {"good": True, "bad": False, "none": None}
    # A table whose rules mostly errored is never fit, whatever its partial score.
    rules += [rule("good", "not_null", f"e{i}", status="error") for i in range(3)]
    dqmi = score_run(run(rules, {"good": 100, "bad": 100, "none": 5}))
    assert fit_for_purpose(dqmi, 0.0)["good"] is False


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
    scores = _dqmi(run(rules, {"apc": 1000}))
    assert [(i["column"], i["score"]) for i in scores["items"]] == [
        ("ethnic_category", 90.0), ("nhs_number", 97.0), ("sex", 100.0),
    ]  # fmt: skip
    assert scores["tables"]["apc"]["score"] == 47.83
    assert scores["score"] == 47.83
    assert scores["dimensions"] == {
        "coverage": 50.0, "completeness": 99.0, "validity": 97.99, "default": 85.0,
    }  # fmt: skip
