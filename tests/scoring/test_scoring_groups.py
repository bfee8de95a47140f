"""Per-group league tables, including small-number suppression."""

from __future__ import annotations

from scoring_factories import group_row, rule, run

from healthdq.results import GroupBreakdown, RunResult
from healthdq.scoring import score, score_groups


def _result(broken_status: str = "error") -> RunResult:
    rules = [
        rule("apc", "not_null", "nhs_number", violating=13, denominator=297, rule_id="nn"),
        rule("apc", "allowed_values", "sex", violating=20, denominator=274, rule_id="av"),
        rule("apc", "unique", ["spell_id"], violating=2, denominator=297, rule_id="uq"),
        rule("apc", "unique", ["id"], status=broken_status, rule_id="broken"),
    ]
    rows = [
        # A: nhs_number 90, sex 100 -> 95; nn and uq fail.
        group_row("A", "nn", 10, 100),
        group_row("A", "av", 0, 90),
        group_row("A", "uq", 2, 100),
        group_row("A", "broken", 5, 100),  # run-level rule errored: ignored
        # B: nhs_number 100, sex 60 -> 80; av fails.
        group_row("B", "nn", 0, 50),
        group_row("B", "av", 20, 50),
        # C: the nhs_number figure is suppressed; scored on sex alone.
        group_row("C", "nn", None, None, suppressed=True),
        group_row("C", "av", 0, 17),
        # D: everything suppressed, even though the engine left the figures in.
        group_row("D", "nn", 3, 5, suppressed=True),
        group_row("D", "av", 0, 2, suppressed=True),
        # Rows with no group value (NULL provider code).
        group_row(None, "nn", 0, 10),
    ]
    breakdown = GroupBreakdown(table="apc", column="provider_code", rows=rows)
    return run(rules, {"apc": 297}, [breakdown])


def test_league_table_worst_first_with_suppression() -> None:
    result = _result()
    score_groups(result)
    table = result.groups[0].scores
    assert [s.group for s in table] == ["B", "A", None, "C", "D"]
    by = {s.group: s.model_dump() for s in table}
    assert by["A"] == {
        "group": "A", "score": 95.0, "rows": 100, "items": 2, "rules_scored": 3,
        "rules_failed": 2, "rules_errored": 1, "suppressed_rules": 0, "rank": 2,
    }  # fmt: skip
    assert by["B"]["score"] == 80.0 and by["B"]["rules_failed"] == 1 and by["B"]["rank"] == 1
    # C: only the unsuppressed sex figure counts; its size comes from that rule.
    assert by["C"]["score"] == 100.0
    assert (by["C"]["items"], by["C"]["suppressed_rules"], by["C"]["rows"]) == (1, 1, 17)
    # D: nothing unsuppressed, so nothing is shown, not even figures the engine left in.
    assert by["D"]["score"] is None and by["D"]["rows"] is None
    assert by["D"]["suppressed_rules"] == 2 and by["D"]["rules_failed"] == 0
    assert by["D"]["rank"] == 5
    assert by[None]["score"] == 100.0
    # No per-rule counts are added to the league table.
    assert all("violating_rows" not in s for s in by.values())


def test_an_errored_item_rule_scores_zero_in_every_measured_group() -> None:
    result = _result()
    result.rules.append(rule("apc", "regex", "postcode", status="error", rule_id="pc"))
    score_groups(result)
    by = {s.group: s for s in result.groups[0].scores}
    # A: mean(90, 100, 0); B: mean(100, 60, 0); D measured nothing and stays unscored.
    assert by["A"].score == 63.33 and by["B"].score == 53.33
    assert by["D"].score is None and by["A"].rules_errored == 2


def test_score_fills_everything() -> None:
    result = score(_result())
    dqmi = result.scores.dqmi
    assert dqmi is not None and result.scores.kahn is not None
    assert result.groups[0].scores[0].group == "B"
    # Run level: nhs_number 100 - 13/297*100, sex 100 - 20/274*100 (the errored rule is
    # outside the DQMI, so it lowers only the share of rules that ran).
    assert dqmi.score == round((100 - 1300 / 297 + 100 - 2000 / 274) / 2, 2)
    assert (dqmi.ran.rules_ran, dqmi.ran.rules_total) == (3, 4)
    assert result.model_dump_json()
