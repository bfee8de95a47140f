"""healthdq.check on a Spark DataFrame: a temp view on the DataFrame's own session, the Spark
engine chosen from the input, the session left running, identifiers masked, the run audited."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import healthdq
from healthdq import HealthdqError
from healthdq.sources.frames import frame_view

NHS = ["9434765919", "9434765870", "4010232137", "9434765828"]
CONTRACT = """
name: people
tables:
  people:
    columns:
      nhs_number: {identifier: nhs_number}
    rules:
      - {id: sex.valid, kind: allowed_values, column: sex, values: ['1', '2']}
      - {id: age.range, kind: range, column: age, min: 0, max: 120}
      - {id: nhs.flagged, kind: sql, predicate: "sex <> 'X'", columns: [sex, nhs_number]}
"""


def _frame(spark: Any) -> Any:
    rows = list(zip(NHS, ["1", "X", "2", "9"], [34, 51, -2, 77], strict=True))
    return spark.createDataFrame(rows, "nhs_number string, sex string, age int")


def test_spark_dataframe_runs_on_its_own_session(
    spark: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEALTHDQ_AUDIT_LOG", str(tmp_path / "audit.jsonl"))
    result = healthdq.check(
        _frame(spark).withColumnRenamed("sex", "GENDER"),
        contract=CONTRACT,
        mapping={"sex": "GENDER"},
    )
    assert result.engine == "spark"
    assert result.tables[0].source == "Spark DataFrame" and result.tables[0].rows == 4
    outcome = {
        r.rule_id: (r.status, r.violating_rows, [s.row for s in r.samples]) for r in result.rules
    }
    assert outcome == {
        "sex.valid": ("failed", 2, [2, 4]),
        "age.range": ("failed", 1, [3]),
        "nhs.flagged": ("failed", 1, [2]),
    }
    flagged = next(r for r in result.rules if r.rule_id == "nhs.flagged")
    assert flagged.samples[0].values["nhs_number"] == "943 *** **70"
    assert not any(n in result.model_dump_json() for n in NHS)
    events = [json.loads(x) for x in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert [e["action"] for e in events] == ["check.samples"]
    assert "Spark DataFrame" in events[0]["dataset"]
    # The user's session is still running, and the frame's temp view is gone.
    assert spark.sql("SELECT 1").collect()[0][0] == 1
    assert not spark.catalog.tableExists(frame_view("people"))


def test_spark_nested_column_and_mixed_inputs_are_refused(spark: Any) -> None:
    nested = _frame(spark).selectExpr("*", "array(age) AS ages")
    with pytest.raises(HealthdqError, match="column 'ages' of the Spark DataFrame has type array"):
        healthdq.check(nested, contract=CONTRACT)
    with pytest.raises(HealthdqError, match="spark engine, not engine='duckdb'"):
        healthdq.check(_frame(spark), contract=CONTRACT, engine="duckdb")


def test_profile_of_a_spark_dataframe(
    spark: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEALTHDQ_AUDIT_LOG", str(tmp_path / "audit.jsonl"))
    prof = healthdq.profile(_frame(spark), table="people")
    assert prof.rows == 4 and [c.name for c in prof.columns] == ["nhs_number", "sex", "age"]
    assert not any(n in prof.model_dump_json() for n in NHS)
    events = [json.loads(x) for x in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert [(e["action"], e["dataset"]) for e in events] == [("profile", "Spark DataFrame")]
    assert not spark.catalog.tableExists(frame_view("people"))
