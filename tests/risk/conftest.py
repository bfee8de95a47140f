"""Small tables registered on an in-process DuckDB engine for the risk tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from healthdq.engine.duckdb import DuckDBEngine
from healthdq.governance.risk import RiskReport, measure


@pytest.fixture
def duck() -> Iterator[DuckDBEngine]:
    engine = DuckDBEngine()
    yield engine
    engine.close()


Measure = Callable[..., RiskReport]


@pytest.fixture
def measure_rows(duck: DuckDBEngine) -> Measure:
    """measure(rows as dicts or a pandas frame, qi, sensitive, **options) on DuckDB."""

    def _measure(
        data: Any, qi: list[str], sensitive: list[str] | None = None, **kw: Any
    ) -> RiskReport:
        import pandas as pd

        frame = data if isinstance(data, pd.DataFrame) else pd.DataFrame(data)
        duck.con.register("frame_in", frame)
        duck.con.execute("CREATE OR REPLACE TABLE data AS SELECT * FROM frame_in")
        duck.con.unregister("frame_in")
        return measure(duck, "data", duck.describe("data"), qi, sensitive or [], **kw)

    return _measure
