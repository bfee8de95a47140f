"""Property: turning any rule into `error` never raises a score (issue 8 item 6).

Runs are drawn at random (tables of any size, empty ones included; every kind of rule the DQMI
reads or ignores; every status; group rows with and without suppression). One rule is then
turned into an error. The run's score, every table's score and every group's score must not be
higher than before, the shares of rules and items that ran must not grow, and an insufficient
run must stay insufficient.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from scoring_factories import group_row, rule, run

from healthdq.results import GroupBreakdown, RuleResult, RunResult
from healthdq.scoring import score

KINDS = ("not_null", "allowed_values", "regex", "default_value", "row_count", "freshness")
COLUMNS = ("a", "b", "c")
TABLES = ("t", "u")
GROUPS = ("G1", "G2", None)


@st.composite
def rule_results(draw: st.DrawFn, index: int) -> RuleResult:
    table = draw(st.sampled_from(TABLES))
    kind = draw(st.sampled_from((*KINDS, "unique", "compare")))
    column: str | list[str] | None
    if kind == "compare":
        column = ["a", "b"]
    elif kind == "row_count":
        column = None
    else:
        column = draw(st.sampled_from(COLUMNS))
    status = draw(st.sampled_from(("measured", "measured", "not_applicable", "error")))
    rule_id = f"r{index}"
    if status != "measured":
        return rule(table, kind, column, status=status, rule_id=rule_id)
    denominator = draw(st.integers(0, 200))
    violating = draw(st.integers(0, denominator))
    threshold = draw(st.sampled_from((0.0, 5.0, 50.0, 100.0)))
    return rule(
        table,
        kind,
        column,
        violating=violating,
        denominator=denominator,
        threshold=threshold,
        rule_id=rule_id,
    )


@st.composite
def runs(draw: st.DrawFn) -> RunResult:
    n = draw(st.integers(1, 10))
    rules = [draw(rule_results(i)) for i in range(n)]
    tables = {t: draw(st.sampled_from((0, 10, 1000))) for t in TABLES}
    rows = []
    for r in rules:
        if r.table != "t" or r.status != "passed" and r.status != "failed":
            continue
        for g in GROUPS:
            denominator = draw(st.integers(1, 100))
            violating = draw(st.integers(0, denominator))
            rows.append(group_row(g, r.rule_id, violating, denominator, draw(st.booleans())))
    groups = [GroupBreakdown(table="t", column="provider", rows=rows)] if rows else []
    return run(rules, tables, groups)


def _scores(result: RunResult) -> tuple[float | None, dict[str, float | None], dict]:
    scored = score(result.model_copy(deep=True))
    dqmi = scored.scores.dqmi
    assert dqmi is not None
    tables = {name: t.score for name, t in dqmi.tables.items()}
    groups = {(b.column, g.group): g.score for b in scored.groups for g in b.scores}
    return dqmi.score, tables, groups


def _not_higher(after: float | None, before: float | None) -> bool:
    # No number before: any number after (a 0 for an errored item) is not a rise.
    return before is None or (after is not None and after <= before)


@settings(max_examples=300, deadline=None)
@given(runs(), st.data())
def test_an_error_never_raises_a_score(result: RunResult, data: st.DataObject) -> None:
    i = data.draw(st.integers(0, len(result.rules) - 1))
    before = score(result.model_copy(deep=True)).scores.dqmi
    overall, tables, groups = _scores(result)

    broken = result.model_copy(deep=True)
    target = broken.rules[i]
    target.status = "error"
    target.violating_rows = target.denominator = None
    target.pct_violating = None
    target.message = "could not run"
    after = score(broken.model_copy(deep=True)).scores.dqmi
    overall_e, tables_e, groups_e = _scores(broken)

    assert _not_higher(overall_e, overall), (overall, overall_e)
    for name, value in tables.items():
        assert _not_higher(tables_e[name], value), (name, value, tables_e[name])
    for key, value in groups.items():
        assert _not_higher(groups_e.get(key), value), (key, value, groups_e.get(key))
    assert before is not None and after is not None
    assert after.ran.rules_ran <= before.ran.rules_ran
    assert after.ran.items_ran <= before.ran.items_ran
    assert not (before.state == "insufficient" and after.state != "insufficient")
