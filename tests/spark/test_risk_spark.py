"""The same risk figures from Spark as from DuckDB (one small table, both attribute kinds)."""

from __future__ import annotations

import random
from typing import Any

import pytest

from healthdq.engine.duckdb import DuckDBEngine
from healthdq.governance.risk import measure


def test_risk_parity(spark_engine: Any, spark: Any) -> None:
    pd = pytest.importorskip("pandas")
    rng = random.Random(5)
    frame = pd.DataFrame(
        {
            "age_band": [rng.choice(["0-17", "18-64", "65+"]) for _ in range(300)],
            "sex": [rng.choice(["1", "2"]) for _ in range(300)],
            "district": [rng.choice(["LS1", "LS2", "M1", None]) for _ in range(300)],
            "diagnosis": [rng.choice(["I21", "J18", "E11", "C34"]) for _ in range(300)],
            "los": [rng.randint(0, 9) for _ in range(300)],
        }
    )
    qi = ["age_band", "sex", "district"]
    duck = DuckDBEngine()
    try:
        duck.con.register("f", frame)
        duck.con.execute("CREATE TABLE data AS SELECT * FROM f")
        expected = measure(duck, "data", duck.describe("data"), qi, ["diagnosis", "los"])
    finally:
        duck.close()
    spark.createDataFrame(frame.astype(object).where(frame.notna(), None)).createOrReplaceTempView(
        "risk_data"
    )
    got = measure(
        spark_engine, "risk_data", spark_engine.describe("risk_data"), qi, ["diagnosis", "los"]
    )
    keep = {"engine", "seconds", "queries", "scans"}
    assert got.model_dump(exclude=keep) == expected.model_dump(exclude=keep)
