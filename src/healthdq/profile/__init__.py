"""`healthdq profile`: a one-pass column profile and a suggested starting contract."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from healthdq.profile.profiler import ColumnProfile, TableProfile, profile_table
from healthdq.profile.suggest import suggest_contract

__all__ = [
    "ColumnProfile",
    "TableProfile",
    "profile_table",
    "render_profile",
    "suggest_contract",
]

MASK = "•••"


def _short(value: object, width: int = 24) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def render_profile(profile: TableProfile, console: Console) -> None:
    """Print the profile as a table: one row per column."""
    table = Table(
        title=escape(
            f"{profile.relation}: {profile.rows:,} rows, {len(profile.columns)} columns "
            f"({profile.seconds:.2f}s on {profile.engine}, {profile.scans} "
            f"scan{'s' if profile.scans != 1 else ''} of the data"
            + (
                f"; patterns and validators on a sample of {profile.sample_rows:,} rows"
                if profile.sample_rows < profile.rows
                else ""
            )
            + (
                "; ~ marks a HyperLogLog estimate"
                if any(c.exact_distinct is None and c.count for c in profile.columns)
                else ""
            )
            + ")"
        ),
        title_justify="left",
    )
    # Short cells stay on one line (cut with an ellipsis); patterns and the detection wrap.
    table.add_column("column", no_wrap=True, max_width=24)
    table.add_column("type", no_wrap=True, max_width=12)
    table.add_column("nulls %", justify="right", no_wrap=True)
    table.add_column("distinct", justify="right", no_wrap=True)
    table.add_column("min", no_wrap=True, max_width=14)
    table.add_column("max", no_wrap=True, max_width=14)
    table.add_column("top patterns", max_width=24)
    table.add_column("detected", ratio=1)
    for col in profile.columns:
        # The pipeline masked identifier values; an identifier without them shows the mask.
        masked = bool(col.identifier) and col.min is None and col.count
        if col.exact_distinct is not None:
            distinct = f"{col.exact_distinct:,}"
        else:
            distinct = f"~{col.approx_distinct:,}"  # HyperLogLog estimate
        notes = []
        if col.validator:
            notes.append(f"{col.validators[col.validator]:.1f}% valid")
        if col.identifier:
            notes.append("identifier" if col.identifier == col.kind else col.identifier)
        detected = col.kind + (f" ({', '.join(notes)})" if notes else "")
        cells = [
            col.name,
            col.type,
            f"{col.null_pct:.2f}",
            distinct,
            MASK if masked else _short(col.min),
            MASK if masked else _short(col.max),
            _short(", ".join(col.top_patterns[:3]), 32),
            detected,
        ]
        # Text cells: data values are never read as rich markup ('[x]' stays as written).
        table.add_row(*(Text(cell) for cell in cells))
    console.print(table)
    for warning in profile.warnings:
        console.print(f"[yellow]warning:[/yellow] {warning}")
