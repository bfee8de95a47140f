"""`healthdq fhir`: FHIR R4 resources, Bundles and Bulk Data NDJSON (docs/fhir.md).

A command group: `healthdq fhir read DATA` here; other FHIR verbs (view, validate) add their
commands to `fhir_app`.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from healthdq import pipeline
from healthdq.cli.app import app, err
from healthdq.cli.options import EngineOption, SparkMasterOption

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
        typer.Option(help="DuckDB memory limit, e.g. 2GB (default 80% of RAM); spills beyond it."),
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
