"""`healthdq runs`: list, show, diff and re-render stored runs (docs/store.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from healthdq.cli.app import app
from healthdq.cli.options import StoreOption, outputs
from healthdq.errors import HealthdqError

if TYPE_CHECKING:
    from healthdq.store import Store

runs_app = typer.Typer(
    help="Runs kept in the results store: list, show, diff, render.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(runs_app, name="runs")

RunArg = Annotated[
    str, typer.Argument(help="Run id, a unique prefix of it, latest or latest~N.", metavar="RUN")
]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]


def _store(location: str | None) -> Store:
    from healthdq.store import open_store

    return open_store(location)


def _score(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


@runs_app.command("list")
def list_runs(
    store: StoreOption = None,
    dataset: Annotated[str | None, typer.Option(help="Only runs of this dataset.")] = None,
    verb: Annotated[str | None, typer.Option(help="Only runs of this verb (check, omop).")] = None,
    limit: Annotated[int, typer.Option(help="At most this many runs, newest first.")] = 20,
    as_json: JsonFlag = False,
) -> None:
    """List stored runs, newest first."""
    found = _store(store).list_runs(dataset=dataset, verb=verb, limit=limit)
    if as_json:
        typer.echo(json.dumps([r.model_dump(mode="json") for r in found], indent=2))
        return
    if not found:
        typer.echo("no runs stored")
        return
    typer.echo(
        f"{'run':12}  {'started (UTC)':19}  {'verb':5}  {'status':6}  {'failed':>9}  "
        f"{'score':>6}  dataset"
    )
    for r in found:
        typer.echo(
            f"{r.run_id[:12]:12}  {r.started_at:%Y-%m-%d %H:%M:%S}  {r.verb:5}  {r.status:6}  "
            f"{f'{r.failed + r.errors}/{r.rules}':>9}  {_score(r.score):>6}  {r.dataset}"
        )


@runs_app.command("show")
def show(run: RunArg, store: StoreOption = None, as_json: JsonFlag = False) -> None:
    """Show one stored run: what ran, its status and its failing rules."""
    from healthdq.report.json_report import dumps
    from healthdq.results import is_failing

    st = _store(store)
    run_id = st.resolve(run)
    result = st.load_run(run_id)
    if as_json:
        typer.echo(dumps(result), nl=False)
        return
    s = st.summary(run_id)
    lines = [
        f"run        {s.run_id}",
        f"started    {s.started_at:%Y-%m-%d %H:%M:%S} UTC "
        f"({(s.finished_at - s.started_at).total_seconds():.1f} s)",
        f"verb       {s.verb} on {s.engine}",
        f"dataset    {s.dataset} (contract {s.contract} {result.contract_version})",
        f"sources    {s.sources}",
        f"status     {s.status}"
        + (f" (worst failing severity: {s.worst_severity})" if s.worst_severity else ""),
        f"rules      {s.rules}: {s.passed} passed, {s.failed} failed, {s.errors} error, "
        f"{s.not_applicable} not applicable",
        f"score      {_score(s.score) or 'not scored'}"
        + (f" ({s.score_state})" if s.score and s.score_state != "scored" else ""),
        f"masked     {'yes' if s.masked else 'NO (run with --unmask)'}",
        f"metrics    {len(result.metrics)}",
        f"audit head {s.audit_head or '-'}",
        f"outputs    {', '.join(s.outputs) or '-'}",
    ]
    typer.echo("\n".join(lines))
    failing = [r for r in result.rules if is_failing(r.status)]
    if failing:
        typer.echo("\nfailing rules:")
        for r in failing:
            pct = "" if r.pct_violating is None else f" {r.pct_violating:.2f}%"
            typer.echo(f"  {r.status:6} {r.severity:7} {r.rule_id}{pct}")


@runs_app.command("diff")
def diff(
    run_a: Annotated[str, typer.Argument(help="The earlier run.", metavar="RUN_A")],
    run_b: Annotated[str, typer.Argument(help="The later run.", metavar="RUN_B")],
    store: StoreOption = None,
    limit: Annotated[int, typer.Option(help="At most this many metric changes shown.")] = 20,
    as_json: JsonFlag = False,
) -> None:
    """What changed from RUN_A to RUN_B: rules newly failing or fixed, scores, metrics."""
    from healthdq.store.diff import diff_runs

    st = _store(store)
    a, b = st.resolve(run_a), st.resolve(run_b)
    d = diff_runs(st.load_run(a), st.load_run(b))
    if as_json:
        typer.echo(json.dumps(d.model_dump(mode="json"), indent=2))
        return

    def pct(value: float | None) -> str:
        return "-" if value is None else f"{value:.2f}%"

    typer.echo(f"{a[:12]} -> {b[:12]}")
    for title, changes in (("newly failing", d.newly_failing), ("fixed", d.fixed)):
        typer.echo(f"{title}: {len(changes)}")
        for c in changes:
            typer.echo(
                f"  {c.rule_id} ({c.severity}): {c.before or 'absent'} -> "
                f"{c.after or 'absent'}, {pct(c.pct_before)} -> {pct(c.pct_after)}"
            )
    if d.added_rules or d.removed_rules:
        typer.echo(f"rules added: {len(d.added_rules)}, removed: {len(d.removed_rules)}")
    typer.echo(f"score changes: {len(d.scores)}")
    for v in d.scores:
        typer.echo(f"  {v.key}: {v.before} -> {v.after}")
    typer.echo(f"metric changes: {len(d.metrics)}")
    for v in d.metrics[:limit]:
        typer.echo(f"  {v.key}: {v.before} -> {v.after}")
    if len(d.metrics) > limit:
        typer.echo(f"  ... {len(d.metrics) - limit} more (--limit, --json)")


@runs_app.command("render")
def render(
    run: RunArg,
    store: StoreOption = None,
    html: Annotated[Path | None, typer.Option(help="Write the HTML report here.")] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write JSON here.")] = None,
    junit: Annotated[Path | None, typer.Option(help="Write JUnit XML here.")] = None,
    dqd_json: Annotated[
        Path | None, typer.Option("--dqd-json", help="Write DQD-format JSON here (OMOP runs).")
    ] = None,
    dqd_case: Annotated[
        str, typer.Option("--dqd-case", help="DQD JSON field case: camel (DQD 2.x) or snake (1.x).")
    ] = "camel",
    stored: Annotated[
        bool,
        typer.Option(
            "--stored", help="Write the bytes the run itself rendered instead of re-rendering."
        ),
    ] = False,
) -> None:
    """Re-render a stored run: byte-identical to the files the run wrote."""
    from healthdq.report.registry import render as render_output

    wanted = outputs(html=html, json=json_out, junit=junit, dqd_json=dqd_json)
    if not wanted:
        raise HealthdqError("give at least one of --html, --json, --junit, --dqd-json")
    st = _store(store)
    run_id = st.resolve(run)
    if stored:
        for name, path in wanted.items():
            data = st.output(run_id, name)
            if data is None:
                raise HealthdqError(f"run {run_id} kept no {name} output (render it instead)")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        return
    result = st.load_run(run_id)
    for name, path in wanted.items():
        render_output(name, result, path, **({"case": dqd_case} if name == "dqd-json" else {}))
