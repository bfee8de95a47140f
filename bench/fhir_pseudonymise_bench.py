"""Benchmark: `pseudonymise` on a synthetic FHIR bulk export against a plain copy by the engine.

The export is `healthdq synth fhir` (seven resource types, UK Core shaped), generated once into
bench/data/. Both runs read the export with the same reader (`fhir read`) and write one NDJSON
file per resource type with the same engine in the same process; the copy writes each resource
unchanged, pseudonymise runs the whole job with the built-in `fhir-default` config (key, plan,
patients and references, tokens, date shifts, postcode districts, the write, SHA-256 of inputs
and outputs, the audit entry). Wall and CPU time (user + system, all engine threads) are taken
for each; the best of `--repeat` runs is shown.

    python bench/fhir_pseudonymise_bench.py                      # 1M resources
    python bench/fhir_pseudonymise_bench.py --resources 100000   # a smoke run
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"


def ensure_data(resources: int) -> Path:
    from healthdq.synth.fhir import generate_fhir

    folder = DATA / f"fhir_{resources}"
    if not (folder / "Patient.ndjson").exists():
        generate_fhir(resources, folder)
    return folder


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def timed(job: Callable[[], object], repeat: int) -> tuple[float, float]:
    best_wall, best_cpu = float("inf"), float("inf")
    for _ in range(repeat):
        wall0, cpu0 = time.perf_counter(), cpu()
        job()
        best_wall = min(best_wall, time.perf_counter() - wall0)
        best_cpu = min(best_cpu, cpu() - cpu0)
    return best_wall, best_cpu


def copy(folder: Path, out: Path, threads: int | None) -> None:
    """Read the export and write each resource type's resources unchanged, as NDJSON."""
    from healthdq.engine.registry import create_engine
    from healthdq.fhir.read import read_fhir
    from healthdq.sources.base import quote_literal

    eng = create_engine("duckdb", threads=threads)
    try:
        read_fhir(eng, str(folder), "fhir_resources")
        con = eng.con  # type: ignore[attr-defined]
        types = [
            t
            for (t,) in con.execute("SELECT DISTINCT resource_type FROM fhir_resources").fetchall()
        ]
        out.mkdir(parents=True, exist_ok=True)
        for rtype in types:
            con.execute(
                f"COPY (SELECT CAST(resource AS VARCHAR) FROM fhir_resources WHERE resource_type "
                f"= {quote_literal(rtype)}) TO {quote_literal(str(out / (rtype + '.ndjson')))} "
                "(FORMAT csv, HEADER false, QUOTE '', ESCAPE '', DELIMITER '\\x1e')"
            )
    finally:
        eng.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resources", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()

    from healthdq import pipeline
    from healthdq.governance.pseudonymise import load_config

    folder = ensure_data(args.resources)
    lines = sum(1 for p in folder.glob("*.ndjson") for _ in p.open("rb"))
    with tempfile.TemporaryDirectory(prefix="fhir-pseudo-bench-") as tmp:
        key = Path(tmp) / "bench.key"
        key.write_bytes(os.urandom(48))
        key.chmod(0o600)
        settings = pipeline.Settings(audit_log=Path(tmp) / "audit.jsonl", threads=args.threads)
        config = load_config("fhir-default")
        copy_wall, copy_cpu = timed(lambda: copy(folder, Path(tmp) / "copy", args.threads), 1)
        result: list[object] = []

        def job() -> None:
            result.append(
                pipeline.pseudonymise(
                    {"fhir": str(folder)},
                    config,
                    Path(tmp) / "out",
                    key_file=key,
                    settings=settings,
                )
            )

        wall, cpu_s = timed(job, args.repeat)
        written = sum(t.rows for t in result[-1].tables)  # type: ignore[attr-defined]
    print(f"synthetic FHIR export: {lines:,} resources ({folder})")
    print("| run | wall s | resources/s | ratio to copy | CPU s | CPU ratio |")
    print("|---|---:|---:|---:|---:|---:|")
    print(f"| plain copy by the engine | {copy_wall:.2f} | {lines / copy_wall:,.0f} | 1.00x | "
          f"{copy_cpu:.2f} | 1.00x |")  # fmt: skip
    print(f"| pseudonymise --config fhir-default | {wall:.2f} | {lines / wall:,.0f} | "
          f"{wall / copy_wall:.2f}x | {cpu_s:.2f} | {cpu_s / copy_cpu:.2f}x |")  # fmt: skip
    assert written == lines, (written, lines)


if __name__ == "__main__":
    main()
