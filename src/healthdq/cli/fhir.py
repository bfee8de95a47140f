"""`healthdq fhir`: FHIR R4 resources, Bundles and Bulk Data NDJSON (docs/fhir.md).

A command group: `healthdq fhir read DATA` here; other FHIR verbs (view, validate) add their
commands to `fhir_app`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from healthdq import pipeline
from healthdq.cli.app import app, check_fail_on, err, exit_for, warn_one
from healthdq.cli.options import (
    AuditKeyFileOption,
    AuditLogOption,
    DatasetOption,
    EngineOption,
    NoStoreOption,
    OptOutOption,
    SparkMasterOption,
    StoreOption,
    outputs,
)

fhir_app = typer.Typer(
    no_args_is_help=True,
    help="FHIR R4: read, view and validate resources, Bundles and Bulk Data NDJSON.",
    rich_markup_mode=None,
)
app.add_typer(fhir_app, name="fhir")

DataArgument = Annotated[
    str,
    typer.Argument(help="FHIR R4: a .json resource or Bundle, .ndjson(.gz), a folder or a glob."),
]


@fhir_app.command("read")
def read(
    data: DataArgument,
    engine_name: EngineOption = "duckdb",
    spark_master: SparkMasterOption = "local[2]",
    memory_limit: Annotated[
        str | None,
        typer.Option(help="DuckDB memory limit, e.g. 4GB or 80% (default 1GiB); spills beyond it."),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only the problems.")] = False,
) -> None:
    """Read FHIR data: resources per resourceType, and every line or entry that could not be
    read (exit 2 if any was skipped)."""
    settings = pipeline.Settings(spark_master=spark_master, memory_limit=memory_limit)
    result = pipeline.fhir_read(data, engine=engine_name, settings=settings)
    if not quiet:
        console = Console(highlight=False)
        total = sum(result.counts.values())
        console.print(f"{total} resources read from {data}")
        for resource_type, n in result.counts.items():
            console.print(f"  {resource_type:32} {n:>10}")
    skipped = [i for i in result.issues if not i.kept]
    for issue in result.issues:
        err.print(f"healthdq: warning: {issue}", highlight=False, soft_wrap=True, markup=False)
    if skipped:
        err.print(
            f"healthdq: error: {len(skipped)} lines, entries or files could not be read",
            highlight=False,
        )
        raise typer.Exit(2)


@fhir_app.command("view")
def view(
    view_definition: Annotated[
        str,
        typer.Argument(
            metavar="VIEW",
            help="A SQL-on-FHIR v2 ViewDefinition (.json), or a built-in view's name (Patient).",
        ),
    ],
    data: DataArgument,
    out: Annotated[Path, typer.Option(help="Write the table here (.parquet or .csv).")],
    out_format: Annotated[
        str | None, typer.Option("--format", help="parquet or csv (default: from --out).")
    ] = None,
    opt_out: OptOutOption = None,
    engine_name: EngineOption = "duckdb",
    spark_master: SparkMasterOption = "local[2]",
    audit_log: AuditLogOption = None,
    audit_key_file: AuditKeyFileOption = None,
) -> None:
    """Flatten FHIR data with a SQL-on-FHIR view: one SQL query in the engine, written to a
    Parquet or CSV table (docs/fhir.md "Views"). Audited: the table holds patient-level rows."""
    settings = pipeline.Settings(
        spark_master=spark_master,
        audit_log=audit_log,
        audit_key_file=audit_key_file,
        on_warning=warn_one,
    )
    result = pipeline.fhir_view(
        view_definition,
        data,
        out,
        out_format=out_format,
        opt_out=opt_out,
        engine=engine_name,
        settings=settings,
    )
    for issue in result.issues:
        err.print(f"healthdq: warning: {issue}", highlight=False, soft_wrap=True, markup=False)
    Console(highlight=False).print(
        f"{result.rows} rows, {len(result.columns)} columns written to {result.out}"
    )
    if result.opt_out_file is not None:
        err.print(
            f"opt-out ({result.opt_out_file}): resources removed: {result.opted_out}",
            highlight=False,
            soft_wrap=True,
        )


@fhir_app.command("validate")
def validate(
    data: DataArgument,
    outcome: Annotated[
        Path | None,
        typer.Option(help="Write the issues as FHIR OperationOutcome NDJSON (one per resource)."),
    ] = None,
    html: Annotated[Path | None, typer.Option(help="Write the offline HTML report here.")] = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write healthdq JSON results here.")
    ] = None,
    junit: Annotated[Path | None, typer.Option(help="Write JUnit XML here.")] = None,
    sample_size: Annotated[
        int, typer.Option(help=f"Issues kept per check (0..{pipeline.MAX_SAMPLE_SIZE}).")
    ] = 5,
    fail_on: Annotated[
        str, typer.Option(help="Exit 1 if a check fails at or above this severity.")
    ] = "error",
    show: Annotated[
        int, typer.Option(help="Issues printed (file:line, severity, code, element, details).")
    ] = 20,
    audit_log: AuditLogOption = None,
    audit_key_file: AuditKeyFileOption = None,
    threads: Annotated[
        int | None, typer.Option(help="Engine threads (default: all cores).")
    ] = None,
    store: StoreOption = None,
    no_store: NoStoreOption = False,
    dataset: DatasetOption = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No summary.")] = False,
) -> None:
    """Validate FHIR R4 structure against the core definitions (unknown elements, cardinality,
    types, formats, required bindings, references, Bundle and contained rules, invariants)."""
    check_fail_on(fail_on)
    settings = pipeline.Settings(
        audit_log=audit_log,
        audit_key_file=audit_key_file,
        on_warning=warn_one,
        outputs=outputs(json=json_out, junit=junit, html=html),
        threads=threads,
        store=store,
        keep_run=not no_store,
        dataset=dataset or data,
    )
    found = pipeline.fhir_validate(
        data, sample_size=sample_size, outcome=outcome, settings=settings
    )
    for issue in found.read_issues:
        err.print(f"healthdq: warning: {issue}", highlight=False, soft_wrap=True, markup=False)
    if not quiet:
        console = Console(highlight=False)
        resources = sum(t.rows for t in found.result.tables)
        by_severity: dict[str, int] = {}
        for issue in found.issues:
            by_severity[issue.severity] = by_severity.get(issue.severity, 0) + 1
        counts = ", ".join(f"{n} {s}" for s, n in sorted(by_severity.items())) or "no issues"
        console.print(f"{resources} resources validated from {data}: {counts}")
        for issue in found.issues[: max(show, 0)]:
            console.print(
                f"  {issue.where()}: {issue.severity} {issue.code} "
                f"{issue.expression or ''}: {issue.details}",
                markup=False,
                soft_wrap=True,
            )
        if len(found.issues) > show > 0:
            console.print(f"  ... {len(found.issues) - show} more (--outcome FILE for all)")
    exit_for(found.result, fail_on)
