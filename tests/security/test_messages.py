"""No identifier in any message: engine errors quoting data are rewritten in every output.

Issue 8: `CAST(dob AS DATE)` failed with an engine message quoting "12/03/1950", written unmasked
into HTML, JSON and JUnit although the run said `masked: true`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from healthdq.governance.messages import engine_message

Cli = Callable[..., tuple[int, str, str]]
Write = Callable[[str, str | bytes], Path]

# Planted identifiers, and the forms they could leak in.
NHS, DOB, POSTCODE = "943 476 5919", "12/03/1950", "LS1 4AP"
PLANTED = [NHS, NHS.replace(" ", ""), DOB, POSTCODE, "4AP", "1950"]

CSV = (
    "nhs_number,date_of_birth,postcode,sex\n"
    f"{NHS},{DOB},{POSTCODE},1\n"
    "485 777 3456,1950/03/13,SW1A 1AA,2\n"
    f"{NHS},{DOB},{POSTCODE},\n"
)

CONTRACT = """\
name: leaks
tables:
  t:
    columns:
      nhs_number: {identifier: nhs_number}
      date_of_birth: {identifier: date_of_birth}
      postcode: {identifier: postcode}
    rules:
      - {id: nhs_cast, kind: sql, predicate: "CAST(nhs_number AS BIGINT) > 0"}
      - {id: dob_cast, kind: sql, predicate: "CAST(date_of_birth AS DATE) < current_date"}
      - {id: dob_ts, kind: sql, predicate: "CAST(date_of_birth AS TIMESTAMP) IS NOT NULL"}
      - {id: dob_fmt, kind: sql, predicate: "strptime(date_of_birth, '%Y-%m-%d') IS NOT NULL"}
      - {id: pc_cast, kind: sql, predicate: "CAST(postcode AS INTEGER) > 0"}
      - {id: pc_when, kind: not_null, column: sex, when: "CAST(postcode AS DOUBLE) > 0"}
      - id: dob_cmp
        kind: compare
        left: CAST(date_of_birth AS DATE)
        op: '<='
        right: current_date
      - {id: sex, kind: not_null, column: sex}
"""


def test_failing_casts_leak_no_identifier_into_any_output(
    cli: Cli, write: Write, tmp_path: Path
) -> None:
    data = write("t.csv", CSV)
    contract = write("c.yaml", CONTRACT)
    out = tmp_path / "out"
    code, stdout, stderr = cli(
        "check",
        data,
        "-c",
        contract,
        "--json",
        out / "r.json",
        "--html",
        out / "r.html",
        "--junit",
        out / "r.xml",
        "--audit-log",
        tmp_path / "audit.jsonl",
    )
    assert code == 1
    results = json.loads((out / "r.json").read_text(encoding="utf-8"))
    errors = {r["rule_id"]: r["message"] for r in results["rules"] if r["status"] == "error"}
    assert set(errors) == {
        "nhs_cast",
        "dob_cast",
        "dob_ts",
        "dob_fmt",
        "pc_cast",
        "pc_when",
        "dob_cmp",
    }
    # Each message names the problem, the column, and the contract line.
    assert "value does not convert to BIGINT (column nhs_number)" in errors["nhs_cast"]
    assert "value does not convert to DATE" in errors["dob_cast"]
    assert "value does not convert to INTEGER" in errors["pc_cast"]
    assert errors["nhs_cast"].startswith(f"{contract}:9: ")
    outputs = {
        "terminal": stdout + stderr,
        "json": (out / "r.json").read_text(encoding="utf-8"),
        "html": (out / "r.html").read_text(encoding="utf-8"),
        "junit": (out / "r.xml").read_text(encoding="utf-8"),
        "audit": (tmp_path / "audit.jsonl").read_text(encoding="utf-8"),
    }
    for name, text in outputs.items():
        for value in PLANTED:
            assert value not in text, f"{value!r} leaked into {name}"


def test_reader_errors_leak_no_identifier(cli: Cli, write: Write) -> None:
    data = write("t.csv", CSV)
    contract = write("c.yaml", CONTRACT)
    for fmt in ("json", "parquet"):
        code, stdout, stderr = cli("check", data, "-c", contract, "--format", fmt)
        assert code == 2
        assert stderr.strip().count("\n") == 0
        for value in PLANTED:
            assert value not in stdout + stderr


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        (f"SELECT CAST('{NHS}' AS BIGINT)", "value does not convert to BIGINT"),
        (f"SELECT CAST('{DOB}' AS DATE)", "value does not convert to DATE"),
        (f"SELECT CAST('{DOB}' AS TIMESTAMP)", "value does not convert to TIMESTAMP"),
        (f"SELECT CAST('{POSTCODE}' AS INTEGER)", "value does not convert to INTEGER"),
        (f"SELECT CAST('{POSTCODE}' AS DECIMAL(10, 2))", "value does not convert to DECIMAL"),
        ("SELECT CAST(9434765919 AS INTEGER)", "value of type BIGINT is out of range for INTEGER"),
        (f"SELECT strptime('{DOB}', '%Y-%m-%d')", "value does not match the format"),
        ("SELECT CAST('1950-13-45' AS DATE)", "value does not convert to DATE (out of range)"),
        (
            f"SELECT v > DATE '2020-01-01' FROM (SELECT '{POSTCODE}' AS v)",
            "values of type VARCHAR and DATE cannot be compared",
        ),
        (f"SELECT error('{POSTCODE} {NHS} {DOB}')", ""),
    ],
)
def test_engine_messages_name_the_problem_without_the_value(sql: str, expected: str) -> None:
    with pytest.raises(duckdb.Error) as info:
        duckdb.sql(sql).fetchall()
    message = engine_message(info.value)
    assert expected in message
    assert "\n" not in message
    for value in PLANTED:
        assert value not in message


def test_spark_style_cast_errors_are_rewritten() -> None:
    spark = (
        f"[CAST_INVALID_INPUT] The value '{NHS}' of the type \"STRING\" cannot be cast to "
        '"BIGINT" because it is malformed. Correct the value as per the syntax'
    )
    assert engine_message(spark) == "value of type VARCHAR does not convert to BIGINT"
