"""Evaluate column-local rules once per distinct value on low-cardinality columns.

A code column (diagnosis, provider, treatment function, value-set items) holds a few hundred
distinct values in millions of rows. Evaluating a regex or a value set on every row repeats the same
work; here each such column is grouped once (a cheap, dictionary-aware aggregate on one column),
every rule on it is evaluated on the distinct values, and the rule becomes membership in its
failing values, which the planner tests with one substring search per row. Identifier columns
(NHS number, postcode) are high-cardinality by nature and are left to per-row evaluation.
"""

from __future__ import annotations

from dataclasses import replace

from sqlglot import exp

from healthdq.engine.base import Engine
from healthdq.engine.compiler import MARKER_PADDING, Compiler, RowCheck, col, lit
from healthdq.validators.base import get_validator

# Rule kinds whose verdict depends on one column's value alone.
COLUMN_LOCAL = {"validator", "regex", "length", "allowed_values", "default_value", "type"}
# Beyond this many distinct values a column is evaluated per row.
MAX_DISTINCT = 5_000
# Beyond this many failing values, membership would cost more than the rule itself.
MAX_FAILING = 200
# Rows read to estimate a column's cardinality before grouping it whole: an identifier column
# (10M distinct episode ids) would otherwise be aggregated in full only to be rejected (~1 s).
PROBE_ROWS = 100_000


def _eligible(check: RowCheck, compiler: Compiler, skip: set[str]) -> str | None:
    rule = check.rule
    kind = getattr(rule, "kind", "")
    column = getattr(rule, "column", None)
    if kind not in COLUMN_LOCAL or rule.when or not isinstance(column, str):
        return None
    real = compiler._name(column)
    if real.lower() in skip or check.sample_columns != [real] or not compiler._is_text(real):
        return None
    if kind == "validator":
        validator = get_validator(str(getattr(rule, "validator", "")))
        if validator.kind == "checksum":  # NHS numbers, SCTIDs: identifiers, high cardinality
            return None
    return real


def per_distinct(
    engine: Engine,
    table: str,
    checks: list[RowCheck],
    compiler: Compiler,
    skip: set[str],
    value_counts: dict[str, list[tuple[str, int]]] | None = None,
) -> tuple[list[RowCheck], set[str], int]:
    """Rewrite eligible checks; returns (checks, low-cardinality columns, queries run).

    `value_counts`, when given, receives each low-cardinality column's values and row counts
    (the grouping runs anyway): exact distinct counts and top values for the run's metrics.
    """
    by_column: dict[str, list[int]] = {}
    for i, check in enumerate(checks):
        column = _eligible(check, compiler, skip)
        if column is not None:
            by_column.setdefault(column, []).append(i)
    out = list(checks)
    # A grouped column's marker test -> membership in its distinct values that are markers.
    swaps: dict[exp.Expr, exp.Expr] = {}
    low: set[str] = set()
    queries = 0
    if not by_column:
        return out, low, queries
    # One probe for every candidate column: the cardinality of the first PROBE_ROWS rows.
    names = list(by_column)
    counts = ", ".join(f"count(DISTINCT {engine.quote(c)})" for c in names)
    selected = ", ".join(engine.quote(c) for c in names)
    probe = (
        f"SELECT {counts} FROM (SELECT {selected} FROM {engine.quote(table)} "
        f"LIMIT {PROBE_ROWS}) AS __p"
    )
    try:
        queries += 1
        estimates = [int(v or 0) for v in engine.fetch(probe)[0]]
    except Exception:
        return out, low, queries  # the fused query will report the rule's own error
    for column, estimate in zip(names, estimates, strict=True):
        if estimate > MAX_DISTINCT:
            continue
        indexes = by_column[column]
        q = engine.quote(column)
        verdicts = ", ".join(
            engine.render(
                exp.Coalesce(
                    this=exp.and_(checks[i].applies.copy(), checks[i].violates.copy()),
                    expressions=[exp.false()],
                )
            )
            for i in indexes
        )
        sql = (
            f"SELECT {q}, __c, {verdicts} FROM (SELECT {q}, count(*) AS __c "
            f"FROM {engine.quote(table)} "
            f"WHERE {q} IS NOT NULL GROUP BY {q} LIMIT {MAX_DISTINCT + 1}) AS __d"
        )
        try:
            rows = engine.fetch(sql)
        except Exception:
            continue  # the fused query will report the rule's own error
        queries += 1
        if len(rows) > MAX_DISTINCT:
            continue
        low.add(column)
        if value_counts is not None:
            value_counts[column] = [(str(r[0]), int(r[1])) for r in rows]
        marker = compiler.marker(column)
        if marker is not None:
            swaps[marker] = _marker_membership(compiler, column, [str(r[0]) for r in rows])
        for k, i in enumerate(indexes):
            failing = sorted(str(r[0]) for r in rows if r[k + 2])
            if len(failing) > MAX_FAILING:
                continue
            violates: exp.Expr = (
                exp.In(this=col(column), expressions=[lit(v) for v in failing])
                if failing
                else exp.false()
            )
            out[i] = replace(checks[i], violates=violates)
    if swaps:
        out = [_unmark(check, swaps) for check in out]
    return out, low, queries


def _marker_membership(compiler: Compiler, column: str, values: list[str]) -> exp.Expr:
    """The distinct values that are markers once trimmed, as a code list: the planner tests it
    as cheaply as any other, instead of trimming every row."""
    wanted = set(compiler.markers_of(column))
    raw = sorted(v for v in values if v.strip(MARKER_PADDING) in wanted)
    if not raw:
        return exp.false()
    return exp.In(this=col(column), expressions=[lit(v) for v in raw])


def _unmark(check: RowCheck, swaps: dict[exp.Expr, exp.Expr]) -> RowCheck:
    def swap(node: exp.Expr) -> exp.Expr:
        found = swaps.get(node) if isinstance(node, exp.In) else None
        return found.copy() if found is not None else node

    return replace(
        check,
        applies=check.applies.copy().transform(swap),
        violates=check.violates.copy().transform(swap),
    )
