"""DQMI-style scoring of a run, after NHS England's Data Quality Maturity Index.

Published method (see docs/scoring.md for sources and a worked example):

    defaults in excess = total defaults - threshold * records        (never below 0)
    data item score    = (valid and complete records - defaults in excess) / records * 100
    DQMI               = mean(data item scores) * mean(coverage over the same items) * 100

A data item here is a (table, column) pair with completeness, validity or default rules.
Rules give percentages, so the counts are rebuilt as shares of the item's records:
complete = 1 - %null/100, valid and complete = complete * (1 - %invalid/100) (validity and default
rules are measured over populated values), defaults = complete * %default/100.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from healthdq.results import RuleResult, RunResult
from healthdq.results.scores import (
    MIN_COVERAGE_PCT,
    Dimensions,
    Dqmi,
    DqmiState,
    Excluded,
    Item,
    Ran,
    TableScore,
)
from healthdq.rules.model import KIND_DEFAULTS

METHOD = (
    "healthdq DQMI v2: NHS England Data Quality Maturity Index method applied to contract rules. "
    "Data item score = (valid and complete - defaults in excess) / records; "
    "score = mean(item scores) x mean(coverage); a rule in error scores its item 0 and counts "
    "as an unmet coverage expectation; insufficient below "
    f"{MIN_COVERAGE_PCT:g}% of rules or items run."
)

ITEM_DIMENSIONS = ("completeness", "validity", "default")
DIMENSIONS = ("coverage", "completeness", "validity", "default")
# Not applicable: nothing in scope to measure (DQD), so left out of the score. Errors are not
# left out: they count against it (never a higher score because a rule could not run).
NOT_SCORED_STATUSES = ("not_applicable",)


@dataclass(frozen=True)
class Measure:
    """One rule's contribution to one data item: a % of violating values."""

    rule_id: str
    column: str
    dimension: str
    pct: float  # 0..100 violating
    threshold: float  # % tolerated; for default rules the DQMI 'threshold for defaults'
    errored: bool = False  # the rule could not run: the item scores 0


def rule_pct(pct: float | None, violating: int | None, denominator: int | None) -> float | None:
    """The % violating, from the stored % or, failing that, from the counts."""
    if pct is not None:
        return float(pct)
    if violating is not None and denominator:
        return 100.0 * violating / denominator
    return None


def rule_dimension(rule: RuleResult) -> str:
    """The rule's DQMI dimension, falling back to its kind's default."""
    if rule.dimension:
        return rule.dimension
    defaults = KIND_DEFAULTS.get(rule.kind)
    return defaults[2].value if defaults else "other"


def error_measure(rule: RuleResult, dimension: str) -> Measure:
    """An errored rule as a measure: 100% violating, and its item's score forced to 0."""
    return Measure(rule.rule_id, rule.columns[0], dimension, 100.0, rule.threshold, True)


def _mean(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def item_score(measures: Sequence[Measure]) -> dict[str, Any]:
    """Score one data item from its measures; all results are 0-100 (None when unmeasured).

    Several validity rules: a value is valid only if it passes all of them, but per-rule counts
    cannot tell how the failures overlap, so the worst rule's % is used. That is a lower bound
    on the invalid share, so validity (and the item score) is an upper bound. A rule in error
    makes the item score 0: nothing is known about it, and 0 is the one value that can never
    be higher than what the rule would have found.
    """
    by_dim: dict[str, list[Measure]] = {d: [] for d in ITEM_DIMENSIONS}
    for m in measures:
        by_dim[m.dimension].append(m)

    # Several not_null rules on one column (e.g. conditional ones): the worst one counts.
    nulls = max((m.pct for m in by_dim["completeness"]), default=None)
    invalid = max((m.pct for m in by_dim["validity"]), default=None)
    complete = 1.0 if nulls is None else 1.0 - nulls / 100.0
    valid = 1.0 if invalid is None else 1.0 - invalid / 100.0

    # Default rules list different values, so their shares add up (a value is one default).
    default_share = min(1.0, sum(m.pct for m in by_dim["default"]) / 100.0)
    # Defaults are valid codes; only those above the tolerated share of records count against.
    excess = sum(
        max(0.0, complete * m.pct / 100.0 - m.threshold / 100.0) for m in by_dim["default"]
    )
    errored = [m.rule_id for m in measures if m.errored]
    score = 0.0 if errored else max(0.0, complete * valid - excess)
    return {
        "completeness": None if nulls is None else 100.0 * complete,
        "validity": None if invalid is None else 100.0 * valid,
        "default": 100.0 * (1.0 - default_share) if by_dim["default"] else None,
        "defaults_in_excess": 100.0 * excess,
        "score": 100.0 * score,
        "rules": [m.rule_id for m in measures],
        "errored": errored,
    }


def _table_coverage(rows: int | None, outcomes: list[bool]) -> float:
    """Share of expected data that arrived (DQMI: period submitted / period expected).

    An empty table was expected but not submitted; each row_count/freshness rule stands for
    one expectation, met when it passed (an errored one is unmet); with neither signal, the
    data is taken as submitted.
    """
    if rows == 0:
        return 0.0
    if outcomes:
        return sum(outcomes) / len(outcomes)
    return 1.0


def state_of(score: float | None, ran: Ran, min_pct: float = MIN_COVERAGE_PCT) -> DqmiState:
    """`insufficient` below the coverage threshold, `not_scored` with no score, else `scored`."""
    pct = ran.pct
    if pct is not None and pct < min_pct:
        return "insufficient"
    return "not_scored" if score is None else "scored"


def score_run(result: RunResult) -> Dqmi:
    """DQMI-style scores for a run; also stored in result.scores.dqmi."""
    table_rows: dict[str, int] = {t.name: t.rows for t in result.tables}
    table_names = list(table_rows)
    coverage_outcomes: dict[str, list[bool]] = {}
    measures: dict[tuple[str, str], list[Measure]] = {}
    # Items the contract defines even if none of their rules could be measured: they still
    # count towards coverage, so an empty table pulls the score down.
    expected_items: set[tuple[str, str]] = set()
    errored_items: set[tuple[str, str]] = set()
    excluded: list[Excluded] = []
    rules_total: dict[str, int] = {}
    rules_ran: dict[str, int] = {}

    for rule in result.rules:
        if rule.table not in table_names:
            table_names.append(rule.table)
        rules_total[rule.table] = rules_total.get(rule.table, 0) + 1
        rules_ran[rule.table] = rules_ran.get(rule.table, 0) + (rule.status != "error")
        dim = rule_dimension(rule)
        if dim not in DIMENSIONS:
            continue  # uniqueness, cross-field and SQL checks are outside the DQMI
        single_column = len(rule.columns) == 1
        key = (rule.table, rule.columns[0]) if single_column else None
        if dim in ITEM_DIMENSIONS and key:
            expected_items.add(key)
        if rule.status in NOT_SCORED_STATUSES:
            excluded.append(Excluded(rule_id=rule.rule_id, reason=rule.status))
            continue
        if dim == "coverage":
            # An errored coverage rule is an expectation not shown to be met.
            coverage_outcomes.setdefault(rule.table, []).append(rule.status == "passed")
            continue
        if key is None:
            excluded.append(Excluded(rule_id=rule.rule_id, reason="not a single data item"))
            continue
        if rule.status == "error":
            errored_items.add(key)
            measures.setdefault(key, []).append(error_measure(rule, dim))
            continue
        pct = rule_pct(rule.pct_violating, rule.violating_rows, rule.denominator)
        if pct is None:
            excluded.append(Excluded(rule_id=rule.rule_id, reason="no measurement"))
            continue
        measures.setdefault(key, []).append(
            Measure(rule.rule_id, rule.columns[0], dim, pct, rule.threshold)
        )

    coverage = {
        t: _table_coverage(table_rows.get(t), coverage_outcomes.get(t, [])) for t in table_names
    }
    items = [
        {"table": t, "column": c, "coverage": 100.0 * coverage[t], **item_score(ms)}
        for (t, c), ms in sorted(measures.items())
    ]

    def ran(table: str | None) -> Ran:
        def mine(t: str) -> bool:
            return table is None or t == table

        return Ran(
            rules_total=sum(n for t, n in rules_total.items() if mine(t)),
            rules_ran=sum(n for t, n in rules_ran.items() if mine(t)),
            items_total=sum(1 for t, _ in expected_items if mine(t)),
            items_ran=sum(1 for k in expected_items if mine(k[0]) and k not in errored_items),
        )

    tables: dict[str, TableScore] = {}
    for t in table_names:
        t_items = [i for i in items if i["table"] == t]
        mean_item = _mean(i["score"] for i in t_items)
        if coverage[t] == 0.0:
            t_score: float | None = 0.0  # nothing submitted: the product is 0 whatever else
        else:
            t_score = None if mean_item is None else mean_item * coverage[t]
        tables[t] = TableScore(
            score=_round(t_score),
            dimensions=_dimensions(t_items, 100.0 * coverage[t]),
            items=len(t_items),
            ran=ran(t),
        )

    mean_item = _mean(i["score"] for i in items)
    # The DQMI averages coverage over the same data items it averages scores over.
    mean_cov = _mean(coverage[t] for t, _ in expected_items)
    overall = _round(None if mean_item is None or mean_cov is None else mean_item * mean_cov)
    run_ran = ran(None)
    dqmi = Dqmi(
        method=METHOD,
        state=state_of(overall, run_ran),
        score=overall,
        ran=run_ran,
        dimensions=_dimensions(items, None if mean_cov is None else 100.0 * mean_cov),
        tables=tables,
        items=[Item(**_rounded_item(i)) for i in items],
        excluded=excluded,
    )
    result.scores.dqmi = dqmi
    return dqmi


def _dimensions(items: list[dict[str, Any]], coverage: float | None) -> Dimensions:
    means = {d: _round(_mean(i[d] for i in items)) for d in ITEM_DIMENSIONS}
    return Dimensions(coverage=_round(coverage), **means)


def _rounded_item(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _round(v) if isinstance(v, float) else v for k, v in item.items()}


def fit_for_purpose(dqmi: Dqmi, target: float) -> dict[str, bool | None]:
    """Per table: does its score reach the target (None when it has no score)?

    The DQMI publishes no pass mark, so the target is the caller's (e.g. a local DQ policy).
    A table whose rules or items ran below the coverage threshold is never fit (False).
    """
    out: dict[str, bool | None] = {}
    for name, t in dqmi.tables.items():
        pct = t.ran.pct
        if pct is not None and pct < dqmi.min_coverage_pct:
            out[name] = False
        else:
            out[name] = None if t.score is None else t.score >= target
    return out
