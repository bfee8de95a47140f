"""Column mapping: the one place a source's column names become the names a contract uses.

Both engine readers (and DataFrame inputs) call `map_columns`, so a mapping means the same on
every engine: canonical name -> the user's column, matched case-insensitively.
"""

from __future__ import annotations

from dataclasses import dataclass

from healthdq.sources.base import ROW


@dataclass
class Mapped:
    """(source column, output name) pairs in source order, and what did not map."""

    pairs: list[tuple[str, str]]
    warnings: list[str]


def map_columns(
    columns: list[str], mapping: dict[str, str], location: str, lower_case: bool = False
) -> Mapped:
    """Output names for `columns` (`__row` left out) under `mapping` (canonical -> source).

    `lower_case` lower-cases every output name; of two columns that differ only in case the
    first wins (an OMOP CDM's tables are read so).
    """
    source_to_canonical = {v.lower(): k for k, v in mapping.items()}
    pairs: list[tuple[str, str]] = []
    seen: set[str] = set()
    for col in columns:
        if col == ROW:
            continue
        out = source_to_canonical.get(col.lower(), col)
        if lower_case:
            out = out.lower()
            if out in seen:
                continue
            seen.add(out)
        pairs.append((col, out))
    present = {c.lower() for c in columns}
    warnings = [
        f"mapped column '{src}' (for '{canonical}') is not in {location}"
        for canonical, src in mapping.items()
        if src.lower() not in present
    ]
    return Mapped(pairs, warnings)
