"""`healthdq synth`: synthetic NHS-like extracts with seeded defects (docs/synth.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from healthdq.cli.app import app
from healthdq.errors import HealthdqError


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
