"""The OMOP DQD checks give the same outcomes on DuckDB and Spark for the same CDM folder.

Every one of the 2,535 checks: status, violated rows, denominator and Not Applicable reason, plus
failing-row samples, DQD's JSON overview and the column types each engine read from the files.
"""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pytest

from healthdq.engine.duckdb import DuckDBEngine
from healthdq.errors import SourceError
from healthdq.omop import runner as omop_runner
from healthdq.omop.runner import run_omop, summary_by_category
from healthdq.report.dqd_json import overview
from healthdq.results import RunResult

sys.path.insert(0, str(Path(__file__).parents[1] / "omop"))
from omop_fixture import build  # noqa: E402  (the OMOP tests' seeded CDM)

RUN_DATE = date(2025, 1, 1)
# Values that DuckDB's CSV sniffer types in a particular way, so the Spark reader must too:
# '01' stays text, '-01' is an integer, 'yes'/'no' are booleans, a timestamp column stays a
# timestamp, a column with one non-date value stays text.
EXTRA = {
    "note": """SELECT * FROM (VALUES
        (1, 1, DATE '2015-01-01', TIMESTAMP '2015-01-01 10:00:00', 'yes', '01', '-01', 'a'),
        (2, 2, DATE '2015-01-02', TIMESTAMP '2015-01-02 11:30:00', 'no', '02', '5', '2015-01-01'))
        AS t(note_id, person_id, note_date, note_datetime, note_title, note_text,
             encoding_concept_id, note_source_value)""",
}


@pytest.fixture(scope="module")
def cdm_folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folders: dict[str, Path] = {}
    con = duckdb.connect()
    names = build(con, extra=EXTRA)
    for fmt in ("csv", "parquet"):
        folder = tmp_path_factory.mktemp(f"cdm_{fmt}")
        for name in names:
            # Upper-case file names, as OHDSI's exports write them.
            options = "(FORMAT parquet)" if fmt == "parquet" else "(HEADER)"
            con.execute(f"COPY \"{name}\" TO '{folder / f'{name.upper()}.{fmt}'}' {options}")
        folders[fmt] = folder
    (folders["csv"] / "COHORT.csv").write_text("cohort_definition_id,subject_id\n")  # no rows
    con.close()
    return folders


def _outcomes(run: RunResult) -> dict[str, tuple[Any, ...]]:
    return {
        r.rule_id: (r.status, r.violating_rows, r.denominator, r.not_applicable_reason, r.error)
        for r in run.rules
    }


def _samples(run: RunResult) -> dict[str, list[tuple[Any, ...]]]:
    return {r.rule_id: [(x.row, x.values) for x in r.samples] for r in run.rules}


def _duckdb(folder: Path) -> RunResult:
    return run_omop(str(folder), engine=DuckDBEngine(), run_date=RUN_DATE)


def assert_same(duck: RunResult, spark: RunResult) -> None:
    a, b = _outcomes(duck), _outcomes(spark)
    differing = {k: (a[k], b.get(k)) for k in a if a[k] != b.get(k)}
    assert not differing, f"{len(differing)} checks differ: {list(differing.items())[:5]}"
    assert overview(spark) == overview(duck)
    # Failing-row samples too: same row numbers and values.
    assert _samples(spark) == _samples(duck)
    assert [(t.name, t.rows) for t in spark.tables] == [(t.name, t.rows) for t in duck.tables]
    for table in duck.tables:
        # A Parquet column of nothing but NULLs has no type: DuckDB says "NULL", Spark INTEGER.
        typed = {c.name: c.type for c in table.columns if c.type != '"NULL"'}
        theirs = {c.name: c.type for t in spark.tables if t.name == table.name for c in t.columns}
        assert {c: theirs[c] for c in typed} == typed, table.name
    assert spark.source_metadata == duck.source_metadata


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_omop_outcomes_match_duckdb(
    fmt: str, cdm_folders: dict[str, Path], spark_engine: Any
) -> None:
    duck = _duckdb(cdm_folders[fmt])
    spark = run_omop(str(cdm_folders[fmt]), engine=spark_engine, run_date=RUN_DATE)
    assert spark.engine == "spark"
    summary = summary_by_category(duck)["Total"]
    assert summary["executed"] == 2535 and summary["failed"] > 0 and summary["error"] == 0
    assert_same(duck, spark)
    if fmt == "csv":
        types = {c.name: c.type for t in spark.tables if t.name == "note" for c in t.columns}
        assert types["note_id"] == "BIGINT" and types["note_date"] == "DATE"
        assert types["note_datetime"] == "TIMESTAMP" and types["note_title"] == "BOOLEAN"
        assert types["note_text"] == "VARCHAR" and types["encoding_concept_id"] == "BIGINT"
        assert types["note_source_value"] == "VARCHAR"


def test_per_distinct_concept_path_matches_duckdb(
    cdm_folders: dict[str, Path], spark: Any, spark_engine: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Large tables evaluate concept checks per distinct id (GROUPING SETS, UNNEST): force it.
    monkeypatch.setattr(omop_runner, "PER_DISTINCT_MIN_ROWS", 0)
    only: dict[str, Any] = {
        "tables": ["condition_occurrence", "measurement"],
        "check_names": ["isForeignKey", "fkDomain", "isStandardValidConcept"],
    }
    duck = run_omop(str(cdm_folders["csv"]), run_date=RUN_DATE, **only)
    # Tiny splits, so each CSV is read as several partitions and numbered across them, as a
    # large file is.
    settings = ("spark.sql.files.maxPartitionBytes", "spark.sql.files.openCostInBytes")
    before = {k: spark.conf.get(k) for k in settings}
    try:
        for k in settings:
            spark.conf.set(k, "64")
        spark_run = run_omop(
            str(cdm_folders["csv"]), engine=spark_engine, run_date=RUN_DATE, **only
        )
    finally:
        for k, v in before.items():
            spark.conf.set(k, v)
    # Concept 999 is unknown: the check became membership in the failing ids.
    assert any(" IN (999)" in o.query_text for o in spark_run.rules)
    assert any(o.status == "failed" for o in spark_run.rules)
    assert_same(duck, spark_run)


def test_one_query_per_check_matches_duckdb(
    cdm_folders: dict[str, Path], spark_engine: Any
) -> None:
    # The baseline (DQD's own shape: one statement per check) runs on Spark too.
    only: dict[str, Any] = {
        "tables": ["measurement"],
        "check_names": [
            "isRequired",
            "plausibleValueLow",
            "isPrimaryKey",
            "measurePersonCompleteness",
        ],
        "fused": False,
    }
    duck = run_omop(str(cdm_folders["parquet"]), run_date=RUN_DATE, **only)
    spark = run_omop(str(cdm_folders["parquet"]), engine=spark_engine, run_date=RUN_DATE, **only)
    assert any(o.status == "failed" for o in spark.rules)
    assert_same(duck, spark)


def test_database_cdm_is_a_one_line_error_on_spark(tmp_path: Path, spark_engine: Any) -> None:
    path = tmp_path / "cdm.duckdb"
    duckdb.connect(str(path)).close()
    for location in (str(path), "postgres:dbname=cdm"):
        with pytest.raises(SourceError, match="use a folder of CSV/Parquet with the spark engine"):
            run_omop(location, engine=spark_engine)
    with pytest.raises(SourceError, match="not found"):
        run_omop(str(tmp_path / "absent"), engine=spark_engine)


def test_cli_omop_with_spark_engine(
    cli: Any, cdm_folders: dict[str, Path], spark: Any, tmp_path: Path
) -> None:
    outputs = {}
    for engine in ("duckdb", "spark"):
        out = tmp_path / f"{engine}.json"
        code, _, err = cli(
            "omop",
            str(cdm_folders["csv"]),
            "--engine",
            engine,
            "--only-table",
            "measurement",
            "--run-date",
            "2025-01-01",
            "--dqd-json",
            str(out),
            "--quiet",
        )
        assert code == 0, err
        outputs[engine] = json.loads(out.read_text())
    assert outputs["spark"]["Overview"] == outputs["duckdb"]["Overview"]
    assert outputs["spark"]["Overview"]["countThresholdFailed"] > 0
    # The CLI reused the running session and left it running.
    assert spark.sql("SELECT 1").collect()[0][0] == 1


def test_cli_omop_database_on_spark_is_one_line(cli: Any, tmp_path: Path, spark: Any) -> None:
    path = tmp_path / "cdm.duckdb"
    duckdb.connect(str(path)).close()
    code, _, err = cli("omop", str(path), "--engine", "spark", "--quiet")
    assert code == 2
    assert "use a folder of CSV/Parquet with the spark engine" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
