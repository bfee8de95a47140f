"""Column profile of a relation through the Engine interface: two reads of the data, any width.

1. **One aggregate scan** over every row: per column the non-null and non-blank counts, min/max,
   min/max length of text, and for typed dates the range, future dates and placeholder dates.
2. **One unpivot + GROUP BY**: every column's values as text, unpivoted to (column, value) in one
   pass (`Engine.unpivot`) and grouped to (column, value, rows), kept as a temporary relation.

Everything else is read from that (much smaller) grouped relation, with no further read of the
data: exact distinct counts, the most frequent values, placeholder values and their rows, text
dates, and a deterministic sample of each column's distinct values (by hash, at most about
SAMPLE_SIZE of them) on which shape patterns, content shapes and every candidate validator run,
weighted by rows. The chosen validator's pass count is then made exact over all distinct values
of a sampled column. Each query's expressions are per validator or per content shape, not per
column and validator, so cost grows with the data's size and not with columns x validators.

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
# Columns with at most this many distinct values (HyperLogLog) are grouped in full: exact
# distinct counts and top values. Wider ones are grouped on a sample of rows only.
FULL_DISTINCT = 10_000

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
    approx_distinct: int = 0  # kept for readers of older profiles: equal to exact_distinct
    # Distinct non-null values, as a unique rule counts them (blank strings included).
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
    columns: list[ColumnProfile]
    # Queries that read the relation's rows (the aggregate scan and the unpivot).
    scans: int
    # Queries in all, the grouped relation's included.
    queries: int = 0
    seconds: float
    # False only when a run was explicitly unmasked (and audited as such).
    masked: bool = False
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


# -- 1. the aggregate scan ---------------------------------------------------------------------
def _scan(run: _Run, relation: str, cols: list[ColumnProfile]) -> int:
    """Counts, HyperLogLog distinct counts, min/max, lengths and typed-date figures of every
    column: one read of the rows."""
    aggs: list[str] = ["count(*)"]
    slots: list[tuple[int, str, str | None]] = []

    def add(sql: str, i: int, field: str, key: str | None = None) -> None:
        aggs.append(sql)
        slots.append((i, field, key))

    dates = _in_list(PLACEHOLDER_DATES, "DATE ")
    # Each column's value is projected once below the aggregates: the same CASE repeated in
    # every aggregate made DuckDB's planning grow faster than the column count.
    inner: list[str] = []
    for i, col in enumerate(cols):
        v = f"_v{i}"
        inner.append(f"{value_sql(col.name, col.family)} AS {v}")
        add(f"count({v})", i, "count")
        if col.family == "text":
            inner.append(f"{quote_ident(col.name)} AS _r{i}")
            add(f"count(_r{i})", i, "present")
            add(f"min(length({v}))", i, "min_length")
            add(f"max(length({v}))", i, "max_length")
        if col.family == "other":
            continue
        add(f"approx_count_distinct({v})", i, "approx_distinct")
        add(f"min({v})", i, "min")
        add(f"max({v})", i, "max")
        if col.family in ("date", "timestamp"):
            d = v
            if col.family == "timestamp":
                d = f"_d{i}"
                inner.append(f"CAST({quote_ident(col.name)} AS DATE) AS {d}")
            add(f"min(CASE WHEN {d} NOT IN {dates} THEN {d} END)", i, "date_min")
            add(f"max({d})", i, "date_max")
            # current_date is the run date: the suggested range's max is 'today'.
            add(f"count_if({d} > current_date)", i, "future_dates")
            for day in PLACEHOLDER_DATES:
                add(f"count_if({d} = DATE '{day}')", i, "placeholders", day)
    source = f"(SELECT {', '.join(inner) or '1'} FROM {quote_ident(relation)}) AS s"
    row = run.fetch(f"SELECT {', '.join(aggs)} FROM {source}")[0]
    present: dict[int, int] = {}
    for (i, field, key), value in zip(slots, row[1:], strict=True):
        col = cols[i]
        if field == "present":
            present[i] = int(value or 0)
        elif field == "placeholders" and key is not None:
            if value:
                col.placeholders[key] = int(value)
        elif field in ("min", "max"):
            setattr(col, field, _scalar(value))
        elif field in ("date_min", "date_max"):
            setattr(col, field, _iso(value))
        else:
            setattr(col, field, int(value or 0))
    rows = int(row[0] or 0)
    for i, col in enumerate(cols):
        col.nulls = rows - col.count
        col.blanks = present.get(i, col.count) - col.count
        col.null_pct = _pct(col.nulls, rows)
        if col.family in ("date", "timestamp"):
            col.date_values = col.count
            col.date_pct = 100.0 if col.count else None
    return rows


# -- 2. the grouped values ---------------------------------------------------------------------
def _group(
    run: _Run, relation: str, cols: list[ColumnProfile], name: str, rows: int, size: int, row: bool
) -> list[int]:
    """(c, v, n): column index, value as text and rows, materialised once from one read of the
    rows. Columns with more than FULL_DISTINCT values (HyperLogLog) hold only the values of a
    sample of about `size` rows: grouping every value of every wide column is what made width
    cost more than linear. Returns the columns whose values are all held."""
    eng = run.engine
    held = [i for i, c in enumerate(cols) if c.family != "other" and c.count + c.blanks]
    full = [i for i in held if cols[i].approx_distinct <= FULL_DISTINCT or not row]
    if not held:
        return full
    cut = min(HASH_BUCKETS, -(-size * HASH_BUCKETS // max(rows, 1)))
    picked = f"abs({eng.hash_key([ROW])} % {HASH_BUCKETS}) < {cut}"
    items = []
    for i in held:
        col = cols[i]
        value = eng.quote(col.name) if col.family == "text" else eng.as_text(col.name)
        items.append((i, value if i in full else f"CASE WHEN {picked} THEN {value} END"))
    sql = (
        f"SELECT c, v, count(*) AS n FROM ({eng.unpivot(relation, items)}) AS u "
        "WHERE v IS NOT NULL GROUP BY c, v"
    )
    run.sql.append(sql)
    eng.create_temp(name, sql, materialize=True, native=True)
    return full


def _blank(v: str = "v") -> str:
    return f"({v} < '!' AND trim({v}) = '')"


def _ids(columns: list[int]) -> str:
    return f"c IN ({', '.join(map(str, columns))})"


def _values(run: _Run, g: str, cols: list[ColumnProfile], full: list[int]) -> None:
    """Exact distinct counts and the most frequent values of every column held in full; the
    most frequent values of the row sample for wide columns."""
    if full:
        for c, d in run.fetch(f"SELECT c, count(*) FROM {g} WHERE {_ids(full)} GROUP BY c"):
            cols[int(c)].exact_distinct = int(d)
    tops = run.top(f"SELECT c, v, n FROM {g} WHERE NOT {_blank()}", "v", "n", TOP_K_VALUES)
    for c, values in tops.items():
        cols[c].top_values = values


def _placeholders(run: _Run, g: str, cols: list[ColumnProfile], full: list[int]) -> None:
    """Rows per known placeholder value (text codes, ZZ99 pseudo-postcodes); exact for columns
    held in full, found in the sample (and counted by _confirm) for wide ones."""
    text = [i for i, c in enumerate(cols) if c.family in ("text", "integer")]
    if not text:
        return
    rows = run.fetch(
        f"SELECT c, v, n FROM {g} WHERE {_ids(text)} AND (v IN {_in_list(text_placeholders())} "
        f"OR starts_with(v, '{PLACEHOLDER_PREFIX}')) ORDER BY c, v"
    )
    for c, v, n in rows:
        col = cols[int(c)]
        if col.family == "text" or str(v) in text_placeholders():
            col.placeholders[str(v)] = int(n) if int(c) in full else 0
    for col in cols:
        col.placeholder_values = sorted(col.placeholders)
        col.placeholder_rows = sum(col.placeholders.values())


def _sample_where(cols: list[ColumnProfile], checked: list[int], full: list[int], size: int) -> str:
    """Rows of the grouped values in each checked column's sample of distinct values: a hash
    cut-off per column held in full (all values when few); wide columns hold a sample already."""
    cuts = " ".join(
        f"WHEN {i} THEN "
        + str(min(HASH_BUCKETS, -(-size * HASH_BUCKETS // max(cols[i].distinct, 1))))
        if i in full
        else f"WHEN {i} THEN {HASH_BUCKETS}"
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
    full: list[int],
    validators: dict[str, Any],
    size: int,
) -> list[str]:
    """Validators, content shapes, year spans and patterns on each column's sample."""
    warnings: list[str] = []
    checked = [i for i, c in enumerate(cols) if c.family in ("text", "integer") and c.count]
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
    where = _sample_where(cols, checked, full, size)
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
        if c.family == "text" and c.count and c.shapes.get("date_iso", 0.0) >= 50.0
    ]


def _text_dates(run: _Run, g: str, cols: list[ColumnProfile], full: list[int]) -> None:
    """ISO dates held as text, over every value: rows, range (no placeholders), future dates."""
    text = [i for i in _date_candidates(cols) if i in full]
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
    col.date_pct = _pct(col.date_values, col.count)
    col.date_min, col.date_max = _iso(low), _iso(high)
    col.future_dates = int(future or 0)


def _confirm(
    run: _Run, g: str, cols: list[ColumnProfile], full: list[int], validators: dict[str, Any]
) -> None:
    """The chosen validator's exact pass count over every distinct value of sampled columns."""
    exact: list[tuple[int, str]] = []
    for i, col in enumerate(cols):
        if col.validator is None or i not in full:
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


# -- 3. exact figures of wide columns -----------------------------------------------------------
def _confirm_wide(
    run: _Run,
    relation: str,
    cols: list[ColumnProfile],
    full: list[int],
    validators: dict[str, Any],
) -> bool:
    """One more read of the rows, only when a wide column needs it: exact distinct counts of
    unique-looking columns, the chosen validator's pass count, ISO text dates and rows per
    placeholder found in the sample. Returns whether it ran."""
    aggs: list[str] = []
    slots: list[tuple[int, str, str | None]] = []
    inner: list[str] = []  # each column's values projected once (see _scan)
    dates = set(_date_candidates(cols))
    for i, col in enumerate(cols):
        if i in full or col.family not in ("text", "integer") or not col.count:
            continue
        raw, text = f"_r{i}", f"_t{i}"
        inner.append(f"{quote_ident(col.name)} AS {raw}")
        value = value_sql(col.name, col.family)
        inner.append(f"{value if col.family == 'text' else f'CAST({value} AS VARCHAR)'} AS {text}")
        if col.approx_distinct >= UNIQUE_CANDIDATE * col.count:
            # Raw values, as a unique rule counts them (a repeated blank is a duplicate).
            aggs.append(f"count(DISTINCT {raw})")
            slots.append((i, "distinct", None))
        if col.validator is not None:
            built = validators[col.validator].build(sqlglot.parse_one(text, read="duckdb"))
            aggs.append(f"count_if({_duck(built)})")
            slots.append((i, "passes", None))
        if i in dates:
            d = f"TRY_CAST({text} AS DATE)"
            not_ph = f"{d} NOT IN {_in_list(PLACEHOLDER_DATES, 'DATE ')}"
            aggs += [
                f"count({d})",
                f"min(CASE WHEN {not_ph} THEN {d} END)",
                f"max({d})",
                f"count_if({d} > current_date)",
            ]
            slots.append((i, "dates", None))
        for value in col.placeholder_values:
            aggs.append(f"count_if({text} = {quote_literal(value)})")
            slots.append((i, "placeholder", value))
    if not aggs:
        return False
    source = f"(SELECT {', '.join(inner)} FROM {quote_ident(relation)}) AS s"
    row = list(run.fetch(f"SELECT {', '.join(aggs)} FROM {source}")[0])
    for i, field, key in slots:
        col = cols[i]
        if field == "distinct":
            col.exact_distinct = int(row.pop(0) or 0)
        elif field == "passes":
            _store_passes(col, row.pop(0))
        elif field == "dates":
            _store_dates(col, *(row.pop(0) for _ in range(4)))
        elif key is not None:
            col.placeholders[key] = int(row.pop(0) or 0)
    for col in cols:
        col.placeholder_rows = sum(col.placeholders.values())
    return True


def profile_table(
    engine: Engine,
    relation: str,
    top_n: int = 10,
    *,
    sample_size: int | None = None,
) -> TableProfile:
    """Profile every column of `relation` (registered on `engine`) in two or three reads.

    `sample_size`: distinct values per column (rows, for wide columns) that patterns, shapes and
    candidate validators see (default SAMPLE_SIZE). Values are as read: the pipeline masks
    identifiers.
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
    rows = _scan(run, relation, cols)
    warnings: list[str] = []
    g = f"__hdq_profile_{uuid.uuid4().hex[:12]}"
    scans = 1
    full = _group(run, relation, cols, g, rows, size, ROW in types)
    grouped = any(c.family != "other" and c.count + c.blanks for c in cols)
    if grouped:
        scans = 2
        _values(run, g, cols, full)
        _placeholders(run, g, cols, full)
        warnings += _sampled(run, g, cols, full, validators, size)
        _text_dates(run, g, cols, full)
    for i, col in enumerate(cols):
        col.all_values_seen = i in full and col.count > 0 and len(col.top_values) < TOP_K_VALUES
        if not col.all_values_seen:
            col.top_values = col.top_values[:top_n]
        if col.exact_distinct is not None:
            col.approx_distinct = col.exact_distinct
    profile = TableProfile(
        relation=relation,
        engine=engine.name,
        rows=rows,
        sample_size=size,
        columns=cols,
        scans=scans,
        seconds=0.0,
        warnings=warnings,
    )
    choose_all(profile)
    if grouped:
        _confirm(run, g, cols, full, validators)
        engine.drop_temp(g)
        if _confirm_wide(run, relation, cols, full, validators):
            profile.scans += 1
    detect_columns(profile)
    profile.sql = run.sql
    profile.queries = len(run.sql)
    profile.seconds = round(time.perf_counter() - start, 3)
    return profile
