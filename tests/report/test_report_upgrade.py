"""Results files of schema 1.x still load: upgraded to 2.0 and rescored (report/upgrade.py).

The fixtures were written by healthdq's 1.0 JSON writer before scores were typed: a grouped run
of the nhs-apc pack on a synthetic extract, and the same pack on an extract whose columns were
renamed so that 39 of its 46 rules errored (1.0 headlined it as DQMI 99.44).
"""

from __future__ import annotations

import json
from pathlib import Path

from healthdq.report import load_json, write_json
from healthdq.report.upgrade import upgrade_1x
from healthdq.results import SCHEMA_VERSION

FIXTURES = Path(__file__).parent / "fixtures"


def _raw(name: str) -> dict:
    data: dict = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    assert data["schema_version"] == "1.0"
    return data


def test_a_run_without_errors_keeps_its_score_and_league(tmp_path: Path) -> None:
    raw = _raw("results-1.0-grouped.json")
    result = load_json(FIXTURES / "results-1.0-grouped.json")
    assert result.schema_version == SCHEMA_VERSION == "2.0"
    dqmi = result.scores.dqmi
    assert dqmi is not None and dqmi.state == "scored"
    assert dqmi.score == raw["scores"]["overall"] == 99.81
    assert dqmi.dimensions.model_dump() == raw["scores"]["dimensions"]
    old_items = {(i["table"], i["column"]): i["score"] for i in raw["scores"]["items"]}
    assert {(i.table, i.column): i.score for i in dqmi.items} == old_items
    kahn = result.scores.kahn
    assert kahn is not None and kahn.model_dump() == raw["scores"]["kahn"]
    old_league = raw["groups"][0]["scores"]
    new_league = [g.model_dump(exclude={"rules_errored"}) for g in result.groups[0].scores]
    assert new_league == old_league
    # Written again, it is a 2.0 file that loads as it was.
    again = write_json(result, tmp_path / "r.json")
    assert json.loads(again.read_text(encoding="utf-8"))["schema_version"] == "2.0"
    assert load_json(again) == result


def test_a_run_mostly_in_error_is_no_longer_headlined() -> None:
    raw = _raw("results-1.0-unmapped.json")
    assert raw["scores"]["overall"] == 99.44 and raw["summary"]["error"] == 39
    dqmi = load_json(FIXTURES / "results-1.0-unmapped.json").scores.dqmi
    assert dqmi is not None and dqmi.state == "insufficient" and dqmi.headline is None
    assert (dqmi.ran.rules_ran, dqmi.ran.rules_total) == (7, 46)
    assert dqmi.score is not None and dqmi.score < 10.0


def test_upgrade_drops_only_the_scores() -> None:
    raw = _raw("results-1.0-grouped.json")
    out = upgrade_1x(raw)
    assert out["schema_version"] == "2.0" and out["scores"] == {}
    assert out["groups"][0]["scores"] == [] and out["groups"][0]["rows"] == raw["groups"][0]["rows"]
    assert out["rules"] == raw["rules"] and out["metrics"] == raw["metrics"]
    assert raw["scores"], "the input is not modified"
