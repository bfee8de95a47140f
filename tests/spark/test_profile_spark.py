"""`profile` on Spark gives the same profile as on DuckDB (issue #9: profile runs through the
engine interface)."""

from __future__ import annotations

import csv
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from healthdq.engine.duckdb import DuckDBEngine
from healthdq.profile import TableProfile, profile_table
from healthdq.sources.base import ReadOptions

POSTCODES = ["LS1 4AP", "M1 1AE", "B33 8TH", "ZZ99 3VZ"]


def _rows() -> list[dict[str, str]]:
    rows = []
    for i in range(80):
        rows.append(
            {
                "nhs_number": ["9434765919", "943-476-5870", "4010232137", ""][i % 4],
                "postcode": POSTCODES[i % 4],
                "diag": ["I10X", "J181", "E119"][i % 3],
                "sex": ["1", "2", "9"][i % 3],
                "source": ["01", "02"][i % 2],
                "dob": (date(1940, 5, 1) + timedelta(days=401 * i)).strftime("%d/%m/%Y"),
                "spell": f"S{i:04d}",
                "los": str(i % 9),
                "notes": "" if i % 5 == 0 else f"seen {i % 4}",
            }
        )
    return rows


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rows = _rows()
    path = tmp_path_factory.mktemp("profile_spark") / "apc.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def _key(p: TableProfile) -> list[tuple[Any, ...]]:
    return [
        (
            c.name, c.family, c.count, c.nulls, c.blanks, c.exact_distinct, str(c.min),
            str(c.max), c.min_length, c.max_length, c.all_values_seen,
            sorted(c.top_values) if c.all_values_seen else len(c.top_values),
            c.kind, c.identifier, c.validator, c.validator_passes, c.placeholders,
            c.date_min, c.date_max, c.date_values, c.shapes, c.validators, c.unique,
        )
        for c in p.columns
    ]  # fmt: skip


def test_spark_profile_matches_duckdb(spark_engine: Any, data: Path) -> None:
    duck = DuckDBEngine()
    try:
        duck.register("apc", str(data), ReadOptions())
        expected = profile_table(duck, "apc")
    finally:
        duck.close()
    spark_engine.register("apc_profile", str(data), ReadOptions())
    got = profile_table(spark_engine, "apc_profile")
    assert got.engine == "spark" and got.rows == expected.rows == 80
    assert got.scans == expected.scans == 2
    for a, b in zip(_key(got), _key(expected), strict=True):
        assert a == b
    kinds = {c.name: c.kind for c in got.columns}
    assert kinds["dob"] == "date (dd/mm/yyyy)" and kinds["source"] == "code (2 values)"
    assert got.column("postcode").placeholders == {"ZZ99 3VZ": 20}


def test_spark_sampled_profile_matches_duckdb(
    spark_engine: Any, data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Above SAMPLE_ROWS: the same sample of rows, the same value counts (GROUP BY GROUPING
    SETS) and the same aggregate on both engines."""
    from healthdq.profile import profiler

    monkeypatch.setattr(profiler, "SAMPLE_ROWS", 40)
    duck = DuckDBEngine()
    try:
        duck.register("apc", str(data), ReadOptions())
        expected = profile_table(duck, "apc")
    finally:
        duck.close()
    spark_engine.register("apc_sampled", str(data), ReadOptions())
    got = profile_table(spark_engine, "apc_sampled")
    assert got.sample_rows == expected.sample_rows == 40
    assert got.scans == expected.scans == 3
    for a, b in zip(_key(got), _key(expected), strict=True):
        assert a == b
    # Counted columns are exact over all 80 rows, not the sample's 40.
    assert got.column("postcode").placeholders == {"ZZ99 3VZ": 20}
    assert got.column("sex").exact_distinct == 3 and got.column("sex").count == 80
