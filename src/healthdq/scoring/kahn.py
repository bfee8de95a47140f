"""Kahn framework overview, laid out like the OHDSI Data Quality Dashboard's overview table.

Rows are the Kahn categories (conformance, completeness, plausibility), columns the contexts
(verification, validation) and their total. As in DQD, % passed is passed / (passed + failed):
rules that errored or did not apply say nothing about the data, so they are counted but not
in the percentage.
"""

from __future__ import annotations

from healthdq.results import RuleResult
from healthdq.results.scores import KahnCounts, KahnOverview, KahnRow
from healthdq.rules.model import KIND_DEFAULTS

CATEGORIES = ("conformance", "completeness", "plausibility")
CONTEXTS = ("verification", "validation")
STATUSES = ("passed", "failed", "not_applicable", "error")


def _empty() -> dict[str, int]:
    return {s: 0 for s in STATUSES}


def _finish(counts: dict[str, int]) -> KahnCounts:
    decided = counts["passed"] + counts["failed"]
    return KahnCounts(
        **counts,
        total=sum(counts[s] for s in STATUSES),
        pct_passed=round(100.0 * counts["passed"] / decided, 2) if decided else None,
    )


def _category_context(rule: RuleResult) -> tuple[str | None, str | None]:
    """The rule's Kahn category and context, falling back to its kind's defaults."""
    defaults = KIND_DEFAULTS.get(rule.kind)
    category = rule.category or (defaults[0].value if defaults else None)
    context = rule.context or (defaults[1].value if defaults else None)
    return category, context


def kahn_overview(rules: list[RuleResult]) -> KahnOverview:
    """Counts of passed/failed/not_applicable/error and % passed per category x context.

    The one place Kahn counts are made; every report and the OMOP summary read its result.
    Rules whose category or context is unknown count only in `total` and `uncategorised`.
    """
    cells = {cat: {ctx: _empty() for ctx in CONTEXTS} for cat in CATEGORIES}
    uncategorised = _empty()
    total = _empty()
    for rule in rules:
        total[rule.status] += 1
        category, context = _category_context(rule)
        if category in cells and context in CONTEXTS:
            cells[category][context][rule.status] += 1
        else:
            uncategorised[rule.status] += 1

    categories = {
        cat: KahnRow(
            verification=_finish(cells[cat]["verification"]),
            validation=_finish(cells[cat]["validation"]),
            total=_finish({s: sum(cells[cat][c][s] for c in CONTEXTS) for s in STATUSES}),
        )
        for cat in CATEGORIES
    }
    contexts = {
        ctx: _finish({s: sum(cells[cat][ctx][s] for cat in CATEGORIES) for s in STATUSES})
        for ctx in CONTEXTS
    }
    return KahnOverview(
        categories=categories,
        contexts=contexts,
        total=_finish(total),
        uncategorised=_finish(uncategorised),
    )
