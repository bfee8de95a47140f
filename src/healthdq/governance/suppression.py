"""Small-number suppression (NHS statistical disclosure control) of every table of counts.

Two modes, both applied by the pipeline only, before scoring (no score is derived from a
hidden figure):

- Default: a non-zero violating count below the contract's `small_number` (default 7) in one
  group of a by-group breakdown is hidden (count and %) and the row marked `suppressed`.
- A dataset marked **identifiable** (contract `identifiable: true` or `check --identifiable`)
  gets a policy (`suppression:` in the contract or `--suppression`):
  - `hes`: counts 1-7 shown as `*` below national level (HES Analysis Guide), i.e.
    `threshold:8`;
  - `threshold:N`: counts 1..N-1 suppressed;
  - `round5`: every count rounded to the nearest 5 (0-2 -> 0, 3-7 -> 5, ...), percentages
    recomputed from the rounded counts.
  With a threshold, suppression is also *secondary*: a published total (the rule's count for
  the whole dataset, the table's row count) minus the published groups must not give back a
  hidden cell, so when a table has one hidden cell the next-smallest group is hidden too; a
  group whose size is small is hidden in every rule; a group where nearly all rows violate
  (rows - violating is small) is hidden as well, since its size minus its count would show the
  small number.

"Below national level" here: the figures for the whole dataset (a rule's violating rows and
denominator, a table's rows) are the margins and stay published, except in the one case where
a breakdown has a single group to hide and no other group to hide with it: then the rule's
whole-dataset count is hidden too.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from healthdq.errors import HealthdqError
from healthdq.results import GroupBreakdown, RunResult

K = TypeVar("K", bound=Hashable)

PRESETS = ("hes", "round5", "threshold:N")


@dataclass(frozen=True)
class Policy:
    """A suppression policy: counts 1..threshold-1 hidden (0: none), or rounded to `rounding`."""

    name: str
    threshold: int = 0
    rounding: int = 0


def parse_policy(text: str) -> Policy:
    """`hes`, `round5` or `threshold:N` (N >= 2)."""
    value = text.strip().lower()
    if value == "hes":
        return Policy("hes", threshold=8)
    if value == "round5":
        return Policy("round5", rounding=5)
    m = re.fullmatch(r"threshold:([0-9]+)", value)
    if m and int(m.group(1)) >= 2:
        return Policy(value, threshold=int(m.group(1)))
    raise HealthdqError(
        f"suppression policy '{text}' is not one of: hes, round5, threshold:N (N >= 2)"
    )


def round_to(value: int, base: int) -> int:
    """Nearest multiple of `base`, halves up (for base 5: 0-2 -> 0, 3-7 -> 5)."""
    return base * ((value + base // 2) // base)


def protect(
    cells: Mapping[K, int],
    threshold: int,
    primary: set[K] | frozenset[K] = frozenset(),
) -> tuple[set[K], bool]:
    """Which cells of a one-way table of counts (whose total is published) to hide.

    Primary: counts in 1..threshold-1, and the cells in `primary`. Secondary: if one cell is
    hidden, or the hidden cells add up to 0, the next-smallest cell (non-zero first) is hidden
    too, so the total minus the published cells never gives back a hidden one. Returns the
    hidden cells and whether the total itself must be hidden (no cell left to hide with).
    """
    hidden = {k for k, v in cells.items() if 0 < v < threshold} | set(primary)
    if not hidden:
        return hidden, False
    while len(hidden) < 2 or sum(cells[k] for k in hidden) == 0:
        rest = [k for k in cells if k not in hidden]
        if not rest:
            return hidden, True
        nonzero = [k for k in rest if cells[k] > 0]
        pool = nonzero or rest
        hidden.add(min(pool, key=lambda k: (cells[k], str(k))))
    return hidden, False


def suppress_small_numbers(result: RunResult, small_number: int) -> RunResult:
    """Hide group counts in 1..small_number-1; returns the same result."""
    for breakdown in result.groups:
        for row in breakdown.rows:
            v = row.violating_rows
            if v is not None and 0 < v < small_number:
                row.violating_rows = None
                row.pct_violating = None
                row.suppressed = True
    return result


def apply_policy(result: RunResult, policy: Policy) -> RunResult:
    """Apply `policy` to every table of counts in `result` (identifiable data); returns it."""
    result.suppression = policy.name
    if policy.rounding:
        _round_all(result, policy.rounding)
        return result
    rules = {(r.table, r.rule_id): r for r in result.rules}
    for breakdown in result.groups:
        _protect_breakdown(breakdown, rules, policy.threshold)
    return result


def _hide(row: object) -> None:
    row.violating_rows = None  # type: ignore[attr-defined]
    row.pct_violating = None  # type: ignore[attr-defined]
    row.suppressed = True  # type: ignore[attr-defined]


def _protect_breakdown(
    breakdown: GroupBreakdown, rules: Mapping[tuple[str, str], object], t: int
) -> None:
    # Group sizes, one table per breakdown (the same in every rule, as group scores show them).
    sizes: dict[str | None, int] = {}
    for row in breakdown.rows:
        if row.denominator is not None:
            sizes[row.group] = max(sizes.get(row.group, 0), row.denominator)
    small_groups, _ = protect(sizes, t)
    by_rule: dict[str, list] = {}
    for row in breakdown.rows:
        by_rule.setdefault(row.rule_id, []).append(row)
    for rule_id, rows in by_rule.items():
        # The true counts, before any is hidden: what the published total constrains.
        cells = {row.group: row.violating_rows or 0 for row in rows}
        # Nearly every row violating: size - count would show the small number.
        complement = {
            row.group
            for row in rows
            if row.violating_rows is not None
            and row.denominator is not None
            and 0 < row.denominator - row.violating_rows < t
        }
        for row in rows:
            if row.group in small_groups:
                _hide(row)
                row.denominator = None
        # A hidden size hides the count: an unknown cell of this table already.
        hidden, whole = protect(cells, t, primary=complement | (small_groups & set(cells)))
        for row in rows:
            if row.group in hidden and not row.suppressed:
                _hide(row)
        if whole:
            rule = rules.get((breakdown.table, rule_id))
            if rule is not None:
                rule.violating_rows = None  # type: ignore[attr-defined]
                rule.pct_violating = None  # type: ignore[attr-defined]


def _round_all(result: RunResult, base: int) -> None:
    def pct(v: int | None, n: int | None) -> float | None:
        if v is None or not n:
            return None
        return round(100.0 * v / n, 4)

    for rule in result.rules:
        if rule.violating_rows is not None:
            rule.violating_rows = round_to(rule.violating_rows, base)
        if rule.denominator is not None:
            rule.denominator = round_to(rule.denominator, base)
        if rule.violating_rows is not None:
            rule.pct_violating = pct(rule.violating_rows, rule.denominator)
    for breakdown in result.groups:
        for row in breakdown.rows:
            if row.violating_rows is not None:
                row.violating_rows = round_to(row.violating_rows, base)
            if row.denominator is not None:
                row.denominator = round_to(row.denominator, base)
            row.pct_violating = pct(row.violating_rows, row.denominator)


# A profile's extremes: each is one record's value when few rows hold it.
EXTREMES = ("min", "max", "date_min", "date_max")


def protect_profile(profile: Any, policy: Policy, top_counts: Mapping[tuple[str, str], int]) -> Any:
    """Apply `policy` to a TableProfile of identifiable data, in place (and return it).

    - Most frequent values, and the extremes (min, max, date range): a value held by
      1..threshold-1 rows is not shown (its existence is the disclosure); `top_counts` are its
      rows over the whole table, (column, value) -> rows. With round5, values whose count
      rounds to 0 (1-2 rows) are not shown.
    - Placeholder counts per value are a breakdown of the column's placeholder rows: small cells
      are hidden with secondary suppression (`protect`); when nothing is left to hide with, the
      breakdown (and which placeholder values occur) goes and the column total stays, as a
      whole-table figure does in `check`. With round5 every count is rounded.
    Whole-table figures (rows, nulls, blanks, future dates) stay published under a threshold,
    as a rule's whole-dataset count does (module docstring); round5 rounds them too.
    """
    threshold = policy.threshold or (policy.rounding // 2 + 1 if policy.rounding else 0)
    hidden_values = 0
    for col in profile.columns:
        for field in EXTREMES:
            value = getattr(col, field)
            # Not found as written (a number or date printed another way): hidden, to be safe.
            if value is not None and top_counts.get((col.name, str(value)), 0) < threshold:
                setattr(col, field, None)
                hidden_values += 1
        kept = [v for v in col.top_values if top_counts.get((col.name, v), 0) >= threshold]
        if len(kept) < len(col.top_values):
            hidden_values += len(col.top_values) - len(kept)
            col.top_values = kept
            col.all_values_seen = False
        if policy.rounding:
            base = policy.rounding
            col.placeholders = {v: round_to(n, base) for v, n in col.placeholders.items()}
            for field in ("count", "nulls", "blanks", "placeholder_rows", "future_dates"):
                setattr(col, field, round_to(getattr(col, field), base))
            continue
        hidden, whole = protect(col.placeholders, threshold)
        if whole:
            col.placeholders = {}
            col.placeholder_values = []
        elif hidden:
            col.placeholders = {v: n for v, n in col.placeholders.items() if v not in hidden}
    if policy.rounding:
        profile.rows = round_to(profile.rows, policy.rounding)
        for col in profile.columns:
            col.null_pct = round(100.0 * col.nulls / profile.rows, 4) if profile.rows else 0.0
    profile.suppression = policy.name
    if hidden_values:
        profile.warnings.append(
            f"small-number suppression ({policy.name}): {hidden_values} values (most frequent, "
            f"min, max) held by fewer than {threshold} rows are not shown"
        )
    return profile
