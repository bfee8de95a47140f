"""Views over a RunResult shared by the terminal and HTML reports.

Scores are typed (results/scores.py); the Kahn overview is taken from the result, or counted by
scoring/kahn.py when the run was not scored, so every output counts the same way.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from healthdq.results import Dqmi, GroupBreakdown, RuleResult, RunResult
from healthdq.results.scores import KahnCounts

SEVERITY_RANK: dict[str, int] = {"fatal": 3, "error": 2, "warning": 1, "info": 0}
SEVERITIES: tuple[str, ...] = ("fatal", "error", "warning", "info")
STATUSES: tuple[str, ...] = ("failed", "error", "passed", "not_applicable")
STATUS_LABEL: dict[str, str] = {
    "passed": "passed",
    "failed": "failed",
    "error": "error",
    "not_applicable": "n/a",
}
DIMENSIONS: tuple[str, ...] = ("completeness", "validity", "default", "coverage")
KAHN_CATEGORIES: tuple[str, ...] = ("conformance", "completeness", "plausibility")
KAHN_CONTEXTS: tuple[str, ...] = ("verification", "validation")
COUNT_KEYS: tuple[str, ...] = ("passed", "failed", "not_applicable", "error")


def column_label(column: str, bindings: dict[str, str]) -> str:
    """The user's column name, with the pack's beside it when they differ: 'NHSNO (nhs_number)'."""
    source = bindings.get(column, column)
    return column if source == column else f"{source} ({column})"


def num(value: Any) -> float | None:
    """A finite float, or None for missing/non-numeric/NaN."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def severity_rank(severity: str) -> int:
    return SEVERITY_RANK.get(severity, -1)


def status_counts(result: RunResult) -> dict[str, int]:
    counts = dict.fromkeys(STATUSES, 0)
    for rule in result.rules:
        counts[rule.status] = counts.get(rule.status, 0) + 1
    return counts


def duration_seconds(result: RunResult) -> float:
    return max((result.finished_at - result.started_at).total_seconds(), 0.0)


def total_rows(result: RunResult) -> int:
    return sum(t.rows for t in result.tables)


def problem_rules(result: RunResult) -> list[RuleResult]:
    """Failed and errored rules, most severe first, then highest % violating."""
    rules = [r for r in result.rules if r.status in ("failed", "error")]

    def key(rule: RuleResult) -> tuple[int, float, bool, str, str]:
        pct = num(rule.pct_violating)
        return (
            -severity_rank(rule.severity),
            -(pct if pct is not None else -1.0),
            rule.status != "failed",
            rule.table,
            rule.rule_id,
        )

    return sorted(rules, key=key)


def dqmi(result: RunResult) -> Dqmi | None:
    return result.scores.dqmi


def overall_score(result: RunResult) -> float | None:
    """The DQMI score as computed (also when insufficient: check `dqmi(result).state`)."""
    d = result.scores.dqmi
    return None if d is None else num(d.score)


def dimension_scores(result: RunResult) -> dict[str, float | None]:
    """The four DQMI dimensions in their usual order."""
    d = result.scores.dqmi
    if d is None:
        return {}
    dims = d.dimensions.model_dump()
    return {name: num(dims[name]) for name in DIMENSIONS}


def ran_text(d: Dqmi) -> str:
    """'44 of 46 rules (95.65%) and 28 of 29 data items (96.55%) ran' (the coverage line)."""
    ran = d.ran

    def part(n: int, total: int, pct: float | None, what: str) -> str:
        return f"{n:,} of {total:,} {what}" + ("" if pct is None else f" ({pct:g}%)")

    rules = part(ran.rules_ran, ran.rules_total, ran.rules_pct, "rules")
    items = part(ran.items_ran, ran.items_total, ran.items_pct, "data items")
    return f"{rules} and {items} ran"


def _counts(source: KahnCounts) -> dict[str, int]:
    return {k: int(getattr(source, k)) for k in COUNT_KEYS}


def kahn_overview(result: RunResult) -> dict[str, dict[str, dict[str, int]]]:
    """category -> context ('verification', 'validation', 'total') -> status counts.

    From scores.kahn, or counted by scoring/kahn.py for an unscored result. Rules without a
    category or context appear under "uncategorised" (in its "total" only).
    """
    from healthdq.scoring.kahn import kahn_overview as count

    kahn = result.scores.kahn or count(result.rules)
    out: dict[str, dict[str, dict[str, int]]] = {}
    for category in KAHN_CATEGORIES:
        row = kahn.categories.get(category)
        out[category] = {
            "verification": _counts(row.verification) if row else dict.fromkeys(COUNT_KEYS, 0),
            "validation": _counts(row.validation) if row else dict.fromkeys(COUNT_KEYS, 0),
            "total": _counts(row.total) if row else dict.fromkeys(COUNT_KEYS, 0),
        }
    out["uncategorised"] = {
        "verification": dict.fromkeys(COUNT_KEYS, 0),
        "validation": dict.fromkeys(COUNT_KEYS, 0),
        "total": _counts(kahn.uncategorised),
    }
    return out


def pct_passed(counts: dict[str, int]) -> float | None:
    """% passed among rules that ran to a verdict (as OHDSI DQD: n/a and errors excluded)."""
    decided = counts.get("passed", 0) + counts.get("failed", 0)
    return None if decided == 0 else 100.0 * counts.get("passed", 0) / decided


@dataclass
class GroupCell:
    pct: float | None
    violating: int | None
    denominator: int | None
    suppressed: bool
    failed: bool


@dataclass
class GroupLeagueRow:
    group: str
    score: float | None = None
    rows: int | None = None
    failed: int = 0
    suppressed: int = 0
    rank: int | None = None
    cells: dict[str, GroupCell] = field(default_factory=dict)
    from_scorer: bool = False

    @property
    def all_suppressed(self) -> bool:
        """Every figure of the group was suppressed: its size is itself a small number."""
        return self.suppressed > 0 and self.rows is None


MISSING_GROUP = "(missing)"


def group_label(group: Any) -> str:
    return MISSING_GROUP if group is None or group == "" else str(group)


def group_league(breakdown: GroupBreakdown, rules: list[RuleResult]) -> list[GroupLeagueRow]:
    """One row per group, worst score first (unscored groups last), as the scorer ranks them.

    Score, rows, failed and suppressed counts come from the scorer's league table when present
    (GroupBreakdown.scores); otherwise they are derived from the group rows. A group fails a
    rule when its % violating exceeds the rule's threshold. Suppressed cells are never counted
    as failed, so small numbers cannot be inferred from the counts.
    """
    by_id = {r.rule_id: r for r in rules}
    league: dict[str, GroupLeagueRow] = {}

    def row_for(group: Any) -> GroupLeagueRow:
        label = group_label(group)
        if label not in league:
            league[label] = GroupLeagueRow(label)
        return league[label]

    for entry in breakdown.scores:
        row = row_for(entry.group)
        row.from_scorer = True
        row.score = num(entry.score)
        row.rows = entry.rows
        row.rank = entry.rank
        row.failed = entry.rules_failed
        row.suppressed = entry.suppressed_rules

    derived: dict[str, tuple[int, int, int | None]] = {}
    for cell in breakdown.rows:
        row = row_for(cell.group)
        rule = by_id.get(cell.rule_id)
        threshold = rule.threshold if rule else 0.0
        pct = num(cell.pct_violating)
        if pct is None and cell.violating_rows is not None and cell.denominator:
            pct = 100.0 * cell.violating_rows / cell.denominator
        measured = rule is None or rule.status not in ("error", "not_applicable")
        failed = not cell.suppressed and measured and pct is not None and pct > threshold
        row.cells[cell.rule_id] = GroupCell(
            pct, cell.violating_rows, cell.denominator, cell.suppressed, failed
        )
        n_failed, n_suppressed, n_rows = derived.get(row.group, (0, 0, None))
        if cell.denominator is not None and not cell.suppressed:
            # The largest denominator is the group's row count (not_null rules see every row).
            n_rows = max(n_rows or 0, cell.denominator)
        derived[row.group] = (n_failed + failed, n_suppressed + cell.suppressed, n_rows)

    for label, (n_failed, n_suppressed, n_rows) in derived.items():
        row = league[label]
        if not row.from_scorer:
            row.failed, row.suppressed, row.rows = n_failed, n_suppressed, n_rows

    def order(row: GroupLeagueRow) -> tuple[bool, float, int, str]:
        return (row.score is None, row.score or 0.0, -row.failed, row.group)

    ordered = sorted(league.values(), key=order)
    for position, row in enumerate(ordered, start=1):
        if row.rank is None and row.score is not None:
            row.rank = position
    return ordered


def write_text_atomic(target: Path, text: str) -> None:
    """Write via a temporary file and rename, so readers never see a half-written file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    # open() (not mkstemp) so the file gets the user's usual umask permissions.
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
