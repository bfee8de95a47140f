"""Column mapping: the one place a source's column names become the names a contract uses.

Both engine readers (and DataFrame inputs) call `map_columns`, so a mapping means the same on
every engine: canonical name -> the user's column (`--map`), then a pack's aliases
(sources/aliases.py), matched case-insensitively.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from healthdq.sources.aliases import bind_columns
from healthdq.sources.base import ROW
from healthdq.sources.compose import find_parts


@dataclass
class Mapped:
    """(source column, output name) pairs in source order, and what did not map."""

    pairs: list[tuple[str, str]]
    warnings: list[str]
    # Canonical column -> the source column bound to it (by --map or by a pack alias).
    bound: dict[str, str] = field(default_factory=dict)
    # (date column, time column, output name): timestamps composed from two source fields.
    composed: list[tuple[str, str, str]] = field(default_factory=list)


def map_columns(
    columns: list[str],
    mapping: dict[str, str],
    location: str,
    lower_case: bool = False,
    aliases: dict[str, list[str]] | None = None,
    parts: dict[str, tuple[list[str], list[str]]] | None = None,
) -> Mapped:
    """Output names for `columns` (`__row` left out) under `mapping` (canonical -> source).

    `lower_case` lower-cases every output name; of two columns that differ only in case the
    first wins (an OMOP CDM's tables are read so).
    """
    columns = [c for c in columns if c != ROW]
    binding = bind_columns(columns, mapping, aliases, location)
    pairs: list[tuple[str, str]] = []
    seen: set[str] = set()
    for col in columns:
        out = binding.renames.get(col.lower(), col)
        if lower_case:
            out = out.lower()
            if out in seen:
                continue
            seen.add(out)
        pairs.append((col, out))
    composed: list[tuple[str, str, str]] = []
    outputs = {out.lower() for _, out in pairs}
    present = {c.lower(): c for c in columns}
    for canonical, (date_names, time_names) in (parts or {}).items():
        if canonical.lower() in outputs or canonical in binding.bound:
            continue
        found = find_parts(present, date_names, time_names)
        if found:
            composed.append((*found, canonical))
            binding.bound[canonical] = f"{found[0]} + {found[1]}"
    return Mapped(pairs, binding.warnings, binding.bound, composed)
