"""Contract values that used to crash or reach too far: relative dates and `source:` files."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest

from healthdq.cli.options import table_sources
from healthdq.engine.compiler import CompileError, resolve_date
from healthdq.engine.duckdb import DuckDBEngine
from healthdq.engine.runner import RunOptions, run_contract
from healthdq.errors import ContractError
from healthdq.rules import model as m
from healthdq.rules.loader import parse_contract

Cli = Callable[..., tuple[int, str, str]]
Write = Callable[[str, str | bytes], Path]

CSV = "id,dob\n1,1950-03-12\n2,2030-01-01\n"


def _date_contract(bound: str) -> str:
    return (
        "name: t\ntables:\n  t:\n    rules:\n"
        f"      - id: r\n        kind: date_range\n        column: dob\n        min: {bound}\n"
    )


@pytest.mark.parametrize("bound", ["today-99999y", "today+999999999d", "today-20000m"])
def test_out_of_range_relative_dates_are_refused_at_load(bound: str) -> None:
    with pytest.raises(ContractError) as info:
        parse_contract(_date_contract(bound), "c.yaml")
    assert info.value.one_line().startswith("c.yaml:8: ")
    assert "out of range" in info.value.message


def test_validate_catches_an_out_of_range_date(cli: Cli, write: Write) -> None:
    contract = write("c.yaml", _date_contract("today-99999y"))
    code, _, err = cli("validate", contract)
    assert code == 2
    assert f"{contract}:8:" in err and "out of range" in err and "Traceback" not in err


def test_a_date_out_of_range_for_the_run_date_is_a_rule_error_naming_the_line(
    tmp_path: Path,
) -> None:
    """Within the load-time bound but beyond year 9999 for this run date: the rule errors."""
    data = tmp_path / "t.csv"
    data.write_text(CSV, encoding="utf-8")
    contract = parse_contract(_date_contract("today+999y"), str(tmp_path / "c.yaml"))
    contract.tables["t"].rules.append(
        m.NotNullRule(kind="not_null", id="ok", column="id", line=None)
    )
    engine = DuckDBEngine()
    try:
        result = run_contract(
            engine, contract, {"t": str(data)}, options=RunOptions(run_date=date(9500, 1, 1))
        )
    finally:
        engine.close()
    got = {r.rule_id: r for r in result.rules}
    assert got["r"].status == "error"
    where = f"{tmp_path / 'c.yaml'}:5: "
    assert got["r"].message == where + "relative date 'today+999y' is out of range (years 1..9999)"
    assert got["ok"].status == "passed"


def test_resolve_date_never_raises_value_error() -> None:
    for bound in ("today-99999y", "today+99999999d", "today-999999999m"):
        with pytest.raises(CompileError, match="out of range"):
            resolve_date(bound, date(2024, 1, 1))
    assert resolve_date("today-120y", date(2024, 2, 29)) == date(1904, 2, 28)


# -- source: files stay inside the contract's folder ---------------------------------------------
@pytest.mark.parametrize(
    "source",
    [
        "/etc/passwd",
        "../secret.csv",
        "data/../../secret.csv",
        "~/secret.csv",
        "http://127.0.0.1:9/x.csv",
        "s3://bucket/x.parquet",
        "postgres:dbname=x",
        "C:/Windows/win.ini",
        "..\\secret.csv",
    ],
)
def test_a_source_outside_the_contract_folder_is_refused_with_its_line(source: str) -> None:
    text = f"name: t\ntables:\n  t:\n    source: '{source}'\n    rules: []\n"
    with pytest.raises(ContractError) as info:
        parse_contract(text, "contracts/c.yaml")
    assert info.value.one_line().startswith("contracts/c.yaml:4: source ")


def test_a_symlink_out_of_the_contract_folder_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside.csv"
    outside.write_text(CSV, encoding="utf-8")
    folder = tmp_path / "contracts"
    folder.mkdir()
    os.symlink(outside, folder / "link.csv")
    text = "name: t\ntables:\n  t:\n    source: link.csv\n    rules: []\n"
    with pytest.raises(ContractError, match="outside the contract's folder"):
        parse_contract(text, str(folder / "c.yaml"))


def test_a_relative_source_is_read_next_to_the_contract(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "contracts"
    (folder / "data").mkdir(parents=True)
    (folder / "data" / "t.csv").write_text(CSV, encoding="utf-8")
    text = (
        "name: t\ntables:\n  t:\n    source: data/t.csv\n    rules:\n"
        "      - {id: r, kind: not_null, column: id}\n"
    )
    monkeypatch.chdir(tmp_path)  # not the contract's folder
    contract = parse_contract(text, str(folder / "c.yaml"))
    assert table_sources(contract, []) == {"t": str((folder / "data" / "t.csv").resolve())}
    engine = DuckDBEngine()
    try:
        result = run_contract(engine, contract, {})
    finally:
        engine.close()
    assert result.tables[0].rows == 2
