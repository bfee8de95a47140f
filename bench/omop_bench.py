"""Benchmark: DQD's OMOP CDM v5.4 checks, fused (healthdq) vs one query per check (DQD's way).

A synthetic CDM is generated inside DuckDB from range() (seconds): every CDM v5.4 column of the
tables below with its catalogue type, realistic keys and a sprinkling of defects. Both modes run
the same checks with the same predicates on the same engine, one after the other in this process,
each on a fresh connection to the same database file.

    python bench/omop_bench.py                          # 10M measurement rows (BENCHMARKS.md)
    python bench/omop_bench.py --measurement 1000000    # a smoke run
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import date
from pathlib import Path
from typing import Any

import duckdb

from healthdq.engine.duckdb import DuckDBEngine
from healthdq.omop.catalogue import field_specs, load_catalogue
from healthdq.omop.runner import run_omop

HERE = Path(__file__).resolve().parent
RUN_DATE = date(2025, 1, 1)
TYPES = {"integer": "BIGINT", "bigint": "BIGINT", "date": "DATE", "datetime": "TIMESTAMP"}
TYPES["float"] = "DOUBLE"


def _h(seed: int, mod: int) -> str:
    """A deterministic pseudo-random integer in [0, mod) from the row number i."""
    return f"CAST(hash(i * 7919 + {seed}) % {mod} AS BIGINT)"


def _pick(values: list[int], seed: int) -> str:
    """One of `values`, chosen per row."""
    listed = ", ".join(str(v) for v in values)
    return f"([{listed}])[1 + {_h(seed, len(values))}]"


def _table(con: duckdb.DuckDBPyConnection, name: str, rows: int, values: dict[str, str]) -> None:
    """Every catalogue column of `name`, typed as the CDM says; unlisted columns are NULL."""
    cols = []
    for field, spec in field_specs()[name].items():
        kind = spec["cdmDatatype"].lower()
        sql_type = TYPES.get(kind, "VARCHAR")
        cols.append(f"CAST({values.get(field, 'NULL')} AS {sql_type}) AS {field}")
    con.execute(
        f"CREATE OR REPLACE TABLE {name} AS SELECT {', '.join(cols)} FROM range({rows}) AS r(i)"
    )


def generate(path: Path, measurement: int) -> dict[str, int]:
    """The synthetic CDM; sizes scale with the measurement row count."""
    persons = max(measurement // 50, 100)
    visits = max(measurement // 5, 100)
    conditions = max(measurement // 5, 100)
    checks = load_catalogue()
    unit_checks = [c for c in checks if c.check_name == "plausibleUnitConceptIds"]
    gender_checks = [
        c for c in checks if c.check_name == "plausibleGender" and c.table == "CONDITION_OCCURRENCE"
    ]
    m_concepts = sorted({int(c.concept_id or 0) for c in unit_checks})
    c_concepts = sorted({int(c.concept_id or 0) for c in gender_checks})
    units = sorted(
        {int(u) for c in unit_checks for u in c.param("plausibleUnitConceptIds").split(",")} - {-1}
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    con = duckdb.connect(str(path))
    day0 = "DATE '2010-01-01'"
    _table(
        con,
        "person",
        persons,
        {
            "person_id": "i + 1",
            "gender_concept_id": _pick([8507, 8532], 1),
            "year_of_birth": f"1930 + {_h(2, 80)}",
            "month_of_birth": f"1 + {_h(3, 12)}",
            "day_of_birth": f"1 + {_h(4, 28)}",
            "race_concept_id": "0",
            "ethnicity_concept_id": "0",
            "person_source_value": "'p' || i",
            "gender_source_value": "'x'",
            "gender_source_concept_id": "0",
        },
    )
    _table(
        con,
        "death",
        persons // 20,
        {
            "person_id": "i * 20 + 1",
            "death_date": f"{day0} + CAST({_h(5, 5000)} AS INTEGER)",
            "death_type_concept_id": "32817",
        },
    )
    _table(
        con,
        "observation_period",
        persons,
        {
            "observation_period_id": "i + 1",
            "person_id": "i + 1",
            "observation_period_start_date": day0,
            "observation_period_end_date": "DATE '2024-12-31'",
            "period_type_concept_id": "32817",
        },
    )
    visit_start = f"{day0} + CAST({_h(6, 5000)} AS INTEGER)"
    _table(
        con,
        "visit_occurrence",
        visits,
        {
            "visit_occurrence_id": "i + 1",
            "person_id": f"1 + {_h(7, persons)}",
            "visit_concept_id": _pick([9201, 9202, 9203], 8),
            "visit_start_date": visit_start,
            "visit_end_date": f"{visit_start} + CAST({_h(9, 5)} AS INTEGER)",
            "visit_type_concept_id": "32817",
            "visit_source_value": "'v'",
            "visit_source_concept_id": "0",
        },
    )
    event = f"{day0} + CAST({_h(10, 5200)} AS INTEGER)"
    # Events belong to a visit: its person and a date within it, as in a real CDM (violations
    # are then rare, as they are in practice; DQD's defects come from death dates and units).
    visit = f"(1 + {_h(20, visits)})"
    visit_person = f"1 + CAST(hash(({visit} - 1) * 7919 + 7) % {persons} AS BIGINT)"
    visit_day = f"{day0} + CAST(hash(({visit} - 1) * 7919 + 6) % 5000 AS INTEGER)"
    _table(
        con,
        "condition_occurrence",
        conditions,
        {
            "condition_occurrence_id": "i + 1",
            "person_id": f"1 + {_h(11, persons)}",
            "condition_concept_id": _pick(c_concepts, 12),
            "condition_start_date": event,
            "condition_start_datetime": event,
            "condition_end_date": f"{event} + 10",
            "condition_type_concept_id": "32817",
            "visit_occurrence_id": f"1 + {_h(13, visits)}",
            "condition_source_value": f"'c' || {_h(14, 500)}",
            "condition_source_concept_id": "0",
        },
    )
    _table(
        con,
        "measurement",
        measurement,
        {
            "measurement_id": "i + 1",
            "person_id": visit_person,
            "measurement_concept_id": _pick(m_concepts, 16),
            "measurement_date": visit_day,
            "measurement_datetime": visit_day,
            "measurement_type_concept_id": "32817",
            "operator_concept_id": "0",
            "value_as_number": f"{_h(18, 1000)} / 10.0",
            "value_as_concept_id": "0",
            "unit_concept_id": _pick(units, 19),
            "visit_occurrence_id": visit,
            "measurement_source_value": f"'m' || {_h(21, 2000)}",
            "measurement_source_concept_id": _pick(m_concepts, 16),
            "unit_source_value": "'u'",
        },
    )
    concepts = (
        [(c, "Measurement", "Lab Test") for c in m_concepts]
        + [(c, "Condition", "Clinical Finding") for c in c_concepts]
        + [(u, "Unit", "Unit") for u in units]
        + [(8507, "Gender", "Gender"), (8532, "Gender", "Gender"), (0, "Metadata", "Undefined")]
        + [(32817, "Type Concept", "Type Concept")]
        + [(v, "Visit", "Visit") for v in (9201, 9202, 9203)]
    )
    seen: set[int] = set()
    rows = []
    for cid, domain, cls in concepts:
        if cid not in seen:
            seen.add(cid)
            rows.append(f"({cid}, 'c{cid}', '{domain}', 'V', '{cls}', 'S', '{cid}')")
    con.execute(
        "CREATE OR REPLACE TABLE concept AS SELECT *, DATE '1970-01-01' AS valid_start_date, "
        "DATE '2099-12-31' AS valid_end_date, CAST(NULL AS VARCHAR) AS invalid_reason FROM "
        f"(VALUES {', '.join(rows)}) AS t(concept_id, concept_name, domain_id, vocabulary_id, "
        "concept_class_id, standard_concept, concept_code)"
    )
    sizes = {
        t: int(con.execute(f"SELECT count(*) FROM {t}").fetchone()[0])  # type: ignore[index]
        for t in ("person", "visit_occurrence", "condition_occurrence", "measurement", "concept")
    }
    con.close()
    return sizes


def timed(path: Path, fused: bool, threads: int | None) -> dict[str, Any]:
    engine = DuckDBEngine(threads=threads)
    t0 = time.perf_counter()
    try:
        # No failing-row samples: DQD collects none, and the baseline collects none.
        run = run_omop(str(path), engine=engine, run_date=RUN_DATE, fused=fused, sample_size=0)
    finally:
        engine.close()
    seconds = time.perf_counter() - t0
    executed = [o for o in run.rules if o.status in ("passed", "failed")]
    return {
        "seconds": round(seconds, 2),
        "queries": sum(t.scans for t in run.tables),
        "checks": len(run.rules),
        "evaluated": len(executed),
        "failed": sum(o.status == "failed" for o in run.rules),
        "errors": sum(o.status == "error" for o in run.rules),
        "outcomes": {o.rule_id: (o.status, o.violating_rows, o.denominator) for o in run.rules},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--measurement", type=int, default=10_000_000)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--out", type=Path, default=HERE / "data" / "omop_results.json")
    args = parser.parse_args()
    path = HERE / "data" / f"omop_{args.measurement}.duckdb"
    t0 = time.perf_counter()
    sizes = generate(path, args.measurement)
    print(f"generated {path} in {time.perf_counter() - t0:.1f}s: {sizes}", flush=True)
    fused = timed(path, True, args.threads)
    print(f"fused: {fused['seconds']} s, {fused['queries']} queries", flush=True)
    naive = timed(path, False, args.threads)
    print(f"one query per check: {naive['seconds']} s, {naive['queries']} queries", flush=True)
    same = fused["outcomes"] == naive["outcomes"]
    speedup = naive["seconds"] / fused["seconds"] if fused["seconds"] else float("inf")
    print(
        f"{fused['checks']} checks ({fused['evaluated']} evaluated, {fused['failed']} failed); "
        f"identical results: {same}; speed-up {speedup:.1f}x",
        flush=True,
    )
    report = {
        "sizes": sizes,
        "duckdb": duckdb.__version__,
        "threads": args.threads,
        "fused": {k: v for k, v in fused.items() if k != "outcomes"},
        "one_query_per_check": {k: v for k, v in naive.items() if k != "outcomes"},
        "identical_results": same,
        "speedup": round(speedup, 2),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2), encoding="utf-8")
    path.unlink(missing_ok=True)
    if not same:
        raise SystemExit("fused and one-query-per-check results differ")


if __name__ == "__main__":
    main()
