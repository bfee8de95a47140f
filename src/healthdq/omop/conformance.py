"""`make conformance`: run the OMOP pack on the Eunomia Synthea CDM and summarise by Kahn category.

Failing checks are results, not failures of this command: it exits 1 only when a check could not
run (status error) or the tool crashes, and 0 with a note when the shared data is absent.

With --parity it also runs every check on Spark (local[2]) over the same CSV folder and exits 1
if any check's status, violated rows, denominator or Not Applicable reason differs from DuckDB's,
printing the checks that differ (skipped with a note when pyspark or Java is missing).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import shutil
import sys
import tempfile
import time
import zipfile
from datetime import date
from pathlib import Path
from typing import Any

from healthdq.omop.runner import run_omop, summary_by_category
from healthdq.report.dqd_json import overview, write_dqd_json
from healthdq.results import RunResult

# A fixed 'today' keeps the plausibleValueHigh (future date) checks reproducible.
RUN_DATE = date(2025, 1, 1)


def _extract(archive: Path, into: Path) -> Path:
    with zipfile.ZipFile(archive) as zf:
        for member in zf.namelist():
            # macOS resource forks (__MACOSX/._X.csv) are not tables.
            if member.startswith("__MACOSX/") or member.endswith("/"):
                continue
            target = into / Path(member).name
            target.write_bytes(zf.read(member))
    return into


def _outcomes(run: RunResult) -> dict[str, tuple[Any, ...]]:
    return {
        r.rule_id: (r.status, r.violating_rows, r.denominator, r.not_applicable_reason, r.error)
        for r in run.rules
    }


def parity(folder: Path, duck: RunResult) -> dict[str, Any] | None:
    """Run the CDM at `folder` on Spark and list the checks whose outcome differs from `duck`."""
    if importlib.util.find_spec("pyspark") is None or shutil.which("java") is None:
        print("spark parity: skipped (needs pyspark and a Java runtime)")
        return None
    from healthdq.engine.spark import SparkEngine

    started = time.perf_counter()
    engine = SparkEngine(master="local[2]")
    try:
        spark = run_omop(str(folder), engine=engine, run_date=RUN_DATE)
    finally:
        engine.close()
    seconds = time.perf_counter() - started
    mine, theirs = _outcomes(duck), _outcomes(spark)
    fields = ("status", "violated", "denominator", "na_reason", "error")
    differing = []
    for check_id, expected in mine.items():
        got = theirs.get(check_id)
        if got != expected:
            what = (
                "; ".join(
                    f"{f} {a!r} on duckdb, {b!r} on spark"
                    for f, a, b in zip(fields, expected, got, strict=True)
                    if a != b
                )
                if got is not None
                else "missing on spark"
            )
            differing.append(f"{check_id}: {what}")
    if overview(spark) != overview(duck):
        differing.append("DQD overview differs")
    return {
        "checks": len(mine),
        "differing": differing,
        "seconds": round(seconds, 3),
        "summary": summary_by_category(spark)["Total"],
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m healthdq.omop.conformance")
    parser.add_argument("archive", type=Path, help="Eunomia CDM zip (or a folder of CSV files)")
    parser.add_argument("out", type=Path, nargs="?", default=Path("out/conformance"))
    parser.add_argument(
        "--parity", action="store_true", help="also run on Spark; exit 1 if any check differs"
    )
    args = parser.parse_args(argv)
    archive: Path = args.archive
    out: Path = args.out
    if not archive.exists():
        print(f"conformance: {archive} not found (set SHARED or HEALTHDQ_SHARED); skipped")
        return 0
    out.mkdir(parents=True, exist_ok=True)
    checked: dict[str, Any] | None = None
    with tempfile.TemporaryDirectory(prefix="healthdq-eunomia-") as tmp:
        folder = _extract(archive, Path(tmp)) if archive.suffix == ".zip" else archive
        run = run_omop(str(folder), run_date=RUN_DATE)
        if args.parity:
            checked = parity(folder, run)
    write_dqd_json(run, out / "omop-dqd.json")
    summary = summary_by_category(run)
    seconds = (run.finished_at - run.started_at).total_seconds()
    queries = sum(t.scans for t in run.tables)
    payload = {
        "source": str(archive),
        "run_date": RUN_DATE.isoformat(),
        "tables": len(run.tables),
        "queries": queries,
        "seconds": round(seconds, 3),
        "by_category": summary,
        "dqd_overview": overview(run),
    }
    if checked is not None:
        payload["spark_parity"] = checked
    (out / "omop-summary.json").write_text(json.dumps(payload, indent=2), encoding="utf-8")
    print(
        f"OMOP CDM v5.4 (DQD checks) on {archive.name}: {len(run.tables)} tables, "
        f"{queries} queries, {seconds:.1f} s"
    )
    print(f"{'category':14} {'executed':>8} {'passed':>7} {'failed':>7} {'n/a':>6} {'error':>6}")
    for cat, c in summary.items():
        print(
            f"{cat:14} {c['executed']:>8} {c['passed']:>7} {c['failed']:>7} "
            f"{c['not_applicable']:>6} {c['error']:>6}"
        )
    print(f"written: {out / 'omop-summary.json'}, {out / 'omop-dqd.json'}")
    status = 0
    errors = summary.get("Total", {}).get("error", 0)
    if errors:
        for r in run.rules:
            if r.status == "error":
                print(f"error: {r.rule_id}: {r.error}", file=sys.stderr)
        status = 1
    if checked is not None:
        differing = checked["differing"]
        print(
            f"spark parity (local[2]): {checked['checks']} checks, {len(differing)} differ, "
            f"{checked['seconds']:.1f} s"
        )
        for line in differing:
            print(f"differs: {line}", file=sys.stderr)
        if differing:
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
