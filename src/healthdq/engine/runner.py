"""Run a contract: register sources, compile, fuse, execute, assemble results.

One broken rule (bad SQL, a missing column, a runtime conversion error) is marked 'error' and
never aborts the run: the fused query is retried without it, and as a last resort each check runs
alone so the others still get their numbers.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any

from healthdq import __version__
from healthdq.engine.base import Engine
from healthdq.engine.compiler import (
    MARKER_PADDING,
    TEXT_TYPES,
    AggregateCheck,
    Compiled,
    CompileError,
    Compiler,
    JoinCheck,
    RowCheck,
    iso_dates,
)
from healthdq.engine.dates import FORMATS, detect_formats, strptime_of
from healthdq.engine.distinct import per_distinct
from healthdq.engine.planner import FusedQuery, FusedQueryBuilder, RuleSlots, rule_bit_set
from healthdq.errors import ContractError, SourceError
from healthdq.governance.messages import engine_message
from healthdq.results import (
    ColumnInfo,
    GroupBreakdown,
    GroupRow,
    Metric,
    RuleResult,
    RunResult,
    Sample,
    TableResult,
    decide,
)
from healthdq.results.metrics import column_metrics
from healthdq.rules import model as m
from healthdq.rules.sandbox import contract_source
from healthdq.sources.base import ROW, ReadOptions, RegisteredTable
from healthdq.sources.frames import register as register_source

TableProgress = Callable[[str, float], None]


@dataclass
class RunOptions:
    sample_size: int = 5
    group_by: list[str] = field(default_factory=list)
    run_date: date | None = None
    # Tables at least this large get column-local rules evaluated per distinct value.
    per_distinct_min_rows: int = 100_000
    # Per-column basics (nulls, blanks, min, max, mean) measured in the fused scan.
    column_metrics: bool = True
    # The date code sets are judged at (code_era rules without a date column); overrides the
    # contract's data_standard_date.
    data_standard_date: date | None = None
    # Applied to each table once registered (the pipeline's national data opt-out): returns the
    # table as the checks see it.
    restrict: Callable[[Engine, str, RegisteredTable], RegisteredTable] | None = None


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, float | int | str | bool) or value is None:
        return value
    return str(value)


def _samples(items: list[dict[str, Any]], columns: list[str] | None = None) -> list[Sample]:
    out = []
    for item in items:
        values = {
            k: _jsonable(v)
            for k, v in dict(item).items()
            if k != ROW and (columns is None or k in columns)
        }
        out.append(Sample(row=item.get(ROW), values=values))
    return out


class _Totals:
    """Running sums over grouped output rows: for the whole table or one group."""

    def __init__(self) -> None:
        self.n = 0
        self.sums: dict[str, int | float] = {}
        self.extremes: dict[str, Any] = {}  # min/max aggregates (latest date, column min/max)
        self.violations: dict[str, int] = {}

    def add(
        self,
        row: tuple[Any, ...],
        index: dict[str, int],
        counts: list[str],
        merges: dict[str, str],
        broken: list[str],
    ) -> None:
        n = int(row[index["__n"]])
        self.n += n
        for alias in counts:
            value = row[index[alias]]
            merge = merges.get(alias)
            if merge is None:
                if isinstance(value, float):
                    self.sums[alias] = self.sums.get(alias, 0) + value
                else:
                    self.sums[alias] = self.sums.get(alias, 0) + int(value or 0)
            elif value is not None:
                held = self.extremes.get(alias)
                if held is None or (value > held if merge == "max" else value < held):
                    self.extremes[alias] = value
        for rid in broken:
            self.violations[rid] = self.violations.get(rid, 0) + n


def _base_result(rule: m.RuleBase, table: str, status: str, **kw: Any) -> RuleResult:
    return RuleResult(
        rule_id=rule.id,
        table=table,
        kind=str(getattr(rule, "kind", "")),
        description=rule.description,
        columns=rule.columns_used,
        category=rule.category.value if rule.category else None,
        subcategory=rule.subcategory,
        context=rule.context.value if rule.context else None,
        dimension=rule.dimension.value if rule.dimension else None,
        severity=rule.severity.value,
        threshold=rule.threshold,
        status=status,  # type: ignore[arg-type]
        **kw,
    )


def _where(contract: m.Contract, rule: m.RuleBase) -> str:
    if contract.path and rule.line:
        return f"{contract.path}:{rule.line}: "
    return ""


def _one_line(exc: BaseException) -> str:
    # Engine errors quote the offending value: rewritten so no data reaches an output.
    return engine_message(exc)


class TableRun:
    """Everything needed to check one registered table."""

    def __init__(
        self,
        engine: Engine,
        contract: m.Contract,
        name: str,
        spec: m.TableSpec,
        registered: RegisteredTable,
        options: RunOptions,
        run_date: date,
        others: dict[str, RegisteredTable] | None = None,
    ) -> None:
        self.engine = engine
        # The contract's other tables (by lower-case name), for referential-integrity rules.
        self.others = others or {}
        self.contract = contract
        self.name = name
        self.spec = spec
        self.registered = registered
        self.options = options
        markers = {c: s.missing for c, s in spec.columns.items() if s.missing}
        self.compiler = Compiler(name, registered.columns, run_date, markers, spec.missing)
        # Column -> how many of its values were missing-value markers.
        self.marker_counts: dict[str, int] = {}
        self.results: dict[str, RuleResult] = {}
        self.groups: list[GroupBreakdown] = []
        self.scans = 0
        self.low_cardinality: set[str] = set()
        # Column -> basic metrics measured in the fused scan (nulls, blanks, min, max, mean).
        self.column_values: dict[str, dict[str, Any]] = {}
        # Code column -> (value, rows) from the per-distinct grouping: distinct and top values.
        self.value_counts: dict[str, list[tuple[str, int]]] = {}

    def error(self, rule: m.RuleBase, message: str) -> None:
        self.results[rule.id] = _base_result(
            rule, self.name, "error", message=f"{_where(self.contract, rule)}{message}"
        )

    def run(self, progress: Callable[[float], None] | None) -> None:
        self.compiler.standard_date = (
            self.options.data_standard_date or self.contract.data_standard_date
        )
        self._date_formats()
        compiled: list[Compiled] = []
        for rule in self.spec.rules:
            try:
                compiled.append(self.compiler.compile(rule))
            except CompileError as exc:
                self.error(rule, str(exc))
        row_checks = [c for c in compiled if isinstance(c, RowCheck)]
        table_rules = [
            c.rule
            for c in compiled
            if isinstance(c, AggregateCheck) and not isinstance(c.rule, m.UniqueRule)
        ]
        if row_checks and self.registered.rows >= self.options.per_distinct_min_rows:
            identifiers = {c.lower() for c, s in self.spec.columns.items() if s.identifier}
            row_checks, self.low_cardinality, queries = per_distinct(
                self.engine, self.name, row_checks, self.compiler, identifiers, self.value_counts
            )
            self.scans += queries
        self._count_markers_from_groups()
        self._run_fused(row_checks, table_rules, self._group_columns(), progress)
        self._note_markers()
        for check in compiled:
            if isinstance(check, AggregateCheck) and isinstance(check.rule, m.UniqueRule):
                self._run_unique(check.rule)
            elif isinstance(check, JoinCheck):
                self._run_join(check)

    def _date_formats(self) -> None:
        """Text date columns: the declared format, else the one that reads the data."""
        compiler = self.compiler
        declared: dict[str, str] = {}
        for name, spec in self.spec.columns.items():
            if spec.format and name.lower() in compiler.columns and compiler._is_text(name):
                declared[compiler._name(name).lower()] = strptime_of(spec.format)
        wanted: list[str] = []
        for rule in self.spec.rules:
            for name in _date_columns(rule):
                real = compiler.columns.get(name.strip('"').lower())
                if (
                    real
                    and real[1].startswith(TEXT_TYPES)
                    and real[0].lower() not in declared
                    and real[0] not in wanted
                ):
                    wanted.append(real[0])
        compiler.date_formats.update(declared)
        if not wanted:
            return
        try:
            found = detect_formats(self.engine, self.name, wanted)
        except Exception:  # noqa: BLE001  (unreadable values: the rules report their own errors)
            return
        for column, fmt in found.items():
            if fmt is None:
                compiler.undated.add(column.lower())
            else:
                compiler.date_formats[column.lower()] = FORMATS[fmt]

    def _marked_columns(self) -> dict[str, list[str]]:
        """Columns rules read that have missing-value markers -> the markers."""
        out: dict[str, list[str]] = {}
        for rule in self.spec.rules:
            for name in rule.columns_used:
                if name.lower() not in self.compiler.columns:
                    continue
                real = self.compiler._name(name)
                markers = self.compiler.markers_of(real)
                if markers:
                    out[real] = markers
        return out

    def _count_markers_from_groups(self) -> None:
        """Code columns were grouped by value already: their markers are counted for free."""
        for column, markers in self._marked_columns().items():
            counts = self.value_counts.get(column)
            if counts is not None:
                wanted = set(markers)
                self.marker_counts[column] = sum(
                    n for v, n in counts if v.strip(MARKER_PADDING) in wanted
                )

    def _note_markers(self) -> None:
        """Reports say how many values were markers: a metric, and on the not_null result."""
        marked = self._marked_columns()
        for column, count in self.marker_counts.items():
            self.column_values.setdefault(column, {})["markers"] = count
        for rule in self.spec.rules:
            if not isinstance(rule, m.NotNullRule) or rule.id not in self.results:
                continue
            real = self.compiler.columns.get(rule.column.lower(), (rule.column, ""))[0]
            result = self.results[rule.id]
            if real not in self.marker_counts or result.status == "error":
                continue
            count = self.marker_counts[real]
            result.observed = {"missing_markers": count}
            if count:
                shown = ", ".join(repr(v) for v in marked.get(real, []))
                result.message = (
                    f"{count} of the {result.violating_rows} missing values are "
                    f"missing-value markers ({shown})"
                )

    def _group_columns(self) -> list[str]:
        wanted = list(dict.fromkeys(self.options.group_by or self.spec.group_by))
        cols = []
        for g in wanted:
            try:
                cols.append(self.compiler._name(g))
            except CompileError:
                # A grouping column missing from this table: no breakdown for it, said once.
                self.registered.warnings.append(f"group-by column '{g}' not in table {self.name}")
        return cols

    def _build(
        self,
        checks: list[RowCheck],
        table_rules: list[m.RuleBase],
        groups: list[str],
        metrics: bool = False,
    ) -> FusedQuery:
        builder = FusedQueryBuilder(self.engine, self.name, self.low_cardinality)
        for check in checks:
            builder.add_row_check(check)
        for rule in table_rules:
            builder.add_table_check(rule, self.compiler)
        if metrics and self.options.column_metrics:
            # Only columns the scan reads anyway: a column no rule touches would add its I/O.
            read = {c.lower() for r in self.spec.rules for c in r.columns_used}
            read |= {c.lower() for c in groups}
            columns = {c: t for c, t in self.registered.columns.items() if c.lower() in read}
            builder.add_column_metrics(columns)
        if metrics:
            pending = [c for c in self._marked_columns() if c not in self.marker_counts]
            builder.add_marker_counts(
                {c: marker for c in pending if (marker := self.compiler.marker(c)) is not None}
            )
        return builder.build(groups, self.options.sample_size)

    def _fetch(self, sql: str, progress: Callable[[float], None] | None = None) -> Any:
        self.scans += 1
        return self.engine.fetch(sql, progress)

    def _run_fused(
        self,
        checks: list[RowCheck],
        table_rules: list[m.RuleBase],
        groups: list[str],
        progress: Callable[[float], None] | None,
    ) -> None:
        query = self._build(checks, table_rules, groups, metrics=True)
        try:
            rows = self._fetch(query.sql, progress)
        except Exception as exc:  # engine errors differ by engine; isolate the culprit
            if isinstance(exc, SourceError):
                raise  # the data cannot be read (a corrupt file): no rule is to blame
            if len(checks) <= 1 and not table_rules:
                for check in checks:
                    self.error(check.rule, _one_line(exc))
                return
            good = self._isolate(checks)
            query = self._build(good, table_rules, groups, metrics=True)
            try:
                rows = self._fetch(query.sql, progress)
            except Exception:
                # A runtime failure no probe caught (e.g. a conversion error on one value):
                # find the culprits one check at a time, then fuse the rest again.
                survivors = []
                for check in good:
                    try:
                        self._fetch(self._build([check], [], []).sql)
                        survivors.append(check)
                    except Exception as exc2:
                        self.error(check.rule, _one_line(exc2))
                query = self._build(survivors, table_rules, groups, metrics=True)
                rows = self._fetch(query.sql, progress)
        self._assemble(query, rows)

    def _isolate(self, checks: list[RowCheck]) -> list[RowCheck]:
        """Probe each check with a zero-row query; mark the ones that fail to bind."""
        good = []
        for check in checks:
            probe = self._build([check], [], [])
            try:
                self.engine.fetch(f"SELECT * FROM ({probe.sql}) AS __p LIMIT 0")
                good.append(check)
            except Exception as exc:
                self.error(check.rule, _one_line(exc))
        return good

    def _assemble(self, query: FusedQuery, rows: list[tuple[Any, ...]]) -> None:
        """Sum the grouped output (a few hundred rows at most) into rule and group results."""
        index = {alias: i for i, alias in enumerate(query.aliases)}
        counts = [a for a in index if a.startswith("a") and a[1:].isdigit()]
        with_bits = [(rid, s.bit) for rid, s in query.slots.items() if s.bit is not None]
        total = _Totals()
        by_group: list[dict[Any, _Totals]] = [{} for _ in query.group_columns]
        samples: dict[str, list[dict[str, Any]]] = {rid: [] for rid, _ in with_bits}
        for row in rows:
            masks = [int(row[index[f"__m{i}"]]) for i in range(query.masks)]
            broken = [rid for rid, bit in with_bits if rule_bit_set(masks, bit)]
            targets = [total] + [
                by_group[gi].setdefault(row[index[f"__g{gi}"]], _Totals())
                for gi in range(len(query.group_columns))
            ]
            for t in targets:
                t.add(row, index, counts, query.merges, broken)
            if broken and query.sample_alias and row[index[query.sample_alias]]:
                for item in row[index[query.sample_alias]]:
                    for rid in broken:
                        samples[rid].append(item)
        n = total.n
        self.registered.rows = n
        for rule in self.spec.rules:
            slots = query.slots.get(rule.id)
            if slots is None or rule.id in self.results:
                continue
            result = self._rule_result(rule, slots, total, n)
            if slots.bit is not None and samples.get(rule.id):
                items = sorted(samples[rule.id], key=lambda it: it[ROW])
                result.samples = _samples(items[: self.options.sample_size], slots.sample_columns)
            self.results[rule.id] = result
        for column, alias in query.marker_counts.items():
            self.marker_counts[column] = int(total.sums.get(alias, 0))
        for gi, column in enumerate(query.group_columns):
            self.groups.append(self._breakdown(column, by_group[gi], query))
        self._column_metrics(query, total)

    def _column_metrics(self, query: FusedQuery, total: _Totals) -> None:
        """Rows, nulls, blanks, min, max and mean per column, from the fused scan's aggregates."""
        for column, aliases in query.column_metrics.items():
            nonnull = int(total.sums.get(aliases["nonnull"], 0))
            values: dict[str, Any] = {"nulls": total.n - nonnull}
            for name in ("min", "max"):
                if name in aliases:
                    values[name] = total.extremes.get(aliases[name])
            if "sum" in aliases and nonnull:
                values["mean"] = float(total.sums.get(aliases["sum"], 0.0)) / nonnull
            counts = self.value_counts.get(column)
            if counts:
                # Code columns: blanks, min and max from the distinct values already grouped.
                values["blanks"] = sum(n for v, n in counts if not v.strip())
                values["min"] = min(v for v, _ in counts)
                values["max"] = max(v for v, _ in counts)
            else:
                blanks = self._blanks_from_not_null(column, total, values["nulls"])
                if blanks is not None:
                    values["blanks"] = blanks
            self.column_values[column] = values

    def _blanks_from_not_null(self, column: str, total: _Totals, nulls: int) -> int | None:
        """A not_null rule counting blanks as missing already counted nulls + blanks."""
        for rule in self.spec.rules:
            if (
                isinstance(rule, m.NotNullRule)
                and rule.blank_is_null
                and not rule.when
                and rule.column.lower() == column.lower()
                and rule.id in total.violations
            ):
                markers = self.marker_counts.get(column, 0)
                return max(0, total.violations[rule.id] - nulls - markers)
        return None

    def _rule_result(self, rule: m.RuleBase, slots: RuleSlots, t: _Totals, n: int) -> RuleResult:
        if isinstance(rule, m.RowCountRule):
            ok = (rule.min is None or n >= rule.min) and (rule.max is None or n <= rule.max)
            return _base_result(
                rule,
                self.name,
                "passed" if ok else "failed",
                observed=n,
                message=None if ok else f"{n} rows, expected {_bounds(rule.min, rule.max)}",
            )
        if isinstance(rule, m.FreshnessRule):
            latest = t.extremes.get(slots.latest or "")
            if latest is None:
                return _base_result(
                    rule, self.name, "not_applicable", message="no dates to judge freshness"
                )
            latest_date = latest.date() if isinstance(latest, datetime) else latest
            age = (self.compiler.run_date - latest_date).days
            ok = age <= rule.max_age_days
            return _base_result(
                rule,
                self.name,
                "passed" if ok else "failed",
                observed={"latest": latest_date.isoformat(), "age_days": age},
                message=None
                if ok
                else f"latest {latest_date} is {age} days old (max {rule.max_age_days})",
            )
        denominator = int(t.sums.get(slots.denominator, 0)) if slots.denominator else n
        violations = t.violations.get(rule.id, 0)
        return self._counted(rule, violations, denominator, n)

    def _counted(self, rule: m.RuleBase, violations: int, denominator: int, n: int) -> RuleResult:
        status, pct = decide(violations, denominator, rule.threshold)
        message = None
        if status == "not_applicable":
            message = (
                "table has no rows"
                if n == 0
                else "no rows to check (all values missing or condition never true)"
            )
        return _base_result(
            rule,
            self.name,
            status,
            violating_rows=violations,
            denominator=denominator,
            pct_violating=pct,
            message=message,
        )

    def _breakdown(
        self, column: str, groups: dict[Any, _Totals], query: FusedQuery
    ) -> GroupBreakdown:
        out: list[GroupRow] = []
        for value, t in groups.items():
            for rule in self.spec.rules:
                slots = query.slots.get(rule.id)
                if slots is None or slots.bit is None or rule.id not in self.results:
                    continue
                if self.results[rule.id].status == "error":
                    continue
                d = int(t.sums.get(slots.denominator, 0)) if slots.denominator else t.n
                v = t.violations.get(rule.id, 0)
                # Raw counts: small numbers are suppressed by governance (pipeline), not here.
                out.append(
                    GroupRow(
                        group=None if value is None else str(value),
                        rule_id=rule.id,
                        violating_rows=v,
                        denominator=d,
                        pct_violating=100.0 * v / d if d else None,
                    )
                )
        return GroupBreakdown(table=self.name, column=column, rows=out)

    def _run_unique(self, rule: m.UniqueRule) -> None:
        """Uniqueness: surplus copies (non-null keys minus distinct keys) and the first duplicates.

        Grouping millions of text keys is the costliest aggregate a contract asks for, so it runs
        on a 64-bit hash of the key first: a key whose hash occurs once cannot be duplicated.
        Only rows whose hash repeats (true duplicates, plus the rare collision) are grouped on
        the key itself, which keeps the count exact and the memory to one integer per key. On a
        large table the hash pass runs slice by slice of the hash space (Engine.hash_partitions)
        so its hash table stays bounded.
        """
        try:
            cols = [self.compiler._name(c) for c in rule.columns]
        except CompileError as exc:
            self.error(rule, str(exc))
            return
        q = self.engine.quote
        table = q(self.name)
        keys = ", ".join(q(c) for c in cols)
        nonnull = " AND ".join(f"{q(c)} IS NOT NULL" for c in cols)
        hashed = self.engine.hash_key(cols)
        sample = self.engine.sample("__c > 1", ["__c", *cols], max(self.options.sample_size, 1))
        slices = self.engine.hash_partitions(self.registered.rows)
        repeated = " UNION ALL ".join(
            f"SELECT {hashed} AS __h FROM {table} WHERE {nonnull}"
            + (f" AND {hashed} % {slices} = {i}" if slices > 1 else "")
            + f" GROUP BY {hashed} HAVING count(*) > 1"
            for i in range(slices)
        )
        sql = (
            f"WITH __d AS ({repeated}), "
            f"__k AS (SELECT {keys}, count(*) AS __c, min({q(ROW)}) AS {q(ROW)} FROM {table} "
            f"WHERE {nonnull} AND {hashed} IN (SELECT __h FROM __d) "
            f"GROUP BY {keys} HAVING count(*) > 1) "
            f"SELECT __n.n, __s.surplus, __s.items FROM "
            f"(SELECT count(*) AS n FROM {table} WHERE {nonnull}) AS __n CROSS JOIN "
            f"(SELECT sum(__c - 1) AS surplus, {sample} AS items FROM __k) AS __s"
        )
        try:
            denominator, surplus, raw = self._fetch(sql)[0]
        except Exception as exc:
            self.error(rule, _one_line(exc))
            return
        result = self._counted(rule, int(surplus or 0), int(denominator or 0), self.registered.rows)
        if result.violating_rows and self.options.sample_size > 0:
            result.samples = [
                Sample(
                    row=item[ROW],
                    values={"copies": int(item["__c"]), **{c: _jsonable(item[c]) for c in cols}},
                )
                for item in sorted(raw or [], key=lambda it: it[ROW])
            ]
        self.results[rule.id] = result

    def _run_join(self, check: JoinCheck) -> None:
        rule = check.rule
        ref = self.others.get(rule.ref_table.lower())
        if ref is None:
            self.error(rule, f"referenced table '{rule.ref_table}' is not in the contract")
            return
        try:
            ref_col = Compiler(ref.name, ref.columns, self.compiler.run_date)._name(rule.ref_column)
            child_col = self.compiler._name(rule.column)
        except CompileError as exc:
            self.error(rule, str(exc))
            return
        applies = self.engine.render(check.applies)
        q = self.engine.quote
        child = self.engine.as_text(child_col, table="c")
        violating = f"({applies}) AND r.__k IS NULL"
        sql = (
            f"SELECT count(*) AS __n, {self.engine.count_if(applies)}, "
            f"{self.engine.count_if(violating)}, "
            # At least 1: a bounded sample of 0 rows is an error on DuckDB (cut to 0 below).
            f"{self.engine.sample(violating, [child_col], max(self.options.sample_size, 1))} "
            f"FROM {q(self.name)} AS c LEFT JOIN "
            f"(SELECT DISTINCT {self.engine.as_text(ref_col)} AS __k "
            f"FROM {q(ref.name)}) AS r ON {child} = r.__k"
        )
        try:
            self.scans += 1
            row = self.engine.fetch(sql)[0]
        except Exception as exc:
            self.error(rule, _one_line(exc))
            return
        n, d, v, raw = int(row[0]), int(row[1] or 0), int(row[2] or 0), row[3]
        status, pct = decide(v, d, rule.threshold)
        self.results[rule.id] = _base_result(
            rule,
            self.name,
            status,
            violating_rows=v,
            denominator=d,
            pct_violating=pct,
            samples=_samples(raw)[: self.options.sample_size],
            message=("table has no rows" if n == 0 else "no values to look up")
            if status == "not_applicable"
            else None,
        )


def _date_columns(rule: m.RuleBase) -> list[str]:
    """Columns a rule reads as dates (bare columns of a comparison count: they may be)."""
    if isinstance(rule, m.DateRangeRule | m.FreshnessRule):
        return [rule.column]
    if isinstance(rule, m.CodeEraRule):
        return [rule.date_column] if rule.date_column else []
    if isinstance(rule, m.TypeRule) and rule.type in ("date", "timestamp") and not rule.format:
        return [rule.column]
    if isinstance(rule, m.DefaultValueRule) and iso_dates(rule.values) is not None:
        return [rule.column]
    if isinstance(rule, m.CompareRule):
        return [side for side in (rule.left, rule.right) if _BARE.fullmatch(side.strip())]
    return []


_BARE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|\"[^\"]+\"")


def _bounds(lo: int | None, hi: int | None) -> str:
    if lo is not None and hi is not None:
        return f"{lo}..{hi}"
    return f">= {lo}" if lo is not None else f"<= {hi}"


def run_contract(
    engine: Engine,
    contract: m.Contract,
    sources: dict[str, Any],
    read_options: dict[str, ReadOptions] | None = None,
    options: RunOptions | None = None,
    progress: TableProgress | None = None,
) -> RunResult:
    """Check every table of `contract` read from `sources` (table name -> location or frame)."""
    opts = options or RunOptions()
    run_date = opts.run_date or contract.run_date or date.today()
    started = datetime.now(UTC)
    registered: dict[str, RegisteredTable] = {}
    locations: list[str] = []
    for name, spec in contract.tables.items():
        location = sources.get(name)
        if isinstance(location, str | None) and not location:  # a DataFrame has no truth value
            location = spec.source and contract_source(contract, spec.source)
            if not location:
                raise ContractError(f"no data given for table '{name}'", path=contract.path)
        ro = (read_options or {}).get(name) or ReadOptions()
        aliases = {c: s.aliases for c, s in spec.columns.items() if s.aliases}
        if aliases:
            ro = replace(ro, aliases={**aliases, **ro.aliases})
        parts = {c: (s.parts.date, s.parts.time) for c, s in spec.columns.items() if s.parts}
        if parts:
            ro = replace(ro, parts={**parts, **ro.parts})
        if spec.fhir_view:
            ro = replace(ro, fhir_view=spec.fhir_view)
        registered[name.lower()] = register_source(engine, name, location, ro)
        if opts.restrict is not None:
            registered[name.lower()] = opts.restrict(engine, name, registered[name.lower()])
        if isinstance(location, str):
            locations.append(location)
    # Rules run with no file, network or extension access beyond the registered sources.
    engine.seal(locations)
    tables: list[TableResult] = []
    rules: list[RuleResult] = []
    groups: list[GroupBreakdown] = []
    metrics: list[Metric] = []
    for name, spec in contract.tables.items():
        t0 = time.perf_counter()
        reg = registered[name.lower()]
        table_run = TableRun(engine, contract, name, spec, reg, opts, run_date, registered)
        callback = (lambda f, _n=name: progress(_n, f)) if progress else None
        table_run.run(callback)
        identifiers = {c: s.identifier for c, s in spec.columns.items() if s.identifier}
        tables.append(
            TableResult(
                name=name,
                source=reg.source,
                rows=reg.rows,
                columns=[
                    ColumnInfo(name=c, type=t, identifier=identifiers.get(c))
                    for c, t in reg.columns.items()
                ],
                elapsed_ms=(time.perf_counter() - t0) * 1000,
                scans=table_run.scans,
                warnings=list(reg.warnings),
                bindings=dict(reg.bindings),
            )
        )
        rules += [table_run.results[r.id] for r in spec.rules if r.id in table_run.results]
        groups += table_run.groups
        metrics += column_metrics(name, reg.rows, table_run.column_values, table_run.value_counts)
    summary: dict[str, int] = {s: 0 for s in ("passed", "failed", "not_applicable", "error")}
    for r in rules:
        summary[r.status] += 1
    summary["rules"] = len(rules)
    return RunResult(
        healthdq_version=__version__,
        run_id=uuid.uuid4().hex,
        contract=contract.name,
        contract_version=contract.version,
        started_at=started,
        finished_at=datetime.now(UTC),
        run_date=run_date.isoformat(),
        engine=engine.name,
        tables=tables,
        rules=rules,
        groups=groups,
        summary=summary,
        metrics=metrics,
    )
