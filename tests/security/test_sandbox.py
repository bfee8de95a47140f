"""A contract cannot reach outside its tables: every escape of issue 8 and its variants is refused.

The escapes were real: a predicate casting `(SELECT ... FROM read_text('/etc/passwd'))` to an
integer put the file into the rule's error message in every report, and `validate` passed it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from pathlib import Path

import duckdb
import pytest

from healthdq.engine.duckdb import DuckDBEngine
from healthdq.engine.runner import RunOptions, run_contract
from healthdq.errors import ContractError
from healthdq.rules import model as m
from healthdq.rules.loader import load_pack, pack_names, pack_path, parse_contract
from healthdq.rules.sandbox import SandboxError, parse_expression
from healthdq.sources.base import ReadOptions

Cli = Callable[..., tuple[int, str, str]]
Write = Callable[[str, str | bytes], Path]

SECRET = "healthdq-secret-line-7f3a"

# Expressions that reach outside the table; {f} is a file holding SECRET.
ESCAPES = [
    "CAST((SELECT content FROM read_text('{f}')) AS INTEGER) > 0",
    "CAST((select CONTENT from READ_TEXT('{f}')) AS INTEGER) > 0",
    "CAST((SELECT content FROM \"read_text\"('{f}')) AS INTEGER) > 0",
    "length(coalesce((SELECT content FROM read_text('{f}')), '')) > 0",
    "read_text('{f}') IS NULL",
    "Read_Text('{f}') IS NULL",
    "\"READ_TEXT\"('{f}') IS NULL",
    "(SELECT count(*) FROM glob('/root/.*')) = 0",
    "(SELECT count(*) FROM read_csv('http://127.0.0.1:9/x.csv')) = 0",
    "(SELECT count(*) FROM read_parquet('{f}')) = 0",
    "(SELECT count(*) FROM read_json('{f}')) = 0",
    "(SELECT count(*) FROM '{f}') = 0",
    "sex IN (SELECT content FROM read_text('{f}'))",
    "EXISTS (SELECT 1 FROM read_text('{f}'))",
    "sex = ANY (SELECT content FROM read_text('{f}'))",
    "upper(CAST((SELECT content FROM read_text('{f}')) AS VARCHAR)) = 'X'",
    "CASE WHEN sex = '1' THEN (SELECT content FROM read_text('{f}')) END IS NULL",
    "getenv('HOME') IS NULL",
    "current_setting('enable_external_access') = 'true'",
    "(SELECT count(*) FROM duckdb_settings()) > 0",
    "(SELECT count(*) FROM pragma_database_list()) > 0",
    "(SELECT count(*) FROM query('SELECT 1')) > 0",
    "(SELECT count(*) FROM query_table('t')) > 0",
    "other_table.sex = '1'",
    "main.t.sex = '1'",
    "sex = $1",
    "count(*) > 0",
    "sum(age) OVER () > 0",
    "list_transform([1], x -> x + 1) IS NULL",
    "sex = '1'; SELECT * FROM read_text('{f}')",
    "1 = 1) OR (SELECT content FROM read_text('{f}')) IS NULL OR (1 = 1",
    "error('boom') IS NULL",
    "COLUMNS(*) IS NULL",
    "sex LIKE '%' /* hidden */ AND (SELECT 1 FROM read_text('{f}')) = 1",
    "strlen(sex) > 0 AND (SELECT 1 FROM read_blob('{f}')) = 1",
]

# A contract author's ordinary SQL: all of it must stay allowed.
LEGIT = [
    "length(prov) = 3 AND sex <> 'M'",
    "CAST(arrival AS DATE) <= current_date",
    "TRY_CAST(age AS INTEGER) BETWEEN 0 AND 120",
    "coalesce(sex, '9') IN ('1', '2', '9')",
    "CASE WHEN sex = '1' THEN TRY_CAST(age AS INTEGER) > 0 ELSE TRUE END",
    "regexp_matches(prov, '^[A-Z0-9]{3}$')",
    "upper(trim(prov)) LIKE 'R%'",
    "date_diff('day', CAST(arrival AS DATE), current_date) >= 0",
    "extract(year FROM CAST(arrival AS DATE)) > 1900",
    "CAST(arrival AS DATE) + INTERVAL 1 YEAR > DATE '2000-01-01'",
    "nullif(trim(sex), '') IS NOT NULL",
    "abs(round(TRY_CAST(age AS DOUBLE), 1)) < 200",
    "substring(prov, 1, 1) || lower(sex) <> 'x'",
    "\"sex\" = '1'",
    "strptime(CAST(arrival AS VARCHAR), '%Y-%m-%d') IS NOT NULL",
    "age::DECIMAL(5, 1) >= 0",
    "NOT (sex IS DISTINCT FROM '1')",
    "greatest(TRY_CAST(age AS INTEGER), 0) = TRY_CAST(age AS INTEGER)",
]

CSV = "sex,age,prov,arrival\n1,34,RXX,2024-01-02\n2,-5,RAB,2024-02-03\n9,120,R1,2024-03-04\n"


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    path = tmp_path / "secret.txt"
    path.write_text(SECRET + "\n", encoding="utf-8")
    return path


def _contract(field: str, sql: str) -> str:
    """A one-table contract holding `sql` in `field` (when / predicate / denominator / left...)."""
    quoted = json.dumps(sql)
    rules = {
        "predicate": f"      - id: r\n        kind: sql\n        predicate: {quoted}\n",
        "denominator": (
            "      - id: r\n        kind: sql\n        predicate: \"sex = '1'\"\n"
            f"        denominator: {quoted}\n"
        ),
        "when": (
            f"      - id: r\n        kind: not_null\n        column: sex\n        when: {quoted}\n"
        ),
        "left": f"      - id: r\n        kind: compare\n        left: {quoted}\n"
        "        op: '>='\n        right: age\n",
        "right": f"      - id: r\n        kind: compare\n        left: age\n        op: '>='\n"
        f"        right: {quoted}\n",
    }[field]
    return f"name: t\ntables:\n  t:\n    rules:\n{rules}"


FIELDS = ["predicate", "denominator", "when", "left", "right"]


@pytest.mark.parametrize("escape", ESCAPES)
def test_every_escape_is_refused_by_the_sandbox(escape: str, secret: Path) -> None:
    with pytest.raises(SandboxError) as info:
        parse_expression(escape.format(f=secret))
    assert SECRET not in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("field", FIELDS)
@pytest.mark.parametrize("escape", ESCAPES[:6] + ESCAPES[12:15])
def test_escapes_are_refused_through_every_sql_field_with_file_and_line(
    field: str, escape: str, secret: Path
) -> None:
    text = _contract(field, escape.format(f=secret))
    with pytest.raises(ContractError) as info:
        parse_contract(text, "supplier.yaml")
    message = info.value.one_line()
    assert message.startswith("supplier.yaml:")
    line = int(message.split(":")[1])
    assert text.splitlines()[line - 1].strip().startswith(field)
    assert f"rule 'r' {field}:" in message


@pytest.mark.parametrize("sql", LEGIT)
def test_ordinary_contract_sql_is_allowed(sql: str) -> None:
    parse_expression(sql)


def test_ordinary_contract_sql_runs(tmp_path: Path) -> None:
    data = tmp_path / "t.csv"
    data.write_text(CSV, encoding="utf-8")
    rules = "".join(
        f"      - {{id: r{i}, kind: sql, predicate: {json.dumps(sql)}}}\n"
        for i, sql in enumerate(LEGIT)
    )
    contract = parse_contract(f"name: t\ntables:\n  t:\n    rules:\n{rules}", "c.yaml")
    engine = DuckDBEngine()
    try:
        result = run_contract(engine, contract, {"t": str(data)}, options=RunOptions())
    finally:
        engine.close()
    errors = {r.rule_id: r.message for r in result.rules if r.status == "error"}
    assert errors == {}
    assert {r.rule_id: r.violating_rows for r in result.rules}["r2"] == 1  # age -5


@pytest.mark.parametrize("name", pack_names())
def test_every_shipped_pack_still_loads(name: str) -> None:
    assert load_pack(name).tables


def test_an_escape_planted_in_a_pack_is_refused(secret: Path, tmp_path: Path) -> None:
    text = pack_path("nhs-apc").read_text(encoding="utf-8")
    # A pack edited by a supplier: the first rule gains a hostile condition.
    hostile = text.replace(
        "kind: not_null",
        f"kind: not_null, when: \"(SELECT content FROM read_text('{secret}')) IS NULL\"",
        1,
    )
    assert hostile != text
    bad = tmp_path / "nhs-apc.yaml"
    bad.write_text(hostile, encoding="utf-8")
    with pytest.raises(ContractError, match=r"nhs-apc\.yaml:\d+: rule '.*' when: a subquery"):
        parse_contract(hostile, str(bad))


def test_the_compiler_refuses_escapes_even_when_the_loader_is_bypassed(
    secret: Path, tmp_path: Path
) -> None:
    """A Contract built in Python (no YAML) still gets the sandbox, rule by rule, on any engine."""
    data = tmp_path / "t.csv"
    data.write_text(CSV, encoding="utf-8")
    contract = m.Contract.model_validate(
        {
            "name": "t",
            "tables": {
                "t": {
                    "rules": [
                        {
                            "id": "leak",
                            "kind": "sql",
                            "predicate": f"CAST((SELECT content FROM read_text('{secret}')) "
                            "AS INTEGER) > 0",
                        },
                        {"id": "ok", "kind": "not_null", "column": "sex"},
                    ]
                }
            },
        }
    )
    engine = DuckDBEngine()
    try:
        result = run_contract(engine, contract, {"t": str(data)})
    finally:
        engine.close()
    got = {r.rule_id: r for r in result.rules}
    assert got["leak"].status == "error"
    assert "subquery is not allowed" in (got["leak"].message or "")
    assert SECRET not in result.model_dump_json()
    assert got["ok"].status == "passed"


def test_validate_and_check_refuse_with_one_line_and_exit_2(
    cli: Cli, write: Write, secret: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    data = write("t.csv", CSV)
    contract = write(
        "c.yaml", _contract("predicate", f"CAST(read_text('{secret}') AS INTEGER) > 0")
    )
    code, out, err = cli("validate", contract)
    assert code == 2
    assert err.strip().count("\n") == 0
    assert f"{contract}:7: rule 'r' predicate: function 'read_text' is not allowed" in err
    out_dir = tmp_path / "out"
    code, out, err = cli(
        "check", data, "-c", contract, "--json", out_dir / "r.json", "--html", out_dir / "r.html"
    )
    assert code == 2 and SECRET not in out + err
    assert not (out_dir / "r.json").exists()
    # No extension download was even attempted (issue 8: read_csv('http://...') made one).
    net = write("n.yaml", _contract("when", "(SELECT 1 FROM read_csv('http://127.0.0.1:9/x')) = 1"))
    assert cli("check", data, "-c", net)[0] == 2
    assert not (tmp_path / "home" / ".duckdb").exists()


# -- the seal: defence in depth on the engine ---------------------------------------------------
def test_a_sealed_duckdb_reads_its_sources_and_nothing_else(secret: Path, tmp_path: Path) -> None:
    csv = tmp_path / "t.csv"
    csv.write_text(CSV, encoding="utf-8")
    parquet = tmp_path / "p.parquet"
    duckdb.sql(f"COPY (SELECT 1 AS a UNION ALL SELECT 2) TO '{parquet}' (FORMAT parquet)")
    engine = DuckDBEngine()
    try:
        engine.register("t", str(csv), ReadOptions())
        engine.register("p", str(parquet), ReadOptions())
        engine.seal([str(csv), str(parquet)])
        # The views over the registered files still read (Parquet is read at query time).
        assert engine.fetch('SELECT count(*) FROM "p"') == [(2,)]
        assert engine.fetch('SELECT count(*) FROM "t"') == [(3,)]
        for sql in (
            f"SELECT * FROM read_text('{secret}')",
            "SELECT * FROM glob('/etc/*')",
            f"SELECT * FROM read_csv('{secret}')",
            "SELECT * FROM read_csv('http://127.0.0.1:9/x.csv')",
            "SET enable_external_access = true",
            "SET lock_configuration = false",
            "SET autoinstall_known_extensions = true",
            "INSTALL httpfs",
            f"ATTACH '{tmp_path / 'x.duckdb'}' AS x",
            f"COPY (SELECT 1) TO '{tmp_path / 'out.csv'}'",
        ):
            with pytest.raises(duckdb.Error):
                engine.fetch(sql)
        assert not (tmp_path / "out.csv").exists()
        with pytest.raises(Exception, match="sealed"):
            engine.register("again", str(csv), ReadOptions())
    finally:
        engine.close()


def test_run_contract_seals_the_engine_before_rules_run(tmp_path: Path) -> None:
    data = tmp_path / "t.csv"
    data.write_text(CSV, encoding="utf-8")
    contract = parse_contract(
        "name: t\ntables:\n  t:\n    rules:\n      - {id: r, kind: not_null, column: sex}\n",
        "c.yaml",
    )
    engine = DuckDBEngine()
    try:
        run_contract(engine, contract, {"t": str(data)}, options=RunOptions(run_date=date.today()))
        setting = engine.fetch("SELECT current_setting('enable_external_access')")
        assert setting == [(False,)]
        assert engine.fetch("SELECT current_setting('lock_configuration')") == [(True,)]
    finally:
        engine.close()
