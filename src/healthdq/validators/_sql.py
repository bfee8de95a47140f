"""Small sqlglot builders shared by the validators.

Everything here must render for both DuckDB and Spark SQL, so only portable functions are used:
REGEXP_MATCHES/RLIKE (sqlglot's RegexpLike), SUBSTRING, ASCII, LENGTH, TRY_CAST, integer DIV and
%, IN and CASE.
"""

from __future__ import annotations

from sqlglot import exp

from healthdq.validators.base import Builder


def lit(value: str | int) -> exp.Expression:
    return exp.Literal.string(value) if isinstance(value, str) else exp.Literal.number(value)


def full_match(col: exp.Expression, pattern: str) -> exp.Expression:
    """TRUE when the whole value matches `pattern` (an unanchored regex).

    The pattern must sit in the common subset of RE2 (DuckDB) and java.util.regex (Spark):
    character classes, counted repeats, alternation, (?:...) groups. `\\z` anchors the end
    because in Java `$` also matches before a final line terminator, so 'SW1A 1AA\\r' from a
    Windows CSV would pass on Spark but fail on DuckDB. sqlglot doubles the backslash in the
    Spark string literal (Spark's default, spark.sql.parser.escapedStringLiterals=false).
    """
    return exp.RegexpLike(this=col.copy(), expression=exp.Literal.string(f"^(?:{pattern})\\z"))


def pattern_builder(pattern: str) -> Builder:
    """A validator builder for a pure format check."""

    def build(col: exp.Expression) -> exp.Expression:
        return full_match(col, pattern)

    return build


def try_bigint(col: exp.Expression) -> exp.Expression:
    # safe=True makes sqlglot emit TRY_CAST for Spark too (plain CAST raises under ANSI mode).
    return exp.TryCast(this=col.copy(), to=exp.DataType.build("BIGINT"), safe=True)


def int_div(this: exp.Expression, divisor: int) -> exp.Expression:
    return this if divisor == 1 else exp.IntDiv(this=this, expression=lit(divisor))


def mod(this: exp.Expression, divisor: int) -> exp.Expression:
    return exp.Mod(this=exp.Paren(this=this), expression=lit(divisor))


def char_at(value: exp.Expression, position: int | exp.Expression) -> exp.Expression:
    """The 1-character substring at 1-based `position` ('' past the end, on both engines)."""
    start = lit(position) if isinstance(position, int) else position
    return exp.Substring(this=value.copy(), start=start, length=lit(1))


def sum_of(terms: list[exp.Expression]) -> exp.Expression:
    total = terms[0]
    for term in terms[1:]:
        total = exp.Add(this=total, expression=term)
    return exp.Paren(this=total)


def when_else_false(condition: exp.Expression, then: exp.Expression) -> exp.Expression:
    """CASE WHEN condition THEN then ELSE FALSE END: never NULL when `then` is never NULL."""
    return exp.Case().when(condition, then).else_(exp.false())


def in_list(col: exp.Expression, codes: list[str]) -> exp.Expression:
    return exp.In(this=col.copy(), expressions=[lit(c) for c in codes])
