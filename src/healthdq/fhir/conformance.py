"""The official SQL-on-FHIR v2 test suite, run on DuckDB and on Spark.

    python -m healthdq.fhir.conformance TESTS_DIR OUT_DIR [--engines duckdb,spark]

Each suite file carries its resources inline and a list of cases (a ViewDefinition with the rows
it must give, or `expectError`). The resources are loaded into a table of the FHIR_CONTRACT
shape (`fhir_resources`), every view runs through `run_view` (one SQL query in the engine), and
the rows are compared as a multiset (numbers to 1e-9, column names exactly, column order when
the case gives `expectColumns`). One report per engine is written in the suite's test-report
format (`{file: {"tests": [{"name", "result": {"passed", "reason"?}}]}}`) to
OUT_DIR/test-report-<engine>.json. Exit 1 only when a case outside KNOWN_FAILURES fails.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from healthdq.engine.base import Engine

# (file, case title) -> why it fails; kept empty while the suite passes in full.
KNOWN_FAILURES: dict[tuple[str, str], str] = {}


def resource_rows(resources: list[dict[str, Any]], source_file: str) -> Any:
    """The FHIR_CONTRACT columns of in-memory resources, as a pyarrow Table."""
    import pyarrow as pa

    return pa.table(
        {
            "resource_type": pa.array([r.get("resourceType") for r in resources], pa.string()),
            "id": pa.array([r.get("id") for r in resources], pa.string()),
            "resource": pa.array([json.dumps(r) for r in resources], pa.string()),
            "full_url": pa.array([None] * len(resources), pa.string()),
            "source_file": pa.array([source_file] * len(resources), pa.string()),
            "source_line": pa.array(list(range(1, len(resources) + 1)), pa.int64()),
            "source_entry": pa.array([None] * len(resources), pa.int32()),
        }
    )


def register_resources(
    engine: Engine,
    resources: list[dict[str, Any]],
    table: str = "fhir_resources",
    source_file: str = "inline",
) -> None:
    """Make in-memory resources the engine table `table` (for tests and the suite)."""
    rows = resource_rows(resources, source_file)
    loader = _LOADERS.get(engine.dialect)
    if loader is None:
        raise ValueError(f"cannot load resources into the {engine.name} engine")
    loader(engine, rows, table)


def _load_duckdb(engine: Any, rows: Any, table: str) -> None:
    engine.con.register("__fhir_rows", rows)
    engine.con.execute(
        f'CREATE OR REPLACE TABLE "{table}" AS SELECT resource_type, id,'
        " CAST(resource AS JSON) AS resource, full_url, source_file, source_line, source_entry"
        " FROM __fhir_rows"
    )
    engine.con.unregister("__fhir_rows")


def _load_spark(engine: Any, rows: Any, table: str) -> None:
    # A local relation from plain rows: Spark plans the small suite queries without a job.
    schema = (
        "resource_type string, id string, resource string, full_url string,"
        " source_file string, source_line bigint, source_entry int"
    )
    data = [tuple(r.values()) for r in rows.to_pylist()]
    engine.spark.createDataFrame(data, schema).createOrReplaceTempView(table)


_LOADERS = {"duckdb": _load_duckdb, "spark": _load_spark}


# -- comparing rows ---------------------------------------------------------------------------
def _norm(value: Any) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        number = float(value)
        return round(number, 9) if math.isfinite(number) else str(number)
    if isinstance(value, (list, tuple)):
        return [_norm(v) for v in value]
    if isinstance(value, dict):
        return {k: _norm(v) for k, v in value.items()}
    return str(value)


def _key(row: dict[str, Any]) -> str:
    return json.dumps(row, sort_keys=True, default=str)


def compare(expected: list[dict[str, Any]], actual: list[dict[str, Any]]) -> str | None:
    """None when the rows match as a multiset, else the reason."""
    want = sorted((_norm(r) for r in expected), key=_key)
    got = sorted((_norm(r) for r in actual), key=_key)
    if len(want) != len(got):
        return f"expected {len(want)} rows, got {len(got)}"
    for w, g in zip(want, got, strict=True):
        if w != g:
            return f"expected row {_key(w)}, got {_key(g)}"
    return None


def run_case(engine: Engine, case: dict[str, Any]) -> str | None:
    """None when the case passes, else why not."""
    from healthdq.fhir.view import run_view

    try:
        table = run_view(engine, case["view"])
    except Exception as exc:
        if case.get("expectError"):
            return None
        return f"error: {str(exc).splitlines()[0][:300]}"
    if case.get("expectError"):
        return "expected an error, the view ran"
    if "expectColumns" in case and table.column_names != case["expectColumns"]:
        return f"expected columns {case['expectColumns']}, got {table.column_names}"
    rows = table.to_pylist()
    if "expect" in case:
        expected = case["expect"]
        if expected and rows and set(expected[0]) != set(table.column_names):
            return f"expected columns {sorted(expected[0])}, got {table.column_names}"
        return compare(expected, rows)
    return None


def run_suite(engine: Engine, tests_dir: Path) -> dict[str, Any]:
    """The suite's test report for one engine."""
    report: dict[str, Any] = {}
    for path in sorted(tests_dir.glob("*.json")):
        suite = json.loads(path.read_text(encoding="utf-8"))
        register_resources(engine, suite.get("resources", []), source_file=path.name)
        results = []
        for case in suite.get("tests", []):
            reason = run_case(engine, case)
            result: dict[str, Any] = {"passed": reason is None}
            if reason is not None:
                result["reason"] = reason
            results.append({"name": case.get("title", ""), "result": result})
        report[path.name] = {"tests": results}
    return report


def _engine(name: str) -> Engine:
    if name == "spark":
        from healthdq.engine.spark import SparkEngine, create_session

        session = create_session(app_name="healthdq-sof-conformance")
        # The suite's error cases raise inside tasks; their stack traces are not news.
        session.sparkContext.setLogLevel("OFF")
        logging.getLogger("SQLQueryContextLogger").disabled = True
        return SparkEngine(spark=session)
    from healthdq.engine.duckdb import DuckDBEngine

    return DuckDBEngine()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tests_dir", type=Path)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--engines", default="duckdb,spark")
    args = parser.parse_args(argv)
    if not args.tests_dir.is_dir():
        print(f"{args.tests_dir}: no such folder (the sql-on-fhir-v2 tests)", file=sys.stderr)
        return 2
    args.out_dir.mkdir(parents=True, exist_ok=True)
    regressions = 0
    for name in [e.strip() for e in args.engines.split(",") if e.strip()]:
        started = time.perf_counter()
        engine = _engine(name)
        try:
            report = run_suite(engine, args.tests_dir)
        finally:
            engine.close()
            if name == "spark":
                engine.spark.stop()  # type: ignore[attr-defined]
        out = args.out_dir / f"test-report-{name}.json"
        out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        total = passed = 0
        for file, body in report.items():
            for test in body["tests"]:
                total += 1
                if test["result"]["passed"]:
                    passed += 1
                    continue
                known = KNOWN_FAILURES.get((file, test["name"]))
                if known is None:
                    regressions += 1
                mark = f"known: {known}" if known else test["result"].get("reason", "")
                print(f"  {name} FAIL {file} / {test['name']}: {mark}")
        seconds = time.perf_counter() - started
        print(f"SQL-on-FHIR v2 suite on {name}: {passed}/{total} passed ({seconds:.1f} s) -> {out}")
    return 1 if regressions else 0


if __name__ == "__main__":
    sys.exit(main())
