"""Generate synthetic NHS-like extracts inside DuckDB: one ``COPY (SELECT ... FROM rows)``.

Why this shape: every value is a pure function of the row index and the seed, computed with
integer hashing in vectorised SQL, so 10M rows take about ten seconds on two cores, the output
is identical on every run and thread count, and nothing is held in Python. Rows are built in
stages (nested subqueries): row hashes, then the patient the row belongs to, then patient
hashes, then clean values; last, the defect spec table (``spec.py``) overwrites exactly the
rows in each defect's slot range.
"""

from __future__ import annotations

import hashlib
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb

from healthdq.errors import HealthdqError
from healthdq.synth import codes as C
from healthdq.synth.spec import (
    DEFECTS,
    KINDS,
    MODULUS,
    STRIDE,
    defect_slots_total,
    expected_defects,
    id_sql,
    slot_ranges,
)

FORMATS = {
    ".parquet": "parquet",
    ".csv": "csv",
    ".ndjson": "ndjson",
    ".jsonl": "ndjson",
    ".json": "ndjson",
    ".duckdb": "duckdb",
    ".db": "duckdb",
}
MAX_ROWS = 2**31 - 1  # keeps every hash product inside BIGINT, row numbers inside INTEGER
# Up to this many rows, generation scans a table of row numbers in parallel (4 bytes a row).
PARALLEL_MAX_ROWS = 200_000_000

# Patients: a pool of at most 900,000 (the number of valid NHS numbers in the 999 test range
# with a usable check digit, 100,000 prefixes x 9), split evenly over the age bands.
_BANDS = len(C.AGE_BANDS)
_NHS_POOL = 900_000
_PER_BAND_MAX = _NHS_POOL // _BANDS

_M32 = 0xFFFFFFFF
# Two rounds of xorshift-multiply (constants from Wellons' hash-prospector, both below 2^31 so
# a 32-bit value times a constant never overflows BIGINT).
_MIX1 = 0x21F0AAAD
_MIX2 = 0x735A2D97


@dataclass
class SynthResult:
    """What ``generate`` wrote and how many rows carry each injected defect class."""

    path: Path
    kind: str
    rows: int
    seed: int
    expected: dict[str, int]
    fmt: str = "parquet"
    seconds: float = 0.0
    columns: list[str] = field(default_factory=list)


# --- SQL helpers ----------------------------------------------------------------------------


def _lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _list(values: Sequence[str | int]) -> str:
    """A DuckDB list literal (1-based when indexed)."""
    return "[" + ", ".join(_lit(v) if isinstance(v, str) else str(v) for v in values) + "]"


def _weighted(values: Sequence[str | int], weights: Sequence[int]) -> str:
    """A list literal with each value repeated by its weight: index it by ``1 + h % total``."""
    out: list[str | int] = []
    for v, w in zip(values, weights, strict=True):
        out.extend([v] * w)
    return _list(out)


def _pick(h: str, pairs: Sequence[tuple[str, int]]) -> str:
    """Weighted draw of a code from (code, weight) pairs whose weights sum to 1000."""
    return f"{_weighted([c for c, _ in pairs], [w for _, w in pairs])}[1 + {h} % 1000]"


def _case_pick(h: str, pairs: Sequence[tuple[str, int]], total: int) -> str:
    """Weighted draw by cumulative thresholds, for fine weights (total 10000)."""
    parts, acc = [], 0
    for code, w in pairs[:-1]:
        acc += w
        parts.append(f"WHEN {h} % {total} < {acc} THEN {_lit(code)}")
    return f"CASE {' '.join(parts)} ELSE {_lit(pairs[-1][0])} END"


def _bucket_index(h: str, buckets: Sequence[tuple[int, int, int]]) -> str:
    """Weighted draw of a bucket (0-based) from (first, last, weight out of 1000) buckets."""
    return f"{_weighted(list(range(len(buckets))), [w for _, _, w in buckets])}[1 + {h} % 1000]"


def _bucket_value(h: str, buckets: Sequence[tuple[int, int, int]], index: str) -> str:
    """A whole number drawn uniformly within the bucket in column ``index``."""
    lo = _list([a for a, _, _ in buckets])
    width = _list([b - a + 1 for a, b, _ in buckets])
    return f"({lo}[1 + {index}] + ({h} >> 10) % {width}[1 + {index}])"


def _stage(inner: str, cols: dict[str, str]) -> str:
    """Wrap a query adding named columns computed from its output."""
    added = ", ".join(f"{expr} AS {name}" for name, expr in cols.items())
    return f"SELECT *, {added} FROM ({inner})"


def _constants(seed: int, tag: str) -> tuple[int, int]:
    """Per-stream hash multiplier (odd, below 2^31) and offset (below 2^32) from the seed."""
    digest = hashlib.blake2b(f"{seed}:{tag}".encode(), digest_size=8).digest()
    m = (int.from_bytes(digest[:4], "little") & 0x7FFFFFFF) | 1
    c = int.from_bytes(digest[4:], "little")
    return m, c


def _mix(inner: str, key: str, names: Sequence[str], prefix: str, seed: int, tag: str = "") -> str:
    """Add a 32-bit hash column ``prefix + name`` of (key, name, seed, tag) per stream name.

    Each step is its own subquery so a column is referenced, not re-expanded (DuckDB inlines
    expressions, and xorshift uses its input twice).
    """
    cols = [f"{prefix}{n}" for n in names]
    step0 = {}
    for n, col in zip(names, cols, strict=True):
        m, c = _constants(seed, f"{tag}:{prefix}{n}")
        step0[col] = f"({key} * {m} + {c}) & {_M32}"
    q = _stage(inner, step0)
    for mult, shift in ((_MIX1, 16), (_MIX2, 15)):
        repl = ", ".join(f"(xor({c}, {c} >> {shift}) * {mult}) & {_M32} AS {c}" for c in cols)
        q = f"SELECT * REPLACE ({repl}) FROM ({q})"
    repl = ", ".join(f"xor({c}, {c} >> 15) AS {c}" for c in cols)
    return f"SELECT * REPLACE ({repl}) FROM ({q})"


def nhs_number_stages(q: str) -> str:
    """Add ``nhs_number`` (and its parts) from ``nhs_idx`` (0 to 899,999), one-to-one.

    NHS number 999 + 5-digit prefix + 9th digit + check digit: each prefix has at most one 9th
    digit whose check digit would be 10 (invalid); it is skipped so the 9 remaining map
    one-to-one onto indexes. ``nhs_body9`` (first nine digits) and ``nhs_check`` stay as columns
    so a defect can write a wrong check digit.
    """
    q = _stage(
        q,
        {
            "nhs_p5": "nhs_idx // 9",
            "nhs_k": "nhs_idx % 9",
            "nhs_base": (
                "243 + 7 * (nhs_idx // 90000) + 6 * (nhs_idx // 9000 % 10) "
                "+ 5 * (nhs_idx // 900 % 10) + 4 * (nhs_idx // 90 % 10) + 3 * (nhs_idx // 9 % 10)"
            ),
        },
    )
    # The 9th digit d with 2*d = 1 - base (mod 11) would give check digit 10; 6 = 2^-1 mod 11.
    q = _stage(q, {"nhs_skip": "(6 * (12 - nhs_base % 11)) % 11"})
    q = _stage(q, {"nhs_d9": "CASE WHEN nhs_k >= nhs_skip THEN nhs_k + 1 ELSE nhs_k END"})
    q = _stage(
        q,
        {
            "nhs_body9": "999000000 + nhs_p5 * 10 + nhs_d9",
            "nhs_check": "(11 - (nhs_base + 2 * nhs_d9) % 11) % 11",
        },
    )
    return _stage(q, {"nhs_number": "CAST(nhs_body9 * 10 + nhs_check AS VARCHAR)"})


# --- shared stages: rows, patients, organisations ------------------------------------------

_ROW_STREAMS_COMMON = ["band", "pat", "prov", "site", "ds", "day", "tfc", "dh"]
_PATIENT_STREAMS = ["age", "sex", "eth", "home", "pc", "inw", "gp"]


def _base(kind: str, rows: int, seed: int, row_streams: list[str], source: str) -> str:
    """Row index, defect slot, source row, row hashes, patient and patient attributes.

    ``source`` yields the row numbers 0..rows-1, in order, as a BIGINT column ``range``.
    """
    a_dup, b_dup = slot_ranges(kind)["duplicate_key"]
    slot = f"(range % {MODULUS}) * {STRIDE} % {MODULUS}"
    q = (
        f"SELECT range AS i, {slot} AS slot, "
        f"CASE WHEN {slot} >= {a_dup} AND {slot} < {b_dup} THEN range - 1 ELSE range END AS src "
        f"FROM {source}"
    )
    # 'prone' rows (by the source row's slot) carry a defect: they lean towards a few trusts
    # and the PAS feed, so group-by reports show realistic unevenness at exact totals.
    q = _stage(
        q,
        {"prone": f"(src % {MODULUS}) * {STRIDE} % {MODULUS} < {defect_slots_total(kind)}"},
    )
    # Row hashes differ by kind (row 5 of an APC and an A&E file are unrelated); patient
    # hashes do not, so one seed's patients carry the same details in every kind's file.
    q = _mix(q, "src", _ROW_STREAMS_COMMON + row_streams, "h_", seed, kind)

    # The row's patient: age band first (weights per kind), then a patient of that band, so
    # the same patient (NHS number, birth date, sex, ...) recurs with the same details.
    per_band = max(1, min(_PER_BAND_MAX, rows // (2 * _BANDS)))
    band_list = _weighted(list(range(_BANDS)), C.AGE_WEIGHTS[kind])
    q = _stage(
        q,
        {
            "band": f"{band_list}[1 + h_band % 1000]",
            "pk": f"{band_list}[1 + h_band % 1000] + {_BANDS} * (h_pat % {per_band})",
        },
    )
    q = _mix(q, "pk", _PATIENT_STREAMS, "g_", seed)

    lo = _list([a for a, _ in C.AGE_BANDS])
    width = _list([b - a + 1 for a, b in C.AGE_BANDS])
    prov_list = _weighted(list(range(1, len(C.PROVIDERS) + 1)), [p.weight for p in C.PROVIDERS])
    prone_list = _weighted(list(range(1, len(C.PROVIDERS) + 1)), [p.prone for p in C.PROVIDERS])
    nhs_offset = (seed * 7919) % _NHS_POOL
    q = _stage(
        q,
        {
            "age": f"{lo}[1 + band] + g_age % {width}[1 + band]",
            # Whole years plus a day, counted back from the day before the financial year: every
            # birth precedes every event, so a clean row never has a future birth date.
            "date_of_birth": (
                f"DATE '{C.FY_START}' - CAST(({lo}[1 + band] + g_age % {width}[1 + band]) * 365 "
                f"+ (g_age >> 16) % 365 + 1 AS INTEGER)"
            ),
            "sex": "CASE WHEN g_sex % 1000 < 3 THEN '9' WHEN g_sex % 1000 < 492 THEN '1' "
            "ELSE '2' END",
            "ethnic_category": _case_pick("g_eth", C.ETHNIC_WEIGHTS, 10000),
            # Home trust: a quarter of children belong to the children's trust.
            "home": (
                f"CASE WHEN band < {C.CHILD_BANDS} AND (g_home >> 16) % 100 < 25 "
                f"THEN {C.CHILDRENS_PROVIDER} ELSE {prov_list}[1 + g_home % 1000] END"
            ),
            # A bijection of the patient key onto the pool (7919 is coprime to 900,000), so
            # NHS numbers spread over the whole test range.
            "nhs_idx": f"(pk * 7919 + {nhs_offset}) % {_NHS_POOL}",
        },
    )
    districts: list[str] = []
    offsets, counts = [], []
    for p in C.PROVIDERS:
        offsets.append(len(districts))
        counts.append(len(p.districts))
        districts.extend(p.districts)
    letters = _list(list(C.INWARD_LETTERS))
    n_letters = len(C.INWARD_LETTERS)
    q = _stage(
        q,
        {
            # Nine in ten patients live in a district near their home trust.
            "postcode": (
                f"{_list(districts)}[1 + CASE WHEN (g_pc >> 16) % 100 < 90 "
                f"THEN {_list(offsets)}[home] + g_pc % {_list(counts)}[home] "
                f"ELSE g_pc % {len(districts)} END] || ' ' || CAST(g_inw % 10 AS VARCHAR) "
                f"|| {letters}[1 + (g_inw // 10) % {n_letters}] "
                f"|| {letters}[1 + (g_inw // 1000) % {n_letters}]"
            ),
            "gp_practice_code": (
                f"{_list([p.gp_prefix for p in C.PROVIDERS])}[home] "
                f"|| lpad(CAST(1 + g_gp % 60 AS VARCHAR), 3, '0')"
            ),
        },
    )
    q = nhs_number_stages(q)

    # The treating trust: mostly the patient's home trust; defect rows lean to 'prone' trusts.
    q = _stage(
        q,
        {
            "prov": (
                f"CASE WHEN prone AND h_prov % 100 < 60 "
                f"THEN {prone_list}[1 + (h_prov >> 8) % 1000] "
                f"WHEN h_prov % 100 < 85 THEN home ELSE {prov_list}[1 + (h_prov >> 8) % 1000] END"
            ),
        },
    )
    q = _stage(
        q,
        {
            "provider_code": f"{_list([p.code for p in C.PROVIDERS])}[prov]",
            "site_code": (
                f"{_list([p.code for p in C.PROVIDERS])}[prov] || lpad(CAST(1 + h_site % "
                f"{_list([p.sites for p in C.PROVIDERS])}[prov] AS VARCHAR), 2, '0')"
            ),
            "data_source": "CASE WHEN h_ds % 100 < (CASE WHEN prone THEN 50 ELSE 15 END) "
            "THEN 'PAS' ELSE 'SUS' END",
        },
    )
    return q


def _distinct_codes(base: str, offsets_hash: str, k: int, n: int) -> str:
    """Index (0-based) of the k-th code (k >= 2) of a row, distinct from codes 1..k-1.

    Code 1 is ``base``; code k sits 1-7, 8-14, ... places further round the list, so the
    codes of one row never repeat (needs a list longer than 7 * (k - 1)).
    """
    step = 7 * (k - 2) + 1
    return f"({base} + {step} + ({offsets_hash} >> {3 * (k - 2)}) % 7) % {n}"


# --- kinds ----------------------------------------------------------------------------------


def _apc(rows: int, seed: int, source: str) -> tuple[str, list[str]]:
    streams = ["meth", "los", "cls", "asrc", "dis", "dest", "nd", "dg", "dg2", "nop", "op", "op2"]
    q = _base("apc", rows, seed, streams, source)
    fy = C.FY_START
    mk = "(h_meth >> 16) % 100"
    q = _stage(
        q,
        {
            # Births (82/83) only for babies, maternity (31/32) only for women 16-45.
            "admission_method": (
                f"CASE WHEN band = 0 AND {mk} < 50 "
                f"THEN (CASE WHEN {mk} < 5 THEN '83' ELSE '82' END) "
                f"WHEN sex = '2' AND age BETWEEN 16 AND 45 AND {mk} < 12 "
                f"THEN (CASE WHEN (h_meth >> 24) % 10 < 8 THEN '31' ELSE '32' END) "
                f"ELSE {_pick('h_meth', C.ADMISSION_METHODS)} END"
            ),
        },
    )
    q = _stage(
        q,
        {
            "elective": "admission_method IN ('11', '12', '13')",
            "los_b": _bucket_index("h_los", C.LOS_EMERGENCY),
        },
    )
    q = _stage(
        q,
        {
            # Elective: two thirds day cases; births and maternity short; emergencies skewed.
            "los": (
                "CASE WHEN elective THEN (CASE WHEN h_los % 100 < 65 THEN 0 "
                "ELSE 1 + (h_los >> 8) % 5 END) "
                "WHEN admission_method IN ('31', '32', '82', '83') THEN (h_los >> 8) % 4 "
                "WHEN admission_method = '81' THEN 1 + (h_los >> 8) % 20 "
                f"ELSE {_bucket_value('h_los', C.LOS_EMERGENCY, 'los_b')} END"
            ),
        },
    )
    last = C.FY_DAYS - 1
    q = _stage(
        q,
        {
            # Admission and discharge both fall in the year, so no date is later than the year
            # end (a check dated soon after it finds no future dates). Planned admissions fall on
            # weekdays (the year starts on a Monday; a week earlier if the stay would run over).
            "adm_day": (
                "CASE WHEN elective THEN (CASE WHEN 7 * (h_day % 52) + (h_day >> 16) % 5 + los "
                f"> {last} THEN 7 * (h_day % 52) + (h_day >> 16) % 5 - 7 "
                "ELSE 7 * (h_day % 52) + (h_day >> 16) % 5 END) "
                f"ELSE h_day % ({C.FY_DAYS} - los) END"
            ),
        },
    )
    ndiag = _weighted([1, 2, 3, 4, 5, 6], [200, 200, 180, 150, 120, 150])
    nop_el = _weighted([0, 1, 2, 3, 4], [150, 400, 250, 120, 80])
    nop_em = _weighted([0, 1, 2, 3, 4], [550, 250, 120, 50, 30])
    icd = [c for c, _ in C.ICD10]
    opcs = [c for c, _ in C.OPCS4]
    q = _stage(
        q,
        {
            "admission_date": f"DATE '{fy}' + CAST(adm_day AS INTEGER)",
            "discharge_date": f"DATE '{fy}' + CAST(adm_day + los AS INTEGER)",
            "died": "NOT elective AND age >= 60 AND h_dis % 1000 < 60",
            "patient_classification": (
                "CASE WHEN elective AND los = 0 THEN (CASE WHEN admission_method = '13' "
                "AND h_cls % 10 < 3 THEN '3' ELSE '2' END) "
                "WHEN admission_method = '13' AND h_cls % 100 < 2 THEN '4' ELSE '1' END"
            ),
            "admission_source": (
                "CASE WHEN admission_method IN ('82', '83') THEN '79' "
                "WHEN admission_method = '81' THEN '51' "
                "WHEN elective THEN (CASE WHEN h_asrc % 100 < 97 THEN '19' ELSE '29' END) "
                f"ELSE {_pick('h_asrc', C.ADMISSION_SOURCE_EMERGENCY)} END"
            ),
            "treatment_function_code": (
                "CASE WHEN admission_method IN ('31', '32') THEN '501' "
                f"WHEN admission_method IN ('82', '83') OR (band < {C.CHILD_BANDS} "
                "AND h_tfc % 100 < 70) THEN '420' "
                f"WHEN band >= {C.ELDERLY_BAND} AND h_tfc % 100 < 15 THEN '430' "
                f"WHEN sex = '2' AND band >= {C.CHILD_BANDS} AND h_tfc % 100 >= 95 THEN '502' "
                f"ELSE {_pick('(h_tfc >> 8)', C.TFC_APC)} END"
            ),
            "ndiag": f"{ndiag}[1 + h_nd % 1000]",
            "dg0": f"{_weighted(list(range(len(icd))), [w for _, w in C.ICD10])}[1 + h_dg % 1000]",
            "nop": f"CASE WHEN elective THEN {nop_el}[1 + h_nop % 1000] "
            f"ELSE {nop_em}[1 + h_nop % 1000] END",
            "op0": f"{_weighted(list(range(len(opcs))), [w for _, w in C.OPCS4])}[1 + h_op % 1000]",
        },
    )
    cols = {
        "discharge_method": "CASE WHEN died THEN '4' WHEN (h_dis >> 16) % 1000 < 8 THEN '2' "
        "ELSE '1' END",
        "discharge_destination": (
            f"CASE WHEN died THEN '79' ELSE {_pick('h_dest', C.DISCHARGE_DESTINATIONS)} END"
        ),
        "diag_01": f"{_list(icd)}[1 + dg0]",
        "opertn_01": f"CASE WHEN nop >= 1 THEN {_list(opcs)}[1 + op0] END",
        "episode_id": id_sql("apc", "i"),
        # A bijection of the source row (48271 is coprime to 10^10): unique, not sequential.
        "spell_id": f"'S' || lpad(CAST((src * 48271 + {(seed * 7907) % 10**10}) % 10000000000 "
        "AS VARCHAR), 10, '0')",
        "event_date": "admission_date",
    }
    for k in range(2, 7):
        idx = _distinct_codes("dg0", "h_dg2", k, len(icd))
        cols[f"diag_{k:02d}"] = f"CASE WHEN ndiag >= {k} THEN {_list(icd)}[1 + {idx}] END"
    for k in range(2, 5):
        idx = _distinct_codes("op0", "h_op2", k, len(opcs))
        cols[f"opertn_{k:02d}"] = f"CASE WHEN nop >= {k} THEN {_list(opcs)}[1 + {idx}] END"
    q = _stage(q, cols)
    order = (
        ["episode_id", "spell_id", "provider_code", "site_code", "nhs_number", "date_of_birth"]
        + ["sex", "ethnic_category", "postcode", "gp_practice_code", "admission_date"]
        + ["discharge_date", "admission_method", "admission_source", "discharge_method"]
        + ["discharge_destination", "patient_classification", "treatment_function_code"]
        + [f"diag_{k:02d}" for k in range(1, 7)]
        + [f"opertn_{k:02d}" for k in range(1, 5)]
        + ["data_source"]
    )
    return q, order


def _ae(rows: int, seed: int, source: str) -> tuple[str, list[str]]:
    streams = ["time", "dur", "cat", "disp", "cc", "pd"]
    q = _base("ae", rows, seed, streams, source)
    fy_ms = (date.fromisoformat(C.FY_START) - date(1970, 1, 1)).days * 86_400_000  # epoch ms
    hours = _weighted(list(range(24)), list(C.AE_ARRIVAL_HOUR))
    q = _stage(
        q,
        {
            "arr_day": f"h_day % {C.FY_DAYS}",
            "arrival_ms": (
                f"{fy_ms} + (h_day % {C.FY_DAYS}) * 86400000 "
                f"+ {hours}[1 + h_time % 1000] * 3600000 + ((h_time >> 10) % 60) * 60000 "
                "+ ((h_time >> 16) % 60) * 1000"
            ),
            "dur_b": _bucket_index("h_dur", C.AE_DURATION),
        },
    )
    complaints = _weighted([c for c, _ in C.CHIEF_COMPLAINTS], [w for _, w in C.CHIEF_COMPLAINTS])
    q = _stage(
        q,
        {
            "attendance_id": id_sql("ae", "i"),
            "arrival_datetime": "epoch_ms(arrival_ms)",
            "departure_datetime": (
                f"epoch_ms(arrival_ms + {_bucket_value('h_dur', C.AE_DURATION, 'dur_b')} * 60000)"
            ),
            "event_date": f"DATE '{C.FY_START}' + CAST(arr_day AS INTEGER)",
            "attendance_category": _pick("h_cat", C.AE_CATEGORY),
            "attendance_disposal": _pick("h_disp", C.AE_DISPOSAL),
            "chief_complaint": f"{complaints}[1 + h_cc % 1000]",
        },
    )
    # No diagnosis when the patient left before treatment (12) or refused it (13), and a few
    # more not recorded.
    q = _stage(
        q,
        {
            "primary_diagnosis": (
                "CASE WHEN attendance_disposal IN ('12', '13') OR h_pd % 100 < 8 THEN NULL "
                f"ELSE {_list(list(C.AE_DIAGNOSES))}[1 + (h_pd >> 8) % {len(C.AE_DIAGNOSES)}] END"
            ),
        },
    )
    order = [
        "attendance_id", "provider_code", "site_code", "nhs_number", "date_of_birth", "sex",
        "ethnic_category", "postcode", "gp_practice_code", "arrival_datetime",
        "departure_datetime", "attendance_category", "attendance_disposal", "chief_complaint",
        "primary_diagnosis", "data_source",
    ]  # fmt: skip
    return q, order


def _op(rows: int, seed: int, source: str) -> tuple[str, list[str]]:
    streams = ["wait", "stat", "first", "pd", "op"]
    q = _base("op", rows, seed, streams, source)
    q = _stage(
        q,
        {
            # Clinics run on weekdays (the year starts on a Monday).
            "appt_day": "7 * (h_day % 52) + (h_day >> 16) % 5",
            "wait_b": _bucket_index("h_wait", C.OP_WAIT),
        },
    )
    icd = [c for c, _ in C.ICD10]
    opcs = [c for c, _ in C.OPCS4]
    q = _stage(
        q,
        {
            "appointment_id": id_sql("op", "i"),
            "appointment_date": f"DATE '{C.FY_START}' + CAST(appt_day AS INTEGER)",
            # Referred some weeks before, never before birth.
            "referral_date": (
                f"greatest(DATE '{C.FY_START}' + CAST(appt_day - "
                f"{_bucket_value('h_wait', C.OP_WAIT, 'wait_b')} AS INTEGER), date_of_birth)"
            ),
            "attendance_status": _pick("h_stat", C.OP_ATTENDANCE_STATUS),
            "first_attendance": _pick("h_first", C.OP_FIRST_ATTENDANCE),
            "treatment_function_code": (
                f"CASE WHEN band < {C.CHILD_BANDS} AND h_tfc % 100 < 60 THEN '420' "
                f"WHEN band >= {C.ELDERLY_BAND} AND h_tfc % 100 < 8 THEN '430' "
                f"WHEN sex = '2' AND band >= {C.CHILD_BANDS} AND h_tfc % 100 >= 95 THEN '502' "
                f"ELSE {_pick('(h_tfc >> 8)', C.TFC_OP)} END"
            ),
            # Outpatient diagnosis and procedure coding is sparse in real extracts.
            "primary_diagnosis": (
                f"CASE WHEN h_pd % 100 < 80 THEN NULL ELSE "
                f"{_list(icd)}[1 + (h_pd >> 8) % {len(icd)}] END"
            ),
            "opertn_01": (
                f"CASE WHEN h_op % 100 < 85 THEN NULL ELSE "
                f"{_list(opcs)}[1 + (h_op >> 8) % {len(opcs)}] END"
            ),
        },
    )
    q = _stage(q, {"event_date": "appointment_date"})
    order = [
        "appointment_id", "provider_code", "site_code", "nhs_number", "date_of_birth", "sex",
        "ethnic_category", "postcode", "gp_practice_code", "referral_date", "appointment_date",
        "attendance_status", "first_attendance", "treatment_function_code", "primary_diagnosis",
        "opertn_01", "data_source",
    ]  # fmt: skip
    return q, order


_BUILDERS = {"apc": _apc, "ae": _ae, "op": _op}


def build_sql(kind: str, rows: int, seed: int = 42, source: str | None = None) -> str:
    """The SELECT that yields the extract: clean values, then defects from the spec table.

    ``source`` is a FROM item yielding the row numbers as a BIGINT column ``range``, in
    order; by default ``range(rows)``. Any such source gives the same rows.
    """
    return _build(kind, rows, seed, source or f"range({rows})")[0]


def _build(kind: str, rows: int, seed: int, source: str) -> tuple[str, list[str]]:
    if kind not in _BUILDERS:
        raise HealthdqError(f"unknown kind '{kind}' (known: {', '.join(KINDS)})")
    q, order = _BUILDERS[kind](rows, seed, source)
    # Which defect (1-based position in the spec table, 0 for none) each slot carries: one
    # list lookup per row, so a clean row leaves every CASE below at its first test.
    ranges = slot_ranges(kind)
    defect_of_slot = [0] * MODULUS
    for n, d in enumerate(DEFECTS[kind], start=1):
        a, b = ranges[d.id]
        defect_of_slot[a:b] = [n] * (b - a)
    q = _stage(q, {"dh": "h_dh", "defect": f"{_list(defect_of_slot)}[1 + slot]"})
    by_column: dict[str, list[str]] = {}
    for n, d in enumerate(DEFECTS[kind], start=1):
        by_column.setdefault(d.column, []).append(f"WHEN defect = {n} THEN {d.how}")
    unknown = set(by_column) - set(order)
    if unknown:
        raise AssertionError(f"defects on columns not in the {kind} schema: {sorted(unknown)}")
    select = []
    for col in order:
        if col in by_column:
            whens = " ".join(by_column[col])
            select.append(f"CASE WHEN defect = 0 THEN {col} {whens} ELSE {col} END AS {col}")
        else:
            select.append(col)
    return f"SELECT {', '.join(select)} FROM ({q})", order


def _infer_format(path: Path, fmt: str | None) -> str:
    if fmt is not None:
        f = fmt.lower().lstrip(".")
        f = {"json": "ndjson", "jsonl": "ndjson", "db": "duckdb"}.get(f, f)
        if f not in set(FORMATS.values()):
            raise HealthdqError(
                f"unknown format '{fmt}' (known: parquet, csv, ndjson, json, duckdb)"
            )
        return f
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise HealthdqError(
            f"cannot tell the output format from '{path.name}': use a .parquet, .csv, "
            ".ndjson/.json or .duckdb name, or give fmt",
            path=str(path),
        )
    return FORMATS[suffix]


def generate(
    kind: str, rows: int, out: str | Path, seed: int = 42, fmt: str | None = None
) -> SynthResult:
    """Write a synthetic ``kind`` extract ('apc', 'ae' or 'op') of ``rows`` rows to ``out``.

    The format comes from ``fmt`` or the file suffix: .parquet, .csv (header, comma),
    .ndjson/.json (one JSON object per line) or .duckdb (a table named after the kind).
    The result's ``expected`` holds the exact number of rows carrying each defect class.
    """
    kind = kind.lower()
    if kind not in KINDS:
        raise HealthdqError(f"unknown kind '{kind}' (known: {', '.join(KINDS)})")
    if isinstance(rows, bool) or not isinstance(rows, int) or rows < 0 or rows > MAX_ROWS:
        raise HealthdqError(f"rows must be a whole number from 0 to {MAX_ROWS}, not {rows!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**31:
        raise HealthdqError(f"seed must be a whole number from 0 to {2**31 - 1}, not {seed!r}")
    path = Path(out)
    f = _infer_format(path, fmt)
    parallel = rows <= PARALLEL_MAX_ROWS
    # DuckDB runs a range() source on one thread. Below the cap, the row numbers go into a
    # temporary table first: its scan is parallel, and the order-preserving COPY still writes
    # rows in row-number order (same rows, same order, same file as the range() source).
    source = "(SELECT CAST(i AS BIGINT) AS range FROM synth_rows)" if parallel else None
    sql, order = _build(kind, rows, seed, source or f"range({rows})")
    path.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="healthdq-synth-") as spill:
        con = duckdb.connect()
        try:
            # Bound the order-preserving writer's buffer (it holds row groups that finish
            # early); the row-number table (4 bytes a row) comes on top.
            limit_mb = 1024 + (rows * 5 // 1_000_000 if parallel else 0)
            con.execute(f"SET memory_limit = '{limit_mb}MB'")
            con.execute(f"SET temp_directory = {_lit(spill)}")
            if parallel:
                con.execute(
                    f"CREATE TEMP TABLE synth_rows AS SELECT CAST(range AS INTEGER) AS i "
                    f"FROM range({rows})"
                )
            target = _lit(str(path))
            if f == "duckdb":
                con.execute(f"ATTACH {target} AS synth_out")
                con.execute(f"CREATE OR REPLACE TABLE synth_out.{kind} AS {sql}")
                con.execute("DETACH synth_out")
            else:
                opts = {
                    # zstd level 1: smaller and faster than the default level here.
                    "parquet": "FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 1",
                    "csv": "FORMAT csv, HEADER true, DELIMITER ','",
                    "ndjson": "FORMAT json",
                }[f]
                con.execute(f"COPY ({sql}) TO {target} ({opts})")
        except (duckdb.IOException, duckdb.PermissionException) as exc:
            raise HealthdqError(
                f"cannot write output: {str(exc).splitlines()[0]}", path=str(path)
            ) from None
        finally:
            con.close()
    return SynthResult(
        path=path,
        kind=kind,
        rows=rows,
        seed=seed,
        expected=expected_defects(kind, rows),
        fmt=f,
        seconds=time.perf_counter() - started,
        columns=order,
    )
