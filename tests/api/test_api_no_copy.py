"""Frames are scanned where they lie: DuckDB reads the Arrow buffers the user handed in.

`__row` is the only column healthdq adds; every column of the user's table is the same memory in
the relation DuckDB scans, and no pandas conversion happens on the way.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest
from api_data import COLUMNS, CONTRACT

from healthdq.sources.base import ROW, ReadOptions
from healthdq.sources.frames import _numbered, register_duckdb


def _addresses(table: Any, column: str) -> list[int]:
    return [b.address for chunk in table.column(column).chunks for b in chunk.buffers() if b]


def test_arrow_columns_are_shared_not_copied() -> None:
    table = pa.table(COLUMNS)
    scanned = _numbered("arrow", table)
    assert scanned.column_names == [*COLUMNS, ROW]
    for column in COLUMNS:
        assert _addresses(scanned, column) == _addresses(table, column)
    assert scanned.column(ROW).to_pylist() == [1, 2, 3, 4]


def test_polars_columns_are_shared_not_copied() -> None:
    pl = pytest.importorskip("polars")
    frame = pl.DataFrame(COLUMNS)
    scanned = _numbered("polars", frame)
    assert isinstance(scanned, pa.Table)
    for column in COLUMNS:
        own = frame[column].to_arrow(compat_level=pl.CompatLevel.newest())
        assert _addresses(scanned, column) == [b.address for b in own.buffers() if b]


def test_pandas_columns_are_shared_not_copied() -> None:
    pd = pytest.importorskip("pandas")
    import numpy as np

    frame = pd.DataFrame({"age": np.arange(1000, dtype="int64"), "x": np.ones(1000)})
    scanned = _numbered("pandas", frame)
    for column in ("age", "x"):
        assert np.shares_memory(scanned[column].to_numpy(), frame[column].to_numpy())
    assert list(frame.columns) == ["age", "x"]  # the user's frame is left as it was


def test_duckdb_scans_the_registered_arrow_table_in_place() -> None:
    """A 120 MB table registers and is scanned with the process growing by far less than that:
    only the added __row column (12 MB) and DuckDB's working memory."""
    psutil = pytest.importorskip("psutil")
    rows = 1_500_000
    con = duckdb.connect()
    wide = ", ".join(f"range * {i} AS c{i}" for i in range(10))
    big = con.sql(f"SELECT {wide} FROM range({rows})").to_arrow_table()
    before = psutil.Process().memory_info().rss
    registered = register_duckdb(con, "big", big, ReadOptions())
    total = con.execute("SELECT sum(c1), max(__row) FROM big").fetchone()
    grown = psutil.Process().memory_info().rss - before
    assert registered.rows == rows and total == (rows * (rows - 1) // 2, rows)
    assert grown < big.nbytes / 2, f"grew {grown / 1e6:.0f} MB, table {big.nbytes / 1e6:.0f} MB"


def test_an_arrow_table_is_checked_without_pandas(tmp_path: Path) -> None:
    """pandas and polars made unimportable: checking an Arrow table still works."""
    script = f"""
import sys

class Blocked:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("pandas", "polars"):
            raise ImportError("blocked: " + name)

sys.meta_path.insert(0, Blocked())
import pyarrow as pa
import healthdq
result = healthdq.check(pa.table({COLUMNS!r}), contract={CONTRACT!r})
print(sorted((r.rule_id, r.status) for r in result.rules))
print(sorted(m for m in sys.modules if m.split(".")[0] in ("pandas", "polars")))
"""
    src = str(Path(__file__).resolve().parents[2] / "src")
    env = {**os.environ, "PYTHONPATH": src, "HEALTHDQ_AUDIT_LOG": str(tmp_path / "a.jsonl")}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "('sex.valid', 'failed')" in done.stdout
    assert done.stdout.splitlines()[-1] == "[]"  # neither was ever imported
