"""Run every validator's Spark SQL in local Spark and compare with DuckDB.

Needs pyspark (in the dev extra) and a JVM (CI installs one); skipped where pyspark is missing.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import duckdb
import pytest
from sqlglot import exp

from healthdq.validators import REGISTRY, get_validator
from healthdq.validators.nhs_number import nhs_number_check_digit
from healthdq.validators.sctid import verhoeff_check_digit
from healthdq.validators.valueset import load_valueset

AWKWARD = [
    "", " ", "-", "0", "+1", "1e5", "1.5", "0x1F", "1_000", "9" * 19, "-9223372036854775808",
    "１２３４５６７８９０", "😀" * 12, "SW1A 1AA", "SW1A 1AA\r", "SW1A 1AA\n", "sw1a 1aa",
    "ZZ99 3VZ", "GIR 0AA", "9434765919", "9434765919\n", " 9434765919", "22298006",
    "0101291009", "I10X", "A170-D", "J18.9", "W401", "I011", "RR801", "B82005", "100",
]  # fmt: skip


def _values() -> list[str]:
    rng = random.Random(3)
    values = set(AWKWARD)
    for name, v in REGISTRY.items():
        if v.kind == "valueset":
            values |= set(load_valueset(name))
    for _ in range(300):
        first9 = "".join(rng.choices("0123456789", k=9))
        check = nhs_number_check_digit(first9)
        values.add(first9 + str(check if check is not None else 0))
        body = str(rng.randint(1, 9)) + "".join(rng.choices("0123456789", k=rng.randint(2, 14)))
        values.add(body + "00" + verhoeff_check_digit(body + "00"))
        values.add("".join(rng.choices("0123456789", k=rng.randint(5, 19))))
    return sorted(values)


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    pyspark_sql = pytest.importorskip("pyspark.sql")
    session = (
        pyspark_sql.SparkSession.builder.master("local[1]")
        .config("spark.ui.enabled", "false")
        .getOrCreate()
    )
    # No stop(): getOrCreate may have handed back the session other Spark tests share.
    yield session


@pytest.mark.parametrize("ansi", ["false", "true"])
def test_spark_agrees_with_duckdb(spark: Any, ansi: str) -> None:
    values = _values()
    spark.conf.set("spark.sql.ansi.enabled", ansi)
    spark.createDataFrame(list(enumerate(values)), "i INT, v STRING").createOrReplaceTempView("t")
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE t AS SELECT unnest(range(?)) AS i, unnest(?::VARCHAR[]) AS v",
        [len(values), values],
    )
    for name in sorted(REGISTRY):
        built = get_validator(name).build(exp.column("v"))
        on_spark = dict(spark.sql(f"SELECT i, {built.sql('spark')} FROM t").collect())
        on_duck = dict(con.execute(f"SELECT i, {built.sql('duckdb')} FROM t").fetchall())
        differ = [values[i] for i in on_duck if on_spark[i] != on_duck[i]]
        assert differ == [], name
