"""`healthdq omop`: OHDSI DQD's OMOP CDM v5.4 checks (docs/omop.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from healthdq import pipeline
from healthdq.cli.app import app, check_fail_on, exit_for, warn, warn_one
from healthdq.cli.options import (
    AuditKeyFileOption,
    AuditLogOption,
    DatasetOption,
    NoStoreOption,
    SparkMasterOption,
    StoreOption,
    outputs,
)


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
        list[str],
        typer.Option("--check", help="Only this DQD check type (repeatable).", metavar="NAME"),
    ] = [],  # noqa: B006
    only_table: Annotated[
        list[str],
        typer.Option("--only-table", help="Only this CDM table (repeatable).", metavar="TABLE"),
    ] = [],  # noqa: B006
    run_date: Annotated[
        str | None, typer.Option(help="Date 'today' means in plausibility checks (YYYY-MM-DD).")
    ] = None,
    sample_size: Annotated[
        int, typer.Option(help=f"Failing rows kept per check (0..{pipeline.MAX_SAMPLE_SIZE}).")
    ] = 5,
    fail_on: Annotated[
        str, typer.Option(help="Exit 1 if a check fails at or above this severity.")
    ] = "never",
    unmask: Annotated[
        bool, typer.Option("--unmask", help="Show person_id in samples unmasked (audited).")
    ] = False,
    audit_log: AuditLogOption = None,
    audit_key_file: AuditKeyFileOption = None,
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
    spark_master: SparkMasterOption = "local[2]",
    store: StoreOption = None,
    no_store: NoStoreOption = False,
    dataset: DatasetOption = None,
) -> None:
    """Run the OHDSI DQD checks for OMOP CDM v5.4, fused into one scan per table."""
    from healthdq.omop.runner import summary_by_category

    check_fail_on(fail_on)
    settings = pipeline.Settings(
        unmask=unmask,
        audit_log=audit_log,
        audit_key_file=audit_key_file,
        on_warning=warn_one,
        outputs=outputs(dqd_json=dqd_json, json=json_out, junit=junit, html=html),
        threads=threads,
        spark_master=spark_master,
        store=store,
        keep_run=not no_store,
        dataset=dataset,
    )
    result = pipeline.omop(
        data,
        run_date=pipeline.parse_run_date(run_date),
        sample_size=sample_size,
        schema=schema,
        check_names=check_name,
        tables=only_table,
        dqd_case=dqd_case,
        engine=engine_name,
        settings=settings,
    )
    summary = summary_by_category(result)
    queries = sum(t.scans for t in result.tables)
    seconds = (result.finished_at - result.started_at).total_seconds()
    if summary_json:
        summary_json.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "source": data,
            "tables": len(result.tables),
            "queries": queries,
            "seconds": round(seconds, 3),
            "by_category": summary,
        }
        summary_json.write_text(json.dumps(payload, indent=2), encoding="utf-8")
    if not quiet:
        console = Console()
        console.print(
            f"OMOP CDM v5.4 DQD checks on {data}: {len(result.tables)} tables, "
            f"{queries} queries, {seconds:.1f} s"
        )
        console.print(
            f"{'category':14} {'executed':>8} {'passed':>7} {'failed':>7} {'n/a':>6} {'error':>6}"
        )
        for cat, c in summary.items():
            console.print(
                f"{cat:14} {c['executed']:>8} {c['passed']:>7} {c['failed']:>7} "
                f"{c['not_applicable']:>6} {c['error']:>6}"
            )
    warn(w for t in result.tables for w in t.warnings)
    exit_for(result, fail_on)
