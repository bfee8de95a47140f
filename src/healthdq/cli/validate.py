"""`healthdq validate`: check a contract file without reading data (docs/contracts.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from healthdq.cli.app import app
from healthdq.rules.loader import load_contract


@app.command()
def validate(
    contract: Annotated[Path, typer.Argument(help="Contract YAML to validate.")],
) -> None:
    """Validate a contract file without reading any data."""
    c = load_contract(contract)
    n = sum(len(t.rules) for t in c.tables.values())
    Console().print(f"{contract}: ok ({len(c.tables)} tables, {n} rules)")
