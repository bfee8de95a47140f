"""Dates as extracts write them: named formats, and detecting a text column's format.

HES releases MYDOB as MMYYYY; CSV extracts hold ISO, YYYYMMDD or DD/MM/YYYY text. A date rule on
a text column converts by the column's format (declared, or detected from the data when only one
format reads it), never by guessing per row.
"""

from __future__ import annotations

from sqlglot import exp

from healthdq.engine.base import Engine
from healthdq.rules.dateformats import FORMATS, strptime_of

__all__ = ["DETECT", "FORMATS", "converted", "detect_formats", "strptime_of"]

# Tried in this order when detecting; MM/DD/YYYY is never detected (ambiguous with DD/MM/YYYY
# and not an NHS convention), only declared.
DETECT = ("ISO", "YYYYMMDD", "DD/MM/YYYY", "DD-MM-YYYY", "MMYYYY", "YYYY-MM", "YYYYMM")
# Rows read to detect a format, and the share of them the chosen format must read (bad dates
# are findings of the date rules, so a column half-full of bad ISO dates is still ISO).
DETECT_ROWS = 1000
DETECT_MIN_SHARE = 0.5


def converted(value: exp.Expr, pattern: str) -> exp.Expr:
    """Text -> DATE by `pattern`; NULL where the value does not convert."""
    parsed = exp.StrToTime(this=value, format=exp.Literal.string(pattern), safe=True)
    return exp.Cast(this=parsed, to=exp.DataType.build("DATE"))


def detect_formats(engine: Engine, table: str, columns: list[str]) -> dict[str, str | None]:
    """Each text column's date format, from its first non-empty values, in one query.

    None: no format reads enough of the sample to call the column a date column.
    """
    if not columns:
        return {}
    q = engine.quote
    probes = []
    for c in columns:
        probes.append(f"count({q(c)})")
        for name in DETECT:
            test = engine.render(converted(exp.column(c, quoted=True), FORMATS[name]))
            probes.append(f"count({test})")
    sample = ", ".join(q(c) for c in columns)
    head = f"SELECT {sample} FROM {q(table)} LIMIT {DETECT_ROWS}"
    sql = f"SELECT {', '.join(probes)} FROM ({head}) AS __d"
    row = engine.fetch(sql)[0]
    out: dict[str, str | None] = {}
    width = 1 + len(DETECT)
    for i, c in enumerate(columns):
        counts = [int(v or 0) for v in row[i * width : (i + 1) * width]]
        present, per_format = counts[0], counts[1:]
        if present == 0:
            out[c] = "ISO"
            continue
        # The format reading the most values (ISO first on ties), if it reads enough of them.
        best = max(range(len(DETECT)), key=lambda k: (per_format[k], -k))
        out[c] = DETECT[best] if per_format[best] >= DETECT_MIN_SHARE * present else None
    return out
