"""healthdq on the peer rules as a contract, via the Python API. Prints one JSON line.

``--engine duckdb`` (default) or ``spark`` (a local[2] session, for the Spark comparison).

Runs in the project venv. ``--per-rule`` also times each rule alone (a one-rule contract) after
the fused run, to show which rules dominate it; run_peers.py runs that in a separate, untimed
child.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from suites import healthdq_contract, load_rules  # noqa: E402

RUN_DATE = date(2025, 6, 30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", required=True)
    parser.add_argument("--engine", choices=["duckdb", "spark"], default="duckdb")
    parser.add_argument("--per-rule", action="store_true")
    args = parser.parse_args()
    t_start = time.perf_counter()

    import healthdq
    from healthdq.engine.runner import RunOptions, run_contract
    from healthdq.rules.loader import parse_contract

    if args.engine == "spark":
        import pyspark

        from healthdq.engine.spark import SparkEngine as Engine

        versions = {"healthdq": healthdq.__version__, "pyspark": pyspark.__version__}
    else:
        import duckdb

        from healthdq.engine.duckdb import DuckDBEngine as Engine

        versions = {"healthdq": healthdq.__version__, "duckdb": duckdb.__version__}

    table, rules = load_rules()
    text = healthdq_contract(table, rules)
    t0 = time.perf_counter()
    contract = parse_contract(text, "peers-contract.yaml")
    # The Spark session starts inside the timed part, as GX's does.
    engine = Engine()
    result = run_contract(
        engine, contract, {table: args.data}, options=RunOptions(run_date=RUN_DATE)
    )
    check_seconds = time.perf_counter() - t0
    counts = {r.rule_id: r.violating_rows for r in result.rules}
    errors = {r.rule_id: r.message for r in result.rules if r.status == "error"}
    out = {
        "tool": "healthdq" if args.engine == "duckdb" else "healthdq-spark",
        "versions": versions,
        "setup": f"{args.engine} engine reading the Parquet file directly, run_contract",
        "check_seconds": check_seconds,
        "import_seconds": t0 - t_start,
        "engine_seconds": engine.query_seconds,
        "queries": engine.queries,
        "counts": counts,
        "errors": errors,
        "unique_convention": "surplus",
    }
    engine.close()
    if args.per_rule:
        # Each rule alone: what it costs when nothing is shared with other rules.
        per_rule = {}
        for rule in contract.tables[table].rules:
            one = contract.model_copy(deep=True)
            one.tables[table].rules = [r for r in one.tables[table].rules if r.id == rule.id]
            eng = Engine()
            r0 = time.perf_counter()
            run_contract(eng, one, {table: args.data}, options=RunOptions(run_date=RUN_DATE))
            per_rule[rule.id] = time.perf_counter() - r0
            eng.close()
        out["per_rule_seconds"] = per_rule
    print(json.dumps(out))


if __name__ == "__main__":
    main()
