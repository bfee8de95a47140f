"""The defect spec table: which defects a synthetic extract carries, where, and how many.

One table drives both the SQL that injects defects and the closed-form expected counts, so
the two cannot drift. Each defect class owns a dedicated set of "slots" out of ``MODULUS``;
row ``i`` sits in slot ``(i % MODULUS) * STRIDE % MODULUS``. The stride is coprime to the
modulus, so every block of ``MODULUS`` consecutive rows holds each slot exactly once (exact
counts) while one defect's rows are spread through the block rather than bunched together.
Slot ranges never overlap, so a row carries at most one defect and no defect masks another.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

KINDS = ("apc", "ae", "op")
MODULUS = 1000
STRIDE = 421  # coprime to MODULUS: a permutation of residues

ID_COLUMN = {"apc": "episode_id", "ae": "attendance_id", "op": "appointment_id"}
ID_PREFIX = {"apc": "E", "ae": "AE", "op": "OP"}
ID_DIGITS = 10
# The pack rule comparing date of birth with each kind's event date.
_BORN_BEFORE = {"apc": "before_admission", "ae": "before_arrival", "op": "before_appointment"}


@dataclass(frozen=True)
class DefectSpec:
    """One defect class: the column it corrupts, its exact rate and the SQL that corrupts it.

    ``how`` is a DuckDB expression over the clean row (its columns by name, plus ``dh``: a
    per-row hash for picking among variants, ``src``: the row index values come from).
    """

    id: str
    column: str
    description: str
    rate: float  # fraction of rows; a multiple of 1/MODULUS so counts are exact
    how: str
    rule: str  # id of the rule in the shipped pack (nhs-<kind>) that should catch it

    @property
    def slots(self) -> int:
        """Slots out of MODULUS this defect owns."""
        n = round(self.rate * MODULUS)
        if abs(n - self.rate * MODULUS) > 1e-9 or n <= 0:
            raise ValueError(f"{self.id}: rate {self.rate} is not a positive multiple of 0.001")
        return n


def _pick(values: list[str]) -> str:
    """SQL choosing one of the literal values by the defect hash."""
    items = ", ".join(values)
    return f"[{items}][1 + dh % {len(values)}]"


def _quote(values: list[str]) -> list[str]:
    return ["'" + v.replace("'", "''") + "'" for v in values]


def id_sql(kind: str, index: str) -> str:
    """SQL for the row key built from a row index expression ('E0000000042')."""
    return f"'{ID_PREFIX[kind]}' || lpad(CAST({index} AS VARCHAR), {ID_DIGITS}, '0')"


def _common(kind: str) -> list[DefectSpec]:
    """Patient and organisation defects every kind carries."""
    return [
        DefectSpec(
            "nhs_number_missing", "nhs_number", "NHS number absent (NULL)", 0.010,
            "NULL", f"{kind}.nhs_number.not_null",
        ),
        DefectSpec(
            "nhs_number_bad_check", "nhs_number",
            "10 digits starting 999 whose last digit is not the Modulus 11 check digit", 0.005,
            "CAST(nhs_body9 * 10 + (nhs_check + 1 + dh % 9) % 10 AS VARCHAR)",
            f"{kind}.nhs_number.valid",
        ),
        DefectSpec(
            "nhs_number_bad_format", "nhs_number",
            "not 10 digits: 9 digits ('999123456') or a letter ('999123456A')", 0.003,
            "CASE dh % 2 WHEN 0 THEN CAST(nhs_body9 AS VARCHAR) "
            "ELSE CAST(nhs_body9 AS VARCHAR) || 'A' END",
            f"{kind}.nhs_number.valid",
        ),
        DefectSpec(
            "nhs_number_separators", "nhs_number",
            "a valid NHS number typed with separators ('999 123 4567' or '999-123-4567')",
            0.002,
            "left(nhs_number, 3) || (CASE dh % 2 WHEN 0 THEN ' ' ELSE '-' END) "
            "|| substr(nhs_number, 4, 3) || (CASE dh % 2 WHEN 0 THEN ' ' ELSE '-' END) "
            "|| right(nhs_number, 4)",
            f"{kind}.nhs_number.format",
        ),
        DefectSpec(
            "dob_missing", "date_of_birth", "date of birth absent (NULL)", 0.005,
            "NULL", f"{kind}.date_of_birth.not_null",
        ),
        DefectSpec(
            "dob_default", "date_of_birth",
            "placeholder date 1800-01-01, 1801-01-01 or 1900-01-01", 0.003,
            "[DATE '1800-01-01', DATE '1801-01-01', DATE '1900-01-01'][1 + dh % 3]",
            f"{kind}.date_of_birth.default",
        ),
        DefectSpec(
            "dob_future", "date_of_birth",
            "date of birth 1 to 28 days after the event date (so still in the past)", 0.002,
            "event_date + CAST(1 + dh % 28 AS INTEGER)",
            f"{kind}.date_of_birth.{_BORN_BEFORE[kind]}",
        ),
        DefectSpec(
            "sex_invalid", "sex", "not in the sex code list: 'M', 'F' or '3'", 0.002,
            _pick(_quote(["M", "F", "3"])), f"{kind}.sex.valid",
        ),
        DefectSpec(
            "ethnic_invalid", "ethnic_category", "never a code: 'Q', 'X1' or '11'", 0.003,
            _pick(_quote(["Q", "X1", "11"])), f"{kind}.ethnic_category.valid",
        ),
        DefectSpec(
            "ethnic_legacy", "ethnic_category",
            "a pre-2001 code ('0' or '9') in a recent record: valid then, out of era now", 0.002,
            _pick(_quote(["0", "9"])), f"{kind}.ethnic_category.era",
        ),
        DefectSpec(
            "ethnic_not_known", "ethnic_category",
            "'99' (not known): a valid code but a DQMI default value", 0.020,
            "'99'", f"{kind}.ethnic_category.default",
        ),
        DefectSpec(
            "postcode_missing", "postcode", "postcode absent (NULL)", 0.008,
            "NULL", f"{kind}.postcode.not_null",
        ),
        DefectSpec(
            "postcode_invalid", "postcode",
            "not a UK postcode: 'LS1 4A', 'QQ1 1AA', '1LS 4AB', 'LS1 4ABC' or 'M13 0X9'", 0.004,
            _pick(_quote(["LS1 4A", "QQ1 1AA", "1LS 4AB", "LS1 4ABC", "M13 0X9"])),
            f"{kind}.postcode.valid",
        ),
        DefectSpec(
            "postcode_default", "postcode",
            "'ZZ99 3VZ' (no fixed abode pseudo-postcode): valid format, a default value", 0.005,
            "'ZZ99 3VZ'", f"{kind}.postcode.default",
        ),
        DefectSpec(
            "gp_practice_default", "gp_practice_code",
            "'V81999' (practice code not known): a default value", 0.010,
            "'V81999'", f"{kind}.gp_practice_code.default",
        ),
        DefectSpec(
            "gp_practice_invalid", "gp_practice_code",
            "not letter + 5 digits: '12345X', 'B8200' or 'BB2005'", 0.002,
            _pick(_quote(["12345X", "B8200", "BB2005"])), f"{kind}.gp_practice_code.valid",
        ),
        DefectSpec(
            "provider_invalid", "provider_code", "'XXXX': not an NHS trust code", 0.001,
            "'XXXX'", f"{kind}.provider_code.valid",
        ),
        DefectSpec(
            "duplicate_key", ID_COLUMN[kind],
            f"repeats the previous row's {ID_COLUMN[kind]} (a resubmitted record: every other "
            "value is the previous row's clean value too)", 0.003,
            id_sql(kind, "src"), f"{kind}.{ID_COLUMN[kind]}.unique",
        ),
    ]  # fmt: skip


def _apc() -> list[DefectSpec]:
    return [
        DefectSpec(
            "admission_method_invalid", "admission_method",
            "not in the list: '14', '2E' or '1' (lost digit)", 0.002,
            _pick(_quote(["14", "2E", "1"])), "apc.admission_method.valid",
        ),
        DefectSpec(
            "discharge_before_admission", "discharge_date",
            "discharge date 1 to 30 days before the admission date", 0.003,
            "admission_date - CAST(1 + dh % 30 AS INTEGER)",
            "apc.discharge_date.after_admission",
        ),
        DefectSpec(
            "diag_01_missing", "diag_01", "primary diagnosis absent (NULL)", 0.005,
            "NULL", "apc.diag_01.not_null",
        ),
        DefectSpec(
            "diag_01_invalid", "diag_01",
            "not HES ICD-10 form: 3 characters 'I10', 'ZZZZ' or dotted 'I10.X'", 0.004,
            _pick(_quote(["I10", "ZZZZ", "I10.X"])), "apc.diag_01.valid",
        ),
        DefectSpec(
            "opertn_invalid", "opertn_01",
            "not OPCS-4 form (letter + 3 digits): 'W40', 'W40.1' or '401W'", 0.003,
            _pick(_quote(["W40", "W40.1", "401W"])), "apc.opertn_01.valid",
        ),
        DefectSpec(
            "treatment_function_invalid", "treatment_function_code",
            "not a 3-digit code: '1A0', '10' or 'ABC'", 0.002,
            _pick(_quote(["1A0", "10", "ABC"])), "apc.treatment_function_code.valid",
        ),
    ]  # fmt: skip


def _ae() -> list[DefectSpec]:
    from healthdq.synth.codes import CHIEF_COMPLAINTS, verhoeff_corrupt

    # Every complaint id with its check digit shifted by 1..3: fails Verhoeff, same partition.
    bad = [verhoeff_corrupt(c, k) for c, _ in CHIEF_COMPLAINTS for k in (1, 2, 3)]
    return [
        DefectSpec(
            "departure_before_arrival", "departure_datetime",
            "departure 1 to 600 minutes before arrival", 0.004,
            "epoch_ms(arrival_ms - (1 + dh % 600) * 60000)",
            "ae.departure_datetime.after_arrival",
        ),
        DefectSpec(
            "sctid_invalid", "chief_complaint",
            "a chief complaint SCTID with a wrong Verhoeff check digit", 0.005,
            _pick(_quote(bad)), "ae.chief_complaint.valid",
        ),
        DefectSpec(
            "attendance_disposal_invalid", "attendance_disposal",
            "not in the list: '1' (lost leading zero), '99' or '15'", 0.003,
            _pick(_quote(["1", "99", "15"])), "ae.attendance_disposal.valid",
        ),
    ]  # fmt: skip


def _op() -> list[DefectSpec]:
    return [
        DefectSpec(
            "appointment_before_referral", "referral_date",
            "referral date 1 to 60 days after the appointment date", 0.004,
            "appointment_date + CAST(1 + dh % 60 AS INTEGER)",
            "op.referral_date.before_appointment",
        ),
        DefectSpec(
            "opertn_invalid", "opertn_01",
            "not OPCS-4 form (letter + 3 digits): 'W40', 'W40.1' or '401W'", 0.002,
            _pick(_quote(["W40", "W40.1", "401W"])), "op.opertn_01.valid",
        ),
        DefectSpec(
            "treatment_function_invalid", "treatment_function_code",
            "not a 3-digit code: '1A0', '10' or 'ABC'", 0.002,
            _pick(_quote(["1A0", "10", "ABC"])), "op.treatment_function_code.valid",
        ),
    ]  # fmt: skip


DEFECTS: dict[str, list[DefectSpec]] = {
    "apc": _common("apc") + _apc(),
    "ae": _common("ae") + _ae(),
    "op": _common("op") + _op(),
}


@cache
def slot_ranges(kind: str) -> dict[str, tuple[int, int]]:
    """Each defect's half-open slot range [a, b), allocated in spec order from slot 0."""
    out: dict[str, tuple[int, int]] = {}
    a = 0
    for d in DEFECTS[kind]:
        out[d.id] = (a, a + d.slots)
        a += d.slots
    if a > MODULUS:
        raise ValueError(f"{kind}: defect rates add up to more than 100%")
    return out


def defect_slots_total(kind: str) -> int:
    """Slots [0, total) carry a defect; slots from total on are clean rows."""
    return sum(d.slots for d in DEFECTS[kind])


@cache
def residues(kind: str, defect_id: str) -> frozenset[int]:
    """The residues i % MODULUS of the rows that carry this defect."""
    a, b = slot_ranges(kind)[defect_id]
    return frozenset(r for r in range(MODULUS) if a <= r * STRIDE % MODULUS < b)


def expected_defects(kind: str, rows: int) -> dict[str, int]:
    """Exact number of rows carrying each defect class in a ``rows``-row extract of ``kind``.

    Closed form over the spec table: full blocks of MODULUS rows hold every residue once; the
    last partial block holds the residues below ``rows % MODULUS``.
    """
    if kind not in DEFECTS:
        raise ValueError(f"unknown kind '{kind}' (known: {', '.join(KINDS)})")
    full, rest = divmod(rows, MODULUS)
    out: dict[str, int] = {}
    for d in DEFECTS[kind]:
        res = residues(kind, d.id)
        out[d.id] = full * len(res) + sum(1 for r in res if r < rest)
    return out


def expected_by_rule(kind: str, rows: int) -> dict[str, int]:
    """Expected failing rows per shipped pack rule id (classes sharing a rule are added up).

    Exact for a check run after 2025-04-28: a ``dob_future`` birth date is at most 28 days
    after an event in the 2024-25 financial year, so no rule that compares with today counts it.
    """
    out: dict[str, int] = {}
    counts = expected_defects(kind, rows)
    for d in DEFECTS[kind]:
        out[d.rule] = out.get(d.rule, 0) + counts[d.id]
    return out


def _check() -> None:
    for kind, specs in DEFECTS.items():
        ids = [d.id for d in specs]
        assert len(ids) == len(set(ids)), kind
        slot_ranges(kind)
        dup = residues(kind, "duplicate_key")
        # A duplicate copies row i-1: row 0 has none, and two duplicates must never be
        # adjacent (the second would copy a key that is itself a copy, so no surplus row).
        assert 0 not in dup, kind
        assert all((r - 1) % MODULUS not in dup for r in dup), kind


_check()
