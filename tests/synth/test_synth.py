"""healthdq synth: exact defect counts checked by independent queries, determinism, formats.

The checks here deliberately do not reuse the generator's SQL or helpers: NHS numbers are checked
with a Python Modulus 11, SNOMED CT ids with a Python Verhoeff, postcodes with a strict regex,
code lists are the NHS Data Dictionary lists written out again below.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from healthdq.errors import HealthdqError
from healthdq.synth import (
    DEFECTS,
    KINDS,
    SynthResult,
    build_sql,
    expected_by_rule,
    expected_defects,
    generate,
)

# Not a multiple of 1000: the last, partial block of residues is exercised too.
N = 19_937
SEED = 42


def _codes(text: str) -> set[str]:
    return set(text.split())


VALID = {
    "sex": _codes("1 2 9 X"),
    "ethnic_category": _codes("A B C D E F G H J K L M N P R S Z 99 0 1 2 3 4 5 6 7 8 9"),
    # The final lists (validators/valuesets/CHANGES-FROM-BRIEF.md added 98 99 here, and 40 42
    # 55 56 to discharge destinations).
    "admission_method": _codes("11 12 13 21 22 23 24 25 2A 2B 2C 2D 28 31 32 81 82 83 98 99"),
    "admission_source": _codes("19 29 37 39 40 42 49 51 52 53 54 55 56 65 66 79 85 87 88 98 99"),
    "discharge_method": _codes("1 2 3 4 5 8 9"),
    "discharge_destination": _codes(
        "19 29 30 37 38 40 42 48 49 50 51 52 53 54 55 56 65 66 79 84 85 87 88 89 98 99"
    ),
    "patient_classification": _codes("1 2 3 4 5"),
    "treatment_function_code": _codes(
        "100 101 110 120 130 140 150 160 170 300 301 320 330 340 400 410 420 430 501 502 650"
    ),
    "attendance_category": _codes("1 2 3"),
    "attendance_disposal": _codes("01 02 03 04 05 06 07 10 11 12 13 14"),
    "attendance_status": _codes("5 6 7 2 3 4 0"),
    "first_attendance": _codes("1 2 3 4 5"),
    "data_source": _codes("SUS PAS"),
}
PROVIDERS = _codes("RR8 RTH RJ1 RAL RRV RX1 RWE R0A RGT RTD RM1 RA7 RBS RQM RYJ")
DOB_DEFAULTS = ("1800-01-01", "1801-01-01", "1900-01-01")
# Strict UK postcode format (outward: A9, A99, AA9, AA99, A9A, AA9A; inward: 9AA without CIKMOV).
POSTCODE = re.compile(
    r"^([A-PR-UWYZ][0-9]{1,2}|[A-PR-UWYZ][A-HK-Y][0-9]{1,2}|[A-PR-UWYZ][0-9][A-HJKPSTUW]"
    r"|[A-PR-UWYZ][A-HK-Y][0-9][ABEHMNPRVWXY]) [0-9][ABD-HJLNP-UW-Z]{2}$"
)
ICD10 = r"^[A-Z][0-9]{2}[0-9X][0-9]?$"  # HES form: 4 characters, X filler, optional 5th
OPCS4 = r"^[A-Z][0-9]{3}$"


# --- independent reference implementations ---------------------------------------------------


def mod11_ok(value: str) -> bool:
    """NHS number: 10 digits, weights 10..2, check = 11 - sum % 11 (11 -> 0, 10 invalid)."""
    if not re.fullmatch(r"[0-9]{10}", value):
        return False
    total = sum(int(d) * w for d, w in zip(value[:9], range(10, 1, -1), strict=True))
    check = 11 - total % 11
    if check == 11:
        check = 0
    return check != 10 and check == int(value[9])


def _d5_mul(a: int, b: int) -> int:
    """Dihedral group D5 product, elements 0-4 rotations, 5-9 reflections."""
    if a < 5 and b < 5:
        return (a + b) % 5
    if a < 5:
        return 5 + (a + b - 5) % 5
    if b < 5:
        return 5 + (a - 5 - b) % 5
    return (a - b) % 5


_VERHOEFF_PERM = (1, 5, 7, 6, 2, 8, 3, 0, 9, 4)


def verhoeff_ok(value: str) -> bool:
    """Verhoeff check, computed from the D5 group and the permutation (not lookup tables)."""
    if not re.fullmatch(r"[0-9]+", value):
        return False
    c = 0
    for i, ch in enumerate(reversed(value)):
        d = int(ch)
        for _ in range(i % 8):
            d = _VERHOEFF_PERM[d]
        c = _d5_mul(c, d)
    return c == 0


def test_reference_implementations() -> None:
    assert mod11_ok("9434765919") and not mod11_ok("9434765918")
    assert verhoeff_ok("2363") and not verhoeff_ok("2364")
    assert verhoeff_ok("22298006") and not verhoeff_ok("22298007")


def test_brief_sctids_are_verhoeff_valid() -> None:
    from healthdq.synth.codes import AE_DIAGNOSES, CHIEF_COMPLAINTS

    ids = [c for c, _ in CHIEF_COMPLAINTS] + list(AE_DIAGNOSES)
    for sctid in ids:
        assert verhoeff_ok(sctid), sctid
        assert sctid[-3:-1] == "00", f"{sctid}: partition is not a concept"
    for must in _codes("22298006 25064002 21522001 267036007 29857009 125605004 62315008"):
        assert must in ids


# --- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, SynthResult]]:
    out: dict[str, tuple[Path, SynthResult]] = {}
    base = tmp_path_factory.mktemp("synth")
    for kind in KINDS:
        path = base / f"{kind}.parquet"
        out[kind] = (path, generate(kind, N, path, seed=SEED))
    return out


def _con(path: Path, kind: str) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute(f"CREATE TABLE t AS SELECT * FROM read_parquet('{path}')")
    return con


def _one(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    row = con.execute(sql).fetchone()
    assert row is not None
    return int(row[0])


# A check returns the rowids of the rows it flags: counts, and disjointness, follow.
Check = Callable[[duckdb.DuckDBPyConnection], set[int]]


def _rows(where: str) -> Check:
    """Rows matching a SQL condition."""
    return lambda con: {r[0] for r in con.execute(f"SELECT rowid FROM t WHERE {where}").fetchall()}


def _py_rows(column: str, bad: Callable[[str], bool]) -> Check:
    """Rows whose (non-null) value a Python predicate calls bad."""
    sql = f"SELECT rowid, {column} FROM t WHERE {column} IS NOT NULL"
    return lambda con: {rid for rid, v in con.execute(sql).fetchall() if bad(v)}


def _count(con: duckdb.DuckDBPyConnection, where: str) -> int:
    return _one(con, f"SELECT count(*) FROM t WHERE {where}")


def _not_in(column: str, values: set[str]) -> str:
    items = ", ".join(f"'{v}'" for v in sorted(values))
    return f"{column} IS NOT NULL AND {column} NOT IN ({items})"


def _later_copies(key: str) -> Check:
    """Rows whose key already appeared on an earlier row."""
    sql = (
        f"SELECT rowid FROM (SELECT rowid, row_number() OVER (PARTITION BY {key} ORDER BY rowid)"
        " AS k FROM t) WHERE k > 1"
    )
    return lambda con: {r[0] for r in con.execute(sql).fetchall()}


def _checks(kind: str) -> dict[str, Check]:
    event = {
        "apc": "admission_date",
        "ae": "CAST(arrival_datetime AS DATE)",
        "op": "appointment_date",
    }[kind]
    key = {"apc": "episode_id", "ae": "attendance_id", "op": "appointment_id"}[kind]
    defaults = ", ".join(f"DATE '{d}'" for d in DOB_DEFAULTS)
    checks: dict[str, Check] = {
        "nhs_number_missing": _rows("nhs_number IS NULL"),
        "nhs_number_bad_check": _py_rows(
            "nhs_number", lambda v: bool(re.fullmatch("[0-9]{10}", v)) and not mod11_ok(v)
        ),
        "nhs_number_bad_format": _rows(
            "nhs_number IS NOT NULL AND NOT regexp_full_match(nhs_number, '[0-9]{10}') "
            "AND NOT regexp_full_match(nhs_number, '[0-9]{3}[ -][0-9]{3}[ -][0-9]{4}')"
        ),
        "nhs_number_separators": _py_rows(
            "nhs_number",
            lambda v: (
                bool(re.fullmatch("[0-9]{3}([ -])[0-9]{3}\\1[0-9]{4}", v))
                and mod11_ok(v.replace(" ", "").replace("-", ""))
            ),
        ),
        "dob_missing": _rows("date_of_birth IS NULL"),
        "dob_default": _rows(f"date_of_birth IN ({defaults})"),
        "dob_future": _rows(f"date_of_birth > {event}"),
        "sex_invalid": _rows(_not_in("sex", VALID["sex"])),
        "ethnic_invalid": _rows(_not_in("ethnic_category", VALID["ethnic_category"])),
        "ethnic_not_known": _rows("ethnic_category = '99'"),
        "ethnic_legacy": _rows("ethnic_category IN ('0', '9')"),
        "postcode_missing": _rows("postcode IS NULL"),
        "postcode_invalid": _py_rows(
            "postcode", lambda v: v != "ZZ99 3VZ" and not POSTCODE.match(v)
        ),
        "postcode_default": _rows("postcode = 'ZZ99 3VZ'"),
        "gp_practice_default": _rows("gp_practice_code = 'V81999'"),
        "gp_practice_invalid": _rows("NOT regexp_full_match(gp_practice_code, '[A-Z][0-9]{5}')"),
        "provider_invalid": _rows(_not_in("provider_code", PROVIDERS)),
        "duplicate_key": _later_copies(key),
    }
    if kind == "apc":
        checks |= {
            "admission_method_invalid": _rows(
                _not_in("admission_method", VALID["admission_method"])
            ),
            "discharge_before_admission": _rows("discharge_date < admission_date"),
            "diag_01_missing": _rows("diag_01 IS NULL"),
            "diag_01_invalid": _rows(
                f"diag_01 IS NOT NULL AND NOT regexp_full_match(diag_01, '{ICD10}')"
            ),
            "opertn_invalid": _rows(
                f"opertn_01 IS NOT NULL AND NOT regexp_full_match(opertn_01, '{OPCS4}')"
            ),
            "treatment_function_invalid": _rows(
                _not_in("treatment_function_code", VALID["treatment_function_code"])
            ),
        }
    elif kind == "ae":
        checks |= {
            "departure_before_arrival": _rows("departure_datetime < arrival_datetime"),
            "sctid_invalid": _py_rows("chief_complaint", lambda v: not verhoeff_ok(v)),
            "attendance_disposal_invalid": _rows(
                _not_in("attendance_disposal", VALID["attendance_disposal"])
            ),
        }
    else:
        checks |= {
            "appointment_before_referral": _rows("appointment_date < referral_date"),
            "opertn_invalid": _rows(
                f"opertn_01 IS NOT NULL AND NOT regexp_full_match(opertn_01, '{OPCS4}')"
            ),
            "treatment_function_invalid": _rows(
                _not_in("treatment_function_code", VALID["treatment_function_code"])
            ),
        }
    return checks


# --- exact defect counts ----------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_every_defect_class_has_an_independent_check(kind: str) -> None:
    assert set(_checks(kind)) == {d.id for d in DEFECTS[kind]}


@pytest.mark.parametrize("kind", KINDS)
def test_defect_counts_are_exact(kind: str, data: dict[str, tuple[Path, SynthResult]]) -> None:
    path, result = data[kind]
    expected = expected_defects(kind, N)
    assert result.expected == expected
    assert all(v > 0 for v in expected.values()), "every class should occur at this size"
    con = _con(path, kind)
    found = {defect: check(con) for defect, check in _checks(kind).items()}
    assert {d: len(rows) for d, rows in found.items()} == expected
    # The brief's definition of the duplicate count agrees with the row-level one.
    key = SCHEMAS[kind][0]
    surplus = _one(con, f"SELECT count(*) - count(DISTINCT {key}) FROM t")
    assert surplus == expected["duplicate_key"]
    # No row carries two defects, so no defect can mask another.
    union: set[int] = set().union(*found.values())
    assert len(union) == sum(expected.values()) < N * 0.15


@pytest.mark.parametrize("kind", KINDS)
def test_uninjected_columns_are_all_valid(
    kind: str, data: dict[str, tuple[Path, SynthResult]]
) -> None:
    """Columns with no defect class carry only valid values: no accidental defects."""
    con = _con(data[kind][0], kind)
    cols = {r[0] for r in con.execute("DESCRIBE t").fetchall()}
    spec_cols = {d.column for d in DEFECTS[kind]}
    for column, values in VALID.items():
        if column in cols and column not in spec_cols:
            assert _count(con, f"{column} IS NULL") == 0, column
            assert _count(con, _not_in(column, values)) == 0, column
    bad = {
        # A real trust code + 2 digits, matching the provider unless the provider was corrupted.
        "site": "NOT regexp_full_match(site_code, '(" + "|".join(sorted(PROVIDERS)) + ")[0-9]{2}')",
        "site_provider": "provider_code <> 'XXXX' AND left(site_code, 3) <> provider_code",
        # No DQMI default values besides the injected ones.
        "gp_defaults": "gp_practice_code IN ('V81997', 'V81998')",
        "pseudo_postcodes": "postcode LIKE 'ZZ99%' AND postcode <> 'ZZ99 3VZ'",
        "ethnic_blank": "ethnic_category IS NULL",
        # Clean birth dates are plausible: the placeholders are the only very old ones.
        "old_dob": "date_of_birth < DATE '1915-01-01' "
        "AND year(date_of_birth) NOT IN (1800, 1801, 1900)",
    }
    if kind == "apc":
        for k in range(2, 7):
            bad[f"diag_{k:02d}"] = f"NOT regexp_full_match(diag_{k:02d}, '{ICD10}')"
        for k in range(2, 5):
            bad[f"opertn_{k:02d}"] = f"NOT regexp_full_match(opertn_{k:02d}, '{OPCS4}')"
        for k in range(3, 7):  # codes fill from the left
            bad[f"gap_{k}"] = f"diag_{k:02d} IS NOT NULL AND diag_{k - 1:02d} IS NULL"
        bad["repeat"] = "diag_02 = diag_01 OR diag_03 = diag_02 OR diag_06 = diag_01"
        bad["fy"] = "admission_date NOT BETWEEN DATE '2024-04-01' AND DATE '2025-03-31'"
        bad["discharged_after_year"] = "discharge_date > DATE '2025-03-31'"
        bad["weekend_elective"] = (
            "admission_method IN ('11', '12', '13') AND dayofweek(admission_date) IN (0, 6)"
        )
        bad["spell"] = "spell_id IS NULL"
        # More secondary diagnoses are missing the further along the list.
        nulls = [_count(con, f"diag_{k:02d} IS NULL") for k in range(2, 7)]
        assert nulls == sorted(nulls) and 0 < nulls[0] < N
    if kind == "ae":
        bad["diagnosis"] = "NOT regexp_full_match(primary_diagnosis, '[0-9]{6,18}')"
        rows = con.execute("SELECT primary_diagnosis FROM t WHERE primary_diagnosis IS NOT NULL")
        assert all(verhoeff_ok(v) for (v,) in rows.fetchall())
        bad["fy"] = "arrival_datetime NOT BETWEEN '2024-04-01' AND '2025-04-01'"
    if kind == "op":
        bad["diagnosis"] = f"NOT regexp_full_match(primary_diagnosis, '{ICD10}')"
        bad["fy"] = "appointment_date NOT BETWEEN DATE '2024-04-01' AND DATE '2025-03-31'"
        bad["weekend"] = "dayofweek(appointment_date) IN (0, 6)"
    for name, where in bad.items():
        assert _count(con, where) == 0, name


def test_expected_defects_closed_form_matches_brute_force() -> None:
    from healthdq.synth.spec import MODULUS, STRIDE, slot_ranges

    for kind in KINDS:
        ranges = slot_ranges(kind)
        for rows in (0, 1, 385, 999, 1000, 1001, 2386, 12_345):
            brute = dict.fromkeys(ranges, 0)
            for i in range(rows):
                slot = (i % MODULUS) * STRIDE % MODULUS
                for defect, (a, b) in ranges.items():
                    if a <= slot < b:
                        brute[defect] += 1
            assert expected_defects(kind, rows) == brute, (kind, rows)
    assert expected_defects("apc", 1_000_000)["nhs_number_missing"] == 10_000


def test_defect_spec_table_is_data() -> None:
    for kind in KINDS:
        for d in DEFECTS[kind]:
            assert d.id and d.column and d.description and d.how and d.rule
            assert 0.001 <= d.rate <= 0.02, d.id


def test_rules_named_in_the_spec_exist_in_the_shipped_packs() -> None:
    import healthdq

    packs = Path(healthdq.__file__).parent / "rules" / "packs"
    for kind in KINDS:
        pack = packs / f"nhs-{kind}.yaml"
        if not pack.exists():
            pytest.skip(f"{pack.name} not shipped yet")
        ids = set(re.findall(r"\bid: ([a-z_.0-9]+)", pack.read_text(encoding="utf-8")))
        for d in DEFECTS[kind]:
            assert d.rule in ids, (kind, d.id, d.rule)
    by_rule = expected_by_rule("apc", 10_000)
    assert by_rule["apc.nhs_number.valid"] == 50 + 30  # bad check digit + bad format


# --- determinism ------------------------------------------------------------------------------


def _digest(con: duckdb.DuckDBPyConnection, source: str) -> str:
    rows = con.execute(f"SELECT * FROM {source} ORDER BY ALL").fetchall()
    return hashlib.sha256(repr(rows).encode()).hexdigest()


def test_same_seed_same_rows_different_seed_different(tmp_path: Path) -> None:
    a = generate("apc", 3000, tmp_path / "a.parquet", seed=7)
    b = generate("apc", 3000, tmp_path / "b.parquet", seed=7)
    c = generate("apc", 3000, tmp_path / "c.parquet", seed=8)
    con = duckdb.connect()
    da, db, dc = (_digest(con, f"read_parquet('{r.path}')") for r in (a, b, c))
    assert da == db
    assert da != dc
    assert a.expected == c.expected  # defect positions depend on the row count only


def test_row_number_table_and_range_sources_write_the_same_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import healthdq.synth.generator as g

    parallel = generate("op", 4321, tmp_path / "parallel.parquet", seed=5)
    monkeypatch.setattr(g, "PARALLEL_MAX_ROWS", 0)  # force the plain range() source
    serial = generate("op", 4321, tmp_path / "serial.parquet", seed=5)
    assert parallel.path.read_bytes() == serial.path.read_bytes()


def test_same_rows_on_any_thread_count() -> None:
    sql = build_sql("ae", 5000, seed=3)
    digests = set()
    for threads in (1, 2):
        con = duckdb.connect()
        con.execute(f"SET threads = {threads}")
        digests.add(_digest(con, f"({sql})"))
    assert len(digests) == 1


# --- schema and formats -----------------------------------------------------------------------

TIMESTAMPS = {"arrival_datetime", "departure_datetime"}
DATES = {
    "date_of_birth", "admission_date", "discharge_date", "referral_date", "appointment_date",
}  # fmt: skip


@pytest.mark.parametrize("kind", KINDS)
def test_column_types(kind: str, data: dict[str, tuple[Path, SynthResult]]) -> None:
    path, result = data[kind]
    con = duckdb.connect()
    types = dict(
        (name, typ)
        for name, typ, *_ in con.execute(
            f"DESCRIBE SELECT * FROM read_parquet('{path}')"
        ).fetchall()
    )
    assert list(types) == result.columns
    for name, typ in types.items():
        if name in DATES:
            assert typ == "DATE", name
        elif name in TIMESTAMPS:
            assert typ == "TIMESTAMP", name
        else:
            assert typ == "VARCHAR", name


SCHEMAS = {
    "apc": ["episode_id", "spell_id", "provider_code", "site_code", "nhs_number",
            "date_of_birth", "sex", "ethnic_category", "postcode", "gp_practice_code",
            "admission_date", "discharge_date", "admission_method", "admission_source",
            "discharge_method", "discharge_destination", "patient_classification",
            "treatment_function_code", "diag_01", "diag_02", "diag_03", "diag_04", "diag_05",
            "diag_06", "opertn_01", "opertn_02", "opertn_03", "opertn_04", "data_source"],
    "ae": ["attendance_id", "provider_code", "site_code", "nhs_number", "date_of_birth", "sex",
           "ethnic_category", "postcode", "gp_practice_code", "arrival_datetime",
           "departure_datetime", "attendance_category", "attendance_disposal",
           "chief_complaint", "primary_diagnosis", "data_source"],
    "op": ["appointment_id", "provider_code", "site_code", "nhs_number", "date_of_birth", "sex",
           "ethnic_category", "postcode", "gp_practice_code", "referral_date",
           "appointment_date", "attendance_status", "first_attendance",
           "treatment_function_code", "primary_diagnosis", "opertn_01", "data_source"],
}  # fmt: skip


@pytest.mark.parametrize("kind", KINDS)
def test_schema_column_names(kind: str, data: dict[str, tuple[Path, SynthResult]]) -> None:
    assert data[kind][1].columns == SCHEMAS[kind]


@pytest.mark.parametrize(
    ("name", "reader"),
    [
        ("x.parquet", "read_parquet('{p}')"),
        ("x.csv", "read_csv('{p}', header = true, all_varchar = true)"),
        ("x.ndjson", "read_json('{p}', format = 'newline_delimited')"),
        ("x.json", "read_json('{p}', format = 'newline_delimited')"),
    ],
)
def test_file_formats_read_back(tmp_path: Path, name: str, reader: str) -> None:
    rows = 1234
    result = generate("ae", rows, tmp_path / "sub" / name)  # parent made on demand
    assert result.path.exists()
    con = duckdb.connect()
    source = reader.format(p=result.path)
    assert _one(con, f"SELECT count(*) FROM {source}") == rows
    # Codes keep their leading zeros in every format.
    assert _one(con, f"SELECT count(*) FROM {source} WHERE attendance_disposal = '01'") > 0


def test_duckdb_format_table_named_after_kind(tmp_path: Path) -> None:
    path = tmp_path / "x.duckdb"
    generate("op", 777, path)
    generate("apc", 555, path)  # a second kind lands beside the first
    con = duckdb.connect()
    con.execute(f"ATTACH '{path}' AS x (READ_ONLY)")
    assert _one(con, "SELECT count(*) FROM x.op") == 777
    assert _one(con, "SELECT count(*) FROM x.apc") == 555
    types = {r[0]: r[1] for r in con.execute("DESCRIBE x.op").fetchall()}
    assert types["appointment_date"] == "DATE" and types["nhs_number"] == "VARCHAR"


def test_explicit_format_overrides_suffix(tmp_path: Path) -> None:
    result = generate("apc", 100, tmp_path / "out.data", fmt="csv")
    assert result.fmt == "csv"
    text = result.path.read_text().splitlines()
    assert text[0].startswith("episode_id,spell_id,provider_code") and len(text) == 101


def test_bad_arguments_are_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(HealthdqError, match="unknown kind"):
        generate("icu", 10, tmp_path / "x.parquet")
    with pytest.raises(HealthdqError, match="output format"):
        generate("apc", 10, tmp_path / "x.xlsx")
    with pytest.raises(HealthdqError, match="rows"):
        generate("apc", -1, tmp_path / "x.parquet")
    with pytest.raises(HealthdqError, match="unknown format"):
        generate("apc", 10, tmp_path / "x.parquet", fmt="xml")


def test_zero_rows(tmp_path: Path) -> None:
    result = generate("apc", 0, tmp_path / "empty.parquet")
    assert all(v == 0 for v in result.expected.values())
    con = duckdb.connect()
    assert _one(con, f"SELECT count(*) FROM read_parquet('{result.path}')") == 0


# --- realism ----------------------------------------------------------------------------------


def test_realistic_distributions(data: dict[str, tuple[Path, SynthResult]]) -> None:
    apc = _con(data["apc"][0], "apc")
    ae = _con(data["ae"][0], "ae")

    def share(con: duckdb.DuckDBPyConnection, where: str) -> float:
        return _count(con, where) / N

    # Census 2021: White British about 74% (less the injected defects), Indian about 3%.
    assert 0.68 < share(apc, "ethnic_category = 'A'") < 0.78
    assert 0.02 < share(apc, "ethnic_category = 'H'") < 0.045
    assert 0.45 < share(apc, "sex = '1'") < 0.53
    assert share(apc, "sex = '9'") < 0.01
    # Admitted patients are older than A&E attenders; A&E sees more children.
    age = "date_diff('year', date_of_birth, DATE '2024-10-01')"
    clean = "year(date_of_birth) > 1900 AND date_of_birth < DATE '2024-04-01'"
    median = f"SELECT median({age}) FROM t WHERE {clean}"
    assert _one(apc, median) > _one(ae, median) + 10
    assert share(ae, f"{age} < 18") > share(apc, f"{age} < 18")
    # Many day cases; a long tail of stays.
    assert share(apc, "discharge_date = admission_date") > 0.25
    assert share(apc, "discharge_date - admission_date > 21") > 0.005
    # Skewed trust volumes across all 15 trusts; the children's trust sees only children.
    counts = [
        r[0]
        for r in apc.execute(
            "SELECT count(*) FROM t WHERE provider_code <> 'XXXX' GROUP BY provider_code ORDER BY 1"
        ).fetchall()
    ]
    assert len(counts) == 15 and counts[-1] > 3 * counts[0]
    assert _count(ae, f"provider_code = 'RBS' AND {clean} AND {age} >= 19") == 0
    # Same patient, same details: one birth date per NHS number (ignoring dob defects).
    per_patient = f"""
        SELECT count(*) FROM (
            SELECT nhs_number FROM t
            WHERE regexp_full_match(nhs_number, '[0-9]{{10}}') AND {clean}
            GROUP BY nhs_number HAVING count(DISTINCT date_of_birth) > 1)
    """
    assert _one(apc, per_patient) == 0
    assert share(apc, "nhs_number LIKE '999%'") > 0.98


def test_docs_table_matches_the_spec() -> None:
    """docs/synth.md lists every defect class of every kind with its rate and rule."""
    doc = Path(__file__).resolve().parents[2] / "docs" / "synth.md"
    text = doc.read_text(encoding="utf-8")
    for kind in KINDS:
        section = text.split(f"#### {kind}\n", 1)[1].split("\nTotal:", 1)[0]
        rows = re.findall(
            r"^\| `([a-z_0-9]+)` \| `([a-z_0-9]+)` \| ([0-9.]+)% \|.*`([a-z_.0-9]+)` \|$",
            section,
            flags=re.M,
        )
        documented = {(i, c, round(float(r) / 100, 4), rule) for i, c, r, rule in rows}
        spec = {(d.id, d.column, round(d.rate, 4), d.rule) for d in DEFECTS[kind]}
        assert documented == spec, kind


@pytest.mark.parametrize("kind", KINDS)
def test_shipped_pack_finds_exactly_the_expected_counts(
    kind: str, tmp_path: Path, cli: Callable[..., tuple[int, str, str]]
) -> None:
    """End to end: `healthdq synth` then `healthdq check --pack nhs-KIND` counts every class."""
    import json

    rows = 6000
    data, report = tmp_path / f"{kind}.parquet", tmp_path / "results.json"
    code, _, err = cli("synth", kind, "--rows", rows, "--seed", 9, "--out", data)
    assert code == 0, err
    # The demo's run date: the earliest for which every count is exact (see docs/synth.md).
    args = ["--json", report, "--fail-on", "never", "--run-date", "2025-04-30"]
    code, _, err = cli("check", data, "--pack", f"nhs-{kind}", *args)
    assert code == 0, err
    results = json.loads(report.read_text(encoding="utf-8"))["rules"]
    found = {r["rule_id"]: r["violating_rows"] or 0 for r in results}
    expected = expected_by_rule(kind, rows)
    assert {rule: found.get(rule) for rule in expected} == expected
    # Every other row-level rule of the pack passes: no accidental defects.
    others = {rule: n for rule, n in found.items() if rule not in expected and n}
    assert others == {}
