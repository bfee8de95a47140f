"""The results store on both backends: round trip, history reads, schema versions, damaged runs,
concurrent writers and a writer killed mid-save. Every test runs on the embedded DuckDB file and
on a real PostgreSQL server (conftest.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import healthdq
from healthdq import pipeline
from healthdq.results import RunResult
from healthdq.rules.loader import load_pack
from healthdq.store import Store, StoreError, open_store
from healthdq.store.sql_store import migrations

SRC = str(Path(healthdq.__file__).resolve().parent.parent)


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> RunResult:
    """One real nhs-apc run (failing rules, metrics, groups), made without a store."""
    from healthdq.synth import generate

    root = tmp_path_factory.mktemp("run")
    generate("apc", rows=300, seed=5, out=root / "apc.parquet")
    settings = pipeline.Settings(audit_log=root / "audit.jsonl", keep_run=False)
    return pipeline.check(
        load_pack("nhs-apc"),
        {"apc": str(root / "apc.parquet")},
        group_by=["provider_code"],
        settings=settings,
    )


def _copy(result: RunResult, run_id: str) -> RunResult:
    return result.model_copy(update={"run_id": run_id})


def _raw(location: str, sql: str) -> list[tuple[Any, ...]]:
    """SQL straight to the backend, behind the store's back (to damage or inspect it)."""
    if location.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(location, autocommit=True) as con:
            cur = con.execute(sql)
            return cur.fetchall() if cur.description else []
    import duckdb

    con = duckdb.connect(location)
    try:
        cur = con.execute(sql)
        return cur.fetchall() if cur.description else []
    finally:
        con.close()


def test_round_trip_keeps_result_rules_metrics_and_outputs(
    store: Store, store_location: str, result: RunResult
) -> None:
    store.save_run(result, verb="check", dataset="trust-a", outputs={"html": b"<html>\x00</html>"})
    assert store.load_run(result.run_id) == result
    (summary,) = store.list_runs()
    assert summary.run_id == result.run_id and summary.dataset == "trust-a"
    assert summary.verb == "check" and summary.status == "failed"
    assert summary.rules == len(result.rules)
    assert summary.failed == sum(r.status == "failed" for r in result.rules) > 0
    assert result.scores.dqmi is not None
    assert summary.score == result.scores.dqmi.score and summary.score_state == "scored"
    assert summary.masked is True and summary.audit_head == result.audit.head  # type: ignore[union-attr]
    assert summary.started_at == result.started_at
    assert summary.outputs == ["html"]
    assert store.output(result.run_id, "html") == b"<html>\x00</html>"
    assert store.output(result.run_id, "json") is None
    # One row per rule and per metric, queryable without parsing the result.
    assert _raw(store_location, "SELECT count(*) FROM rule_results")[0][0] == len(result.rules)
    assert _raw(store_location, "SELECT count(*) FROM metrics")[0][0] == len(result.metrics)
    assert (
        _raw(store_location, "SELECT max(version) FROM schema_version")[0][0]
        == (migrations()[-1][0])
    )


def test_history_reads_for_a_server(store: Store, result: RunResult) -> None:
    for i, dataset in enumerate(["a", "a", "b"]):
        run = _copy(result, f"{i:02d}" + result.run_id[2:])
        run.started_at = result.started_at.replace(year=2020 + i)
        run.metrics = [m.model_copy() for m in result.metrics]
        rows = next(m for m in run.metrics if m.name == "rows")
        rows.value = 1000.0 + i
        store.save_run(run, verb="check", dataset=dataset, outputs={})
    assert store.datasets() == ["a", "b"]
    assert [r.dataset for r in store.list_runs()] == ["b", "a", "a"]  # newest first
    assert len(store.list_runs(dataset="a")) == 2 and len(store.list_runs(limit=1)) == 1
    series = store.metric_series("a", "rows", table="apc")
    assert [p.value for p in series] == [1000.0, 1001.0]  # oldest first
    assert [p.started_at.year for p in series] == [2020, 2021]
    group = next(m for m in result.metrics if m.group and m.rule)
    points = store.metric_series("b", group.name, table=group.table, rule=group.rule,
                                 group=group.group)  # fmt: skip
    assert [p.value for p in points] == [group.value]
    # Run references: latest, latest~N, a unique prefix.
    assert store.resolve("latest").startswith("02") and store.resolve("latest~2").startswith("00")
    assert store.resolve("01") == "01" + result.run_id[2:]
    with pytest.raises(StoreError, match="ambiguous"):
        store.resolve("0")
    with pytest.raises(StoreError, match="no run 'ff"):
        store.resolve("ffff")
    with pytest.raises(StoreError, match="not a run id"):
        store.resolve("a%")


def test_empty_store_reads_create_nothing(tmp_path: Path) -> None:
    location = tmp_path / "none" / "runs.duckdb"
    store = open_store(str(location))
    assert store.list_runs() == [] and store.datasets() == []
    with pytest.raises(StoreError, match="no runs stored"):
        store.resolve("latest")
    assert not location.exists() and not location.parent.exists()


def test_same_run_twice_is_refused(store: Store, result: RunResult) -> None:
    store.save_run(result, verb="check", dataset="d", outputs={})
    with pytest.raises(StoreError, match="already"):
        store.save_run(result, verb="check", dataset="d", outputs={"html": b"x"})
    assert len(store.list_runs()) == 1 and store.summary(result.run_id).outputs == []


def test_newer_schema_is_refused(store: Store, store_location: str, result: RunResult) -> None:
    store.prepare()
    _raw(store_location, "INSERT INTO schema_version VALUES (99, now(), '9.9.9')")
    for call in (store.prepare, store.list_runs, lambda: store.save_run(
            result, verb="check", dataset="d", outputs={})):  # fmt: skip
        with pytest.raises(StoreError, match="schema version 99") as info:
            call()
        assert "\n" not in str(info.value) and "upgrade healthdq" in str(info.value)


def test_foreign_runs_table_is_refused(store: Store, store_location: str) -> None:
    _raw(store_location, "CREATE TABLE runs (x INTEGER)")
    with pytest.raises(StoreError, match="not made by healthdq"):
        store.prepare()


def test_damaged_run_is_reported(store: Store, store_location: str, result: RunResult) -> None:
    store.save_run(result, verb="check", dataset="d", outputs={"html": b"report"})
    _raw(store_location, "UPDATE runs SET result = '{\"rules\": 1}'")
    with pytest.raises(StoreError, match="is corrupt: its result does not match its checksum"):
        store.load_run(result.run_id)
    # Consistent checksum, invalid content: named where it breaks.
    bad = '{"rules": 1}'
    digest = __import__("hashlib").sha256(bad.encode()).hexdigest()
    _raw(store_location, f"UPDATE runs SET result_sha256 = '{digest}'")
    with pytest.raises(StoreError, match="is corrupt: at "):
        store.load_run(result.run_id)
    _raw(store_location, "UPDATE outputs SET sha256 = 'x'")
    with pytest.raises(StoreError, match="stored html .* is corrupt"):
        store.output(result.run_id, "html")


def test_unreachable_or_unwritable_store_is_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="cannot create results store") as info:
        open_store(str(blocker / "runs.duckdb")).prepare()
    assert "\n" not in str(info.value)
    with pytest.raises(StoreError, match="is a directory"):
        open_store(str(tmp_path)).prepare()
    not_duckdb = tmp_path / "notes.duckdb"
    not_duckdb.write_text("not a database")
    with pytest.raises(StoreError, match="cannot open results store"):
        open_store(str(not_duckdb)).list_runs()
    pytest.importorskip("psycopg")
    url = f"postgresql://someone:s3cret@/db?host={tmp_path}/nowhere&port=1"
    with pytest.raises(StoreError, match="cannot connect to results store") as info:
        open_store(url).prepare()
    assert "s3cret" not in str(info.value) and "\n" not in str(info.value)


_WRITER = """
import sys, time
from healthdq.results import RunResult
from healthdq.store import open_store
location, source, prefix, count = sys.argv[1:5]
result = RunResult.model_validate_json(open(source, encoding="utf-8").read())
store = open_store(location)
for i in range(int(count)):
    run = result.model_copy(update={"run_id": f"{prefix}{i:04d}"})
    store.save_run(run, verb="check", dataset=prefix, outputs={"html": b"x" * 200_000})
"""


def _python(code: str, *args: str, **kwargs: Any) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": SRC}
    return subprocess.Popen([sys.executable, "-c", code, *args], env=env, text=True, **kwargs)


def test_two_processes_writing_at_once_both_land(
    store: Store, store_location: str, result: RunResult, tmp_path: Path
) -> None:
    source = tmp_path / "result.json"
    source.write_text(result.model_dump_json(), encoding="utf-8")
    writers = [
        _python(_WRITER, store_location, str(source), prefix, "6", stderr=subprocess.PIPE)
        for prefix in ("aaaa", "bbbb")
    ]
    for w in writers:
        _, err = w.communicate(timeout=240)
        assert w.returncode == 0, err
    runs = store.list_runs()
    assert len(runs) == 12
    assert {r.dataset for r in runs} == {"aaaa", "bbbb"}
    assert _raw(store_location, "SELECT count(*) FROM metrics")[0][0] == 12 * len(result.metrics)


_KILLED = """
import sys, time
from healthdq.results import RunResult
from healthdq.store import open_store
location, source = sys.argv[1:3]
result = RunResult.model_validate_json(open(source, encoding="utf-8").read())
store = open_store(location)
insert = type(store)._bulk_insert
def stall(self, con, table, columns, rows):
    # The run, its rules and its metrics are written; the outputs are not, yet.
    insert(self, con, table, columns, rows)
    if table == "metrics":
        print("inside", flush=True)
        time.sleep(120)
type(store)._bulk_insert = stall
store.save_run(result, verb="check", dataset="d", outputs={"html": b"x"})
"""


def test_writer_killed_mid_save_leaves_nothing(
    store: Store, store_location: str, result: RunResult, tmp_path: Path
) -> None:
    source = tmp_path / "result.json"
    source.write_text(result.model_dump_json(), encoding="utf-8")
    writer = _python(_KILLED, store_location, str(source), stdout=subprocess.PIPE)
    assert writer.stdout is not None
    assert writer.stdout.readline().strip() == "inside"
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait(timeout=30)
    assert writer.returncode == -signal.SIGKILL
    assert store.list_runs() == []
    for table in ("runs", "rule_results", "metrics", "outputs"):
        assert _raw(store_location, f"SELECT count(*) FROM {table}")[0][0] == 0, table
    # The store is usable afterwards.
    store.save_run(result, verb="check", dataset="d", outputs={})
    assert [r.run_id for r in store.list_runs()] == [result.run_id]
