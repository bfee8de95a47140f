"""`healthdq packs`: list the shipped packs or print one (docs/contracts.md)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.console import Console

from healthdq.cli.app import app
from healthdq.rules.loader import load_pack, pack_names, pack_path


@app.command()
def packs(
    name: Annotated[str | None, typer.Argument(help="Show this pack's YAML.")] = None,
) -> None:
    """List the shipped packs, or print one to copy and adapt."""
    if name:
        sys.stdout.write(pack_path(name).read_text(encoding="utf-8"))
        return
    console = Console()
    for pack_name in pack_names():
        c = load_pack(pack_name)
        n = sum(len(t.rules) for t in c.tables.values())
        console.print(f"{pack_name:10} v{c.version:5} {n:4} rules  {c.description}")
