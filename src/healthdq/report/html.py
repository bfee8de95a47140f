"""Self-contained offline HTML report.

One file, no network: CSS and vanilla JS are inline, charts are SVG drawn here in Python, and a
Content-Security-Policy forbids the page from loading anything, so it can be opened from a
shared drive or an email attachment inside an NHS network. Everything from the data is escaped
by Jinja autoescape; no data is put inside <script>, so no value can break out into code.
"""

from __future__ import annotations

import base64
import hashlib
import math
import os
import re
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
import markupsafe

from healthdq.report._common import (
    COUNT_KEYS,
    KAHN_CATEGORIES,
    KAHN_CONTEXTS,
    SEVERITIES,
    STATUS_LABEL,
    GroupLeagueRow,
    dimension_scores,
    dqmi,
    duration_seconds,
    group_league,
    kahn_overview,
    num,
    pct_passed,
    problem_rules,
    ran_text,
    severity_rank,
    status_counts,
    total_rows,
    write_text_atomic,
)
from healthdq.results import GroupBreakdown, RuleResult, RunResult

_ITEM_LABELS = {
    "completeness": "Completeness",
    "validity": "Validity",
    "default": "Not default",
    "defaults_in_excess": "Defaults in excess",
    "coverage": "Coverage",
    "score": "Item score",
}
_CHART_BARS = 15
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_GROUP_RULE_COLUMNS = 8
# Status words plus a symbol, so status never relies on colour alone.
_STATUS_SYMBOL = {"passed": "✓", "failed": "✗", "error": "!", "not_applicable": "–"}
_STATUS_ORDER = {"failed": 0, "error": 1, "passed": 2, "not_applicable": 3}


def _band(value: float | None) -> tuple[str, str]:
    """CSS class and words for a 0-100 score (the words carry the meaning, not the colour)."""
    if value is None:
        return "na", "not scored"
    if value >= 90:
        return "good", "good"
    if value >= 75:
        return "fair", "needs attention"
    return "poor", "poor"


def _fmt_num(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def _fmt_pct(value: float | None, digits: int = 2) -> str:
    return "" if value is None else f"{value:.{digits}f}%"


def _fmt_score(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}"


def _fmt_time(value: datetime) -> str:
    text = value.strftime("%Y-%m-%d %H:%M:%S")
    offset = value.utcoffset()
    if offset is None:
        return text
    return text + (" UTC" if not offset else value.strftime(" %z"))


def _fmt_duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m {secs:02d}s" if hours else f"{minutes}m {secs:02d}s"


@dataclass
class Cell:
    """A sample value with how to show it: missing and empty values look different."""

    text: str
    kind: str  # value | null | empty


def _cell(value: Any) -> Cell:
    if value is None:
        return Cell("NULL", "null")
    if value == "":
        return Cell('""', "empty")
    return Cell(str(value), "value")


def _anchor(rule_id: str, index: int, used: set[str]) -> str:
    base = "rule-" + re.sub(r"[^A-Za-z0-9_-]", "_", rule_id)
    anchor = base if base not in used else f"{base}-{index}"
    used.add(anchor)
    return anchor


def _label(column: str, bindings: dict[str, str]) -> str:
    """The user's column name, with the pack's beside it when they differ."""
    source = bindings.get(column, column)
    return column if source == column else f"{source} ({column})"


def _rule_view(
    rule: RuleResult, anchor: str, bindings: dict[str, str] | None = None
) -> dict[str, Any]:
    bindings = bindings or {}
    pct = num(rule.pct_violating)
    columns: list[str] = []
    for sample in rule.samples:
        for column in sample.values:
            if column not in columns:
                columns.append(column)
    samples = [
        {
            "row": "" if s.row is None else f"{s.row:,}",
            "cells": [
                _cell(s.values.get(c)) if c in s.values else Cell("", "empty") for c in columns
            ],
        }
        for s in rule.samples
    ]
    if rule.violating_rows is not None:
        violating = _fmt_num(rule.violating_rows)
        if rule.denominator is not None:
            violating += f" / {rule.denominator:,}"
    elif rule.observed is not None:
        violating = f"observed: {rule.observed}"
    else:
        violating = ""
    search = " ".join(
        str(part)
        for part in (
            rule.rule_id,
            rule.table,
            rule.kind,
            rule.description,
            " ".join(rule.columns),
            rule.category or "",
            rule.subcategory or "",
            rule.context or "",
            rule.dimension or "",
            rule.message or "",
        )
    ).lower()
    return {
        "anchor": anchor,
        "id": rule.rule_id,
        "table": rule.table,
        "kind": rule.kind,
        "description": rule.description,
        "columns": ", ".join(_label(c, bindings) for c in rule.columns),
        "category": rule.category or "",
        "subcategory": rule.subcategory or "",
        "context": rule.context or "",
        "dimension": rule.dimension or "",
        "severity": rule.severity,
        "severity_rank": severity_rank(rule.severity),
        "status": rule.status,
        "status_label": STATUS_LABEL.get(rule.status, rule.status),
        "status_symbol": _STATUS_SYMBOL.get(rule.status, "?"),
        "status_rank": _STATUS_ORDER.get(rule.status, 9),
        "violating": violating,
        "violating_sort": rule.violating_rows if rule.violating_rows is not None else -1,
        "pct": _fmt_pct(pct),
        "pct_sort": pct if pct is not None else -1,
        "threshold": f"{rule.threshold:g}%",
        "threshold_sort": rule.threshold,
        "message": rule.message or "",
        "sample_columns": [_label(c, bindings) for c in columns],
        "samples": samples,
        "search": search,
    }


def _chart(rules: list[RuleResult], anchors: dict[int, str]) -> dict[str, Any] | None:
    """Horizontal bar chart of the rules with the highest % violating (SVG geometry)."""
    failing = [r for r in rules if r.status == "failed" and (num(r.pct_violating) or 0) > 0]
    failing.sort(key=lambda r: (-(num(r.pct_violating) or 0.0), r.rule_id))
    failing = failing[:_CHART_BARS]
    if not failing:
        return None
    multi_table = len({r.table for r in rules}) > 1
    top = max(num(r.pct_violating) or 0.0 for r in failing)
    # A "nice" axis maximum so 0.3% violations are visible yet the scale is easy to read.
    scale = next((n for n in (0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 25, 50, 100) if top <= n), top)
    label_w, bar_w, value_w, bar_h, gap, top_pad = 240, 420, 70, 18, 8, 8
    bars = []
    for i, rule in enumerate(failing):
        pct = num(rule.pct_violating) or 0.0
        width = max(bar_w * min(pct / scale, 1.0), 1.0)
        label = rule.rule_id
        if multi_table and not label.startswith(rule.table + "."):
            label = f"{rule.table}.{label}"
        bars.append(
            {
                "y": top_pad + i * (bar_h + gap),
                "width": round(width, 1),
                "label": label if len(label) <= 34 else label[:33] + "…",
                "full": f"{rule.rule_id} ({rule.table}, {rule.severity}): {pct:.2f}% violating",
                "value": _fmt_pct(pct),
                "severity": rule.severity,
                "anchor": anchors.get(id(rule), ""),
            }
        )
    height = top_pad + len(bars) * (bar_h + gap) + 22
    ticks = [
        {"x": round(label_w + bar_w * f, 1), "label": f"{scale * f:g}%"}
        for f in (0, 0.25, 0.5, 0.75, 1)
    ]
    return {
        "bars": bars,
        "ticks": ticks,
        "label_w": label_w,
        "bar_w": bar_w,
        "bar_h": bar_h,
        "width": label_w + bar_w + value_w,
        "height": height,
        "axis_y": height - 18,
        "scale": f"{scale:g}",
    }


def _group_view(breakdown: GroupBreakdown, rules: list[RuleResult]) -> dict[str, Any]:
    league: list[GroupLeagueRow] = group_league(breakdown, rules)
    # Columns: the rules failed by the most groups (then worst overall), so the matrix shows
    # where providers differ rather than every rule.
    failing_groups: dict[str, int] = {}
    for row in league:
        for rule_id, group_cell in row.cells.items():
            failing_groups[rule_id] = failing_groups.get(rule_id, 0) + int(group_cell.failed)
    by_id = {r.rule_id: r for r in rules}
    ranked = sorted(
        (rid for rid, n in failing_groups.items() if n > 0),
        key=lambda rid: (
            -failing_groups[rid],
            -(num(by_id[rid].pct_violating) or 0.0) if rid in by_id else 0.0,
            rid,
        ),
    )[:_GROUP_RULE_COLUMNS]
    rows = []
    any_suppressed = False
    has_scores = any(row.score is not None for row in league)
    for row in league:
        cells = []
        for rid in ranked:
            cell = row.cells.get(rid)
            if cell is None:
                cells.append({"text": "", "sort": -2, "cls": "", "title": "no data"})
            elif cell.suppressed:
                any_suppressed = True
                cells.append({"text": "*", "sort": -1, "cls": "sup", "title": "suppressed"})
            else:
                pct = cell.pct
                text = _fmt_pct(pct, 1) if pct is not None else _fmt_num(cell.violating)
                cells.append(
                    {
                        "text": ("✗ " if cell.failed else "") + text,
                        "sort": pct if pct is not None else (cell.violating or 0),
                        "cls": "fail" if cell.failed else "",
                        "title": (
                            f"{cell.violating:,} of {cell.denominator:,} rows"
                            if cell.violating is not None and cell.denominator is not None
                            else ""
                        ),
                    }
                )
        if row.suppressed:
            any_suppressed = True
        cls, words = _band(row.score)
        hidden = row.all_suppressed
        rows.append(
            {
                "rank": row.rank if row.rank is not None else "",
                "group": row.group,
                "score": "*" if hidden else _fmt_score(row.score),
                "score_sort": row.score if row.score is not None else -1,
                "band": "na" if hidden else cls,
                "band_words": "suppressed" if hidden else words,
                "rows": "*" if hidden else _fmt_num(row.rows),
                "rows_sort": row.rows if row.rows is not None else -1,
                "failed": row.failed,
                "suppressed": row.suppressed,
                "cells": cells,
            }
        )
    return {
        "table": breakdown.table,
        "column": breakdown.column,
        "rule_columns": [
            {"id": rid, "title": by_id[rid].description if rid in by_id else ""} for rid in ranked
        ],
        "rows": rows,
        "has_scores": has_scores,
        "any_suppressed": any_suppressed,
    }


def _items_view(result: RunResult) -> dict[str, Any] | None:
    d = dqmi(result)
    if d is None or not d.items:
        return None
    metrics = ["completeness", "validity", "default", "defaults_in_excess", "coverage", "score"]
    rows = []
    for item in d.items:
        values = []
        for metric in metrics:
            value = num(getattr(item, metric))
            values.append({"text": _fmt_score(value), "sort": value if value is not None else -1})
        rows.append(
            {
                "table": item.table,
                "column": item.column,
                "cells": values,
                # Errored rules zero the item; say which, so 0 is not read as measured.
                "errored": ", ".join(item.errored),
            }
        )
    labels = [_ITEM_LABELS.get(m, m) for m in metrics]
    return {"metrics": labels, "rows": rows}


def _tables_view(result: RunResult) -> list[dict[str, Any]]:
    d = dqmi(result)
    table_scores = d.tables if d else {}
    rules_by_table: dict[str, list[RuleResult]] = {}
    for rule in result.rules:
        rules_by_table.setdefault(rule.table, []).append(rule)
    out = []
    for table in result.tables:
        entry = table_scores.get(table.name)
        score = num(entry.score) if entry else None
        rules = rules_by_table.get(table.name, [])
        identifiers = [c.name for c in table.columns if c.identifier and c.identifier != "none"]
        out.append(
            {
                "name": table.name,
                "source": table.source,
                "rows": f"{table.rows:,}",
                "columns": len(table.columns),
                "identifiers": ", ".join(identifiers),
                "rules": len(rules),
                "failed": sum(r.status == "failed" for r in rules),
                "elapsed": f"{table.elapsed_ms / 1000:.2f} s",
                "scans": table.scans,
                "score": _fmt_score(score) if score is not None else "",
                "warnings": list(table.warnings),
                "bindings": ", ".join(f"{c} = {s}" for c, s in table.bindings.items() if c != s),
            }
        )
    return out


def _kahn_view(result: RunResult) -> dict[str, Any]:
    overview = kahn_overview(result)
    rows = []
    totals = {ctx: dict.fromkeys(COUNT_KEYS, 0) for ctx in (*KAHN_CONTEXTS, "total")}
    for category in KAHN_CATEGORIES:
        cells = []
        for ctx in (*KAHN_CONTEXTS, "total"):
            counts = overview[category][ctx]
            for key in COUNT_KEYS:
                totals[ctx][key] += counts[key]
            cells.append(_kahn_cell(counts))
        rows.append({"name": category, "cells": cells})
    uncategorised = overview.get("uncategorised", {}).get("total", {})
    if any(uncategorised.values()):
        # Rules with no Kahn category/context: only in the total column, so totals still add up.
        for key in COUNT_KEYS:
            totals["total"][key] += uncategorised[key]
        blank = {"passed": "", "failed": "", "total": "", "pct": "", "band": "na"}
        rows.append({"name": "uncategorised", "cells": [blank, blank, _kahn_cell(uncategorised)]})
    total_cells = [_kahn_cell(totals[ctx]) for ctx in (*KAHN_CONTEXTS, "total")]
    other = totals["total"]
    return {
        "rows": rows,
        "total": total_cells,
        "not_applicable": other["not_applicable"],
        "errors": other["error"],
    }


def _kahn_cell(counts: dict[str, int]) -> dict[str, Any]:
    pct = pct_passed(counts)
    return {
        "passed": counts["passed"],
        "failed": counts["failed"],
        "total": counts["passed"] + counts["failed"],
        "pct": _fmt_pct(pct, 0) if pct is not None else "–",
        "band": _band(pct)[0],
    }


def build_context(result: RunResult) -> dict[str, Any]:
    """Everything the template shows, precomputed so the template stays simple and fast."""
    used: set[str] = set()
    ordered = problem_rules(result)
    seen = {id(r) for r in ordered}
    # Problems first (most severe, highest % first), then the rest in contract order.
    ordered += [r for r in result.rules if id(r) not in seen]
    anchors = {id(r): _anchor(r.rule_id, i, used) for i, r in enumerate(ordered)}
    bindings = {t.name: t.bindings for t in result.tables}
    rules = [_rule_view(r, anchors[id(r)], bindings.get(r.table)) for r in ordered]
    d = dqmi(result)
    dims = dimension_scores(result)
    cards: list[dict[str, Any]] = []
    if d is not None and d.state == "insufficient":
        # No number headlined: a score from the few items that ran says little about the data.
        partial = "" if d.score is None else f"; partial score {_fmt_score(d.score)}"
        cards.append(
            {
                "name": "Overall",
                "value": None,
                "text": "insufficient",
                "band": "poor",
                "words": f"under {d.min_coverage_pct:g}% of rules or data items ran{partial}",
                "main": True,
            }
        )
        dims = {}
    elif d is not None and d.score is not None:
        cls, words = _band(d.score)
        cards.append(
            {
                "name": "Overall",
                "value": d.score,
                "text": _fmt_score(d.score),
                "band": cls,
                "words": words,
                "main": True,
            }
        )
    for name, value in dims.items():
        cls, words = _band(value)
        cards.append(
            {
                "name": name.capitalize(),
                "value": value,
                "text": _fmt_score(value),
                "band": cls,
                "words": words,
                "main": False,
            }
        )
    counts = status_counts(result)
    severities = list(SEVERITIES) + sorted(
        {r.severity for r in result.rules if r.severity not in SEVERITIES}
    )
    return {
        "r": result,
        "title": f"{result.contract} data-quality report",
        "started": _fmt_time(result.started_at),
        "finished": _fmt_time(result.finished_at),
        "duration": _fmt_duration(duration_seconds(result)),
        "total_rows": f"{total_rows(result):,}",
        "cards": cards,
        "counts": [
            {
                "status": s,
                "label": STATUS_LABEL[s],
                "symbol": _STATUS_SYMBOL[s],
                "n": counts.get(s, 0),
            }
            for s in ("passed", "failed", "error", "not_applicable")
        ],
        "kahn": _kahn_view(result),
        "chart": _chart(result.rules, anchors),
        "rules": rules,
        "severities": severities,
        "groups": [_group_view(g, result.rules) for g in result.groups],
        "items": _items_view(result),
        "tables": _tables_view(result),
        "method": d.method if d else "",
        "excluded": list(d.excluded) if d else [],
        "ran": None
        if d is None
        else {
            "text": ran_text(d),
            "full": d.ran.pct is None or d.ran.pct >= 100.0,
            "insufficient": d.state == "insufficient",
        },
        "identifier_count": sum(
            1 for t in result.tables for c in t.columns if c.identifier and c.identifier != "none"
        ),
    }


@cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("healthdq.report", "templates"),
        # Always escape: the template is .html.j2, which select_autoescape would not match.
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["finite"] = lambda v: v if isinstance(v, int | float) and math.isfinite(v) else 0
    return env


@cache
def _script() -> tuple[markupsafe.Markup, str]:
    """The page's script and its CSP hash (the CSP allows exactly this script and no other)."""
    env = _environment()
    assert env.loader is not None
    # Browsers normalise CRLF before hashing, so a Windows checkout must not change the hash.
    source = env.loader.get_source(env, "report.js")[0].replace("\r\n", "\n")
    digest = base64.b64encode(hashlib.sha256(source.encode("utf-8")).digest()).decode("ascii")
    # Markup: our own static file, inserted verbatim (escaping would break the JS and its hash).
    return markupsafe.Markup(source), f"sha256-{digest}"


def render_html(result: RunResult) -> str:
    """The report as an HTML string."""
    script, script_hash = _script()
    html = (
        _environment()
        .get_template("report.html.j2")
        .render(script=script, script_hash=script_hash, **build_context(result))
    )
    # Control characters in data (seen in real extracts) are HTML parse errors; the template
    # itself has none, so replacing them over the whole page only touches data.
    return _CONTROL.sub("\ufffd", html)


def write_html(result: RunResult, path: str | os.PathLike[str]) -> Path:
    """Write the self-contained HTML report (UTF-8) and return its path."""
    target = Path(path)
    write_text_atomic(target, render_html(result))
    return target
