"""What user SQL in a contract may contain: an expression over the table's own columns.

Contracts and packs are exchanged between organisations, so their SQL is untrusted. Every
expression (`predicate`, `denominator`, `when`, compare's `left` and `right`) is parsed with
sqlglot and every node of the tree must be on an allow-list: column references without a table
qualifier, literals, operators, CASE/COALESCE/CAST and pure scalar functions (string, maths,
date, regular expressions). Anything else is refused: subqueries, table functions (read_text,
read_csv, glob...), settings, pragma, file or network functions, aggregates and windows,
parameters, lambdas, and references to other relations. The engine then runs the tree that was
checked (rendered from it), never the user's text, so what was checked is what runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import sqlglot
from sqlglot import exp

from healthdq.errors import ContractError

if TYPE_CHECKING:
    from healthdq.rules.model import Contract

# Longer than any real rule; bounds parse time and recursion depth on hostile input.
MAX_SQL_CHARS = 4000
MAX_DEPTH = 60


class SandboxError(ValueError):
    """User SQL that a contract may not hold; the message says what was refused."""


# Structure, literals, operators and predicates.
_NODES: tuple[type[exp.Expr], ...] = (
    exp.Column,
    exp.Identifier,
    exp.Literal,
    exp.Boolean,
    exp.Null,
    exp.Paren,
    exp.DataType,
    exp.DataTypeParam,
    exp.Interval,
    exp.And,
    exp.Or,
    exp.Not,
    exp.Xor,
    exp.EQ,
    exp.NEQ,
    exp.GT,
    exp.GTE,
    exp.LT,
    exp.LTE,
    exp.NullSafeEQ,
    exp.NullSafeNEQ,
    exp.Is,
    exp.In,
    exp.Between,
    exp.Like,
    exp.ILike,
    exp.SimilarTo,
    exp.Escape,
    exp.Add,
    exp.Sub,
    exp.Mul,
    exp.Div,
    exp.IntDiv,
    exp.Mod,
    exp.Neg,
    exp.DPipe,
    exp.Case,
    exp.If,
    exp.Cast,
    exp.TryCast,
)

# Pure scalar functions sqlglot knows by class (the SQL name is shown in errors).
_FUNCTIONS: tuple[type[exp.Expr], ...] = (
    # conditional
    exp.Coalesce,
    exp.Nullif,
    exp.Least,
    exp.Greatest,
    # string
    exp.Upper,
    exp.Lower,
    exp.Length,
    exp.Trim,
    exp.Substring,
    exp.Left,
    exp.Right,
    exp.Concat,
    exp.ConcatWs,
    exp.Replace,
    exp.Pad,
    exp.StartsWith,
    exp.EndsWith,
    exp.Contains,
    exp.StrPosition,
    exp.Initcap,
    exp.Reverse,
    # regular expressions
    exp.RegexpLike,
    exp.RegexpILike,
    exp.RegexpFullMatch,
    exp.RegexpExtract,
    exp.RegexpReplace,
    # maths
    exp.Abs,
    exp.Round,
    exp.Floor,
    exp.Ceil,
    exp.Sqrt,
    exp.Ln,
    exp.Log,
    exp.Pow,
    exp.Sign,
    # dates
    exp.CurrentDate,
    exp.CurrentTimestamp,
    exp.Extract,
    exp.Year,
    exp.Month,
    exp.Day,
    exp.DayOfWeek,
    exp.DateDiff,
    exp.DateAdd,
    exp.DateSub,
    exp.DateTrunc,
    exp.TimestampTrunc,
    exp.StrToTime,
    exp.StrToDate,
    exp.TimeToStr,
    exp.DateFromParts,
    exp.LastDay,
)

# DuckDB scalar functions sqlglot keeps by name (exp.Anonymous), lower case.
_NAMED_FUNCTIONS = frozenset(
    {
        "strlen",
        "length_grapheme",
        "try_strptime",
        "date_part",
        "datepart",
        "ends_with",
        "suffix",
        "prefix",
        "isnan",
        "isfinite",
        "isinf",
        "trunc",
        "ascii",
        "chr",
        "lcase",
        "ucase",
    }
)

# A bare keyword (date part, interval unit, collation) is allowed only as these nodes' argument.
_VAR_PARENTS: tuple[type[exp.Expr], ...] = (
    exp.Extract,
    exp.DateDiff,
    exp.DateAdd,
    exp.DateSub,
    exp.DateTrunc,
    exp.TimestampTrunc,
    exp.Interval,
)

_ALLOWED = _NODES + _FUNCTIONS
_NAMES = {
    exp.Subquery: "a subquery",
    exp.Select: "a subquery",
    exp.Union: "a subquery",
    exp.Exists: "a subquery",
    exp.Table: "a table reference",
    exp.From: "a table reference",
    exp.Star: "'*'",
    exp.Placeholder: "a parameter",
    exp.Parameter: "a parameter",
    exp.Window: "a window function",
    exp.AggFunc: "an aggregate function",
    exp.Lambda: "a lambda",
    exp.Block: "several statements",
}


def _describe(node: exp.Expr) -> str:
    if isinstance(node, exp.Anonymous):
        return f"function '{node.name.lower()}'"
    for cls, label in _NAMES.items():
        if isinstance(node, cls):
            return label
    if isinstance(node, exp.Func):
        return f"function '{node.sql_name().lower()}'"
    return f"'{node.key}'"


def _check_node(node: exp.Expr) -> None:
    if isinstance(node, exp.Column):
        if node.args.get("table") or node.args.get("db") or node.args.get("catalog"):
            raise SandboxError(
                f"column '{node.sql(dialect='duckdb')}' names another relation: "
                "a contract expression may use only its own table's columns"
            )
        if not isinstance(node.this, exp.Identifier):
            raise SandboxError(f"{_describe(node.this)} is not allowed in a contract expression")
        return
    if isinstance(node, exp.Anonymous):
        if node.name.lower() in _NAMED_FUNCTIONS:
            return
        raise SandboxError(f"{_describe(node)} is not allowed in a contract expression")
    if isinstance(node, exp.Var):
        if isinstance(node.parent, _VAR_PARENTS):
            return
        raise SandboxError(f"'{node.name}' is not allowed here in a contract expression")
    if isinstance(node, exp.In) and any(node.args.get(k) for k in ("query", "unnest", "field")):
        raise SandboxError("IN may only list values in a contract expression, not a subquery")
    if type(node) in _ALLOWED:
        return
    raise SandboxError(f"{_describe(node)} is not allowed in a contract expression")


def check_tree(tree: exp.Expr) -> exp.Expr:
    """Raise SandboxError unless every node of `tree` is on the allow-list."""
    for node in tree.walk():
        _check_node(node)
        if node.depth > MAX_DEPTH:
            raise SandboxError(f"expression nested deeper than {MAX_DEPTH} levels")
    return tree


def parse_expression(sql: str) -> exp.Expr:
    """Parse user SQL (DuckDB syntax) and check it; raise SandboxError with a one-line reason."""
    if not isinstance(sql, str):
        raise SandboxError("expected SQL text")
    if len(sql) > MAX_SQL_CHARS:
        raise SandboxError(f"expression longer than {MAX_SQL_CHARS} characters")
    if not sql.strip():
        raise SandboxError("empty SQL")
    try:
        tree = sqlglot.parse_one(sql, read="duckdb")
    except sqlglot.errors.SqlglotError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SandboxError(f"invalid SQL: {first}") from None
    except RecursionError:
        raise SandboxError(f"expression nested deeper than {MAX_DEPTH} levels") from None
    if tree is None:
        raise SandboxError("empty SQL")
    if isinstance(tree, exp.Query | exp.DML | exp.DDL | exp.Command | exp.Block):
        raise SandboxError("must be an expression, not a statement")
    return check_tree(tree)


def contract_source(contract: Contract, source: str) -> str:
    """A contract's `source:` resolved inside its folder, or a ContractError naming the file."""
    try:
        return resolve_source(source, contract.path)
    except SandboxError as exc:
        raise ContractError(str(exc), path=contract.path) from None


# -- the contract's `source:` files -------------------------------------------------------------
def resolve_source(source: str, contract_path: str | None) -> str:
    """A table's `source:` as a path inside the contract's folder, or SandboxError.

    A contract names files relative to itself; an absolute path, a URL or a `..` escape would let
    a contract from elsewhere choose what is read, so they are refused (pass such data on the
    command line instead, where the user chooses it).
    """
    text = str(source).strip()
    if not text:
        raise SandboxError("source: is empty")
    if "://" in text or text.split(":", 1)[0].lower() in ("postgres", "postgresql", "s3"):
        raise SandboxError(
            f"source '{text}' is not a file next to the contract: pass it as TABLE=LOCATION"
        )
    path = Path(text)
    if path.is_absolute() or text.startswith(("~", "\\")) or (len(text) > 1 and text[1] == ":"):
        raise SandboxError(
            f"source '{text}' is an absolute path: a contract may name only files in its own "
            "folder (pass other data as TABLE=PATH)"
        )
    if ".." in path.parts or ".." in Path(text.replace("\\", "/")).parts:
        raise SandboxError(
            f"source '{text}' leaves the contract's folder: a contract may name only files "
            "in its own folder (pass other data as TABLE=PATH)"
        )
    base = Path(contract_path).resolve().parent if contract_path else Path.cwd().resolve()
    resolved = (base / path).resolve()
    # Symbolic links may point outside: the resolved path must still be inside the folder.
    globbed = any(ch in text for ch in "*?[")
    if not globbed and not resolved.is_relative_to(base):
        raise SandboxError(f"source '{text}' resolves outside the contract's folder")
    return str(base / path) if globbed else str(resolved)


def relative_source(data: str, contract_file: str | Path) -> str | None:
    """`data` as a contract at `contract_file` may name it; None if outside the folder."""
    base = Path(contract_file).resolve().parent
    try:
        return Path(data).resolve().relative_to(base).as_posix()
    except ValueError:
        return None
