"""One test per input type: a path, pandas, polars, pyarrow and a DuckDB relation give the same
result as the CLI's path, with samples masked and an audit entry written."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from api_data import COLUMNS, CONTRACT, EXPECTED, NHS, audit_events

import healthdq
from healthdq.results import RunResult
from healthdq.store import open_store


def _pandas(tmp_path: Path) -> Any:
    pd = pytest.importorskip("pandas")
    return pd.DataFrame(COLUMNS)


def _polars(tmp_path: Path) -> Any:
    pl = pytest.importorskip("polars")
    return pl.DataFrame(COLUMNS)


def _arrow(tmp_path: Path) -> Any:
    import pyarrow as pa

    return pa.table(COLUMNS)


def _arrow_batch(tmp_path: Path) -> Any:
    import pyarrow as pa

    return pa.record_batch(COLUMNS)


def _duckdb_relation(tmp_path: Path) -> Any:
    import duckdb

    con = duckdb.connect()
    con.execute("CREATE TABLE people (nhs_number VARCHAR, sex VARCHAR, age INTEGER)")
    rows = list(zip(*COLUMNS.values(), strict=True))
    con.executemany("INSERT INTO people VALUES (?, ?, ?)", rows)
    # Ordered, so the relation's row positions are the insertion order.
    return con.sql("SELECT * FROM people ORDER BY rowid")


def _path(tmp_path: Path) -> Any:
    path = tmp_path / "people.csv"
    lines = [",".join(COLUMNS)]
    lines += [",".join(str(v) for v in row) for row in zip(*COLUMNS.values(), strict=True)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


INPUTS: dict[str, tuple[Callable[[Path], Any], str]] = {
    "path": (_path, "people.csv"),
    "pandas": (_pandas, "pandas DataFrame"),
    "polars": (_polars, "polars DataFrame"),
    "pyarrow": (_arrow, "pyarrow Table"),
    "pyarrow-batch": (_arrow_batch, "pyarrow Table"),
    "duckdb-relation": (_duckdb_relation, "DuckDB relation"),
}


def _outcome(result: RunResult) -> dict[str, tuple[str, int | None, list[int | None]]]:
    return {
        r.rule_id: (r.status, r.violating_rows, [s.row for s in r.samples]) for r in result.rules
    }


@pytest.mark.parametrize("kind", list(INPUTS))
def test_each_input_type_gives_the_same_masked_audited_result(tmp_path: Path, kind: str) -> None:
    make, label = INPUTS[kind]
    html = tmp_path / "report.html"
    result = healthdq.check(make(tmp_path), contract=CONTRACT, outputs={"html": html})

    assert _outcome(result) == EXPECTED
    assert result.engine == "duckdb"
    assert result.tables[0].rows == 4
    assert result.tables[0].source.endswith(label)
    # Masked by default in the result, the notebook view, the DataFrame view and the report.
    flagged = next(r for r in result.rules if r.rule_id == "nhs.flagged")
    assert flagged.samples[0].values["nhs_number"] == "943 *** **70"
    outputs = [
        result.model_dump_json(),
        result._repr_html_(),
        html.read_text(encoding="utf-8"),
    ]
    leaked = [n for n in NHS if any(n in text for text in outputs)]
    assert leaked == []
    events = audit_events(tmp_path)
    assert [e["action"] for e in events] == ["check.samples"]
    assert events[0]["rows"] == sum(len(r.samples) for r in result.rules)
    # The audit names what was read, never the frame's contents.
    assert label in events[0]["dataset"] and NHS[1] not in events[0]["dataset"]
    assert result.audit is not None and result.audit.head
    # Kept in the results store (HEALTHDQ_STORE, set per test), samples masked there too.
    with open_store() as store:
        (run,) = store.list_runs()
        assert run.run_id == result.run_id and run.masked and run.verb == "check"
        assert not any(n in store.load_run(run.run_id).model_dump_json() for n in NHS)


@pytest.mark.parametrize("kind", ["pandas", "polars", "pyarrow"])
def test_mapping_renames_frame_columns(kind: str, tmp_path: Path) -> None:
    frame = INPUTS[kind][0](tmp_path)
    renamed = (
        frame.rename(columns={"sex": "GENDER"})
        if kind == "pandas"
        else frame.rename({"sex": "GENDER"})
        if kind == "polars"
        else frame.rename_columns(["nhs_number", "GENDER", "age"])
    )
    result = healthdq.check(renamed, contract=CONTRACT, mapping={"sex": "GENDER"})
    assert _outcome(result) == EXPECTED


def test_unmask_is_explicit_and_audited(tmp_path: Path) -> None:
    pd = pytest.importorskip("pandas")
    result = healthdq.check(pd.DataFrame(COLUMNS), contract=CONTRACT, unmask=True)
    flagged = next(r for r in result.rules if r.rule_id == "nhs.flagged")
    assert flagged.samples[0].values["nhs_number"] == NHS[1]
    assert result.masked is False
    assert "unmasked" in result._repr_html_()
    assert audit_events(tmp_path)[0]["unmasked"] is True


def test_group_by_run_date_and_sample_size_reach_the_pipeline(tmp_path: Path) -> None:
    import pyarrow as pa

    result = healthdq.check(
        pa.table(COLUMNS),
        contract=CONTRACT,
        group_by="sex",
        run_date="2025-01-31",
        sample_size=1,
        suppress_small_numbers=False,
    )
    assert result.run_date == "2025-01-31"
    assert max(len(r.samples) for r in result.rules) == 1
    assert [g.column for g in result.groups] == ["sex"]
    assert {row.group for row in result.groups[0].rows} == {"1", "2", "X", "9"}


def test_pack_on_a_frame(tmp_path: Path) -> None:
    """A shipped pack runs on a DataFrame as on a file: unmapped columns are rule errors."""
    import pyarrow as pa

    result = healthdq.check(pa.table(COLUMNS), pack="nhs-apc")
    assert result.contract == "nhs-apc"
    assert result.rules and {r.status for r in result.rules} <= {
        "passed",
        "failed",
        "error",
        "not_applicable",
    }
    assert audit_events(tmp_path)


def test_multi_table_contract_takes_a_mapping_of_frames(tmp_path: Path) -> None:
    import pyarrow as pa

    contract = """
name: two
tables:
  people:
    rules:
      - {id: sex.valid, kind: allowed_values, column: sex, values: ['1', '2']}
  visits:
    rules:
      - {id: person.known, kind: foreign_key, column: nhs_number,
         ref_table: people, ref_column: nhs_number}
"""
    visits = pa.table({"nhs_number": [NHS[0], "0000000000"]})
    for size in (0, 5):
        data = {"people": pa.table(COLUMNS), "visits": visits}
        result = healthdq.check(data, contract=contract, sample_size=size)
        outcome = {r.rule_id: (r.status, r.violating_rows, len(r.samples)) for r in result.rules}
        assert outcome == {
            "sex.valid": ("failed", 2, min(size, 2)),
            "person.known": ("failed", 1, min(size, 1)),
        }


def test_audit_key_file_keys_the_chain(tmp_path: Path) -> None:
    import pyarrow as pa

    key = tmp_path / "audit.key"
    key.write_bytes(b"k" * 40)
    key.chmod(0o600)
    result = healthdq.check(pa.table(COLUMNS), contract=CONTRACT, audit_key_file=key)
    assert result.audit is not None and result.audit.keyed
    assert audit_events(tmp_path)[0]["chain"] != "sha256"


def test_tables_not_given_are_read_from_the_contract_source(tmp_path: Path) -> None:
    import pyarrow as pa

    _path(tmp_path)  # people.csv beside the contract
    contract = tmp_path / "two.yaml"
    contract.write_text(
        CONTRACT.replace("  people:\n", "  people:\n    source: people.csv\n", 1)
        + "  visits:\n    rules:\n      - {id: v.nhs, kind: not_null, column: nhs_number}\n",
        encoding="utf-8",
    )
    result = healthdq.check({"visits": pa.table({"nhs_number": [NHS[0], None]})}, contract=contract)
    assert {t.name: t.source for t in result.tables} == {
        "people": str(tmp_path / "people.csv"),
        "visits": "pyarrow Table",
    }
    assert _outcome(result)["v.nhs"] == ("failed", 1, [2])
    with pytest.raises(healthdq.HealthdqError, match=r"no data for table\(s\) visits: give"):
        healthdq.check({"people": tmp_path / "people.csv"}, contract=contract)


def test_store_options(tmp_path: Path) -> None:
    import pyarrow as pa

    healthdq.check(pa.table(COLUMNS), contract=CONTRACT, keep_run=False)
    with open_store() as store:
        assert store.list_runs() == []
    elsewhere = tmp_path / "elsewhere.duckdb"
    result = healthdq.check(pa.table(COLUMNS), contract=CONTRACT, store=elsewhere, dataset="ward9")
    with open_store(str(elsewhere)) as store:
        (run,) = store.list_runs(dataset="ward9")
        assert run.run_id == result.run_id
