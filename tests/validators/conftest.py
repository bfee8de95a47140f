"""Run validator expressions in DuckDB over literal VALUES lists."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import duckdb
import pytest
from sqlglot import exp

from healthdq.validators import get_validator

Evaluate = Callable[[str, Sequence[str]], list[bool | None]]  # tests repeat this alias


@pytest.fixture(scope="session")
def duck() -> Iterator[duckdb.DuckDBPyConnection]:
    con = duckdb.connect()
    yield con
    con.close()


@pytest.fixture(scope="session")
def evaluate(duck: duckdb.DuckDBPyConnection) -> Evaluate:
    """evaluate(validator_name, values) -> the validator's result per value, in order."""

    def _evaluate(name: str, values: Sequence[str]) -> list[bool | None]:
        expr = get_validator(name).build(exp.column("v", quoted=True))
        rows = exp.values(
            [
                exp.Tuple(expressions=[exp.Literal.number(i), exp.Literal.string(v)])
                for i, v in enumerate(values)
            ],
            alias="t",
            columns=["i", "v"],
        )
        sql = f"SELECT {expr.sql('duckdb')} FROM {rows.sql('duckdb')} ORDER BY i"
        return [r[0] for r in duck.execute(sql).fetchall()]

    return _evaluate
