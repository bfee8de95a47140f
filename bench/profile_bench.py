"""Benchmark: `profile` at width against a bare scan of the same columns (issue #10).

For each width (columns) and row count, a synthetic mixed-type Parquet file (codes, ICD-10 and
ODS-like codes, NHS-number-like ids, dates, amounts, counts, unique ids, free text) is profiled
with `profile_table` on DuckDB, and the same file is read by a bare scan: `count(*)` and one
`min(hash(column))` per column in one query, which must read and decode every value once.
Ratios are taken within one run (bare scan just before each profile); each figure is the best of
`--repeat` runs. Target (issue #10): at 200 columns x 1M rows, profile <= 3x the bare scan, and
time per column flat from 10 to 200 columns.

    python bench/profile_bench.py                    # 10/50/100/200 columns x 1M rows (make bench)
    python bench/profile_bench.py --rows 100000 --columns 20 200 --repeat 3
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
# One column of each kind in turn: SQL over range() row number x and column number k.
KINDS = (
    "lpad(CAST((x * {k}) % 9 + 1 AS VARCHAR), 2, '0')",  # '01'..'09' code
    "chr(65 + CAST((x + {k}) % 20 AS INTEGER)) || lpad(CAST(x % 100 AS VARCHAR), 2, '0') || 'X'",
    "CAST(DATE '1930-01-01' + CAST((x * 37 + {k}) % 30000 AS INTEGER) AS DATE)",
    "CAST(((x * 7919 + {k}) % 100000) / 100.0 AS DOUBLE)",
    "CAST(x % 7 + 1 AS BIGINT)",  # a small count
    "'S' || lpad(CAST(x AS VARCHAR), 8, '0')",  # unique id
    "CAST(4000000000 + (x * 104729 + {k}) % 99999999 AS VARCHAR)",  # NHS-number-like
    "'R' || chr(65 + CAST((x + {k}) % 26 AS INTEGER)) || CAST(x % 10 AS VARCHAR)",  # ODS-like
    "'seen in clinic ' || CAST((x + {k}) % 500 AS VARCHAR)",  # free text
    "CASE WHEN (x + {k}) % 10 = 0 THEN NULL ELSE CAST((x * 31 + {k}) % 1000 AS VARCHAR) END",
)


def ensure_data(rows: int, columns: int) -> Path:
    import duckdb

    path = DATA / f"profile_{rows}x{columns}.parquet"
    if path.exists():
        return path
    DATA.mkdir(parents=True, exist_ok=True)
    cols = ", ".join(f"{KINDS[k % len(KINDS)].format(k=k)} AS c{k:03d}" for k in range(columns))
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    con.execute(f"COPY (SELECT {cols} FROM range({rows}) AS r(x)) TO '{path}' (FORMAT parquet)")
    con.close()
    return path


def measure(path: Path, repeat: int) -> tuple[float, float, int]:
    """Best bare-scan and profile seconds over `repeat` runs, and the profile's scans."""
    from healthdq.engine.duckdb import DuckDBEngine
    from healthdq.profile import profile_table
    from healthdq.sources.base import ReadOptions

    bare, prof, scans = float("inf"), float("inf"), 0
    for _ in range(repeat):
        engine = DuckDBEngine()
        engine.con.execute("SET enable_progress_bar = false")
        try:
            engine.register("t", str(path), ReadOptions())
            columns = [c for c in engine.describe("t") if c != "__row"]
            # min(hash()) must decode every value; a plain min() may be answered from Parquet
            # row-group statistics without reading the column.
            aggs = ", ".join(f'min(hash("{c}"))' for c in columns)
            t0 = time.perf_counter()
            engine.fetch(f'SELECT count(*), {aggs} FROM "t"')
            bare = min(bare, time.perf_counter() - t0)
            t0 = time.perf_counter()
            p = profile_table(engine, "t")
            prof = min(prof, time.perf_counter() - t0)
            scans = p.scans
        finally:
            engine.close()
    return bare, prof, scans


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--columns", type=int, nargs="+", default=[10, 50, 100, 200])
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    print(
        "| rows | columns | bare scan s | profile s | ratio | bare ms/column "
        "| profile ms/column | scans |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for rows in args.rows:
        for columns in args.columns:
            path = ensure_data(rows, columns)
            bare, prof, scans = measure(path, args.repeat)
            print(
                f"| {rows:,} | {columns} | {bare:.2f} | {prof:.2f} | {prof / bare:.2f}x "
                f"| {1000 * bare / columns:.1f} | {1000 * prof / columns:.1f} | {scans} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
