"""Great Expectations 1.x on the peer rules. Prints one JSON line.

``--backend pandas``: the Parquet file read with pandas (only the rule columns) into a dataframe
asset. ``--backend sql``: a DuckDB database holding a view over the Parquet file, reached through
GX's SQL datasource (SQLAlchemy + duckdb_engine), so GX pushes each expectation down as SQL.
``--backend spark``: a local[2] Spark session reading the Parquet file (rule columns) into a
dataframe asset, for the comparison with healthdq's Spark engine.
Runs in bench/peers/.venv.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from suites import columns_used, gx_expectations, load_rules  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", required=True)
    parser.add_argument("--backend", choices=["pandas", "sql", "spark"], default="sql")
    args = parser.parse_args()
    t_start = time.perf_counter()

    import great_expectations as gx

    table, rules = load_rules()
    t0 = time.perf_counter()
    context = gx.get_context(mode="ephemeral")
    tmp = tempfile.TemporaryDirectory(prefix="peers-gx-")
    batch_params: dict[str, Any] = {}
    if args.backend == "pandas":
        import pandas as pd

        df = pd.read_parquet(args.data, columns=columns_used(rules))
        asset = context.data_sources.add_pandas("pandas").add_dataframe_asset(table)
        batch_def = asset.add_batch_definition_whole_dataframe("all")
        batch_params = {"dataframe": df}
        expectations = gx_expectations(rules, regex_dialect="python")
    elif args.backend == "spark":
        from pyspark.sql import SparkSession

        # The same session settings healthdq's Spark engine uses (UI off, few shuffle partitions).
        spark = (
            SparkSession.builder.master("local[2]")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.shuffle.partitions", "8")
            .config("spark.sql.session.timeZone", "UTC")
            .getOrCreate()
        )
        spark.sparkContext.setLogLevel("ERROR")
        sdf = spark.read.parquet(str(Path(args.data).resolve())).select(*columns_used(rules))
        asset = context.data_sources.add_spark("spark").add_dataframe_asset(table)
        batch_def = asset.add_batch_definition_whole_dataframe("all")
        batch_params = {"dataframe": sdf}
        expectations = gx_expectations(rules, regex_dialect="java")
    else:
        import duckdb

        db = Path(tmp.name) / "peers.duckdb"
        con = duckdb.connect(str(db))
        # A view, not a copy: DuckDB reads the Parquet file on every query, as healthdq does.
        con.execute(
            f"CREATE VIEW {table} AS SELECT * FROM read_parquet('{Path(args.data).resolve()}')"
        )
        con.close()
        ds = context.data_sources.add_sql("duckdb", connection_string=f"duckdb:///{db}")
        asset = ds.add_table_asset(table, table_name=table)
        batch_def = asset.add_batch_definition_whole_table("all")
        expectations = gx_expectations(rules, regex_dialect="re2")
    suite = context.suites.add(gx.ExpectationSuite(name="peers"))
    for e in expectations:
        suite.add_expectation(e)
    batch = batch_def.get_batch(batch_parameters=batch_params)
    # BASIC: counts plus a short list of failing values; the cheapest format that has counts.
    result = batch.validate(suite, result_format="BASIC")
    check_seconds = time.perf_counter() - t0

    counts: dict[str, int | None] = {}
    errors: dict[str, str] = {}
    for res in result.results:
        rid = res.expectation_config.meta["rule_id"]
        counts[rid] = res.result.get("unexpected_count")
        # exception_info is either one {raised_exception, exception_message} record or a dict
        # of them keyed by the metric that failed.
        info = res.exception_info or {}
        records = [info] if "raised_exception" in info else list(info.values())
        raised = [x for x in records if isinstance(x, dict) and x.get("raised_exception")]
        if raised:
            errors[rid] = str(raised[0].get("exception_message"))[:300]
    versions = {"great_expectations": version("great_expectations")}
    if args.backend == "pandas":
        versions.update(pandas=version("pandas"), pyarrow=version("pyarrow"))
    elif args.backend == "spark":
        versions.update(pyspark=version("pyspark"))
    else:
        versions.update(
            duckdb=version("duckdb"),
            duckdb_engine=version("duckdb_engine"),
            sqlalchemy=version("sqlalchemy"),
        )
    print(
        json.dumps(
            {
                "tool": f"gx-{args.backend}",
                "versions": versions,
                "setup": args.backend,
                "check_seconds": check_seconds,
                "import_seconds": t0 - t_start,
                "counts": counts,
                "errors": errors,
                # GX counts every row of a duplicated value, not the surplus copies.
                "unique_convention": "rows_in_duplicate_groups",
            }
        )
    )
    tmp.cleanup()


if __name__ == "__main__":
    main()
