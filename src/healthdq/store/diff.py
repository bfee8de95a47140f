"""What changed between two runs: rules newly failing or fixed, score and metric changes.

Rules are matched by (table, rule id), scores by their path in the scores document (items and
tables by name, not position), metrics by their key (name, table, column, rule, group). Works on
any two RunResults, stored or not.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, Field

from healthdq.results import Metric, RunResult, is_failing


class RuleChange(BaseModel):
    table: str
    rule_id: str
    severity: str
    before: str | None  # status in the first run (None: the rule was not there)
    after: str | None
    pct_before: float | None = None
    pct_after: float | None = None


class ValueChange(BaseModel):
    key: str
    before: float | str | None
    after: float | str | None


class RunDiff(BaseModel):
    run_a: str
    run_b: str
    newly_failing: list[RuleChange] = Field(default_factory=list)
    fixed: list[RuleChange] = Field(default_factory=list)
    added_rules: list[RuleChange] = Field(default_factory=list)
    removed_rules: list[RuleChange] = Field(default_factory=list)
    scores: list[ValueChange] = Field(default_factory=list)
    metrics: list[ValueChange] = Field(default_factory=list)


def diff_runs(a: RunResult, b: RunResult) -> RunDiff:
    """Changes from run `a` to run `b`."""
    out = RunDiff(run_a=a.run_id, run_b=b.run_id)
    rules_a = {(r.table, r.rule_id): r for r in a.rules}
    rules_b = {(r.table, r.rule_id): r for r in b.rules}
    for key, rb in rules_b.items():
        ra = rules_a.get(key)
        change = RuleChange(
            table=rb.table,
            rule_id=rb.rule_id,
            severity=rb.severity,
            before=ra.status if ra else None,
            after=rb.status,
            pct_before=ra.pct_violating if ra else None,
            pct_after=rb.pct_violating,
        )
        if ra is None:
            out.added_rules.append(change)
            if is_failing(rb.status):
                out.newly_failing.append(change)
        elif is_failing(rb.status) and not is_failing(ra.status):
            out.newly_failing.append(change)
        elif is_failing(ra.status) and not is_failing(rb.status):
            out.fixed.append(change)
    for key, ra in rules_a.items():
        if key not in rules_b:
            out.removed_rules.append(
                RuleChange(table=ra.table, rule_id=ra.rule_id, severity=ra.severity,
                           before=ra.status, after=None, pct_before=ra.pct_violating)
            )  # fmt: skip
    out.scores = _changes(_leaves(_scores(a)), _leaves(_scores(b)))
    out.metrics = _changes(_metric_map(a.metrics), _metric_map(b.metrics))
    return out


def _scores(result: RunResult) -> Any:
    # Generic over the scores' shape (a dict today, typed models later): their JSON form.
    return json.loads(result.model_dump_json(include={"scores"}))["scores"]


def _leaves(value: Any, path: str = "") -> dict[str, float | str | None]:
    """Numeric leaves of a scores document by path; list items named by their identity."""
    out: dict[str, float | str | None] = {}
    if isinstance(value, dict):
        for k, v in value.items():
            out.update(_leaves(v, f"{path}.{k}" if path else str(k)))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            name = _item_name(v) or str(i)
            out.update(_leaves(v, f"{path}[{name}]"))
    elif isinstance(value, int | float) and not isinstance(value, bool):
        out[path] = float(value)
    return out


def _item_name(item: Any) -> str | None:
    if not isinstance(item, dict):
        return None
    parts = [str(item[k]) for k in ("table", "column", "group", "name") if item.get(k) is not None]
    return ".".join(parts) or None


def _metric_map(metrics: list[Metric]) -> dict[str, float | str | None]:
    out: dict[str, float | str | None] = {}
    for m in metrics:
        where = ".".join(p for p in (m.table, m.column) if p)
        key = m.name + (f" {where}" if where else "")
        key += f" rule={m.rule}" if m.rule else ""
        key += f" group={m.group}" if m.group else ""
        out[key] = m.value if m.value is not None else m.text
    return out


def _changes(
    a: dict[str, float | str | None], b: dict[str, float | str | None]
) -> list[ValueChange]:
    return [
        ValueChange(key=k, before=a.get(k), after=b.get(k))
        for k in sorted({*a, *b})
        if a.get(k) != b.get(k)
    ]
