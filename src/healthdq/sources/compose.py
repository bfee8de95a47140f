"""Columns composed from parts: a date column and a time column read as one timestamp.

HES A&E releases ARRIVALDATE and ARRIVALTIME as two fields where a pack checks one arrival
timestamp. A pack column declares its parts (`parts: {date: [ARRIVALDATE], time: [ARRIVALTIME]}`);
when the source has no column of the pack's name (nor a mapped or aliased one) but has both
parts, the reading layer adds the composed column. The expression is built once as sqlglot and
rendered by each engine, so DuckDB and Spark compose alike.

Dates are read as DATE, ISO text, YYYYMMDD or DD/MM/YYYY; times as HH:MM, HHMM, HMM, HH:MM:SS
or HHMMSS (':' and '.' separators ignored). A missing or unreadable part gives NULL (not
midnight), so a completeness rule on the composed column counts it.
"""

from __future__ import annotations

from sqlglot import exp

DATE_PATTERNS = ("%Y%m%d", "%d/%m/%Y")


def _safe_strptime(value: exp.Expr, pattern: str) -> exp.Expr:
    return exp.StrToTime(this=value, format=exp.Literal.string(pattern), safe=True)


def _text(column: str) -> exp.Expr:
    return exp.Cast(this=exp.column(column, quoted=True), to=exp.DataType.build("TEXT"))


def datetime_from_parts(date_column: str, time_column: str) -> exp.Expr:
    """TIMESTAMP from a date column and a time-of-day column; NULL if either does not read."""
    date_col = exp.column(date_column, quoted=True)
    as_date = exp.Coalesce(
        this=exp.TryCast(this=date_col, to=exp.DataType.build("DATE")),
        expressions=[
            exp.Cast(this=_safe_strptime(_text(date_column), p), to=exp.DataType.build("DATE"))
            for p in DATE_PATTERNS
        ],
    )
    # Separators dropped by REPLACE (no regex: engines disagree on global-replace flags).
    digits: exp.Expr = exp.Trim(this=_text(time_column))
    for sep in (":", "."):
        digits = exp.func("REPLACE", digits, exp.Literal.string(sep), exp.Literal.string(""))
    length = exp.Length(this=digits.copy())

    def sized(*sizes: int) -> exp.Expr:
        return exp.In(this=length.copy(), expressions=[exp.Literal.number(n) for n in sizes])

    hhmmss = exp.Case(
        ifs=[
            exp.If(
                this=sized(3, 4),
                true=exp.DPipe(
                    this=exp.Pad(
                        this=digits.copy(),
                        expression=exp.Literal.number(4),
                        fill_pattern=exp.Literal.string("0"),
                        is_left=True,
                    ),
                    expression=exp.Literal.string("00"),
                ),
            ),
            exp.If(
                this=sized(5, 6),
                true=exp.Pad(
                    this=digits.copy(),
                    expression=exp.Literal.number(6),
                    fill_pattern=exp.Literal.string("0"),
                    is_left=True,
                ),
            ),
        ]
    )
    joined = exp.DPipe(
        this=exp.DPipe(
            this=exp.Cast(this=as_date, to=exp.DataType.build("TEXT")),
            expression=exp.Literal.string(" "),
        ),
        expression=hhmmss,
    )
    return _safe_strptime(joined, "%Y-%m-%d %H%M%S")


def find_parts(
    present: dict[str, str], date_names: list[str], time_names: list[str]
) -> tuple[str, str] | None:
    """The first date part and first time part the source has (lower-cased lookup)."""
    date = next((present[n.lower()] for n in date_names if n.lower() in present), None)
    time = next((present[n.lower()] for n in time_names if n.lower() in present), None)
    return (date, time) if date and time else None
