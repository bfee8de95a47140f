"""Each rule kind against a small table whose violations are counted by hand."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from healthdq.engine.duckdb import DuckDBEngine
from healthdq.engine.runner import RunOptions, decide, run_contract
from healthdq.governance.suppression import suppress_small_numbers
from healthdq.results import RunResult
from healthdq.rules.loader import parse_contract

CSV = """id,nhs,sex,adm,dis,prov,age,note
1,9434765919,1,2024-01-01,2024-01-03,RR8,40,a
2,,2,2024-01-05,2024-01-02,RR8,200,
3,123,9,2024-02-01,2024-02-02,RTH,x,b
3,9434765870,M,2024-02-01,,RTH,50,c
"""


def run(
    tmp_path: Path,
    rules: str,
    csv: str = CSV,
    engine_class: type[DuckDBEngine] = DuckDBEngine,
    **opts: object,
) -> RunResult:
    data = tmp_path / "t.csv"
    data.write_text(csv, encoding="utf-8")
    contract = parse_contract(f"name: t\ntables:\n  t:\n    rules:\n{rules}", "c.yaml")
    engine = engine_class()
    try:
        options = RunOptions(run_date=date(2024, 3, 1), **opts)  # type: ignore[arg-type]
        return run_contract(engine, contract, {"t": str(data)}, options=options)
    finally:
        engine.close()


def by_id(result: RunResult) -> dict[str, tuple[str, int | None, int | None]]:
    return {r.rule_id: (r.status, r.violating_rows, r.denominator) for r in result.rules}


def test_every_row_rule_kind_counts_exactly(tmp_path: Path) -> None:
    rules = """
      - {id: nn, kind: not_null, column: nhs}
      - {id: blank, kind: not_null, column: note}
      - {id: len, kind: length, column: nhs, min: 10, max: 10}
      - {id: vals, kind: allowed_values, column: sex, values: ['1', '2', '9', 'X']}
      - {id: rx, kind: regex, column: prov, pattern: 'R[A-Z0-9]{2}'}
      - {id: cmp, kind: compare, left: dis, op: '>=', right: adm}
      - {id: rng, kind: range, column: age, min: 0, max: 120}
      - {id: drng, kind: date_range, column: adm, min: '2024-01-02', max: today}
      - {id: typ, kind: type, column: age, type: integer}
      - {id: dflt, kind: default_value, column: prov, values: [RTH]}
      - {id: sql, kind: sql, predicate: "length(prov) = 3 AND sex <> 'M'"}
      - {id: cond, kind: not_null, column: dis, when: "sex = 'M'"}
    """
    got = by_id(run(tmp_path, rules))
    assert got == {
        "nn": ("failed", 1, 4),
        "blank": ("failed", 1, 4),
        "len": ("failed", 1, 3),
        "vals": ("failed", 1, 4),
        "rx": ("passed", 0, 4),
        "cmp": ("failed", 1, 3),
        "rng": ("failed", 2, 4),
        "drng": ("failed", 1, 4),
        "typ": ("failed", 1, 4),
        "dflt": ("failed", 2, 4),
        "sql": ("failed", 1, 4),
        "cond": ("failed", 1, 1),
    }


def test_row_rules_and_table_rules_share_one_scan(tmp_path: Path) -> None:
    rules = """
      - {id: nn, kind: not_null, column: nhs}
      - {id: vals, kind: allowed_values, column: sex, values: ['1', '2']}
      - {id: cmp, kind: compare, left: dis, op: '>=', right: adm}
      - {id: rows, kind: row_count, min: 1}
      - {id: fresh, kind: freshness, column: adm, max_age_days: 60}
"""
    result = run(tmp_path, rules, group_by=["prov"])
    assert result.tables[0].scans == 1
    assert by_id(result)["vals"] == ("failed", 2, 4)
    # Uniqueness is a whole-column aggregate of its own: one more query, on its key only.
    with_key = run(tmp_path, rules + "      - {id: uniq, kind: unique, columns: [prov, sex]}\n")
    assert with_key.tables[0].scans == 2
    assert by_id(with_key)["uniq"] == ("passed", 0, 4)


def test_group_breakdown_counts_per_group(tmp_path: Path) -> None:
    rules = "      - {id: vals, kind: allowed_values, column: sex, values: ['1', '2']}\n"
    result = run(tmp_path, rules, group_by=["prov"])
    got = {(g.group, g.violating_rows, g.denominator) for g in result.groups[0].rows}
    assert got == {("RR8", 0, 2), ("RTH", 2, 2)}


def test_table_level_rules(tmp_path: Path) -> None:
    rules = """
      - {id: uniq, kind: unique, columns: [id]}
      - {id: rows, kind: row_count, min: 10}
      - {id: fresh, kind: freshness, column: adm, max_age_days: 20}
    """
    result = run(tmp_path, rules)
    got = {r.rule_id: r for r in result.rules}
    assert (got["uniq"].status, got["uniq"].violating_rows) == ("failed", 1)
    assert got["uniq"].samples[0].values == {"copies": 2, "id": "3"}
    assert got["uniq"].samples[0].row == 3
    assert (got["rows"].status, got["rows"].observed) == ("failed", 4)
    assert got["fresh"].status == "failed"
    assert got["fresh"].observed == {"latest": "2024-02-01", "age_days": 29}


def test_samples_carry_row_numbers_and_values(tmp_path: Path) -> None:
    result = run(tmp_path, "      - {id: vals, kind: allowed_values, column: sex, values: ['1']}")
    samples = result.rules[0].samples
    assert [(s.row, s.values["sex"]) for s in samples] == [(2, "2"), (3, "9"), (4, "M")]
    capped = run(
        tmp_path,
        "      - {id: vals, kind: allowed_values, column: sex, values: ['1']}",
        sample_size=2,
    )
    assert len(capped.rules[0].samples) == 2


def test_broken_rules_are_errors_and_the_rest_still_run(tmp_path: Path) -> None:
    rules = """
      - {id: ok, kind: not_null, column: nhs}
      - {id: missing_col, kind: not_null, column: nhs_no}
      - {id: runtime, kind: sql, predicate: "CAST(age AS INTEGER) > 0"}
      - {id: bad_regex, kind: regex, column: prov, pattern: "(["}
      - {id: ok2, kind: allowed_values, column: sex, values: ['1', '2', '9']}
    """
    result = run(tmp_path, rules)
    got = {r.rule_id: r for r in result.rules}
    assert got["ok"].status == "failed" and got["ok"].violating_rows == 1
    assert got["ok2"].violating_rows == 1
    # SQL that does not parse or calls an unknown function is refused when the contract loads
    # (tests/security/test_sandbox.py).
    for rid in ("missing_col", "runtime", "bad_regex"):
        assert got[rid].status == "error", rid
        assert got[rid].message and "\n" not in got[rid].message
    assert "did you mean 'nhs'" in (got["missing_col"].message or "")
    assert (got["missing_col"].message or "").startswith("c.yaml:")


def test_not_applicable_on_empty_table_and_empty_column(tmp_path: Path) -> None:
    rules = """
      - {id: vals, kind: allowed_values, column: sex, values: ['1']}
      - {id: nn, kind: not_null, column: sex}
    """
    empty = run(tmp_path, rules, csv="id,sex,note\n")
    assert {r.status for r in empty.rules} == {"not_applicable"}
    assert empty.rules[0].message == "table has no rows"
    all_null = run(tmp_path, rules, csv="id,sex\n1,\n2,\n")
    assert by_id(all_null) == {"vals": ("not_applicable", 0, 0), "nn": ("failed", 2, 2)}


@pytest.mark.parametrize(
    ("violations", "denominator", "threshold", "status"),
    [
        (0, 10, 0, "passed"),
        (1, 10, 0, "failed"),
        (1, 10, 10, "passed"),  # exactly at the threshold passes (DQD: fails only above)
        (2, 10, 10, "failed"),
        (0, 0, 0, "not_applicable"),
    ],
)
def test_threshold_semantics(
    violations: int, denominator: int, threshold: float, status: str
) -> None:
    assert decide(violations, denominator, threshold)[0] == status


def test_group_breakdown_suppresses_small_numbers(tmp_path: Path) -> None:
    rows = ["id,prov,sex"] + [f"{i},RR8,{'M' if i < 3 else '1'}" for i in range(20)]
    rows += [f"{i},RTH,M" for i in range(20, 40)]
    csv = "\n".join(rows) + "\n"
    rules = "      - {id: vals, kind: allowed_values, column: sex, values: ['1', '2']}"
    result = suppress_small_numbers(run(tmp_path, rules, csv=csv, group_by=["prov"]), 7)
    groups = {g.group: g for g in result.groups[0].rows}
    assert groups["RR8"].suppressed and groups["RR8"].violating_rows is None
    assert not groups["RTH"].suppressed and groups["RTH"].violating_rows == 20
    assert result.rules[0].violating_rows == 23
    raw = run(tmp_path, rules, csv=csv, group_by=["prov"])
    assert {g.group: g.violating_rows for g in raw.groups[0].rows} == {"RR8": 3, "RTH": 20}


def test_foreign_key_between_tables(tmp_path: Path) -> None:
    (tmp_path / "child.csv").write_text("id,prov\n1,RR8\n2,XXX\n3,\n4,RTH\n", encoding="utf-8")
    (tmp_path / "orgs.csv").write_text("code,name\nRR8,Leeds\nRTH,Oxford\n", encoding="utf-8")
    contract = parse_contract(
        """
name: fk
tables:
  child:
    rules:
      - {id: fk, kind: foreign_key, column: prov, ref_table: orgs, ref_column: code}
      - {id: fk_bad, kind: foreign_key, column: prov, ref_table: nowhere, ref_column: code}
  orgs:
    rules: []
""",
        "fk.yaml",
    )
    engine = DuckDBEngine()
    try:
        result = run_contract(
            engine,
            contract,
            {"child": str(tmp_path / "child.csv"), "orgs": str(tmp_path / "orgs.csv")},
        )
    finally:
        engine.close()
    got = {r.rule_id: r for r in result.rules}
    assert (got["fk"].status, got["fk"].violating_rows, got["fk"].denominator) == ("failed", 1, 3)
    assert got["fk"].samples[0].values == {"prov": "XXX"}
    assert got["fk_bad"].status == "error"


def test_regex_matches_the_whole_value_even_before_a_trailing_newline(tmp_path: Path) -> None:
    data = tmp_path / "t.ndjson"
    data.write_text('{"prov": "RR8"}\n{"prov": "RR8\\n"}\n{"prov": "xRR8"}\n', encoding="utf-8")
    contract = parse_contract(
        "name: t\ntables:\n  t:\n    rules:\n"
        "      - {id: rx, kind: regex, column: prov, pattern: 'R[A-Z0-9]{2}'}\n",
        "c.yaml",
    )
    engine = DuckDBEngine()
    try:
        result = run_contract(engine, contract, {"t": str(data)})
    finally:
        engine.close()
    assert [s.row for s in result.rules[0].samples] == [2, 3]


def test_per_distinct_skips_high_cardinality_columns_cheaply(tmp_path: Path) -> None:
    rows = ["id,code"] + [f"ID{i:06d},{'A' if i % 2 else 'B'}" for i in range(6000)]
    rules = """
      - {id: idfmt, kind: regex, column: id, pattern: 'ID[0-9]{6}'}
      - {id: code, kind: allowed_values, column: code, values: ['A']}
"""
    fast = run(tmp_path, rules, csv="\n".join(rows) + "\n", per_distinct_min_rows=0)
    slow = run(tmp_path, rules, csv="\n".join(rows) + "\n", per_distinct_min_rows=10**9)
    assert (
        by_id(fast) == by_id(slow) == {"idfmt": ("passed", 0, 6000), "code": ("failed", 3000, 6000)}
    )
    # One probe for both columns (id: 6000 distinct > limit, skipped); code's distinct pass;
    # the fused scan.
    assert fast.tables[0].scans == 3


class SlicedEngine(DuckDBEngine):
    """DuckDB with the hash pass of uniqueness split three ways, as on a large table."""

    def hash_partitions(self, rows: int) -> int:
        return 3


@pytest.mark.parametrize("engine_class", [DuckDBEngine, SlicedEngine])
def test_uniqueness_counts_exactly_with_nulls_and_composite_keys(
    tmp_path: Path, engine_class: type[DuckDBEngine]
) -> None:
    # Keys drawn with repeats (some three or four times) and NULLs on either side, checked
    # against a count done here in Python: the hashed first pass must not change the answer.
    import random

    rng = random.Random(7)
    rows = []
    for _ in range(3000):
        a = "" if rng.random() < 0.05 else f"K{rng.randrange(2000):04d}"
        b = "" if rng.random() < 0.05 else rng.choice(["x", "y"])
        rows.append((a, b))
    csv = "a,b\n" + "\n".join(f"{a},{b}" for a, b in rows) + "\n"
    rules = """
      - {id: one, kind: unique, columns: [a]}
      - {id: two, kind: unique, columns: [a, b]}
    """
    got = {r.rule_id: r for r in run(tmp_path, rules, csv=csv, engine_class=engine_class).rules}

    def expected(keys: list[tuple[str, ...]]) -> tuple[int, int, list[tuple[int, tuple[str, ...]]]]:
        first: dict[tuple[str, ...], int] = {}
        copies: dict[tuple[str, ...], int] = {}
        for row, key in enumerate(keys, start=1):
            if any(k == "" for k in key):
                continue
            first.setdefault(key, row)
            copies[key] = copies.get(key, 0) + 1
        surplus = sum(c - 1 for c in copies.values())
        dups = sorted((first[k], k) for k, c in copies.items() if c > 1)[:5]
        return sum(copies.values()), surplus, dups

    for rule_id, keys in (("one", [(a,) for a, _ in rows]), ("two", rows)):
        n, surplus, dups = expected(keys)
        result = got[rule_id]
        assert (result.denominator, result.violating_rows) == (n, surplus)
        assert [
            (s.row, tuple(s.values[c] for c in ("a", "b")[: len(dups[0][1])]))
            for s in result.samples
        ] == dups


def test_samples_are_the_first_failing_rows_across_groups(tmp_path: Path) -> None:
    # Failing rows spread over several violation-mask and provider groups: each rule's samples
    # are its own first N failing rows in file order, with their values.
    lines = ["id,prov,sex,code"]
    for i in range(1, 301):
        sex = "Q" if i % 7 == 0 else "1"
        code = "bad" if i % 11 == 0 else "A1"
        lines.append(f"{i},{['RR8', 'RTH', 'RX1'][i % 3]},{sex},{code}")
    rules = """
      - {id: sex, kind: allowed_values, column: sex, values: ['1', '2']}
      - {id: code, kind: regex, column: code, pattern: '[A-Z][0-9]'}
    """
    result = run(tmp_path, rules, csv="\n".join(lines) + "\n", group_by=["prov"], sample_size=3)
    got = {r.rule_id: [(s.row, s.values) for s in r.samples] for r in result.rules}
    assert got == {
        "sex": [(7, {"sex": "Q"}), (14, {"sex": "Q"}), (21, {"sex": "Q"})],
        "code": [(11, {"code": "bad"}), (22, {"code": "bad"}), (33, {"code": "bad"})],
    }
    assert result.tables[0].scans == 1
