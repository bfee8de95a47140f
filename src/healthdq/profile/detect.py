"""Decide what each profiled column holds: which NHS validator fits, identifiers, code sets.

Detection works on the profile only (no further queries). A validator is chosen when at least
PASS_MIN % of the non-null values pass it; ties are broken by the column name (HES / NHS Data
Dictionary field names), then by pass rate, then by how specific the validator is. Small value
sets (sex, 'not known' codes) match many unrelated columns by chance, so a value set needs a
name hint or must cover a good share of its codes.
"""

from __future__ import annotations

import re
from functools import cache

from healthdq.profile.profiler import (
    MAX_ALLOWED,
    UNIQUE_CANDIDATE,
    ColumnProfile,
    TableProfile,
    load_validators,
)

PASS_MIN = 95.0
# Without a name hint, a value set must be at least this share of the column's distinct values
# (all of them known) and the column must use this share of the set's codes and >= 3 codes.
VALUESET_COVERAGE = 0.5
DATE_MIN_PCT = 95.0
# A column named like an identifier with at most this % of duplicate values gets a unique rule
# (its threshold tolerating them): duplicate keys are a finding, not a reason to drop the rule.
NEAR_UNIQUE = 1.0
ID_TOKENS = {"id", "key", "ref", "uid", "guid", "number", "num", "no"}
# Without a name hint, a format validator needs this many distinct values to be believed.
FORMAT_MIN_DISTINCT = 5
# Codes are short ('01', 'A', 'RXX01', 'Female'); longer values in a small set are free text.
MAX_CODE_LENGTH = 10

# Name fragments (lower case, no separators) that point at a validator; longest match wins.
HINTS: dict[str, tuple[str, ...]] = {
    "nhs_number": ("nhsnumber", "nhsno", "newnhsno", "nhsnum", "nhs"),
    "sctid": ("snomed", "sctid", "conceptid", "sct"),
    "postcode": ("postcode", "postcd", "homeadd", "pcode", "postal"),
    "ods_org": (
        "provider",
        "procode",
        "organisation",
        "organization",
        "orgcode",
        "commissioner",
        "purcode",
        "trust",
        "icb",
        "ccg",
        "org",
    ),
    "ods_site": ("sitetret", "sitecode", "site"),
    "gp_practice": ("gpprac", "practice", "gmp", "gp"),
    "icd10": ("diagnosis", "icd10", "diag", "icd"),
    "opcs4": ("opertn", "opcs", "procedure", "operation", "proc"),
    "treatment_function": ("treatmentfunction", "tretspef", "mainspef", "specialty", "tfc"),
    "ethnic_category": ("ethnicity", "ethnic", "ethnos"),
    "person_stated_gender": ("gender",),
    "sex": ("sex",),
    "admission_method": ("admissionmethod", "admimeth", "admmeth"),
    "admission_source": ("admissionsource", "admisorc", "admsource"),
    "discharge_method": ("dischargemethod", "dismeth"),
    "discharge_destination": ("dischargedestination", "disdest"),
    "patient_classification": ("patientclassification", "classpat", "patientclass"),
    "ae_attendance_category": ("aeattendancecategory", "aeattendcat", "attendancecategory"),
    "ae_attendance_disposal": ("aeattendancedisposal", "aeattenddisp", "disposal"),
    "outpatient_attendance_status": ("attendancestatus", "attended", "attendstatus"),
    "first_attendance": ("firstattendance", "firstatt"),
}
# Most specific first: the tie-break when two validators accept the same values.
PRIORITY = (
    "nhs_number",
    "sctid",
    "postcode",
    "gp_practice",
    "icd10",
    "opcs4",
    "ods_site",
    "ods_org",
    "treatment_function",
)
DOB_HINTS = ("dateofbirth", "birthdate", "birth", "dob")
# Identifier name hints: mask these even when the values fail validation (they are still people's
# identifiers, just badly formed).
IDENTIFIER_HINTS = {"nhs_number": HINTS["nhs_number"][:4], "postcode": HINTS["postcode"][:3]}


def normalise(name: str) -> str:
    """Column name reduced to lower-case letters and digits, for hint matching."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


def hint_score(column: str, hints: tuple[str, ...]) -> int:
    """Length of the longest hint found in the column name (0 when none)."""
    n = normalise(column)
    return max((len(h) for h in hints if h in n), default=0)


@cache
def valueset_codes(name: str) -> frozenset[str] | None:
    """Codes of a shipped value set, or None when there is no such set."""
    from healthdq.validators.valueset import get_valueset

    try:
        return frozenset(c.code for c in get_valueset(name).codes)
    except KeyError:
        return None


@cache
def default_codes(name: str) -> frozenset[str]:
    """The value set's Data Dictionary default codes (not known, not applicable...)."""
    from healthdq.validators.valueset import get_valueset

    try:
        return frozenset(c.code for c in get_valueset(name).codes if c.default)
    except KeyError:
        return frozenset()


def _valueset_plausible(col: ColumnProfile, name: str) -> bool:
    """A value set fits by name, or by using enough of its codes (not by chance)."""
    if hint_score(col.name, HINTS.get(name, (name.replace("_", ""),))):
        return True
    codes = valueset_codes(name)
    if codes is None or not col.all_values_seen:
        return False
    seen = set(col.top_values)
    used = seen & codes
    return (
        len(used) >= 3
        and len(used) >= VALUESET_COVERAGE * len(seen)
        and len(used) >= VALUESET_COVERAGE * len(codes)
    )


def choose_validator(col: ColumnProfile, kinds: dict[str, str]) -> str | None:
    """The validator this column should be checked with, or None."""
    best: tuple[int, float, int] | None = None
    chosen = None
    for name, pct in col.validators.items():
        if pct < PASS_MIN or kinds.get(name) == "finding":
            continue
        if kinds.get(name) == "valueset" and not _valueset_plausible(col, name):
            continue
        hint = hint_score(col.name, HINTS.get(name, (name.replace("_", ""),)))
        if (
            kinds.get(name) == "format"
            and not hint
            and col.all_values_seen
            and len(col.top_values) < FORMAT_MIN_DISTINCT
        ):
            # Two or three short codes ('PAS', 'SUS') fit loose formats (an ODS code) by chance.
            continue
        specific = len(PRIORITY) - PRIORITY.index(name) if name in PRIORITY else 0
        key = (hint, pct, specific)
        if best is None or key > best:
            best, chosen = key, name
    return chosen


def is_code_set(col: ColumnProfile) -> bool:
    """A small set of short codes, every one of them known (free text is longer)."""
    return (
        col.family in ("text", "integer")
        and col.all_values_seen
        and 0 < len(col.top_values) <= MAX_ALLOWED
        and (col.max_length or 0) <= MAX_CODE_LENGTH
        and not is_date(col)
    )


def duplicates(col: ColumnProfile) -> int:
    """Surplus copies (non-null values minus distinct ones), as a unique rule counts them; 0 when
    there was no exact distinct count."""
    if col.exact_distinct is None:
        return 0
    return col.count + col.blanks - col.exact_distinct


def is_near_unique(col: ColumnProfile) -> bool:
    """An identifier with a few duplicates: an id-like name and at most NEAR_UNIQUE % copies."""
    if col.unique or col.exact_distinct is None or not col.count:
        return False
    tokens = set(re.split(r"[^a-z0-9]+", col.name.lower()))
    id_like = bool(tokens & ID_TOKENS) or col.name.lower().endswith("id")
    return id_like and 100.0 * duplicates(col) / (col.count + col.blanks) <= NEAR_UNIQUE


def is_date(col: ColumnProfile) -> bool:
    return col.family in ("date", "timestamp") or (
        col.date_pct is not None and col.date_pct >= DATE_MIN_PCT
    )


def choose_all(profile: TableProfile) -> None:
    """Choose each column's validator from the (possibly sampled) pass rates."""
    kinds = {name: getattr(v, "kind", "format") for name, v in load_validators().items()}
    for col in profile.columns:
        col.validator = choose_validator(col, kinds) if col.count else None


def detect_columns(profile: TableProfile) -> None:
    """Fill kind, identifier and unique on every column, once exact counts are in."""
    for col in profile.columns:
        if col.exact_distinct is not None:
            col.unique = col.exact_distinct == col.count + col.blanks
        elif (
            col.family != "other"
            and col.count >= 2
            and col.approx_distinct < UNIQUE_CANDIDATE * col.count
        ):
            # Well below the count even allowing for HyperLogLog's error: not unique.
            col.unique = False
        if col.validator is not None and col.validators[col.validator] < PASS_MIN:
            # The sample flattered this validator; the exact count says no.
            col.validator = None
            col.validator_passes = None
        if col.validator in ("nhs_number", "postcode"):
            col.identifier = col.validator
        else:
            for ident, hints in IDENTIFIER_HINTS.items():
                if col.family in ("text", "integer") and hint_score(col.name, hints):
                    col.identifier = ident
        if is_date(col) and hint_score(col.name, DOB_HINTS):
            col.identifier = "date_of_birth"
        col.kind = _kind(col)


def _kind(col: ColumnProfile) -> str:
    if col.count == 0:
        return "empty"
    if col.validator:
        return col.validator
    if is_date(col):
        return "date" if col.family != "timestamp" else "timestamp"
    if col.family == "boolean":
        return "flag"
    if col.unique:
        return "unique id"
    if is_near_unique(col):
        n = duplicates(col)
        return f"id ({n:,} duplicate{'' if n == 1 else 's'})"
    if is_code_set(col):
        return f"code ({len(col.top_values)} values)"
    if col.family in ("integer", "decimal"):
        return "number"
    return col.family
