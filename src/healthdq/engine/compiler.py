"""Compile rules to dialect-neutral sqlglot predicates.

A row-level rule becomes two predicates: `applies` (the row is in the denominator) and
`violates` (evaluated only where it applies). Table-level rules declare the aggregate they need;
the planner alone decides how checks share a scan (as Deequ's AnalysisRunner does).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlglot import exp

from healthdq.engine.dates import DETECT, FORMATS, converted, strptime_of
from healthdq.rules import model as m
from healthdq.rules import sandbox
from healthdq.rules.dateformats import PLACEHOLDER_DATES
from healthdq.validators.base import get_validator

TEXT_TYPES = ("VARCHAR", "TEXT", "STRING", "CHAR")
# Characters trimmed from both ends before a value is compared with missing-value markers.
MARKER_PADDING = " \t"
# Column types whose values are compared as typed literals, with the Python check that a value
# converts (so a bad literal falls back to text comparison rather than failing the query).
TYPED_LITERALS: dict[str, Any] = {
    "DATE": date.fromisoformat,
    "BIGINT": int,
    "INTEGER": int,
}
TYPE_TARGETS = {
    "integer": "BIGINT",
    "decimal": "DOUBLE",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
    "boolean": "BOOLEAN",
    "string": "VARCHAR",
}


class CompileError(Exception):
    """A rule that cannot run against this table; it gets status 'error', the run goes on."""


@dataclass
class RowCheck:
    """A rule evaluated on every row: fused into the table's single scan."""

    rule: m.RuleBase
    applies: exp.Expr
    violates: exp.Expr
    sample_columns: list[str]


@dataclass
class AggregateCheck:
    """A rule decided from whole-table aggregates (row count, freshness, uniqueness)."""

    rule: m.RuleBase


@dataclass
class JoinCheck:
    """A rule needing another table (referential integrity): its own query."""

    rule: m.ForeignKeyRule
    applies: exp.Expr


Compiled = RowCheck | AggregateCheck | JoinCheck


def col(name: str) -> exp.Column:
    return exp.column(name, quoted=True)


def lit(value: Any) -> exp.Expr:
    if isinstance(value, str):
        return exp.Literal.string(value)
    return exp.Literal.number(value)


def parse_predicate(sql: str, where: str) -> exp.Expr:
    """Parse user SQL (DuckDB syntax) into a checked sqlglot tree, or raise CompileError.

    Every engine gets the tree that passed the contract sandbox (rules/sandbox.py), rendered in
    its own dialect, never the user's text.
    """
    try:
        tree = sandbox.parse_expression(sql)
    except sandbox.SandboxError as exc:
        raise CompileError(f"{where}: {exc}") from None
    # Parenthesised, so NOT / IS NULL / AND built around it keep the user's precedence.
    return exp.Paren(this=tree)


def resolve_date(value: str, run_date: date) -> date:
    """An ISO date or 'today', 'today-120y', 'today+7d', 'today-6m' relative to the run date."""
    text = str(value).strip().lower()
    if text.startswith("today"):
        rest = text[5:].replace(" ", "")
        if not rest:
            return run_date
        found = re.fullmatch(r"([+-])(\d+)([dmy])", rest)
        if not found:
            raise CompileError(f"bad relative date '{value}' (use e.g. today-120y, today+7d)")
        sign = 1 if found.group(1) == "+" else -1
        n = int(found.group(2)) * sign
        unit = found.group(3)
        try:
            if unit == "d":
                return run_date + timedelta(days=n)
            months = n * (12 if unit == "y" else 1)
            y, mth = divmod(run_date.month - 1 + months, 12)
            day = min(run_date.day, 28)
            return date(run_date.year + y, mth + 1, day)
        except (OverflowError, ValueError):
            raise CompileError(f"relative date '{value}' is out of range (years 1..9999)") from None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise CompileError(f"bad date '{value}' (use YYYY-MM-DD or today-120y)") from None


class Compiler:
    """Turns the rules of one table into checks, given the table's columns and types."""

    def __init__(
        self,
        table: str,
        columns: dict[str, str],
        run_date: date,
        markers: dict[str, list[str]] | None = None,
        table_markers: list[str] | None = None,
    ) -> None:
        self.table = table
        self.columns = {c.lower(): (c, t.upper()) for c, t in columns.items()}
        self.run_date = run_date
        # Missing-value markers ('&', '-', 'X'...): per column, and table-wide for text columns.
        self.markers = {k.lower(): list(v) for k, v in (markers or {}).items() if v}
        self.table_markers = list(table_markers or [])
        # Text date columns (lower case) -> strptime pattern, declared or detected.
        self.date_formats: dict[str, str] = {}
        # Text columns a date comparison reads that no date format reads.
        self.undated: set[str] = set()
        # The date code sets are judged at when a code_era rule names no date column.
        self.standard_date: date | None = None

    # -- column helpers -------------------------------------------------------------------------
    def _name(self, name: str) -> str:
        found = self.columns.get(name.lower())
        if found is None:
            close = difflib.get_close_matches(name.lower(), list(self.columns), n=1)
            hint = f" (did you mean '{self.columns[close[0]][0]}'?)" if close else ""
            raise CompileError(f"column '{name}' not found in table '{self.table}'{hint}")
        return found[0]

    def coltype(self, name: str) -> str:
        return self.columns[name.lower()][1]

    def _is_text(self, name: str) -> bool:
        return self.coltype(name).startswith(TEXT_TYPES)

    def text(self, name: str) -> exp.Expression:
        """The column as text: codes compare as strings whatever the source typed them as."""
        real = self._name(name)
        if self._is_text(real):
            return col(real)
        return exp.Cast(this=col(real), to=exp.DataType.build("VARCHAR"))

    def as_type(self, name: str, type_name: str) -> exp.Expr:
        real = self._name(name)
        if self.coltype(real).startswith(type_name.upper()):
            return col(real)
        if type_name.upper() == "DATE" and self._is_text(real):
            return self.as_date(real)
        return exp.TryCast(this=col(real), to=exp.DataType.build(type_name))

    def date_pattern(self, name: str) -> str:
        """The strptime pattern of a text date column; ISO unless declared or detected."""
        return self.date_formats.get(self._name(name).lower(), FORMATS["ISO"])

    def as_date(self, name: str) -> exp.Expr:
        """A text column as DATE by its format (NULL where a value does not convert)."""
        real = self._name(name)
        pattern = self.date_pattern(real)
        if pattern == FORMATS["ISO"]:
            return exp.TryCast(this=col(real), to=exp.DataType.build("DATE"))
        return converted(col(real), pattern)

    def member(self, name: str, values: list[str]) -> exp.Expr:
        """`column IN (values)`, compared in the column's own type when every value converts.

        Casting a DATE column to text for every row costs 4x comparing it with DATE literals.
        """
        real = self._name(name)
        kind = self.coltype(real)
        dates = iso_dates(values)
        if dates is not None and (
            kind.startswith("TIMESTAMP") or real.lower() in self.date_formats
        ):
            # Placeholder dates on a timestamp or a text date column: compared as dates.
            value = (
                exp.Cast(this=col(real), to=exp.DataType.build("DATE"))
                if kind.startswith("TIMESTAMP")
                else self.as_date(real)
            )
            typed = [exp.Cast(this=lit(v), to=exp.DataType.build("DATE")) for v in dates]
            return exp.In(this=value, expressions=typed)
        for prefix, convert in TYPED_LITERALS.items():
            if kind.startswith(prefix):
                try:
                    for v in values:
                        convert(v)
                except ValueError:
                    break
                typed = [exp.Cast(this=lit(v), to=exp.DataType.build(prefix)) for v in values]
                return exp.In(this=col(real), expressions=typed)
        return exp.In(this=self.text(real), expressions=[lit(v) for v in values])

    def markers_of(self, name: str) -> list[str]:
        real = self._name(name)
        own = self.markers.get(real.lower(), [])
        shared = self.table_markers if self._is_text(real) else []
        return list(dict.fromkeys([*own, *shared]))

    def marker(self, name: str) -> exp.Expr | None:
        """`TRIM(column, ' \t') IN (markers)`: the value means "missing" (HES '&', '-'...).

        Padding is trimmed because extracts pad codes to the field width with spaces or a tab.
        """
        values = self.markers_of(name)
        if not values:
            return None
        trimmed = exp.Trim(this=self.text(name), expression=lit(MARKER_PADDING))
        return exp.In(this=trimmed, expressions=[lit(v) for v in values])

    def present(self, name: str) -> exp.Expr:
        """Not NULL, whatever the value (markers included)."""
        return exp.Not(this=exp.Is(this=col(self._name(name)), expression=exp.Null()))

    def not_null(self, name: str) -> exp.Expr:
        """Holds a value to judge: not NULL and not a missing-value marker."""
        present = self.present(name)
        marker = self.marker(name)
        if marker is None:
            return present
        return exp.and_(present, exp.Not(this=marker))

    def unmark(self, tree: exp.Expr) -> exp.Expr:
        """User SQL sees a marker as NULL: `CASE WHEN <marker> THEN NULL ELSE column END`."""

        def swap(node: exp.Expr) -> exp.Expr:
            if isinstance(node, exp.Column) and not node.table:
                marker = self.marker(node.name) if node.name.lower() in self.columns else None
                if marker is not None:
                    return exp.Case(ifs=[exp.If(this=marker, true=exp.Null())], default=node.copy())
            return node

        if not self.markers and not self.table_markers:
            return tree
        return tree.transform(swap)

    def _columns_in(self, tree: exp.Expr) -> list[str]:
        names: list[str] = []
        for node in tree.find_all(exp.Column):
            real = self._name(node.name)
            if real not in names:
                names.append(real)
        return names

    # -- compile --------------------------------------------------------------------------------
    def compile(self, rule: m.RuleBase) -> Compiled:
        method = getattr(self, f"_{getattr(rule, 'kind', '')}", None)
        if method is None:
            raise CompileError(f"rule kind '{getattr(rule, 'kind', '?')}' is not supported")
        compiled: Compiled = method(rule)
        if rule.when and isinstance(compiled, RowCheck | JoinCheck):
            when = parse_predicate(rule.when, "when")
            self._columns_in(when)  # unknown columns fail here with a clear message
            when = self.unmark(when)
            compiled.applies = exp.and_(
                compiled.applies, exp.Coalesce(this=when, expressions=[exp.false()])
            )
            if isinstance(compiled, RowCheck):
                for c in self._columns_in(when):
                    if c not in compiled.sample_columns:
                        compiled.sample_columns.append(c)
        elif rule.when:
            raise CompileError(f"'when' does not apply to {getattr(rule, 'kind', '')} rules")
        return compiled

    def _row(
        self,
        rule: m.RuleBase,
        applies: exp.Expr,
        violates: exp.Expr,
        columns: list[str],
    ) -> RowCheck:
        return RowCheck(
            rule=rule,
            applies=applies,
            violates=violates,
            sample_columns=[self._name(c) for c in columns],
        )

    def _not_null(self, rule: m.NotNullRule) -> RowCheck:
        real = self._name(rule.column)
        missing: exp.Expr = exp.Is(this=col(real), expression=exp.Null())
        if rule.blank_is_null and self._is_text(real):
            # Whitespace sorts below '!': the cheap comparison guards the costly TRIM, so only
            # the rare candidate rows are trimmed (1 s -> 0.02 s on 10M ids).
            blank = exp.and_(
                exp.LT(this=col(real), expression=lit("!")),
                exp.EQ(this=exp.Trim(this=col(real)), expression=lit("")),
            )
            missing = exp.or_(missing, blank)
        marker = self.marker(real)
        if marker is not None:
            missing = exp.or_(missing, marker)
        return self._row(rule, exp.true(), missing, [real])

    def _type(self, rule: m.TypeRule) -> RowCheck:
        target = TYPE_TARGETS[rule.type]
        real = self._name(rule.column)
        if self.coltype(real).startswith(target) or rule.type == "string":
            converted: exp.Expr = col(real)
        elif rule.type in ("date", "timestamp") and (
            rule.format or real.lower() in self.date_formats
        ):
            pattern = strptime_of(rule.format) if rule.format else self.date_pattern(real)
            converted = exp.StrToTime(this=self.text(real), format=lit(pattern), safe=True)
        else:
            converted = exp.TryCast(this=self.text(real), to=exp.DataType.build(target))
        violates = exp.Is(this=converted, expression=exp.Null())
        return self._row(rule, self.not_null(real), violates, [real])

    def _allowed_values(self, rule: m.AllowedValuesRule) -> RowCheck:
        values = _valueset(rule.value_set) if rule.value_set is not None else rule.values or []
        member = self.member(rule.column, values)
        return self._row(rule, self.not_null(rule.column), exp.Not(this=member), [rule.column])

    def _regex(self, rule: m.RegexRule) -> RowCheck:
        try:
            re.compile(rule.pattern)
        except re.error as exc:
            raise CompileError(f"invalid regex '{rule.pattern}': {exc}") from None
        # Patterns match the whole value, whatever the engine's default. \z, not $: in Java
        # (Spark) and Python a $ also matches before a final newline.
        anchored = f"^(?:{rule.pattern})\\z"
        match = exp.RegexpLike(this=self.text(rule.column), expression=lit(anchored))
        return self._row(rule, self.not_null(rule.column), exp.Not(this=match), [rule.column])

    def _length(self, rule: m.LengthRule) -> RowCheck:
        if rule.min is None and rule.max is None:
            raise CompileError("length rule needs 'min' or 'max'")
        length = exp.Length(this=self.text(rule.column))
        parts: list[exp.Expr] = []
        if rule.min is not None:
            parts.append(exp.LT(this=length, expression=lit(rule.min)))
        if rule.max is not None:
            parts.append(exp.GT(this=length.copy(), expression=lit(rule.max)))
        return self._row(rule, self.not_null(rule.column), exp.or_(*parts), [rule.column])

    def _range(self, rule: m.RangeRule) -> RowCheck:
        if rule.min is None and rule.max is None:
            raise CompileError("range rule needs 'min' or 'max'")
        value = self.as_type(rule.column, "DOUBLE")
        # A value that is not a number is out of any numeric range.
        parts: list[exp.Expr] = [exp.Is(this=value, expression=exp.Null())]
        if rule.min is not None:
            parts.append(exp.LT(this=value.copy(), expression=lit(rule.min)))
        if rule.max is not None:
            parts.append(exp.GT(this=value.copy(), expression=lit(rule.max)))
        return self._row(rule, self.not_null(rule.column), exp.or_(*parts), [rule.column])

    def _date_range(self, rule: m.DateRangeRule) -> RowCheck:
        if rule.min is None and rule.max is None:
            raise CompileError("date_range rule needs 'min' or 'max'")
        value = self.as_type(rule.column, "DATE")
        parts: list[exp.Expr] = [exp.Is(this=value, expression=exp.Null())]
        for bound, cls in ((rule.min, exp.LT), (rule.max, exp.GT)):
            if bound is not None:
                d = resolve_date(bound, self.run_date)
                literal = exp.Cast(this=lit(d.isoformat()), to=exp.DataType.build("DATE"))
                parts.append(cls(this=value.copy(), expression=literal))
        return self._row(rule, self.not_null(rule.column), exp.or_(*parts), [rule.column])

    def _validator(self, rule: m.ValidatorRule) -> RowCheck:
        try:
            validator = get_validator(rule.validator)
        except KeyError as exc:
            raise CompileError(str(exc.args[0])) from None
        valid = validator.build(self.text(rule.column))
        # NULL from a validator on a non-null value is a failure, never a silent pass.
        violates = exp.Not(this=exp.Coalesce(this=valid, expressions=[exp.false()]))
        return self._row(rule, self.not_null(rule.column), violates, [rule.column])

    def _code_era(self, rule: m.CodeEraRule) -> RowCheck:
        from healthdq.validators.valueset import get_valueset

        try:
            codes = get_valueset(rule.value_set).codes
        except KeyError as exc:
            raise CompileError(str(exc.args[0])) from None
        # Judged only on codes valid in some period: values never valid are allowed_values'.
        applies = exp.and_(
            self.not_null(rule.column), self.member(rule.column, [c.code for c in codes])
        )
        columns = [rule.column]
        if rule.date_column:
            day = self.as_type(rule.date_column, "DATE")
            # The dates where the set in force changes; between two of them it is constant, so
            # one date test picks the interval and one membership test its out-of-era codes.
            bounds = sorted(
                {c.valid_from for c in codes if c.valid_from}
                | {c.valid_to + timedelta(days=1) for c in codes if c.valid_to}
            )
            starts: list[date | None] = [None, *bounds]
            branches: list[tuple[date | None, exp.Expr]] = []
            for k, start in enumerate(starts):
                probe = start or (bounds[0] - timedelta(days=1) if bounds else self.run_date)
                stale = [c.code for c in codes if not c.in_force(probe)]
                out: exp.Expr = self.member(rule.column, stale) if stale else exp.false()
                end = starts[k + 1] if k + 1 < len(starts) else None
                branches.append((end, out))
            case = exp.Case()
            for end, out in branches[:-1]:
                literal = exp.Cast(this=lit(str(end)), to=exp.DataType.build("DATE"))
                case = case.when(exp.LT(this=day.copy(), expression=literal), out)
            violates: exp.Expr = case.else_(branches[-1][1]) if bounds else branches[-1][1]
            # A placeholder date (HES 1800-01-01...) is no date: the era is unknown.
            placeholders = [
                exp.Cast(this=lit(d), to=exp.DataType.build("DATE")) for d in PLACEHOLDER_DATES
            ]
            applies = exp.and_(
                applies,
                exp.Not(this=exp.Is(this=day.copy(), expression=exp.Null())),
                exp.Not(this=exp.In(this=day.copy(), expressions=placeholders)),
            )
            columns.append(rule.date_column)
            return self._row(rule, applies, violates, columns)
        at = rule.as_of or self.standard_date or self.run_date
        stale = [c.code for c in codes if not c.in_force(at)]
        violates = self.member(rule.column, stale) if stale else exp.false()
        return self._row(rule, applies, violates, columns)

    def _default_value(self, rule: m.DefaultValueRule) -> RowCheck:
        member = self.member(rule.column, rule.values)
        marker = self.marker(rule.column)
        if marker is not None:  # a marker is a default for DQMI, never an invalid value
            member = exp.or_(member, marker)
        return self._row(rule, self.present(rule.column), member, [rule.column])

    def _compare(self, rule: m.CompareRule) -> RowCheck:
        left = parse_predicate(rule.left, "left")
        right = parse_predicate(rule.right, "right")
        used = self._columns_in(left) + self._columns_in(right)
        left_type, right_type = self._bare_type(left), self._bare_type(right)
        left, right = self.unmark(left), self.unmark(right)
        # A date held as text compared with a typed date: convert the text side (a value that
        # does not convert is not compared; the column's type rule reports it).
        for temporal in ("DATE", "TIMESTAMP"):
            if right_type.startswith(temporal) and left_type.startswith(TEXT_TYPES):
                left = self._text_date(left, temporal)
            elif left_type.startswith(temporal) and right_type.startswith(TEXT_TYPES):
                right = self._text_date(right, temporal)
        if left_type.startswith(TEXT_TYPES) and right_type.startswith(TEXT_TYPES):
            # Two text dates: compared as dates when either is a known date column.
            names = [self._bare_name(t) for t in (left, right)]
            if any(n and n.lower() in self.date_formats for n in names):
                left, right = self._text_date(left, "DATE"), self._text_date(right, "DATE")
        ops = {"<": exp.LT, "<=": exp.LTE, ">": exp.GT, ">=": exp.GTE, "=": exp.EQ, "!=": exp.NEQ}
        holds = ops[rule.op](this=left, expression=right)
        applies = exp.and_(
            exp.Not(this=exp.Is(this=left.copy(), expression=exp.Null())),
            exp.Not(this=exp.Is(this=right.copy(), expression=exp.Null())),
        )
        return self._row(rule, applies, exp.Not(this=holds), list(dict.fromkeys(used)))

    def _bare_name(self, tree: exp.Expr) -> str | None:
        inner = tree.unnest() if isinstance(tree, exp.Paren) else tree
        if isinstance(inner, exp.Case):  # a column whose markers read as NULL
            inner = inner.args.get("default") or inner
        if isinstance(inner, exp.Column) and inner.name.lower() in self.columns:
            return inner.name
        return None

    def _text_date(self, tree: exp.Expr, temporal: str) -> exp.Expr:
        """A text side of a comparison converted by its column's date format."""
        name = self._bare_name(tree)
        if name and name.lower() in self.undated:
            raise CompileError(
                f"column '{self._name(name)}' holds text that no date format reads "
                f"({', '.join(DETECT)}): declare its format in the contract, e.g. "
                f"columns: {{{self._name(name)}: {{format: DD/MM/YYYY}}}}"
            )
        pattern = self.date_pattern(name) if name else FORMATS["ISO"]
        if pattern == FORMATS["ISO"]:
            return exp.TryCast(this=tree, to=exp.DataType.build(temporal))
        return converted(tree, pattern)

    def _bare_type(self, tree: exp.Expr) -> str:
        """The column type when an expression is just a column (parenthesised), else ''."""
        inner = tree.unnest() if isinstance(tree, exp.Paren) else tree
        if isinstance(inner, exp.Column) and inner.name.lower() in self.columns:
            return self.coltype(inner.name)
        return ""

    def _sql(self, rule: m.SqlRule) -> RowCheck:
        pred = parse_predicate(rule.predicate, "predicate")
        used = self._columns_in(pred)
        pred = self.unmark(pred)
        cols = [self._name(c) for c in rule.columns] or used
        applies: exp.Expr = exp.Not(this=exp.Is(this=pred.copy(), expression=exp.Null()))
        if rule.denominator is not None:
            if rule.denominator.strip().upper() == "TRUE":
                applies = exp.true()  # every row: the planner then needs no count of its own
            else:
                den = parse_predicate(rule.denominator, "denominator")
                self._columns_in(den)
                den = self.unmark(den)
                applies = exp.Coalesce(this=den, expressions=[exp.false()])
        return self._row(rule, applies, exp.Not(this=pred), cols)

    def _foreign_key(self, rule: m.ForeignKeyRule) -> JoinCheck:
        self._name(rule.column)
        return JoinCheck(rule=rule, applies=self.not_null(rule.column))

    def _unique(self, rule: m.UniqueRule) -> AggregateCheck:
        for c in rule.columns:
            self._name(c)
        return AggregateCheck(rule=rule)

    def _row_count(self, rule: m.RowCountRule) -> AggregateCheck:
        if rule.min is None and rule.max is None:
            raise CompileError("row_count rule needs 'min' or 'max'")
        return AggregateCheck(rule=rule)

    def _freshness(self, rule: m.FreshnessRule) -> AggregateCheck:
        self._name(rule.column)
        return AggregateCheck(rule=rule)


def iso_dates(values: list[str]) -> list[str] | None:
    """The values as ISO dates when every one is a date, else None."""
    out = []
    for v in values:
        try:
            out.append(date.fromisoformat(str(v).strip()).isoformat())
        except ValueError:
            return None
    return out or None


def _valueset(name: str) -> list[str]:
    from healthdq.validators import valueset

    try:
        return valueset.load_valueset(name)
    except KeyError as exc:
        raise CompileError(str(exc.args[0])) from None
