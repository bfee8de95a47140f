"""Decide what each profiled column holds: which NHS validator fits, identifiers, code sets.

Detection works on the profile only (no further queries). Identifiers are found by content as
well as by name: values shaped like NHS numbers (with or without separators), postcodes (valid
or not), dates of birth (any common format, or a date column spanning a lifetime), names under a
name-like column name, and any text column of mostly unique values (a local identifier or free
text that may hold one). A validator is chosen when at least
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
DOB_HINTS = ("dateofbirth", "birthdate", "birth", "mydob", "dob")
# Identifier name hints: mask these even when the values fail validation (they are still people's
# identifiers, just badly formed).
IDENTIFIER_HINTS = {"nhs_number": HINTS["nhs_number"][:4], "postcode": HINTS["postcode"][:3]}
NAME_HINTS = (
    "forename",
    "surname",
    "givenname",
    "familyname",
    "firstname",
    "lastname",
    "middlename",
    "patientname",
    "fullname",
)
# A content shape (profiler.SHAPES) must cover this % of the sampled values to be believed;
# postcodes count when half look like one (a badly kept postcode column is still postcodes).
SHAPE_MIN = 95.0
POSTCODE_SHAPE_MIN = 50.0
NAME_SHAPE_MIN = 80.0
# Dates spanning a lifetime (years between earliest and latest) are dates of birth.
LIFETIME_YEARS = 30
# A text column whose distinct values are at least this share of its values, over at least
# MIN_UNIQUE_ROWS values, is masked as an identifier (local_id).
MOSTLY_UNIQUE = 0.9
MIN_UNIQUE_ROWS = 10
# Names of count-like columns: their small integer values are numbers, not codes.
COUNT_HINTS = ("count", "cnt", "total", "num", "days", "los", "qty", "quantity", "duration", "age")
# Text dates other than ISO, as the kind names them.
DATE_SHAPES = {"date_dmy": "dd/mm/yyyy", "date_mmyyyy": "MMYYYY", "date_yyyymmdd": "YYYYMMDD"}


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
        # Codes in force today: a retired scheme's digits would make counts look like codes.
        codes = get_valueset(name).codes
        return frozenset(c.code for c in codes if c.valid_to is None and not c.legacy)
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


def is_icd10_3(col: ColumnProfile) -> bool:
    """3-character ICD-10 codes (HES DIAG_3_nn): letter + 2 digits, across several chapters or
    under a diagnosis name. ODS codes of that shape share one or two initial letters."""
    if col.shapes.get("icd10_3", 0.0) < SHAPE_MIN:
        return False
    letters = {v[:1] for v in col.top_values}
    return bool(hint_score(col.name, HINTS["icd10"])) or len(letters) >= 3


def choose_validator(col: ColumnProfile, kinds: dict[str, str]) -> str | None:
    """The validator this column should be checked with, or None."""
    best: tuple[int, float, int] | None = None
    chosen = None
    icd3 = is_icd10_3(col)
    for name, pct in col.validators.items():
        if pct < PASS_MIN or kinds.get(name) == "finding" or (icd3 and name != "icd10"):
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


def is_count(col: ColumnProfile) -> bool:
    """Small whole numbers that count something (episodes, days): by name, or a run 0..n or 1..n
    of five or more values. Leading zeros ('01') make codes, never counts."""
    if col.validator is not None or col.family not in ("text", "integer"):
        return False
    values = col.top_values
    if not values or not all(v.isdigit() and (v == "0" or v[0] != "0") for v in values):
        return False
    tokens = set(re.split(r"[^a-z0-9]+", col.name.lower()))
    if hint_score(col.name, COUNT_HINTS) or tokens & {"n", "no"}:
        return True
    numbers = sorted(int(v) for v in values)
    run = numbers == list(range(numbers[0], numbers[0] + len(numbers)))
    return col.all_values_seen and run and numbers[0] in (0, 1) and len(numbers) >= 5


def is_code_set(col: ColumnProfile) -> bool:
    """A small set of short codes, every one of them known (free text is longer)."""
    return (
        col.family in ("text", "integer")
        and col.all_values_seen
        and 0 < len(col.top_values) <= MAX_ALLOWED
        and (col.max_length or 0) <= MAX_CODE_LENGTH
        and not is_date(col)
        and not is_count(col)
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


def date_shape(col: ColumnProfile) -> str | None:
    """The non-ISO text date format most of the column's values have, if any."""
    for shape, label in DATE_SHAPES.items():
        if col.shapes.get(shape, 0.0) >= DATE_MIN_PCT:
            return label
    return None


def is_date(col: ColumnProfile) -> bool:
    return (
        col.family in ("date", "timestamp")
        or (col.date_pct is not None and col.date_pct >= DATE_MIN_PCT)
        or date_shape(col) is not None
    )


def _lifetime(col: ColumnProfile) -> bool:
    """Dates spanning a lifetime, none in the future: births. Placeholder years (1800, 1801,
    1900) say nothing about the span, so text dates reaching back to them are not judged."""
    if col.date_min and col.date_max:
        low, high = int(col.date_min[:4]), int(col.date_max[:4])
    elif col.year_min is not None and col.year_max is not None and col.year_min > 1901:
        low, high = col.year_min, col.year_max
    else:
        return False
    return high - low >= LIFETIME_YEARS and col.future_dates == 0


def identifier_of(col: ColumnProfile) -> str | None:
    """The identifier kind a column holds, by its values first and then by its name."""
    if not col.count and not col.blanks:
        return None
    shapes = col.shapes
    textual = col.family in ("text", "integer")
    if (
        col.validator == "nhs_number"
        or shapes.get("nhs_number_separated", 0.0) >= PASS_MIN
        or shapes.get("nhs_like", 0.0) >= SHAPE_MIN
    ):
        return "nhs_number"
    if col.validator == "postcode" or shapes.get("postcode_like", 0.0) >= POSTCODE_SHAPE_MIN:
        return "postcode"
    if is_date(col) and (
        hint_score(col.name, DOB_HINTS)
        or shapes.get("date_mmyyyy", 0.0) >= DATE_MIN_PCT
        or _lifetime(col)
    ):
        return "date_of_birth"
    for ident, hints in IDENTIFIER_HINTS.items():
        if textual and hint_score(col.name, hints):
            return ident
    # Named like a name and holding words (a name typed badly is still a name: text will do).
    named = hint_score(col.name, NAME_HINTS) > 0 or normalise(col.name) == "name"
    if named and (shapes.get("name_like", 0.0) >= NAME_SHAPE_MIN or col.family == "text"):
        return "name"
    # The exact distinct count, else the HyperLogLog estimate (a few % off: far from the cut).
    if (
        col.family == "text"
        and not is_date(col)
        and col.count + col.blanks >= MIN_UNIQUE_ROWS
        and col.distinct >= MOSTLY_UNIQUE * (col.count + col.blanks)
    ):
        return "local_id"
    return None


def choose_all(profile: TableProfile) -> None:
    """Choose each column's validator from the (possibly sampled) pass rates."""
    kinds = {name: getattr(v, "kind", "format") for name, v in load_validators().items()}
    for col in profile.columns:
        col.validator = choose_validator(col, kinds) if col.count else None


def detect_columns(profile: TableProfile) -> None:
    """Fill kind, identifier and unique on every column, once exact counts are in."""
    for col in profile.columns:
        # Keys are text or whole numbers: unique amounts or timestamps are not identifiers.
        if col.exact_distinct is not None and col.family in ("text", "integer"):
            col.unique = col.exact_distinct == col.count + col.blanks
        elif col.exact_distinct is not None and col.count >= 2:
            col.unique = False if col.exact_distinct < col.count + col.blanks else None
        if col.validator is not None and col.validators[col.validator] < PASS_MIN:
            # The sample flattered this validator; the exact count says no.
            col.validator = None
            col.validator_passes = None
        col.identifier = identifier_of(col)
        col.kind = _kind(col)


def _kind(col: ColumnProfile) -> str:
    if col.count == 0:
        return "empty"
    if col.validator:
        return col.validator
    if is_icd10_3(col):
        return "icd10 (3-character)"
    if col.shapes.get("nhs_number_separated", 0.0) >= PASS_MIN:
        return "nhs_number (with separators)"
    if is_date(col):
        shape = date_shape(col) if col.date_pct is None or col.date_pct < DATE_MIN_PCT else None
        if shape:
            return f"date ({shape})"
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
    if is_count(col):
        return "number"
    if col.family in ("integer", "decimal"):
        return "number"
    return col.family
