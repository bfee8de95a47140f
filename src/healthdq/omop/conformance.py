"""`make conformance`: run the OMOP pack on the Eunomia Synthea CDM and summarise by Kahn category.

Failing checks are results, not failures of this command: it exits 1 only when a check could not
run (status error) or the tool crashes, and 0 with a note when the shared data is absent.
"""

from __future__ import annotations

import json
import sys
import tempfile
import zipfile
from datetime import date
from pathlib import Path

from healthdq.omop.dqd_json import overview, write_dqd_json
from healthdq.omop.runner import run_omop

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


def main(argv: list[str]) -> int:
    archive = Path(argv[0])
    out = Path(argv[1]) if len(argv) > 1 else Path("out/conformance")
    if not archive.exists():
        print(f"conformance: {archive} not found (set SHARED or HEALTHDQ_SHARED); skipped")
        return 0
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="healthdq-eunomia-") as tmp:
        folder = _extract(archive, Path(tmp)) if archive.suffix == ".zip" else archive
        run = run_omop(str(folder), run_date=RUN_DATE)
    write_dqd_json(run, out / "omop-dqd.json")
    summary = run.summary()
    seconds = (run.finished - run.started).total_seconds()
    payload = {
        "source": str(archive),
        "run_date": RUN_DATE.isoformat(),
        "tables": len(run.cdm.tables),
        "queries": run.queries,
        "seconds": round(seconds, 3),
        "by_category": summary,
        "dqd_overview": overview(run),
    }
    (out / "omop-summary.json").write_text(json.dumps(payload, indent=2), encoding="utf-8")
    print(
        f"OMOP CDM v5.4 (DQD checks) on {archive.name}: {len(run.cdm.tables)} tables, "
        f"{run.queries} queries, {seconds:.1f} s"
    )
    print(f"{'category':14} {'executed':>8} {'passed':>7} {'failed':>7} {'n/a':>6} {'error':>6}")
    for cat, c in summary.items():
        print(
            f"{cat:14} {c['executed']:>8} {c['passed']:>7} {c['failed']:>7} "
            f"{c['not_applicable']:>6} {c['error']:>6}"
        )
    print(f"written: {out / 'omop-summary.json'}, {out / 'omop-dqd.json'}")
    errors = summary.get("Total", {}).get("error", 0)
    if errors:
        for o in run.outcomes:
            if o.status == "error":
                print(f"error: {o.check.check_id}: {o.error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
