"""`healthdq synth`: synthetic NHS-like extracts with seeded defects (docs/synth.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from healthdq.cli.app import app
from healthdq.errors import HealthdqError

_DEFAULT_OUT = Path("out/synth.parquet")


@app.command()
def synth(
    kind: Annotated[str, typer.Argument(help="apc, ae, op, or fhir (a FHIR bulk export).")],
    rows: Annotated[int, typer.Option(help="Number of rows (fhir: resources).")] = 100_000,
    seed: Annotated[int, typer.Option(help="Seed: same seed, same data.")] = 42,
    out: Annotated[
        Path,
        typer.Option(
            help="Output file: .parquet, .csv, .ndjson or .duckdb; for fhir a folder "
            "(default out/fhir)."
        ),
    ] = _DEFAULT_OUT,
    gzip: Annotated[bool, typer.Option(help="fhir: write .ndjson.gz files.")] = False,
) -> None:
    """Generate a synthetic NHS-like extract with documented, seeded defects."""
    if kind == "fhir":
        _synth_fhir(rows, seed, Path("out/fhir") if out == _DEFAULT_OUT else out, gzip)
        return
    from healthdq.synth import generate

    if kind not in ("apc", "ae", "op"):
        raise HealthdqError(f"unknown kind '{kind}': use apc, ae, op or fhir")
    if rows < 0:
        raise HealthdqError("--rows must be 0 or more")
    out.parent.mkdir(parents=True, exist_ok=True)
    result = generate(kind, rows, out, seed=seed)
    Console().print(f"wrote {result.rows:,} {kind} rows to {result.path} (seed {seed})")
    for defect, count in result.expected.items():
        Console().print(f"  injected {defect}: {count:,}")


def _synth_fhir(rows: int, seed: int, out: Path, gzip: bool) -> None:
    from healthdq.synth.fhir import generate_fhir

    result = generate_fhir(rows, out, seed=seed, compress=gzip)
    console = Console()
    console.print(
        f"wrote {result.rows:,} FHIR resources to {result.path}/ (seed {seed}, "
        f"{result.seconds:.1f} s)"
    )
    for rtype, n in result.counts.items():
        console.print(f"  {result.files[rtype].name}: {n:,}")
    for defect, count in result.expected.items():
        console.print(f"  injected {defect}: {count:,}")
