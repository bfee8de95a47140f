"""The results store interface: what the CLI, the pipeline and a server may ask of a store.

A store keeps every run: the RunResult (as JSON), one row per rule, one row per metric (keyed by
dataset, table, column, rule, group and time, for trends) and the files the run rendered.
Backends: an embedded DuckDB file (duckdb_store.py, the default) and PostgreSQL (postgres.py).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from datetime import datetime
from types import TracebackType

from pydantic import BaseModel

from healthdq.errors import HealthdqError
from healthdq.results import RunResult


class StoreError(HealthdqError):
    """The store cannot be opened, written or read: one line, exit 2."""


class RunSummary(BaseModel):
    """One run as listed: the `runs` table's columns, without the result itself."""

    run_id: str
    verb: str
    dataset: str
    contract: str
    sources: str
    engine: str
    started_at: datetime
    finished_at: datetime
    status: str  # passed | failed
    worst_severity: str | None
    rules: int
    passed: int
    failed: int
    errors: int
    not_applicable: int
    score: float | None
    score_state: str | None  # scored | insufficient (too few rules ran to headline) | not_scored
    masked: bool
    audit_head: str | None
    audit_log: str | None = None
    outputs: list[str] = []


class MetricPoint(BaseModel):
    """One point of a metric's history: which run, when, and the value (or text)."""

    run_id: str
    started_at: datetime
    value: float | None
    text: str | None


class Store(ABC):
    """A results store. Every call is its own transaction; a failed save leaves nothing."""

    location: str

    @abstractmethod
    def prepare(self) -> None:
        """Open the store (creating it if needed) and bring its schema up to date."""

    @abstractmethod
    def save_run(
        self, result: RunResult, *, verb: str, dataset: str, outputs: Mapping[str, bytes]
    ) -> None:
        """Keep a run (result, rules, metrics, rendered outputs) in one transaction."""

    @abstractmethod
    def list_runs(
        self, *, dataset: str | None = None, verb: str | None = None, limit: int | None = None
    ) -> list[RunSummary]:
        """Runs, newest first."""

    @abstractmethod
    def resolve(self, ref: str) -> str:
        """A run id from a full id, a unique prefix, `latest` or `latest~N`."""

    @abstractmethod
    def load_run(self, run_id: str) -> RunResult:
        """The stored RunResult; a damaged one is a StoreError."""

    @abstractmethod
    def summary(self, run_id: str) -> RunSummary:
        """The run's row in `runs`."""

    @abstractmethod
    def output(self, run_id: str, name: str) -> bytes | None:
        """A file the run rendered (html, json, junit, dqd-json...), byte for byte."""

    @abstractmethod
    def datasets(self) -> list[str]:
        """Every dataset with a stored run."""

    @abstractmethod
    def metric_series(
        self,
        dataset: str,
        name: str,
        *,
        table: str | None = None,
        column: str | None = None,
        rule: str | None = None,
        group: str | None = None,
        since: datetime | None = None,
    ) -> list[MetricPoint]:
        """One metric over time (oldest first): what trend alerts and charts read."""

    def close(self) -> None:  # noqa: B027  (backends without a held connection need nothing)
        """Release anything held open."""

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
