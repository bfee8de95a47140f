"""Compact run summary for the terminal and CI logs (rich).

About 40 lines by default: header, scores, the worst failed/errored rules, counts per status
and the lowest-scoring groups. Every string from data is escaped, so a rule id or message
containing "[bold]" prints literally instead of being read as rich markup.
"""

from __future__ import annotations

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from healthdq.report._common import (
    STATUS_LABEL,
    dimension_scores,
    dqmi,
    duration_seconds,
    group_league,
    num,
    problem_rules,
    ran_text,
    status_counts,
    total_rows,
)
from healthdq.results import RuleResult, RunResult

_MAX_RULES = 15
_MAX_GROUPS = 5
# Below this console width (the default for CI logs is 80) the table gives way to lines.
_NARROW = 80
_SEVERITY_STYLE = {"fatal": "bold red", "error": "red", "warning": "yellow", "info": "cyan"}
# Status words and symbols, so status does not rely on colour (monochrome CI logs).
_STATUS_STYLE = {
    "passed": ("✓ passed", "green"),
    "failed": ("✗ failed", "red"),
    "error": ("! error", "magenta"),
    "not_applicable": ("- n/a", "dim"),
}


def _score(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}"


def _score_style(value: float | None) -> str:
    if value is None:
        return "dim"
    return "green" if value >= 90 else "yellow" if value >= 75 else "red"


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes}m{secs:02d}s"


def _pct(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}%"


def _fraction(violating: int | None, denominator: int | None) -> str:
    if violating is None:
        return ""
    return f"{violating:,}" if denominator is None else f"{violating:,}/{denominator:,}"


def print_summary(result: RunResult, console: Console | None = None, verbose: bool = False) -> None:
    """Print the run summary; `verbose` lists every failed rule and group instead of the worst."""
    console = console or Console()
    counts = status_counts(result)

    header = Text()
    header.append("healthdq ", style="bold")
    header.append(f"{result.contract} v{result.contract_version}", style="bold cyan")
    header.append(
        f"  {len(result.tables)} table(s), {total_rows(result):,} rows, "
        f"{len(result.rules)} rules in {_duration(duration_seconds(result))}"
    )
    console.print(header)
    masked = "identifiers masked" if result.masked else "UNMASKED identifiers"
    console.print(
        Text(
            f"run {result.run_id} · {result.run_date} · {result.engine} · {masked}",
            style="dim" if result.masked else "bold red",
        )
    )
    for table in result.tables:
        if any(c != s for c, s in table.bindings.items()):
            pairs = ", ".join(f"{c} = {s}" for c, s in table.bindings.items() if c != s)
            console.print(Text(f"{table.name}: columns bound: {pairs}", style="dim"))

    _print_score(console, result)

    problems = problem_rules(result)
    if problems:
        shown = problems if verbose else problems[:_MAX_RULES]
        if console.width < _NARROW:
            _print_rule_lines(console, shown, len(problems))
        else:
            _print_rule_table(console, shown, len(problems))
        if len(problems) > len(shown):
            console.print(
                Text(f"… and {len(problems) - len(shown)} more (--verbose or see the HTML report)")
            )

    status_line = Text("rules: ")
    for i, status in enumerate(("passed", "failed", "error", "not_applicable")):
        label, style = _STATUS_STYLE[status]
        if i:
            status_line.append("  ")
        status_line.append(f"{counts.get(status, 0)} {STATUS_LABEL[status]}", style=style)
    console.print(status_line)

    for breakdown in result.groups:
        league = [row for row in group_league(breakdown, result.rules) if row.score is not None]
        if not league:
            continue
        worst = league if verbose else league[:_MAX_GROUPS]
        groups = Table(
            title=f"Lowest-scoring groups by {escape(breakdown.column)} ({len(league)} groups)",
            title_justify="left",
            box=box.SIMPLE_HEAD,
            show_edge=False,
            pad_edge=False,
        )
        groups.add_column("group", overflow="fold", min_width=6)
        groups.add_column("score", justify="right", no_wrap=True)
        groups.add_column("rows", justify="right")
        groups.add_column("failed", justify="right")
        for row in worst:
            groups.add_row(
                escape(row.group),
                Text(_score(row.score), style=_score_style(row.score)),
                "*" if row.all_suppressed else "" if row.rows is None else f"{row.rows:,}",
                str(row.failed),
            )
        console.print(groups)


def _print_score(console: Console, result: RunResult) -> None:
    """The DQMI line, then how much of the assessment ran; never a headline when insufficient."""
    d = dqmi(result)
    if d is None:
        return
    line = Text()
    if d.state == "insufficient":
        line.append("DQMI insufficient", style="bold red")
        line.append(f": under {d.min_coverage_pct:g}% of the rules or data items ran")
        if d.score is not None:
            line.append(f" (partial score {_score(d.score)}, errored rules count as 0)")
        console.print(line)
    else:
        line.append("DQMI score ", style="bold")
        line.append(_score(d.headline), style=f"bold {_score_style(d.headline)}")
        line.append("  ")
        for i, (name, value) in enumerate(dimension_scores(result).items()):
            line.append(("" if i == 0 else " · ") + f"{name} ")
            line.append(_score(value), style=_score_style(value))
        console.print(line)
    full = d.ran.pct is None or d.ran.pct >= 100.0
    console.print(Text(ran_text(d), style="dim" if full else "bold yellow"))


def _print_rule_table(console: Console, shown: list[RuleResult], total: int) -> None:
    table = Table(
        title=f"Failed and errored rules ({total})",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
    )
    table.add_column("rule", overflow="fold", min_width=12)
    table.add_column("table", overflow="fold", min_width=5)
    table.add_column("severity", no_wrap=True)
    table.add_column("violating", justify="right", overflow="fold")
    table.add_column("%", justify="right", no_wrap=True)
    table.add_column("status", no_wrap=True)
    for rule in shown:
        label, style = _STATUS_STYLE.get(rule.status, (rule.status, ""))
        table.add_row(
            escape(rule.rule_id),
            escape(rule.table),
            Text(rule.severity, style=_SEVERITY_STYLE.get(rule.severity, "")),
            _fraction(rule.violating_rows, rule.denominator),
            _pct(num(rule.pct_violating)),
            Text(label, style=style),
        )
    console.print(table)


def _print_rule_lines(console: Console, shown: list[RuleResult], total: int) -> None:
    # A table squeezed below ~60 columns drops or truncates the rule ids, the one thing a
    # reader needs; one rule per (wrapping) line keeps them whole.
    console.print(Text(f"Failed and errored rules ({total})", style="bold"))
    for rule in shown:
        label, style = _STATUS_STYLE.get(rule.status, (rule.status, ""))
        line = Text()
        line.append(label, style=style)
        line.append(" ")
        line.append(rule.severity, style=_SEVERITY_STYLE.get(rule.severity, ""))
        # Rule ids usually start with the table name; don't repeat it on a narrow screen.
        same = rule.rule_id.startswith(rule.table + ".")
        line.append(f" {rule.rule_id}" if same else f" {rule.table}/{rule.rule_id}")
        counts = _fraction(rule.violating_rows, rule.denominator)
        if counts:
            line.append(f" {counts} {_pct(num(rule.pct_violating))}".rstrip())
        console.print(line, overflow="fold")
