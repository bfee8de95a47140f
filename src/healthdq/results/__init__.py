"""Run results: one model for every verb (model.py), statuses and decisions (status.py)."""

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
from healthdq.results.status import STATUSES, Status, decide, is_failing, severity_rank

__all__ = [
    "SCHEMA_VERSION",
    "STATUSES",
    "AuditRef",
    "ColumnInfo",
    "GroupBreakdown",
    "GroupRow",
    "Metric",
    "Reference",
    "RuleResult",
    "RunResult",
    "Sample",
    "Status",
    "TableResult",
    "decide",
    "is_failing",
    "severity_rank",
]
