"""The least generalisation reaching a target k (and l, t): a lattice search as ARX's Flash.

A *transformation* is one generalisation level per quasi-identifier (QI); together they form a
lattice ordered level-wise (a node's successors raise one QI by one level). A node *satisfies*
the target when, after suppressing the records of every equivalence class smaller than k (or
with fewer than l distinct sensitive values), at most `max_suppression` of the records are
suppressed. Both conditions are monotone: generalising merges classes, which only grow and only
gain values. So, as Flash (Kohlmayer et al., "Flash: efficient, stable and optimal
k-anonymity", 2012) does with *predictive tagging*:

* a node that satisfies: all its successors satisfy (tagged, never evaluated);
* a node that does not: none of its predecessors does (tagged, never evaluated);

and nodes are checked by binary search along ascending paths from the lowest untagged node,
so that one evaluation tags many. The optimum is the minimal satisfying node (no satisfying
predecessor) with the least information loss; every minimal node is evaluated, never tagged.

The data are read once: one GROUP BY over the original QIs (and sensitive value) gives a table
of distinct combinations and their counts, much smaller than the data; each node is then one
GROUP BY of that table over the QIs' generalised expressions (CASE for mappings), in the engine.

Information loss (reported for the minimal nodes): the discernibility metric (Bayardo and
Agrawal 2005: sum of class sizes squared, plus n for each suppressed record) and non-uniform
entropy (Gionis and Tassa 2009: sum over records and QIs of -log2 P(original | generalised),
P from the column's distribution; a suppressed record's values count as fully generalised),
computed from the node's classes (see _entropy_loss).

t-closeness (`target_t`) is a property of the whole result, not of a class: the largest earth
mover's distance between a kept class's sensitive distribution and the distribution of the kept
records, exactly as `healthdq risk` (and pyCANON) measures the data written. It is *not*
monotone once records are suppressed: generalising may bring a suppressed class back, which
changes the kept distribution and can raise the distance of a class that did not change (the
worked counterexample is in tests/risk/test_risk_search_t.py and docs/risk.md). Without
suppression it is monotone (the distance is convex in the class's distribution, so a merged
class is never further than the farthest of its parts: Li, Li and Venkatasubramanian 2007), but
the search does not rely on that. So t never tags other nodes: the k/l search runs as above
(monotone), then every node that satisfies k/l is checked for t in ascending order of height,
skipping only the nodes above one already found to satisfy (those are not minimal whether or
not they satisfy). Each check is one query over the same grouped table.
"""

from __future__ import annotations

import itertools
import math
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from healthdq.errors import HealthdqError
from healthdq.governance.hierarchy import Hierarchy
from healthdq.sources.base import quote_ident

if TYPE_CHECKING:
    from healthdq.engine.base import Engine
    from healthdq.governance.risk import SensitiveRisk

Node = tuple[int, ...]


class NodeResult(BaseModel):
    levels: dict[str, int]
    suppressed: int | None  # records suppressed (None: a small number, hidden)
    classes: int  # classes kept
    min_class: int | None  # smallest kept class
    t: float | None = None  # t-closeness of the kept records (with a t target)
    discernibility: float | None = None
    non_uniform_entropy: float | None = None


class SearchResult(BaseModel):
    source: str
    engine: str
    # National data opt-out: the file and the records removed first (1-7 shown as *).
    opt_out_file: str | None = None
    opted_out: str | None = None
    qi: list[str]
    sensitive: str | None
    target_k: int
    target_l: int | None
    max_suppression: float
    target_t: float | None = None
    rows: int
    transformation: dict[str, int]  # QI -> chosen level (0: as is)
    levels: dict[str, str]  # QI -> description of the chosen level
    records_suppressed: int | None
    suppressed_pct: float | None
    classes: int
    k: int  # smallest class after suppression
    # With a sensitive column: l and t of the data written, as `healthdq risk` reports them.
    l_distinct: int | None = None
    l_entropy: int | None = None
    t: float | None = None
    discernibility: float
    non_uniform_entropy: float
    nodes_total: int
    nodes_evaluated: int
    minimal_nodes: list[NodeResult] = Field(default_factory=list)
    output: str | None = None
    seconds: float = 0.0
    small_number: int = 0
    suppressed: bool = False


class _Search:
    def __init__(
        self,
        engine: Engine,
        base: str,
        qi: Sequence[str],
        hierarchies: Mapping[str, Hierarchy],
        k: int,
        l_target: int | None,
        sensitive: str | None,
        budget: int,
        t_target: float | None = None,
        numeric: bool = False,
    ) -> None:
        self.engine = engine
        self.base = base
        self.qi = list(qi)
        self.h = [hierarchies.get(c) for c in qi]
        self.heights = [h.height if h else 0 for h in self.h]
        self.k = k
        self.l_target = l_target
        self.sensitive = sensitive
        self.budget = budget
        self.t_target = t_target
        self.numeric = numeric
        self.tags: dict[Node, bool] = {}
        self.results: dict[Node, NodeResult] = {}
        self.evaluated = 0

    def expr(self, i: int, level: int) -> str:
        h = self.h[i]
        if h is None:
            return f"CAST({quote_ident(self.qi[i])} AS VARCHAR)"
        return h.sql(level)

    def gen_select(self, node: Node) -> str:
        return ", ".join(f"{self.expr(i, lv)} AS __g{i}" for i, lv in enumerate(node))

    def classes_sql(self, node: Node) -> str:
        """One row per equivalence class of `node`: size, distinct sensitive values, failing."""
        g = ", ".join(f"__g{i}" for i in range(len(node)))
        if self.sensitive is not None:
            inner = (
                f"SELECT {g}, __sa, sum(__c) AS __c FROM (SELECT {self.gen_select(node)}, __sa, "
                f"__c FROM {quote_ident(self.base)}) AS x GROUP BY {g}, __sa"
            )
            size = "sum(__c) AS __f, count(*) AS __l"
        else:
            inner = f"SELECT {self.gen_select(node)}, __c FROM {quote_ident(self.base)}"
            size = "sum(__c) AS __f, 1 AS __l"
        fail = f"__f < {self.k}" + (
            f" OR __l < {self.l_target}" if self.l_target is not None else ""
        )
        return (
            f"SELECT {g}, __f, CASE WHEN {fail} THEN 1 ELSE 0 END AS __fail FROM "
            f"(SELECT {g}, {size} FROM ({inner}) AS y GROUP BY {g}) AS z"
        )

    def evaluate(self, node: Node) -> bool:
        self.evaluated += 1
        sql = (
            "SELECT sum(CASE WHEN __fail = 1 THEN __f ELSE 0 END), "
            "sum(1 - __fail), min(CASE WHEN __fail = 0 THEN __f END), "
            "sum(CASE WHEN __fail = 0 THEN CAST(__f AS DOUBLE) * __f ELSE 0 END) "
            f"FROM ({self.classes_sql(node)}) AS c"
        )
        suppressed, kept, smallest, squares = self.engine.fetch(self.engine.translate(sql))[0]
        suppressed = int(suppressed or 0)
        result = NodeResult(
            levels=dict(zip(self.qi, node, strict=True)),
            suppressed=suppressed,
            classes=int(kept or 0),
            min_class=None if smallest is None else int(smallest),
        )
        result.discernibility = float(squares or 0.0)  # the suppression term is added later
        self.results[node] = result
        ok = suppressed <= self.budget
        self.tag(node, ok)
        return ok

    def t_sql(self, node: Node) -> str:
        """One row for `node`: records suppressed (classes failing k or l), classes kept, the
        smallest kept class, the sum of kept class sizes squared, and the t-closeness of the
        kept records: the largest EMD between a kept class's sensitive distribution and the
        distribution of all kept records (equal distance for text, ordered for numbers)."""
        g = ", ".join(f"__g{i}" for i in range(len(node)))
        fail = f"__f < {self.k}" + (
            f" OR __l < {self.l_target}" if self.l_target is not None else ""
        )
        ctes = [
            f"cells AS (SELECT {g}, __sa, sum(__c) AS __c FROM (SELECT {self.gen_select(node)}, "
            f"__sa, __c FROM {quote_ident(self.base)}) AS x GROUP BY {g}, __sa)",
            f"w AS (SELECT __sa, __c, sum(__c) OVER (PARTITION BY {g}) AS __f, "
            f"count(*) OVER (PARTITION BY {g}) AS __l, dense_rank() OVER (ORDER BY {g}) AS __ec "
            "FROM cells)",
            f"kept AS (SELECT __ec, __sa, __c, __f FROM w WHERE NOT ({fail}))",
            "p AS (SELECT __sa, sum(__c) AS __pc FROM kept GROUP BY __sa)",
            "n AS (SELECT CAST(sum(__pc) AS DOUBLE) AS __n, count(*) AS __m FROM p)",
            "s AS (SELECT DISTINCT __ec, __f FROM kept)",
        ]
        if self.numeric:
            ctes += [
                "pv AS (SELECT __sa, row_number() OVER (ORDER BY __sa) AS __vid, "
                "sum(__pc) OVER (ORDER BY __sa) AS __cum FROM p)",
                "grid AS (SELECT s.__ec, pv.__vid, pv.__cum / n.__n AS cg, "
                "CAST(coalesce(k.__c, 0) AS DOUBLE) / s.__f AS q FROM s CROSS JOIN pv "
                "CROSS JOIN n LEFT JOIN kept AS k "
                "ON k.__ec = s.__ec AND k.__sa IS NOT DISTINCT FROM pv.__sa)",
                "run AS (SELECT __ec, abs(sum(q) OVER (PARTITION BY __ec ORDER BY __vid) - cg) "
                "AS d FROM grid)",
                "emd AS (SELECT r.__ec, sum(r.d) / greatest(n.__m - 1, 1) AS t "
                "FROM run AS r CROSS JOIN n GROUP BY r.__ec, n.__m)",
            ]
        else:
            ctes.append(
                "emd AS (SELECT k.__ec, 0.5 * (sum(abs(CAST(k.__c AS DOUBLE) / k.__f - "
                "p.__pc / n.__n)) + 1 - sum(p.__pc / n.__n)) AS t FROM kept AS k "
                "JOIN p ON k.__sa IS NOT DISTINCT FROM p.__sa CROSS JOIN n GROUP BY k.__ec, n.__n)"
            )
        return (
            f"WITH {', '.join(ctes)} SELECT "
            f"(SELECT sum(__c) FROM w WHERE {fail}), (SELECT count(*) FROM s), "
            "(SELECT min(__f) FROM s), (SELECT sum(CAST(__f AS DOUBLE) * __f) FROM s), "
            "(SELECT max(t) FROM emd)"
        )

    def evaluate_t(self, node: Node) -> bool:
        """k, l and t at `node` (one query); never tags other nodes (t is not monotone)."""
        assert self.t_target is not None
        self.evaluated += 1
        row = self.engine.fetch(self.engine.translate(self.t_sql(node)))[0]
        suppressed, kept, smallest, squares, t = row
        suppressed = int(suppressed or 0)
        self.results[node] = NodeResult(
            levels=dict(zip(self.qi, node, strict=True)),
            suppressed=suppressed,
            classes=int(kept or 0),
            min_class=None if smallest is None else int(smallest),
            t=float(t or 0.0),
            discernibility=float(squares or 0.0),
        )
        return suppressed <= self.budget and float(t or 0.0) <= self.t_target

    def minimal_t(self) -> list[Node]:
        """The minimal nodes satisfying k, l and t: every node satisfying k and l (tagged by
        the monotone search) in ascending order of height, checked for t unless a node found
        below it already satisfies (then it is not minimal, whatever its t)."""
        ranges = [range(top + 1) for top in self.heights]
        candidates = sorted(
            (n for n in itertools.product(*ranges) if self.tags.get(n, False)),
            key=lambda n: (sum(n), n),
        )
        found: list[Node] = []
        for node in candidates:
            if any(all(a <= b for a, b in zip(f, node, strict=True)) for f in found):
                continue
            if self.evaluate_t(node):
                found.append(node)
        return found

    def tag(self, node: Node, ok: bool) -> None:
        """Predictive tagging: a satisfying node's successors satisfy, a failing node's
        predecessors fail."""
        if ok:
            ranges = [range(lv, top + 1) for lv, top in zip(node, self.heights, strict=True)]
        else:
            ranges = [range(0, lv + 1) for lv in node]
        for other in itertools.product(*ranges):
            self.tags.setdefault(other, ok)
        self.tags[node] = ok

    def path(self, start: Node) -> list[Node]:
        """An ascending path from `start` to the top through untagged nodes where possible."""
        path = [start]
        node = start
        while True:
            nxt = [
                tuple(lv + (j == i) for j, lv in enumerate(node))
                for i in range(len(node))
                if node[i] < self.heights[i]
            ]
            if not nxt:
                return path
            untagged = [n for n in nxt if n not in self.tags]
            # Prefer untagged successors, and among them raise the QI with most levels left.
            pool = untagged or nxt
            node = min(
                pool,
                key=lambda n: (
                    -max(self.heights[i] - n[i] for i in range(len(n))),
                    n,
                ),
            )
            path.append(node)

    def run(self) -> None:
        ranges = [range(top + 1) for top in self.heights]
        nodes = sorted(itertools.product(*ranges), key=lambda n: (sum(n), n))
        for start in nodes:
            if start in self.tags:
                continue
            path = [n for n in self.path(start) if n not in self.tags]
            # Binary search for the lowest satisfying node along the path.
            lo, hi = 0, len(path) - 1
            while lo <= hi:
                mid = (lo + hi) // 2
                node = path[mid]
                ok = self.tags[node] if node in self.tags else self.evaluate(node)
                if ok:
                    hi = mid - 1
                else:
                    lo = mid + 1

    def minimal(self) -> list[Node]:
        out = []
        for node, ok in self.tags.items():
            if not ok:
                continue
            preds = [
                tuple(lv - (j == i) for j, lv in enumerate(node))
                for i in range(len(node))
                if node[i] > 0
            ]
            if all(not self.tags.get(p, False) for p in preds):
                out.append(node)
        return sorted(out)


def _column_entropy(search: _Search) -> float:
    """sum over QIs of sum_v cnt(v) log2 cnt(v) on the original values (the constant part)."""
    total = 0.0
    for q in search.qi:
        (value,) = search.engine.fetch(
            search.engine.translate(
                f"SELECT sum(x * log2(x)) FROM (SELECT CAST(sum(__c) AS DOUBLE) AS x "
                f"FROM {quote_ident(search.base)} GROUP BY {quote_ident(q)}) AS v"
            )
        )[0]
        total += float(value or 0.0)
    return total


def _entropy_loss(search: _Search, node: Node, rows: int, constant: float) -> float:
    """Non-uniform entropy of `node`, from its classes alone.

    Every record contributes, per QI, -log2 cnt(v) (its original value's count: `constant`
    summed) plus log2 cnt(g) for the count of its generalised value g when kept, or log2 n when
    suppressed. A class shares its generalised values, so cnt(g) is a window over the classes.
    """
    n = len(node)
    windows = " + ".join(
        f"log2(CAST(sum(__f) OVER (PARTITION BY __g{i}) AS DOUBLE))" for i in range(n)
    )
    sql = (
        f"SELECT sum(CASE WHEN __fail = 1 THEN __f * {n * math.log2(max(rows, 1))!r} "
        f"ELSE __f * __w END) FROM (SELECT __f, __fail, {windows} AS __w "
        f"FROM ({search.classes_sql(node)}) AS c) AS w"
    )
    (value,) = search.engine.fetch(search.engine.translate(sql))[0]
    return float(value or 0.0) - constant


def _describe(hierarchy: Hierarchy | None, level: int) -> str:
    if hierarchy is None or level == 0:
        return "as is"
    return hierarchy.levels[level - 1].describe()


def _cols(names: Sequence[str]) -> str:
    return ", ".join(quote_ident(n) for n in names)


def check_coverage(
    engine: Engine, base: str, hierarchies: Mapping[str, Hierarchy], path: str
) -> None:
    """Every original value must be generalisable at every level: else one line naming the
    column, the level's line in the hierarchy file and the value."""
    for column, h in hierarchies.items():
        for number, level in enumerate(h.levels, start=1):
            cond = level.uncovered(column)
            if cond == "FALSE":
                continue
            rows = engine.fetch(
                engine.translate(
                    f"SELECT CAST({quote_ident(column)} AS VARCHAR) FROM {quote_ident(base)} "
                    f"WHERE {quote_ident(column)} IS NOT NULL AND {cond} LIMIT 1"
                )
            )
            if rows:
                raise HealthdqError(
                    f"column '{column}': value '{rows[0][0]}' is not covered by level {number} "
                    f"of its hierarchy ({level.describe()})",
                    path=path,
                    line=level.line,
                )


def search(
    engine: Engine,
    relation: str,
    columns: Mapping[str, str],
    qi: Sequence[str],
    hierarchies: Mapping[str, Hierarchy],
    *,
    target_k: int,
    target_l: int | None = None,
    target_t: float | None = None,
    sensitive: str | None = None,
    max_suppression: float = 0.0,
    hierarchy_path: str = "",
    source: str = "",
    out: str | None = None,
    out_format: str = "parquet",
) -> SearchResult:
    """The least generalisation (and suppression) of `relation` reaching the targets."""
    from healthdq.governance.risk import NUMERIC_TYPES, check_columns

    started = time.perf_counter()
    if target_k < 1:
        raise HealthdqError(f"--target-k must be 1 or more, got {target_k}")
    if target_l is not None and (target_l < 1 or sensitive is None):
        raise HealthdqError("--target-l needs one --sensitive column and a value of 1 or more")
    if target_t is not None and sensitive is None:
        raise HealthdqError("--target-t needs one --sensitive column")
    if target_t is not None and not 0 < target_t <= 1:
        raise HealthdqError(f"--target-t must be in (0, 1], got {target_t:g}")
    if not 0 <= max_suppression <= 1:
        raise HealthdqError(f"--max-suppression must be in [0, 1], got {max_suppression}")
    check_columns(columns, qi, "--qi", source)
    if sensitive is not None:
        check_columns(columns, [sensitive], "--sensitive", source)
    for column, h in hierarchies.items():
        if column not in qi:
            raise HealthdqError(
                f"hierarchy for '{column}', which is not one of --qi",
                path=hierarchy_path,
                line=h.line,
            )
    base = f"__anon_{uuid.uuid4().hex[:10]}"
    sa = f", {quote_ident(sensitive)} AS __sa" if sensitive is not None else ""
    sa_group = f", {quote_ident(sensitive)}" if sensitive is not None else ""
    engine.create_temp(
        base,
        f"SELECT {_cols(qi)}{sa}, count(*) AS __c FROM {quote_ident(relation)} "
        f"GROUP BY {_cols(qi)}{sa_group}",
        materialize=True,
    )
    try:
        check_coverage(engine, base, hierarchies, hierarchy_path)
        (rows,) = engine.fetch(engine.translate(f"SELECT sum(__c) FROM {quote_ident(base)}"))[0]
        rows = int(rows or 0)
        budget = math.floor(max_suppression * rows + 1e-9)
        numeric = (
            sensitive is not None and columns[sensitive].upper().split("(")[0] in NUMERIC_TYPES
        )
        s = _Search(
            engine, base, qi, hierarchies, target_k, target_l, sensitive, budget, target_t, numeric
        )
        top = tuple(s.heights)
        target = (
            f"target k={target_k}"
            + (f", l={target_l}" if target_l is not None else "")
            + (f", t={target_t:g}" if target_t is not None else "")
            + f" is not reachable with these hierarchies and --max-suppression "
            f"{max_suppression:g}"
        )
        if not s.evaluate(top):
            r = s.results[top]
            raise HealthdqError(
                f"{target}: even the most general transformation suppresses "
                f"{100.0 * (r.suppressed or 0) / max(rows, 1):.1f}% of records",
                path=hierarchy_path or None,
            )
        s.run()
        if target_t is None:
            minimal = s.minimal()
        else:
            minimal = s.minimal_t()
            if not minimal:
                raise HealthdqError(
                    f"{target}: no transformation within the suppression limit has t <= "
                    f"{target_t:g} (the most general has t = {s.results[top].t or 0.0:.6f})",
                    path=hierarchy_path or None,
                )
        constant = _column_entropy(s)
        for node in minimal:
            r = s.results[node]
            r.discernibility = (r.discernibility or 0.0) + float(r.suppressed or 0) * rows
            r.non_uniform_entropy = _entropy_loss(s, node, rows, constant)
        best = min(
            minimal,
            key=lambda n: (s.results[n].non_uniform_entropy, s.results[n].discernibility, n),
        )
        chosen = s.results[best]
        measured = None if sensitive is None or not chosen.classes else _measure_chosen(s, best)
        output = None
        if out is not None:
            output = _write(engine, relation, columns, s, best, out, out_format)
        nodes_total = math.prod(h + 1 for h in s.heights)
    finally:
        engine.drop_temp(base)
    return SearchResult(
        source=source,
        engine=engine.name,
        qi=list(qi),
        sensitive=sensitive,
        target_k=target_k,
        target_l=target_l,
        max_suppression=max_suppression,
        rows=rows,
        transformation=chosen.levels,
        levels={q: _describe(s.h[i], lv) for i, (q, lv) in enumerate(chosen.levels.items())},
        records_suppressed=chosen.suppressed,
        suppressed_pct=100.0 * (chosen.suppressed or 0) / rows if rows else 0.0,
        classes=chosen.classes,
        k=chosen.min_class or 0,
        l_distinct=None if measured is None else measured.l_distinct,
        l_entropy=None if measured is None else measured.l_entropy,
        t=None if measured is None else measured.t_closeness,
        target_t=target_t,
        discernibility=chosen.discernibility or 0.0,
        non_uniform_entropy=chosen.non_uniform_entropy or 0.0,
        nodes_total=nodes_total,
        nodes_evaluated=s.evaluated,
        minimal_nodes=[s.results[n] for n in minimal],
        output=output,
        seconds=round(time.perf_counter() - started, 3),
    )


def _measure_chosen(s: _Search, node: Node) -> SensitiveRisk:
    """l and t of the kept records of `node`, by `healthdq risk`'s own code (pyCANON's figures
    to the last bit): the figures `healthdq risk` reports on the data written."""
    from healthdq.governance.risk import _Run, _sensitive

    g = [f"__g{i}" for i in range(len(node))]
    names = ", ".join(f"c.{c} AS {quote_ident(q)}" for c, q in zip(g, s.qi, strict=True))
    on = " AND ".join(f"c.{c} IS NOT DISTINCT FROM k.{c}" for c in g)
    run = _Run(s.engine)
    try:
        kept = run.temp(
            f"SELECT {names}, c.__sa, sum(c.__c) AS __c FROM (SELECT {s.gen_select(node)}, __sa, "
            f"__c FROM {quote_ident(s.base)}) AS c JOIN ({s.classes_sql(node)}) AS k ON {on} "
            f"WHERE k.__fail = 0 GROUP BY {', '.join('c.' + c for c in g)}, c.__sa"
        )
        assert s.sensitive is not None
        return _sensitive(run, kept, s.qi, s.sensitive, s.numeric)
    finally:
        run.close()


def _write(
    engine: Engine,
    relation: str,
    columns: Mapping[str, str],
    s: _Search,
    node: Node,
    out: str,
    fmt: str,
) -> str:
    """The data with the chosen generalisation, classes that fail the target removed."""
    g = [f"__g{i}" for i in range(len(node))]
    select = []
    for column in columns:
        if column in s.qi:
            i = s.qi.index(column)
            select.append(f"{s.expr(i, node[i])} AS {quote_ident(column)}")
        else:
            select.append(quote_ident(column))
    gen = ", ".join(f"{s.expr(i, lv)} AS __g{i}" for i, lv in enumerate(node))
    on = " AND ".join(f"d.{c} IS NOT DISTINCT FROM k.{c}" for c in g)
    keep = ", ".join(f"d.{quote_ident(c)}" for c in columns)
    sql = (
        f"SELECT {keep} "
        f"FROM (SELECT {', '.join(select)}, {gen} FROM {quote_ident(relation)}) AS d "
        f"JOIN ({s.classes_sql(node)}) AS k ON {on} WHERE k.__fail = 0"
    )
    engine.export(sql, out, fmt)
    return out
