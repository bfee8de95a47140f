"""`healthdq check DATA --pack fhir-uk-core --engine spark` gives DuckDB's per-rule results.

One seeded synthetic export (`healthdq synth fhir`, large enough that every kind of seeded defect
occurs at least once), checked by the CLI on each engine: every rule's status, failing count,
denominator and Not Applicable reason, and every view table's row count, must be the same.
tests/fhir/test_ukcore_pack.py asserts the DuckDB counts against the seeded rates.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from healthdq.synth.fhir import generate_fhir
from healthdq.synth.fhir_spec import expected_fhir_by_rule

Cli = Callable[..., tuple[int, str, str]]
# The smallest export (in thousands of resources) in which every seeded defect kind occurs.
N = 23_000
RUN_DATE = "2025-06-01"


def _run(cli: Cli, export: Path, engine: str, out: Path) -> dict[str, Any]:
    code, _, err = cli(
        "check", export, "--pack", "fhir-uk-core", "--engine", engine,
        "--run-date", RUN_DATE, "--json", out, "--quiet", "--no-store",
    )  # fmt: skip
    assert code == 1, err  # rules fail (the seeded defects), nothing else
    return dict(json.loads(out.read_text(encoding="utf-8")))


def test_ukcore_pack_on_spark_matches_duckdb(spark: Any, cli: Cli, tmp_path: Path) -> None:
    assert all(expected_fhir_by_rule(N).values())
    export = tmp_path / "export"
    generate_fhir(N, export, seed=11)
    duck = _run(cli, export, "duckdb", tmp_path / "duckdb.json")
    spark_run = _run(cli, export, "spark", tmp_path / "spark.json")
    assert spark_run["engine"] == "spark"

    def outcomes(run: dict[str, Any]) -> dict[str, tuple[Any, ...]]:
        fields = ("status", "violating_rows", "denominator", "not_applicable_reason", "error")
        return {r["rule_id"]: tuple(r[f] for f in fields) for r in run["rules"]}

    want, got = outcomes(duck), outcomes(spark_run)
    assert len(want) == 36
    assert {k: v for k, v in got.items() if want.get(k) != v} == {}
    assert got == want
    assert [(t["name"], t["rows"]) for t in spark_run["tables"]] == [
        (t["name"], t["rows"]) for t in duck["tables"]
    ]
    assert spark_run["summary"] == duck["summary"]
