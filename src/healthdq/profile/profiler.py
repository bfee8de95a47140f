"""Column profile of a relation through the Engine interface: two reads of the rows, any width.

1. **The grouped values of a bounded sample**: every row when the table has at most SAMPLE_ROWS,
   else about SAMPLE_ROWS rows (`Engine.sample_rows`: a few blocks of consecutive rows spread
   over the table, so DuckDB reads only the row groups that hold them). The sample's values are
   unpivoted to (column, value) and grouped to (column, value, rows) in one pass
   (`Engine.unpivot`). Shape patterns, content shapes and every candidate validator run on each
   column's sample of distinct values (by hash, at most about SAMPLE_SIZE of them, weighted by
   rows); detection chooses each column's validator from them.
2. **Every row, each column read once**: columns whose sample values repeat (codes, counts,
   flags) are counted value by value in one GROUP BY GROUPING SETS query (one grouping set per
   column), kept as (column, value, rows) like the sample; everything about them (exact distinct
   count, most frequent values, placeholders, the chosen validator's pass count, text lengths,
   range, ISO text dates) is read from those counts. The other columns go through one aggregate
   query: non-null and non-blank counts, min/max, lengths, typed-date figures, the chosen
   validator's pass count, ISO text dates and rows per placeholder value seen in the sample.
   Their distinct count is a HyperLogLog estimate (`approx_count_distinct`, shown as ~N) when
   the table has more than EXACT_DISTINCT_ROWS rows: an exact count of a near-unique column
   costs several times a read of it.

A small table (at most SAMPLE_ROWS rows) is its own sample: every figure is exact. Each query's
expressions are per column, or per validator or content shape on the small grouped sample, so
cost grows with rows x columns and not with columns x validators.

All SQL is written in DuckDB's dialect and run through `Engine.translate`, so the same profile
comes out of DuckDB and Spark. The profile holds values as read: masking identifiers is
governance's job (healthdq.governance.masking.mask_profile, applied by the pipeline).
"""

from __future__ import annotations

import time
import uuid
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from typing import TYPE_CHECKING, Any

import sqlglot
from pydantic import BaseModel, Field, PrivateAttr
from sqlglot import exp

from healthdq.sources.base import ROW, quote_ident, quote_literal
from healthdq.validators._sql import full_match

if TYPE_CHECKING:
    from healthdq.engine.base import Engine

# Values of a code set up to this size are listed in a suggested allowed_values rule.
MAX_ALLOWED = 20
# Most frequent values kept per column: one more than MAX_ALLOWED tells a complete set apart.
TOP_K_VALUES = MAX_ALLOWED + 1
# A column is a uniqueness candidate when its distinct count is at least this share of its values.
UNIQUE_CANDIDATE = 0.95
# Distinct values per column that patterns, content shapes and validators see (about: the
# sample keeps values whose hash falls under a per-column cut-off).
SAMPLE_SIZE = 1_000
TOP_PATTERNS = 10
HASH_BUCKETS = 1_000_003
# Rows read for detection: a table with at most this many rows is its own sample.
SAMPLE_ROWS = 10_000
# A column whose sample holds at most this many distinct values, repeating (see _counted), gets
# exact value counts over every row in the aggregate scan.
COUNTED_DISTINCT = 2_000
# Up to this many rows, columns of many values get an exact distinct count (count DISTINCT);
# above, a HyperLogLog estimate.
EXACT_DISTINCT_ROWS = 100_000

# Known NHS placeholder ("default") values. Dates: NHS England DQMI default DOBs. Text: the
# 'no fixed abode / not known' ZZ99 pseudo-postcodes, the V8199x 'no/unknown GP practice' codes,
# and the conventional 'not known' codes of coded fields (value sets add their own defaults).
PLACEHOLDER_DATES = ("1800-01-01", "1801-01-01", "1900-01-01")
PLACEHOLDER_TEXT = ("V81997", "V81998", "V81999", "99", "X", *PLACEHOLDER_DATES)
PLACEHOLDER_PREFIX = "ZZ99"

# Shapes of values that say what a column holds whatever its name (regexes, anchored by
# full_match; the common subset of RE2 and java.util.regex). Share of sampled values, 0..100.
_DAY, _MONTH, _YEAR = "(?:0?[1-9]|[12][0-9]|3[01])", "(?:0?[1-9]|1[0-2])", "(?:18|19|20)[0-9]{2}"
SHAPES: dict[str, str] = {
    # Ten digits, as typed: 9434765919, 943 476 5919, 943-476-5919.
    "nhs_like": "[0-9]{3}[ -]?[0-9]{3}[ -]?[0-9]{4}",
    # Postcode-shaped, valid or not: any case, with or without the space.
    "postcode_like": "[A-Za-z]{1,2}[0-9][A-Za-z0-9]? *[0-9][A-Za-z]{2}",
    "date_dmy": f"{_DAY}[/.-]{_MONTH}[/.-]{_YEAR}",
    "date_mmyyyy": f"(?:0[1-9]|1[0-2]){_YEAR}",
    "date_yyyymmdd": f"{_YEAR}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])",
    "date_iso": f"{_YEAR}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])(?:[ T].*)?",
    # A 3-character ICD-10 code (HES DIAG_3_nn): letter and two digits.
    "icd10_3": "[A-Z][0-9]{2}",
    # Words of letters (a person's name, once the column name says so).
    "name_like": "[A-Za-z][A-Za-z'.]*(?:[ -][A-Za-z][A-Za-z'.]*)*",
}
# The year inside each date shape (1-based position), for the span of text dates.
DATE_SHAPE_YEAR = {"date_iso": 1, "date_yyyymmdd": 1, "date_mmyyyy": 3}

FAMILIES = {
    "VARCHAR": "text",
    "BIGINT": "integer",
    "INTEGER": "integer",
    "SMALLINT": "integer",
    "TINYINT": "integer",
    "HUGEINT": "integer",
    "UBIGINT": "integer",
    "UINTEGER": "integer",
    "USMALLINT": "integer",
    "UTINYINT": "integer",
    "UHUGEINT": "integer",
    "DOUBLE": "decimal",
    "FLOAT": "decimal",
    "REAL": "decimal",
    "DATE": "date",
    "TIMESTAMP": "timestamp",
    "TIMESTAMP WITH TIME ZONE": "timestamp",
    "TIMESTAMP_S": "timestamp",
    "TIMESTAMP_MS": "timestamp",
    "TIMESTAMP_NS": "timestamp",
    "BOOLEAN": "boolean",
}

Scalar = str | int | float | bool | None


class ColumnProfile(BaseModel):
    """What the profile learnt about a column. Percentages are 0..100."""

    name: str
    type: str  # engine type, e.g. VARCHAR
    family: str  # text | integer | decimal | date | timestamp | boolean | other
    count: int = 0  # non-null values; blank strings count as null
    nulls: int = 0  # null or blank
    blanks: int = 0  # text that is not NULL but blank: a check's not-null filter keeps these
    null_pct: float = 0.0
    # HyperLogLog estimate of distinct values; equal to exact_distinct when that is known.
    approx_distinct: int = 0
    # Distinct non-null values, as a unique rule counts them (blank strings included); None
    # when only the estimate was computed (many values in a table over EXACT_DISTINCT_ROWS).
    exact_distinct: int | None = None
    min: Scalar = None
    max: Scalar = None
    min_length: int | None = None
    max_length: int | None = None
    # Most frequent first (ties by value); empty once masked for an identifier column.
    top_values: list[str] = Field(default_factory=list)
    # True when top_values lists every distinct value (at most MAX_ALLOWED of them).
    all_values_seen: bool = False
    top_patterns: list[str] = Field(default_factory=list)
    # Non-null values in the column's sample of distinct values (weighted by rows): patterns,
    # shapes and validators ran on these (every value when checked == count).
    checked: int = 0
    # Validator name -> % of the checked values it accepts.
    validators: dict[str, float] = Field(default_factory=dict)
    # Content shape (SHAPES) -> % of the checked values of that shape.
    shapes: dict[str, float] = Field(default_factory=dict)
    # Known NHS placeholder values found, the rows holding any of them, and rows per value.
    placeholder_values: list[str] = Field(default_factory=list)
    placeholder_rows: int = 0
    placeholders: dict[str, int] = Field(default_factory=dict)
    # Date columns (typed, or ISO text): % of values that are dates, range and future dates.
    # date_min ignores placeholder dates so a suggested range is the real one.
    date_pct: float | None = None
    date_values: int = 0
    date_min: str | None = None
    date_max: str | None = None
    future_dates: int = 0
    # Earliest and latest year of dates held as text in any common format (SHAPES date_*).
    year_min: int | None = None
    year_max: int | None = None
    # Filled by detection (healthdq.profile.detect) after the queries.
    kind: str = ""
    validator: str | None = None
    # Exact number of non-null values the chosen validator accepts (every value, not a sample).
    validator_passes: int | None = None
    identifier: str | None = None
    unique: bool | None = None
    # Pass counts of every candidate validator over the checked values.
    _passes: dict[str, int] = PrivateAttr(default_factory=dict)

    @property
    def distinct(self) -> int:
        return self.exact_distinct if self.exact_distinct is not None else self.approx_distinct


class TableProfile(BaseModel):
    """A table's profile and how it was computed."""

    relation: str
    engine: str = "duckdb"
    rows: int
    # Most distinct values per column that patterns and validators saw.
    sample_size: int
    # Rows the sample held (every row when the table has at most SAMPLE_ROWS).
    sample_rows: int = 0
    columns: list[ColumnProfile]
    # Queries that read the relation's rows: the sample's grouped values and the aggregate scan
    # (and on engines without a histogram aggregate, a grouped read for value counts).
    scans: int
    # Queries in all, the grouped relation's included.
    queries: int = 0
    seconds: float
    # False only when a run was explicitly unmasked (and audited as such).
    masked: bool = False
    # The small-number policy applied (identifiable data), else None.
    suppression: str | None = None
    sql: list[str] = Field(default_factory=list, exclude=True)
    warnings: list[str] = Field(default_factory=list)

    def column(self, name: str) -> ColumnProfile:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(name)


@cache
def text_placeholders() -> tuple[str, ...]:
    """PLACEHOLDER_TEXT and every value set's Data Dictionary default codes ('98', '99', 'X'...)."""
    from healthdq.validators.valueset import get_valueset, valueset_names

    extra = {c.code for n in valueset_names() for c in get_valueset(n).codes if c.default}
    return tuple(dict.fromkeys([*PLACEHOLDER_TEXT, *sorted(extra)]))


def family_of(engine_type: str) -> str:
    """Broad family of an engine type (spelled as DuckDB spells it): what the profile computes."""
    t = engine_type.upper()
    if t.startswith("DECIMAL"):
        return "decimal"
    return FAMILIES.get(t, "other")


def load_validators() -> dict[str, Any]:
    """The validator registry, with every shipped validator registered."""
    import healthdq.validators as pkg  # importing the package registers its validators
    from healthdq.validators.base import REGISTRY

    registry: dict[str, Any] = getattr(pkg, "REGISTRY", REGISTRY)
    return dict(registry)


def pattern_sql(value_sql: str) -> str:
    """Shape of a value: digit -> 9, upper-case letter -> A, lower-case -> a, others kept.

    Lower case is kept apart because it is itself a finding for codes (a postcode 'ls1 4ap').
    Three regexp_replace calls measured ~4x faster than translate() in DuckDB.
    """
    return (
        f"regexp_replace(regexp_replace(regexp_replace({value_sql}, "
        "'[0-9]', '9', 'g'), '[A-Z]', 'A', 'g'), '[a-z]', 'a', 'g')"
    )


def _in_list(values: tuple[str, ...], cast: str = "") -> str:
    return "(" + ", ".join(f"{cast}{quote_literal(v)}" for v in values) + ")"


def value_sql(column: str, family: str) -> str:
    """The value a profile looks at: blank text is missing (DQMI completeness). Non-blank text
    keeps its spaces, so padding shows in patterns and validators see what a check sees."""
    c = quote_ident(column)
    if family != "text":
        return c
    # Whitespace and '' sort below '!': the cheap comparison guards the costly trim(), as in the
    # engine's not_null rule (trim on every value was the scan's dearest expression).
    return f"CASE WHEN {c} < '!' AND trim({c}) = '' THEN NULL ELSE {c} END"


def _duck(expression: exp.Expression) -> str:
    return expression.sql(dialect="duckdb")


def _scalar(value: Any) -> Scalar:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    return value.isoformat() if isinstance(value, date | datetime) else str(value)[:10]


def _pct(part: int, whole: int) -> float:
    return round(100.0 * part / whole, 4) if whole else 0.0


class _Run:
    """The queries of one profile, their SQL and their count."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sql: list[str] = []

    def fetch(self, duck_sql: str) -> list[tuple[Any, ...]]:
        return self.native(self.engine.translate(duck_sql))

    def native(self, sql: str) -> list[tuple[Any, ...]]:
        """Run SQL already in the engine's dialect."""
        self.sql.append(sql)
        return self.engine.fetch(sql)

    def top(self, duck_sql: str, value: str, weight: str, k: int) -> dict[int, list[str]]:
        """Per column c of `duck_sql`'s rows, the k values of largest weight (ties by value)."""
        eng = self.engine
        item = f"concat({weight}, chr(1), {value})"
        sql = (
            f"SELECT c, {eng.top_k(item, weight, k)} FROM ({eng.translate(duck_sql)}) AS s "
            "GROUP BY c"
        )
        found: dict[int, list[str]] = {}
        for c, items in self.native(sql):
            pairs = [str(x).split("\x01", 1) for x in items or []]
            ranked = sorted(((-int(w), v) for w, v in pairs))
            found[int(c)] = [v for _, v in ranked]
        return found


# -- 1. the sample -----------------------------------------------------------------------------
def _sample(run: _Run, relation: str, rows: int, name: str) -> None:
    """A bounded sample of about SAMPLE_ROWS rows kept as temporary relation `name`."""
    sql = run.engine.sample_rows(relation, rows, SAMPLE_ROWS)
    run.sql.append(sql)
    run.engine.create_temp(name, sql, materialize=True, native=True)


def _group(run: _Run, source: str, cols: list[ColumnProfile], name: str) -> bool:
    """(c, v, n): column index, value as text and rows, of every value of `source` (the whole
    relation when it is small, else the sample), materialised once from one read of it."""
    eng = run.engine
    held = [i for i, c in enumerate(cols) if c.family != "other"]
    if not held:
        return False
    items = [
        (i, eng.quote(cols[i].name) if cols[i].family == "text" else eng.as_text(cols[i].name))
        for i in held
    ]
    sql = (
        f"SELECT c, v, count(*) AS n FROM ({eng.unpivot(source, items)}) AS u "
        "WHERE v IS NOT NULL GROUP BY c, v"
    )
    run.sql.append(sql)
    eng.create_temp(name, sql, materialize=True, native=True)
    return True


def _blank(v: str = "v") -> str:
    return f"({v} < '!' AND trim({v}) = '')"


def _is_blank(value: str) -> bool:
    """Python's reading of _blank(): only spaces, or nothing (trim() removes spaces only)."""
    return value.strip(" ") == ""


def _ids(columns: list[int]) -> str:
    return f"c IN ({', '.join(map(str, columns))})"


def _values(run: _Run, g: str, cols: list[ColumnProfile]) -> dict[int, tuple[int, int]]:
    """Distinct values (blank strings included) and non-blank values (rows) per column of the
    grouped values, and each column's most frequent values. Returns {column: (distinct, values)}."""
    seen: dict[int, tuple[int, int]] = {}
    sql = f"SELECT c, count(*), sum(CASE WHEN {_blank()} THEN 0 ELSE n END) FROM {g} GROUP BY c"
    for c, d, n in run.fetch(sql):
        seen[int(c)] = (int(d), int(n or 0))
    tops = run.top(f"SELECT c, v, n FROM {g} WHERE NOT {_blank()}", "v", "n", TOP_K_VALUES)
    for c, values in tops.items():
        cols[c].top_values = values
    return seen


def _is_placeholder(col: ColumnProfile, value: str) -> bool:
    known = text_placeholders()
    return col.family in ("text", "integer") and (
        value in known or (col.family == "text" and value.startswith(PLACEHOLDER_PREFIX))
    )


def _placeholders(run: _Run, g: str, cols: list[ColumnProfile], exact: bool) -> None:
    """Known placeholder values (text codes, ZZ99 pseudo-postcodes) in the grouped values: rows
    per value when they are the whole relation, else only which ones (counted by the scan)."""
    text = [i for i, c in enumerate(cols) if c.family in ("text", "integer")]
    if not text:
        return
    rows = run.fetch(
        f"SELECT c, v, n FROM {g} WHERE {_ids(text)} AND (v IN {_in_list(text_placeholders())} "
        f"OR starts_with(v, '{PLACEHOLDER_PREFIX}')) ORDER BY c, v"
    )
    for c, v, n in rows:
        col = cols[int(c)]
        if _is_placeholder(col, str(v)):
            col.placeholders[str(v)] = int(n) if exact else 0
    _placeholder_totals(cols)


def _placeholder_totals(cols: list[ColumnProfile]) -> None:
    for col in cols:
        col.placeholder_values = sorted(col.placeholders)
        col.placeholder_rows = sum(col.placeholders.values())


def _sample_where(
    cols: list[ColumnProfile], checked: list[int], seen: dict[int, tuple[int, int]], size: int
) -> str:
    """Rows of the grouped values in each checked column's sample of distinct values: a hash
    cut-off per column (every value when it has at most `size` of them)."""
    cuts = " ".join(
        f"WHEN {i} THEN "
        + str(min(HASH_BUCKETS, -(-size * HASH_BUCKETS // max(seen.get(i, (1, 0))[0], 1))))
        for i in checked
    )
    return (
        f"{_ids(checked)} AND NOT {_blank()} AND abs(hash(v) % {HASH_BUCKETS}) < CASE c {cuts} END"
    )


def sqlglot_replace(value: exp.Expression, char: str) -> exp.Expression:
    """`value` with every `char` removed (REPLACE: the same on both engines)."""
    return exp.Anonymous(
        this="replace", expressions=[value, exp.Literal.string(char), exp.Literal.string("")]
    )


def _sampled(
    run: _Run,
    g: str,
    cols: list[ColumnProfile],
    seen: dict[int, tuple[int, int]],
    validators: dict[str, Any],
    size: int,
) -> list[str]:
    """Validators, content shapes, year spans and patterns on each column's sample."""
    warnings: list[str] = []
    checked = [i for i, c in enumerate(cols) if c.family in ("text", "integer") and i in seen]
    if not checked:
        return warnings
    v = exp.column("v")
    named: list[tuple[str, str, str]] = []  # (field, key, predicate)
    for name, validator in validators.items():
        try:
            named.append(("validators", name, _duck(validator.build(v))))
        except Exception as exc:  # a broken validator must not stop the profile
            warnings.append(f"validator {name} could not be built: {exc}")
    for shape, regex in SHAPES.items():
        named.append(("shapes", shape, _duck(full_match(v, regex))))
    # Dashed or spaced NHS numbers: the check digit holds once the separators are gone.
    nhs = validators.get("nhs_number")
    if nhs is not None:
        bare = sqlglot_replace(sqlglot_replace(v, " "), "-")
        named.append(("shapes", "nhs_number_separated", _duck(nhs.build(bare))))
    years = " ".join(
        f"WHEN {_duck(full_match(v, SHAPES[s]))} THEN TRY_CAST(substr(v, {p}, 4) AS INTEGER)"
        for s, p in DATE_SHAPE_YEAR.items()
    )
    dmy = _duck(full_match(v, SHAPES["date_dmy"]))
    years += f" WHEN {dmy} THEN TRY_CAST(right(v, 4) AS INTEGER)"
    aggs = ["sum(n)"] + [f"sum(CASE WHEN {p} THEN n ELSE 0 END)" for _, _, p in named]
    aggs += [f"min(CASE {years} END)", f"max(CASE {years} END)"]
    where = _sample_where(cols, checked, seen, size)
    for row in run.fetch(f"SELECT c, {', '.join(aggs)} FROM {g} WHERE {where} GROUP BY c"):
        col = cols[int(row[0])]
        col.checked = int(row[1] or 0)
        for (field, key, _), value in zip(named, row[2:-2], strict=True):
            if field == "validators":
                col._passes[key] = int(value or 0)
            else:
                col.shapes[key] = _pct(int(value or 0), col.checked)
        col.validators = {k: _pct(n, col.checked) for k, n in col._passes.items()}
        col.year_min, col.year_max = (int(y) if y is not None else None for y in row[-2:])
    patterns = run.top(
        f"SELECT c, {pattern_sql('v')} AS p, sum(n) AS m FROM {g} WHERE {where} "
        f"GROUP BY c, {pattern_sql('v')}",
        "p",
        "m",
        TOP_PATTERNS,
    )
    for c, found in patterns.items():
        cols[c].top_patterns = found
    return warnings


def _date_candidates(cols: list[ColumnProfile]) -> list[int]:
    """Text columns whose sample held ISO dates: TRY_CAST on every value of every column is dear."""
    return [
        i
        for i, c in enumerate(cols)
        if c.family == "text" and c.checked and c.shapes.get("date_iso", 0.0) >= 50.0
    ]


def _text_dates(run: _Run, g: str, cols: list[ColumnProfile], among: set[int]) -> None:
    """ISO dates held as text, over every value: rows, range (no placeholders), future dates."""
    text = [i for i in _date_candidates(cols) if i in among]
    if not text:
        return
    d = "TRY_CAST(v AS DATE)"
    rows = run.fetch(
        f"SELECT c, sum(CASE WHEN {d} IS NOT NULL THEN n ELSE 0 END), "
        f"min(CASE WHEN {d} NOT IN {_in_list(PLACEHOLDER_DATES, 'DATE ')} THEN {d} END), "
        f"max({d}), sum(CASE WHEN {d} > current_date THEN n ELSE 0 END) "
        f"FROM {g} WHERE {_ids(text)} AND NOT {_blank()} GROUP BY c"
    )
    for c, values, low, high, future in rows:
        _store_dates(cols[int(c)], values, low, high, future)


def _store_dates(col: ColumnProfile, values: Any, low: Any, high: Any, future: Any) -> None:
    col.date_values = int(values or 0)
    col.date_pct = _pct(col.date_values, col.count) if col.count else None
    col.date_min, col.date_max = _iso(low), _iso(high)
    col.future_dates = int(future or 0)


def _confirm(
    run: _Run, g: str, cols: list[ColumnProfile], validators: dict[str, Any], among: set[int]
) -> None:
    """The chosen validator's exact pass count over every value of the columns `among`, whose
    every value `g` holds."""
    exact: list[tuple[int, str]] = []
    for i, col in enumerate(cols):
        if col.validator is None or i not in among:
            continue
        if col.checked == col.count:
            col.validator_passes = col._passes[col.validator]  # every value was checked
        else:
            exact.append((i, _duck(validators[col.validator].build(exp.column("v")))))
    if not exact:
        return
    when = " OR ".join(f"(c = {i} AND {p})" for i, p in exact)
    sql = (
        f"SELECT c, sum(CASE WHEN {when} THEN n ELSE 0 END) FROM {g} "
        f"WHERE {_ids([i for i, _ in exact])} AND NOT {_blank()} GROUP BY c"
    )
    for c, passes in run.fetch(sql):
        _store_passes(cols[int(c)], passes)


def _store_passes(col: ColumnProfile, passes: Any) -> None:
    col.validator_passes = int(passes or 0)
    assert col.validator is not None
    col.validators[col.validator] = _pct(col.validator_passes, col.count)


def _counted(seen: tuple[int, int]) -> bool:
    """Whether a column's sample says its values repeat enough for exact value counts over every
    row to stay small (at most COUNTED_DISTINCT distinct values in the sample, each seen about
    four times or more on average)."""
    distinct, values = seen
    return distinct <= TOP_K_VALUES or (distinct <= COUNTED_DISTINCT and 4 * distinct <= values)


# -- 2. the aggregate scan ---------------------------------------------------------------------
class _Plan:
    """What the aggregate scan computes per column beyond its counts and range."""

    def __init__(self) -> None:
        self.whole = True  # the grouped values held every row: their figures are exact
        self.counted: list[int] = []  # exact value counts (_count_values)
        self.distinct: list[int] = []  # exact distinct count (count DISTINCT)
        self.passes: dict[int, str] = {}  # chosen validator's predicate on the value (_t)
        self.dates: list[int] = []  # ISO text dates
        self.placeholders: dict[int, list[str]] = {}  # rows per placeholder seen in the sample


def _plan_scan(
    plan: _Plan,
    cols: list[ColumnProfile],
    seen: dict[int, tuple[int, int]],
    rows: int,
    validators: dict[str, Any],
) -> None:
    """What the aggregate scan must count exactly, from what the sample showed. Columns whose
    values repeat are counted value by value (everything else about them follows from the
    counts); the others get per-row aggregates."""
    dates = set(_date_candidates(cols))
    for i, col in enumerate(cols):
        if i not in seen:
            continue
        if _counted(seen[i]):
            plan.counted.append(i)
            col.placeholders = {}
            continue
        if rows <= EXACT_DISTINCT_ROWS:
            plan.distinct.append(i)
        if col.placeholder_values:
            plan.placeholders[i] = list(col.placeholder_values)
        col.placeholders = {}
        if col.validator is not None and col.family in ("text", "integer"):
            built = validators[col.validator].build(sqlglot.parse_one(f"_t{i}", read="duckdb"))
            plan.passes[i] = _duck(built)
        if i in dates:
            plan.dates.append(i)


def _scan(run: _Run, relation: str, cols: list[ColumnProfile], plan: _Plan) -> int:
    """Counts, min/max, lengths and typed-date figures of every column, and what `plan` asks
    for, in one aggregate over every row; returns the rows. Text columns of plan.counted are
    left to their value counts (_count_values, _from_counts)."""
    aggs: list[str] = ["count(*)"]
    slots: list[tuple[int, str, str | None]] = []

    def add(sql: str, i: int, field: str, key: str | None = None) -> None:
        aggs.append(sql)
        slots.append((i, field, key))

    dates = _in_list(PLACEHOLDER_DATES, "DATE ")
    not_ph = "NOT IN " + dates
    counted = set(plan.counted)
    # Each column's value is projected once below the aggregates: the same CASE repeated in
    # every aggregate made DuckDB's planning grow faster than the column count.
    inner: list[str] = []
    for i, col in enumerate(cols):
        v, raw, text = f"_v{i}", f"_r{i}", f"_t{i}"
        value = value_sql(col.name, col.family)
        if i in counted and col.family == "text":
            continue  # count, blanks, lengths and range come from the value counts
        inner.append(f"{value} AS {v}")
        add(f"count({v})", i, "count")
        if col.family == "text":
            inner.append(f"{quote_ident(col.name)} AS {raw}")
            add(f"count({raw})", i, "present")
            add(f"min(length({v}))", i, "min_length")
            add(f"max(length({v}))", i, "max_length")
        if col.family == "other":
            continue
        if not plan.whole and i not in counted:
            add(f"approx_count_distinct({v})", i, "approx_distinct")
        add(f"min({v})", i, "min")
        add(f"max({v})", i, "max")
        if col.family in ("date", "timestamp"):
            d = v
            if col.family == "timestamp":
                d = f"_d{i}"
                inner.append(f"CAST({quote_ident(col.name)} AS DATE) AS {d}")
            add(f"min(CASE WHEN {d} {not_ph} THEN {d} END)", i, "date_min")
            add(f"max({d})", i, "date_max")
            # current_date is the run date: the suggested range's max is 'today'.
            add(f"count_if({d} > current_date)", i, "future_dates")
            for day in PLACEHOLDER_DATES:
                add(f"count_if({d} = DATE '{day}')", i, "placeholders", day)
        if plan.whole or i in counted:
            continue
        if col.family != "text" and i in plan.distinct:
            inner.append(f"CAST({quote_ident(col.name)} AS VARCHAR) AS {raw}")
        if col.family in ("text", "integer") and (
            i in plan.passes or i in plan.dates or plan.placeholders.get(i)
        ):
            as_text = value if col.family == "text" else f"CAST({value} AS VARCHAR)"
            inner.append(f"{as_text} AS {text}")
        if i in plan.distinct:
            # Raw values, as a unique rule counts them (a repeated blank is a duplicate).
            add(f"count(DISTINCT {raw})", i, "distinct")
        if i in plan.passes:
            add(f"count_if({plan.passes[i]})", i, "passes")
        if i in plan.dates:
            d = f"TRY_CAST({text} AS DATE)"
            add(f"count({d})", i, "date_values")
            add(f"min(CASE WHEN {d} {not_ph} THEN {d} END)", i, "date_min")
            add(f"max({d})", i, "date_max")
            add(f"count_if({d} > current_date)", i, "future_dates")
        for ph in plan.placeholders.get(i, []):
            add(f"count_if({text} = {quote_literal(ph)})", i, "placeholders", ph)
    source = f"(SELECT {', '.join(inner) or '1'} FROM {quote_ident(relation)}) AS s"
    row = run.fetch(f"SELECT {', '.join(aggs)} FROM {source}")[0]
    present: dict[int, int] = {}
    for (i, field, key), value in zip(slots, row[1:], strict=True):
        col = cols[i]
        if field == "present":
            present[i] = int(value or 0)
        elif field == "placeholders" and key is not None:
            if value or col.family not in ("date", "timestamp"):
                col.placeholders[key] = int(value or 0)
        elif field in ("min", "max"):
            setattr(col, field, _scalar(value))
        elif field in ("date_min", "date_max"):
            setattr(col, field, _iso(value))
        elif field == "distinct":
            col.exact_distinct = int(value or 0)
        elif field == "passes":
            _store_passes(col, value)
        else:
            setattr(col, field, int(value or 0))
    for i, col in enumerate(cols):
        if i not in counted or col.family != "text":
            col.blanks = present.get(i, col.count) - col.count
        if col.family in ("date", "timestamp"):
            col.date_values = col.count
            col.date_pct = 100.0 if col.count else None
        elif i in plan.dates:
            col.date_pct = _pct(col.date_values, col.count) if col.count else None
    return int(row[0] or 0)


def _raw_text(col: ColumnProfile) -> str:
    """A column's raw value as text (DuckDB SQL), as the grouped values hold it."""
    c = quote_ident(col.name)
    return c if col.family == "text" else f"CAST({c} AS VARCHAR)"


def _count_values(
    run: _Run, relation: str, cols: list[ColumnProfile], columns: list[int], name: str
) -> None:
    """Exact value counts of `columns`, kept as relation `name` of (c, v, n) like the grouped
    sample: one GROUP BY GROUPING SETS query, one grouping set per column, so the rows are read
    once and each column is counted in its own (small) hash table."""
    raw = [f"_r{i}" for i in columns]
    inner = ", ".join(f"{_raw_text(cols[i])} AS _r{i}" for i in columns)
    label = " ".join(f"WHEN grouping(_r{i}) = 0 THEN {i}" for i in columns)
    value = " ".join(f"WHEN grouping(_r{i}) = 0 THEN _r{i}" for i in columns)
    sql = (
        f"SELECT c, v, n FROM (SELECT CASE {label} END AS c, CASE {value} END AS v, "
        f"count(*) AS n FROM (SELECT {inner} FROM {quote_ident(relation)}) AS s "
        f"GROUP BY GROUPING SETS ({', '.join(f'({r})' for r in raw)})) AS g WHERE v IS NOT NULL"
    )
    translated = run.engine.translate(sql)
    run.sql.append(translated)
    run.engine.create_temp(name, translated, materialize=True, native=True)


def _from_counts(
    run: _Run, f: str, cols: list[ColumnProfile], counted: list[int], validators: dict[str, Any]
) -> None:
    """Everything the value counts of the counted columns tell, exactly: distinct count, most
    frequent values, placeholders, the chosen validator's passes, ISO text dates and, for
    text, the non-blank count, blanks, lengths and range."""
    seen = _values(run, f, cols)
    among = set(counted)
    for i in counted:
        distinct, values = seen.get(i, (0, 0))
        cols[i].exact_distinct = distinct
        if cols[i].family == "text":
            cols[i].count = values  # the scan counted only the other families
    text = [i for i in counted if cols[i].family == "text"]
    if text:
        nb = f"NOT {_blank()}"
        sql = (
            f"SELECT c, sum(CASE WHEN {_blank()} THEN n ELSE 0 END), "
            f"min(CASE WHEN {nb} THEN length(v) END), max(CASE WHEN {nb} THEN length(v) END), "
            f"min(CASE WHEN {nb} THEN v END), max(CASE WHEN {nb} THEN v END) "
            f"FROM {f} WHERE {_ids(text)} GROUP BY c"
        )
        for c, blanks, low_len, high_len, low, high in run.fetch(sql):
            col = cols[int(c)]
            col.blanks = int(blanks or 0)
            col.min_length = None if low_len is None else int(low_len)
            col.max_length = None if high_len is None else int(high_len)
            col.min, col.max = _scalar(low), _scalar(high)
    _placeholders(run, f, cols, exact=True)
    _text_dates(run, f, cols, among)
    _confirm(run, f, cols, validators, among)


def profile_table(
    engine: Engine,
    relation: str,
    top_n: int = 10,
    *,
    sample_size: int | None = None,
) -> TableProfile:
    """Profile every column of `relation` (registered on `engine`): the grouped values of a
    bounded sample (every row when the table has at most SAMPLE_ROWS: then one aggregate scan
    completes an exact profile), then each column read once over every row (value counts of
    repeating columns, one aggregate for the others).

    `sample_size`: distinct values per column that patterns, shapes and candidate validators
    see (default SAMPLE_SIZE). Values are as read: the pipeline masks identifiers.
    """
    from healthdq.profile.detect import choose_all, detect_columns

    start = time.perf_counter()
    size = SAMPLE_SIZE if sample_size is None else sample_size
    run = _Run(engine)
    types = engine.describe(relation)
    cols = [
        ColumnProfile(name=n, type=t, family=family_of(t)) for n, t in types.items() if n != ROW
    ]
    validators = load_validators()
    # A count of rows: from metadata (Parquet, DuckDB tables), not a read of the values.
    rows = int(run.fetch(f"SELECT count(*) FROM {quote_ident(relation)}")[0][0] or 0)
    plan = _Plan()
    plan.whole = rows <= SAMPLE_ROWS or ROW not in types
    warnings: list[str] = []
    tag = uuid.uuid4().hex[:12]
    g, s, f = f"__hdq_profile_{tag}", f"__hdq_sample_{tag}", f"__hdq_counts_{tag}"
    source = relation
    if not plan.whole:
        _sample(run, relation, rows, s)
        source = s
    grouped = _group(run, source, cols, g)
    seen: dict[int, tuple[int, int]] = {}
    if grouped:
        seen = _values(run, g, cols)
    for i, col in enumerate(cols):
        # The grouped values' non-blank count: exact for a whole relation, the sample's else
        # (the aggregate scan sets every count).
        col.count = seen.get(i, (0, 0))[1]
        col.all_values_seen = i in seen and len(col.top_values) < TOP_K_VALUES
        if plan.whole and i in seen:
            col.exact_distinct = seen[i][0]
    if grouped:
        _placeholders(run, g, cols, exact=plan.whole)
        warnings += _sampled(run, g, cols, seen, validators, size)
        if plan.whole:
            _text_dates(run, g, cols, set(seen))
    profile = TableProfile(
        relation=relation,
        engine=engine.name,
        rows=rows,
        sample_size=size,
        sample_rows=rows if plan.whole else min(rows, SAMPLE_ROWS),
        columns=cols,
        scans=1,
        seconds=0.0,
        warnings=warnings,
    )
    choose_all(profile)
    if grouped and plan.whole:
        _confirm(run, g, cols, validators, set(seen))
    if grouped:
        engine.drop_temp(g)
    if not plan.whole:
        engine.drop_temp(s)
        _plan_scan(plan, cols, seen, rows, validators)
    if plan.counted:
        _count_values(run, relation, cols, plan.counted, f)
        profile.scans += 1
    rows = _scan(run, relation, cols, plan)
    profile.rows = rows
    profile.scans += 1
    if plan.counted:
        _from_counts(run, f, cols, plan.counted, validators)
        engine.drop_temp(f)
    for i, col in enumerate(cols):
        col.nulls = rows - col.count  # blank text counts as missing
        col.null_pct = _pct(col.nulls, rows)
        exact_values = plan.whole or i in plan.counted
        col.all_values_seen = exact_values and col.count > 0 and len(col.top_values) < TOP_K_VALUES
        if not col.all_values_seen:
            col.top_values = col.top_values[:top_n]
        if col.exact_distinct is not None:
            col.approx_distinct = col.exact_distinct
        if col.validator is not None and col.validator_passes is not None:
            col.validators[col.validator] = _pct(col.validator_passes, col.count)
    _placeholder_totals(cols)
    detect_columns(profile)
    profile.sql = run.sql
    profile.queries = len(run.sql)
    profile.seconds = round(time.perf_counter() - start, 3)
    return profile
