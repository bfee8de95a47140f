"""Run metrics: per-column basics from the fused scan, code-column values from the per-distinct
grouping, rule and group figures from the results; identifier values never kept by default."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from healthdq import pipeline
from healthdq.engine.duckdb import DuckDBEngine
from healthdq.engine.runner import RunOptions, run_contract
from healthdq.results import Metric, RunResult
from healthdq.rules.loader import parse_contract

CSV = """id,sex,age,adm,nhs,note
1,1,40.5,2024-01-01,9434765919,a
2,2,,2024-01-05,9434765870,
3,9,60.5,2024-02-01,,b
4,2,20.5,2024-02-03,4010232137,c
5,2,30.5,2024-03-01,4010232137,
"""
CONTRACT = """
name: t
tables:
  t:
    columns:
      nhs: {identifier: nhs_number}
    rules:
      - {id: sex.valid, kind: allowed_values, column: sex, values: ['1', '2']}
      - {id: age.range, kind: range, column: age, min: 0, max: 50}
      - {id: adm.range, kind: date_range, column: adm, min: '2024-01-01', max: '2024-12-31'}
      - {id: nhs.present, kind: not_null, column: nhs}
      - {id: note.present, kind: not_null, column: note}
      - {id: nhs.unique, kind: unique, columns: [nhs]}
"""


def _run(tmp_path: Path) -> RunResult:
    data = tmp_path / "t.csv"
    data.write_text(CSV, encoding="utf-8")
    engine = DuckDBEngine()
    try:
        # per_distinct_min_rows=0: the code-column grouping runs on this small table too.
        options = RunOptions(run_date=date(2024, 6, 1), per_distinct_min_rows=0)
        return run_contract(engine, parse_contract(CONTRACT), {"t": str(data)}, options=options)
    finally:
        engine.close()


def _get(metrics: list[Metric], name: str, column: str | None = None) -> Metric | None:
    found = [m for m in metrics if m.name == name and m.column == column and m.rule is None]
    return found[0] if found else None


def test_column_basics_match_the_data(tmp_path: Path) -> None:
    metrics = _run(tmp_path).metrics
    assert _get(metrics, "rows").value == 5  # type: ignore[union-attr]
    assert _get(metrics, "nulls", "age").value == 1  # type: ignore[union-attr]
    assert _get(metrics, "mean", "age").value == 38.0  # decimals are typed DOUBLE  # type: ignore[union-attr]
    assert _get(metrics, "min", "adm").text == "2024-01-01"  # type: ignore[union-attr]
    assert _get(metrics, "max", "adm").text == "2024-03-01"  # type: ignore[union-attr]
    # note: nulls, and no blanks: CSV empty fields read as NULL.
    assert _get(metrics, "nulls", "note").value == 2  # type: ignore[union-attr]
    # The code column: exact distinct and top values from the per-distinct grouping.
    assert _get(metrics, "distinct", "sex").value == 3  # type: ignore[union-attr]
    top = json.loads(_get(metrics, "top_values", "sex").text or "")  # type: ignore[union-attr]
    assert top == [["2", 3], ["1", 1], ["9", 1]]


def test_rule_metrics_follow_the_results(tmp_path: Path) -> None:
    result = _run(tmp_path)
    from healthdq.results.metrics import result_metrics

    by_rule = {(m.rule, m.name): m.value for m in result_metrics(result)}
    assert by_rule[("sex.valid", "violating_rows")] == 1
    assert by_rule[("sex.valid", "denominator")] == 5
    assert by_rule[("nhs.unique", "violating_rows")] == 1


def test_identifier_values_are_not_kept_unless_unmasked(tmp_path: Path) -> None:
    data = tmp_path / "t.csv"
    data.write_text(CSV, encoding="utf-8")
    contract = parse_contract(CONTRACT)
    settings = pipeline.Settings(audit_log=tmp_path / "audit.jsonl")
    # The NHS number column declared as an identifier: min/max would be one patient's number.
    contract.tables["t"].columns["adm"] = contract.tables["t"].columns["nhs"].model_copy()
    masked = pipeline.check(
        contract, {"t": str(data)}, run_date=date(2024, 6, 1), settings=settings
    )
    assert _get(masked.metrics, "min", "adm") is None
    assert _get(masked.metrics, "nulls", "adm") is not None
    settings.unmask = True
    clear = pipeline.check(contract, {"t": str(data)}, run_date=date(2024, 6, 1), settings=settings)
    assert _get(clear.metrics, "min", "adm") is not None
