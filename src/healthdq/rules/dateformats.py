"""Named date formats a contract may declare for a text date column (`format: MMYYYY`)."""

from __future__ import annotations

# Named formats -> strptime patterns (sqlglot renders them for each engine).
FORMATS: dict[str, str] = {
    "ISO": "%Y-%m-%d",
    "YYYY-MM-DD": "%Y-%m-%d",
    "YYYYMMDD": "%Y%m%d",
    "DD/MM/YYYY": "%d/%m/%Y",
    "DD-MM-YYYY": "%d-%m-%Y",
    "MMYYYY": "%m%Y",
    "YYYY-MM": "%Y-%m",
    "YYYYMM": "%Y%m",
}

# Dates that stand for "no date": HES writes 1800-01-01 for a null date and 1801-01-01 for an
# invalid one (HES Data Dictionary, date fields); 1900-01-01 and 9999-12-31 are common system
# placeholders. Packs flag them with default_value rules; a record dated by one has no known
# date, so code_era does not judge it.
PLACEHOLDER_DATES = ("1800-01-01", "1801-01-01", "1900-01-01", "9999-12-31")


def strptime_of(fmt: str) -> str:
    """The strptime pattern for a named format or a pattern given as is ('%d.%m.%Y')."""
    named = FORMATS.get(fmt.strip().upper())
    if named:
        return named
    if "%" in fmt:
        return fmt
    raise ValueError(
        f"unknown date format '{fmt}' (use {', '.join(FORMATS)} or a strptime pattern)"
    )
