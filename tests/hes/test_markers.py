"""Missing-value markers (HES '&' not known, '-' not applicable), counted by hand.

The fixture follows the HES Data Dictionary conventions: OPERTN_nn holds '-' when no operation
was carried out and '&' when not known, both padded to the field width with spaces or a tab.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from healthdq.engine.duckdb import DuckDBEngine
from healthdq.engine.runner import RunOptions, run_contract
from healthdq.results import RunResult
from healthdq.rules.loader import parse_contract

# 8 episodes: opertn has 1 valid, 1 invalid, 4 markers (two padded), 2 empty.
CSV = (
    "id,opertn,ethnos,dob,admidate\n"
    "1,A011,A,1950-01-01,2024-01-01\n"
    "2,BAD1,X,1960-02-02,2024-01-02\n"
    "3,-,A,&,2024-01-03\n"
    '4,"-   ",B,1970-03-03,2024-01-04\n'
    '5,"&\t ",99,1980-04-04,2024-01-05\n'
    "6,&,A,1990-05-05,2024-01-06\n"
    "7,,A,2030-01-01,2024-01-07\n"
    "8,,Z,2000-06-06,2024-01-08\n"
)

CONTRACT = """
name: hes
tables:
  apc:
    columns:
      opertn: {missing: ['-', '&']}
      ethnos: {missing: ['X']}
      dob: {missing: ['&']}
    rules:
      - {id: op.nn, kind: not_null, column: opertn}
      - {id: op.valid, kind: validator, column: opertn, validator: opcs4}
      - {id: op.regex, kind: regex, column: opertn, pattern: '[A-Z][0-9]{3}'}
      - {id: eth.valid, kind: allowed_values, column: ethnos, values: [A, B, Z, '99']}
      - {id: eth.default, kind: default_value, column: ethnos, values: ['99']}
      - {id: dob.before, kind: compare, left: dob, op: '<=', right: admidate}
      - {id: dob.sql, kind: sql, predicate: "dob IS NULL OR dob <> '&'"}
"""


def run(tmp_path: Path, per_distinct_min_rows: int) -> RunResult:
    data = tmp_path / "apc.csv"
    data.write_text(CSV, encoding="utf-8")
    contract = parse_contract(CONTRACT, "hes.yaml")
    engine = DuckDBEngine()
    try:
        options = RunOptions(run_date=date(2024, 3, 1), per_distinct_min_rows=per_distinct_min_rows)
        return run_contract(engine, contract, {"apc": str(data)}, options=options)
    finally:
        engine.close()


@pytest.mark.parametrize("per_distinct_min_rows", [100_000, 1], ids=["per-row", "per-distinct"])
def test_markers_are_missing_never_invalid(tmp_path: Path, per_distinct_min_rows: int) -> None:
    result = run(tmp_path, per_distinct_min_rows)
    got = {r.rule_id: (r.status, r.violating_rows, r.denominator) for r in result.rules}
    # 2 empty + 4 markers missing of 8.
    assert got["op.nn"] == ("failed", 6, 8)
    # Only A011 and BAD1 are judged: the markers are neither valid nor invalid.
    assert got["op.valid"] == ("failed", 1, 2)
    assert got["op.regex"] == ("failed", 1, 2)
    # X is a marker: not judged by the value set...
    assert got["eth.valid"] == ("passed", 0, 7)
    # ...but a default for DQMI (99 and X: 2 of 8).
    assert got["eth.default"] == ("failed", 2, 8)
    # '&' as a date of birth reads as NULL: the comparison does not apply to that row; the
    # 2030 birth is after admission.
    assert got["dob.before"] == ("failed", 1, 7)
    assert got["dob.sql"][1] == 0


@pytest.mark.parametrize("per_distinct_min_rows", [100_000, 1], ids=["per-row", "per-distinct"])
def test_reports_say_how_many_values_were_markers(
    tmp_path: Path, per_distinct_min_rows: int
) -> None:
    result = run(tmp_path, per_distinct_min_rows)
    nn = next(r for r in result.rules if r.rule_id == "op.nn")
    assert nn.observed == {"missing_markers": 4}
    assert nn.message == "4 of the 6 missing values are missing-value markers ('-', '&')"
    metrics = {(m.column, m.name): m.value for m in result.metrics if m.column}
    assert metrics[("opertn", "markers")] == 4
    assert metrics[("ethnos", "markers")] == 1
    assert metrics[("dob", "markers")] == 1


def test_table_markers_apply_to_every_text_column(tmp_path: Path) -> None:
    data = tmp_path / "t.csv"
    data.write_text("a,b,n\n&,x,1\nok,&,2\n,ok,3\n", encoding="utf-8")
    contract = parse_contract(
        "name: t\ntables:\n  t:\n    missing: ['&']\n    rules:\n"
        "      - {id: a, kind: not_null, column: a}\n"
        "      - {id: b, kind: regex, column: b, pattern: '[a-z]+'}\n"
        "      - {id: n, kind: range, column: n, min: 0, max: 9}\n",
        "t.yaml",
    )
    engine = DuckDBEngine()
    try:
        result = run_contract(engine, contract, {"t": str(data)})
    finally:
        engine.close()
    got = {r.rule_id: (r.status, r.violating_rows, r.denominator) for r in result.rules}
    assert got == {"a": ("failed", 2, 3), "b": ("passed", 0, 2), "n": ("passed", 0, 3)}


def test_markers_are_trimmed_and_text_in_the_contract() -> None:
    contract = parse_contract(
        "name: t\ntables:\n  t:\n    columns:\n      c: {missing: ['& ', 0, \"-\\t\"]}\n",
        "t.yaml",
    )
    assert contract.tables["t"].columns["c"].missing == ["&", "0", "-"]
