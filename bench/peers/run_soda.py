"""Soda Core (soda-core-duckdb) on the peer rules. Prints one JSON line.

The table is a DuckDB view over the Parquet file in an in-memory connection handed to the scan,
so Soda's SQL reads the file directly, as healthdq does. Runs in bench/peers/.venv-soda
(soda-core-duckdb pins its own DuckDB, so it gets a venv of its own).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from importlib.metadata import version
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from suites import load_rules, soda_checks  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", required=True)
    args = parser.parse_args()
    t_start = time.perf_counter()

    import duckdb
    from soda.scan import Scan

    table, rules = load_rules()
    t0 = time.perf_counter()
    con = duckdb.connect()
    con.execute(f"CREATE VIEW {table} AS SELECT * FROM read_parquet('{Path(args.data).resolve()}')")
    scan = Scan()
    scan.set_data_source_name("peers")
    scan.add_duckdb_connection(con, data_source_name="peers")
    scan.add_sodacl_yaml_str(soda_checks(table, rules))
    scan.execute()
    check_seconds = time.perf_counter() - t0

    counts: dict[str, int | None] = {}
    errors: dict[str, str] = {}
    for check in scan.get_scan_results()["checks"]:
        rid = check["name"]
        value = check.get("diagnostics", {}).get("value")
        counts[rid] = int(value) if value is not None else None
        if check.get("outcome") not in ("pass", "fail"):
            errors[rid] = str(check.get("outcome"))
    for log in scan.get_error_logs():
        errors.setdefault("scan", "")
        errors["scan"] += str(log.message)[:300] + "; "
    print(
        json.dumps(
            {
                "tool": "soda",
                "versions": {
                    "soda-core-duckdb": version("soda-core-duckdb"),
                    "duckdb": version("duckdb"),
                },
                "setup": "in-memory DuckDB view over the Parquet file",
                "check_seconds": check_seconds,
                "import_seconds": t0 - t_start,
                "counts": counts,
                "errors": errors,
                # duplicate_count is the number of values that occur more than once.
                "unique_convention": "duplicate_groups",
            }
        )
    )


if __name__ == "__main__":
    main()
