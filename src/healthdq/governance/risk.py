"""Disclosure risk of a table: equivalence classes, k-anonymity, l-diversity, t-closeness,
re-identification risks and population uniqueness (docs/risk.md).

Computed in the engine in a few grouped scans, through the Engine interface (DuckDB or Spark;
SQL written in DuckDB's dialect and run through `Engine.translate`):

1. Without a sensitive attribute: one GROUP BY over the quasi-identifiers (QIs) gives each
   equivalence class's size, grouped again into the frequency of frequencies (how many classes
   of each size). Every re-identification risk and uniqueness estimate is read from that small
   histogram.
2. With sensitive attributes: one GROUP BY (QIs, sensitive value) per attribute, kept as a
   temporary table (much smaller than the data); the histogram, the per-class distinct count,
   entropy and earth mover's distance are aggregates over it.

k, l and t follow pyCANON's definitions exactly (k: smallest class; l: fewest distinct sensitive
values in a class; entropy l: int(e ** smallest class entropy); t: largest EMD between a class's
and the table's sensitive distribution, equal-distance for text, ordered distance / (m - 1) for
numbers; several attributes: smallest l, largest t). Floating point sums are order dependent, so
the classes whose engine-computed entropy or EMD is within a hair of the extreme are recomputed
here in pyCANON's order of operations: the figure is the same to the last bit.

Equivalence classes group missing QI values together as one value (pandas, and so pyCANON,
drops rows with a missing QI); a missing sensitive value counts as one more value.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from healthdq.errors import HealthdqError
from healthdq.governance import uniqueness
from healthdq.sources.base import quote_ident

if TYPE_CHECKING:
    from healthdq.engine.base import Engine
    from healthdq.governance.anonymise import SearchResult

DEFAULT_THRESHOLD = 0.2
NUMERIC_TYPES = (
    "TINYINT",
    "SMALLINT",
    "INTEGER",
    "BIGINT",
    "HUGEINT",
    "UTINYINT",
    "USMALLINT",
    "UINTEGER",
    "UBIGINT",
    "UHUGEINT",
    "FLOAT",
    "REAL",
    "DOUBLE",
    "DECIMAL",
)
# Classes whose engine-side entropy / EMD lies this close to the extreme are recomputed exactly.
_NEAR = 1e-9
_MAX_CANDIDATES = 100_000


class ClassSize(BaseModel):
    """Classes of one size: `classes` classes of `size` records each."""

    size: int | None
    classes: int | None
    records: int | None
    suppressed: bool = False


class RiskSummary(BaseModel):
    """El Emam's three figures for an attacker model."""

    records_at_risk: int | None  # records whose risk is above the threshold
    records_at_risk_pct: float | None
    highest: float  # the largest probability of re-identification of any record
    average: float  # the share of records re-identified on average


class SensitiveRisk(BaseModel):
    column: str
    kind: str  # categorical | numerical (t-closeness distance)
    values: int  # distinct values in the table
    l_distinct: int
    l_entropy: int
    entropy_min: float
    t_closeness: float


class ModelEstimate(BaseModel):
    model: str
    uniques: float | None  # estimated population uniques (None: no valid estimate)
    proportion: float | None  # of the population


class PopulationRisk(BaseModel):
    population: int
    sampling_fraction: float
    estimates: list[ModelEstimate]
    dankar_model: str  # the model Dankar's rule chose (none: no sample uniques)
    dankar_uniques: float | None
    dankar_proportion: float | None


class RiskReport(BaseModel):
    source: str
    engine: str
    # National data opt-out: the file and the records removed first (1-7 shown as *).
    opt_out_file: str | None = None
    opted_out: str | None = None
    qi: list[str]
    sensitive: list[str] = Field(default_factory=list)
    rows: int
    classes: int
    k: int
    threshold: float
    histogram: list[ClassSize]
    sample_uniques: int | None  # records alone in their class
    sample_uniques_pct: float | None
    prosecutor: RiskSummary
    journalist: RiskSummary
    marketer: float
    l_distinct: int | None = None
    l_entropy: int | None = None
    t_closeness: float | None = None
    sensitive_risks: list[SensitiveRisk] = Field(default_factory=list)
    population: PopulationRisk | None = None
    small_number: int = 0  # counts 1..small_number-1 are suppressed (0: none)
    suppressed: bool = False
    scans: int = 0  # queries that read the data
    queries: int = 0
    seconds: float = 0.0
    notes: list[str] = Field(default_factory=list)


# -- the histogram's measures (pure) -----------------------------------------------------------
def records(sizes: Mapping[int, int]) -> int:
    return sum(size * count for size, count in sizes.items())


def prosecutor_risk(sizes: Mapping[int, int], threshold: float) -> RiskSummary:
    """Records at risk: in classes whose 1/size > threshold; highest 1/min size; average
    (classes / records) - El Emam, "Guide to the De-Identification of Personal Health
    Information" (2013), as ARX's RiskModelSampleSummary computes it."""
    n = records(sizes)
    at_risk = sum(size * count for size, count in sizes.items() if 1.0 / size > threshold)
    return RiskSummary(
        records_at_risk=at_risk,
        records_at_risk_pct=100.0 * at_risk / n if n else 0.0,
        highest=1.0 / min(sizes) if sizes else 0.0,
        average=sum(sizes.values()) / n if n else 0.0,
    )


def histogram_rows(sizes: Mapping[int, int]) -> list[ClassSize]:
    return [ClassSize(size=s, classes=c, records=s * c) for s, c in sorted(sizes.items())]


def population_risk(sizes: Mapping[int, int], population: int) -> PopulationRisk:
    n = records(sizes)
    if population < n:
        raise HealthdqError(f"--population {population} is smaller than the {n} rows given")
    estimates = {
        "pitman": uniqueness.pitman(sizes, population),
        "zayatz": uniqueness.zayatz(sizes, population),
        "snb": uniqueness.snb(sizes, population),
    }
    if sizes.get(1, 0) == 0:
        estimates = {name: 0.0 for name in estimates}
    model, uniques = uniqueness.dankar(sizes, population, estimates)
    return PopulationRisk(
        population=population,
        sampling_fraction=n / population,
        estimates=[
            ModelEstimate(
                model=name,
                uniques=value,
                proportion=None if value is None else value / population,
            )
            for name, value in estimates.items()
        ],
        dankar_model=model,
        dankar_uniques=uniques,
        dankar_proportion=uniques / population,
    )


# -- pyCANON's arithmetic, for the extreme classes ---------------------------------------------
def entropy_of(counts: Sequence[int]) -> float:
    """-sum(p log p) over a class's value counts in value order, as pyCANON sums it (numpy)."""
    total = sum(counts)
    p = [c / total for c in counts]
    try:
        import numpy as np
    except ImportError:  # pragma: no cover - numpy comes with pandas; same order of operations
        acc = 0.0
        for x in p:
            acc += x * math.log(x)
        return -acc
    return -float(np.sum(p * np.log(p)))


def entropy_l(entropy: float) -> int:
    """pyCANON's entropy l: int(e ** entropy)."""
    return int(math.e**entropy)


def emd_categorical(counts: Mapping[int, int], size: int, table: Sequence[float]) -> float:
    """Equal-distance EMD: 0.5 * sum |q_i - p_i| over the table's values in order."""
    acc = 0.0
    for i, p in enumerate(table):
        acc += abs(counts.get(i, 0) / size - p)
    return 0.5 * acc


def emd_numerical(counts: Mapping[int, int], size: int, table: Sequence[float]) -> float:
    """Ordered-distance EMD: sum |cumulative (q_i - p_i)| / (m - 1)."""
    m = len(table)
    if m < 2:
        return 0.0
    running, acc = 0.0, 0.0
    for i, p in enumerate(table):
        running += counts.get(i, 0) / size - p
        acc += abs(running)
    return 1 / (m - 1) * acc


# -- engine ------------------------------------------------------------------------------------
class _Run:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.queries = 0
        self.scans = 0
        self.temps: list[str] = []

    def fetch(self, sql: str, scan: bool = False) -> list[tuple[Any, ...]]:
        self.queries += 1
        self.scans += int(scan)
        return self.engine.fetch(self.engine.translate(sql))

    def temp(self, sql: str, scan: bool = False) -> str:
        name = f"__risk_{uuid.uuid4().hex[:10]}"
        self.queries += 1
        self.scans += int(scan)
        self.engine.create_temp(name, sql, materialize=True)
        self.temps.append(name)
        return name

    def close(self) -> None:
        for name in self.temps:
            self.engine.drop_temp(name)


def check_columns(
    columns: Mapping[str, str], wanted: Sequence[str], option: str, source: str
) -> None:
    """A QI or sensitive column that is not in the data: one line naming it and the file."""
    for name in wanted:
        if name not in columns:
            raise HealthdqError(
                f"{option} column '{name}' is not a column of the data "
                f"(columns: {', '.join(columns)})",
                path=source,
            )


def _cols(names: Sequence[str]) -> str:
    return ", ".join(quote_ident(n) for n in names)


def _sizes(rows: list[tuple[Any, ...]]) -> dict[int, int]:
    return {int(size): int(count) for size, count in rows if size is not None}


def measure(
    engine: Engine,
    relation: str,
    columns: Mapping[str, str],
    qi: Sequence[str],
    sensitive: Sequence[str] = (),
    *,
    threshold: float = DEFAULT_THRESHOLD,
    population: int | None = None,
    source: str = "",
) -> RiskReport:
    """Every risk measure of `relation` (already registered on `engine`) for these QIs."""
    if not qi:
        raise HealthdqError("--qi needs at least one column")
    if not 0 < threshold <= 1:
        raise HealthdqError(f"--threshold must be in (0, 1], got {threshold}")
    check_columns(columns, qi, "--qi", source)
    check_columns(columns, sensitive, "--sensitive", source)
    overlap = [c for c in sensitive if c in qi]
    if overlap:
        raise HealthdqError(f"'{overlap[0]}' is given both as --qi and as --sensitive")
    started = time.perf_counter()
    run = _Run(engine)
    rel = quote_ident(relation)
    q = _cols(qi)
    try:
        sensitive_risks: list[SensitiveRisk] = []
        sizes: dict[int, int] = {}
        if not sensitive:
            sizes = _sizes(
                run.fetch(
                    f"SELECT f, count(*) FROM (SELECT count(*) AS f FROM {rel} GROUP BY {q}) AS e "
                    "GROUP BY f",
                    scan=True,
                )
            )
        for i, column in enumerate(sensitive):
            numeric = columns[column].upper().split("(")[0] in NUMERIC_TYPES
            grouped = run.temp(
                f"SELECT {q}, {quote_ident(column)} AS __sa, count(*) AS __c FROM {rel} "
                f"GROUP BY {q}, {quote_ident(column)}",
                scan=True,
            )
            if i == 0:
                sizes = _sizes(
                    run.fetch(
                        f"SELECT f, count(*) FROM (SELECT sum(__c) AS f FROM {grouped} "
                        f"GROUP BY {q}) AS e GROUP BY f"
                    )
                )
            sensitive_risks.append(_sensitive(run, grouped, qi, column, numeric))
    finally:
        run.close()
    n = records(sizes)
    prosecutor = prosecutor_risk(sizes, threshold)
    report = RiskReport(
        source=source,
        engine=engine.name,
        qi=list(qi),
        sensitive=list(sensitive),
        rows=n,
        classes=sum(sizes.values()),
        k=min(sizes) if sizes else 0,
        threshold=threshold,
        histogram=histogram_rows(sizes),
        sample_uniques=sizes.get(1, 0),
        sample_uniques_pct=100.0 * sizes.get(1, 0) / n if n else 0.0,
        prosecutor=prosecutor,
        # Without a population table, a class's population size is unknown: the journalist's
        # risk is bounded by the prosecutor's (population classes are at least as large).
        journalist=prosecutor.model_copy(),
        marketer=prosecutor.average,
        sensitive_risks=sensitive_risks,
        queries=run.queries,
        scans=run.scans,
    )
    if sensitive_risks:
        report.l_distinct = min(s.l_distinct for s in sensitive_risks)
        report.l_entropy = min(s.l_entropy for s in sensitive_risks)
        report.t_closeness = max(s.t_closeness for s in sensitive_risks)
    if population is not None:
        if n == 0:
            raise HealthdqError("--population needs at least one row")
        report.population = population_risk(sizes, population)
    if n == 0:
        report.notes.append("the data has no rows")
    report.seconds = round(time.perf_counter() - started, 3)
    return report


def _sensitive(
    run: _Run, grouped: str, qi: Sequence[str], column: str, numeric: bool
) -> SensitiveRisk:
    """l (distinct, entropy) and t for one sensitive attribute, from (QIs, value) counts."""
    gq = ", ".join("g." + quote_ident(c) for c in qi)
    # The table's distribution, values numbered in order (pyCANON: np.unique order).
    table = run.temp(
        f"SELECT __sa, sum(__c) AS __pc, row_number() OVER (ORDER BY __sa) - 1 AS __vid "
        f"FROM {grouped} GROUP BY __sa"
    )
    dist = sorted((int(v), int(c)) for v, c in run.fetch(f"SELECT __vid, __pc FROM {table}"))
    total = sum(c for _, c in dist)
    shares = [c / total for _, c in dist]
    m = len(shares)
    # Each class: id, size, and its (value id, count) pairs.
    cells = run.temp(
        f"SELECT dense_rank() OVER (ORDER BY {gq}) AS __ec, t.__vid, g.__c, "
        f"sum(g.__c) OVER (PARTITION BY {gq}) AS __f "
        f"FROM {grouped} AS g JOIN {table} AS t ON g.__sa IS NOT DISTINCT FROM t.__sa"
    )
    if numeric:
        emd = (
            f"WITH g AS (SELECT __vid, sum(__pc) OVER (ORDER BY __vid) / {float(total)!r} AS cg "
            f"FROM {table}), "
            f"s AS (SELECT DISTINCT __ec, __f FROM {cells}), "
            "grid AS (SELECT s.__ec, g.__vid, g.cg, "
            "CAST(coalesce(c.__c, 0) AS DOUBLE) / s.__f AS q "
            f"FROM s CROSS JOIN g LEFT JOIN {cells} AS c "
            "ON c.__ec = s.__ec AND c.__vid = g.__vid), "
            "run AS (SELECT __ec, abs(sum(q) OVER (PARTITION BY __ec ORDER BY __vid) - cg) AS d "
            "FROM grid) "
            f"SELECT __ec, sum(d) / {max(m - 1, 1)} AS t FROM run GROUP BY __ec"
        )
    else:
        emd = (
            f"SELECT c.__ec, 0.5 * (sum(abs(CAST(c.__c AS DOUBLE) / c.__f - "
            f"CAST(t.__pc AS DOUBLE) / {total})) + 1 - sum(CAST(t.__pc AS DOUBLE) / {total})) AS t "
            f"FROM {cells} AS c JOIN {table} AS t ON c.__vid = t.__vid GROUP BY c.__ec"
        )
    per = run.temp(
        f"SELECT c.__ec, count(*) AS l, "
        "-sum((CAST(c.__c AS DOUBLE) / c.__f) * ln(CAST(c.__c AS DOUBLE) / c.__f)) AS h, "
        "max(e.t) AS t "
        f"FROM {cells} AS c JOIN ({emd}) AS e ON c.__ec = e.__ec GROUP BY c.__ec"
    )
    l_min, h_min, t_max = run.fetch(f"SELECT min(l), min(h), max(t) FROM {per}")[0]
    l_min = int(l_min or 0)
    h_min = float(h_min or 0.0)
    t_max = float(t_max or 0.0)
    # The exact extremes, recomputed from the distinct distributions of the classes near them
    # (a class of one value has entropy 0 exactly: no need to fetch those).
    entropy = 0.0
    if l_min > 1:
        near_h = h_min + _NEAR * max(1.0, abs(h_min))
        entropy = min(
            entropy_of([c for _, c in sorted(cls.items())])
            for cls in _classes(run, cells, per, f"h <= {near_h!r}")
        )
    near_t = t_max - _NEAR * max(1.0, abs(t_max))
    distance = max(
        (
            emd_numerical(cls, sum(cls.values()), shares)
            if numeric
            else emd_categorical(cls, sum(cls.values()), shares)
            for cls in _classes(run, cells, per, f"t >= {near_t!r}")
        ),
        default=0.0,
    )
    return SensitiveRisk(
        column=column,
        kind="numerical" if numeric else "categorical",
        values=m,
        l_distinct=l_min,
        l_entropy=entropy_l(entropy),
        entropy_min=entropy,
        t_closeness=distance,
    )


def _classes(run: _Run, cells: str, per: str, where: str) -> list[dict[int, int]]:
    """The distinct distributions (value id -> count) of the classes matching `where`."""
    rows = run.fetch(
        f"SELECT c.__ec, c.__vid, c.__c FROM {cells} AS c "
        f"JOIN (SELECT __ec FROM {per} WHERE {where} LIMIT {_MAX_CANDIDATES}) AS p "
        "ON c.__ec = p.__ec"
    )
    classes: dict[int, dict[int, int]] = {}
    for ec, vid, count in rows:
        classes.setdefault(int(ec), {})[int(vid)] = int(count)
    unique = {tuple(sorted(cls.items())): cls for cls in classes.values()}
    return list(unique.values())


# -- small numbers -----------------------------------------------------------------------------
def suppress_search(result: SearchResult, small_number: int) -> SearchResult:
    """Counts of suppressed records in 1..small_number-1 are hidden in a search result."""
    result.small_number = small_number
    if small_number <= 1:
        return result
    if result.records_suppressed is not None and 0 < result.records_suppressed < small_number:
        result.records_suppressed = None
        result.suppressed_pct = None
        result.suppressed = True
    for node in result.minimal_nodes:
        if node.suppressed is not None and 0 < node.suppressed < small_number:
            node.suppressed = None
            result.suppressed = True
    return result


def suppress(report: RiskReport, small_number: int) -> RiskReport:
    """Hide counts of records in 1..small_number-1 (and what they could be recomputed from).

    Histogram rows whose records are small are merged into one suppressed row; when only one
    row would be hidden, the next smallest is hidden with it (the total would give it away).
    Records at risk and sample uniques that are small are hidden with their percentages.
    """
    report.small_number = small_number
    if small_number <= 1:
        return report

    def small(v: int | None) -> bool:
        return v is not None and 0 < v < small_number

    rows = report.histogram
    hidden = [r for r in rows if small(r.records)]
    if len(hidden) == 1 and len(rows) > 1:
        rest = sorted((r for r in rows if r is not hidden[0]), key=lambda r: r.records or 0)
        hidden.append(rest[0])
    if hidden:
        kept = [r for r in rows if all(r is not h for h in hidden)]
        kept.append(ClassSize(size=None, classes=None, records=None, suppressed=True))
        report.histogram = kept
        report.suppressed = True
    for summary in (report.prosecutor, report.journalist):
        if small(summary.records_at_risk):
            summary.records_at_risk = None
            summary.records_at_risk_pct = None
            report.suppressed = True
    if small(report.sample_uniques):
        report.sample_uniques = None
        report.sample_uniques_pct = None
        report.suppressed = True
    if report.population is not None:
        for est in report.population.estimates:
            if est.uniques is not None and 0 < est.uniques < small_number:
                est.uniques = None
                est.proportion = None
                report.suppressed = True
        uniques = report.population.dankar_uniques
        if uniques is not None and 0 < uniques < small_number:
            report.population.dankar_uniques = None
            report.population.dankar_proportion = None
            report.suppressed = True
    return report
