"""Side-by-side benchmark: healthdq vs Great Expectations, Soda Core and pandera.

The rules in bench/peers/rules.yaml run through every tool on the same synthetic APC Parquet.
Each tool runs in its own child process (healthdq in the project venv, the peers in their own
venvs), so its wall time and peak RSS (the kernel's rusage of that child) are its alone. Every
tool's violation count per rule is compared with an oracle: one hand-written DuckDB query per
rule, run here and not timed.

    .venv/bin/python bench/peers/run_peers.py --edge --rows 1000000 10000000 --repeat 3 --per-rule

(what `make bench-peers` runs, after bench/peers/setup_venvs.sh has made the peers' venvs).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
DATA = ROOT / "bench" / "data"
sys.path.insert(0, str(HERE))

from suites import load_rules  # noqa: E402

PEERS_PY = HERE / ".venv" / "bin" / "python"
SODA_PY = HERE / ".venv-soda" / "bin" / "python"
SPARK_PY = HERE / ".venv-spark" / "bin" / "python"

# Unique rules: which oracle figure each tool's native number is, and how to read it.
CONVENTIONS = {
    "surplus": "non-null rows - distinct values",
    "rows_in_duplicate_groups": "every row whose value occurs more than once",
    "duplicate_groups": "number of values that occur more than once",
}


def ensure_data(rows: int) -> Path:
    """The synthetic APC file bench/run_bench.py also uses (same name, same seed)."""
    from healthdq.synth import generate

    path = DATA / f"apc_{rows}.parquet"
    if not path.exists():
        DATA.mkdir(parents=True, exist_ok=True)
        generate("apc", rows, path, seed=42)
    return path


def make_edge(src: Path) -> Path:
    """A small file of edge cases the synthetic extract lacks, for the correctness table only.

    From the first 20,000 rows of ``src``: keys in triples (so rows in duplicate groups, surplus
    rows and duplicated values all differ) and NULL keys in a unique column, blank strings,
    a value ending in a newline (a `$` that also matches before a final newline would pass it),
    and NULLs on one side of a comparison.
    """
    import duckdb

    path = DATA / "apc_edge.parquet"
    con = duckdb.connect()
    con.execute(
        f"""
        COPY (
            WITH b AS (SELECT *, row_number() OVER () - 1 AS i FROM read_parquet('{src}')
                       LIMIT 20000)
            SELECT * EXCLUDE (i) REPLACE (
                CASE WHEN i % 100 IN (1, 2) THEN 'E' || lpad(CAST(i - i % 100 AS VARCHAR), 10, '0')
                     ELSE episode_id END AS episode_id,
                CASE WHEN i % 7 = 0 THEN NULL ELSE spell_id END AS spell_id,
                CASE WHEN i % 97 = 0 THEN '' ELSE postcode END AS postcode,
                CASE WHEN i % 83 = 0 THEN '' ELSE sex END AS sex,
                CASE WHEN i % 89 = 0 THEN nhs_number || chr(10) ELSE nhs_number END AS nhs_number,
                CASE WHEN i % 11 = 0 THEN NULL ELSE discharge_date END AS discharge_date
            ) FROM b
        ) TO '{path}' (FORMAT parquet)
        """
    )
    con.close()
    return path


def oracle(data: Path, rules: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """Each rule's violations by plain DuckDB SQL, written from the shared definitions."""
    import duckdb

    con = duckdb.connect()
    con.execute(f"CREATE VIEW t AS SELECT * FROM read_parquet('{data}')")
    out: dict[str, dict[str, int]] = {}
    for r in rules:
        kind, c = r["kind"], r.get("column")
        if kind == "not_null":
            sql = f"SELECT count(*) FILTER (WHERE {c} IS NULL) FROM t"
        elif kind == "in_set":
            values = ", ".join("'" + v + "'" for v in r["values"])
            sql = f"SELECT count(*) FILTER (WHERE {c} NOT IN ({values})) FROM t"
        elif kind == "regex":
            pattern = r["pattern"].replace("'", "''")
            sql = f"SELECT count(*) FILTER (WHERE NOT regexp_full_match({c}, '{pattern}')) FROM t"
        elif kind == "length":
            sql = (
                f"SELECT count(*) FILTER (WHERE length({c}) NOT BETWEEN {r['min']} AND {r['max']})"
                " FROM t"
            )
        elif kind == "date_range":
            sql = (
                f"SELECT count(*) FILTER (WHERE {c} NOT BETWEEN DATE '{r['min']}' "
                f"AND DATE '{r['max']}') FROM t"
            )
        elif kind == "compare":
            sql = f"SELECT count(*) FILTER (WHERE NOT ({r['left']} {r['op']} {r['right']})) FROM t"
        elif kind == "unique":
            row = con.execute(
                f"SELECT sum(n) - count(*), sum(n) FILTER (WHERE n > 1), count(*) FILTER "
                f"(WHERE n > 1) FROM (SELECT count(*) AS n FROM t WHERE {c} IS NOT NULL "
                f"GROUP BY {c})"
            ).fetchone()
            assert row is not None
            out[r["id"]] = {
                "surplus": int(row[0] or 0),
                "rows_in_duplicate_groups": int(row[1] or 0),
                "duplicate_groups": int(row[2] or 0),
            }
            continue
        else:
            raise ValueError(kind)
        # NULL comparisons fall outside FILTER, so only non-null rows can violate.
        row = con.execute(sql).fetchone()
        assert row is not None
        out[r["id"]] = {"surplus": int(row[0])}
    con.close()
    return out


def tool_command(tool: str, data: Path, per_rule: bool) -> list[str]:
    """The child command for one tool, in the venv that tool is installed in."""
    if tool in ("healthdq", "healthdq-spark"):
        engine = "spark" if tool == "healthdq-spark" else "duckdb"
        cmd = [sys.executable, str(HERE / "run_healthdq.py"), "--data", str(data)]
        return cmd + ["--engine", engine] + (["--per-rule"] if per_rule else [])
    if tool.startswith("gx-"):
        backend = tool.removeprefix("gx-")
        py = SPARK_PY if backend == "spark" else PEERS_PY
        return [str(py), str(HERE / "run_gx.py"), "--data", str(data), "--backend", backend]
    if tool == "soda":
        return [str(SODA_PY), str(HERE / "run_soda.py"), "--data", str(data)]
    if tool == "pandera":
        return [str(PEERS_PY), str(HERE / "run_pandera.py"), "--data", str(data)]
    raise ValueError(tool)


def _tree_rss_kb(root: int) -> int:
    """Summed RSS of a process and all its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        pid = int(entry)
        children.setdefault(int(fields[1]), []).append(pid)  # field 4: ppid
        rss[pid] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE") // 1024  # field 24: rss pages
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo.extend(children.get(pid, []))
    return total


class TreeSampler(threading.Thread):
    """Peak summed RSS of a process tree, sampled every 0.2 s.

    wait4's rusage covers the child and the descendants it reaped; Spark's JVM is a separate
    process that PySpark does not reap, so Spark runs need the tree sampled instead.
    """

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak_kb = pid, 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.2):
            self.peak_kb = max(self.peak_kb, _tree_rss_kb(self.pid))


def run_child(tool: str, data: Path, per_rule: bool = False) -> dict[str, Any]:
    """Run one tool in a child; wall time around it, peak RSS from the kernel's rusage."""
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    env = dict(os.environ, TQDM_DISABLE="1")  # GX's progress bars would flood stderr
    with tempfile.TemporaryFile() as err:
        # stderr to a file so a chatty child cannot block on a full pipe while we read stdout.
        proc = subprocess.Popen(
            tool_command(tool, data, per_rule), stdout=subprocess.PIPE, stderr=err, env=env
        )
        sampler = TreeSampler(proc.pid)
        sampler.start()
        assert proc.stdout is not None
        out = proc.stdout.read()
        # wait4, not communicate(): it reaps the child and returns its rusage.
        sampler.done.set()
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - t0
        err.seek(0)
        err_tail = err.read().decode(errors="replace")[-2000:]
    if proc.returncode:
        return {"tool": tool, "failed": f"exit {proc.returncode}: {err_tail}", "wall": wall}
    result: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
    result["wall"] = wall
    result["load_before"] = load
    result["peak_rss_mb"] = usage.ru_maxrss / 1024  # Linux reports KiB
    result["peak_tree_rss_mb"] = sampler.peak_kb / 1024
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, nargs="*", default=[1_000_000, 10_000_000])
    parser.add_argument(
        "--tools", nargs="+", default=["healthdq", "gx-pandas", "gx-sql", "soda", "pandera"]
    )
    parser.add_argument("--repeat", type=int, default=1, help="interleaved rounds; best kept")
    parser.add_argument("--per-rule", action="store_true", help="time healthdq's rules alone")
    parser.add_argument("--edge", action="store_true", help="first, a small edge-case file")
    parser.add_argument("--out", default=str(HERE / "results.json"))
    parser.add_argument("--prepare", help=argparse.SUPPRESS)
    args = parser.parse_args()
    _, rules = load_rules()
    report: dict[str, Any] = {
        "machine": {"cores": os.cpu_count(), "platform": platform.platform()},
        "rules": len(rules),
        "runs": {},
    }
    if args.prepare:
        # Child mode: make the data and the oracle's counts, print them as JSON.
        data = make_edge(ensure_data(1_000_000)) if args.prepare == "edge" else None
        data = data or ensure_data(int(args.prepare))
        print(json.dumps({"data": str(data), "oracle": oracle(data, rules)}))
        return
    sizes: list[int | str] = ["edge"] if args.edge else []
    sizes += args.rows
    for rows in sizes:
        # In a child, so this process never holds DuckDB or the data: a child's ru_maxrss
        # starts from its parent's resident size at fork, so the parent must stay small.
        prep = subprocess.run(
            [sys.executable, __file__, "--prepare", str(rows)],
            check=True,
            capture_output=True,
            text=True,
        )
        prepared = json.loads(prep.stdout.strip().splitlines()[-1])
        data, expected = Path(prepared["data"]), prepared["oracle"]
        results: dict[str, dict[str, Any]] = {}
        # Rounds interleave the tools so a burst of load from other work on the machine hits
        # all of them alike; each tool keeps its fastest round, and the highest peak RSS.
        for round_ in range(args.repeat):
            for tool in args.tools:
                print(f"{rows:>11} rows, round {round_ + 1}: {tool} ...", end=" ", flush=True)
                res = run_child(tool, data)
                print("FAILED" if "failed" in res else f"{res['wall']:.1f}s", flush=True)
                results[tool] = keep_best(results.get(tool), res)
        if (
            args.per_rule
            and rows == max(args.rows or [0])
            and "counts" in results.get("healthdq", {})
        ):
            # A separate child, after the timed runs, so it adds nothing to healthdq's figures.
            print(f"{rows:>11} rows: healthdq, each rule alone ...", flush=True)
            profile = run_child("healthdq", data, per_rule=True)
            results["healthdq"]["per_rule_seconds"] = profile.get("per_rule_seconds")
        report["runs"][str(rows)] = {"oracle": expected, "results": results}
        print_run(rows, rules, expected, results)
    Path(args.out).write_text(json.dumps(report, indent=2), encoding="utf-8")
    md = Path(args.out).with_suffix(".md")
    md.write_text(markdown(report, rules), encoding="utf-8")
    print(f"\nwrote {args.out} and {md}")


def keep_best(best: dict[str, Any] | None, res: dict[str, Any]) -> dict[str, Any]:
    """The faster of two rounds of one tool, carrying every round's wall time and the higher
    peak RSS."""
    if best is None:
        return {**res, "rounds": [res.get("wall")]}
    rounds = best["rounds"] + [res.get("wall")]
    if "failed" in best or ("failed" not in res and res["wall"] < best["wall"]):
        winner, other = res, best
    else:
        winner, other = best, res
    out = {**winner, "rounds": rounds}
    for key in ("peak_rss_mb", "peak_tree_rss_mb"):
        if key in other and key in winner:
            out[key] = max(winner[key], other[key])
    return out


def peak_rss(tool: str, res: dict[str, Any]) -> float:
    """The child's rusage peak; for Spark tools the sampled peak of the tree (JVM included)."""
    return float(res["peak_tree_rss_mb"] if "spark" in tool else res["peak_rss_mb"])


def agrees(rule: dict[str, Any], expected: dict[str, int], res: dict[str, Any]) -> bool:
    """Does the tool's native count equal the oracle's figure in the tool's convention?"""
    got = res.get("counts", {}).get(rule["id"])
    convention = res.get("unique_convention", "surplus") if rule["kind"] == "unique" else "surplus"
    return got is not None and got == expected[convention]


def markdown(report: dict[str, Any], rules: list[dict[str, Any]]) -> str:
    """The speed tables of a run as Markdown, for BENCHMARKS.md."""
    lines = []
    for rows, run in report["runs"].items():
        results, expected = run["results"], run["oracle"]
        ok = {t: r for t, r in results.items() if "failed" not in r and "counts" in r}
        base = ok.get("healthdq")
        label = f"{int(rows):,} rows" if rows.isdigit() else f"{rows} file"
        lines += [
            f"**{label}**",
            "",
            "| tool | wall s | check s | peak RSS MB | wall vs healthdq | counts agree |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for tool, r in results.items():
            if tool not in ok:
                lines.append(f"| {tool} | failed | | | | |")
                continue
            n_ok = sum(agrees(rule, expected[rule["id"]], r) for rule in rules)
            ratio = f"{r['wall'] / base['wall']:.1f}x" if base else ""
            lines.append(
                f"| {tool} | {r['wall']:.2f} | {r['check_seconds']:.2f} | "
                f"{peak_rss(tool, r):,.0f} | {ratio} | {n_ok}/{len(rules)} |"
            )
        lines.append("")
    return "\n".join(lines)


def print_run(
    rows: int | str,
    rules: list[dict[str, Any]],
    expected: dict[str, dict[str, int]],
    results: dict[str, dict[str, Any]],
) -> None:
    """Speed table, then the per-rule correctness table."""
    ok = {t: r for t, r in results.items() if "failed" not in r}
    print(f"\n{len(rules)} rules on {rows} rows, {os.cpu_count()} cores")
    print(f"{'tool':16}{'wall s':>9}{'check s':>9}{'peak RSS MB':>13}{'rules agree':>13}  errors")
    for tool, r in results.items():
        if tool not in ok:
            print(f"{tool:16} failed: {r['failed'][:200]}")
            continue
        n_ok = sum(agrees(rule, expected[rule["id"]], r) for rule in rules)
        print(
            f"{tool:16}{r['wall']:9.2f}{r['check_seconds']:9.2f}{peak_rss(tool, r):13.0f}"
            f"{n_ok:>9}/{len(rules)}  {len(r.get('errors') or {})}"
        )
    print(f"\n{'rule':32}{'oracle':>10}" + "".join(f"{t:>16}" for t in ok))
    for rule in rules:
        exp = expected[rule["id"]]
        cells = []
        for r in ok.values():
            got = r["counts"].get(rule["id"])
            mark = "" if agrees(rule, exp, r) else " X"
            cells.append(f"{str(got) + mark:>16}")
        print(f"{rule['id']:32}{exp['surplus']:>10}" + "".join(cells))
    if "healthdq" in ok and "per_rule_seconds" in ok["healthdq"]:
        per = ok["healthdq"]["per_rule_seconds"]
        print("\nhealthdq, each rule alone (s), most expensive first:")
        for rid, s in sorted(per.items(), key=lambda kv: -kv[1])[:10]:
            print(f"  {rid:32}{s:8.2f}")


if __name__ == "__main__":
    main()
