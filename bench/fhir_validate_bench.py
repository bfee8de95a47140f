"""Benchmark: FHIR R4 structural validation (issue 11, item 7) beside a pure-Python baseline.

One synthetic UK Core shaped bulk export (`healthdq synth fhir`: Patient, Encounter,
Observation, Condition, Procedure, Organization, Practitioner NDJSON with seeded defects) is
validated by healthdq (read_fhir + validate, DuckDB) and by the `fhir.resources` pydantic models
(json.loads + model_validate per resource, R4B models: the package has no R4 4.0.1 models),
on the same files. The baseline runs on the first `--baseline-rows` resources of the export
(the same share of every file), as a pure-Python loop takes about a millisecond per resource;
its rate is per resource, like healthdq's.

    python bench/fhir_validate_bench.py                      # 1M resources, baseline on 20k
    python bench/fhir_validate_bench.py --rows 100000 --baseline-rows 5000

Prints resources/s for each, the ratio, healthdq's walked share and peak RSS, and writes them
as JSON (--json).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"


def export(rows: int, seed: int) -> Path:
    out = DATA / f"fhir_{rows}_{seed}"
    if (out / "Patient.ndjson").exists():
        return out
    out.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "healthdq", "synth", "fhir", "--rows", str(rows)]
    subprocess.run([*cmd, "--seed", str(seed), "--out", str(out)], check=True)
    return out


def healthdq_run(folder: Path, threads: int | None) -> dict[str, float]:
    from healthdq.engine.duckdb import DuckDBEngine
    from healthdq.fhir.read import read_fhir
    from healthdq.fhir.validate import validate

    engine = DuckDBEngine(threads=threads)
    try:
        t0 = time.perf_counter()
        read_fhir(engine, str(folder))
        # The reader's table is a view over the files: materialise it so that reading and
        # validating are timed apart.
        engine.con.execute("CREATE TABLE fhir_table AS SELECT * FROM fhir_resources")
        t1 = time.perf_counter()
        result = validate(engine, "fhir_table")
        t2 = time.perf_counter()
    finally:
        engine.close()
    n = sum(result.resources.values())
    return {
        "resources": n,
        "read_s": t1 - t0,
        "validate_s": t2 - t1,
        "issues": len(result.issues),
        "walked": result.walked,
        "resources_with_issues": len({(i.source_file, i.source_line) for i in result.issues}),
    }


def baseline_lines(folder: Path, limit: int) -> list[str]:
    """The first lines of every file, in proportion to its size, `limit` in all."""
    files = sorted(folder.glob("*.ndjson"))
    counts = {f: sum(1 for _ in f.open("rb")) for f in files}
    total = sum(counts.values())
    out: list[str] = []
    for f in files:
        take = max(1, round(limit * counts[f] / total))
        with f.open(encoding="utf-8") as fh:
            for i, line in enumerate(fh):
                if i >= take:
                    break
                out.append(line)
    return out


def baseline_run(lines: list[str]) -> dict[str, float]:
    from fhir.resources.R4B import get_fhir_model_class
    from pydantic import ValidationError

    invalid = 0
    t0 = time.perf_counter()
    for line in lines:
        data = json.loads(line)
        try:
            get_fhir_model_class(data["resourceType"]).model_validate(data)
        except (ValidationError, KeyError, ValueError):
            invalid += 1
    seconds = time.perf_counter() - t0
    return {"resources": len(lines), "validate_s": seconds, "invalid": invalid}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--baseline-rows", type=int, default=20_000)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    folder = export(args.rows, args.seed)
    ours = healthdq_run(folder, args.threads)
    base = baseline_run(baseline_lines(folder, args.baseline_rows))
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    ours_rate = ours["resources"] / ours["validate_s"]
    ours_e2e = ours["resources"] / (ours["validate_s"] + ours["read_s"])
    base_rate = base["resources"] / base["validate_s"]
    report = {
        "export": str(folder),
        "healthdq": {**ours, "resources_per_s": ours_rate, "with_read_resources_per_s": ours_e2e},
        "fhir.resources": {**base, "resources_per_s": base_rate},
        "ratio": ours_rate / base_rate,
        "ratio_with_read": ours_e2e / base_rate,
        "peak_rss_mb": rss_mb,
    }
    print(f"export: {folder} ({ours['resources']} resources)")
    print(
        f"healthdq validate: {ours['validate_s']:.2f} s, {ours_rate:,.0f} resources/s "
        f"(read {ours['read_s']:.2f} s; with read {ours_e2e:,.0f}/s); "
        f"{ours['issues']} issues in {ours['resources_with_issues']} resources; "
        f"{ours['walked']} resources walked node by node after the screen"
    )
    print(
        f"fhir.resources (R4B): {base['resources']} resources in {base['validate_s']:.2f} s, "
        f"{base_rate:,.0f} resources/s; {base['invalid']} rejected"
    )
    print(f"ratio: {report['ratio']:.1f}x (with read {report['ratio_with_read']:.1f}x)")
    print(f"peak RSS: {rss_mb:,.0f} MB")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
