"""Benchmark: SQL-on-FHIR view flattening in resources/s, healthdq (DuckDB, Spark) beside fhir4ds.

One synthetic UK Core shaped bulk export (`healthdq synth fhir`, 1M resources by default) is read
once per engine; then every ViewDefinition (the built-in views for the resource types in the
export) runs on healthdq's DuckDB engine, on its Spark engine (local[2]) and on fhir4ds (PyPI,
DuckDB-based), and the rows of each are compared, row for row, with healthdq DuckDB's.

    python bench/fhir_view_bench.py                       # 1,000,000 resources (BENCHMARKS.md)
    python bench/fhir_view_bench.py --rows 100000 --no-spark   # a smoke run

Spark's driver (local[2]: the executors too) has a 1 GB heap unless told otherwise; at 1M
resources the cached resource table and the largest view's Arrow result collected to Python
need more (with 1 GB the 1M run fails: "TaskResultLost (result lost from block manager)"), so
the bench starts Spark with --spark-driver-memory (default 4g; PYSPARK_SUBMIT_ARGS, if set,
wins).

Timing: a view's time is from the query's start until its rows are in Python (healthdq: an
Arrow table from run_view; fhir4ds: its documented `execute(view).fetchall()`, and also its SQL
run straight to Arrow on its own connection, which leaves out fhir4ds's Python row conversion).
Reading the files is timed apart and not counted in resources/s. Resources/s = resources of the
views' types / the sum of the views' times.

fhir4ds 0.5.1 notes (measured as it is, not patched): its DuckDB dialect runs `INSTALL json`,
which downloads the extension (no network here; JSON is built into DuckDB's wheel), so the bench
hands it a connection on which that one statement is `LOAD json`; its file loader parses a whole
file with json.load (NDJSON fails and falls back to one insert per resource), so its table is
filled with one INSERT ... SELECT from read_ndjson_objects, like the one it would bulk-load.
fhir4ds is GPL-3.0: it is installed for the benchmark only (the `bench` extra), never imported by
healthdq.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
OUT = HERE.parent / "out" / "bench"


def _normal(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, Decimal | float | int):
        return round(float(value), 6)
    return str(value)


def _rows(table: Any) -> Counter[tuple[Any, ...]]:
    """A pyarrow Table's or a list of tuples' rows as a multiset of normalised tuples."""
    if isinstance(table, list):
        return Counter(tuple(_normal(v) for v in row) for row in table)
    columns = [table.column(i).to_pylist() for i in range(table.num_columns)]
    return Counter(tuple(_normal(v) for v in row) for row in zip(*columns, strict=True))


def _compare(ours: Counter[tuple[Any, ...]], theirs: Counter[tuple[Any, ...]]) -> dict[str, Any]:
    same = sum((ours & theirs).values())
    # Columns the peer never fills (NULL in every row: a path it does not evaluate, such as
    # getReferenceKey() or first()) are left out of a second, narrower comparison.
    filled = sorted({i for row in theirs for i, v in enumerate(row) if v is not None})

    def project(rows: Counter[tuple[Any, ...]]) -> Counter[tuple[Any, ...]]:
        out: Counter[tuple[Any, ...]] = Counter()
        for row, n in rows.items():
            out[tuple(row[i] for i in filled)] += n
        return out

    width = len(next(iter(theirs))) if theirs else 0
    return {
        "rows_ours": sum(ours.values()),
        "rows_theirs": sum(theirs.values()),
        "rows_identical": same,
        "identical": ours == theirs,
        "columns": width,
        "columns_filled_by_theirs": len(filled),
        "rows_identical_on_filled": sum((project(ours) & project(theirs)).values()),
    }


def _views(types: set[str], which: str) -> dict[str, dict[str, Any]]:
    if which == "ukcore":
        from healthdq.fhir.ukcore import ukcore_views

        views = ukcore_views()
    else:
        from healthdq.fhir.view import builtin_views

        views = builtin_views()
    return {n: v for n, v in views.items() if v.get("resource") in types}


def _healthdq(engine_name: str, export: Path, views: dict[str, dict[str, Any]]) -> dict[str, Any]:
    from healthdq.engine.registry import create_engine
    from healthdq.fhir.read import read_fhir
    from healthdq.fhir.view import run_view

    engine = create_engine(engine_name)
    try:
        t0 = time.perf_counter()
        issues = read_fhir(engine, str(export), "fhir_resources")
        read_s = time.perf_counter() - t0
        counts = {
            str(t): int(n)
            for t, n in engine.fetch(
                "SELECT resource_type, count(*) FROM fhir_resources GROUP BY resource_type"
            )
        }
        out: dict[str, Any] = {"read_seconds": read_s, "read_issues": len(issues), "views": {}}
        for name, view in views.items():
            t0 = time.perf_counter()
            table = run_view(engine, view, "fhir_resources")
            seconds = time.perf_counter() - t0
            out["views"][name] = {
                "resource": view["resource"],
                "resources": counts.get(view["resource"], 0),
                "rows": table.num_rows,
                "seconds": seconds,
                "table": table,
            }
        return out
    finally:
        engine.close()


class _Connection:
    """A DuckDB connection for fhir4ds on which `INSTALL json; LOAD json;` is `LOAD json`."""

    def __init__(self, con: Any) -> None:
        self._con = con

    def execute(self, sql: str, *args: Any, **kwargs: Any) -> Any:
        if sql.strip() == "INSTALL json; LOAD json;":
            return self._con.execute("LOAD json")
        return self._con.execute(sql, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)


def _fhir4ds(export: Path, views: dict[str, dict[str, Any]]) -> dict[str, Any]:
    import duckdb
    from fhir4ds import ConnectedDatabase, FHIRDataStore
    from fhir4ds.dialects import DuckDBDialect

    logging.disable(logging.CRITICAL)  # fhir4ds logs every query
    raw = duckdb.connect()
    db = ConnectedDatabase(
        FHIRDataStore(dialect=DuckDBDialect(connection=_Connection(raw))), connection_type="duckdb"
    )
    files = sorted(str(p) for p in export.iterdir() if p.name.endswith((".ndjson", ".ndjson.gz")))
    t0 = time.perf_counter()
    listed = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
    raw.execute(
        f"INSERT INTO fhir_resources (resource) SELECT json FROM read_ndjson_objects([{listed}])"
    )
    out: dict[str, Any] = {"read_seconds": time.perf_counter() - t0, "views": {}}
    for name, view in views.items():
        entry: dict[str, Any] = {}
        try:
            t0 = time.perf_counter()
            result = db.execute(view)
            rows = result.fetchall()
            entry["seconds"] = time.perf_counter() - t0
            entry["rows"] = len(rows)
            entry["table"] = rows
            t0 = time.perf_counter()
            raw.sql(result.sql).to_arrow_table()
            entry["sql_to_arrow_seconds"] = time.perf_counter() - t0
        except Exception as exc:  # fhir4ds's own failure on this view: reported, not fatal
            entry["error"] = str(exc).splitlines()[0][:200]
        out["views"][name] = entry
    raw.close()
    return out


def _rate(run: dict[str, Any], key: str = "seconds") -> float | None:
    views = [v for v in run["views"].values() if key in v]
    if not views:
        return None
    return sum(v.get("resources", 0) for v in views) / sum(v[key] for v in views)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000, help="resources in the export")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--export", type=Path, default=OUT / "fhir-export")
    ap.add_argument("--views", choices=["builtin", "ukcore"], default="builtin")
    ap.add_argument("--no-spark", action="store_true")
    ap.add_argument("--spark-driver-memory", default="4g", help="Spark driver heap (local mode)")
    ap.add_argument("--no-fhir4ds", action="store_true")
    ap.add_argument("--json", type=Path, default=OUT / "fhir_view_bench.json")
    args = ap.parse_args()

    os.environ.setdefault(
        "PYSPARK_SUBMIT_ARGS", f"--driver-memory {args.spark_driver_memory} pyspark-shell"
    )
    from healthdq.synth.fhir import generate_fhir
    from healthdq.synth.fhir_spec import TYPES

    t0 = time.perf_counter()
    generated = generate_fhir(args.rows, args.export, seed=args.seed)
    print(f"export: {args.rows:,} resources in {time.perf_counter() - t0:.1f} s -> {args.export}")
    views = _views(set(TYPES), args.views)
    print(f"views ({args.views}): {', '.join(views)}")

    report: dict[str, Any] = {"rows": args.rows, "counts": generated.counts, "engines": {}}
    report["load_average_at_start"] = os.getloadavg()
    runs: dict[str, dict[str, Any]] = {"healthdq-duckdb": _healthdq("duckdb", args.export, views)}
    if not args.no_spark:
        runs["healthdq-spark"] = _healthdq("spark", args.export, views)
    if not args.no_fhir4ds:
        theirs = _fhir4ds(args.export, views)
        for name, entry in theirs["views"].items():
            entry["resources"] = runs["healthdq-duckdb"]["views"][name]["resources"]
        runs["fhir4ds"] = theirs

    base = runs["healthdq-duckdb"]["views"]
    for engine, run in runs.items():
        summary: dict[str, Any] = {"read_seconds": run["read_seconds"], "views": {}}
        for name, entry in run["views"].items():
            row = {k: v for k, v in entry.items() if k != "table"}
            if "table" in entry and engine != "healthdq-duckdb":
                row |= _compare(_rows(base[name]["table"]), _rows(entry["table"]))
            summary["views"][name] = row
        summary["resources_per_second"] = _rate(run)
        if engine == "fhir4ds":
            summary["resources_per_second_sql_to_arrow"] = _rate(run, "sql_to_arrow_seconds")
        report["engines"][engine] = summary

    report["load_average_at_end"] = os.getloadavg()
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")

    print()
    print(
        "| view | resources | healthdq DuckDB s (resources/s) | Spark s (resources/s) "
        "| fhir4ds s | rows identical |"
    )
    print("| --- | ---: | ---: | ---: | ---: | --- |")
    for name, entry in base.items():
        spark = report["engines"].get("healthdq-spark", {}).get("views", {}).get(name, {})
        f4 = report["engines"].get("fhir4ds", {}).get("views", {}).get(name, {})
        same = []
        if spark:
            same.append(f"Spark {'yes' if spark.get('identical') else 'NO'}")
        if f4:
            if "error" in f4:
                same.append(f"fhir4ds error: {f4['error']}")
            else:
                same.append(
                    f"fhir4ds {'yes' if f4.get('identical') else 'NO'} "
                    f"({f4.get('rows_identical', 0):,}/{entry['rows']:,}); on the "
                    f"{f4.get('columns_filled_by_theirs', 0)} of {f4.get('columns', 0)} columns "
                    f"it fills: {f4.get('rows_identical_on_filled', 0):,}/{entry['rows']:,}"
                )
        spark_s = spark.get("seconds", float("nan"))
        print(
            f"| {name} | {entry['resources']:,} | {entry['seconds']:.2f} "
            f"({entry['resources'] / entry['seconds']:,.0f}) | "
            f"{spark_s:.2f} ({entry['resources'] / spark_s:,.0f}) | "
            f"{f4.get('seconds', float('nan')):.2f} | {'; '.join(same)} |"
        )
    print()
    for engine, summary in report["engines"].items():
        rate = summary["resources_per_second"]
        extra = ""
        if "resources_per_second_sql_to_arrow" in summary:
            arrow = summary["resources_per_second_sql_to_arrow"]
            extra = f" (its SQL straight to Arrow: {arrow:,.0f}/s)" if arrow else ""
        shown = f"{rate:,.0f}" if rate else "n/a"
        print(f"{engine}: {shown} resources/s{extra}; read {summary['read_seconds']:.1f} s")
    start, end = report["load_average_at_start"], report["load_average_at_end"]
    print(f"load average (1, 5, 15 min): start {start}, end {end}")
    print(f"\nwritten {args.json}")


if __name__ == "__main__":
    main()
