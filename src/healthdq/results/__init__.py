"""Run results: one model for every verb (model.py), statuses and decisions (status.py), typed
scores (scores.py)."""

from healthdq.results.model import (
    SCHEMA_VERSION,
    AuditRef,
    ColumnInfo,
    GroupBreakdown,
    GroupRow,
    Metric,
    Reference,
    RuleResult,
    RunResult,
    Sample,
    TableResult,
)
from healthdq.results.scores import MIN_COVERAGE_PCT, Dqmi, GroupScore, KahnOverview, Scores
from healthdq.results.status import STATUSES, Status, decide, is_failing, severity_rank

__all__ = [
    "MIN_COVERAGE_PCT",
    "SCHEMA_VERSION",
    "STATUSES",
    "AuditRef",
    "ColumnInfo",
    "Dqmi",
    "GroupBreakdown",
    "GroupRow",
    "GroupScore",
    "KahnOverview",
    "Metric",
    "Reference",
    "RuleResult",
    "RunResult",
    "Sample",
    "Scores",
    "Status",
    "TableResult",
    "decide",
    "is_failing",
    "severity_rank",
]
