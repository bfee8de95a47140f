"""healthdq.profile and healthdq.omop go through the pipeline: masked, audited."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pytest
from api_data import COLUMNS, NHS, audit_events

import healthdq
from healthdq.results import RunResult
from healthdq.store import open_store


@pytest.mark.parametrize("kind", ["arrow", "pandas", "polars"])
def test_profile_of_a_frame_is_masked_and_audited(kind: str, tmp_path: Path) -> None:
    frame = pa.table(COLUMNS)
    if kind == "pandas":
        frame = pytest.importorskip("pandas").DataFrame(COLUMNS)
    elif kind == "polars":
        frame = pytest.importorskip("polars").DataFrame(COLUMNS)
    prof = healthdq.profile(frame, table="people")
    assert prof.rows == 4
    assert [c.name for c in prof.columns] == list(COLUMNS)
    assert not any(n in prof.model_dump_json() for n in NHS)
    events = audit_events(tmp_path)
    assert [e["action"] for e in events] == ["profile"]
    assert events[0]["rows"] == 4


def test_profile_of_a_path(tmp_path: Path, csv_file: Path) -> None:
    prof = healthdq.profile(csv_file)
    assert prof.rows == 4
    assert audit_events(tmp_path)[0]["dataset"] == str(csv_file)


def test_omop_returns_a_run_result_masked_and_audited(
    tmp_path: Path, make_cdm: Callable[..., Path]
) -> None:
    folder = make_cdm("csv")
    out = tmp_path / "dqd.json"
    result = healthdq.omop(folder, run_date="2025-01-01", outputs={"dqd-json": out})
    assert isinstance(result, RunResult) and result.failed()
    persons = [
        v for r in result.rules for s in r.samples for k, v in s.values.items() if k == "person_id"
    ]
    assert persons and all(v == "***" for v in persons if v is not None)
    assert json.loads(out.read_text(encoding="utf-8"))
    assert [e["action"] for e in audit_events(tmp_path)] == ["omop.samples"]
    with open_store() as store:
        assert [r.run_id for r in store.list_runs(verb="omop")] == [result.run_id]
