"""`healthdq risk`: disclosure risk of a table for a set of quasi-identifiers (docs/risk.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import BaseModel
from rich.console import Console

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
from healthdq.errors import HealthdqError
from healthdq.sources.base import ReadOptions


def split_columns(text: str | None, option: str) -> list[str]:
    """'a,b, c' -> ['a', 'b', 'c']; an empty item is an error naming the option."""
    if text is None:
        return []
    items = [item.strip() for item in text.split(",")]
    if any(not item for item in items):
        raise HealthdqError(f"{option} '{text}' has an empty column name")
    if len(set(items)) != len(items):
        raise HealthdqError(f"{option} '{text}' names a column twice")
    return items


@app.command()
def risk(
    data: Annotated[str, typer.Argument(help="Data file, folder or glob.")],
    qi: Annotated[
        str,
        typer.Option(help="Quasi-identifiers, comma-separated: age_band,sex,postcode_district."),
    ],
    sensitive: Annotated[
        str | None,
        typer.Option(help="Sensitive attributes for l-diversity and t-closeness, comma-separated."),
    ] = None,
    population: Annotated[
        int | None,
        typer.Option(help="Population size the data was drawn from: population uniqueness."),
    ] = None,
    threshold: Annotated[
        float,
        typer.Option(help="A record is at risk when its re-identification probability is above."),
    ] = 0.2,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write the risk report as JSON here.")
    ] = None,
    hierarchies: Annotated[
        Path | None,
        typer.Option(help="Generalisation hierarchies (YAML): search the least generalisation."),
    ] = None,
    target_k: Annotated[int | None, typer.Option(help="Search: the k to reach.")] = None,
    target_l: Annotated[
        int | None, typer.Option(help="Search: the distinct l to reach (needs --sensitive).")
    ] = None,
    target_t: Annotated[
        float | None,
        typer.Option(help="Search: the t-closeness to reach, in (0, 1] (needs --sensitive)."),
    ] = None,
    max_suppression: Annotated[
        float, typer.Option(help="Search: share of records that may be suppressed (0..1).")
    ] = 0.0,
    out: Annotated[
        Path | None,
        typer.Option(help="Search: write the generalised data here (.parquet or .csv)."),
    ] = None,
    small_number: Annotated[
        int, typer.Option(help="Counts 1..N-1 of records are suppressed in outputs.")
    ] = 7,
    suppress: Annotated[
        bool, typer.Option("--suppress/--no-suppress", help="Suppress small numbers.")
    ] = True,
    fmt: Annotated[str | None, typer.Option("--format", help="csv|parquet|json|duckdb.")] = None,
    delimiter: Annotated[str | None, typer.Option(help="CSV delimiter.")] = None,
    encoding: Annotated[str | None, typer.Option(help="CSV encoding.")] = None,
    table: Annotated[str | None, typer.Option(help="Table inside a DuckDB database file.")] = None,
    fhir_view: Annotated[
        str | None,
        typer.Option(
            "--fhir-view",
            help="DATA is FHIR: measure this built-in SQL-on-FHIR view of it (e.g. Patient).",
            metavar="NAME",
        ),
    ] = None,
    opt_out: OptOutOption = None,
    nhs_number_column: NhsNumberColumnOption = None,
    audit_log: AuditLogOption = None,
    audit_key_file: AuditKeyFileOption = None,
    threads: Annotated[
        int | None, typer.Option(help="Engine threads (default: all cores).")
    ] = None,
    engine_name: EngineOption = "duckdb",
    spark_master: SparkMasterOption = "local[2]",
) -> None:
    """Disclosure risk: equivalence classes, k, l, t, re-identification risk, uniqueness."""
    from healthdq.report.risk import render_risk, render_search

    if small_number < 0:
        raise HealthdqError(f"--small-number must be 0 or more, got {small_number}")
    settings = pipeline.Settings(
        suppress_small_numbers=suppress,
        audit_log=audit_log,
        audit_key_file=audit_key_file,
        on_warning=warn_one,
        threads=threads,
        spark_master=spark_master,
    )
    read_options = ReadOptions(
        format=fmt, delimiter=delimiter, encoding=encoding, table=table, fhir_view=fhir_view
    )
    # What the risk report and the search both take.
    common: dict[str, Any] = {
        "qi": split_columns(qi, "--qi"),
        "small_number": small_number,
        "read_options": read_options,
        "opt_out": opt_out,
        "nhs_number_column": nhs_number_column,
        "engine": engine_name,
        "settings": settings,
    }
    if hierarchies is None:
        for name, value in (
            ("--target-k", target_k),
            ("--target-l", target_l),
            ("--target-t", target_t),
            ("--out", out),
        ):
            if value is not None:
                raise HealthdqError(f"{name} needs --hierarchies")
    else:
        if target_k is None:
            raise HealthdqError("--hierarchies needs --target-k")
        columns = split_columns(sensitive, "--sensitive")
        if len(columns) > 1:
            raise HealthdqError("the search takes one --sensitive column")
        result = pipeline.risk_search(
            data,
            hierarchies=hierarchies,
            target_k=target_k,
            target_l=target_l,
            target_t=target_t,
            sensitive=columns[0] if columns else None,
            max_suppression=max_suppression,
            out=out,
            **common,
        )
        render_search(result, Console())
        _write_json(result, json_out, "search result")
        return
    report = pipeline.risk(
        data,
        sensitive=split_columns(sensitive, "--sensitive"),
        population=population,
        threshold=threshold,
        **common,
    )
    render_risk(report, Console())
    _write_json(report, json_out, "risk report")


def _write_json(model: BaseModel, path: Path | None, what: str) -> None:
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(model.model_dump_json(indent=2), encoding="utf-8")
        err.print(f"{what} written to {path}")
