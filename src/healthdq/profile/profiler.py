"""One-pass column profile of a relation: completeness, distinct values, ranges, shapes, validators.

Everything per column comes from ONE query that reads the relation once, however many columns:

* Whole-column aggregates over every row: counts, nulls and blanks, approximate distinct counts
  (HyperLogLog), min/max, lengths, the most frequent values (approx_top_k), typed date ranges and
  known NHS placeholder values.
* A bounded, uniform sample of each column: `arg_min(value, hash(__row), SAMPLE_SIZE)` keeps the
  non-null values of the SAMPLE_SIZE rows with the smallest row hashes (the same rows for every
  column, the same rows on every run). Shape patterns, every candidate validator and spotting
  dates held as text run on the sample in the same query, after the scan. They cost far more per
  value than the aggregates (regexes, checksums), and per-row CASE guards measured ~4x slower
  than sampling this way; a column with no more than SAMPLE_SIZE values is checked in full.

A second, narrow query then makes exact what a contract must get exactly right: count(DISTINCT)
for columns that look unique (a uniqueness rule cannot rest on HyperLogLog), the pass count of the
validator chosen for each sampled column, the date range of text columns holding dates, and rows
per placeholder value where several were found.
"""

from __future__ import annotations

import time
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from typing import Any

import duckdb
from pydantic import BaseModel, Field, PrivateAttr
from sqlglot import exp

from healthdq.sources.base import ROW, quote_ident, quote_literal

# Values of a code set up to this size are listed in a suggested allowed_values rule.
MAX_ALLOWED = 20
# approx_top_k tracks every value while there are no more than k distinct ones, so asking for
# MAX_ALLOWED + 1 tells us whether the top list is the complete set of values.
TOP_K_VALUES = MAX_ALLOWED + 1
# A column is a uniqueness candidate when its approximate distinct count (HyperLogLog, a few %
# error) is at least this share of its non-null values; the exact check then decides.
UNIQUE_CANDIDATE = 0.95
# Values per column that patterns and validators see: +-0.3% on a 95% pass rate, and a bounded
# cost (and memory) whatever the table's size.
SAMPLE_SIZE = 20_000

# Known NHS placeholder ("default") values. Dates: NHS England DQMI default DOBs. Text: the
# 'no fixed abode / not known' ZZ99 pseudo-postcodes, the V8199x 'no/unknown GP practice' codes,
# and the conventional 'not known' codes of coded fields (value sets add their own defaults).
PLACEHOLDER_DATES = ("1800-01-01", "1801-01-01", "1900-01-01")
PLACEHOLDER_TEXT = ("V81997", "V81998", "V81999", "99", "X", *PLACEHOLDER_DATES)
PLACEHOLDER_PREFIX = "ZZ99"
# Enough to list every distinct placeholder a column can hold.
PLACEHOLDER_K = 32

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
    """What one pass learnt about a column. Percentages are 0..100."""

    name: str
    type: str  # engine type, e.g. VARCHAR
    family: str  # text | integer | decimal | date | timestamp | boolean | other
    count: int = 0  # non-null values; blank strings count as null
    nulls: int = 0  # null or blank
    blanks: int = 0  # text that is not NULL but blank: a check's not-null filter keeps these
    null_pct: float = 0.0
    approx_distinct: int = 0
    exact_distinct: int | None = None  # only for uniqueness candidates (second query)
    min: Scalar = None
    max: Scalar = None
    min_length: int | None = None
    max_length: int | None = None
    # Most frequent first (approximate order); empty for identifier columns (masked).
    top_values: list[str] = Field(default_factory=list)
    # True when top_values lists every distinct value (at most MAX_ALLOWED of them).
    all_values_seen: bool = False
    top_patterns: list[str] = Field(default_factory=list)
    # Non-null values in the column's sample: patterns, validators and text-date spotting ran on
    # these (every value when checked == count).
    checked: int = 0
    # Validator name -> % of the checked values it accepts.
    validators: dict[str, float] = Field(default_factory=dict)
    # Known NHS placeholder values found (PLACEHOLDER_*, value-set default codes, ZZ99
    # pseudo-postcodes), the rows holding any of them, and the rows per value (exact; empty
    # only when several were found and the confirming query did not run).
    placeholder_values: list[str] = Field(default_factory=list)
    placeholder_rows: int = 0
    placeholders: dict[str, int] = Field(default_factory=dict)
    # Date columns (typed, or text where dates parse): % of values that are dates, range and
    # future dates. date_min ignores placeholder dates so a suggested range is the real one.
    date_pct: float | None = None
    date_values: int = 0
    date_min: str | None = None
    date_max: str | None = None
    future_dates: int = 0
    # Filled by detection (healthdq.profile.detect) after the scan.
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
    rows: int
    # Most non-null values per column that patterns and validators saw (0: every value).
    sample_size: int
    columns: list[ColumnProfile]
    # Queries that read the relation's rows: 1 for the profile, +1 for the exact confirmations.
    scans: int
    seconds: float
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
    """Broad family of a DuckDB type: what the profile can compute for it."""
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


class _Query:
    """Aggregates over one input, and where each result goes in the profile."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.inner: list[str] = []  # per-row projections the aggregates read
        self.aggs: list[str] = []
        self.slots: list[tuple[int, str, str | None]] = []  # (column index, field, key)

    def derive(self, sql: str) -> str:
        alias = f"_{self.prefix}d{len(self.inner)}"
        self.inner.append(f"{sql} AS {alias}")
        return alias

    def add(self, sql: str, col: int, field: str, key: str | None = None) -> None:
        self.aggs.append(sql)
        self.slots.append((col, field, key))

    def select(self, source: str) -> str:
        inner = ", ".join(self.inner) or "1"
        aggs = ", ".join(f"{a} AS _{self.prefix}{n}" for n, a in enumerate(self.aggs))
        return f"SELECT {aggs} FROM (SELECT {inner} FROM {source})"


def _describe(con: duckdb.DuckDBPyConnection, relation: str) -> tuple[list[tuple[str, str]], bool]:
    rows = con.execute(f"DESCRIBE {quote_ident(relation)}").fetchall()
    columns = [(str(r[0]), str(r[1])) for r in rows if r[0] != ROW]
    return columns, any(r[0] == ROW for r in rows)


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


def text_sql(column: str, family: str) -> str:
    """The value as text, as the engine hands it to validators (codes compare as strings)."""
    v = value_sql(column, family)
    return v if family == "text" else f"CAST({v} AS VARCHAR)"


def _as_text(column: str, family: str) -> str:
    """Placeholder values as the profile records them: text, dates as ISO strings."""
    if family == "text":
        return value_sql(column, family)
    if family == "timestamp":
        return f"CAST(CAST({quote_ident(column)} AS DATE) AS VARCHAR)"
    return f"CAST({quote_ident(column)} AS VARCHAR)"


def _validator_sql(validator: Any, text_sql: str) -> str:
    built: exp.Expression = validator.build(exp.column(text_sql, quoted=True))
    return built.sql(dialect="duckdb")


def _plan_column(q: _Query, i: int, name: str, family: str, top_n: int) -> str | None:
    """Whole-column aggregates for one column. Returns the column's value alias when it should
    be sampled for patterns and validators (text and integer columns), else None."""
    v = q.derive(value_sql(name, family))
    q.add(f"count({v})", i, "count")
    if family == "text":
        q.add(f"count({q.derive(quote_ident(name))})", i, "present")
    if family == "other":
        return None
    q.add(f"approx_count_distinct({v})", i, "approx_distinct")
    q.add(f"min({v})", i, "min")
    q.add(f"max({v})", i, "max")
    if family in ("text", "integer", "boolean", "date"):
        q.add(f"approx_top_k({v}, {max(top_n, TOP_K_VALUES)})", i, "top_values")
    if family == "text":
        q.add(f"min(length({v}))", i, "min_length")
        q.add(f"max(length({v}))", i, "max_length")
        known = f"{v} IN {_in_list(text_placeholders())}"
        pseudo = f"starts_with({v}, '{PLACEHOLDER_PREFIX}')"
        _plan_placeholders(q, i, f"CASE WHEN {known} OR {pseudo} THEN {v} END")
    elif family in ("date", "timestamp"):
        d = v if family == "date" else q.derive(f"CAST({v} AS DATE)")
        dates = _in_list(PLACEHOLDER_DATES, "DATE ")
        _plan_placeholders(q, i, f"CASE WHEN {d} IN {dates} THEN CAST({d} AS VARCHAR) END")
        _plan_dates(q, i, d)
    return v if family in ("text", "integer") else None


def _plan_placeholders(q: _Query, i: int, found_sql: str) -> None:
    """Which placeholder values occur (there are few, so approx_top_k lists them all) and in how
    many rows. Not histogram(): DuckDB plans it as a GROUP BY over a materialised copy of the
    scan, which measured slower than everything else; per-value counts come from _confirm."""
    found = q.derive(found_sql)
    q.add(f"approx_top_k({found}, {PLACEHOLDER_K})", i, "placeholder_values")
    q.add(f"count({found})", i, "placeholder_rows")


def _plan_dates(q: _Query, i: int, d: str) -> None:
    not_placeholder = f"{d} NOT IN {_in_list(PLACEHOLDER_DATES, 'DATE ')}"
    q.add(f"min({d}) FILTER (WHERE {not_placeholder})", i, "date_min")
    q.add(f"max({d})", i, "date_max")
    # current_date is the run date: the suggested range's max is 'today'.
    q.add(f"count_if({d} > current_date)", i, "future_dates")


def _plan_text_dates(q: _Query, i: int, x: str, derive: bool = True) -> None:
    cast = f"TRY_CAST({x} AS DATE)"  # as the engine's date_range reads text
    d = q.derive(cast) if derive else cast
    _plan_dates(q, i, d)
    q.add(f"count({d})", i, "date_values")


def _plan_sample(
    q: _Query, i: int, x: str, family: str, top_n: int, validators: dict[str, Any]
) -> list[str]:
    """Aggregates over a column's sampled values `x` (text); returns warnings."""
    warnings: list[str] = []
    q.add(f"count({x})", i, "checked")
    q.add(f"approx_top_k({pattern_sql(x)}, {top_n})", i, "top_patterns")
    for name, validator in validators.items():
        try:
            sql = _validator_sql(validator, x)
        except Exception as exc:  # a broken validator must not stop the profile
            warnings.append(f"validator {name} could not be built: {exc}")
            continue
        # count_if counts TRUE only: NULL input (missing value) is neither pass nor fail.
        q.add(f"count_if({sql})", i, "validators", name)
    if family == "text":
        # Not derived: x may be an unnest() in the same projection, which no alias can reach.
        _plan_text_dates(q, i, x, derive=False)
    return warnings


def _scalar(value: Any) -> Scalar:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def _pct(part: int, whole: int) -> float:
    return round(100.0 * part / whole, 4) if whole else 0.0


def _store(col: ColumnProfile, field: str, key: str | None, value: Any) -> None:
    """Put one query result into the column profile."""
    if field == "validators" and key is not None:
        col._passes[key] = int(value or 0)
    elif field == "placeholders" and key is not None:
        col.placeholders[key] = int(value or 0)
    elif field == "passes":
        col.validator_passes = int(value or 0)
    elif field in ("top_values", "top_patterns", "placeholder_values"):
        setattr(col, field, [str(x) for x in (value or [])])
    elif field in ("date_min", "date_max"):
        setattr(col, field, value.isoformat() if value is not None else None)
    elif field in ("min", "max"):
        setattr(col, field, _scalar(value))
    else:
        setattr(col, field, int(value or 0))


def _finish(profiles: list[ColumnProfile], rows: int, present: dict[int, int], top_n: int) -> None:
    """Derived numbers once the scan's results are in."""
    for i, col in enumerate(profiles):
        col.nulls = rows - col.count
        col.blanks = present.get(i, col.count) - col.count
        col.null_pct = _pct(col.nulls, rows)
        col.validators = {k: _pct(n, col.checked) for k, n in col._passes.items()}
        col.all_values_seen = len(col.top_values) < TOP_K_VALUES and col.family != "other"
        if not col.all_values_seen:
            col.top_values = col.top_values[:top_n]
        if len(col.placeholder_values) == 1:
            col.placeholders = {col.placeholder_values[0]: col.placeholder_rows}
        if col.family in ("date", "timestamp"):
            col.date_values = col.count
            col.date_pct = 100.0 if col.count else None
        elif col.family == "text" and col.checked:
            col.date_pct = _pct(col.date_values, col.checked)
            if col.checked < col.count:
                # A sample's date range is not the column's: _confirm measures it if needed.
                col.date_min = col.date_max = None
                col.future_dates = 0


def _confirm(
    con: duckdb.DuckDBPyConnection, profile: TableProfile, validators: dict[str, Any]
) -> str | None:
    """Second, narrow query: exact distinct counts for unique-looking columns, rows per value
    where several placeholders were found and, for sampled columns, the chosen validator's exact
    pass count and the date statistics of text columns holding dates. Returns its SQL, or None
    when nothing needed confirming."""
    from healthdq.profile.detect import is_date

    q = _Query("c")
    for i, col in enumerate(profile.columns):
        sampled = col.checked < col.count
        if sampled and col.family == "text" and is_date(col):
            _plan_text_dates(q, i, q.derive(value_sql(col.name, col.family)))
        if (
            col.family in ("text", "integer")
            and col.count >= 2
            and col.approx_distinct >= UNIQUE_CANDIDATE * col.count
        ):
            # Raw values, as a unique rule counts them (a repeated blank string is a duplicate).
            q.add(f"count(DISTINCT {q.derive(quote_ident(col.name))})", i, "exact_distinct")
        if sampled and col.validator in validators:
            s = q.derive(text_sql(col.name, col.family))
            q.add(f"count_if({_validator_sql(validators[col.validator], s)})", i, "passes")
        if len(col.placeholder_values) > 1:
            t = q.derive(_as_text(col.name, col.family))
            for value in col.placeholder_values:
                q.add(f"count_if({t} = {quote_literal(value)})", i, "placeholders", value)
    if not q.aggs:
        return None
    sql = q.select(quote_ident(profile.relation))
    row = con.execute(sql).fetchone()
    assert row is not None  # an ungrouped aggregate always returns one row
    for (i, field, key), value in zip(q.slots, row, strict=True):
        col = profile.columns[i]
        _store(col, field, key, value)
        if field == "passes" and col.validator is not None:
            col.validators[col.validator] = _pct(col.validator_passes or 0, col.count)
        elif field == "date_values":
            col.date_pct = _pct(col.date_values, col.count)
    return sql


def _scan_sql(source: str, main: _Query, sample: _Query, lists: list[str]) -> str:
    """One query: the whole-column aggregates (with each column's sample list) computed once in
    a materialised CTE, then the sample aggregates over the unnested lists."""
    if not lists:
        return main.select(source)
    keep = ", ".join(f"_m{n}" for n in range(len(main.aggs)) if f"_m{n}" not in lists)
    return (
        f"WITH _scan AS MATERIALIZED ({main.select(source)}), "
        f"_sample AS ({sample.select('_scan')}) "
        f"SELECT {keep}, _sample.* FROM _scan, _sample"
    )


def _mask(col: ColumnProfile) -> None:
    """Keep no patient identifier in the profile: NHS numbers and postcodes lose their values,
    dates of birth keep only their year (the earliest and latest dates of birth single people
    out; placeholder dates such as 1900-01-01 are not identifying and stay)."""
    if col.identifier in ("nhs_number", "postcode"):
        col.min = col.max = None
        col.top_values = []
    elif col.identifier == "date_of_birth":
        col.top_values = []
        for field in ("min", "max", "date_min", "date_max"):
            value = getattr(col, field)
            if isinstance(value, str) and value[:10] not in PLACEHOLDER_DATES:
                setattr(col, field, value[:4])


def profile_table(
    con: duckdb.DuckDBPyConnection,
    relation: str,
    top_n: int = 10,
    *,
    sample: bool = True,
    confirm: bool = True,
    mask_identifiers: bool = True,
) -> TableProfile:
    """Profile every column of `relation` in one query that reads it once.

    `sample`: patterns and candidate validators see a uniform sample of SAMPLE_SIZE values per
    column (False: every value, slower). `confirm`: a second narrow query for exact uniqueness,
    the chosen validators' exact pass counts and text-date ranges of sampled columns.
    `mask_identifiers`: drop values (min, max, top values) of NHS number, postcode and date of
    birth columns so a printed or saved profile holds no patient identifiers.
    """
    from healthdq.profile.detect import choose_all, detect_columns

    start = time.perf_counter()
    columns, has_row = _describe(con, relation)
    validators = load_validators()
    main, smp = _Query("m"), _Query("s")
    main.add("count(*)", -1, "rows")
    # The sample is the rows with the smallest hashes of their row number: uniform over the
    # file and the same rows for every column and every run. Without a row number, random().
    h = main.derive(f"hash({quote_ident(ROW)})" if has_row else "random()")
    profiles: list[ColumnProfile] = []
    warnings: list[str] = []
    lists: list[str] = []
    for i, (name, engine_type) in enumerate(columns):
        family = family_of(engine_type)
        profiles.append(ColumnProfile(name=name, type=engine_type, family=family))
        v = _plan_column(main, i, name, family, top_n)
        if v is None:
            continue
        if sample:
            lists.append(f"_m{len(main.aggs)}")
            main.add(f"arg_min({v}, {h}, {SAMPLE_SIZE}) FILTER (WHERE {v} IS NOT NULL)", i, "list")
            # Parallel unnest: shorter lists (columns with fewer values) pad with NULL.
            x = smp.derive(f"CAST(unnest({lists[-1]}) AS VARCHAR)")
        else:
            x = main.derive(f"CAST({v} AS VARCHAR)") if family == "integer" else v
        warnings += _plan_sample(smp if sample else main, i, x, family, top_n, validators)
    sql = _scan_sql(quote_ident(relation), main, smp, lists)
    result = con.execute(sql).fetchone()
    assert result is not None  # an ungrouped aggregate always returns one row
    slots = [s for s in main.slots if s[1] != "list"] + (smp.slots if lists else [])
    present: dict[int, int] = {}
    rows = 0
    for (i, field, key), value in zip(slots, result, strict=True):
        if field == "rows":
            rows = int(value or 0)
        elif field == "present":
            present[i] = int(value or 0)
        else:
            _store(profiles[i], field, key, value)
    _finish(profiles, rows, present, top_n)
    profile = TableProfile(
        relation=relation,
        rows=rows,
        sample_size=SAMPLE_SIZE if sample else 0,
        columns=profiles,
        scans=1,
        seconds=0.0,
        sql=[sql],
        warnings=warnings,
    )
    choose_all(profile)
    for col in profiles:
        if col.validator is not None and col.checked == col.count:
            col.validator_passes = col._passes[col.validator]  # every value was checked
    if confirm:
        extra = _confirm(con, profile, validators)
        if extra:
            profile.sql.append(extra)
            profile.scans += 1
    detect_columns(profile)
    if mask_identifiers:
        for c in profile.columns:
            _mask(c)
    profile.seconds = round(time.perf_counter() - start, 3)
    return profile
