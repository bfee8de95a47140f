"""The SQL both backends share: migrations, saving a run in one transaction, and the reads.

A backend supplies a connection, its column types, its placeholder and a bulk insert (DuckDB
inserts an Arrow table, PostgreSQL uses COPY); everything else is written once here.
"""

from __future__ import annotations

import hashlib
import json
import re
from abc import abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib import resources
from typing import Any, ClassVar

from pydantic import ValidationError

from healthdq import __version__
from healthdq.results import RunResult, is_failing, severity_rank
from healthdq.store.base import MetricPoint, RunSummary, Store, StoreError

_RUN_REF = re.compile(r"^[0-9A-Za-z-]+$")  # no `_` or `%`: they are LIKE wildcards
_LATEST = re.compile(r"^latest(?:~(\d+))?$")
_SUMMARY_FIELDS = [
    "run_id", "verb", "dataset", "contract", "sources", "engine", "started_at", "finished_at",
    "status", "worst_severity", "rules", "passed", "failed", "errors", "not_applicable", "score",
    "score_state", "masked", "audit_head", "audit_log",
]  # fmt: skip
# The run's columns and the names of its stored outputs.
_SUMMARY_COLUMNS = ", ".join(_SUMMARY_FIELDS) + (
    ", (SELECT string_agg(o.name, ',' ORDER BY o.name) FROM outputs o WHERE o.run_id = runs.run_id)"
)
_CREDENTIALS = [
    (re.compile(r"(://[^:/@\s]+):[^@\s]*@"), r"\1@"),
    (re.compile(r"(password\s*=\s*)\S+", re.IGNORECASE), r"\1***"),
]


def redact(text: str) -> str:
    """A location with any password removed, fit for a message or the `runs.sources` column."""
    for pattern, replacement in _CREDENTIALS:
        text = pattern.sub(replacement, text)
    return text


def migrations() -> list[tuple[int, str]]:
    """(version, SQL) of every shipped migration, in order: migrations/NNNN_name.sql."""
    folder = resources.files("healthdq.store").joinpath("migrations")
    found = []
    for entry in folder.iterdir():
        match = re.match(r"^(\d{4})_\w+\.sql$", entry.name)
        if match:
            found.append((int(match.group(1)), entry.read_text(encoding="utf-8")))
    return sorted(found)


class SqlStore(Store):
    """Everything but the connection: a backend fills in the class attributes and hooks."""

    # Types substituted into the migrations' {json}, {blob}, {timestamp}.
    TYPES: ClassVar[dict[str, str]]
    # The driver's placeholder; the SQL here is written with `?`.
    PLACEHOLDER: ClassVar[str] = "?"
    # The driver's exceptions: turned into one-line StoreErrors.
    DRIVER_ERRORS: ClassVar[tuple[type[Exception], ...]] = ()

    def __init__(self, location: str) -> None:
        self.location = location

    # -- backend hooks ---------------------------------------------------------------------
    @abstractmethod
    def _open(self, create: bool) -> Any | None:
        """A connection, or None when the store does not exist and `create` is false."""

    @abstractmethod
    def _close(self, con: Any) -> None: ...

    @abstractmethod
    def _run(self, con: Any, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Execute one statement; the rows it returns (none for DDL and DML)."""

    @abstractmethod
    def _bulk_insert(
        self, con: Any, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]
    ) -> None: ...

    @abstractmethod
    @contextmanager
    def _transaction(self, con: Any) -> Iterator[None]:
        """Commit on success, roll back on any exception; driver errors become StoreError."""

    def _lock_schema(self, con: Any) -> None:  # noqa: B027  (only a shared server needs it)
        """Serialise schema changes between processes (inside the migration transaction)."""

    def _ts_in(self, value: datetime) -> Any:
        return value.astimezone(UTC)

    # -- schema ----------------------------------------------------------------------------
    def _sql(self, sql: str) -> str:
        return sql.replace("?", self.PLACEHOLDER) if self.PLACEHOLDER != "?" else sql

    def _q(self, con: Any, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self._run(con, self._sql(sql), params)

    def _has_table(self, con: Any, name: str) -> bool:
        rows = self._q(
            con,
            "SELECT count(*) FROM information_schema.tables "
            "WHERE table_name = ? AND table_schema = current_schema()",
            [name],
        )
        return bool(rows[0][0])

    def _migrate(self, con: Any) -> None:
        """Bring the schema to the newest version this healthdq knows; refuse newer ones."""
        known = migrations()
        newest = known[-1][0]
        with self._transaction(con):
            self._lock_schema(con)
            if not self._has_table(con, "schema_version"):
                if self._has_table(con, "runs"):
                    raise StoreError(
                        f"results store {redact(self.location)} has a 'runs' table without a "
                        "schema_version table: it was not made by healthdq"
                    )
                self._q(
                    con,
                    "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, "
                    f"applied_at {self.TYPES['timestamp']} NOT NULL, "
                    "healthdq_version TEXT NOT NULL)",
                )
            current = self._q(con, "SELECT max(version) FROM schema_version")[0][0] or 0
            if current > newest or (current and current not in {v for v, _ in known}):
                raise StoreError(
                    f"results store {redact(self.location)} has schema version {current}; "
                    f"this healthdq {__version__} knows versions up to {newest}: upgrade healthdq"
                )
            for version, sql in known:
                if version <= current:
                    continue
                for statement in _statements(sql.format_map(self.TYPES)):
                    self._q(con, statement)
                self._q(
                    con,
                    "INSERT INTO schema_version VALUES (?, ?, ?)",
                    [version, self._ts_in(datetime.now(UTC)), __version__],
                )

    def schema_version(self) -> int:
        """The store's schema version (0 when the store does not exist yet)."""
        with self._session(create=False) as con:
            if con is None:
                return 0
            return int(self._q(con, "SELECT max(version) FROM schema_version")[0][0] or 0)

    @contextmanager
    def _session(self, create: bool) -> Iterator[Any | None]:
        """An open, migrated connection (None: no store yet); driver errors become one line."""
        try:
            con = self._open(create)
            if con is None:
                yield None
                return
            try:
                self._migrate(con)
                yield con
            finally:
                self._close(con)
        except self.DRIVER_ERRORS as exc:
            text = str(exc).strip()
            first = text.splitlines()[0] if text else type(exc).__name__
            raise StoreError(f"results store {redact(self.location)}: {first}") from None

    def prepare(self) -> None:
        with self._session(create=True):
            pass

    # -- write -----------------------------------------------------------------------------
    def save_run(
        self, result: RunResult, *, verb: str, dataset: str, outputs: Mapping[str, bytes]
    ) -> None:
        text = result.model_dump_json()
        score_data = json.loads(text)["scores"]
        scores = json.dumps(score_data, sort_keys=True)
        failing = [r for r in result.rules if is_failing(r.status)]
        worst = max(failing, key=lambda r: severity_rank(r.severity), default=None)
        counts = {s: sum(1 for r in result.rules if r.status == s) for s in _STATUS_COUNTS}
        overall, state = _headline(score_data)
        run_row = [
            result.run_id,
            verb,
            dataset,
            result.contract,
            result.contract_version,
            redact(", ".join(f"{t.name}={t.source}" for t in result.tables)),
            result.engine,
            result.run_date,
            self._ts_in(result.started_at),
            self._ts_in(result.finished_at),
            self._ts_in(datetime.now(UTC)),
            "failed" if failing else "passed",
            worst.severity if worst else None,
            len(result.rules),
            counts["passed"],
            counts["failed"],
            counts["error"],
            counts["not_applicable"],
            overall,
            state,
            scores,
            result.masked,
            result.audit.log if result.audit else None,
            result.audit.head if result.audit else None,
            result.audit.keyed if result.audit else None,
            result.healthdq_version,
            result.schema_version,
            text,
            hashlib.sha256(text.encode("utf-8")).hexdigest(),
        ]
        rules = [
            (
                result.run_id,
                i,
                r.rule_id,
                r.table,
                r.kind,
                ",".join(r.columns),
                r.category,
                r.dimension,
                r.severity,
                r.status,
                r.violating_rows,
                r.denominator,
                _finite(r.pct_violating),
                r.message,
            )
            for i, r in enumerate(result.rules)
        ]
        started = self._ts_in(result.started_at)
        metrics = [
            (
                result.run_id,
                i,
                dataset,
                started,
                m.name,
                m.table,
                m.column,
                m.rule,
                m.group,
                _finite(m.value),
                m.text,
            )
            for i, m in enumerate(result.metrics)
        ]
        files = [
            (result.run_id, name, len(data), hashlib.sha256(data).hexdigest(), data)
            for name, data in sorted(outputs.items())
        ]
        with self._session(create=True) as con, self._transaction(con):
            if self._q(con, "SELECT count(*) FROM runs WHERE run_id = ?", [result.run_id])[0][0]:
                raise StoreError(f"run {result.run_id} is already in {redact(self.location)}")
            marks = ", ".join("?" * len(run_row))
            self._q(con, f"INSERT INTO runs VALUES ({marks})", run_row)
            self._bulk_insert(con, "rule_results", _RULE_COLUMNS, rules)
            self._bulk_insert(con, "metrics", _METRIC_COLUMNS, metrics)
            self._bulk_insert(con, "outputs", _OUTPUT_COLUMNS, files)

    # -- read ------------------------------------------------------------------------------
    def _summaries(self, con: Any, where: str, params: list[Any], limit: str) -> list[RunSummary]:
        rows = self._q(
            con,
            f"SELECT {_SUMMARY_COLUMNS} FROM runs {where} "
            f"ORDER BY started_at DESC, run_id DESC {limit}",
            params,
        )
        out = []
        for row in rows:
            data = dict(zip(_SUMMARY_FIELDS, row[:-1], strict=True))
            data["started_at"] = _ts_out(data["started_at"])
            data["finished_at"] = _ts_out(data["finished_at"])
            data["outputs"] = row[-1].split(",") if row[-1] else []
            out.append(RunSummary.model_validate(data))
        return out

    def list_runs(
        self, *, dataset: str | None = None, verb: str | None = None, limit: int | None = None
    ) -> list[RunSummary]:
        clauses, params = [], []
        for column, value in (("dataset", dataset), ("verb", verb)):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        with self._session(create=False) as con:
            if con is None:
                return []
            return self._summaries(con, where, params, f"LIMIT {int(limit)}" if limit else "")

    def resolve(self, ref: str) -> str:
        latest = _LATEST.match(ref)
        if not latest and not _RUN_REF.match(ref):
            raise StoreError(f"'{ref}' is not a run id (hex id, prefix, latest or latest~N)")
        with self._session(create=False) as con:
            if con is None:
                raise StoreError(f"no runs stored in {redact(self.location)}")
            if latest:
                offset = int(latest.group(1) or 0)
                rows = self._q(
                    con,
                    "SELECT run_id FROM runs ORDER BY started_at DESC, run_id DESC "
                    f"LIMIT 1 OFFSET {offset}",
                )
            else:
                rows = self._q(
                    con, "SELECT run_id FROM runs WHERE run_id LIKE ? LIMIT 2", [ref + "%"]
                )
        if not rows:
            raise StoreError(f"no run '{ref}' in {redact(self.location)}")
        if len(rows) > 1:
            raise StoreError(f"run '{ref}' is ambiguous in {redact(self.location)}: give more")
        return str(rows[0][0])

    def summary(self, run_id: str) -> RunSummary:
        with self._session(create=False) as con:
            found = [] if con is None else self._summaries(con, "WHERE run_id = ?", [run_id], "")
        if not found:
            raise StoreError(f"no run '{run_id}' in {redact(self.location)}")
        return found[0]

    def load_run(self, run_id: str) -> RunResult:
        with self._session(create=False) as con:
            rows = (
                []
                if con is None
                else self._q(
                    con, "SELECT result, result_sha256 FROM runs WHERE run_id = ?", [run_id]
                )
            )
        if not rows:
            raise StoreError(f"no run '{run_id}' in {redact(self.location)}")
        text, digest = rows[0]
        corrupt = f"stored run {run_id} in {redact(self.location)} is corrupt"
        if not isinstance(text, str) or hashlib.sha256(text.encode()).hexdigest() != digest:
            raise StoreError(f"{corrupt}: its result does not match its checksum")
        try:
            return RunResult.model_validate_json(text)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "(top)"
            raise StoreError(f"{corrupt}: at {where}: {first['msg']}") from None

    def output(self, run_id: str, name: str) -> bytes | None:
        with self._session(create=False) as con:
            rows = (
                []
                if con is None
                else self._q(
                    con,
                    "SELECT content, sha256 FROM outputs WHERE run_id = ? AND name = ?",
                    [run_id, name],
                )
            )
        if not rows:
            return None
        data = bytes(rows[0][0])
        if hashlib.sha256(data).hexdigest() != rows[0][1]:
            raise StoreError(
                f"stored {name} of run {run_id} in {redact(self.location)} is corrupt: "
                "it does not match its checksum"
            )
        return data

    def datasets(self) -> list[str]:
        with self._session(create=False) as con:
            if con is None:
                return []
            return [r[0] for r in self._q(con, "SELECT DISTINCT dataset FROM runs ORDER BY 1")]

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
        # `IS NULL` rather than IS NOT DISTINCT FROM, so that PostgreSQL uses the index.
        clauses, params = ["dataset = ?", "name = ?"], [dataset, name]
        for col, value in (
            ("table_name", table),
            ("column_name", column),
            ("rule_id", rule),
            ("group_key", group),
        ):
            if value is None:
                clauses.append(f"{col} IS NULL")
            else:
                clauses.append(f"{col} = ?")
                params.append(value)
        if since is not None:
            clauses.append("started_at >= ?")
            params.append(self._ts_in(since))
        with self._session(create=False) as con:
            if con is None:
                return []
            rows = self._q(
                con,
                f"SELECT run_id, started_at, value, text FROM metrics "
                f"WHERE {' AND '.join(clauses)} ORDER BY started_at, run_id",
                params,
            )
        return [
            MetricPoint(run_id=r[0], started_at=_ts_out(r[1]), value=r[2], text=r[3]) for r in rows
        ]


_STATUS_COUNTS = ("passed", "failed", "error", "not_applicable")
_RULE_COLUMNS = [
    "run_id",
    "position",
    "rule_id",
    "table_name",
    "kind",
    "columns",
    "category",
    "dimension",
    "severity",
    "status",
    "violating_rows",
    "denominator",
    "pct_violating",
    "message",
]
_METRIC_COLUMNS = [
    "run_id",
    "position",
    "dataset",
    "started_at",
    "name",
    "table_name",
    "column_name",
    "rule_id",
    "group_key",
    "value",
    "text",
]
_OUTPUT_COLUMNS = ["run_id", "name", "size", "sha256", "content"]


def _headline(scores: Any) -> tuple[float | None, str | None]:
    """The run's overall score and its state, from the scores document whatever its shape."""
    if not isinstance(scores, dict):
        return None, None
    dqmi = scores.get("dqmi")
    if isinstance(dqmi, dict):
        value, state = dqmi.get("score"), dqmi.get("state")
    else:  # results schema 1.x: a flat dict with `overall`
        value, state = scores.get("overall"), None
    number = (
        float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
    )
    return _finite(number), str(state) if state is not None else None


def _finite(value: float | None) -> float | None:
    """NaN and infinities are stored as NULL, as the JSON result has them."""
    if value is None or value != value or value in (float("inf"), float("-inf")):
        return None
    return value


def _ts_out(value: datetime) -> datetime:
    """Timestamps read back as aware UTC (DuckDB's TIMESTAMP column holds naive UTC)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _statements(sql: str) -> list[str]:
    """A migration's statements (no semicolons inside literals in these files)."""
    lines = [line.split("--", 1)[0] for line in sql.splitlines()]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]
