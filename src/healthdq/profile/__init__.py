"""`healthdq profile`: a one-pass column profile and a suggested starting contract."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

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
        title=f"{profile.relation}: {profile.rows:,} rows, {len(profile.columns)} columns "
        f"({profile.seconds:.2f}s, {profile.scans} scan{'s' if profile.scans != 1 else ''})",
        title_justify="left",
    )
    for header, justify in (
        ("column", "left"),
        ("type", "left"),
        ("nulls %", "right"),
        ("distinct", "right"),
        ("min", "left"),
        ("max", "left"),
        ("top patterns", "left"),
        ("detected", "left"),
    ):
        table.add_column(header, justify=justify)  # type: ignore[arg-type]
    for col in profile.columns:
        masked = col.identifier in ("nhs_number", "postcode") and col.min is None and col.count
        if col.exact_distinct is not None:
            distinct = f"{col.exact_distinct:,}"
        else:
            distinct = f"~{col.approx_distinct:,}"  # HyperLogLog estimate
        detected = col.kind
        if col.validator:
            detected += f" ({col.validators[col.validator]:.1f}% valid)"
        if col.identifier:
            detected += f" [identifier: {col.identifier}]"
        table.add_row(
            col.name,
            col.type,
            f"{col.null_pct:.2f}",
            distinct,
            MASK if masked else _short(col.min),
            MASK if masked else _short(col.max),
            _short(", ".join(col.top_patterns[:3]), 32),
            detected,
        )
    console.print(table)
    for warning in profile.warnings:
        console.print(f"[yellow]warning:[/yellow] {warning}")
