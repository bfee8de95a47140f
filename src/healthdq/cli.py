"""The healthdq command line: one verb per job (check, profile, synth, packs, validate)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
import yaml
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from healthdq import __version__
from healthdq.errors import ContractError, HealthdqError
from healthdq.results import RunResult
from healthdq.rules import model as m
from healthdq.rules.loader import load_contract, load_pack, pack_names, pack_path
from healthdq.sources.base import ReadOptions

if TYPE_CHECKING:
    from healthdq.engine.base import Engine

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Data quality for NHS health and care data: check, profile, synthesise.",
    pretty_exceptions_enable=False,
)
err = Console(stderr=True)
SEVERITIES = ["fatal", "error", "warning", "info", "never"]


def _fail(message: str) -> None:
    err.print(f"[bold red]healthdq: error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(2)


def _warn(messages: Iterable[str]) -> None:
    for message in messages:
        err.print(f"[yellow]healthdq: warning:[/] {message}", highlight=False, soft_wrap=True)


def _exit_for(result: RunResult, fail_on: str) -> None:
    """Exit 1 when a rule failed or errored at or above the --fail-on severity."""
    threshold = {"fatal": 3, "error": 2, "warning": 1, "info": 0, "never": 99}[fail_on]
    if result.worst_failure() >= threshold:
        raise typer.Exit(1)


def _parse_mapping(items: list[str], map_file: Path | None) -> dict[str, str]:
    mapping: dict[str, str] = {}
    if map_file is not None:
        if not map_file.exists():
            raise ContractError("mapping file not found", path=str(map_file))
        try:
            data = yaml.safe_load(map_file.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            raise ContractError(
                "invalid YAML", path=str(map_file), line=mark.line + 1 if mark else None
            ) from None
        if not isinstance(data, dict):
            raise ContractError(
                "mapping must be 'pack_column: your_column' pairs", path=str(map_file)
            )
        mapping.update({str(k): str(v) for k, v in data.items()})
    for item in items:
        if "=" not in item:
            raise HealthdqError(f"--map expects PACK_COLUMN=YOUR_COLUMN, got '{item}'")
        k, v = item.split("=", 1)
        mapping[k.strip()] = v.strip()
    return mapping


def _sources(contract: m.Contract, data: list[str]) -> dict[str, str]:
    """DATA is a path for a one-table contract, or TABLE=PATH items for several tables."""
    names = list(contract.tables)
    sources: dict[str, str] = {}
    for item in data:
        table, sep, path = item.partition("=")
        if sep and table in contract.tables:
            sources[table] = path
        elif len(names) == 1 and not sources:
            sources[names[0]] = item
        else:
            raise HealthdqError(
                f"'{item}': this contract has tables {', '.join(names)}; give TABLE=PATH"
            )
    base = Path(contract.path).parent if contract.path else Path(".")
    for name, spec in contract.tables.items():
        if name not in sources and spec.source:
            src = Path(spec.source)
            sources[name] = str(src if src.is_absolute() else base / src)
    missing = [n for n in names if n not in sources]
    if missing:
        raise HealthdqError(f"no data for table(s) {', '.join(missing)}: pass TABLE=PATH")
    return sources


def _engine(name: str, threads: int | None, spark_master: str) -> Engine:
    """The engine named by --engine; Spark is imported only when asked for."""
    if name == "duckdb":
        from healthdq.engine.duckdb import DuckDBEngine

        return DuckDBEngine(threads=threads)
    if name == "spark":
        import importlib.util

        if importlib.util.find_spec("pyspark") is None:
            raise HealthdqError("--engine spark needs pyspark: pip install 'healthdq[spark]'")
        from healthdq.engine.spark import SparkEngine

        return SparkEngine(master=spark_master)
    raise HealthdqError(f"--engine must be duckdb or spark, got '{name}'")


@app.command()
def check(
    data: Annotated[
        list[str], typer.Argument(help="Data file, folder or glob; TABLE=PATH for several tables.")
    ],
    contract: Annotated[
        Path | None, typer.Option("--contract", "-c", help="Contract YAML file.")
    ] = None,
    pack: Annotated[
        str | None, typer.Option("--pack", "-p", help="Shipped pack, e.g. nhs-apc.")
    ] = None,
    map_: Annotated[
        list[str], typer.Option("--map", help="PACK_COLUMN=YOUR_COLUMN (repeatable).")
    ] = [],  # noqa: B006
    map_file: Annotated[
        Path | None, typer.Option("--map-file", help="YAML of pack_column: your_column.")
    ] = None,
    group_by: Annotated[
        list[str], typer.Option("--group-by", "-g", help="Break results down by this column.")
    ] = [],  # noqa: B006
    sample_size: Annotated[int, typer.Option(help="Failing rows kept per rule.")] = 5,
    run_date: Annotated[
        str | None, typer.Option(help="Date the checks are judged against (YYYY-MM-DD).")
    ] = None,
    html: Annotated[Path | None, typer.Option(help="Write the offline HTML report here.")] = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write JSON results here.")
    ] = None,
    junit: Annotated[Path | None, typer.Option(help="Write JUnit XML here.")] = None,
    fail_on: Annotated[
        str, typer.Option(help="Exit 1 if a rule fails at or above this severity.")
    ] = "error",
    unmask: Annotated[
        bool, typer.Option(help="Show identifiers in samples unmasked (audited).")
    ] = False,
    no_suppress: Annotated[
        bool, typer.Option(help="Do not suppress small numbers in group breakdowns.")
    ] = False,
    fmt: Annotated[
        str | None,
        typer.Option(
            "--format",
            help="csv|parquet|json|duckdb (default: by extension); table: a Spark catalog table.",
        ),
    ] = None,
    delimiter: Annotated[
        str | None, typer.Option(help="CSV delimiter (default: detected).")
    ] = None,
    encoding: Annotated[
        str | None, typer.Option(help="CSV encoding: utf-8, utf-16, latin-1.")
    ] = None,
    table: Annotated[str | None, typer.Option(help="Table inside a DuckDB database file.")] = None,
    audit_log: Annotated[
        Path | None, typer.Option(help="Audit log of patient-level access.")
    ] = None,
    threads: Annotated[
        int | None, typer.Option(help="Engine threads (default: all cores).")
    ] = None,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No progress bar or summary.")
    ] = False,
    engine_name: Annotated[
        str, typer.Option("--engine", help="duckdb (in-process) or spark (needs healthdq[spark]).")
    ] = "duckdb",
    spark_master: Annotated[
        str, typer.Option(help="Spark master URL for --engine spark.")
    ] = "local[2]",
) -> None:
    """Check DATA against a contract or a shipped pack; write reports; exit 0, 1 or 2."""
    from healthdq.engine.runner import RunOptions, run_contract
    from healthdq.governance.audit import AuditLog
    from healthdq.governance.masking import mask_samples
    from healthdq.report import print_summary, write_html, write_json, write_junit
    from healthdq.scoring import score

    if fail_on not in SEVERITIES:
        raise HealthdqError(f"--fail-on must be one of {', '.join(SEVERITIES)}")
    if (contract is None) == (pack is None):
        raise HealthdqError("give exactly one of --contract FILE or --pack NAME")
    spec = load_contract(contract) if contract else load_pack(str(pack))
    mapping = _parse_mapping(map_, map_file)
    sources = _sources(spec, data)
    opts = ReadOptions(
        format=fmt, delimiter=delimiter, encoding=encoding, table=table, mapping=mapping
    )
    the_date = None
    if run_date:
        try:
            the_date = date.fromisoformat(run_date)
        except ValueError:
            raise HealthdqError(f"--run-date '{run_date}' is not YYYY-MM-DD") from None
    options = RunOptions(
        sample_size=max(0, sample_size),
        group_by=group_by,
        run_date=the_date,
        suppress_small_numbers=not no_suppress,
    )
    engine = _engine(engine_name, threads, spark_master)
    show = not quiet and err.is_terminal
    try:
        if show:
            with Progress(
                TextColumn("[bold]checking {task.description}"),
                BarColumn(),
                TextColumn("{task.percentage:>3.0f}%"),
                TimeElapsedColumn(),
                console=err,
                transient=True,
            ) as bar:
                tasks: dict[str, TaskID] = {}

                def on_progress(name: str, fraction: float) -> None:
                    if name not in tasks:
                        tasks[name] = bar.add_task(name, total=1.0)
                    bar.update(tasks[name], completed=fraction)

                result = run_contract(
                    engine, spec, sources, {n: opts for n in spec.tables}, options, on_progress
                )
        else:
            result = run_contract(engine, spec, sources, {n: opts for n in spec.tables}, options)
    finally:
        engine.close()
    score(result)
    identifiers = {
        (t, c): s.identifier
        for t, tspec in spec.tables.items()
        for c, s in tspec.columns.items()
        if s.identifier
    }
    sampled = sum(len(r.samples) for r in result.rules)
    if not unmask:
        result = mask_samples(result, identifiers)
    else:
        result.masked = False
    # Samples are patient-level rows: every access is written to the audit log.
    log = AuditLog(audit_log or Path(os.environ.get("HEALTHDQ_AUDIT_LOG", ".healthdq/audit.jsonl")))
    log.record(
        action="check.samples",
        dataset=", ".join(f"{t}={s}" for t, s in sources.items()),
        rows=sampled,
        columns=sorted({c for r in result.rules if r.samples for c in r.columns}),
        unmasked=unmask,
        detail={"run_id": result.run_id, "contract": spec.name},
    )
    if json_out:
        write_json(result, json_out)
    if junit:
        write_junit(result, junit)
    if html:
        write_html(result, html)
    if not quiet:
        print_summary(result, Console())
    _warn(w for t in result.tables for w in t.warnings)
    _exit_for(result, fail_on)


@app.command()
def omop(
    data: Annotated[
        str, typer.Argument(help="OMOP CDM: DuckDB file, folder of CSV/Parquet, postgres:DSN.")
    ],
    dqd_json: Annotated[
        Path | None, typer.Option("--dqd-json", help="Write results in DQD's JSON format.")
    ] = None,
    dqd_case: Annotated[
        str, typer.Option("--dqd-case", help="DQD JSON field case: camel (DQD 2.x) or snake (1.x).")
    ] = "camel",
    html: Annotated[Path | None, typer.Option(help="Write the offline HTML report here.")] = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write healthdq JSON results here.")
    ] = None,
    junit: Annotated[Path | None, typer.Option(help="Write JUnit XML here.")] = None,
    summary_json: Annotated[
        Path | None,
        typer.Option("--summary-json", help="Write counts per Kahn category here."),
    ] = None,
    schema: Annotated[
        str | None, typer.Option(help="Schema holding the CDM (default: the one with PERSON).")
    ] = None,
    check_name: Annotated[
        list[str], typer.Option("--check", help="Only this DQD check type (repeatable).")
    ] = [],  # noqa: B006
    only_table: Annotated[
        list[str], typer.Option("--only-table", help="Only this CDM table (repeatable).")
    ] = [],  # noqa: B006
    run_date: Annotated[
        str | None, typer.Option(help="Date 'today' means in plausibility checks (YYYY-MM-DD).")
    ] = None,
    sample_size: Annotated[int, typer.Option(help="Failing rows kept per check.")] = 5,
    fail_on: Annotated[
        str, typer.Option(help="Exit 1 if a check fails at or above this severity.")
    ] = "never",
    threads: Annotated[
        int | None, typer.Option(help="Engine threads (default: all cores).")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No summary.")] = False,
    engine_name: Annotated[
        str,
        typer.Option(
            "--engine",
            help="duckdb (in-process) or spark (a folder of CSV/Parquet; needs healthdq[spark]).",
        ),
    ] = "duckdb",
    spark_master: Annotated[
        str, typer.Option(help="Spark master URL for --engine spark.")
    ] = "local[2]",
) -> None:
    """Run the OHDSI DQD checks for OMOP CDM v5.4, fused into one scan per table."""
    import json as jsonlib

    from healthdq.governance.masking import mask_samples
    from healthdq.omop.dqd_json import write_dqd_json
    from healthdq.omop.runner import run_omop
    from healthdq.report import write_html, write_json, write_junit
    from healthdq.scoring import score

    if fail_on not in SEVERITIES:
        raise HealthdqError(f"--fail-on must be one of {', '.join(SEVERITIES)}")
    the_date = None
    if run_date:
        try:
            the_date = date.fromisoformat(run_date)
        except ValueError:
            raise HealthdqError(f"--run-date '{run_date}' is not YYYY-MM-DD") from None
    engine = _engine(engine_name, threads, spark_master)
    try:
        run = run_omop(
            data,
            engine=engine,
            run_date=the_date,
            sample_size=max(0, sample_size),
            schema=schema,
            check_names=check_name or None,
            tables=only_table or None,
        )
    finally:
        engine.close()
    result = score(run.result)
    # OMOP ids are pseudonymous, but person_id still identifies a row: mask it like an NHS number.
    result = mask_samples(
        result, {(t.name, "person_id"): "local_id" for t in result.tables if t.name}
    )
    if dqd_json:
        write_dqd_json(run, dqd_json, "snake" if dqd_case == "snake" else "camel")
    if json_out:
        write_json(result, json_out)
    if junit:
        write_junit(result, junit)
    if html:
        write_html(result, html)
    summary = run.summary()
    if summary_json:
        summary_json.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "source": data,
            "tables": len(run.cdm.tables),
            "queries": run.queries,
            "seconds": round((run.finished - run.started).total_seconds(), 3),
            "by_category": summary,
        }
        summary_json.write_text(jsonlib.dumps(payload, indent=2), encoding="utf-8")
    if not quiet:
        console = Console()
        console.print(
            f"OMOP CDM v5.4 DQD checks on {data}: {len(run.cdm.tables)} tables, "
            f"{run.queries} queries, {(run.finished - run.started).total_seconds():.1f} s"
        )
        console.print(
            f"{'category':14} {'executed':>8} {'passed':>7} {'failed':>7} {'n/a':>6} {'error':>6}"
        )
        for cat, c in summary.items():
            console.print(
                f"{cat:14} {c['executed']:>8} {c['passed']:>7} {c['failed']:>7} "
                f"{c['not_applicable']:>6} {c['error']:>6}"
            )
    _warn(run.cdm.warnings)
    _exit_for(result, fail_on)


@app.command()
def profile(
    data: Annotated[str, typer.Argument(help="Data file, folder or glob.")],
    suggest: Annotated[
        Path | None, typer.Option(help="Write a suggested contract YAML here.")
    ] = None,
    table: Annotated[
        str, typer.Option(help="Name for the table in the suggested contract.")
    ] = "data",
    fmt: Annotated[str | None, typer.Option("--format", help="csv|parquet|json|duckdb.")] = None,
    delimiter: Annotated[str | None, typer.Option(help="CSV delimiter.")] = None,
    encoding: Annotated[str | None, typer.Option(help="CSV encoding.")] = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write the profile as JSON.")
    ] = None,
) -> None:
    """Profile every column in one pass and suggest a starting contract."""
    from healthdq.engine.duckdb import DuckDBEngine
    from healthdq.profile import profile_table, render_profile, suggest_contract

    engine = DuckDBEngine()
    try:
        engine.register(
            table, data, ReadOptions(format=fmt, delimiter=delimiter, encoding=encoding)
        )
        prof = profile_table(engine.con, table)
    finally:
        engine.close()
    render_profile(prof, Console())
    # A profile reads every row and shows values (identifiers masked): an audited access.
    from healthdq.governance.audit import AuditLog

    AuditLog(Path(os.environ.get("HEALTHDQ_AUDIT_LOG", ".healthdq/audit.jsonl"))).record(
        action="profile",
        dataset=data,
        rows=int(getattr(prof, "rows", 0) or 0),
        columns=[c.name for c in getattr(prof, "columns", [])],
        unmasked=False,
    )
    if json_out:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(prof.model_dump_json(indent=2), encoding="utf-8")
    if suggest:
        suggest.parent.mkdir(parents=True, exist_ok=True)
        suggest.write_text(suggest_contract(prof, table, source=data), encoding="utf-8")
        err.print(f"suggested contract written to {suggest}")


@app.command()
def synth(
    kind: Annotated[str, typer.Argument(help="apc, ae or op.")],
    rows: Annotated[int, typer.Option(help="Number of rows.")] = 100_000,
    seed: Annotated[int, typer.Option(help="Seed: same seed, same data.")] = 42,
    out: Annotated[
        Path, typer.Option(help="Output file: .parquet, .csv, .ndjson or .duckdb.")
    ] = Path("out/synth.parquet"),
) -> None:
    """Generate a synthetic NHS-like extract with documented, seeded defects."""
    from healthdq.synth import generate

    if kind not in ("apc", "ae", "op"):
        raise HealthdqError(f"unknown kind '{kind}': use apc, ae or op")
    if rows < 0:
        raise HealthdqError("--rows must be 0 or more")
    out.parent.mkdir(parents=True, exist_ok=True)
    result = generate(kind, rows, out, seed=seed)
    Console().print(f"wrote {result.rows:,} {kind} rows to {result.path} (seed {seed})")
    for defect, count in result.expected.items():
        Console().print(f"  injected {defect}: {count:,}")


@app.command()
def packs(
    name: Annotated[str | None, typer.Argument(help="Show this pack's YAML.")] = None,
) -> None:
    """List the shipped packs, or print one to copy and adapt."""
    if name:
        sys.stdout.write(pack_path(name).read_text(encoding="utf-8"))
        return
    console = Console()
    for pack_name in pack_names():
        c = load_pack(pack_name)
        n = sum(len(t.rules) for t in c.tables.values())
        console.print(f"{pack_name:10} v{c.version:5} {n:4} rules  {c.description}")


@app.command()
def validate(
    contract: Annotated[Path, typer.Argument(help="Contract YAML to validate.")],
) -> None:
    """Validate a contract file without reading any data."""
    c = load_contract(contract)
    n = sum(len(t.rules) for t in c.tables.values())
    Console().print(f"{contract}: ok ({len(c.tables)} tables, {n} rules)")


def version_callback(value: bool) -> None:
    if value:
        print(f"healthdq {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool, typer.Option("--version", callback=version_callback, is_eager=True)
    ] = False,
) -> None:
    """healthdq: is this health and care data fit for care, planning and AI?"""


def main() -> None:
    """Entry point: user errors become one line and exit 2, never a traceback."""
    try:
        # Without standalone mode, click returns the code of a typer.Exit instead of exiting.
        code = app(standalone_mode=False)
        sys.exit(code if isinstance(code, int) else 0)
    except HealthdqError as exc:
        err.print(
            f"[bold red]healthdq: error:[/] {exc.one_line()}", highlight=False, soft_wrap=True
        )
        sys.exit(2)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        err.print("healthdq: aborted")
        sys.exit(130)
    except Exception as exc:  # click usage errors and anything unexpected
        # Usage errors (typer's bundled click) know how to show themselves.
        show = getattr(exc, "show", None)
        if callable(show) and hasattr(exc, "exit_code"):
            show()
            sys.exit(2)
        if os.environ.get("HEALTHDQ_DEBUG"):
            raise
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        err.print(
            f"healthdq: error: {type(exc).__name__}: {first}", highlight=False, soft_wrap=True
        )
        sys.exit(2)


if __name__ == "__main__":
    main()
