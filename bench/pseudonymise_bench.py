"""Benchmark: `pseudonymise` on a synthetic APC extract against a plain copy by the same engine.

Both read the same Parquet file through the same reader and write Parquet with the same engine
in the same run; the copy selects every column unchanged, pseudonymise runs the whole job (key,
plan, tokens, generalisation, date shifts, the write, SHA-256 of input and output, the audit
entry). The ratio is pseudonymise's wall time over the copy's (issue 12 target: at most 3x).
Each figure is the best of `--repeat` runs. Besides wall time, the process's CPU time (user +
system, all engine threads) is measured for each run: on a shared machine whose other load comes
and goes, the CPU ratio is the steadier of the two. The machine's 1-minute load average at the end
of each run is printed beside it (the highest over the repeats).

    python bench/pseudonymise_bench.py                    # 10M rows (generated once, cached)
    python bench/pseudonymise_bench.py --rows 1000000 --repeat 1
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

# The same synthetic APC extract as the nhs-apc bench, cached in bench/data.
from run_bench import ensure_data

# The direct identifier tokenised, quasi-identifiers generalised, event dates shifted.
CONFIG = """\
patient: nhs_number
reference_date: 2025-03-31
default: keep
columns:
  nhs_number: token
  date_of_birth: age_band
  postcode: postcode_district
  gp_practice_code: drop
  admission_date: date_shift
  discharge_date: date_shift
"""
# The same with the record keys tokenised too (three HMACs per row).
CONFIG_ALL_IDS = CONFIG + "  episode_id: token\n  spell_id: token\n"


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def timed(run: Callable[[], float]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one run."""
    cpu = _cpu()
    wall = run()
    return wall, _cpu() - cpu


def plain_copy(data: Path, out: Path, threads: int | None) -> float:
    from healthdq.engine.duckdb import DuckDBEngine
    from healthdq.sources.base import ReadOptions, quote_ident

    t0 = time.perf_counter()
    engine = DuckDBEngine(threads=threads)
    try:
        reg = engine.register("apc", str(data), ReadOptions())
        columns = ", ".join(quote_ident(c) for c in reg.columns)
        engine.export(f'SELECT {columns} FROM "apc"', str(out), "parquet")
    finally:
        engine.close()
    return time.perf_counter() - t0


def pseudonymise(data: Path, out: Path, work: Path, threads: int | None, config: str) -> float:
    from healthdq import pipeline
    from healthdq.governance.pseudonymise import parse_config

    config_path = work / "pseudo.yaml"
    config_path.write_text(config, encoding="utf-8")
    key = work / "project.key"
    key.write_bytes(os.urandom(48))
    key.chmod(0o600)
    settings = pipeline.Settings(
        audit_log=work / "audit.jsonl", threads=threads, store=str(work / "runs.duckdb")
    )
    t0 = time.perf_counter()
    pipeline.pseudonymise(
        {"apc": str(data)},
        parse_config(config, str(config_path)),
        out,
        key_file=key,
        settings=settings,
    )
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    data = ensure_data(args.rows)
    runs: dict[str, Callable[[Path, Path], float]] = {
        "plain copy (same reader, DuckDB COPY to Parquet)": lambda out, work: plain_copy(
            data, out, args.threads
        ),
        "pseudonymise: NHS number token, age band, district, 2 date shifts": lambda out, work: (
            pseudonymise(data, out, work, args.threads, CONFIG)
        ),
        "pseudonymise: as above + episode_id and spell_id tokens": lambda out, work: pseudonymise(
            data, out, work, args.threads, CONFIG_ALL_IDS
        ),
    }
    best = {label: (float("inf"), float("inf")) for label in runs}
    load = dict.fromkeys(runs, 0.0)
    with tempfile.TemporaryDirectory(prefix="healthdq-pseudo-bench-") as tmp:
        work = Path(tmp)
        out = work / "out.parquet"
        for _ in range(args.repeat):
            for label, run in runs.items():
                wall, cpu = timed(lambda run=run: run(out, work))
                best[label] = (min(best[label][0], wall), min(best[label][1], cpu))
                load[label] = max(load[label], os.getloadavg()[0])
                out.unlink()
    rows = args.rows
    size = data.stat().st_size / 1e6
    print(
        f"pseudonymise benchmark: {rows:,} APC rows ({size:.0f} MB Parquet), best of {args.repeat}"
    )
    print("| run | wall s | rows/s (wall) | wall / copy | CPU s | CPU / copy | load avg |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    copy_wall, copy_cpu = next(iter(best.values()))
    for label, (wall, cpu) in best.items():
        print(
            f"| {label} | {wall:.2f} | {rows / wall:,.0f} | {wall / copy_wall:.2f}x "
            f"| {cpu:.2f} | {cpu / copy_cpu:.2f}x | {load[label]:.1f} |"
        )


if __name__ == "__main__":
    main()
