"""Identifiers found by content, the detection errors of issue #10, masking of every profile
output, and a profile at width."""

from __future__ import annotations

import csv
import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from healthdq import pipeline
from healthdq.cli import app
from healthdq.engine.duckdb import DuckDBEngine
from healthdq.profile import TableProfile, profile_table, suggest_contract
from healthdq.rules.loader import parse_contract
from healthdq.sources.base import ReadOptions

ROWS = 200
SURNAMES = ["Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Evans", "Khan", "Patel"]
POSTCODES = ["LS1 4AP", "m1 1ae", "B338TH", "CR2 6XH", "DN55 1PT", "W1A 0AX", "EC1A 1BB"]
ICD3 = ["I10", "J18", "E11", "C50", "K35", "A09", "N39", "R69"]


def nhs_number(seed: int) -> str:
    """A valid NHS number (Modulus 11; a check digit of 10 is never issued)."""
    base = 600_000_000 + seed * 7919
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
        n = nhs_number(i)
        born = date(1930, 3, 15) + timedelta(days=131 * i)
        rows.append(
            {
                "NHSNO": f"{n[:3]}-{n[3:6]}-{n[6:]}",  # dashed, as in issue #10
                "patient": f"{n[:3]} {n[3:6]} {n[6:]}",  # spaced, no name hint
                "date_of_birth": born.strftime("%d/%m/%Y"),
                "MYDOB": born.strftime("%m%Y"),
                "born": born.isoformat(),  # no hint: a lifetime's span of dates
                # A postcode column with 25% junk and odd case/spacing, no name hint.
                "area": "UNKNOWN" if i % 4 == 0 else POSTCODES[i % len(POSTCODES)],
                "surname": SURNAMES[i % len(SURNAMES)] + ("" if i % 3 else "-Lee"),
                "ref": f"K{(i * 7919) % 100003:06d}",  # unique strings
                "DIAG_3_01": ICD3[i % len(ICD3)],
                "dx": ICD3[(i * 3) % len(ICD3)],
                "episode_count": str(1 + i % 6),
                "epis": str(1 + i % 7),
                "source": ["01", "02", "03"][i % 3],
                "admidate": (date(2023, 1, 1) + timedelta(days=i % 90)).isoformat(),
            }
        )
    return rows


@pytest.fixture(scope="module")
def rows() -> list[dict[str, str]]:
    return make_rows()


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory, rows: list[dict[str, str]]) -> Path:
    path = tmp_path_factory.mktemp("ids") / "hes.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture(scope="module")
def unmasked(data: Path) -> TableProfile:
    return pipeline.profile(
        str(data),
        table="hes",
        read_options=ReadOptions(),
        settings=pipeline.Settings(unmask=True, audit_log=data.parent / "audit.jsonl"),
    )


def test_identifiers_by_content(unmasked: TableProfile) -> None:
    ids = {c.name: c.identifier for c in unmasked.columns}
    assert ids["NHSNO"] == "nhs_number"
    assert ids["patient"] == "nhs_number"  # by content alone
    assert ids["date_of_birth"] == "date_of_birth"
    assert ids["MYDOB"] == "date_of_birth"
    assert ids["born"] == "date_of_birth"  # dates spanning a lifetime
    assert ids["area"] == "postcode"  # 75% postcode-shaped: still postcodes
    assert ids["surname"] == "name"
    assert ids["ref"] == "local_id"  # mostly unique strings
    for name in ("DIAG_3_01", "dx", "episode_count", "epis", "source", "admidate"):
        assert ids[name] is None, name


def test_detection_errors_of_issue_10(unmasked: TableProfile) -> None:
    kinds = {c.name: c.kind for c in unmasked.columns}
    assert kinds["NHSNO"] == "nhs_number"  # the validator takes the 3-3-4 form with dashes
    # A dd/mm/yyyy date of birth is a date, not a 'unique id'.
    assert kinds["date_of_birth"] == "date (dd/mm/yyyy)"
    assert kinds["MYDOB"] == "date (MMYYYY)"
    # 3-character ICD-10 codes are ICD-10, by name or by content, not ODS codes.
    assert kinds["DIAG_3_01"] == "icd10 (3-character)"
    assert kinds["dx"] == "icd10 (3-character)"
    assert unmasked.column("dx").validator is None
    # Counts are numbers, not code lists; codes with leading zeros stay codes.
    assert kinds["episode_count"] == "number"
    assert kinds["epis"] == "number"
    assert kinds["source"] == "code (3 values)"
    text = suggest_contract(unmasked, "hes")
    rules = {r["id"] for r in yaml.safe_load(text)["tables"]["hes"]["rules"]}
    assert "hes.episode_count.allowed_values" not in rules
    assert "hes.source.allowed_values" in rules
    assert not any(r.startswith(("hes.dx.", "hes.DIAG_3_01.")) and "ods" in r for r in rules)


def _raw_values(rows: list[dict[str, str]]) -> list[str]:
    """Every identifying value of the data, in each form it was written."""
    values: list[str] = []
    for r in rows:
        values += [r["NHSNO"], r["NHSNO"].replace("-", ""), r["patient"]]
        values += [r["date_of_birth"], r["MYDOB"], r["born"], r["ref"]]
    values += [p for p in POSTCODES] + [s for s in SURNAMES]
    return values


def test_every_output_is_masked(data: Path, rows: list[dict[str, str]], tmp_path: Path) -> None:
    out_json, out_yaml = tmp_path / "p.json", tmp_path / "c.yaml"
    audit = tmp_path / "audit.jsonl"
    result = CliRunner().invoke(
        app,
        [
            "profile", str(data), "--table", "hes", "--json", str(out_json),
            "--suggest", str(out_yaml), "--audit-log", str(audit),
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    texts = {
        "terminal": result.output,
        "json": out_json.read_text(encoding="utf-8"),
        "contract": out_yaml.read_text(encoding="utf-8"),
        "audit": audit.read_text(encoding="utf-8"),
    }
    leaks = [(where, v) for v in _raw_values(rows) for where, t in texts.items() if v in t]
    assert leaks == []
    prof = json.loads(texts["json"])
    assert prof["masked"] is True
    nhs = next(c for c in prof["columns"] if c["name"] == "NHSNO")
    assert nhs["top_values"] == [] and "***" in nhs["min"] and "***" in nhs["max"]
    # The suggested contract declares every identifier.
    contract = parse_contract(texts["contract"], "c.yaml")
    declared = {n: s.identifier for n, s in contract.tables["hes"].columns.items() if s.identifier}
    assert declared == {
        "NHSNO": "nhs_number",
        "patient": "nhs_number",
        "date_of_birth": "date_of_birth",
        "MYDOB": "date_of_birth",
        "born": "date_of_birth",
        "area": "postcode",
        "surname": "name",
        "ref": "local_id",
    }
    events = [json.loads(line) for line in texts["audit"].splitlines()]
    assert [e["action"] for e in events] == ["profile"] and events[0]["unmasked"] is False


def test_unmasked_run_keeps_values_and_is_audited_as_such(
    unmasked: TableProfile, data: Path, rows: list[dict[str, str]]
) -> None:
    assert unmasked.masked is False
    assert unmasked.column("surname").top_values
    events = (data.parent / "audit.jsonl").read_text(encoding="utf-8").splitlines()
    assert json.loads(events[-1])["unmasked"] is True


def test_profile_at_width(tmp_path: Path) -> None:
    """120 columns of mixed kinds: two reads of the data (three with wide columns), every
    column profiled."""
    engine = DuckDBEngine()
    try:
        cols = []
        for k in range(120):
            kind = k % 4
            if kind == 0:
                cols.append(f"lpad(CAST((x + {k}) % 9 AS VARCHAR), 2, '0') AS c{k}")
            elif kind == 1:
                cols.append(f"'S' || CAST(x * 131 + {k} AS VARCHAR) AS c{k}")
            elif kind == 2:
                cols.append(f"DATE '2020-01-01' + CAST((x + {k}) % 400 AS INTEGER) AS c{k}")
            else:
                cols.append(f"CAST(x % 13 AS DOUBLE) / 4 AS c{k}")
        engine.con.execute(
            f"CREATE TABLE wide AS SELECT {', '.join(cols)} FROM range(3000) AS r(x)"
        )
        p = profile_table(engine, "wide")
    finally:
        engine.close()
    assert len(p.columns) == 120 and p.rows == 3000
    assert p.scans == 2
    assert {c.kind for c in p.columns[0::4]} == {"code (9 values)"}
    assert all(c.unique and c.identifier == "local_id" for c in p.columns[1::4])
    assert all(c.exact_distinct == 400 for c in p.columns[2::4])


def test_large_tables_are_sampled_then_made_exact(tmp_path: Path, monkeypatch: Any) -> None:
    """Above SAMPLE_ROWS rows, detection reads a sample of rows; the aggregate scan then makes
    value counts, uniqueness, the validator's pass count and placeholder rows exact."""
    from healthdq.profile import profiler

    monkeypatch.setattr(profiler, "SAMPLE_ROWS", 200)
    path = tmp_path / "w.csv"
    lines = ["id,gp_practice,code"]
    for i in range(1000):
        gp = "V81999" if i % 100 == 0 else f"A{81000 + i % 300:05d}"
        lines.append(f"X{i:05d},{gp},{['01', '02'][i % 2]}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    engine = DuckDBEngine()
    try:
        engine.register("w", str(path), ReadOptions())
        p = profile_table(engine, "w", sample_size=100)
    finally:
        engine.close()
    # The sample, the value counts of repeating columns and the aggregate of the others.
    assert p.scans == 3 and p.sample_rows == 200 and p.rows == 1000
    ident, gp = p.column("id"), p.column("gp_practice")
    assert ident.exact_distinct == 1000 and ident.unique
    assert 0 < gp.checked < gp.count == 1000
    assert gp.validator == "gp_practice" and gp.validator_passes == 1000
    assert gp.placeholders == {"V81999": 10}
    code = p.column("code")
    assert code.all_values_seen and code.exact_distinct == 2 and code.top_values == ["01", "02"]


def test_large_tables_estimate_many_distinct_values(tmp_path: Path, monkeypatch: Any) -> None:
    """Above EXACT_DISTINCT_ROWS, a column of many values gets a HyperLogLog estimate (shown as
    ~N); repeating values keep exact counts; a mostly unique text column is still an
    identifier (and masked)."""
    from rich.console import Console

    from healthdq.governance.masking import mask_profile
    from healthdq.profile import profiler, render_profile

    monkeypatch.setattr(profiler, "SAMPLE_ROWS", 300)
    monkeypatch.setattr(profiler, "EXACT_DISTINCT_ROWS", 1000)
    engine = DuckDBEngine()
    try:
        engine.con.execute(
            "CREATE TABLE big AS SELECT x + 1 AS __row, 'K' || lpad(CAST(x * 7 AS VARCHAR), 7, "
            "'0') AS ref, ['01', '02', '03'][x % 3 + 1] AS code FROM range(5000) AS r(x)"
        )
        p = profile_table(engine, "big")
    finally:
        engine.close()
    ref, code = p.column("ref"), p.column("code")
    assert ref.exact_distinct is None and abs(ref.approx_distinct - 5000) < 500
    assert ref.identifier == "local_id" and ref.unique is None
    assert code.exact_distinct == 3 and code.kind == "code (3 values)"
    mask_profile(p)
    console = Console(width=200, record=True)
    render_profile(p, console)
    text = console.export_text()
    assert f"~{ref.approx_distinct:,}" in text and "K000000" not in text
