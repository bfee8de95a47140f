"""Property tests: on any input the contract loader and the SQL sandbox give a one-line refusal or
a safe result; never a traceback, a hang or an escape."""

from __future__ import annotations

import time

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlglot import exp

from healthdq.errors import ContractError
from healthdq.rules.loader import SQL_FIELDS, parse_contract
from healthdq.rules.sandbox import _NAMED_FUNCTIONS as NAMED
from healthdq.rules.sandbox import SandboxError, check_tree, parse_expression

FUZZ = settings(
    max_examples=150,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
)
# Parsing hostile input must stay fast: a contract is not a way to stall a run.
SLOW_SECONDS = 2.0

# Pieces of SQL, harmless and hostile, to build expressions from.
ATOMS = [
    "sex",
    '"sex"',
    "t.sex",
    "'1'",
    "42",
    "NULL",
    "TRUE",
    "current_date",
    "read_text('/etc/passwd')",
    "READ_CSV('http://x')",
    "\"glob\"('/root/*')",
    "(SELECT 1)",
    "(SELECT content FROM read_text('/etc/passwd'))",
    "getenv('HOME')",
    "$1",
    "?",
    "*",
    "x -> x",
    "count(*)",
]
OPS = [" = ", " AND ", " OR ", " + ", " || ", " < ", " IN ", " LIKE ", ", ", "; ", " "]
WRAPS = [
    "({})",
    "upper({})",
    "CAST({} AS INTEGER)",
    "coalesce({}, '')",
    "CASE WHEN {} THEN 1 END",
    "NOT {}",
    "{} IS NULL",
    "length({})",
    "EXISTS ({})",
    "({} ",
]


@st.composite
def sql_pieces(draw: st.DrawFn) -> str:
    parts = [draw(st.sampled_from(ATOMS))]
    for _ in range(draw(st.integers(0, 4))):
        parts.append(draw(st.sampled_from(OPS)))
        parts.append(draw(st.sampled_from(ATOMS)))
    text = "".join(parts)
    for _ in range(draw(st.integers(0, 3))):
        text = draw(st.sampled_from(WRAPS)).format(text)
    return text


def _safe(sql: str) -> None:
    """Either a one-line refusal, or a tree in which every node passes the allow-list again."""
    started = time.perf_counter()
    try:
        tree = parse_expression(sql)
    except SandboxError as exc:
        assert "\n" not in str(exc)
    else:
        check_tree(tree)
        assert not list(tree.find_all(exp.Query, exp.Subquery, exp.Table, exp.From))
        assert all(n.name.lower() in NAMED for n in tree.find_all(exp.Anonymous))
        assert not any(n.table for n in tree.find_all(exp.Column))
    assert time.perf_counter() - started < SLOW_SECONDS


@FUZZ
@given(sql_pieces())
def test_composed_sql_is_refused_or_safe(sql: str) -> None:
    _safe(sql)


@FUZZ
@given(st.text(max_size=300))
def test_any_text_is_refused_or_safe(sql: str) -> None:
    _safe(sql)


@settings(FUZZ, max_examples=30)
@given(st.integers(1, 3000))
def test_deep_nesting_is_refused_quickly(depth: int) -> None:
    _safe("(" * depth + "sex" + ")" * depth)
    _safe("upper(" * depth + "sex" + ")" * depth)
    _safe("NOT " * depth + "TRUE")


RULE = st.fixed_dictionaries(
    {"id": st.from_regex(r"[a-z]{1,6}", fullmatch=True)},
    optional={
        "kind": st.sampled_from(["sql", "not_null", "compare", "date_range", "bogus", 3]),
        "predicate": sql_pieces(),
        "when": sql_pieces(),
        "denominator": sql_pieces(),
        "left": sql_pieces(),
        "right": sql_pieces(),
        "op": st.sampled_from(["<", "=", "~"]),
        "column": st.sampled_from(["sex", "", None]),
        "min": st.sampled_from(["today-99999y", "today", "2020-01-01", "x", 5]),
        "threshold": st.one_of(st.floats(allow_nan=True), st.integers()),
    },
)
CONTRACTS = st.fixed_dictionaries(
    {
        "name": st.text(max_size=5),
        "tables": st.dictionaries(
            st.text(max_size=5),
            st.fixed_dictionaries(
                {"rules": st.lists(RULE, max_size=4)},
                optional={
                    "source": st.sampled_from(["/etc/passwd", "../x.csv", "d/x.csv", "", "*.csv"])
                },
            ),
            max_size=2,
        ),
    },
    optional={"run_date": st.sampled_from(["2020-01-01", "x", 7]), "small_number": st.integers()},
)


@settings(FUZZ, max_examples=80)
@given(CONTRACTS)
def test_the_loader_refuses_or_loads_a_contract_with_only_safe_sql(data: dict[str, object]) -> None:
    text = yaml.safe_dump(data, allow_unicode=True)
    try:
        contract = parse_contract(text, "fuzz.yaml")
    except ContractError as exc:
        assert "\n" not in exc.one_line() and exc.one_line().startswith("fuzz.yaml")
        return
    for table in contract.tables.values():
        for rule in table.rules:
            for field in SQL_FIELDS:
                value = getattr(rule, field, None)
                if isinstance(value, str):
                    parse_expression(value)  # did pass the sandbox


@FUZZ
@given(st.text(max_size=400))
def test_the_loader_survives_any_text(text: str) -> None:
    try:
        parse_contract(text, "fuzz.yaml")
    except ContractError as exc:
        assert "\n" not in exc.one_line()


@FUZZ
@given(st.binary(max_size=200))
def test_the_loader_survives_any_bytes(raw: bytes) -> None:
    try:
        parse_contract(raw.decode("utf-8", errors="replace"), "fuzz.yaml")
    except ContractError as exc:
        assert "\n" not in exc.one_line()
