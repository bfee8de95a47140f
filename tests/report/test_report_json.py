import json
import math
from pathlib import Path

import pytest

from healthdq.errors import HealthdqError
from healthdq.report import load_json, write_json
from healthdq.results import SCHEMA_VERSION, RunResult


def test_round_trip(result: RunResult, tmp_path: Path) -> None:
    path = write_json(result, tmp_path / "out" / "results.json")
    assert load_json(path) == result


def test_stable_and_readable(result: RunResult, tmp_path: Path) -> None:
    a = write_json(result, tmp_path / "a.json").read_bytes()
    # Same content built with free-form keys in another order: same bytes.
    result.summary = dict(reversed(list(result.summary.items())))
    b = write_json(result, tmp_path / "b.json").read_bytes()
    assert a == b
    data = json.loads(a.decode("utf-8"))
    assert list(data)[:3] == ["schema_version", "healthdq_version", "run_id"]
    assert data["schema_version"] == SCHEMA_VERSION
    assert data["started_at"] == "2026-03-01T09:30:00Z"
    # Typed scores come in schema order, with the shares of rules and items that ran.
    assert list(data["scores"]) == ["dqmi", "kahn"]
    assert data["scores"]["dqmi"]["state"] == "scored"
    assert data["scores"]["dqmi"]["ran"]["rules_pct"] == 83.33


def test_non_finite_numbers_become_null(result: RunResult, tmp_path: Path) -> None:
    result.rules[0].pct_violating = math.nan
    assert result.scores.dqmi is not None
    result.scores.dqmi.score = math.inf
    text = (write_json(result, tmp_path / "r.json")).read_text(encoding="utf-8")
    data = json.loads(text)  # strict JSON parsers reject NaN
    assert data["rules"][0]["pct_violating"] is None
    assert data["scores"]["dqmi"]["score"] is None
    assert "NaN" not in text and "Infinity" not in text


def test_utf8_not_escaped(result: RunResult, tmp_path: Path) -> None:
    result.rules[0].description = "Ysbyty Gwynedd – café ✓"
    text = write_json(result, tmp_path / "r.json").read_text(encoding="utf-8")
    assert "Ysbyty Gwynedd – café ✓" in text


def test_unknown_fields_ignored_and_major_version_checked(
    result: RunResult, tmp_path: Path
) -> None:
    path = write_json(result, tmp_path / "r.json")
    data = json.loads(path.read_text(encoding="utf-8"))
    data["added_in_2_5"] = {"x": 1}
    data["schema_version"] = "2.5"
    path.write_text(json.dumps(data), encoding="utf-8")
    loaded = load_json(path)
    assert loaded.run_id == result.run_id and loaded.scores == result.scores
    data["schema_version"] = "3.0"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(HealthdqError, match="schema_version 3.0"):
        load_json(path)


def test_load_errors_are_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(HealthdqError, match="not valid JSON"):
        load_json(bad)
    with pytest.raises(HealthdqError, match="cannot read"):
        load_json(tmp_path / "missing.json")
    bad.write_text(json.dumps({"schema_version": SCHEMA_VERSION, "run_id": 1}), encoding="utf-8")
    with pytest.raises(HealthdqError, match="does not match the schema"):
        load_json(bad)
