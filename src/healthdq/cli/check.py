"""`healthdq check`: run a contract or pack on data (docs/check.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from healthdq import pipeline
from healthdq.cli.app import app, check_fail_on, err, exit_for, warn, warn_one
from healthdq.cli.options import (
    AuditKeyFileOption,
    AuditLogOption,
    DatasetOption,
    EngineOption,
    IdentifiableOption,
    NoStoreOption,
    OptOutOption,
    SparkMasterOption,
    StoreOption,
    SuppressionOption,
    outputs,
    parse_mapping,
    table_sources,
)
from healthdq.errors import HealthdqError
from healthdq.rules.loader import load_contract, load_pack
from healthdq.sources.base import ReadOptions


@app.command()
def check(
    data: Annotated[
        list[str],
        typer.Argument(
            help="Data file, folder or glob; TABLE=PATH for several tables.", metavar="DATA"
        ),
    ],
    contract: Annotated[
        Path | None, typer.Option("--contract", "-c", help="Contract YAML file.")
    ] = None,
    pack: Annotated[
        str | None, typer.Option("--pack", "-p", help="Shipped pack, e.g. nhs-apc.")
    ] = None,
    map_: Annotated[
        list[str],
        typer.Option(
            "--map", help="Bind a pack column to yours (repeatable).", metavar="PACK=YOURS"
        ),
    ] = [],  # noqa: B006
    map_file: Annotated[
        Path | None, typer.Option("--map-file", help="YAML of pack_column: your_column.")
    ] = None,
    group_by: Annotated[
        list[str],
        typer.Option(
            "--group-by", "-g", help="Break results down by this column.", metavar="COLUMN"
        ),
    ] = [],  # noqa: B006
    sample_size: Annotated[
        int, typer.Option(help=f"Failing rows kept per rule (0..{pipeline.MAX_SAMPLE_SIZE}).")
    ] = 5,
    run_date: Annotated[
        str | None, typer.Option(help="Date the checks are judged against (YYYY-MM-DD).")
    ] = None,
    data_standard_date: Annotated[
        str | None,
        typer.Option(
            help="Judge code sets as in force on this date (code_era rules naming no date "
            "column; default: the contract's data_standard_date, else the run date).",
            metavar="YYYY-MM-DD",
        ),
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
        bool, typer.Option("--unmask", help="Show identifiers in samples unmasked (audited).")
    ] = False,
    suppress: Annotated[
        bool,
        typer.Option(
            "--suppress/--no-suppress",
            help="Suppress small counts in group breakdowns (below the contract's small_number).",
        ),
    ] = True,
    allow_empty: Annotated[
        bool, typer.Option("--allow-empty", help="Exit 0 even if a table has no rows.")
    ] = False,
    identifiable: IdentifiableOption = None,
    suppression: SuppressionOption = None,
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
    union_by_name: Annotated[
        bool,
        typer.Option("--union-by-name", help="Combine files whose columns differ by column name."),
    ] = False,
    audit_log: AuditLogOption = None,
    audit_key_file: AuditKeyFileOption = None,
    threads: Annotated[
        int | None, typer.Option(help="Engine threads (default: all cores).")
    ] = None,
    verbose: Annotated[
        bool,
        typer.Option("--verbose", "-v", help="List every failed rule and group in the summary."),
    ] = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No progress bar or summary.")
    ] = False,
    engine_name: EngineOption = "duckdb",
    spark_master: SparkMasterOption = "local[2]",
    store: StoreOption = None,
    no_store: NoStoreOption = False,
    dataset: DatasetOption = None,
    opt_out: OptOutOption = None,
) -> None:
    """Check DATA against a contract or a shipped pack; write reports; exit 0, 1 or 2."""
    from healthdq.report import print_summary

    check_fail_on(fail_on)
    if (contract is None) == (pack is None):
        raise HealthdqError("give exactly one of --contract FILE or --pack NAME")
    spec = load_contract(contract) if contract else load_pack(str(pack))
    read = ReadOptions(
        format=fmt,
        delimiter=delimiter,
        encoding=encoding,
        table=table,
        mapping=parse_mapping(map_, map_file),
        union_by_name=union_by_name,
    )
    settings = pipeline.Settings(
        unmask=unmask,
        suppress_small_numbers=suppress,
        audit_log=audit_log,
        audit_key_file=audit_key_file,
        on_warning=warn_one,
        outputs=outputs(json=json_out, junit=junit, html=html),
        threads=threads,
        spark_master=spark_master,
        store=store,
        keep_run=not no_store,
        dataset=dataset,
        allow_empty=allow_empty,
        identifiable=identifiable,
        suppression=suppression,
    )
    job = dict(
        read_options=read,
        sample_size=sample_size,
        group_by=group_by,
        run_date=pipeline.parse_run_date(run_date),
        data_standard_date=pipeline.parse_run_date(data_standard_date, "--data-standard-date"),
        engine=engine_name,
        settings=settings,
        opt_out=opt_out,
    )
    sources = table_sources(spec, data)
    if not quiet and err.is_terminal:
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

            result = pipeline.check(spec, sources, progress=on_progress, **job)  # type: ignore[arg-type]
    else:
        result = pipeline.check(spec, sources, **job)  # type: ignore[arg-type]
    if not quiet:
        print_summary(result, Console(), verbose=verbose)
    warn(w for t in result.tables for w in t.warnings)
    if pipeline.empty_tables(result, spec) and not allow_empty:
        raise typer.Exit(1)
    exit_for(result, fail_on)
