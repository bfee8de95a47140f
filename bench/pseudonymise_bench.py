"""Benchmark: `pseudonymise` on a synthetic APC extract against a plain copy by the same engine.

Both read the same Parquet file through the same reader and write Parquet with the same engine
in the same run; the copy selects every column unchanged, pseudonymise runs the whole job (key,
plan, tokens, generalisation, date shifts, the write, SHA-256 of input and output, the audit
entry). The ratio is pseudonymise's wall time over the copy's (issue 12 target: at most 3x).
Each figure is the best of `--repeat` runs.

    python bench/pseudonymise_bench.py                    # 10M rows (generated once, cached)
    python bench/pseudonymise_bench.py --rows 1000000 --repeat 1
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"

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


def ensure_data(rows: int) -> Path:
    from healthdq.synth import generate

    path = DATA / f"apc_{rows}.parquet"
    if not path.exists():
        DATA.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        generate("apc", rows, path, seed=42)
        print(f"generated {path} in {time.perf_counter() - t0:.1f}s", flush=True)
    return path


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
    settings = pipeline.Settings(audit_log=work / "audit.jsonl", threads=threads)
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
    copy_s, ids_s, all_s = float("inf"), float("inf"), float("inf")
    with tempfile.TemporaryDirectory(prefix="healthdq-pseudo-bench-") as tmp:
        work = Path(tmp)
        out = work / "out.parquet"
        for _ in range(args.repeat):
            copy_s = min(copy_s, plain_copy(data, out, args.threads))
            out.unlink()
            ids_s = min(ids_s, pseudonymise(data, out, work, args.threads, CONFIG))
            out.unlink()
            all_s = min(all_s, pseudonymise(data, out, work, args.threads, CONFIG_ALL_IDS))
            out.unlink()
    rows = args.rows
    size = data.stat().st_size / 1e6
    print(
        f"pseudonymise benchmark: {rows:,} APC rows ({size:.0f} MB Parquet), best of {args.repeat}"
    )
    print("| run | seconds | rows/s | / copy |")
    print("|---|---:|---:|---:|")
    for label, secs in (
        ("plain copy (same reader, DuckDB COPY to Parquet)", copy_s),
        ("pseudonymise: NHS number token, age band, district, 2 date shifts", ids_s),
        ("pseudonymise: as above + episode_id and spell_id tokens", all_s),
    ):
        print(f"| {label} | {secs:.2f} | {rows / secs:,.0f} | {secs / copy_s:.2f}x |")


if __name__ == "__main__":
    main()
