"""Fuse a table's checks into one aggregate query.

Every row-level rule becomes a conditional count for its denominator, one for its violations and
a bounded sample aggregate, all in one SELECT over the table: one scan, however many rules.
Identical predicates are rendered once and shared between rules (many rules share 'column is
not null'). With a grouping column, GROUPING SETS give the totals and every group's counts from
the same scan.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlglot import exp

from healthdq.engine.base import Engine
from healthdq.engine.compiler import AggregateCheck, Compiler, RowCheck
from healthdq.rules import model as m
from healthdq.sources.base import quote_ident


@dataclass
class CheckSlots:
    """Where one check's numbers sit in the fused query's output row."""

    denominator: str | None = None  # alias, or None for all rows
    violations: str | None = None
    sample: str | None = None
    extra: dict[str, str] = field(default_factory=dict)


@dataclass
class FusedQuery:
    table: str
    sql: str
    slots: dict[str, CheckSlots]  # rule id -> slots
    aliases: list[str]  # output column order
    group_columns: list[str]


def _is_true(expr: exp.Expr) -> bool:
    return isinstance(expr, exp.Boolean) and bool(expr.this)


class FusedQueryBuilder:
    """Collects aggregates with de-duplication and renders the single query."""

    def __init__(self, engine: Engine, table: str) -> None:
        self.engine = engine
        self.table = table
        self.aggregates: dict[str, str] = {}  # aggregate SQL -> alias
        self.slots: dict[str, CheckSlots] = {}

    def _agg(self, sql: str) -> str:
        alias = self.aggregates.get(sql)
        if alias is None:
            alias = f"a{len(self.aggregates)}"
            self.aggregates[sql] = alias
        return alias

    def add_row_check(self, check: RowCheck, sample_size: int) -> None:
        slots = CheckSlots()
        if not _is_true(check.applies):
            slots.denominator = self._agg(self.engine.count_if(self.engine.render(check.applies)))
        violating = (
            check.violates
            if _is_true(check.applies)
            else exp.and_(check.applies.copy(), check.violates.copy())
        )
        predicate = self.engine.render(violating)
        slots.violations = self._agg(self.engine.count_if(predicate))
        if sample_size > 0:
            slots.sample = self._agg(
                self.engine.sample(predicate, check.sample_columns, sample_size)
            )
        self.slots[check.rule.id] = slots

    def add_aggregate_check(self, check: AggregateCheck, compiler: Compiler) -> None:
        rule = check.rule
        slots = CheckSlots()
        if isinstance(rule, m.FreshnessRule):
            latest = exp.Max(this=compiler.as_type(rule.column, "DATE"))
            slots.extra["latest"] = self._agg(self.engine.render(latest))
        elif isinstance(rule, m.UniqueRule):
            cols = [compiler._name(c) for c in rule.columns]
            nonnull = exp.and_(*[compiler.not_null(c) for c in cols])
            slots.denominator = self._agg(self.engine.count_if(self.engine.render(nonnull)))
            slots.extra["distinct"] = self._agg(self.engine.distinct_count(cols))
        # row_count needs only the total, always present.
        self.slots[rule.id] = slots

    def build(self, group_columns: list[str]) -> FusedQuery:
        select = ["count(*) AS __n"]
        select += [f"{sql} AS {alias}" for sql, alias in self.aggregates.items()]
        group_sql = ""
        if group_columns:
            quoted = [quote_ident(g) for g in group_columns]
            select = [
                *(f"{q} AS __g{i}" for i, q in enumerate(quoted)),
                *(f"grouping({q}) AS __gid{i}" for i, q in enumerate(quoted)),
                *select,
            ]
            sets = ", ".join(["()"] + [f"({q})" for q in quoted])
            group_sql = f" GROUP BY GROUPING SETS ({sets})"
        sql = f"SELECT {', '.join(select)} FROM {quote_ident(self.table)}{group_sql}"
        aliases = [s.rsplit(" AS ", 1)[1] for s in select]
        return FusedQuery(
            table=self.table,
            sql=sql,
            slots=self.slots,
            aliases=aliases,
            group_columns=group_columns,
        )
