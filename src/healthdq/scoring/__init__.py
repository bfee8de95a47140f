"""Scoring: DQMI-style scores, a Kahn overview and per-group league tables (docs/scoring.md)."""

from __future__ import annotations

from healthdq.results import RunResult
from healthdq.scoring.dqmi import fit_for_purpose, score_run
from healthdq.scoring.groups import score_groups
from healthdq.scoring.kahn import kahn_overview

__all__ = ["fit_for_purpose", "kahn_overview", "score", "score_groups", "score_run"]


def score(result: RunResult) -> RunResult:
    """Fill result.scores (dqmi, kahn) and the league table of every group breakdown; returns
    the same result."""
    score_run(result)
    result.scores.kahn = kahn_overview(result.rules)
    score_groups(result)
    return result
