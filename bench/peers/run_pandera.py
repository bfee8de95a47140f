"""pandera (polars backend) on the peer rules. Prints one JSON line.

The Parquet file is read eagerly with polars (only the rule columns) and validated with
lazy=True, so every failing check is collected rather than stopping at the first. Violations
per rule are counted from pandera's failure_cases table. Runs in bench/peers/.venv.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from importlib.metadata import version
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from suites import columns_used, load_rules, pandera_schema  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", required=True)
    args = parser.parse_args()
    t_start = time.perf_counter()

    import pandera.errors as pe
    import polars as pl

    table, rules = load_rules()
    t0 = time.perf_counter()
    schema, keys = pandera_schema(rules)
    df = pl.read_parquet(args.data, columns=columns_used(rules))
    try:
        schema.validate(df, lazy=True)
        failures = None
    except pe.SchemaErrors as exc:
        failures = exc.failure_cases
    check_seconds = time.perf_counter() - t0

    # failure_cases has one row per failing value; count them per (column, check) and map the
    # keys back to rule ids. Built-in checks report their position in check_number; the
    # nullability and uniqueness checks only their name.
    by_key: dict[tuple[object, object], int] = {}
    if failures is not None:
        # pandera's polars uniqueness check counts NULLs as duplicates of each other; the
        # shared definition counts non-null keys only, so NULL uniqueness failures are dropped.
        failures = failures.filter(
            ~((pl.col("check") == "field_uniqueness") & pl.col("failure_case").is_null())
        )
        grouped = failures.group_by(["column", "check", "check_number"]).agg(pl.len().alias("n"))
        for column, check, number, n in grouped.iter_rows():
            by_key[(column, check if number is None else number)] = n
    counts = {r["id"]: by_key.pop(keys[r["id"]], 0) for r in rules}
    print(
        json.dumps(
            {
                "tool": "pandera",
                "versions": {"pandera": version("pandera"), "polars": version("polars")},
                "setup": "polars.read_parquet (rule columns) + DataFrameSchema.validate(lazy)",
                "check_seconds": check_seconds,
                "import_seconds": t0 - t_start,
                "counts": counts,
                # Anything pandera reported that did not map to a rule (should be empty).
                "errors": {f"{c}/{k}": str(n) for (c, k), n in by_key.items()},
                "unique_convention": "rows_in_duplicate_groups",
            }
        )
    )


if __name__ == "__main__":
    main()
