"""A run's metrics: per table, column, rule and group, measured in the scans that already run.

Column basics (rows, nulls, blanks, min, max, mean) come from aggregates of the fused scan;
exact distinct counts and top values of code columns from the per-distinct grouping; rule and
group figures from the results. History, anomaly alerts and drift read these (store/).
"""

from __future__ import annotations

import json
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from healthdq.results.model import Metric, RunResult

TOP_VALUES = 10


def _metric(
    name: str,
    value: Any,
    table: str | None = None,
    column: str | None = None,
    rule: str | None = None,
    group: str | None = None,
) -> Metric:
    """A number goes in `value`; a date, time or text in `text`."""
    where = Metric(name=name, table=table, column=column, rule=rule, group=group)
    if isinstance(value, bool | int | float | Decimal):
        where.value = float(value)
    elif isinstance(value, datetime | date | time):
        where.text = value.isoformat()
    elif value is not None:
        where.text = str(value)
    return where


def column_metrics(
    table: str,
    rows: int,
    values: dict[str, dict[str, Any]],
    value_counts: dict[str, list[tuple[str, int]]],
) -> list[Metric]:
    """Table rows, then each column's measured basics, distinct count and top values."""
    out = [_metric("rows", rows, table=table)]
    for column, measured in values.items():
        for name, value in measured.items():
            if value is not None:
                out.append(_metric(name, value, table=table, column=column))
        counts = value_counts.get(column)
        if counts is not None:
            out.append(_metric("distinct", len(counts), table=table, column=column))
            top = sorted(counts, key=lambda vc: (-vc[1], vc[0]))[:TOP_VALUES]
            out.append(
                Metric(
                    name="top_values",
                    text=json.dumps([[v, c] for v, c in top], ensure_ascii=False),
                    table=table,
                    column=column,
                )
            )
    return out


def result_metrics(result: RunResult) -> list[Metric]:
    """Per rule (violating, denominator, % violating) and per group, as the results say.

    Built after small-number suppression: a suppressed group figure is absent, not stored.
    """
    out: list[Metric] = []
    for rule in result.rules:
        for name in ("violating_rows", "denominator", "pct_violating"):
            value = getattr(rule, name)
            if value is not None:
                out.append(_metric(name, value, table=rule.table, rule=rule.rule_id))
    for breakdown in result.groups:
        for row in breakdown.rows:
            if row.suppressed:
                continue
            group = f"{breakdown.column}={row.group}"
            for name in ("violating_rows", "denominator", "pct_violating"):
                value = getattr(row, name)
                if value is not None:
                    out.append(
                        _metric(name, value, table=breakdown.table, rule=row.rule_id, group=group)
                    )
    return out
