"""Dates as extracts write them: MMYYYY, YYYYMMDD, DD/MM/YYYY; placeholder dates; text vs DATE."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from healthdq.engine.dates import detect_formats
from healthdq.engine.duckdb import DuckDBEngine
from healthdq.engine.runner import RunOptions, run_contract
from healthdq.results import RunResult
from healthdq.rules.loader import parse_contract


def run(tmp_path: Path, csv: str, contract: str) -> RunResult:
    data = tmp_path / "t.csv"
    data.write_text(csv, encoding="utf-8")
    engine = DuckDBEngine()
    try:
        options = RunOptions(run_date=date(2024, 3, 1))
        return run_contract(
            engine, parse_contract(contract, "c.yaml"), {"t": str(data)}, options=options
        )
    finally:
        engine.close()


def counts(result: RunResult) -> dict[str, tuple[str, int | None, int | None]]:
    return {r.rule_id: (r.status, r.violating_rows, r.denominator) for r in result.rules}


# HES releases the month and year of birth as MMYYYY (MYDOB); admission dates as YYYYMMDD here.
CSV = (
    "mydob,admidate,refdate,code\n"
    "011950,20240105,01/12/2023,A\n"
    "121999,20240106,02/12/2023,B\n"
    "132000,20240107,03/12/2023,C\n"  # month 13: not a date
    "012030,20240108,01/01/1800,D\n"  # born after admission; placeholder referral date
    "&,20240109,01/01/1801,E\n"
)


def test_formats_are_detected_from_the_data(tmp_path: Path) -> None:
    data = tmp_path / "t.csv"
    data.write_text(CSV, encoding="utf-8")
    engine = DuckDBEngine()
    try:
        engine.register(
            "t", str(data), __import__("healthdq.sources.base").sources.base.ReadOptions()
        )
        found = detect_formats(engine, "t", ["mydob", "admidate", "refdate", "code"])
    finally:
        engine.close()
    assert found == {
        "mydob": "MMYYYY",
        "admidate": "YYYYMMDD",
        "refdate": "DD/MM/YYYY",
        "code": None,
    }


def test_date_rules_read_text_dates_by_their_format(tmp_path: Path) -> None:
    contract = """
name: t
tables:
  t:
    columns:
      mydob: {missing: ['&']}
    rules:
      - {id: dob.type, kind: type, column: mydob, type: date}
      - {id: dob.range, kind: date_range, column: mydob, min: '1900-01-01', max: today}
      - {id: dob.before, kind: compare, left: mydob, op: '<=', right: admidate}
      - id: ref.default
        kind: default_value
        column: refdate
        values: ['1800-01-01', '1801-01-01', '1900-01-01', '9999-12-31']
      - {id: ref.before, kind: compare, left: refdate, op: '<=', right: admidate}
"""
    got = counts(run(tmp_path, CSV, contract))
    # 132000 is not a date (month 13); '&' is missing, not judged.
    assert got["dob.type"] == ("failed", 1, 4)
    # 012030 is in the future; 132000 does not convert.
    assert got["dob.range"] == ("failed", 2, 4)
    # Compared as dates by their formats: 2030 is after the admission.
    assert got["dob.before"] == ("failed", 1, 3)
    assert got["ref.default"] == ("failed", 2, 5)
    assert got["ref.before"] == ("passed", 0, 5)


def test_a_declared_format_wins_and_a_text_column_no_format_reads_is_a_clear_error(
    tmp_path: Path,
) -> None:
    csv = "d,adm\n01-02-2020,2024-01-01\nxx,2024-01-01\n"
    contract = """
name: t
tables:
  t:
    columns:
      d: {format: DD-MM-YYYY}
    rules:
      - {id: cmp, kind: compare, left: d, op: '<=', right: adm}
"""
    assert counts(run(tmp_path, csv, contract))["cmp"] == ("passed", 0, 1)
    junk = "d,adm\nxx,2024-01-01\nyy,2024-01-01\n"
    result = run(
        tmp_path, junk, contract.replace("    columns:\n      d: {format: DD-MM-YYYY}\n", "")
    )
    rule = result.rules[0]
    assert rule.status == "error"
    assert "column 'd' holds text that no date format reads" in (rule.message or "")
    assert "Binder Error" not in (rule.message or "")


def test_unknown_format_in_a_contract_is_refused() -> None:
    import pytest

    from healthdq.errors import ContractError

    with pytest.raises(ContractError, match="unknown date format 'DDMMYY'"):
        parse_contract(
            "name: t\ntables:\n  t:\n    columns:\n      d: {format: DDMMYY}\n", "c.yaml"
        )
