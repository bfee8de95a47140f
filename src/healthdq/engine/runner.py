"""Run a contract: register sources, compile, fuse, execute, assemble results.

One broken rule (bad SQL, a missing column, a runtime conversion error) is marked 'error' and
never aborts the run: the fused query is retried without it, and as a last resort each check runs
alone so the others still get their numbers.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from healthdq import __version__
from healthdq.engine.base import Engine
from healthdq.engine.compiler import (
    AggregateCheck,
    Compiled,
    CompileError,
    Compiler,
    JoinCheck,
    RowCheck,
)
from healthdq.engine.planner import FusedQuery, FusedQueryBuilder
from healthdq.errors import ContractError
from healthdq.results import (
    ColumnInfo,
    GroupBreakdown,
    GroupRow,
    RuleResult,
    RunResult,
    Sample,
    TableResult,
)
from healthdq.rules import model as m
from healthdq.sources.base import ROW, ReadOptions, RegisteredTable, quote_ident

TableProgress = Callable[[str, float], None]


@dataclass
class RunOptions:
    sample_size: int = 5
    group_by: list[str] = field(default_factory=list)
    run_date: date | None = None
    suppress_small_numbers: bool = True


def decide(violations: int, denominator: int, threshold: float) -> tuple[str, float | None]:
    """DQD semantics: failed when % violating exceeds the threshold; 0 means any violation."""
    if denominator == 0:
        return "not_applicable", None
    pct = 100.0 * violations / denominator
    if violations > 0 and pct > threshold:
        return "failed", pct
    return "passed", pct


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, float | int | str | bool) or value is None:
        return value
    return str(value)


def _samples(raw: Any) -> list[Sample]:
    if not raw:
        return []
    out = []
    for item in raw:
        values = {k: _jsonable(v) for k, v in dict(item).items() if k != ROW}
        out.append(Sample(row=item.get(ROW), values=values))
    return out


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
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


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
    ) -> None:
        self.engine = engine
        self.contract = contract
        self.name = name
        self.spec = spec
        self.registered = registered
        self.options = options
        self.compiler = Compiler(name, registered.columns, run_date)
        self.results: dict[str, RuleResult] = {}
        self.groups: list[GroupBreakdown] = []
        self.scans = 0

    def error(self, rule: m.RuleBase, message: str) -> None:
        self.results[rule.id] = _base_result(
            rule, self.name, "error", message=f"{_where(self.contract, rule)}{message}"
        )

    def run(self, progress: Callable[[float], None] | None) -> None:
        compiled: list[Compiled] = []
        for rule in self.spec.rules:
            try:
                compiled.append(self.compiler.compile(rule))
            except CompileError as exc:
                self.error(rule, str(exc))
        fused = [c for c in compiled if isinstance(c, RowCheck | AggregateCheck)]
        group_columns = self._group_columns()
        self._run_fused(fused, group_columns, progress)
        for check in compiled:
            if isinstance(check, JoinCheck):
                self._run_join(check)
        self._unique_samples()

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

    def _build(self, checks: list[RowCheck | AggregateCheck], groups: list[str]) -> FusedQuery:
        builder = FusedQueryBuilder(self.engine, self.name)
        for check in checks:
            if isinstance(check, RowCheck):
                builder.add_row_check(check, self.options.sample_size)
            else:
                builder.add_aggregate_check(check, self.compiler)
        return builder.build(groups)

    def _run_fused(
        self,
        checks: list[RowCheck | AggregateCheck],
        groups: list[str],
        progress: Callable[[float], None] | None,
    ) -> None:
        query = self._build(checks, groups)
        try:
            self.scans += 1
            rows = self.engine.fetch(query.sql, progress)
        except Exception as exc:  # engine errors differ by engine; isolate the culprit
            good = self._isolate(checks)
            if len(good) == len(checks) and len(checks) == 1:
                self.error(checks[0].rule, _one_line(exc))
                return
            if not good:
                return
            query = self._build(good, groups)
            try:
                self.scans += 1
                rows = self.engine.fetch(query.sql, progress)
            except Exception:
                # A runtime failure no probe caught (e.g. a conversion error on one value):
                # find the culprits one check at a time, then fuse the rest again.
                survivors = []
                for check in good:
                    single = self._build([check], [])
                    try:
                        self.scans += 1
                        self.engine.fetch(single.sql)
                        survivors.append(check)
                    except Exception as exc2:
                        self.error(check.rule, _one_line(exc2))
                if not survivors:
                    return
                query = self._build(survivors, groups)
                self.scans += 1
                rows = self.engine.fetch(query.sql, progress)
        self._assemble(query, rows)

    def _isolate(self, checks: list[RowCheck | AggregateCheck]) -> list[RowCheck | AggregateCheck]:
        """Probe each check with a zero-row query; mark the ones that fail to bind."""
        good = []
        for check in checks:
            probe = self._build([check], [])
            try:
                self.engine.fetch(f"SELECT * FROM ({probe.sql}) LIMIT 0")
                good.append(check)
            except Exception as exc:
                self.error(check.rule, _one_line(exc))
        return good

    def _assemble(self, query: FusedQuery, rows: list[tuple[Any, ...]]) -> None:
        index = {alias: i for i, alias in enumerate(query.aliases)}
        n_groups = len(query.group_columns)
        total: tuple[Any, ...] | None = None
        group_rows: list[tuple[int, tuple[Any, ...]]] = []
        for row in rows:
            if n_groups == 0:
                total = row
                continue
            flags = [row[index[f"__gid{i}"]] for i in range(n_groups)]
            if all(flags):
                total = row
            else:
                active = flags.index(0)
                group_rows.append((active, row))
        if total is None:
            return
        n = int(total[index["__n"]])
        self.registered.rows = n
        for rule in self.spec.rules:
            slots = query.slots.get(rule.id)
            if slots is None or rule.id in self.results:
                continue
            self.results[rule.id] = self._rule_result(rule, slots, total, index, n)
        if n_groups:
            self._group_breakdowns(query, group_rows, index)

    def _rule_result(
        self, rule: m.RuleBase, slots: Any, row: tuple[Any, ...], index: dict[str, int], n: int
    ) -> RuleResult:
        def get(alias: str | None) -> Any:
            return row[index[alias]] if alias else n

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
            latest = get(slots.extra["latest"])
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
        if isinstance(rule, m.UniqueRule):
            denominator = int(get(slots.denominator) or 0)
            violations = denominator - int(get(slots.extra["distinct"]) or 0)
        else:
            denominator = int(get(slots.denominator) or 0)
            violations = int(get(slots.violations) or 0)
        status, pct = decide(violations, denominator, rule.threshold)
        message = None
        if status == "not_applicable":
            message = (
                "table has no rows"
                if n == 0
                else "no rows to check (all values missing or condition never true)"
            )
        samples = _samples(get(slots.sample)) if slots.sample else []
        return _base_result(
            rule,
            self.name,
            status,
            violating_rows=violations,
            denominator=denominator,
            pct_violating=pct,
            samples=samples,
            message=message,
        )

    def _group_breakdowns(
        self,
        query: FusedQuery,
        group_rows: list[tuple[int, tuple[Any, ...]]],
        index: dict[str, int],
    ) -> None:
        small = self.contract.small_number if self.options.suppress_small_numbers else 0
        for gi, column in enumerate(query.group_columns):
            out: list[GroupRow] = []
            for active, row in group_rows:
                if active != gi:
                    continue
                group_value = row[index[f"__g{gi}"]]
                n = int(row[index["__n"]])
                for rule in self.spec.rules:
                    slots = query.slots.get(rule.id)
                    if slots is None or slots.violations is None:
                        continue
                    d = int(row[index[slots.denominator]] or 0) if slots.denominator else n
                    v = int(row[index[slots.violations]] or 0)
                    pct = 100.0 * v / d if d else None
                    # Small non-zero counts can identify patients: hide the count and the %.
                    suppressed = 0 < v < small
                    out.append(
                        GroupRow(
                            group=None if group_value is None else str(group_value),
                            rule_id=rule.id,
                            violating_rows=None if suppressed else v,
                            denominator=d,
                            pct_violating=None if suppressed else pct,
                            suppressed=suppressed,
                        )
                    )
            self.groups.append(GroupBreakdown(table=self.name, column=column, rows=out))

    def _run_join(self, check: JoinCheck) -> None:
        rule = check.rule
        ref = (
            self.registered_tables.get(rule.ref_table.lower())
            if hasattr(self, "registered_tables")
            else None
        )
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
        child = f"CAST(c.{quote_ident(child_col)} AS VARCHAR)"
        violating = f"({applies}) AND r.__k IS NULL"
        sql = (
            f"SELECT count(*) AS __n, {self.engine.count_if(applies)}, "
            f"{self.engine.count_if(violating)}, "
            f"{self.engine.sample(violating, [child_col], self.options.sample_size)} "
            f"FROM {quote_ident(self.name)} AS c LEFT JOIN "
            f"(SELECT DISTINCT CAST({quote_ident(ref_col)} AS VARCHAR) AS __k "
            f"FROM {quote_ident(ref.name)}) AS r ON {child} = r.__k"
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
            samples=_samples(raw),
            message=("table has no rows" if n == 0 else "no values to look up")
            if status == "not_applicable"
            else None,
        )

    def _unique_samples(self) -> None:
        """Duplicates need a GROUP BY: only for failing keys, only up to the sample size."""
        if self.options.sample_size <= 0:
            return
        for rule in self.spec.rules:
            result = self.results.get(rule.id)
            if not isinstance(rule, m.UniqueRule) or result is None or not result.violating_rows:
                continue
            cols = [self.compiler._name(c) for c in rule.columns]
            keys = ", ".join(quote_ident(c) for c in cols)
            nonnull = " AND ".join(f"{quote_ident(c)} IS NOT NULL" for c in cols)
            sql = (
                f"SELECT min({quote_ident(ROW)}) AS r, count(*) AS k, {keys} "
                f"FROM {quote_ident(self.name)} WHERE {nonnull} GROUP BY {keys} "
                f"HAVING count(*) > 1 ORDER BY r LIMIT {int(self.options.sample_size)}"
            )
            try:
                self.scans += 1
                rows = self.engine.fetch(sql)
            except Exception:
                continue
            result.samples = [
                Sample(
                    row=int(r[0]),
                    values={
                        "copies": int(r[1]),
                        **{c: _jsonable(v) for c, v in zip(cols, r[2:], strict=True)},
                    },
                )
                for r in rows
            ]


def _bounds(lo: int | None, hi: int | None) -> str:
    if lo is not None and hi is not None:
        return f"{lo}..{hi}"
    return f">= {lo}" if lo is not None else f"<= {hi}"


def run_contract(
    engine: Engine,
    contract: m.Contract,
    sources: dict[str, str],
    read_options: dict[str, ReadOptions] | None = None,
    options: RunOptions | None = None,
    progress: TableProgress | None = None,
) -> RunResult:
    """Check every table of `contract` read from `sources` (table name -> location)."""
    opts = options or RunOptions()
    run_date = opts.run_date or contract.run_date or date.today()
    started = datetime.now(UTC)
    registered: dict[str, RegisteredTable] = {}
    for name, spec in contract.tables.items():
        location = sources.get(name) or spec.source
        if not location:
            raise ContractError(f"no data given for table '{name}'", path=contract.path)
        ro = (read_options or {}).get(name) or ReadOptions()
        registered[name.lower()] = engine.register(name, location, ro)
    tables: list[TableResult] = []
    rules: list[RuleResult] = []
    groups: list[GroupBreakdown] = []
    for name, spec in contract.tables.items():
        t0 = time.perf_counter()
        reg = registered[name.lower()]
        table_run = TableRun(engine, contract, name, spec, reg, opts, run_date)
        table_run.registered_tables = registered  # type: ignore[attr-defined]
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
            )
        )
        rules += [table_run.results[r.id] for r in spec.rules if r.id in table_run.results]
        groups += table_run.groups
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
    )
