"""The anonymisation search with a t-closeness target (`--target-t`).

t is the figure `healthdq risk` reports on the data written (the kept records' own sensitive
distribution), so it is not monotone once records are suppressed; the search must not prune on
it. Worked examples computed by hand, a counterexample to pruning, and a property test against
an exhaustive walk of the lattice.
"""

from __future__ import annotations

import itertools
import json
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.cli.test_cli_errors import Cli, Write, one_line_error

from healthdq.engine.duckdb import DuckDBEngine
from healthdq.errors import HealthdqError
from healthdq.governance.anonymise import SearchResult, search
from healthdq.governance.hierarchy import load_hierarchies
from healthdq.governance.risk import measure

AGE = 'age:\n  - interval: 10\n  - "*"\n'

# Eight records; by hand (P = A 1/2, B 1/2 over the whole table, no suppression):
#   level 0 (age as is): classes 21 {A,A}, 22 {A,B}, 31 {B,B}, 32 {B,A}: k = 2, t = 0.5
#     (class 21: 1/2 (|1 - 1/2| + |0 - 1/2|) = 1/2);
#   level 1 (20-29, 30-39): {A,A,A,B} and {B,B,B,A}: k = 4, t = 1/2 (1/4 + 1/4) = 0.25;
#   level 2 (*): one class, t = 0.
# Discernibility: 4 * 2^2 = 16, 2 * 4^2 = 32, 8^2 = 64. Non-uniform entropy: 0; each record
# P(age | decade) = 2/4 -> 1 bit, 8 bits; P(age | *) = 2/8 -> 2 bits, 16 bits.
EIGHT = [
    (21, "A"),
    (21, "A"),
    (22, "A"),
    (22, "B"),
    (31, "B"),
    (31, "B"),
    (32, "B"),
    (32, "A"),
]


def _engine(rows: list[dict[str, Any]]) -> DuckDBEngine:
    import pandas as pd

    engine = DuckDBEngine()
    engine.con.register("f", pd.DataFrame(rows))
    engine.con.execute("CREATE TABLE data AS SELECT * FROM f")
    engine.con.unregister("f")
    return engine


def _search(
    engine: DuckDBEngine, write: Write, hierarchy: str, qi: list[str], **kw: Any
) -> SearchResult:
    return search(
        engine,
        "data",
        engine.describe("data"),
        qi,
        load_hierarchies(write("h.yaml", hierarchy)),
        **kw,
    )


@pytest.mark.parametrize(
    ("target_t", "level", "t", "discernibility", "entropy"),
    [(0.6, 0, 0.5, 16, 0.0), (0.3, 1, 0.25, 32, 8.0), (0.2, 2, 0.0, 64, 16.0)],
)
def test_worked_example_without_suppression(
    write: Write, target_t: float, level: int, t: float, discernibility: int, entropy: float
) -> None:
    engine = _engine([{"age": a, "dx": d} for a, d in EIGHT])
    try:
        result = _search(engine, write, AGE, ["age"], target_k=2, target_t=target_t, sensitive="dx")
    finally:
        engine.close()
    assert result.transformation == {"age": level}
    assert result.records_suppressed == 0
    assert result.t == t and result.target_t == target_t
    assert result.discernibility == discernibility
    assert result.non_uniform_entropy == pytest.approx(entropy)
    assert [n.levels["age"] for n in result.minimal_nodes] == [level]


# Twenty-one records, QI ward, one record may be suppressed (max_suppression 0.05), k = 2:
#   level 0: W1 {x * 10}, W2 {y * 10}, W3 {z} -> W3 (1 record) suppressed; kept P = x 1/2,
#     y 1/2; t = 1/2 (W1 and W2 alike);
#   level 1: W1 + W3 -> A {x * 10, z}, W2 -> B {y * 10}; nothing suppressed; P = x 10/21,
#     y 10/21, z 1/21; t(B) = 1/2 (10/21 + 11/21 + 1/21) = 11/21 = 0.5238...,
#     t(A) = 1/2 (100/231 + 110/231 + 10/231) = 110/231; t = 11/21;
#   level 2: one class, t = 0.
# With target t = 0.51, level 0 satisfies and level 1 - its successor - does not: t is not
# monotone. A search that tagged level 0 as failing from level 1 (as Flash tags the predecessors
# of a failing node) would answer level 2.
WARDS = [("W1", "x")] * 10 + [("W2", "y")] * 10 + [("W3", "z")]
WARD = 'ward:\n  - {"W1": "A", "W3": "A", "W2": "B"}\n  - "*"\n'


def test_t_is_not_monotone_with_suppression(write: Write) -> None:
    engine = _engine([{"ward": w, "dx": d} for w, d in WARDS])
    try:
        result = _search(
            engine,
            write,
            WARD,
            ["ward"],
            target_k=2,
            target_t=0.51,
            sensitive="dx",
            max_suppression=0.05,
        )
        assert result.transformation == {"ward": 0}
        assert result.records_suppressed == 1 and result.t == 0.5
        # The successor's t, by the search's own query: 11/21 > 0.51.
        level1 = _search(
            engine,
            write,
            WARD,
            ["ward"],
            target_k=2,
            target_t=0.6,
            sensitive="dx",
            max_suppression=0.0,
        )
        assert level1.transformation == {"ward": 1}
        assert level1.t == pytest.approx(11 / 21, abs=1e-15)
    finally:
        engine.close()


def test_t_of_output_is_what_risk_reports(write: Write, tmp_path: Path) -> None:
    """The chosen node's t is `healthdq risk`'s t on the data written (suppressed removed)."""
    engine = _engine([{"ward": w, "dx": d} for w, d in WARDS])
    out = tmp_path / "anon.parquet"
    try:
        result = _search(
            engine,
            write,
            WARD,
            ["ward"],
            target_k=2,
            target_t=0.51,
            sensitive="dx",
            max_suppression=0.05,
            out=str(out),
        )
    finally:
        engine.close()
    check = DuckDBEngine()
    try:
        check.con.execute(f"CREATE TABLE data AS SELECT * FROM '{out}'")
        report = measure(check, "data", check.describe("data"), ["ward"], ["dx"])
    finally:
        check.close()
    assert report.rows == 20 and report.t_closeness == result.t == 0.5
    assert report.l_distinct == result.l_distinct


# -- the search against an exhaustive walk of the lattice ---------------------------------------
HIERARCHIES = """\
age:
  - interval: 10
  - interval: 40
  - "*"
district:
  - prefix: 2
  - "*"
"""


def _gen(row: dict[str, Any], node: tuple[int, int]) -> tuple[str, str]:
    age, district = row["age"], row["district"]
    ages = [
        str(age),
        f"{age // 10 * 10}-{age // 10 * 10 + 9}",
        f"{age // 40 * 40}-{age // 40 * 40 + 39}",
        "*",
    ]
    return ages[node[0]], [district, district[:2], "*"][node[1]]


def _t(classes: list[list[Any]], numeric: bool) -> Fraction:
    """t of the kept classes against their own pooled distribution, in exact fractions."""
    pooled = sorted({v for c in classes for v in c})
    n = sum(len(c) for c in classes)
    p = {v: Fraction(sum(c.count(v) for c in classes), n) for v in pooled}
    worst = Fraction(0)
    for c in classes:
        q = {v: Fraction(c.count(v), len(c)) for v in pooled}
        if numeric:
            if len(pooled) < 2:
                continue
            run, acc = Fraction(0), Fraction(0)
            for v in pooled:
                run += q[v] - p[v]
                acc += abs(run)
            d = acc / (len(pooled) - 1)
        else:
            d = sum((abs(q[v] - p[v]) for v in pooled), Fraction(0)) / 2
        worst = max(worst, d)
    return worst


def exhaustive(
    data: list[dict[str, Any]], k: int, budget: int, column: str
) -> dict[tuple[int, int], tuple[int, Fraction]]:
    """Every node evaluated: records suppressed (classes smaller than k) and t of the rest."""
    out = {}
    for node in itertools.product(range(4), range(3)):
        classes: dict[tuple[str, str], list[Any]] = {}
        for row in data:
            classes.setdefault(_gen(row, node), []).append(row[column])
        kept = [c for c in classes.values() if len(c) >= k]
        out[node] = (len(data) - sum(len(c) for c in kept), _t(kept, numeric=column == "los"))
    return out


def minimal(ok: dict[tuple[int, int], bool]) -> set[tuple[int, int]]:
    """Satisfying nodes with no satisfying node anywhere below them."""
    return {
        n
        for n, good in ok.items()
        if good and not any(ok[m] for m in ok if m != n and m[0] <= n[0] and m[1] <= n[1])
    }


rows_strategy = st.lists(
    st.fixed_dictionaries(
        {
            "age": st.integers(0, 99),
            "district": st.sampled_from(["LS1", "LS2", "LS6", "M1", "M20", "BD3"]),
            "dx": st.sampled_from(["I21", "J18", "E11", "C34"]),
            "los": st.integers(0, 5),
        }
    ),
    min_size=4,
    max_size=60,
)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    data=rows_strategy,
    k=st.integers(1, 5),
    share=st.sampled_from([0.0, 0.1, 0.3]),
    pick=st.integers(0, 1000),
    column=st.sampled_from(["dx", "los"]),
)
def test_search_matches_exhaustive_walk(
    write: Write, data: list[dict[str, Any]], k: int, share: float, pick: int, column: str
) -> None:
    budget = int(share * len(data) + 1e-9)
    nodes = exhaustive(data, k, budget, column)
    # The target falls between two nodes' t (never on one): where it decides something.
    ts = sorted({float(t) for _, t in nodes.values()})
    i = pick % len(ts)
    t = (ts[i] + ts[i + 1]) / 2 if i + 1 < len(ts) else (ts[i] + 1.0) / 2 if ts[i] < 1 else 1.0
    expected = minimal({n: s <= budget and v <= Fraction(t) for n, (s, v) in nodes.items()})
    engine = _engine(data)
    try:
        hierarchies = load_hierarchies(write("h.yaml", HIERARCHIES))
        try:
            result = search(
                engine,
                "data",
                engine.describe("data"),
                ["age", "district"],
                hierarchies,
                target_k=k,
                target_t=t,
                sensitive=column,
                max_suppression=share,
            )
        except HealthdqError as exc:  # unreachable: the exhaustive walk found nothing either
            assert not expected, exc
            assert "not reachable" in str(exc)
            return
    finally:
        engine.close()
    found = {tuple(n.levels.values()) for n in result.minimal_nodes}
    assert found == expected
    best = tuple(result.transformation.values())
    assert best in expected
    assert result.t == pytest.approx(float(nodes[best][1]), abs=1e-12) and result.t <= t
    # Every node evaluated for t, by the search's own query, has the exhaustive walk's t.
    for node in result.minimal_nodes:
        assert node.t == pytest.approx(float(nodes[tuple(node.levels.values())][1]), abs=1e-12)


# -- the command line ---------------------------------------------------------------------------
def _csv(write: Write) -> Path:
    return write("d.csv", "age,dx\n" + "".join(f"{a},{d}\n" for a, d in EIGHT))


def test_cli_target_t(cli: Cli, write: Write, tmp_path: Path) -> None:
    out = tmp_path / "anon.parquet"
    js = tmp_path / "s.json"
    code, stdout, err = cli(
        "risk",
        _csv(write),
        "--qi",
        "age",
        "--sensitive",
        "dx",
        "--hierarchies",
        write("h.yaml", AGE),
        "--target-k",
        "2",
        "--target-t",
        "0.3",
        "--out",
        out,
        "--json",
        js,
    )
    assert code == 0, err
    assert "target k = 2, t = 0.3 on dx" in stdout
    assert "t = 0.250000" in stdout
    result = json.loads(js.read_text())
    assert result["transformation"] == {"age": 1} and result["t"] == 0.25
    assert result["target_t"] == 0.3 and result["records_suppressed"] == 0


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--target-t", "0.3"], "--target-t needs one --sensitive column"),
        (["--sensitive", "dx", "--target-t", "0"], "--target-t must be in (0, 1], got 0"),
        (["--sensitive", "dx", "--target-t", "1.5"], "--target-t must be in (0, 1], got 1.5"),
    ],
)
def test_cli_bad_target_t(
    cli: Cli, write: Write, tmp_path: Path, extra: list[str], message: str
) -> None:
    out = tmp_path / "anon.parquet"
    args = ["--qi", "age", "--hierarchies", write("h.yaml", AGE), "--target-k", "2"]
    code, _, err = cli("risk", _csv(write), *args, *extra, "--out", out)
    assert code == 2
    assert message in one_line_error(err)
    assert not out.exists()


def test_cli_target_t_needs_hierarchies(cli: Cli, write: Write) -> None:
    code, _, err = cli("risk", _csv(write), "--qi", "age", "--sensitive", "dx", "--target-t", "1")
    assert code == 2
    assert "--target-t needs --hierarchies" in one_line_error(err)


def test_cli_unreachable_t(cli: Cli, write: Write, tmp_path: Path) -> None:
    """Age kept as is or in decades only (no '*'): the least t is 0.25 > 0.1."""
    out = tmp_path / "anon.parquet"
    code, _, err = cli(
        "risk",
        _csv(write),
        "--qi",
        "age",
        "--sensitive",
        "dx",
        "--hierarchies",
        write("h.yaml", "age:\n  - interval: 10\n"),
        "--target-k",
        "2",
        "--target-t",
        "0.1",
        "--out",
        out,
    )
    assert code == 2
    line = one_line_error(err)
    assert "target k=2, t=0.1 is not reachable" in line and "t = 0.250000" in line
    assert not out.exists()
