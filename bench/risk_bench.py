"""Benchmark: `healthdq risk` at 10M rows, beside pyCANON at 1M, and the anonymisation search.

1. Risk on 10M rows with 5 quasi-identifiers (age band, sex, postcode district, ethnicity, IMD
   decile): k, risks, sample uniques and the uniqueness models (target <= 10 s); the same with a
   sensitive attribute (ICD-10 3-character diagnosis) for l and t.
2. pyCANON on 1M rows of the same data, in the same run: each of k, l, entropy l and t in its own
   process under a time limit (by default 60x healthdq's time for that measure, so a limit
   reached still proves 60x); a limit reached is reported as a lower bound ("> N s").
   healthdq's time for the same figures on the same file is measured here too (target >= 50x).
3. The search on 1M rows with 5 hierarchies, target k = 10, 1% suppression: wall time and
   lattice nodes evaluated.

Synthetic data (own generator, DuckDB SQL, seeded): skewed like an English inpatient extract.

    python bench/risk_bench.py                         # the figures in BENCHMARKS.md
    python bench/risk_bench.py --rows 1000000 --pycanon-rows 100000 --pycanon-timeout 60
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
QI = ["age_band", "sex", "postcode_district", "ethnicity", "imd_decile"]

HIERARCHIES = """\
age_band:
  - {AGES10}
  - {AGES40}
  - "*"
sex:
  - "*"
postcode_district:
  - prefix: 2
  - prefix: 1
  - "*"
ethnicity:
  - {{"A": "White", "B": "White", "C": "White", "D": "Mixed", "E": "Mixed", "F": "Mixed",
     "G": "Mixed", "H": "Asian", "J": "Asian", "K": "Asian", "L": "Asian", "M": "Black",
     "N": "Black", "P": "Black", "R": "Other", "S": "Other", "Z": "Not stated"}}
  - "*"
imd_decile:
  - {{"1": "1-2", "2": "1-2", "3": "3-4", "4": "3-4", "5": "5-6", "6": "5-6", "7": "7-8",
     "8": "7-8", "9": "9-10", "10": "9-10"}}
  - "*"
"""


def ensure_data(rows: int) -> Path:
    """Seeded synthetic extract: 19 five-year age bands, sex, ~1,800 postcode districts (skewed),
    17 ethnic categories (skewed), IMD decile, ~400 ICD-10 3-character codes (skewed)."""
    import duckdb

    path = DATA / f"risk_{rows}.parquet"
    if path.exists():
        return path
    DATA.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute("SELECT setseed(0.42)")
    con.execute(
        f"""
        COPY (
          SELECT
            CAST(b * 5 AS VARCHAR) || '-' || CAST(b * 5 + 4 AS VARCHAR) AS age_band,
            sex, postcode_district, ethnicity, imd_decile, diagnosis
          FROM (
            SELECT
              CAST(least(18, floor(sqrt(random()) * 19)) AS INTEGER) AS b,
              CASE WHEN random() < 0.52 THEN '2' WHEN random() < 0.995 THEN '1' ELSE '9' END
                AS sex,
              chr(65 + CAST(floor(pow(random(), 3) * 20) AS INTEGER))
                || chr(65 + CAST(floor(random() * 3) AS INTEGER))
                || CAST(1 + CAST(floor(pow(random(), 2) * 30) AS INTEGER) AS VARCHAR)
                AS postcode_district,
              CASE WHEN random() < 0.75 THEN 'A'
                   ELSE substr('BCDEFGHJKLMNPRSZ', CAST(floor(random() * 16) AS INTEGER) + 1, 1)
              END AS ethnicity,
              CAST(CAST(floor(random() * 10) AS INTEGER) + 1 AS VARCHAR) AS imd_decile,
              chr(65 + CAST(floor(pow(random(), 2) * 20) AS INTEGER))
                || lpad(CAST(CAST(floor(pow(random(), 2) * 20) AS INTEGER) AS VARCHAR), 2, '0')
                AS diagnosis
            FROM range({rows})
          )
        ) TO '{path}' (FORMAT parquet)
        """
    )
    con.close()
    return path


def hierarchies_file() -> Path:
    ages10 = {f"{b * 5}-{b * 5 + 4}": f"{b // 2 * 10}-{b // 2 * 10 + 9}" for b in range(19)}
    ages40 = {f"{b * 5}-{b * 5 + 4}": f"{b // 8 * 40}-{b // 8 * 40 + 39}" for b in range(19)}
    path = DATA / "risk_hierarchies.yaml"
    path.write_text(
        HIERARCHIES.format(AGES10=json.dumps(ages10), AGES40=json.dumps(ages40)), encoding="utf-8"
    )
    return path


def ours(path: Path, sensitive: list[str], population: int | None = None) -> tuple[float, Any]:
    from healthdq import pipeline

    settings = pipeline.Settings(keep_run=False, audit_log=DATA / "risk_bench_audit.jsonl")
    started = time.perf_counter()
    report = pipeline.risk(
        str(path), qi=QI, sensitive=sensitive, population=population, settings=settings
    )
    return time.perf_counter() - started, report


def _pycanon_worker(path: str, what: str, box: Any) -> None:
    import pandas as pd
    from pycanon import anonymity

    frame = pd.read_parquet(path)
    started = time.perf_counter()
    if what == "k":
        value: Any = anonymity.k_anonymity(frame, QI)
    elif what == "l":
        value = anonymity.l_diversity(frame, QI, ["diagnosis"])
    elif what == "entropy_l":
        value = anonymity.entropy_l_diversity(frame, QI, ["diagnosis"])
    else:
        value = anonymity.t_closeness(frame, QI, ["diagnosis"])
    box.put((time.perf_counter() - started, value))


def pycanon(path: Path, what: str, timeout: float) -> tuple[float | None, Any]:
    """(seconds, value) of one pyCANON measure, or (None, None) when it hit the time limit.
    Reading the Parquet file into pandas is not timed."""
    box: Any = mp.Queue()
    proc = mp.Process(target=_pycanon_worker, args=(str(path), what, box))
    proc.start()
    proc.join(timeout + 60)  # + reading the file
    if proc.is_alive():
        proc.terminate()
        proc.join()
        return None, None
    return box.get() if not box.empty() else (None, None)


def run_search(path: Path) -> tuple[float, Any]:
    from healthdq import pipeline

    settings = pipeline.Settings(keep_run=False, audit_log=DATA / "risk_bench_audit.jsonl")
    started = time.perf_counter()
    result = pipeline.risk_search(
        str(path),
        qi=QI,
        hierarchies=hierarchies_file(),
        target_k=10,
        max_suppression=0.01,
        settings=settings,
    )
    return time.perf_counter() - started, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--pycanon-rows", type=int, default=1_000_000)
    parser.add_argument(
        "--pycanon-timeout",
        type=float,
        default=0.0,
        help="pyCANON time limit per measure in seconds; 0 (default) = --pycanon-ratio times "
        "healthdq's time for that measure, so a pyCANON run that hits the limit still proves "
        "the ratio",
    )
    parser.add_argument("--pycanon-ratio", type=float, default=60.0)
    parser.add_argument(
        "--pycanon-measures",
        default="k,l,entropy_l,t",
        help="pyCANON measures to run, comma-separated (k, l, entropy_l, t)",
    )
    parser.add_argument("--search-rows", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path, default=DATA / "risk_bench.json")
    args = parser.parse_args()
    results: dict[str, Any] = {}

    big = ensure_data(args.rows)
    ours(big, [])  # warm the file cache
    seconds, report = ours(big, [], population=60_000_000)
    results["risk_10m_qi"] = {
        "rows": report.rows,
        "classes": report.classes,
        "k": report.k,
        "seconds": seconds,
    }
    print(
        f"risk, {report.rows:,} rows, 5 QIs (+ uniqueness models): {seconds:.2f} s "
        f"({report.classes:,} classes, k = {report.k}) target <= 10 s: "
        f"{'met' if seconds <= 10 else 'not met'}"
    )
    seconds, report = ours(big, ["diagnosis"])
    results["risk_10m_qi_sensitive"] = {
        "seconds": seconds,
        "l": report.l_distinct,
        "t": report.t_closeness,
    }
    print(f"risk, {report.rows:,} rows, 5 QIs + diagnosis (l, t): {seconds:.2f} s")

    mid = ensure_data(args.pycanon_rows)
    seconds_k, report_k = ours(mid, [])
    seconds_all, report_all = ours(mid, ["diagnosis"])
    results["pycanon"] = {"rows": args.pycanon_rows, "timeout": args.pycanon_timeout}
    print(
        f"healthdq on {args.pycanon_rows:,} rows: k {seconds_k:.2f} s; k, l, entropy l, t "
        f"{seconds_all:.2f} s"
    )
    mine = {
        "k": report_k.k,
        "l": report_all.l_distinct,
        "entropy_l": report_all.l_entropy,
        "t": report_all.t_closeness,
    }
    for what, our_seconds in (
        ("k", seconds_k),
        ("l", seconds_all),
        ("entropy_l", seconds_all),
        ("t", seconds_all),
    ):
        if what not in args.pycanon_measures.split(","):
            continue
        limit = args.pycanon_timeout or max(30.0, args.pycanon_ratio * our_seconds)
        theirs, value = pycanon(mid, what, limit)
        if theirs is None:
            line = f"pyCANON {what}: > {limit:.0f} s (time limit) -> >= {limit / our_seconds:.0f}x"
        else:
            agree = "agrees" if value == mine[what] else f"DIFFERS ({value} vs {mine[what]})"
            line = f"pyCANON {what}: {theirs:.2f} s -> {theirs / our_seconds:.0f}x ({agree})"
        results["pycanon"][what] = {"seconds": theirs, "ours": our_seconds, "limit": limit}
        print(line, flush=True)

    small = ensure_data(args.search_rows)
    seconds, result = run_search(small)
    results["search"] = {
        "rows": result.rows,
        "seconds": seconds,
        "nodes_evaluated": result.nodes_evaluated,
        "nodes_total": result.nodes_total,
        "transformation": result.transformation,
        "suppressed": result.records_suppressed,
    }
    print(
        f"search, {result.rows:,} rows, 5 hierarchies, k = 10, <= 1% suppressed: "
        f"{seconds:.2f} s, {result.nodes_evaluated} of {result.nodes_total} nodes evaluated, "
        f"chosen {result.transformation}"
    )
    args.out.write_text(json.dumps(results, indent=2, default=str), encoding="utf-8")


if __name__ == "__main__":
    main()
