"""Engine and reader error text, rewritten so that no value from the data reaches an output.

DuckDB and Spark quote the offending value in their errors ("Could not convert string
'943 476 5919' to INT64"): an NHS number, a date of birth or a postcode copied into a report that
says `masked: true`. Every engine or reader error that goes into a result, a report, the audit
log or the terminal passes through `engine_message`, which names the problem and drops the data.
"""

from __future__ import annotations

import re

MAX_CHARS = 300

# Engine spellings of types, as a contract author writes them.
_TYPES = {
    "INT64": "BIGINT",
    "INT32": "INTEGER",
    "INT16": "SMALLINT",
    "INT8": "TINYINT",
    "BOOL": "BOOLEAN",
    "STRING": "VARCHAR",
    "FLOAT64": "DOUBLE",
    "FLOAT": "FLOAT",
}

_TYPE = r"[\"']?([A-Za-z_][A-Za-z0-9_]*(?:\(\d+(?:,\s*\d+)?\))?)[\"']?"
_COLUMN = re.compile(r"when casting from source column (\"[^\"]*\"|\S+)")

# (pattern on the engine's first line, message built from the groups). Order matters.
_RULES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"Could not convert string .* to " + _TYPE, re.S), "value does not convert to {0}"),
    (
        re.compile(r"invalid (date|timestamp|time|interval) field format", re.I),
        "value does not convert to {0!u}",
    ),
    (
        re.compile(r"(date|timestamp|time) field value out of range", re.I),
        "value does not convert to {0!u} (out of range)",
    ),
    (
        re.compile(
            r"Type " + _TYPE + r" with value .* out of range for the destination type " + _TYPE
        ),
        "value of type {0} is out of range for {1}",
    ),
    (
        re.compile(r"Could not parse string .* according to format specifier (\"[^\"]*\")"),
        "value does not match the format {0!r}",
    ),
    (
        re.compile(r"Cannot compare values of type " + _TYPE + r" and type " + _TYPE),
        "values of type {0} and {1} cannot be compared",
    ),
    # Spark (ANSI mode): [CAST_INVALID_INPUT] The value '...' of the type "STRING" cannot be cast
    # to "DATE" because it is malformed.
    (
        re.compile(r"The value .* of the type " + _TYPE + r" cannot be cast to " + _TYPE),
        "value of type {0} does not convert to {1}",
    ),
    (re.compile(r"\[CAST_OVERFLOW\].*to " + _TYPE), "value is out of range for {0}"),
    (re.compile(r"Division by zero|DIVIDE_BY_ZERO", re.I), "division by zero"),
    # Argument types only, e.g. '+(VARCHAR, INTEGER_LITERAL)': no data in them.
    (
        re.compile(r"No function matches the given name and argument types '([^']*)'"),
        "no function matches {0!r}: the argument types need a cast",
    ),
]

# Whatever no rule recognised: quoted text and long numbers are data until shown otherwise.
_SINGLE = re.compile(r"'(?:[^']|'')*'")
_DOUBLE = re.compile(r'"([^"]*)"')
_DIGITS = re.compile(r"\d[\d\s/.:-]{2,}\d|\d{3,}")
# A word holding a digit (LS1, 4AP, A123456) may be a postcode or a local id; type names stay.
_WORD_WITH_DIGIT = re.compile(r"\b(?!(?:U?INT|FLOAT|UTF|DECIMAL|TIMESTAMP_)\d*\b)\w*\d\w*\b")
_ENGINE_PREFIX = re.compile(r"^(?:[A-Za-z ]+ Error|[A-Za-z]+Exception):\s*")


def _type(name: str) -> str:
    upper = name.upper()
    return _TYPES.get(upper, upper)


def _fill(template: str, groups: tuple[str | None, ...]) -> str:
    out = template
    for i, g in enumerate(groups):
        value = g or ""
        out = out.replace(f"{{{i}!u}}", value.upper()).replace(f"{{{i}!r}}", value)
        out = out.replace(f"{{{i}}}", _type(value))
    return out


def _scrub(text: str, keep: set[str]) -> str:
    """Drop quoted values and long numbers; keep double-quoted names the caller vouches for."""
    text = _SINGLE.sub("'…'", text)
    text = _DOUBLE.sub(lambda m: m.group(0) if m.group(1).lower() in keep else '"…"', text)
    text = _DIGITS.sub("…", text)
    return _WORD_WITH_DIGIT.sub(lambda m: m.group(0) if m.group(0).lower() in keep else "…", text)


def engine_message(exc: BaseException | str, columns: list[str] | None = None) -> str:
    """One line naming the problem in `exc`, with every value from the data removed.

    `columns` are names that may stay when quoted (column names are not data).
    """
    raw = exc if isinstance(exc, str) else str(exc)
    lines = [ln.strip() for ln in raw.strip().splitlines() if ln.strip()]
    if not lines:
        return exc.__class__.__name__ if not isinstance(exc, str) else "engine error"
    first = lines[0]
    keep = {c.lower() for c in columns or []}
    column = _COLUMN.search(first)
    where = f" (column {column.group(1).strip(chr(34))})" if column else ""
    for pattern, template in _RULES:
        found = pattern.search(first)
        if found:
            return _fill(template, found.groups()) + where
    text = _ENGINE_PREFIX.sub("", first)
    text = _COLUMN.sub("", text).strip()
    scrubbed = _scrub(text, keep)
    if len(scrubbed) > MAX_CHARS:
        scrubbed = scrubbed[: MAX_CHARS - 1] + "…"
    return scrubbed + where
