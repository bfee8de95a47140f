"""Small-number suppression of identifiable data: policies, secondary suppression (no hidden cell
can be recomputed from the published ones), and the pipeline applying it to every breakdown."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from healthdq.errors import HealthdqError
from healthdq.governance.suppression import parse_policy, protect, round_to

Cli = Callable[..., tuple[int, str, str]]
Write = Callable[[str, str | bytes], Path]


def possible_values(cells: list[int], hidden: set[int], total: int) -> dict[int, set[int]]:
    """Brute force: for each hidden cell, every value it can take given the published cells and
    the published total (all counts non-negative integers)."""
    published = sum(v for i, v in enumerate(cells) if i not in hidden)
    rest = total - published
    out: dict[int, set[int]] = {}
    order = sorted(hidden)
    for i in order:
        others = [j for j in order if j != i]
        # Sums the other hidden cells can reach (each 0..total), by dynamic programming.
        reach = {0}
        for _ in others:
            reach = {a + b for a in reach for b in range(rest + 1) if a + b <= rest}
        out[i] = {x for x in range(rest + 1) if (rest - x) in reach}
    return out


@settings(max_examples=300, deadline=None)
@given(
    cells=st.lists(st.integers(min_value=0, max_value=40), min_size=1, max_size=7),
    threshold=st.integers(min_value=2, max_value=11),
)
def test_no_hidden_cell_can_be_recomputed(cells: list[int], threshold: int) -> None:
    table = dict(enumerate(cells))
    hidden, total_hidden = protect(table, threshold)
    # Every small non-zero count is hidden.
    assert {i for i, v in table.items() if 0 < v < threshold} <= hidden
    if total_hidden:
        return  # nothing is published that could give the cell back
    total = sum(cells)
    for i, values in possible_values(cells, hidden, total).items():
        assert len(values) >= 2, (cells, threshold, hidden, i, values)
        assert cells[i] in values


def test_next_smallest_group_is_hidden_with_a_lone_small_one() -> None:
    hidden, whole = protect({"A": 3, "B": 40, "C": 12, "D": 0}, 8)
    assert hidden == {"A", "C"} and not whole
    assert protect({"A": 3}, 8) == ({"A"}, True)
    assert protect({"A": 30, "B": 0}, 8) == (set(), False)


def test_policies() -> None:
    assert parse_policy("hes").threshold == 8
    assert parse_policy("threshold:11").threshold == 11
    assert parse_policy("ROUND5").rounding == 5
    assert [round_to(v, 5) for v in (0, 1, 2, 3, 7, 8, 12, 13)] == [0, 0, 0, 5, 5, 10, 10, 15]
    for bad in ("threshold:1", "nope", "threshold:x"):
        with pytest.raises(HealthdqError, match="suppression policy"):
            parse_policy(bad)


CONTRACT = """name: t
identifiable: true
tables:
  t:
    rules:
      - {id: nn, kind: not_null, column: a}
"""


def rows_csv() -> str:
    # Provider P1: 3 of 30 null (primary); P2: 20 of 40; P3: 10 of 50; P4: 2 rows (small group).
    lines = ["prov,a"]
    for prov, n, nulls in (("P1", 30, 3), ("P2", 40, 20), ("P3", 50, 10), ("P4", 2, 1)):
        lines += [f"{prov}," for _ in range(nulls)] + [f"{prov},x" for _ in range(n - nulls)]
    return "\n".join(lines) + "\n"


def group_rows(path: Path) -> dict[str, dict[str, object]]:
    doc = json.loads(path.read_text())
    return {r["group"]: r for g in doc["groups"] for r in g["rows"]}


def test_check_identifiable_hes(cli: Cli, write: Write, tmp_path: Path) -> None:
    data = write("d.csv", rows_csv())
    contract = write("c.yaml", CONTRACT)
    out = tmp_path / "r.json"
    code, _, err = cli("check", data, "--contract", contract, "-g", "prov", "--json", out)
    assert code in (0, 1), err
    rows = group_rows(out)
    # P4 is a small group (2 rows): its size is hidden, and with it the next-smallest size
    # (P1, 30) so the table's row count does not give it back. Counts: P1 (3) is small and P4's
    # is hidden with its size: two hidden cells adding up to more than 0, so P2 and P3 stay.
    assert rows["P1"]["suppressed"] and rows["P1"]["violating_rows"] is None
    assert rows["P4"]["suppressed"] and rows["P4"]["denominator"] is None
    assert rows["P2"]["violating_rows"] == 20 and rows["P3"]["violating_rows"] == 10
    assert json.loads(out.read_text())["suppression"] == "hes"


def test_check_round5_and_flag(cli: Cli, write: Write, tmp_path: Path) -> None:
    data = write("d.csv", rows_csv())
    contract = write("c.yaml", CONTRACT.replace("identifiable: true\n", ""))
    out = tmp_path / "r.json"
    code, _, err = cli(
        "check", data, "--contract", contract, "-g", "prov", "--json", out,
        "--identifiable", "--suppression", "round5",
    )  # fmt: skip
    assert code in (0, 1), err
    rows = group_rows(out)
    assert rows["P1"]["violating_rows"] == 5 and rows["P1"]["denominator"] == 30
    assert rows["P4"]["violating_rows"] == 0 and rows["P4"]["denominator"] == 0
    assert rows["P2"]["pct_violating"] == 50.0
    code, _, err = cli(
        "check", data, "--contract", contract, "--suppression", "nope", "--identifiable"
    )
    assert code == 2 and "suppression policy 'nope'" in err


def test_api_metrics_and_scores_hold_no_hidden_figure(write: Write, tmp_path: Path) -> None:
    import healthdq

    result = healthdq.check(
        str(write("d.csv", rows_csv())),
        contract=CONTRACT,
        group_by="prov",
        keep_run=False,
        audit_log=tmp_path / "audit.jsonl",
    )
    assert result.suppression == "hes"
    grouped = {(m.group, m.name): m.value for m in result.metrics if m.group}
    assert ("prov=P1", "violating_rows") not in grouped
    assert ("prov=P4", "denominator") not in grouped
    assert grouped[("prov=P2", "violating_rows")] == 20
    sizes = {s.group: s.rows for g in result.groups for s in g.scores}
    assert sizes["P4"] is None and sizes["P1"] is None and sizes["P3"] == 50
