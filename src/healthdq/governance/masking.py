"""Masking of patient identifiers in every output (HTML, JSON, JUnit, terminal).

Identifiers are masked by default; only `healthdq check --unmask` (which is audited) turns this
off. Masks keep just enough to debug a data-quality problem (is the NHS number the right shape?
which postcode district? which birth year?) without identifying a person.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from healthdq.results import RunResult

MASK = "***"

# Identifier kinds a contract column can declare (ColumnSpec.identifier).
IDENTIFIER_KINDS: tuple[str, ...] = (
    "nhs_number",
    "postcode",
    "date_of_birth",
    "name",
    "address",
    "local_id",
    "free_text",
)

# A UK postcode: outward code (area + district) and inward code (sector digit + unit letters).
_POSTCODE = re.compile(r"^\s*([A-Z]{1,2}[0-9][A-Z0-9]?)\s*([0-9][A-Z]{2})\s*$", re.IGNORECASE)
_YEAR = re.compile(r"(?<!\d)(1[89]\d\d|20\d\d)(?!\d)")
# Values that are already masks, so that masking twice leaves them as they are.
_MASKED_NHS = re.compile(r"^\d{3}([ -])\*\*\*\1\*\*\d{2}$")
_MASKED_POSTCODE = re.compile(r"^[A-Z0-9]{0,4} ?\*\*\*$", re.IGNORECASE)


def _mask_nhs_number(value: Any) -> str:
    text = str(value).strip()
    if _MASKED_NHS.match(text):
        return text
    digits = re.sub(r"[\s-]", "", text)
    if len(digits) == 10 and digits.isdigit():
        # Same shape as the NHS's own display format (3-3-4), so reviewers recognise it; dashes
        # stay visible when the value had them (they may be the finding).
        sep = "-" if "-" in text else " "
        return f"{digits[:3]}{sep}***{sep}**{digits[-2:]}"
    # Junk: keep the first two characters so the kind of junk is visible ("N/A", "00..."),
    # but never enough to reconstruct a short value.
    if len(text) <= 3:
        return "*" * max(len(text), 1)
    return text[:2] + "*" * (len(text) - 2)


def _mask_postcode(value: Any) -> str:
    text = str(value)
    if _MASKED_POSTCODE.match(text):
        return text
    match = _POSTCODE.match(text)
    if match:
        # As written: letter case and a missing space may be the finding (postcode_format).
        space = " " if text[match.end(1) : match.start(2)] else ""
        return f"{match.group(1)}{space}{MASK}"
    # Not a postcode shape: the outward code cannot be told apart, keep only two characters.
    stripped = text.strip()
    if len(stripped) <= 3:
        return MASK
    return stripped[:2] + MASK


def _mask_date_of_birth(value: Any) -> str:
    if isinstance(value, datetime | date):
        return f"{value.year:04d}-**-**"
    match = _YEAR.search(str(value))
    if match:
        return f"{match.group(1)}-**-**"
    return "****-**-**"


def mask_value(kind: str | None, value: Any) -> Any:
    """Mask one value of an identifier column of the given kind.

    `kind` None (or "none") means the column is not an identifier: the value is returned
    unchanged. Missing values (None) stay None, because "the identifier is missing" is the
    data-quality finding and identifies nobody. Unknown kinds are masked completely (fail safe).
    """
    if kind is None or kind == "none" or value is None:
        return value
    if kind == "nhs_number":
        return _mask_nhs_number(value)
    if kind == "postcode":
        return _mask_postcode(value)
    if kind == "date_of_birth":
        return _mask_date_of_birth(value)
    # name, address, local_id, free_text and anything unrecognised: a fixed-width mask so even
    # the length (a hint for short names) is hidden.
    return MASK


def identifiers_of(result: RunResult) -> dict[tuple[str, str], str]:
    """The identifier kind of each (table, column) as recorded in the result's tables."""
    found: dict[tuple[str, str], str] = {}
    for table in result.tables:
        for column in table.columns:
            if column.identifier and column.identifier != "none":
                found[(table.name, column.name)] = column.identifier
    return found


def mask_samples(
    result: RunResult, identifiers: dict[tuple[str, str], str] | None = None
) -> RunResult:
    """Mask every identifier value in the failing-row samples and set `result.masked`.

    `identifiers` maps (table, column) to an identifier kind; it is merged over the kinds
    recorded in `result.tables`, so columns declared in the contract are always covered.
    The result is masked in place (so a caller that ignores the return value still cannot
    leak) and returned for chaining. Masking twice is harmless.
    """
    kinds = identifiers_of(result)
    kinds.update(identifiers or {})
    for rule in result.rules:
        for sample in rule.samples:
            sample.values = {
                column: mask_value(kinds.get((rule.table, column)), value)
                for column, value in sample.values.items()
            }
    result.masked = True
    return result


# Metrics that carry values of the data rather than counts.
VALUE_METRICS = ("min", "max", "top_values")


def mask_metrics(
    result: RunResult, identifiers: dict[tuple[str, str], str] | None = None
) -> RunResult:
    """Drop value-bearing metrics (min, max, top values) of identifier columns, in place.

    Counts (nulls, blanks, distinct) stay: they describe the column, not a patient.
    """
    kinds = identifiers_of(result)
    kinds.update(identifiers or {})
    identifying = {(t.lower(), c.lower()) for t, c in kinds}
    result.metrics = [
        metric
        for metric in result.metrics
        if not (
            metric.name in VALUE_METRICS
            and (str(metric.table).lower(), str(metric.column).lower()) in identifying
        )
    ]
    return result


# Identifier kinds whose value shapes ('999 999 9999', 'AA9 9AA') are the data-quality finding
# and single nobody out; the shapes of names, local ids and free text can (a rare length).
SHAPE_SAFE = ("nhs_number", "postcode", "date_of_birth")
_PLACEHOLDER_DATES = ("1800-01-01", "1801-01-01", "1900-01-01")


def _mask_profile_value(kind: str, value: Any) -> Any:
    # Placeholder dates ('1900-01-01' = not known) identify nobody and are the finding.
    if kind == "date_of_birth" and str(value)[:10] in _PLACEHOLDER_DATES:
        return value
    return mask_value(kind, value)


def mask_profile(profile: Any) -> Any:
    """Mask every identifier column of a TableProfile in place (and return it).

    Values are masked as `check` masks samples (mask_value): min, max and the date range; the
    most frequent values are dropped, as are the value shapes of names, local ids and free
    text. Counts stay. Known placeholder values stay (they are codes, not people).
    """
    for col in profile.columns:
        kind = col.identifier
        if not kind or kind == "none":
            continue
        for field in ("min", "max", "date_min", "date_max"):
            value = getattr(col, field)
            if value is not None:
                setattr(col, field, _mask_profile_value(kind, value))
        col.top_values = []
        if kind not in SHAPE_SAFE:
            col.top_patterns = []
    profile.masked = True
    return profile
