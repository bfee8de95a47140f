"""The anonymisation search: the optimum of a brute-force walk over the whole lattice, found
with fewer evaluations; bad hierarchies and unreachable targets are one line, exit 2."""

from __future__ import annotations

import itertools
import json
import random
from pathlib import Path

import pytest
from tests.cli.test_cli_errors import Cli, Write, one_line_error

from healthdq.engine.duckdb import DuckDBEngine
from healthdq.governance.anonymise import search
from healthdq.governance.hierarchy import load_hierarchies

HIERARCHIES = """\
age:
  - interval: 10
  - interval: 40
  - "*"
district:
  - prefix: 2
  - "*"
sex:
  - "*"
"""


def rows(seed: int, n: int = 400) -> list[dict]:
    rng = random.Random(seed)
    return [
        {
            "age": rng.randint(0, 99),
            "district": rng.choice(["LS1", "LS2", "LS6", "M1", "M20", "BD3"]),
            "sex": rng.choice(["1", "2"]),
            "diagnosis": rng.choice(["I21", "J18", "E11", "C34"]),
        }
        for _ in range(n)
    ]


def general(row: dict, node: tuple[int, int, int]) -> tuple:
    """The same generalisation as the YAML above, in Python (the test's own reference)."""
    a, d, s = node
    age = row["age"]
    ages = [
        str(age),
        f"{age // 10 * 10}-{age // 10 * 10 + 9}",
        f"{age // 40 * 40}-{age // 40 * 40 + 39}",
        "*",
    ]
    districts = [row["district"], row["district"][:2], "*"]
    return (ages[a], districts[d], [row["sex"], "*"][s])


def brute_force(data: list[dict], k: int, budget: int, l_target: int | None = None) -> set:
    """Every node of the lattice evaluated: the minimal ones that satisfy the target."""
    ok = {}
    for node in itertools.product(range(4), range(3), range(2)):
        classes: dict[tuple, list[dict]] = {}
        for row in data:
            classes.setdefault(general(row, node), []).append(row)
        failing = sum(
            len(c)
            for c in classes.values()
            if len(c) < k or (l_target and len({r["diagnosis"] for r in c}) < l_target)
        )
        ok[node] = failing <= budget
    return {
        n
        for n, good in ok.items()
        if good
        and all(not ok[tuple(v - (j == i) for j, v in enumerate(n))] for i in range(3) if n[i] > 0)
    }


@pytest.mark.parametrize(
    ("seed", "k", "share", "l_target"), [(1, 5, 0.0, None), (2, 3, 0.05, None), (3, 4, 0.02, 2)]
)
def test_minimal_nodes_match_brute_force(
    write: Write, seed: int, k: int, share: float, l_target: int | None
) -> None:
    import pandas as pd

    data = rows(seed)
    engine = DuckDBEngine()
    try:
        engine.con.register("f", pd.DataFrame(data))
        engine.con.execute("CREATE TABLE data AS SELECT * FROM f")
        hierarchies = load_hierarchies(write("h.yaml", HIERARCHIES))
        result = search(
            engine,
            "data",
            engine.describe("data"),
            ["age", "district", "sex"],
            hierarchies,
            target_k=k,
            target_l=l_target,
            sensitive="diagnosis" if l_target else None,
            max_suppression=share,
        )
    finally:
        engine.close()
    budget = int(share * len(data))
    expected = brute_force(data, k, budget, l_target)
    found = {tuple(n.levels.values()) for n in result.minimal_nodes}
    assert found == expected
    assert result.nodes_total == 24 and result.nodes_evaluated < 24
    chosen = tuple(result.transformation.values())
    assert chosen in expected
    # The chosen node has the least non-uniform entropy among the minimal ones.
    assert result.non_uniform_entropy == min(n.non_uniform_entropy for n in result.minimal_nodes)
    assert result.records_suppressed is not None and result.records_suppressed <= budget
    assert result.k >= k


def test_discernibility_and_entropy_by_hand(write: Write) -> None:
    """Six records, one QI: ages 1, 2, 3 (x2 each). Target k = 2, no suppression.
    Level 0 (as is): classes of 2, 2, 2 -> k = 2 satisfied at the bottom.
    Discernibility = 2^2 * 3 = 12; non-uniform entropy = 0 (nothing generalised)."""
    import pandas as pd

    engine = DuckDBEngine()
    try:
        engine.con.register("f", pd.DataFrame({"age": [1, 1, 2, 2, 3, 3]}))
        engine.con.execute("CREATE TABLE data AS SELECT * FROM f")
        hierarchies = load_hierarchies(write("h.yaml", "age:\n  - interval: 10\n"))
        result = search(engine, "data", engine.describe("data"), ["age"], hierarchies, target_k=2)
        assert result.transformation == {"age": 0}
        assert result.discernibility == 12 and result.non_uniform_entropy == 0
        # k = 3: the bottom fails; level 1 puts all six in 0-9: discernibility 36; entropy:
        # each record's P(age | 0-9) = 2/6, six records: 6 * log2(3) = 9.5098...
        result = search(engine, "data", engine.describe("data"), ["age"], hierarchies, target_k=3)
        assert result.transformation == {"age": 1}
        assert result.discernibility == 36
        assert result.non_uniform_entropy == pytest.approx(6 * __import__("math").log2(3))
    finally:
        engine.close()


CSV = "age,district,sex\n" + "".join(
    f"{a},{d},{s}\n" for a, d, s in [(30, "LS1", "1")] * 6 + [(71, "M20", "2")]
)


def test_cli_search_writes_k_anonymous_data(cli: Cli, write: Write, tmp_path: Path) -> None:
    data = write("d.csv", CSV)
    h = write("h.yaml", HIERARCHIES)
    out = tmp_path / "anon.parquet"
    js = tmp_path / "s.json"
    code, stdout, _ = cli(
        "risk",
        data,
        "--qi",
        "age,district,sex",
        "--hierarchies",
        h,
        "--target-k",
        "2",
        "--max-suppression",
        "0.2",
        "--out",
        out,
        "--json",
        js,
    )
    assert code == 0, stdout
    result = json.loads(js.read_text())
    assert result["transformation"] == {"age": 0, "district": 0, "sex": 0}
    # One record suppressed: a small number, hidden.
    assert result["records_suppressed"] is None and result["suppressed"]
    import duckdb

    assert duckdb.sql(f"SELECT count(*) FROM '{out}'").fetchall() == [(6,)]


def test_cli_uncovered_value_names_column_and_line(cli: Cli, write: Write, tmp_path: Path) -> None:
    data = write("d.csv", "age,district,sex\n30,LS1,1\n31,XX,2\n")
    h = write("h.yaml", 'district:\n  - {"LS1": "LS"}\n  - "*"\n')
    out = tmp_path / "anon.parquet"
    code, _, err = cli(
        "risk", data, "--qi", "district", "--hierarchies", h, "--target-k", "2", "--out", out
    )
    assert code == 2
    line = one_line_error(err)
    assert f"{h}:2:" in line and "column 'district'" in line and "'XX'" in line
    assert not out.exists()


def test_cli_unreachable_target(cli: Cli, write: Write, tmp_path: Path) -> None:
    data = write("d.csv", CSV)
    h = write("h.yaml", "age:\n  - interval: 10\n")
    out = tmp_path / "anon.parquet"
    code, _, err = cli(
        "risk", data, "--qi", "age,sex", "--hierarchies", h, "--target-k", "5", "--out", out
    )
    assert code == 2
    assert "target k=5 is not reachable" in one_line_error(err)
    assert not out.exists()


def test_cli_bad_search_options(cli: Cli, write: Write) -> None:
    data = write("d.csv", CSV)
    h = write("h.yaml", HIERARCHIES)
    for args, message in [
        (["--qi", "age", "--target-k", "2"], "--target-k needs --hierarchies"),
        (["--qi", "age", "--hierarchies", h], "--hierarchies needs --target-k"),
        (
            ["--qi", "age,sex", "--hierarchies", h, "--target-k", "2"],
            "hierarchy for 'district', which is not one of --qi",
        ),
        (
            [
                "--qi",
                "age,district,sex",
                "--hierarchies",
                write("b.yaml", "age:\n  - prefix: 0\n"),
                "--target-k",
                "2",
            ],
            "b.yaml:2: prefix must be a whole number",
        ),
        (
            [
                "--qi",
                "age,district,sex",
                "--hierarchies",
                write("c.yaml", "age: [\n"),
                "--target-k",
                "2",
            ],
            "c.yaml:2: invalid YAML",
        ),
        (
            ["--qi", "age,district,sex", "--hierarchies", h, "--target-k", "2", "--target-l", "2"],
            "--target-l needs one --sensitive",
        ),
        (
            ["--qi", "age,district,sex", "--hierarchies", h, "--target-k", "2", "--out", "o.xlsx"],
            "write .parquet or .csv",
        ),
    ]:
        code, _, err = cli("risk", data, *args)
        assert code == 2, args
        assert message in one_line_error(err), (args, err)
