"""Code sets that change over time: ETHNIC CATEGORY 0-9 before April 2001, A-Z from then."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

from healthdq.engine.duckdb import DuckDBEngine
from healthdq.engine.runner import RunOptions, run_contract
from healthdq.results import RunResult
from healthdq.rules.loader import parse_contract
from healthdq.validators.valueset import get_valueset

# A (2001 scheme) and 4 (1991 scheme), each inside and outside its era; Q was never a code.
CSV = (
    "eth,admidate\n"
    "A,2005-06-01\n"  # in force
    "4,1999-06-01\n"  # in force (old scheme, old record)
    "4,2005-06-01\n"  # legacy code after April 2001
    "A,1999-06-01\n"  # 2001 code before it existed
    "Q,2005-06-01\n"  # never valid: allowed_values' finding, not the era rule's
    "99,1999-06-01\n"  # undated default code: always in force
    "X,2005-06-01\n"  # a missing-value marker
)
CONTRACT = """
name: t
tables:
  t:
    columns:
      eth: {missing: [X]}
    rules:
      - {id: valid, kind: allowed_values, column: eth, value_set: ethnic_category}
      - {id: era, kind: code_era, column: eth, value_set: ethnic_category, date_column: admidate}
      - {id: now, kind: code_era, column: eth, value_set: ethnic_category}
      - {id: then, kind: code_era, column: eth, value_set: ethnic_category, as_of: 2000-01-01}
"""


def run(tmp_path: Path, contract: str = CONTRACT) -> RunResult:
    data = tmp_path / "t.csv"
    data.write_text(CSV, encoding="utf-8")
    engine = DuckDBEngine()
    try:
        options = RunOptions(run_date=date(2024, 3, 1))
        spec = parse_contract(contract, "c.yaml")
        return run_contract(engine, spec, {"t": str(data)}, options=options)
    finally:
        engine.close()


def test_codes_are_judged_against_the_set_in_force_at_the_record_date(tmp_path: Path) -> None:
    got = {r.rule_id: (r.status, r.violating_rows, r.denominator) for r in run(tmp_path).rules}
    # Every era's codes are valid codes; only Q is invalid (X is missing, not judged).
    assert got["valid"] == ("failed", 1, 6)
    # Out of era: 4 in 2005 and A in 1999, of the 5 valid codes with a date.
    assert got["era"] == ("failed", 2, 5)
    # Without a date column: the run date (2024) -> both 4s are legacy.
    assert got["now"] == ("failed", 2, 5)
    # A data-standard date in 2000 -> both As are from the later scheme.
    assert got["then"] == ("failed", 2, 5)


def test_contract_data_standard_date(tmp_path: Path) -> None:
    contract = CONTRACT.replace("name: t\n", "name: t\ndata_standard_date: 2000-01-01\n")
    got = {r.rule_id: r.violating_rows for r in run(tmp_path, contract).rules}
    assert got["now"] == 2 and got["then"] == 2


def test_every_change_is_cited() -> None:
    vs = get_valueset("ethnic_category")
    assert vs.dated and vs.changes
    assert "2001-04-01" in vs.changes[0] and "HES Data Dictionary" in vs.changes[0]
    old = [c.code for c in vs.codes if c.valid_to == date(2001, 3, 31)]
    assert old == [str(i) for i in range(10)]


def test_superseded_codes_without_a_cited_end_are_always_legacy(tmp_path: Path) -> None:
    data = tmp_path / "t.csv"
    data.write_text("sex,adm\n1,2024-01-01\n0,2024-01-01\n0,1990-01-01\nM,2024-01-01\n")
    contract = parse_contract(
        "name: t\ntables:\n  t:\n    rules:\n"
        "      - {id: valid, kind: allowed_values, column: sex, value_set: sex}\n"
        "      - {id: era, kind: code_era, column: sex, value_set: sex, date_column: adm}\n"
        "      - {id: now, kind: code_era, column: sex, value_set: sex}\n",
        "c.yaml",
    )
    engine = DuckDBEngine()
    try:
        result = run_contract(engine, contract, {"t": str(data)})
    finally:
        engine.close()
    got = {r.rule_id: (r.violating_rows, r.denominator) for r in result.rules}
    assert got == {"valid": (1, 4), "era": (2, 3), "now": (2, 3)}


def test_cli_data_standard_date(tmp_path: Path, cli: Callable[..., tuple[int, str, str]]) -> None:
    import json

    data = tmp_path / "t.csv"
    data.write_text("eth\nA\n4\n4\n")
    contract = tmp_path / "c.yaml"
    contract.write_text(
        "name: t\ntables:\n  t:\n    rules:\n"
        "      - {id: era, kind: code_era, column: eth, value_set: ethnic_category}\n"
    )
    out = tmp_path / "r.json"
    args = ["check", f"t={data}", "--contract", contract, "--json", out, "--fail-on", "never"]
    # The run date (2024) judges the 0-9 codes legacy; a 2000 data standard the A.
    assert cli(*args, "--run-date", "2024-01-01")[0] == 0
    assert json.loads(out.read_text())["rules"][0]["violating_rows"] == 2
    assert cli(*args, "--data-standard-date", "2000-01-01")[0] == 0
    assert json.loads(out.read_text())["rules"][0]["violating_rows"] == 1
    code, _, stderr = cli(*args, "--data-standard-date", "01/01/2000")
    assert code == 2 and "--data-standard-date '01/01/2000' is not YYYY-MM-DD" in stderr
