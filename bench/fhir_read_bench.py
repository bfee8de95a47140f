"""Benchmark: reading a large Bulk Data NDJSON file into `fhir_resources` (issue 11: peak RSS
<= 2 GB on a 5 GB export).

The file is generated here (UK Core shaped Patient and Observation lines, ~1 KB each, unique
ids) into bench/data/ on first use, never committed. Each measurement runs `healthdq fhir read`
in its own process; peak RSS is the kernel's figure for that process (wait4), wall time
includes the interpreter start.

    python bench/fhir_read_bench.py --gb 5             # the default, 1 GiB (BENCHMARKS.md)
    python bench/fhir_read_bench.py --gb 1 --memory-limit default --memory-limit 80%
                                         # beside DuckDB's own default (80% of RAM)
    python bench/fhir_read_bench.py --gb 0.2           # a smoke run

`--memory-limit default` (or no --memory-limit) runs without the option: healthdq's FHIR
default (healthdq.sources.fhir_duckdb.FHIR_MEMORY_LIMIT_BYTES). Figures also go to
out/bench/fhir_read_bench.json (appended, one object a run).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

PATIENT = {
    "resourceType": "Patient",
    "id": "ID",
    "meta": {"profile": ["https://fhir.hl7.org.uk/StructureDefinition/UKCore-Patient"]},
    "identifier": [
        {
            "system": "https://fhir.nhs.uk/Id/nhs-number",
            "value": "NHS",
            "extension": [
                {
                    "url": "https://fhir.hl7.org.uk/StructureDefinition/"
                    "Extension-UKCore-NHSNumberVerificationStatus",
                    "valueCodeableConcept": {"coding": [{"code": "01"}]},
                }
            ],
        }
    ],
    "name": [{"use": "official", "family": "Smith", "given": ["Jo", "Ann"]}],
    "gender": "female",
    "birthDate": "1970-01-01",
    "address": [{"line": ["1 High Street"], "city": "Leeds", "postalCode": "LS1 4AP"}],
}
OBSERVATION = {
    "resourceType": "Observation",
    "id": "ID",
    "status": "final",
    "category": [
        {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                    "code": "vital-signs",
                }
            ]
        }
    ],
    "code": {
        "coding": [{"system": "http://snomed.info/sct", "code": "364075005", "display": "Pulse"}]
    },
    "subject": {"reference": "Patient/PID"},
    "effectiveDateTime": "2024-01-01T10:00:00Z",
    "valueQuantity": {
        "value": 72,
        "unit": "beats/minute",
        "system": "http://unitsofmeasure.org",
        "code": "/min",
    },
}


def generate(path: Path, gigabytes: float) -> int:
    """One Patient then three Observations, repeated to the size asked; returns the lines."""
    target = int(gigabytes * (1 << 30))
    patient = json.dumps(PATIENT).replace('"ID"', '"p%d"').replace('"NHS"', '"9%09d"')
    observation = json.dumps(OBSERVATION).replace('"ID"', '"o%d"').replace("PID", "p%d")
    path.parent.mkdir(parents=True, exist_ok=True)
    written = lines = 0
    with open(path, "w", encoding="utf-8") as out:
        while written < target:
            block = []
            for i in range(lines, lines + 10_000, 4):
                block.append(patient % (i, i) + "\n")
                block += [observation % (i + k, i) + "\n" for k in (1, 2, 3)]
            text = "".join(block)
            out.write(text)
            written += len(text)
            lines += 10_000
    return lines


def measure(args: list[str]) -> tuple[float, float, int]:
    """(wall seconds, peak RSS MB, exit code) of one run in its own process."""
    started = time.perf_counter()
    child = subprocess.Popen(args, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    return time.perf_counter() - started, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--gb", type=float, default=5.0, help="size of the NDJSON file")
    parser.add_argument("--memory-limit", action="append", default=[], help="repeatable")
    parser.add_argument("--engine", default="duckdb")
    opts = parser.parse_args()
    path = HERE / "data" / f"fhir_{opts.gb:g}gb.ndjson"
    if not path.exists():
        started = time.perf_counter()
        lines = generate(path, opts.gb)
        print(f"generated {path} ({lines} lines) in {time.perf_counter() - started:.0f} s")
    size = path.stat().st_size / (1 << 30)
    print("| file | engine | --memory-limit | wall s | peak RSS MB | exit | load before |")
    print("|---|---|---|---|---|---|---|")
    log = HERE.parent / "out" / "bench" / "fhir_read_bench.json"
    log.parent.mkdir(parents=True, exist_ok=True)
    for limit in opts.memory_limit or ["default"]:
        cmd = [sys.executable, "-m", "healthdq", "fhir", "read", str(path), "--engine", opts.engine]
        cmd += ["--memory-limit", limit] if limit != "default" else []
        load = os.getloadavg()[0]
        wall, rss, code = measure(cmd)
        shown = "default (1 GiB)" if limit == "default" else limit
        print(
            f"| {size:.2f} GB NDJSON | {opts.engine} | {shown} | {wall:.1f} | {rss:.0f} | {code} |"
            f" {load:.1f} |",
            flush=True,
        )
        record = {"gb": size, "engine": opts.engine, "memory_limit": limit, "wall_s": wall}
        record |= {"peak_rss_mb": rss, "exit": code, "load_before": load, "at": time.time()}
        with open(log, "a", encoding="utf-8") as out:
            out.write(json.dumps(record) + "\n")


if __name__ == "__main__":
    main()
