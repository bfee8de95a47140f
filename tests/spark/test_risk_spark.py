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


def test_search_with_t_parity(spark_engine: Any, spark: Any, tmp_path: Any) -> None:
    """The search with a t target (numerical attribute: the ordered-distance grid) finds the
    same minimal nodes, suppression and t on Spark as on DuckDB."""
    pd = pytest.importorskip("pandas")
    from healthdq.governance.anonymise import search
    from healthdq.governance.hierarchy import load_hierarchies

    rng = random.Random(8)
    frame = pd.DataFrame(
        {
            "age": [rng.randint(0, 99) for _ in range(200)],
            "district": [rng.choice(["LS1", "LS2", "M1", "M20"]) for _ in range(200)],
            "los": [rng.randint(0, 6) for _ in range(200)],
        }
    )
    path = tmp_path / "h.yaml"
    path.write_text('age:\n  - interval: 20\n  - "*"\n')  # three nodes: Spark queries are slow
    hierarchies = load_hierarchies(path)
    options: dict[str, Any] = {
        "target_k": 3,
        "target_t": 0.2,
        "sensitive": "los",
        "max_suppression": 0.1,
    }
    duck = DuckDBEngine()
    try:
        duck.con.register("f", frame)
        duck.con.execute("CREATE TABLE data AS SELECT * FROM f")
        expected = search(
            duck, "data", duck.describe("data"), ["age", "district"], hierarchies, **options
        )
    finally:
        duck.close()
    spark.createDataFrame(frame).createOrReplaceTempView("search_data")
    got = search(
        spark_engine,
        "search_data",
        spark_engine.describe("search_data"),
        ["age", "district"],
        hierarchies,
        **options,
    )
    # Sums of logarithms may differ in the last bits between engines; the rest is exact.
    floats = {"engine", "seconds", "non_uniform_entropy", "minimal_nodes"}
    assert got.model_dump(exclude=floats) == expected.model_dump(exclude=floats)
    assert got.non_uniform_entropy == pytest.approx(expected.non_uniform_entropy, rel=1e-12)
    for a, b in zip(got.minimal_nodes, expected.minimal_nodes, strict=True):
        assert a.model_dump(exclude={"non_uniform_entropy", "t"}) == b.model_dump(
            exclude={"non_uniform_entropy", "t"}
        )
        assert a.t == pytest.approx(b.t, abs=1e-12)
