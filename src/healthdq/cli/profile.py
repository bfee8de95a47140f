"""`healthdq profile`: a one-pass column profile and a suggested contract (docs/profile.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from healthdq import pipeline
from healthdq.cli.app import app, err, warn_one
from healthdq.cli.options import (
    AuditKeyFileOption,
    AuditLogOption,
    EngineOption,
    IdentifiableOption,
    SparkMasterOption,
    SuppressionOption,
)
from healthdq.rules.sandbox import relative_source
from healthdq.sources.base import ReadOptions


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
    union_by_name: Annotated[
        bool,
        typer.Option("--union-by-name", help="Combine files whose columns differ by column name."),
    ] = False,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write the profile as JSON.")
    ] = None,
    identifiable: IdentifiableOption = None,
    suppression: SuppressionOption = None,
    audit_log: AuditLogOption = None,
    engine_name: EngineOption = "duckdb",
    spark_master: SparkMasterOption = "local[2]",
    audit_key_file: AuditKeyFileOption = None,
) -> None:
    """Profile every column in one pass and suggest a starting contract."""
    from healthdq.profile import render_profile, suggest_contract

    prof = pipeline.profile(
        data,
        table=table,
        read_options=ReadOptions(
            format=fmt, delimiter=delimiter, encoding=encoding, union_by_name=union_by_name
        ),
        engine=engine_name,
        settings=pipeline.Settings(
            audit_log=audit_log,
            audit_key_file=audit_key_file,
            on_warning=warn_one,
            spark_master=spark_master,
            identifiable=identifiable,
            suppression=suppression,
        ),
    )
    render_profile(prof, Console())
    if json_out:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(prof.model_dump_json(indent=2), encoding="utf-8")
    if suggest:
        suggest.parent.mkdir(parents=True, exist_ok=True)
        text = suggest_contract(prof, table, source=relative_source(data, suggest))
        suggest.write_text(text, encoding="utf-8")
        err.print(f"suggested contract written to {suggest}")
