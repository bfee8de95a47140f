"""Builders for hand-made RunResults used by the scoring tests."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from healthdq.results import (
    ColumnInfo,
    GroupBreakdown,
    GroupRow,
    RuleResult,
    RunResult,
    TableResult,
)
from healthdq.rules.model import KIND_DEFAULTS

_counter = 0


def rule(
    table: str,
    kind: str,
    column: str | list[str] | None = None,
    *,
    violating: int | None = None,
    denominator: int | None = None,
    status: str | None = None,
    threshold: float = 0.0,
    rule_id: str | None = None,
    **extra: Any,
) -> RuleResult:
    """A RuleResult with the kind's default metadata; % and status derived from the counts."""
    global _counter
    _counter += 1
    cat, ctx, dim = KIND_DEFAULTS[kind]
    columns = [column] if isinstance(column, str) else list(column or [])
    pct = None
    if violating is not None and denominator:
        pct = 100.0 * violating / denominator
    if status is None:
        status = "failed" if (pct or 0.0) > threshold else "passed"
    fields: dict[str, Any] = {
        "rule_id": rule_id or f"{table}.{kind}.{_counter}",
        "table": table,
        "kind": kind,
        "columns": columns,
        "category": cat.value,
        "context": ctx.value,
        "dimension": dim.value,
        "threshold": threshold,
        "status": status,
        "violating_rows": violating,
        "denominator": denominator,
        "pct_violating": pct,
    }
    fields.update(extra)
    return RuleResult(**fields)


def run(
    rules: list[RuleResult],
    tables: dict[str, int] | None = None,
    groups: list[GroupBreakdown] | None = None,
) -> RunResult:
    """A RunResult over `tables` (name -> row count) with the given rules."""
    now = datetime(2024, 4, 1, 12, 0, 0)
    return RunResult(
        healthdq_version="0.1.0",
        run_id="test",
        contract="test",
        contract_version="1",
        started_at=now,
        finished_at=now,
        run_date="2024-04-01",
        engine="duckdb",
        tables=[
            TableResult(name=n, source=f"{n}.csv", rows=r, columns=[ColumnInfo(name="x", type="t")])
            for n, r in (tables or {}).items()
        ],
        rules=rules,
        groups=groups or [],
    )


def group_row(
    group: str | None,
    rule_id: str,
    violating: int | None,
    denominator: int | None,
    suppressed: bool = False,
) -> GroupRow:
    pct = 100.0 * violating / denominator if violating is not None and denominator else None
    return GroupRow(
        group=group,
        rule_id=rule_id,
        violating_rows=violating,
        denominator=denominator,
        pct_violating=pct,
        suppressed=suppressed,
    )
