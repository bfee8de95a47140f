"""`healthdq pseudonymise`: tokens, generalisation and opt-out, run by the engine
(docs/governance.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from healthdq import pipeline
from healthdq.cli.app import app, warn_one
from healthdq.cli.options import (
    AuditKeyFileOption,
    AuditLogOption,
    DatasetOption,
    EngineOption,
    NoStoreOption,
    OptOutOption,
    SparkMasterOption,
    StoreOption,
)
from healthdq.errors import HealthdqError
from healthdq.governance.pseudonymise import KEY_ENV, load_config
from healthdq.sources.base import ReadOptions


def table_locations(data: list[str]) -> dict[str, str]:
    """DATA items: PATH (one table, named after the file) or TABLE=PATH."""
    sources: dict[str, str] = {}
    for item in data:
        name, sep, path = item.partition("=")
        if not sep or not name or "/" in name or "\\" in name:
            if len(data) > 1:
                raise HealthdqError(f"'{item}': with several tables give each as TABLE=PATH")
            name, path = Path(item.rstrip("/")).stem.split(".")[0] or "data", item
        if name in sources:
            raise HealthdqError(f"table '{name}' given twice")
        sources[name] = path
    return sources


@app.command()
def pseudonymise(
    data: Annotated[
        list[str],
        typer.Argument(
            help="Data file, folder or glob; TABLE=PATH for several tables; FHIR when the "
            "config has fhir:.",
            metavar="DATA",
        ),
    ],
    config: Annotated[Path, typer.Option("--config", "-c", help="Pseudonymisation config YAML.")],
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            "-o",
            help="Output file (.parquet or .csv); a folder for several tables or for FHIR.",
        ),
    ],
    key_file: Annotated[
        Path | None,
        typer.Option(help=f"Project key, 32+ bytes (default: ${KEY_ENV}).", metavar="FILE"),
    ] = None,
    opt_out: OptOutOption = None,
    out_format: Annotated[
        str | None, typer.Option(help="parquet or csv (default: by --out's extension).")
    ] = None,
    run_date: Annotated[
        str | None,
        typer.Option(help="Date ages are computed at (default: the config's, else today)."),
    ] = None,
    fmt: Annotated[
        str | None,
        typer.Option("--format", help="Input: csv|parquet|json|duckdb (default: by extension)."),
    ] = None,
    delimiter: Annotated[
        str | None, typer.Option(help="CSV delimiter (default: detected).")
    ] = None,
    encoding: Annotated[str | None, typer.Option(help="CSV encoding.")] = None,
    table: Annotated[str | None, typer.Option(help="Table inside a DuckDB database file.")] = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write what was done (no data) as JSON here.")
    ] = None,
    audit_log: AuditLogOption = None,
    audit_key_file: AuditKeyFileOption = None,
    threads: Annotated[
        int | None, typer.Option(help="Engine threads (default: all cores).")
    ] = None,
    engine_name: EngineOption = "duckdb",
    spark_master: SparkMasterOption = "local[2]",
    store: StoreOption = None,
    no_store: NoStoreOption = False,
    dataset: DatasetOption = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No summary.")] = False,
) -> None:
    """Write DATA with identifiers replaced by keyed tokens and quasi-identifiers generalised."""
    spec = load_config(config)
    settings = pipeline.Settings(
        audit_log=audit_log,
        audit_key_file=audit_key_file,
        on_warning=warn_one,
        threads=threads,
        spark_master=spark_master,
        store=store,
        keep_run=not no_store,
        dataset=dataset,
    )
    result = pipeline.pseudonymise(
        table_locations(data),
        spec,
        out,
        key_file=key_file,
        opt_out=opt_out,
        read_options=ReadOptions(format=fmt, delimiter=delimiter, encoding=encoding, table=table),
        out_format=out_format,
        run_date=pipeline.parse_run_date(run_date),
        engine=engine_name,
        settings=settings,
    )
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(result.model_dump_json(indent=2) + "\n", encoding="utf-8")
    if quiet:
        return
    unit = "resources" if result.format == "ndjson" else "rows"
    for t in result.tables:
        removed = f", opted-out records removed: {t.opted_out}" if t.opted_out is not None else ""
        print(f"{t.name}: {t.rows:,} {unit} -> {t.output}{removed}")
    if result.read_issues:
        print(
            f"{result.read_issues} lines or entries could not be read and were skipped "
            "(healthdq fhir read DATA lists them)"
        )
    if result.opted_out is not None:
        print(f"opt-out ({result.opt_out_file}): records removed: {result.opted_out}")
    kept = f"; run {result.run_id[:12]} kept in the results store" if result.run_id else ""
    print(f"key id {result.key_id}; {result.seconds:.1f} s on {result.engine}{kept}")
