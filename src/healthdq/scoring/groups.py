"""Per-group (e.g. per-provider) DQMI-style league tables, worst first.

Small-number suppression: a suppressed GroupRow's figures are left out of the group's score,
rows and failed-rule count, never just hidden. The per-rule percentages of a group's other rules
are published alongside, so a score that used a suppressed figure would let a reader solve for
it and, with the group's size, recover the small count. This follows the DQMI's own practice of
suppressing or recalculating percentages whose counts are suppressed. See docs/scoring.md.
"""

from __future__ import annotations

from typing import Any

from healthdq.results import GroupBreakdown, RuleResult, RunResult
from healthdq.results.scores import GroupScore
from healthdq.scoring.dqmi import (
    ITEM_DIMENSIONS,
    NOT_SCORED_STATUSES,
    Measure,
    error_measure,
    item_score,
    rule_dimension,
    rule_pct,
)


def _new_group() -> dict[str, Any]:
    return {"measures": {}, "rows": None, "failed": 0, "scored": 0, "suppressed": 0, "seen": 0}


def _group_scores(breakdown: GroupBreakdown, rules: dict[str, RuleResult]) -> list[GroupScore]:
    groups: dict[str | None, dict[str, Any]] = {}
    for row in breakdown.rows:
        g = groups.setdefault(row.group, _new_group())
        g["seen"] += not row.suppressed
        rule = rules.get(row.rule_id)
        if rule is None or rule.status in NOT_SCORED_STATUSES or rule.status == "error":
            continue  # the run-level rule did not measure anything; its errors come below
        if row.suppressed:
            g["suppressed"] += 1
            continue
        if row.denominator is not None:
            g["rows"] = max(g["rows"] or 0, row.denominator)
        pct = rule_pct(row.pct_violating, row.violating_rows, row.denominator)
        if pct is None:
            continue
        g["scored"] += 1
        # Same pass mark as the run-level rule: more than `threshold` % violating fails.
        if pct > rule.threshold:
            g["failed"] += 1
        dim = rule_dimension(rule)
        if dim in ITEM_DIMENSIONS and len(rule.columns) == 1:
            col = rule.columns[0]
            measure = Measure(rule.rule_id, col, dim, pct, rule.threshold)
            g["measures"].setdefault(col, []).append(measure)

    # A run-level rule in error ran for no group: as at run level, its item scores 0 in every
    # group, so no group's score rises because a rule could not run.
    errored = [r for r in rules.values() if r.status == "error" and r.table == breakdown.table]
    for g in groups.values():
        g["errored"] = len(errored)
        if not g["seen"]:
            continue  # every figure suppressed: no score either way
        for rule in errored:
            dim = rule_dimension(rule)
            if dim in ITEM_DIMENSIONS and len(rule.columns) == 1:
                g["measures"].setdefault(rule.columns[0], []).append(error_measure(rule, dim))

    out = []
    for group, g in groups.items():
        item_scores = [item_score(ms)["score"] for ms in g["measures"].values()]
        # No coverage factor: coverage is measured per table, not per group.
        score = sum(item_scores) / len(item_scores) if item_scores else None
        out.append(
            GroupScore(
                group=group,
                score=None if score is None else round(score, 2),
                rows=g["rows"],
                items=len(item_scores),
                rules_scored=g["scored"],
                rules_failed=g["failed"],
                rules_errored=g["errored"],
                suppressed_rules=g["suppressed"],
            )
        )
    # Worst first; groups with no score at the bottom, ties broken by failures then name.
    out.sort(
        key=lambda s: (
            s.score is None,
            s.score if s.score is not None else 0.0,
            -s.rules_failed,
            "" if s.group is None else str(s.group),
        )
    )
    for rank, entry in enumerate(out, start=1):
        entry.rank = rank
    return out


def score_groups(result: RunResult) -> None:
    """Fill each GroupBreakdown.scores with a worst-first league table of its groups.

    Each entry is a GroupScore: group, score (0-100 or None), rows, items, rules_scored,
    rules_failed, rules_errored, suppressed_rules, rank. No per-rule count is added, so nothing
    below the small-number threshold shows.
    """
    rules = {r.rule_id: r for r in result.rules}
    for breakdown in result.groups:
        breakdown.scores = _group_scores(breakdown, rules)
