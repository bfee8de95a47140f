"""The terminal view of a disclosure-risk report (`healthdq risk`); JSON is the model itself."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from healthdq.governance.anonymise import SearchResult
from healthdq.governance.risk import RiskReport, RiskSummary

SUPPRESSED = "*"


def _count(value: int | None) -> str:
    return SUPPRESSED if value is None else f"{value:,}"


def _pct(value: float | None) -> str:
    return SUPPRESSED if value is None else f"{value:.2f}%"


def _risk(name: str, summary: RiskSummary, table: Table) -> None:
    table.add_row(
        name,
        f"{_count(summary.records_at_risk)} ({_pct(summary.records_at_risk_pct)})",
        f"{summary.highest:.4f}",
        f"{summary.average:.4f}",
    )


def render_risk(report: RiskReport, console: Console) -> None:
    """A summary: classes and k, l and t, attacker risks, class sizes, population uniqueness."""
    console.print(
        f"[bold]{report.source}[/]: {report.rows:,} rows, {report.classes:,} equivalence "
        f"classes on {', '.join(report.qi)} ({report.engine}, {report.seconds:.2f} s)",
        highlight=False,
    )
    _opt_out_line(report, console)
    line = f"k-anonymity: k = {report.k}"
    if report.l_distinct is not None:
        line += (
            f"; l-diversity: l = {report.l_distinct} (entropy l = {report.l_entropy}); "
            f"t-closeness: t = {report.t_closeness:.6f}"
        )
    console.print(line, highlight=False)
    if len(report.sensitive_risks) > 1:
        for s in report.sensitive_risks:
            console.print(
                f"  {s.column} ({s.kind}, {s.values} values): l = {s.l_distinct}, "
                f"entropy l = {s.l_entropy}, t = {s.t_closeness:.6f}",
                highlight=False,
            )
    console.print(
        f"sample uniques: {_count(report.sample_uniques)} ({_pct(report.sample_uniques_pct)})",
        highlight=False,
    )
    risks = Table(title=f"Re-identification risk (threshold {report.threshold:g})")
    for col in ("attacker", "records at risk", "highest", "average"):
        risks.add_column(col)
    _risk("prosecutor", report.prosecutor, risks)
    _risk("journalist", report.journalist, risks)
    risks.add_row("marketer", "", "", f"{report.marketer:.4f}")
    console.print(risks)
    sizes = Table(title="Equivalence class sizes")
    for col in ("size", "classes", "records"):
        sizes.add_column(col, justify="right")
    for row in report.histogram[:10]:
        sizes.add_row(
            SUPPRESSED if row.size is None else str(row.size),
            _count(row.classes),
            _count(row.records),
        )
    if len(report.histogram) > 10:
        sizes.add_row("...", f"{len(report.histogram) - 10} more sizes", "")
    console.print(sizes)
    pop = report.population
    if pop is not None:
        console.print(
            f"population {pop.population:,} (sampling fraction {pop.sampling_fraction:.4f}): "
            "estimated population uniques",
            highlight=False,
        )
        for est in pop.estimates:
            value = "no estimate" if est.uniques is None else f"{est.uniques:,.1f}"
            if est.uniques is None and report.suppressed and est.proportion is None:
                value = "no estimate or suppressed"
            console.print(f"  {est.model}: {value}", highlight=False)
        chosen = SUPPRESSED if pop.dankar_uniques is None else f"{pop.dankar_uniques:,.1f}"
        console.print(f"  Dankar's rule: {pop.dankar_model} -> {chosen}", highlight=False)
    if report.suppressed:
        console.print(
            f"{SUPPRESSED} counts 1..{report.small_number - 1} suppressed (small numbers)",
            highlight=False,
        )
    for note in report.notes:
        console.print(f"note: {note}", highlight=False)


def _opt_out_line(done: RiskReport | SearchResult, console: Console) -> None:
    if done.opt_out_file is not None:
        console.print(
            f"opt-out ({done.opt_out_file}): records removed first: {done.opted_out}",
            highlight=False,
        )


def render_search(result: SearchResult, console: Console) -> None:
    """The chosen transformation, what it cost, and how much of the lattice was evaluated."""
    target = (
        f"k = {result.target_k}"
        + (f", l = {result.target_l}" if result.target_l else "")
        + (f", t = {result.target_t:g}" if result.target_t is not None else "")
        + (f" on {result.sensitive}" if result.target_l or result.target_t is not None else "")
    )
    console.print(
        f"[bold]{result.source}[/]: {result.rows:,} rows; target {target}, at most "
        f"{100 * result.max_suppression:g}% suppressed ({result.engine}, {result.seconds:.2f} s)",
        highlight=False,
    )
    _opt_out_line(result, console)
    table = Table(title="Chosen transformation")
    for col in ("quasi-identifier", "level", "generalisation"):
        table.add_column(col)
    for q, level in result.transformation.items():
        table.add_row(q, str(level), result.levels[q])
    console.print(table)
    console.print(
        f"records suppressed: {_count(result.records_suppressed)} "
        f"({_pct(result.suppressed_pct)}); classes: {result.classes:,}; k = {result.k}",
        highlight=False,
    )
    if result.t is not None:
        console.print(
            f"{result.sensitive}: l = {result.l_distinct} (entropy l = {result.l_entropy}), "
            f"t = {result.t:.6f}",
            highlight=False,
        )
    console.print(
        f"information loss: discernibility {result.discernibility:,.0f}, "
        f"non-uniform entropy {result.non_uniform_entropy:,.1f}",
        highlight=False,
    )
    console.print(
        f"lattice: {result.nodes_evaluated} of {result.nodes_total} nodes evaluated, "
        f"{len(result.minimal_nodes)} minimal transformations",
        highlight=False,
    )
    if result.output:
        console.print(f"generalised data written to {result.output}", highlight=False)
    if result.suppressed:
        console.print(
            f"{SUPPRESSED} counts 1..{result.small_number - 1} suppressed (small numbers)",
            highlight=False,
        )
