"""Read results files of an older schema: 1.x -> the current RunResult (docs/json-schema.md).

1.x kept scores as a free-form mapping whose DQMI left errored rules out, so a run with most
rules in error could headline a near-perfect score. Rather than carry such a number forward,
the upgrade drops the 1.x scores and scores the stored rule results again with the current
method: a 1.x file holds everything scoring reads (rules with their statuses and counts, table
row counts, group rows with their suppression flags), and a run without errors gets the same
score it had.
"""

from __future__ import annotations

from typing import Any

from healthdq.results import SCHEMA_VERSION, RunResult


def upgrade_1x(data: dict[str, Any]) -> dict[str, Any]:
    """A 1.x document as a 2.0 one, minus the scores (which only the scorer may fill)."""
    out = dict(data)
    out["schema_version"] = SCHEMA_VERSION
    out["scores"] = {}
    groups = out.get("groups")
    if isinstance(groups, list):
        out["groups"] = [{**g, "scores": []} if isinstance(g, dict) else g for g in groups]
    return out


def upgrade(data: dict[str, Any]) -> RunResult:
    """A RunResult from a 1.x document, rescored (raises pydantic's ValidationError if it is
    not a 1.x result)."""
    from healthdq.scoring import score

    return score(RunResult.model_validate(upgrade_1x(data)))
