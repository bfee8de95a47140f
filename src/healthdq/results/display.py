"""A RunResult in a notebook: one row per rule as a pandas DataFrame, a compact HTML summary.

Both read the result as the pipeline left it, so samples are as masked as in every other output.
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING, Any

from healthdq.errors import HealthdqError
from healthdq.results.status import is_failing

if TYPE_CHECKING:
    from healthdq.results.model import RunResult

RULE_COLUMNS: tuple[str, ...] = (
    "rule_id",
    "table",
    "kind",
    "columns",
    "severity",
    "status",
    "violating_rows",
    "denominator",
    "pct_violating",
    "threshold",
    "dimension",
    "category",
    "message",
    "samples",
)
# Failing rules listed in the HTML summary; the rest are counted.
HTML_RULES = 20


def rules_frame(result: RunResult) -> Any:
    """One row per rule (samples as lists of {column: value}, masked unless the run was not)."""
    try:
        import pandas as pd
    except ImportError:
        raise HealthdqError("to_pandas needs pandas: pip install 'healthdq[dataframes]'") from None
    rows = [
        {
            **r.model_dump(include={c for c in RULE_COLUMNS if c not in ("columns", "samples")}),
            "columns": ", ".join(r.columns),
            "samples": [dict(s.values, __row=s.row) for s in r.samples],
        }
        for r in result.rules
    ]
    return pd.DataFrame(rows, columns=list(RULE_COLUMNS))


def _cell(value: Any) -> str:
    return f"<td>{escape('' if value is None else str(value))}</td>"


def _dqmi_text(result: RunResult) -> str:
    """'; DQMI 99.8', or the insufficient state with how many rules ran (never a bare number)."""
    d = result.scores.dqmi
    if d is None or d.state == "not_scored":
        return ""
    ran = f"{d.ran.rules_ran} of {d.ran.rules_total} rules ran"
    if d.state == "insufficient":
        return f"; <b>DQMI insufficient</b> ({ran})"
    return f"; DQMI {d.score:.1f}" + ("" if d.ran.rules_ran == d.ran.rules_total else f" ({ran})")


def summary_html(result: RunResult) -> str:
    """A compact summary for Jupyter: counts by status, then the failing rules."""
    counts = {s: result.summary.get(s, 0) for s in ("passed", "failed", "error", "not_applicable")}
    tables = ", ".join(f"{t.name} ({t.rows:,} rows)" for t in result.tables)
    head = (
        f"<b>healthdq</b> {escape(result.contract)} on {escape(tables)} "
        f"({escape(result.engine)}): "
        + ", ".join(f"{n} {escape(s.replace('_', ' '))}" for s, n in counts.items())
        + _dqmi_text(result)
        + ("" if result.masked else " &mdash; <b>identifiers unmasked</b>")
    )
    failing = [r for r in result.rules if is_failing(r.status)]
    if not failing:
        return f"<div>{head}</div>"
    header = "".join(
        f"<th>{h}</th>"
        for h in ("rule", "table", "severity", "status", "violating", "%", "first sample / message")
    )
    body = []
    for r in failing[:HTML_RULES]:
        detail = r.message
        if r.samples:
            first = r.samples[0]
            values = ", ".join(f"{k}={v}" for k, v in first.values.items())
            detail = f"row {first.row}: {values}" if first.row else values
        pct = None if r.pct_violating is None else f"{r.pct_violating:.2f}"
        cells = (r.rule_id, r.table, r.severity, r.status, r.violating_rows, pct, detail)
        body.append("<tr>" + "".join(_cell(c) for c in cells) + "</tr>")
    more = len(failing) - HTML_RULES
    tail = f"<div>and {more} more failing rules: .failed()</div>" if more > 0 else ""
    return (
        f"<div>{head}<table><thead><tr>{header}</tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table>{tail}</div>"
    )
