"""Statuses, severities and the pass/fail decision: defined here once for every verb.

DQD semantics: a check fails when the % of violating rows exceeds its threshold (0 means any
violation fails); a check with nothing to judge is not applicable; one that could not run is an
error and counts as failing, never as a silent pass.
"""

from __future__ import annotations

from typing import Literal

Status = Literal["passed", "failed", "not_applicable", "error"]
STATUSES: tuple[str, ...] = ("passed", "failed", "not_applicable", "error")

SEVERITY_RANK: dict[str, int] = {"fatal": 3, "error": 2, "warning": 1, "info": 0}
# `--fail-on` thresholds: a severity name, or never.
FAIL_ON: dict[str, int] = {**SEVERITY_RANK, "never": 99}


def severity_rank(severity: str | None) -> int:
    """Rank of a severity (fatal 3 ... info 0); unknown severities rank as info."""
    return SEVERITY_RANK.get(str(severity or "").lower(), 0)


def decide(violations: int, denominator: int, threshold: float) -> tuple[Status, float | None]:
    """Status and % violating (0..100) of a counted check."""
    if denominator == 0:
        return "not_applicable", None
    pct = 100.0 * violations / denominator
    if violations > 0 and pct > threshold:
        return "failed", pct
    return "passed", pct


def is_failing(status: str) -> bool:
    """Failed and errored checks both count against the data: never a silent pass."""
    return status in ("failed", "error")
