"""Binding a contract's column names to a source's columns: explicit mapping, then aliases.

Packs name columns canonically (`nhs_number`); extracts use their own names (HES `NEWNHSNO`,
SUS `NHS_NUMBER`). A column the user mapped is bound to what they gave; a canonical column absent
from the source is bound to the first of its aliases the source has, matched case-insensitively.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Binding:
    """Source column (lower case) -> canonical name, and what was bound, for the report."""

    renames: dict[str, str] = field(default_factory=dict)
    # Canonical name -> the source column it was bound to (mapped or by alias).
    bound: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def bind_columns(
    columns: list[str],
    mapping: dict[str, str],
    aliases: dict[str, list[str]] | None = None,
    location: str = "",
) -> Binding:
    """Which source column becomes which canonical column."""
    present = {c.lower(): c for c in columns}
    out = Binding()
    for canonical, source in mapping.items():
        real = present.get(source.lower())
        if real is None:
            where = f" is not in {location}" if location else " is not in the source"
            out.warnings.append(f"mapped column '{source}' (for '{canonical}'){where}")
            continue
        out.renames[real.lower()] = canonical
        out.bound[canonical] = real
    taken = set(out.renames)
    for canonical, names in (aliases or {}).items():
        if canonical in mapping:
            continue
        if canonical.lower() in present:
            out.bound[canonical] = present[canonical.lower()]
            continue
        for name in names:
            real = present.get(name.lower())
            if real is not None and real.lower() not in taken:
                out.renames[real.lower()] = canonical
                out.bound[canonical] = real
                taken.add(real.lower())
                break
    return out
