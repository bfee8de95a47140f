"""Run results: the stable structure behind every output (JSON schema in docs/json-schema.md).

SCHEMA_VERSION changes only when a field is removed or changes meaning; new fields may appear.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from healthdq.results.scores import GroupScore, Scores
from healthdq.results.status import Status, is_failing, severity_rank

# 2.0: scores typed (scores.dqmi, scores.kahn; league entries as GroupScore). report/upgrade.py
# reads 1.x files.
SCHEMA_VERSION = "2.0"


class Sample(BaseModel):
    """One failing row: its 1-based row number in the source and the offending values."""

    row: int | None
    values: dict[str, Any]


class Reference(BaseModel):
    """A rule's entry in an outside catalogue (OHDSI DQD for OMOP), in that catalogue's own
    terms, so its format can be rendered again from a stored run."""

    catalogue: str  # "dqd"
    check_name: str
    check_level: str | None = None
    table: str | None = None
    field: str | None = None
    concept_id: str | None = None
    unit_concept_id: str | None = None
    sql_file: str | None = None
    category: str | None = None
    subcategory: str | None = None
    context: str | None = None
    notes: str | None = None


class RuleResult(BaseModel):
    rule_id: str
    table: str
    kind: str
    description: str = ""
    columns: list[str] = Field(default_factory=list)
    category: str | None = None  # Kahn category
    subcategory: str | None = None
    context: str | None = None  # verification | validation
    dimension: str | None = None  # DQMI dimension
    severity: str = "error"
    threshold: float = 0.0
    status: Status
    violating_rows: int | None = None
    denominator: int | None = None
    pct_violating: float | None = None  # 0..100
    # Why not applicable, or the error message, one line.
    message: str | None = None
    samples: list[Sample] = Field(default_factory=list)
    # Metric for table-level rules (row count, latest date...).
    observed: Any = None
    # Filled where known (OMOP checks fill all): the reason apart from `message`, time, queries
    # run and the SQL that answered, and the outside catalogue's entry.
    not_applicable_reason: str | None = None
    error: str | None = None
    elapsed_ms: float | None = None
    queries: int | None = None
    query_text: str | None = None
    reference: Reference | None = None


class ColumnInfo(BaseModel):
    name: str
    type: str
    identifier: str | None = None


class TableResult(BaseModel):
    name: str
    source: str
    rows: int
    columns: list[ColumnInfo]
    elapsed_ms: float = 0.0
    scans: int = 0  # queries that read this table's rows
    warnings: list[str] = Field(default_factory=list)  # e.g. encoding guessed, column unmapped
    # Contract column -> the source column bound to it (by --map or by a pack's aliases).
    bindings: dict[str, str] = Field(default_factory=dict)


class GroupRow(BaseModel):
    """One group's (e.g. one provider's) result for one rule."""

    group: str | None
    rule_id: str
    violating_rows: int | None
    denominator: int | None
    pct_violating: float | None
    suppressed: bool = False


class GroupBreakdown(BaseModel):
    table: str
    column: str
    rows: list[GroupRow]
    # Per group: DQMI-style score and row count (filled by scoring).
    scores: list[GroupScore] = Field(default_factory=list)


class Metric(BaseModel):
    """One measurement of a run, keyed as in Deequ's metrics repository.

    The run supplies dataset (contract and sources) and time (started_at); a metric adds where
    (table, column, rule, group) and what (name). Numbers go in `value`; anything else (a text
    min/max, top values as JSON) in `text`. History, anomaly alerts and drift read these.
    """

    name: str  # rows | nulls | blanks | distinct | min | max | mean | top_values | violating ...
    value: float | None = None
    text: str | None = None
    table: str | None = None
    column: str | None = None
    rule: str | None = None
    group: str | None = None  # "column=value" of a by-group breakdown


class AuditRef(BaseModel):
    """Where this run's access was recorded: the audit event's hash is the log's head then."""

    log: str
    head: str
    keyed: bool = False


class RunResult(BaseModel):
    schema_version: str = SCHEMA_VERSION
    healthdq_version: str
    run_id: str
    contract: str
    contract_version: str
    started_at: datetime
    finished_at: datetime
    run_date: str
    engine: str
    masked: bool = True
    tables: list[TableResult]
    rules: list[RuleResult]
    groups: list[GroupBreakdown] = Field(default_factory=list)
    scores: Scores = Field(default_factory=Scores)
    summary: dict[str, int] = Field(default_factory=dict)
    metrics: list[Metric] = Field(default_factory=list)
    audit: AuditRef | None = None
    # What the source says about itself (OMOP: the CDM_SOURCE rows, upper-case keys).
    source_metadata: list[dict[str, Any]] = Field(default_factory=list)
    # The small-number policy applied to identifiable data (hes, round5, threshold:N), if any.
    suppression: str | None = None

    def worst_failure(self) -> int:
        """Highest severity rank among failed or errored rules (-1 if none).

        A rule that could not run counts as failing: never a silent pass.
        """
        failed = [severity_rank(r.severity) for r in self.rules if is_failing(r.status)]
        return max(failed, default=-1)

    def failed(self) -> list[RuleResult]:
        """Rules that failed or could not run (an error is never a silent pass)."""
        return [r for r in self.rules if is_failing(r.status)]

    def to_pandas(self) -> Any:
        """One row per rule as a pandas DataFrame (needs pandas: healthdq[dataframes])."""
        from healthdq.results.display import rules_frame

        return rules_frame(self)

    def _repr_html_(self) -> str:
        """Jupyter's view: counts by status and the failing rules, samples as masked."""
        from healthdq.results.display import summary_html

        return summary_html(self)
