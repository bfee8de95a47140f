"""`healthdq redact`: identifiers in free-text columns replaced by tags (docs/governance.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from healthdq import pipeline
from healthdq.cli.app import app, err, warn_one
from healthdq.cli.options import (
    AuditKeyFileOption,
    AuditLogOption,
    EngineOption,
    NhsNumberColumnOption,
    OptOutOption,
    SparkMasterOption,
)
from healthdq.sources.base import ReadOptions


@app.command()
def redact(
    data: Annotated[str, typer.Argument(help="Data file, folder or glob.", metavar="DATA")],
    columns: Annotated[
        str, typer.Option("--columns", help="Free-text columns to redact, comma-separated.")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output file (.parquet or .csv).")],
    detector: Annotated[
        str,
        typer.Option(help="builtin (SQL in the engine) or presidio (healthdq[presidio])."),
    ] = "builtin",
    out_format: Annotated[
        str | None, typer.Option(help="parquet or csv (default: by --out's extension).")
    ] = None,
    fmt: Annotated[
        str | None,
        typer.Option("--format", help="Input: csv|parquet|json|duckdb (default: by extension)."),
    ] = None,
    delimiter: Annotated[str | None, typer.Option(help="CSV delimiter.")] = None,
    encoding: Annotated[str | None, typer.Option(help="CSV encoding.")] = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write what was done (no data) as JSON here.")
    ] = None,
    opt_out: OptOutOption = None,
    nhs_number_column: NhsNumberColumnOption = None,
    audit_log: AuditLogOption = None,
    audit_key_file: AuditKeyFileOption = None,
    engine_name: EngineOption = "duckdb",
    spark_master: SparkMasterOption = "local[2]",
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No summary.")] = False,
) -> None:
    """Write DATA with names, NHS numbers, postcodes, phone numbers, emails, dates, addresses
    and NI numbers in the free-text COLUMNS replaced by tags such as [NHS_NUMBER]."""
    result = pipeline.redact(
        data,
        columns.split(","),
        out,
        detector=detector,
        read_options=ReadOptions(format=fmt, delimiter=delimiter, encoding=encoding),
        out_format=out_format,
        opt_out=opt_out,
        nhs_number_column=nhs_number_column,
        engine=engine_name,
        settings=pipeline.Settings(
            audit_log=audit_log,
            audit_key_file=audit_key_file,
            on_warning=warn_one,
            spark_master=spark_master,
        ),
    )
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(result.model_dump_json(indent=2) + "\n", encoding="utf-8")
    if not quiet:
        err.print(
            f"redacted {', '.join(result.columns)} in {result.rows:,} rows "
            f"({result.detector}, {result.engine}, {result.seconds:.1f} s) -> {result.output}",
            highlight=False,
            soft_wrap=True,
        )
        if result.opt_out_file is not None:
            err.print(
                f"opt-out ({result.opt_out_file}): records removed: {result.opted_out}",
                highlight=False,
                soft_wrap=True,
            )
