"""`healthdq pseudonymise` keeps its runs in the results store like check and omop do: rows in and
out per table, opted-out records as published, each column's method and each output's SHA-256;
never the key nor a value from the data. On the DuckDB file and on a real PostgreSQL server."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

from healthdq.governance.audit import content_hash
from healthdq.store import open_store

# tests/governance is a package on the tests folder's path (pytest's prepend import mode).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from governance.pseudo_data import KEY_TEXT, PATIENTS, spaced, write_dataset  # noqa: E402

Cli = Callable[..., tuple[int, str, str]]


def _run(cli: Cli, tmp_path: Path, *extra: str | Path) -> tuple[dict[str, Path], Path, str]:
    files = write_dataset(tmp_path / "in")
    out = tmp_path / "out"
    code, stdout, err = cli(
        "pseudonymise", f"apc={files['apc']}", f"ae={files['ae']}", "-c", files["config"],
        "-o", out, "--key-file", files["key"], "--json", tmp_path / "p.json", *extra,
    )  # fmt: skip
    assert code == 0, err
    return files, out, stdout


def test_run_is_kept_with_rows_methods_and_output_hashes(
    cli: Cli, tmp_path: Path, store_location: str
) -> None:
    files, out, stdout = _run(cli, tmp_path, "--store", store_location, "--dataset", "sus-apc")
    done = json.loads((tmp_path / "p.json").read_text(encoding="utf-8"))
    assert f"run {done['run_id'][:12]} kept in the results store" in stdout
    store = open_store(store_location)
    (summary,) = store.list_runs(verb="pseudonymise")
    assert summary.run_id == done["run_id"] and summary.dataset == "sus-apc"
    assert summary.contract == "pseudo" and summary.status == "passed" and summary.rules == 0
    # The run names the audit entry it made, and the entry names the run.
    events = [json.loads(x) for x in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert summary.audit_head == events[-1]["hash"] == done["audit"]["head"]
    assert events[-1]["detail"]["run_id"] == done["run_id"]

    run = store.load_run(summary.run_id)
    metrics = {(m.name, m.table, m.column): (m.value, m.text) for m in run.metrics}
    assert metrics[("rows_in", "apc", None)][0] == 13 == metrics[("rows_out", "apc", None)][0]
    assert metrics[("rows_out", "ae", None)][0] == 8
    for table in ("apc", "ae"):
        assert metrics[("output_sha256", table, None)][1] == content_hash(out / f"{table}.parquet")
    assert metrics[("method", "apc", "nhs_number")][1] == "token"
    assert metrics[("method", "apc", "postcode")][1] == "postcode_district"
    assert [t.rows for t in run.tables] == [13, 8]
    assert run.source_metadata[0]["linkage_id"] == done["key_id"]
    # Listed beside the other verbs' runs, and shown by `runs show`.
    code, shown, _ = cli("runs", "show", "latest", "--store", store_location)
    assert code == 0 and "verb       pseudonymise on duckdb" in shown

    stored = run.model_dump_json() + json.dumps([s.model_dump(mode="json") for s in [summary]])
    assert KEY_TEXT not in stored and KEY_TEXT.encode().hex() not in stored
    for value in [*PATIENTS, *(spaced(p) for p in PATIENTS), "E0000", "LS1 4AP", "07700 900"]:
        assert value not in stored, value


def test_opted_out_counts_are_suppressed_and_cannot_be_recomputed(cli: Cli, tmp_path: Path) -> None:
    opt_out = tmp_path / "optout.txt"
    opt_out.write_text(f"{PATIENTS[0]}\n{PATIENTS[1]}\n", encoding="utf-8")
    _run(cli, tmp_path, "--opt-out", opt_out)
    store = open_store(str(tmp_path / "store" / "runs.duckdb"))  # the default (HEALTHDQ_STORE)
    (summary,) = store.list_runs(verb="pseudonymise")
    metrics = {(m.name, m.table): m for m in store.load_run(summary.run_id).metrics}
    # 2 of apc's 13 records and 2 of ae's 8 removed: 1-7 is published as *.
    assert metrics[("opted_out", "apc")].text == "*" and metrics[("opted_out", "apc")].value is None
    assert metrics[("rows_out", "apc")].value == 11
    # Input rows beside output rows would give the hidden count back: left out.
    assert ("rows_in", "apc") not in metrics and ("rows_in", "ae") not in metrics


def test_no_store_keeps_nothing(cli: Cli, tmp_path: Path) -> None:
    _, _, stdout = _run(cli, tmp_path, "--no-store")
    assert "kept in the results store" not in stdout
    assert json.loads((tmp_path / "p.json").read_text(encoding="utf-8"))["run_id"] is None
    assert open_store(str(tmp_path / "store" / "runs.duckdb")).list_runs() == []


def test_fhir_pseudonymise_run_is_kept(tmp_path: Path, store_location: str) -> None:
    from governance.test_pseudonymise_fhir import CONFIG, write_export
    from healthdq import pipeline
    from healthdq.governance.pseudonymise import parse_config

    files = write_dataset(tmp_path / "in")
    config = tmp_path / "in" / "fhir.yaml"
    config.write_text(CONFIG, encoding="utf-8")
    settings = pipeline.Settings(audit_log=tmp_path / "a.jsonl", store=store_location)
    done = pipeline.pseudonymise(
        {"fhir": str(write_export(tmp_path / "in" / "export"))},
        parse_config(CONFIG, str(config)),
        tmp_path / "out",
        key_file=files["key"],
        settings=settings,
    )
    run = open_store(store_location).load_run(done.run_id)
    metrics = {(m.name, m.table): m for m in run.metrics}
    assert metrics[("rows_out", "Patient")].value == 2
    assert metrics[("output_sha256", "Patient")].text == content_hash(
        tmp_path / "out" / "Patient.ndjson"
    )
    assert KEY_TEXT not in run.model_dump_json()
