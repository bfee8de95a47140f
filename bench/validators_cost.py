"""Cost of each registered validator in DuckDB, in ms per 1M rows over a bare scan.

    .venv/bin/python bench/validators_cost.py [--rows 10000000] [--threads 1] [--only NAME ...]

Each validator gets a VARCHAR column of mostly valid values (about 2% corrupted), materialised in
memory, and is timed in two shapes:
- engine:  SUM(CASE WHEN v IS NOT NULL AND NOT COALESCE(<valid>, FALSE) THEN 1 ELSE 0 END), as the
           fused planner wraps a rule; DuckDB does not share subexpressions inside AND/CASE;
- count_if: count_if(<valid>), as the profiler counts passes; shared subexpressions allowed.
The figure is best-of-N wall time minus the same query with TRUE in place of <valid>.
"""

from __future__ import annotations

import argparse
import random
import time

import duckdb
from sqlglot import exp

from healthdq.validators import REGISTRY, get_validator
from healthdq.validators.nhs_number import nhs_number_check_digit
from healthdq.validators.sctid import verhoeff_check_digit
from healthdq.validators.valueset import load_valueset

POOL = 100_000  # distinct values per column; rows repeat the pool


def _nhs(rng: random.Random) -> str:
    while True:
        first9 = "".join(rng.choices("0123456789", k=9))
        check = nhs_number_check_digit(first9)
        if check is not None:
            return first9 + str(check)


def _sctid(rng: random.Random) -> str:
    # International concepts are 6-9 digits, UK extension ones 15-18.
    length = rng.choice([6, 7, 8, 9, 9, 9, 10, 15, 16, 17, 18])
    partition = rng.choice(["00", "00", "00", "01", "10"])
    body = str(rng.randint(1, 9)) + "".join(rng.choices("0123456789", k=length - 4)) + partition
    return body + verhoeff_check_digit(body)


def _postcode(rng: random.Random) -> str:
    outward = rng.choice(["M1", "M60", "CR2", "DN55", "W1A", "EC1A", "LS1", "B33", "SW1A", "NE12"])
    unit = "".join(rng.choices("ABDEFGHJLNPQRSTUWXYZ", k=2))
    return rng.choice([f"{outward} {rng.randrange(10)}{unit}", "ZZ99 3VZ"])


def _letters(rng: random.Random, k: int) -> str:
    return "".join(rng.choices("ABCDEFGHJKLMNPQRSTUVWXYZ", k=k))


GENERATORS = {
    "nhs_number": _nhs,
    "sctid": _sctid,
    "postcode": _postcode,
    "ods_org": lambda r: r.choice(
        ["R" + _letters(r, 2), _letters(r, 1) + f"{r.randrange(10**5):05d}"]
    ),
    "ods_site": lambda r: "R" + _letters(r, 2) + f"{r.randrange(100):02d}",
    "gp_practice": lambda r: _letters(r, 1) + f"{r.randrange(10**5):05d}",
    "icd10": lambda r: _letters(r, 1) + f"{r.randrange(100):02d}" + r.choice("0123456789X"),
    "opcs4": lambda r: r.choice("ABCDEFGHJKLMNPQRSTUVWXYZ") + f"{r.randrange(1000):03d}",
    "treatment_function": lambda r: f"{r.randrange(100, 1000)}",
}


def _values(name: str, rng: random.Random) -> list[str]:
    if REGISTRY[name].kind == "valueset":
        codes = load_valueset(name)
        make = lambda r: r.choice(codes)  # noqa: E731
    else:
        make = GENERATORS[name]
    values = [make(rng) for _ in range(POOL)]
    for i in rng.sample(range(POOL), POOL // 50):  # ~2% corrupted: one character replaced
        v = values[i]
        pos = rng.randrange(len(v))
        values[i] = v[:pos] + rng.choice("0123456789AZ ") + v[pos + 1 :]
    return values


def _best(con: duckdb.DuckDBPyConnection, sql: str, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        con.execute(sql).fetchall()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--only", nargs="*", default=None)
    args = ap.parse_args()
    con = duckdb.connect()
    con.execute(f"SET threads = {args.threads}")
    rng = random.Random(7)
    per_million = args.rows / 1e6
    shapes = {
        "engine": "SELECT sum(CASE WHEN v IS NOT NULL AND NOT COALESCE({e}, FALSE) THEN 1 "
        "ELSE 0 END) FROM t",
        "count_if": "SELECT count_if({e}) FROM t",
    }
    print(f"rows={args.rows:,} threads={args.threads} duckdb={duckdb.__version__}")
    print(
        f"{'validator':30s} {'kind':9s} {'engine':>9s} {'count_if':>9s}  ms/1M rows over bare scan"
    )
    for name in args.only or sorted(REGISTRY):
        con.execute(
            "CREATE OR REPLACE TABLE pool AS SELECT unnest(?::VARCHAR[]) AS v", [_values(name, rng)]
        )
        repeat = -(-args.rows // POOL)
        con.execute(
            f"CREATE OR REPLACE TABLE t AS SELECT v FROM pool, range({repeat}) LIMIT {args.rows}"
        )
        valid = get_validator(name).build(exp.column("v")).sql("duckdb")
        cost = {}
        for shape, template in shapes.items():
            bare = _best(con, template.format(e="TRUE"), args.repeats)
            with_validator = _best(con, template.format(e=valid), args.repeats)
            cost[shape] = (with_validator - bare) * 1000 / per_million
        print(
            f"{name:30s} {REGISTRY[name].kind:9s} {cost['engine']:9.1f} {cost['count_if']:9.1f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
