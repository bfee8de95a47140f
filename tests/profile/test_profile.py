"""Profile and suggested contract on small NHS-like files whose numbers are counted by hand."""

from __future__ import annotations

import csv
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml
from rich.console import Console

from healthdq.engine.duckdb import DuckDBEngine
from healthdq.engine.runner import run_contract
from healthdq.governance.masking import mask_profile
from healthdq.profile import profile_table, render_profile, suggest_contract
from healthdq.profile import profiler as profiler_module
from healthdq.rules.loader import parse_contract
from healthdq.sources.base import ReadOptions

ROWS = 240
POSTCODES = ["LS1 4AP", "M1 1AE", "B33 8TH", "CR2 6XH", "DN55 1PT", "W1A 0AX", "EC1A 1BB"]
PRACTICES = ["A81001", "B82005", "C83010", "M85063", "Y02345"]
DIAGNOSES = ["I10X", "J181", "E119", "C509", "K359", "A099"]


def nhs_number(seed: int) -> str:
    """A valid NHS number: nine digits and the Modulus 11 check digit (10 is never issued)."""
    base = 400_000_000 + seed * 7919
    while True:
        digits = [int(c) for c in str(base)]
        check = 11 - sum(d * w for d, w in zip(digits, range(10, 1, -1), strict=True)) % 11
        check = 0 if check == 11 else check
        if check != 10:
            return f"{base}{check}"
        base += 1


def make_rows() -> list[dict[str, str]]:
    rows = []
    for i in range(ROWS):
        rows.append(
            {
                # Patients repeat (not unique); 3 empty (NULL) and 1 blank string.
                "nhs_number": (" " if i == 5 else "") if i % 60 == 5 else nhs_number(i % 200),
                "postcode": "ZZ99 3VZ" if i % 80 == 7 else POSTCODES[i % len(POSTCODES)],
                "provider_code": ["RR8", "RTH", "RXF", "R0A"][i % 4],
                "gp_practice": "" if i == 100 else ("V81999" if i % 48 == 3 else PRACTICES[i % 5]),
                "diag_01": DIAGNOSES[i % len(DIAGNOSES)],
                "ethnic_category": "99" if i % 40 == 0 else "ABCJKZ"[i % 6],
                "source_code": ["01", "02", "03"][i % 3],
                "flag": str(i % 2),
                "data_source": ["PAS", "SUS"][i % 2],
                "date_of_birth": "1900-01-01"
                if i % 50 == 9
                else (date(1930, 3, 15) + timedelta(days=97 * i)).isoformat(),
                "admission_date": (date(2023, 1, 1) + timedelta(days=i)).isoformat(),
                # One value that is not a date keeps this column as text in a CSV.
                "referral_date": "unknown"
                if i == 17
                else (date(2022, 6, 1) + timedelta(days=i)).isoformat(),
                "age": str(i % 90),
                "spell_id": f"S{i:06d}",
                # A key with one duplicate: still suggested as unique, tolerating it.
                "episode_id": f"E{9 if i == 10 else i:06d}",
                "notes": "" if i % 3 == 0 else f"seen in clinic {i % 11}",
            }
        )
    return rows


@pytest.fixture(scope="module")
def rows() -> list[dict[str, str]]:
    return make_rows()


@pytest.fixture(scope="module")
def csv_path(tmp_path_factory: pytest.TempPathFactory, rows: list[dict[str, str]]) -> Path:
    path = tmp_path_factory.mktemp("profile") / "apc.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture(scope="module")
def parquet_path(csv_path: Path) -> Path:
    """The same data typed as a warehouse would: NHS number BIGINT, dates DATE."""
    path = csv_path.with_suffix(".parquet")
    con = duckdb.connect()
    con.execute(
        f"COPY (SELECT * REPLACE (CAST(nullif(trim(nhs_number), '') AS BIGINT) AS nhs_number, "
        f"CAST(date_of_birth AS DATE) AS date_of_birth) "
        f"FROM read_csv('{csv_path}', all_varchar = true)) TO '{path}' (FORMAT parquet)"
    )
    con.close()
    return path


def profiled(location: Path, masked: bool = True, **kwargs: Any) -> profiler_module.TableProfile:
    engine = DuckDBEngine()
    try:
        engine.register("apc", str(location), ReadOptions())
        p = profile_table(engine, "apc", **kwargs)
    finally:
        engine.close()
    return mask_profile(p) if masked else p


@pytest.fixture(scope="module")
def csv_profile(csv_path: Path) -> profiler_module.TableProfile:
    return profiled(csv_path)


def test_counts_and_ranges_are_exact(
    csv_profile: profiler_module.TableProfile, rows: list[dict[str, str]]
) -> None:
    p = csv_profile
    assert p.rows == ROWS
    assert [c.name for c in p.columns] == list(rows[0])  # __row is not profiled
    for name in ("nhs_number", "gp_practice", "notes"):
        col = p.column(name)
        assert col.nulls == sum(1 for r in rows if not r[name].strip()), name
        assert col.count == ROWS - col.nulls
    assert p.column("nhs_number").null_pct == pytest.approx(100 * 4 / ROWS, abs=1e-3)
    assert p.column("nhs_number").blanks == 1
    source = p.column("source_code")
    assert (source.min, source.max) == ("01", "03")
    assert source.top_values and set(source.top_values) == {"01", "02", "03"}
    assert source.all_values_seen
    diag = p.column("diag_01")
    assert (diag.min_length, diag.max_length) == (4, 4)
    assert diag.top_patterns == ["A99A", "A999"] or set(diag.top_patterns) == {"A99A", "A999"}
    dob = p.column("date_of_birth")
    assert dob.family == "date"
    assert dob.min == "1900-01-01"  # min over every value, placeholders included
    real = [r["date_of_birth"] for r in rows if r["date_of_birth"] != "1900-01-01"]
    # A date of birth is an identifier: masked as check masks samples (the year only).
    assert dob.date_min == min(real)[:4] + "-**-**" and dob.max == max(real)[:4] + "-**-**"
    assert dob.placeholders == {"1900-01-01": 5}
    admitted = p.column("admission_date")
    assert (admitted.min, admitted.max) == ("2023-01-01", "2023-08-28")
    referral = p.column("referral_date")
    assert referral.family == "text"
    assert referral.date_values == ROWS - 1
    assert referral.date_min == "2022-06-01"
    postcode = p.column("postcode")
    assert postcode.placeholders == {"ZZ99 3VZ": 3}
    assert p.column("gp_practice").placeholders == {"V81999": 5}
    assert p.column("ethnic_category").placeholders == {"99": 6}


def test_detected_kinds(csv_profile: profiler_module.TableProfile) -> None:
    kinds = {c.name: c.kind for c in csv_profile.columns}
    assert kinds["nhs_number"] == "nhs_number"
    assert kinds["postcode"] == "postcode"
    assert kinds["provider_code"] == "ods_org"
    assert kinds["gp_practice"] == "gp_practice"
    assert kinds["diag_01"] == "icd10"
    assert kinds["source_code"] == "code (3 values)"
    assert kinds["date_of_birth"] == "date"
    assert kinds["referral_date"] == "date"
    assert kinds["spell_id"] == "unique id"
    assert kinds["episode_id"] == "id (1 duplicate)"
    # Two codes that happen to be sex codes are not a sex column without a name hint.
    assert kinds["flag"] == "code (2 values)"
    # 'PAS' and 'SUS' have the shape of ODS codes; two values and no name hint are not enough.
    assert kinds["data_source"] == "code (2 values)"
    ids = {c.name: c.identifier for c in csv_profile.columns if c.identifier}
    assert ids == {
        "nhs_number": "nhs_number",
        "postcode": "postcode",
        "date_of_birth": "date_of_birth",
        # Mostly unique strings are masked whatever their name.
        "spell_id": "local_id",
        "episode_id": "local_id",
    }
    nhs = csv_profile.column("nhs_number")
    assert nhs.validators["nhs_number"] == 100.0
    assert nhs.unique is False  # patients repeat: exact distinct < non-null rows


def test_identifiers_are_masked(
    csv_profile: profiler_module.TableProfile, csv_path: Path, rows: list[dict[str, str]]
) -> None:
    for name in ("nhs_number", "postcode", "spell_id"):
        col = csv_profile.column(name)
        assert col.top_values == [] and "***" in str(col.min) and "***" in str(col.max)
    assert csv_profile.masked
    text = csv_profile.model_dump_json() + suggest_contract(csv_profile, "apc")
    dobs = [r["date_of_birth"] for r in rows if r["date_of_birth"] != "1900-01-01"]
    nhs = sorted({r["nhs_number"] for r in rows if r["nhs_number"].strip()})
    for value in (*nhs, *POSTCODES, min(dobs), max(dobs), "S000000", "S000239"):
        assert value not in text
    unmasked = profiled(csv_path, masked=False)
    assert unmasked.column("date_of_birth").date_min == min(dobs)
    assert unmasked.column("postcode").top_values


def test_two_reads_of_the_data(csv_path: Path) -> None:
    engine = Counting()
    engine.register("apc", str(csv_path), ReadOptions())
    p = profile_table(engine, "apc")
    # The unpivot and the aggregate scan; everything else reads the grouped values (and the
    # row count comes from the table's metadata).
    assert p.scans == 2 and engine.reads("apc") == 3
    assert engine.statements[0] == 'SELECT count(*) FROM "apc"'
    assert p.column("spell_id").exact_distinct == ROWS
    assert p.queries == len(engine.statements)
    engine.close()


def test_sampled_columns_are_confirmed_exactly(csv_path: Path, rows: list[dict[str, str]]) -> None:
    p = profiled(csv_path, sample_size=50)
    nhs = p.column("nhs_number")
    assert 0 < nhs.checked < nhs.count
    # The chosen validator's pass count is exact (every value), not the sample's.
    assert nhs.validator == "nhs_number" and nhs.validator_passes == nhs.count
    referral = p.column("referral_date")
    assert 0 < referral.checked < referral.count
    assert referral.date_values == ROWS - 1 and referral.date_min == "2022-06-01"
    # The sample is the same values on every run.
    again = profiled(csv_path, sample_size=50)
    assert again.column("referral_date").top_patterns == referral.top_patterns
    assert again.column("nhs_number").checked == nhs.checked


def test_full_sample_matches(csv_path: Path, csv_profile: profiler_module.TableProfile) -> None:
    full = profiled(csv_path, sample_size=10**9)
    for a, b in zip(full.columns, csv_profile.columns, strict=True):
        assert (a.checked, a.validators, a.kind, a.date_min) == (
            b.checked,
            b.validators,
            b.kind,
            b.date_min,
        )


def test_typed_parquet(parquet_path: Path) -> None:
    p = profiled(parquet_path)
    nhs = p.column("nhs_number")
    assert nhs.family == "integer"
    assert nhs.kind == "nhs_number" and nhs.identifier == "nhs_number"
    assert p.column("date_of_birth").identifier == "date_of_birth"


def suggested(profile: profiler_module.TableProfile, source: Path) -> tuple[str, dict[str, Any]]:
    text = suggest_contract(profile, "apc", source=source.name)
    # A contract names its data relative to itself (rules/sandbox.py).
    parse_contract(text, str(source.parent / "suggested.yaml"))
    rules = {r["id"]: r for r in yaml.safe_load(text)["tables"]["apc"]["rules"]}
    return text, rules


def test_suggested_contract(csv_profile: profiler_module.TableProfile, csv_path: Path) -> None:
    text, rules = suggested(csv_profile, csv_path)
    contract = parse_contract(text, "suggested.yaml")
    spec = contract.tables["apc"]
    assert spec.source == csv_path.name
    assert spec.columns["nhs_number"].identifier == "nhs_number"
    assert spec.columns["postcode"].identifier == "postcode"
    assert spec.columns["date_of_birth"].identifier == "date_of_birth"
    assert rules["apc.nhs_number.validator"]["validator"] == "nhs_number"
    # The engine checks the 237 non-NULL values; the blank one fails: 0.42% rounds up to 1.
    assert rules["apc.nhs_number.validator"]["threshold"] == 1
    assert "apc.nhs_number.not_null" not in rules  # 98.3% complete: below 99%
    assert rules["apc.gp_practice.not_null"]["threshold"] == 1  # 1 null in 240 = 0.42%
    assert rules["apc.provider_code.not_null"]["threshold"] == 0
    assert rules["apc.diag_01.validator"]["validator"] == "icd10"
    # Codes keep their leading zeros and stay strings through YAML.
    assert "- '01'" in text
    allowed = next(r for r in spec.rules if r.id == "apc.source_code.allowed_values")
    assert allowed.values == ["01", "02", "03"]  # type: ignore[attr-defined]
    assert rules["apc.flag.allowed_values"]["values"] == ["0", "1"]
    assert rules["apc.spell_id.unique"]["columns"] == ["spell_id"]
    assert rules["apc.spell_id.unique"]["threshold"] == 0
    assert rules["apc.episode_id.unique"]["threshold"] == 1  # 1 surplus copy in 240 rows
    assert "apc.nhs_number.unique" not in rules
    dob = rules["apc.date_of_birth.date_range"]
    assert dob["min"] == "1930-01-01" and dob["max"] == "today"
    assert rules["apc.date_of_birth.default_value"]["values"] == ["1900-01-01"]
    assert rules["apc.postcode.default_value"]["values"] == ["ZZ99 3VZ"]
    assert rules["apc.gp_practice.default_value"]["values"] == ["V81999"]
    assert rules["apc.ethnic_category.default_value"]["values"] == ["99"]
    assert rules["apc.referral_date.date_range"]["threshold"] == 1  # 'unknown' is not a date
    assert "apc.notes.allowed_values" not in rules
    for rule in rules.values():
        assert rule["id"].startswith(f"apc.{rule.get('column', rule.get('columns', [''])[0])}.")
        assert rule["description"].startswith("Observed")


def test_suggested_contract_passes_on_its_own_data(
    csv_profile: profiler_module.TableProfile, csv_path: Path
) -> None:
    contract = parse_contract(suggest_contract(csv_profile, "apc"), "suggested.yaml")
    engine = DuckDBEngine()
    try:
        result = run_contract(engine, contract, {"apc": str(csv_path)})
    finally:
        engine.close()
    bad = [(r.rule_id, r.status, r.pct_violating, r.message) for r in result.rules]
    assert all(r.status == "passed" for r in result.rules), bad
    assert len(result.rules) > 20


def test_suggested_contract_from_parquet(parquet_path: Path) -> None:
    _, rules = suggested(profiled(parquet_path), parquet_path)
    assert rules["apc.nhs_number.validator"]["validator"] == "nhs_number"
    assert rules["apc.date_of_birth.default_value"]["values"] == ["1900-01-01"]


def test_render_profile(csv_profile: profiler_module.TableProfile) -> None:
    console = Console(record=True, width=220)
    render_profile(csv_profile, console)
    out = console.export_text()
    assert "apc: 240 rows, 16 columns" in out
    assert "nhs_number (100.0% valid, identifier)" in out
    assert "B33 ***" in out and "LS1 4AP" not in out
    assert "code (3 values)" in out


def test_empty_and_odd_columns(tmp_path: Path) -> None:
    path = tmp_path / "odd.csv"
    path.write_text('a,b,"c d"\n,x,1\n ,x,2\n', encoding="utf-8")
    p = profiled(path)
    a = p.column("a")
    assert a.count == 0 and a.nulls == 2 and a.blanks == 1 and a.kind == "empty"
    text = suggest_contract(p, "odd table")
    contract = parse_contract(text, "s.yaml")
    assert all(r.id.startswith("odd_table.") for r in contract.tables["odd table"].rules)


def test_any_relation_and_types() -> None:
    """A relation without __row, typed and nested columns, no rows."""
    engine = DuckDBEngine()
    con = engine.con
    con.execute(
        "CREATE TABLE t AS SELECT x AS id, x % 3 = 0 AS flag, (x / 7.0)::DECIMAL(10, 2) AS amount, "
        "{'a': x} AS s, TIMESTAMP '2024-01-01 10:00' + INTERVAL (x) HOUR AS ts, "
        "NULL::VARCHAR AS empty, CASE WHEN x % 2 = 0 THEN '01' ELSE '02' END AS code "
        "FROM range(500) r(x)"
    )
    p = profile_table(engine, "t")
    kinds = {c.name: c.kind for c in p.columns}
    assert kinds == {
        "id": "unique id",
        "flag": "flag",
        "amount": "number",
        "s": "other",
        "ts": "timestamp",
        "empty": "empty",
        "code": "code (2 values)",
    }
    assert p.column("amount").max == 71.29 and p.column("ts").min == "2024-01-01T10:00:00"
    parse_contract(suggest_contract(p, "t"), "t.yaml")
    con.execute("CREATE TABLE nothing (a VARCHAR, b DATE)")
    empty = profile_table(engine, "nothing")
    assert empty.rows == 0 and [c.kind for c in empty.columns] == ["empty", "empty"]
    assert (
        parse_contract(suggest_contract(empty, "nothing"), "n.yaml").tables["nothing"].rules == []
    )


class Counting(DuckDBEngine):
    """The DuckDB engine, recording every statement, to count reads of a relation."""

    def __init__(self) -> None:
        super().__init__()
        self.statements: list[str] = []

    def fetch(self, sql: str, progress: Any = None) -> list[tuple[Any, ...]]:
        self.statements.append(sql)
        return super().fetch(sql, progress)

    def create_temp(
        self, name: str, sql: str, materialize: bool = False, native: bool = False
    ) -> None:
        self.statements.append(sql)
        super().create_temp(name, sql, materialize, native)

    def reads(self, relation: str) -> int:
        return sum(1 for s in self.statements if f'FROM "{relation}"' in s)
