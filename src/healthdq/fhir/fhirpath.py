"""The FHIRPath subset SQL-on-FHIR v2 requires, compiled to engine SQL.

A FHIRPath collection becomes a SQL list of strings: an object or array item is its JSON text, a
primitive item its plain text (a JSON string unquoted, a number or boolean as written). Both
engines produce that shape from a JSON document in one function call (DuckDB's
`json_extract_string(x, '$.f[*]')`, Spark's `from_json(..., 'array<string>')`), so every
navigation step is a list operation the engine runs itself; no resource passes through Python.

What differs between the engines (lambda syntax, list function names, the JSON child step) is
data in a `SqlDialect` subclass: one small class per engine, no engine tests elsewhere.

Supported: member navigation (with choice types through `ofType`), indexers, `$this`,
`%constants` and `%rowIndex`, string/number/boolean literals, `= != < > <= >=`, `+ - * / &`,
`and or xor implies`, `|`, and the functions `where exists empty first last count not join
ofType extension getResourceKey getReferenceKey lowBoundary highBoundary`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, ClassVar


class FhirPathError(ValueError):
    """An expression outside the subset, or one that cannot be compiled."""


# -- tokens ---------------------------------------------------------------------------------
_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<string>'(?:[^'\\]|\\.)*')
  | (?P<number>\d+(?:\.\d+)?)
  | (?P<delimited>`[^`]*`)
  | (?P<const>%(?:[A-Za-z_][A-Za-z0-9_]*|`[^`]*`|'[^']*'))
  | (?P<special>\$this|\$index|\$total)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op><=|>=|!=|!~|[-+*/&|=<>~().,\[\]])
    """,
    re.VERBOSE,
)

_ESCAPES = {"'": "'", '"': '"', "`": "`", "\\": "\\", "/": "/", "n": "\n", "t": "\t", "r": "\r"}


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    pos: int


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise FhirPathError(f"unexpected character {text[pos]!r} at position {pos + 1}")
        kind = match.lastgroup or ""
        if kind != "ws":
            tokens.append(Token(kind, match.group(), pos))
        pos = match.end()
    tokens.append(Token("end", "", len(text)))
    return tokens


def _unquote(text: str) -> str:
    body = text[1:-1]
    return re.sub(r"\\(u[0-9a-fA-F]{4}|.)", _escape, body)


def _escape(match: re.Match[str]) -> str:
    code = match.group(1)
    if code.startswith("u") and len(code) == 5:
        return chr(int(code[1:], 16))
    return _ESCAPES.get(code, code)


# -- syntax tree ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Node:
    kind: str  # member fn index binop unop literal const this rowindex empty
    name: str = ""
    base: Node | None = None
    args: tuple[Node, ...] = ()
    value: Any = None
    vtype: str = ""  # literal type: string integer decimal boolean


_BINARY = {
    "implies": 1,
    "or": 2,
    "xor": 2,
    "and": 3,
    "in": 4,
    "contains": 4,
    "=": 5,
    "!=": 5,
    "~": 5,
    "!~": 5,
    "<": 6,
    ">": 6,
    "<=": 6,
    ">=": 6,
    "|": 7,
    "is": 8,
    "as": 8,
    "+": 9,
    "-": 9,
    "&": 9,
    "*": 10,
    "/": 10,
    "div": 10,
    "mod": 10,
}


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.i = 0

    def peek(self) -> Token:
        return self.tokens[self.i]

    def take(self) -> Token:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def expect(self, text: str) -> None:
        token = self.take()
        if token.text != text:
            where = f"position {token.pos + 1}" if token.kind != "end" else "the end"
            raise FhirPathError(f"expected {text!r} at {where}")

    def parse(self) -> Node:
        node = self.expression(0)
        if self.peek().kind != "end":
            token = self.peek()
            raise FhirPathError(f"unexpected {token.text!r} at position {token.pos + 1}")
        return node

    def _binary_op(self) -> str | None:
        token = self.peek()
        if token.kind in ("op", "ident") and token.text in _BINARY:
            return token.text
        return None

    def expression(self, min_prec: int) -> Node:
        left = self.unary()
        while True:
            op = self._binary_op()
            if op is None or _BINARY[op] < min_prec:
                return left
            self.take()
            right = self.expression(_BINARY[op] + 1)
            left = Node("binop", name=op, args=(left, right))

    def unary(self) -> Node:
        token = self.peek()
        if token.kind == "op" and token.text in "+-" and token.text:
            self.take()
            operand = self.unary()
            return operand if token.text == "+" else Node("unop", name="-", args=(operand,))
        return self.postfix(self.term())

    def term(self) -> Node:
        token = self.take()
        if token.kind == "string":
            return Node("literal", value=_unquote(token.text), vtype="string")
        if token.kind == "number":
            is_int = "." not in token.text
            return Node(
                "literal",
                value=int(token.text) if is_int else token.text,
                vtype="integer" if is_int else "decimal",
            )
        if token.kind == "const":
            name = token.text[1:]
            if name[:1] in "`'":
                name = _unquote(name)
            if name == "rowIndex":
                return Node("rowindex")
            return Node("const", name=name)
        if token.kind == "special":
            if token.text == "$this":
                return Node("this")
            raise FhirPathError(f"{token.text} is not supported")
        if token.kind == "op" and token.text == "(":
            inner = self.expression(0)
            self.expect(")")
            return inner
        if token.kind == "op" and token.text == "{":
            self.expect("}")
            return Node("empty")
        if token.kind == "ident" and token.text in ("true", "false"):
            return Node("literal", value=token.text == "true", vtype="boolean")
        if token.kind in ("ident", "delimited"):
            name = token.text if token.kind == "ident" else token.text[1:-1]
            return self.invocation(None, name)
        where = f"position {token.pos + 1}" if token.kind != "end" else "the end"
        raise FhirPathError(f"unexpected {token.text or 'end of expression'!r} at {where}")

    def invocation(self, base: Node | None, name: str) -> Node:
        if self.peek().text == "(":
            self.take()
            args: list[Node] = []
            if self.peek().text != ")":
                args.append(self.expression(0))
                while self.peek().text == ",":
                    self.take()
                    args.append(self.expression(0))
            self.expect(")")
            return Node("fn", name=name, base=base, args=tuple(args))
        return Node("member", name=name, base=base)

    def postfix(self, node: Node) -> Node:
        while True:
            token = self.peek()
            if token.text == ".":
                self.take()
                nxt = self.take()
                if nxt.kind not in ("ident", "delimited"):
                    raise FhirPathError(f"expected a name after '.' at position {nxt.pos + 1}")
                name = nxt.text if nxt.kind == "ident" else nxt.text[1:-1]
                node = self.invocation(node, name)
            elif token.text == "[":
                self.take()
                index = self.expression(0)
                self.expect("]")
                node = Node("index", base=node, args=(index,))
            else:
                return node


def parse(text: str) -> Node:
    """The syntax tree of a FHIRPath expression (FhirPathError if outside the subset)."""
    if not isinstance(text, str) or not text.strip():
        raise FhirPathError("an expression must be a non-empty string")
    return _Parser(text).parse()


# -- engine dialects ------------------------------------------------------------------------
class SqlDialect:
    """The SQL spellings one engine needs; subclasses differ only in these values."""

    name: ClassVar[str] = ""
    index_base: ClassVar[int] = 1  # first index a list lambda's index argument takes
    text_type: ClassVar[str] = "VARCHAR"
    sql_types: ClassVar[dict[str, str]] = {}
    empty_list: ClassVar[str] = ""
    list_of: ClassVar[str] = ""  # one-item list: {x}
    lambda1: ClassVar[str] = ""
    lambda2: ClassVar[str] = ""
    transform: ClassVar[str] = ""
    filter: ClassVar[str] = ""
    flatten: ClassVar[str] = "flatten({c})"
    length: ClassVar[str] = ""
    item: ClassVar[str] = ""  # 1-based item {n} of {c}, NULL when out of range
    slice: ClassVar[str] = ""  # {n} items from 1-based {s}
    concat: ClassVar[str] = ""
    join: ClassVar[str] = ""
    error: ClassVar[str] = ""
    child: ClassVar[str] = ""  # the collection of field {f} of the JSON item {x}
    child_text: ClassVar[str] = ""  # one field {f} of {x} as text (NULL if absent)
    # The resource's top-level fields parsed once: {fields} is the list of names used.
    prefetch: ClassVar[str] = ""
    prefetched: ClassVar[str] = ""  # field {name} (list position {i}, 1-based) of {rf}
    value_child: ClassVar[str] = ""  # the collection a prefetched field value {v} holds
    # A chain of elements below a prefetched field, as one JSONPath ({path}, `[*]` after each
    # repeating element, known from the R4 definitions): a list when the path has a `[*]`,
    # else one value. Empty: this engine walks the chain step by step.
    chain: ClassVar[str] = ""
    struct_field: ClassVar[str] = ""
    explode: ClassVar[str] = ""
    as_text: ClassVar[str] = "CAST({x} AS {t})"
    regexp_extract: ClassVar[str] = "regexp_extract({x}, {p}, {g})"
    ident_quote: ClassVar[str] = '"'

    def quote(self, name: str) -> str:
        q = self.ident_quote
        return q + name.replace(q, q + q) + q

    def string(self, value: str) -> str:
        return "'" + value.replace("'", "''") + "'"

    def struct(self, fields: list[tuple[str, str]]) -> str:
        raise NotImplementedError

    def sql_type(self, fhir_type: str) -> str:
        return self.sql_types.get(fhir_type, self.text_type)

    def typed_null(self, sql_type: str) -> str:
        return f"CAST(NULL AS {sql_type})"

    def list_type(self, sql_type: str) -> str:
        raise NotImplementedError


class DuckDBDialect(SqlDialect):
    name = "duckdb"
    index_base = 1
    text_type = "VARCHAR"
    sql_types = {"boolean": "BOOLEAN", "integer": "BIGINT", "decimal": "DOUBLE"}
    empty_list = "CAST([] AS VARCHAR[])"
    list_of = "[{x}]"
    lambda1 = "lambda {v}: {body}"
    lambda2 = "lambda {v}, {i}: {body}"
    transform = "list_transform({c}, {f})"
    filter = "list_filter({c}, {f})"
    length = "len({c})"
    item = "{c}[{n}]"
    slice = "list_slice({c}, {s}, ({s}) + ({n}) - 1)"
    concat = "list_concat({a}, {b})"
    join = "array_to_string({c}, {sep})"
    error = "error({msg})"
    child = (
        "(CASE WHEN json_type({x}, '$.{f}') = 'ARRAY' THEN json_extract_string({x}, '$.{f}[*]')"
        " WHEN json_extract_string({x}, '$.{f}') IS NULL THEN CAST([] AS VARCHAR[])"
        " ELSE [json_extract_string({x}, '$.{f}')] END)"
    )
    child_text = "json_extract_string({x}, '$.{f}')"
    prefetch = "json_extract({x}, [{paths}])"
    prefetched = "{rf}[{i}]"
    chain = "json_extract_string({v}, '{path}')"
    value_child = (
        "(CASE coalesce(json_type({v}), 'NULL') WHEN 'NULL' THEN CAST([] AS VARCHAR[])"
        " WHEN 'ARRAY' THEN json_extract_string({v}, '$[*]')"
        " ELSE [json_extract_string({v}, '$')] END)"
    )
    struct_field = "{s}.{q}"
    explode = "unnest({c})"
    ident_quote = '"'

    def struct(self, fields: list[tuple[str, str]]) -> str:
        return "struct_pack(" + ", ".join(f"{self.quote(n)} := {e}" for n, e in fields) + ")"

    def list_type(self, sql_type: str) -> str:
        return f"{sql_type}[]"


class SparkDialect(SqlDialect):
    name = "spark"
    index_base = 0
    text_type = "STRING"
    sql_types = {"boolean": "BOOLEAN", "integer": "BIGINT", "decimal": "DOUBLE"}
    empty_list = "CAST(array() AS array<string>)"
    list_of = "array({x})"
    lambda1 = "{v} -> {body}"
    lambda2 = "({v}, {i}) -> {body}"
    transform = "transform({c}, {f})"
    filter = "filter({c}, {f})"
    length = "size({c})"
    item = "try_element_at({c}, {n})"
    slice = "slice({c}, {s}, {n})"
    concat = "concat({a}, {b})"
    join = "array_join({c}, {sep})"
    error = "raise_error({msg})"
    # An array's first item is non-NULL (FHIR forbids empty arrays and nulls in them). Only an
    # object has fields: other items (a primitive's text) are not given to the JSON parser,
    # which would fail on each, slowly (an exception per call: the 2026-12-07 profile).
    child = (
        "(CASE WHEN NOT (startswith({x}, '{{') OR {x} RLIKE '^\\\\s+[{{]')"
        " THEN CAST(array() AS array<string>)"
        " WHEN get_json_object({x}, '$.{f}[0]') IS NOT NULL"
        " THEN from_json(get_json_object({x}, '$.{f}'), 'array<string>')"
        " WHEN get_json_object({x}, '$.{f}') IS NULL THEN CAST(array() AS array<string>)"
        " ELSE array(get_json_object({x}, '$.{f}')) END)"
    )
    child_text = "get_json_object({x}, '$.{f}')"
    prefetch = "from_json({x}, 'map<string,string>')"
    prefetched = "{rf}[{name}]"
    # A field's value as from_json's map gives it: an array's JSON text starts with '['.
    value_child = (
        "(CASE WHEN {v} IS NULL THEN CAST(array() AS array<string>)"
        " WHEN NOT startswith({v}, '[') THEN array({v})"
        " WHEN get_json_object({v}, '$[0]') IS NOT NULL THEN from_json({v}, 'array<string>')"
        " ELSE array({v}) END)"
    )
    struct_field = "{s}.{q}"
    explode = "explode({c})"
    ident_quote = "`"

    def string(self, value: str) -> str:
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"

    def struct(self, fields: list[tuple[str, str]]) -> str:
        return "named_struct(" + ", ".join(f"{self.string(n)}, {e}" for n, e in fields) + ")"

    def list_type(self, sql_type: str) -> str:
        return f"array<{sql_type.lower()}>"


DIALECTS: dict[str, SqlDialect] = {"duckdb": DuckDBDialect(), "spark": SparkDialect()}


def dialect_for(name: str) -> SqlDialect:
    try:
        return DIALECTS[name]
    except KeyError:
        raise FhirPathError(f"no FHIRPath SQL dialect for engine {name!r}") from None


# -- compiled values ------------------------------------------------------------------------
@dataclass(frozen=True)
class Value:
    """A compiled expression: a list of text items (`coll`) or one SQL scalar (NULL = empty)."""

    sql: str
    kind: str  # coll | scalar
    type: str = "text"  # scalar type: text json boolean integer decimal
    member: tuple[Value, str] | None = None  # (base, name) when this is a member step
    keys: tuple[str, ...] | None = None  # JSON keys from the resource (a chain of members)
    single: bool = False  # a collection of at most one item (first(), an indexer)


@dataclass
class Scope:
    """What an expression is evaluated against: the focus item, the resource, the row index."""

    focus: str  # SQL text of the focus item (a JSON document or text)
    root: str  # SQL text of the resource's JSON
    key: str  # SQL text of the resource key (getResourceKey())
    row_index: str = "0"
    constants: dict[str, Value] = field(default_factory=dict)
    # SQL of the resource's prefetched top-level fields (set for the resource itself as focus).
    prefetch: str | None = None


_CHOICE_TYPES = {
    "boolean", "integer", "string", "decimal", "uri", "url", "canonical", "base64Binary",
    "instant", "date", "dateTime", "time", "code", "oid", "id", "markdown", "unsignedInt",
    "positiveInt", "uuid", "integer64",
}  # fmt: skip

_NUMERIC = {"integer", "decimal"}


class Compiler:
    """Compiles FHIRPath syntax trees to one engine's SQL."""

    def __init__(self, dialect: SqlDialect) -> None:
        self.d = dialect
        self._vars = 0
        self.root_fields: list[str] = []  # top-level fields read through the prefetch
        self._prefetch_var: str | None = None
        self.resource_type: str | None = None  # the view's resource (for the R4 definitions)

    # -- helpers ----------------------------------------------------------------------------
    def var(self) -> str:
        self._vars += 1
        return f"_fp{self._vars}"

    def lam(self, v: str, body: str, i: str | None = None) -> str:
        if i is None:
            return self.d.lambda1.format(v=v, body=body)
        return self.d.lambda2.format(v=v, i=i, body=body)

    def map(self, coll: str, fn: Any) -> str:
        v = self.var()
        return self.d.transform.format(c=coll, f=self.lam(v, fn(v)))

    def keep(self, coll: str, fn: Any) -> str:
        v = self.var()
        return self.d.filter.format(c=coll, f=self.lam(v, fn(v)))

    def length(self, coll: str) -> str:
        return self.d.length.format(c=coll)

    def first(self, coll: str) -> str:
        return self.d.item.format(c=coll, n=1)

    def raise_error(self, message: str) -> str:
        return self.d.error.format(msg=self.d.string(message))

    def as_coll(self, value: Value) -> str:
        if value.kind == "coll":
            return value.sql
        text = self.scalar_text(value)
        return (
            f"(CASE WHEN {value.sql} IS NULL THEN {self.d.empty_list}"
            f" ELSE {self.d.list_of.format(x=text)} END)"
        )

    def scalar_text(self, value: Value) -> str:
        if value.kind == "coll":
            return self.first(value.sql)
        if value.type in ("text", "json", "root"):
            return value.sql
        if value.type == "boolean":
            return f"(CASE WHEN {value.sql} THEN 'true' WHEN NOT {value.sql} THEN 'false' END)"
        return self.d.as_text.format(x=value.sql, t=self.d.text_type)

    def singleton(self, value: Value) -> Value:
        """The value as one scalar (the first item of a collection)."""
        if value.kind == "scalar":
            return value
        return Value(self.first(value.sql), "scalar", "text")

    def as_bool(self, value: Value, strict: str | None = None) -> str:
        """A SQL boolean; `strict` raises that message on a non-boolean item."""
        if value.kind == "scalar" and value.type == "boolean":
            return value.sql
        text = self.scalar_text(value)
        other = self.raise_error(strict) if strict else "NULL"
        if value.kind == "scalar" and value.type not in ("text", "json", "root"):
            return other if strict else "NULL"
        return (
            f"(CASE WHEN {text} IS NULL THEN NULL WHEN {text} = 'true' THEN TRUE"
            f" WHEN {text} = 'false' THEN FALSE ELSE {other} END)"
        )

    def as_number(self, value: Value) -> str:
        if value.kind == "scalar" and value.type in _NUMERIC:
            return f"CAST({value.sql} AS DOUBLE)"
        return f"TRY_CAST({self.scalar_text(value)} AS DOUBLE)"

    # -- entry points -----------------------------------------------------------------------
    def compile(self, node: Node, scope: Scope) -> Value:
        root = scope.prefetch is not None and scope.focus == scope.root
        focus = Value(scope.focus, "scalar", "root" if root else "json")
        self._prefetch_var = scope.prefetch
        return self.node(node, focus, scope)

    def prefetch_sql(self, resource: str) -> str:
        """The prefetch expression for the fields compiled so far (parses the resource once)."""
        paths = ", ".join(self.d.string(f"$.{name}") for name in self.root_fields)
        return self.d.prefetch.format(x=resource, paths=paths)

    # -- nodes ------------------------------------------------------------------------------
    def node(self, node: Node, focus: Value, scope: Scope) -> Value:
        kind = node.kind
        if kind == "literal":
            return self.literal(node)
        if kind == "const":
            if node.name not in scope.constants:
                raise FhirPathError(f"constant %{node.name} is not defined")
            return scope.constants[node.name]
        if kind == "rowindex":
            return Value(scope.row_index, "scalar", "integer")
        if kind == "this":
            return focus
        if kind == "empty":
            return Value(self.d.empty_list, "coll")
        if kind == "member":
            base = focus if node.base is None else self.node(node.base, focus, scope)
            return self.member(base, node.name)
        if kind == "index":
            assert node.base is not None
            base = self.node(node.base, focus, scope)
            index = self.node(node.args[0], focus, scope)
            if index.kind == "scalar" and index.type == "integer":
                start = f"({index.sql}) + 1"
            else:
                start = f"TRY_CAST({self.scalar_text(index)} AS BIGINT) + 1"
            return Value(
                self.d.slice.format(c=self.as_coll(base), s=start, n=1), "coll", single=True
            )
        if kind == "fn":
            return self.function(node, focus, scope)
        if kind == "unop":
            operand = self.node(node.args[0], focus, scope)
            return Value(f"(- {self.as_number(operand)})", "scalar", "decimal")
        if kind == "binop":
            return self.binary(node, focus, scope)
        raise FhirPathError(f"unsupported expression {kind}")

    def literal(self, node: Node) -> Value:
        if node.vtype == "string":
            return Value(self.d.string(node.value), "scalar", "text")
        if node.vtype == "boolean":
            return Value("TRUE" if node.value else "FALSE", "scalar", "boolean")
        if node.vtype == "integer":
            return Value(f"CAST({int(node.value)} AS BIGINT)", "scalar", "integer")
        return Value(f"CAST({node.value} AS DOUBLE)", "scalar", "decimal")

    def member(self, base: Value, name: str) -> Value:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise FhirPathError(f"unsupported element name {name!r}")
        keys: tuple[str, ...] | None = None
        if base.kind == "scalar" and base.type == "root" and self._prefetch_var is not None:
            keys = (name,)
            sql = self.d.value_child.format(v=self.root_field(name))
        elif base.keys is not None:
            keys = base.keys + (name,)
            sql = self.chain(keys) or self.step(base, name)
        else:
            sql = self.step(base, name)
        return Value(sql, "coll", member=(base, name), keys=keys)

    def root_field(self, name: str) -> str:
        """The prefetched top-level field `name` of the resource."""
        if name not in self.root_fields:
            self.root_fields.append(name)
        return self.d.prefetched.format(
            rf=self._prefetch_var, i=self.root_fields.index(name) + 1, name=self.d.string(name)
        )

    def step(self, base: Value, name: str) -> str:
        """Field `name` of every item of `base`, one item at a time."""
        if base.kind == "scalar" and base.type in ("json", "root"):
            return self.d.child.format(x=base.sql, f=name)
        coll = self.as_coll(base)
        return self.d.flatten.format(c=self.map(coll, lambda v: self.d.child.format(x=v, f=name)))

    def chain(self, keys: tuple[str, ...]) -> str | None:
        """A chain of elements from a prefetched field as one JSONPath, when the engine can and
        the R4 definitions know whether each element repeats; else None."""
        if not self.d.chain or self.resource_type is None or self._prefetch_var is None:
            return None
        many = _repeats(self.resource_type, keys)
        if many is None:
            return None
        path = "$" + ("[*]" if many[0] else "")
        for key, rep in zip(keys[1:], many[1:], strict=True):
            path += f".{key}" + ("[*]" if rep else "")
        sql = self.d.chain.format(v=self.root_field(keys[0]), path=path)
        if "[*]" in path:
            return f"COALESCE({sql}, {self.d.empty_list})"
        one = self.d.list_of.format(x=sql)
        return f"(CASE WHEN {sql} IS NULL THEN {self.d.empty_list} ELSE {one} END)"

    def filtered(self, base: Value, node: Node, scope: Scope) -> str:
        """Items of `base` for which the criteria `node` is true."""
        coll = self.as_coll(base)
        return self.keep(
            coll,
            lambda v: (
                f"COALESCE({self.as_bool(self.node(node, Value(v, 'scalar', 'json'), scope))}"
                ", FALSE)"
            ),
        )

    def function(self, node: Node, focus: Value, scope: Scope) -> Value:
        name, args = node.name, node.args
        base = focus if node.base is None else self.node(node.base, focus, scope)

        def arity(*allowed: int) -> None:
            if len(args) not in allowed:
                raise FhirPathError(f"{name}() takes {' or '.join(map(str, allowed))} argument(s)")

        if name == "where":
            arity(1)
            return Value(self.filtered(base, args[0], scope), "coll")
        if name == "exists":
            arity(0, 1)
            coll = self.filtered(base, args[0], scope) if args else self.as_coll(base)
            return Value(f"({self.length(coll)} > 0)", "scalar", "boolean")
        if name == "empty":
            arity(0)
            return Value(f"({self.length(self.as_coll(base))} = 0)", "scalar", "boolean")
        if name == "count":
            arity(0)
            return Value(self.length(self.as_coll(base)), "scalar", "integer")
        if name == "first":
            arity(0)
            if base.kind == "scalar":
                return base
            return Value(self.d.slice.format(c=base.sql, s=1, n=1), "coll", single=True)
        if name == "last":
            arity(0)
            coll = self.as_coll(base)
            return Value(self.d.slice.format(c=coll, s=self.length(coll), n=1), "coll", single=True)
        if name == "not":
            arity(0)
            return Value(f"(NOT {self.as_bool(base)})", "scalar", "boolean")
        if name == "join":
            arity(0, 1)
            sep = self.scalar_text(self.node(args[0], focus, scope)) if args else "''"
            return Value(self.d.join.format(c=self.as_coll(base), sep=sep), "scalar", "text")
        if name == "ofType":
            arity(1)
            return self.of_type(base, args[0])
        if name == "extension":
            arity(1)
            url = self.scalar_text(self.node(args[0], focus, scope))
            ext = self.member(base, "extension")
            return Value(
                self.keep(ext.sql, lambda v: f"{self.d.child_text.format(x=v, f='url')} = {url}"),
                "coll",
            )
        if name == "getResourceKey":
            arity(0)
            return Value(scope.key, "scalar", "text")
        if name == "getReferenceKey":
            arity(0, 1)
            return self.reference_key(base, args)
        if name in ("lowBoundary", "highBoundary"):
            arity(0, 1)
            return self.boundary(base, name == "lowBoundary")
        raise FhirPathError(f"function {name}() is not supported")

    def of_type(self, base: Value, type_node: Node) -> Value:
        if type_node.kind != "member" or type_node.base is not None:
            raise FhirPathError("ofType() needs a type name")
        type_name = type_node.name.split(".")[-1]
        if base.member is None:
            raise FhirPathError("ofType() is supported on an element (a choice type like value)")
        parent, element = base.member
        return self.member(parent, element + type_name[:1].upper() + type_name[1:])

    def reference_key(self, base: Value, args: tuple[Node, ...]) -> Value:
        refs = self.map(
            self.as_coll(base),
            lambda v: self.d.regexp_extract.format(
                x=self.d.child_text.format(x=v, f="reference"),
                p=self.d.string(KEY_PATTERN),
                g=1,
            ),
        )
        if args:
            type_node = args[0]
            if type_node.kind != "member" or type_node.base is not None:
                raise FhirPathError("getReferenceKey() takes a resource type name")
            prefix = type_node.name + "/"
            keep = self.keep(
                refs,
                lambda v: f"substring({v}, 1, {len(prefix)}) = {self.d.string(prefix)}",
            )
        else:
            keep = self.keep(refs, lambda v: f"{v} <> ''")
        return Value(keep, "coll")

    def boundary(self, base: Value, low: bool) -> Value:
        """lowBoundary()/highBoundary() of a decimal, date, dateTime or time.

        Which of these a value is comes from its element name (`birthDate`, `valueDate` are
        dates, `valueTime` a time) and else from its shape (`YYYY-...` a dateTime).
        """
        text = self.scalar_text(self.singleton(base))
        d = self.d

        def shape(pattern: str) -> str:
            return f"regexp_extract({text}, {d.string(pattern)}, 0) <> ''"

        # A decimal: half a unit of its last written digit either way.
        digits = f"length(regexp_extract({text}, {d.string('[.]([0-9]*)$')}, 1))"
        sign = "-" if low else "+"
        decimal = f"(TRY_CAST({text} AS DOUBLE) {sign} 0.5 * power(10.0, -{digits}))"
        # A date: the first or last day it can mean.
        year, month, day = "^[0-9]{4}$", "^[0-9]{4}-[0-9]{2}$", "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
        if low:
            month_day, year_end = "'-01'", "'-01-01'"
        else:
            last = f"day(last_day(CAST({text} || '-01' AS DATE)))"
            month_day = f"'-' || lpad(CAST({last} AS {d.text_type}), 2, '0')"
            year_end = "'-12-31'"
        date_sql = (
            f"(CASE WHEN {shape(year)} THEN {text} || {year_end}"
            f" WHEN {shape(month)} THEN {text} || {month_day}"
            f" WHEN {shape(day)} THEN {text} END)"
        )
        # A dateTime: the earliest or latest instant, across time zones (+14:00 to -12:00).
        stamp = "'T00:00:00.000+14:00'" if low else "'T23:59:59.999-12:00'"
        datetime_sql = f"(CASE WHEN {text} LIKE '%T%' THEN {text} ELSE {date_sql} || {stamp} END)"
        ms = "'.000'" if low else "'.999'"
        time_sql = f"(CASE WHEN {shape('^[0-9]{2}:[0-9]{2}:[0-9]{2}$')} THEN {text} || {ms} END)"
        name = base.member[1] if base.member is not None else ""
        if name.endswith(("Date", "date")):
            return Value(date_sql, "scalar", "text")
        if name.endswith(("Time", "time")) and not name.endswith(("DateTime", "dateTime")):
            return Value(time_sql, "scalar", "text")
        if name.endswith(("DateTime", "Instant")):
            return Value(datetime_sql, "scalar", "text")
        return Value(
            f"(CASE WHEN {shape('^[0-9]{4}-')} THEN {datetime_sql}"
            f" ELSE CAST({decimal} AS {d.text_type}) END)",
            "scalar",
            "text",
        )

    def compare(self, op: str, left: Value, right: Value) -> str:
        sql_op = {"=": "=", "!=": "<>", "~": "=", "!~": "<>"}.get(op, op)
        types = {
            left.type if left.kind == "scalar" else "text",
            right.type if right.kind == "scalar" else "text",
        }
        if "boolean" in types:
            return f"({self.as_bool(left)} {sql_op} {self.as_bool(right)})"
        if types & _NUMERIC:
            return f"({self.as_number(left)} {sql_op} {self.as_number(right)})"
        lt, rt = self.scalar_text(left), self.scalar_text(right)
        if op in ("~", "!~"):
            lt, rt = f"lower({lt})", f"lower({rt})"
        if (
            left.kind == "scalar"
            and left.type == "text"
            or right.kind == "scalar"
            and right.type == "text"
        ):
            return f"({lt} {sql_op} {rt})"
        ln, rn = f"TRY_CAST({lt} AS DOUBLE)", f"TRY_CAST({rt} AS DOUBLE)"
        return (
            f"(CASE WHEN {ln} IS NOT NULL AND {rn} IS NOT NULL THEN {ln} {sql_op} {rn}"
            f" ELSE {lt} {sql_op} {rt} END)"
        )

    def binary(self, node: Node, focus: Value, scope: Scope) -> Value:
        op = node.name
        left = self.node(node.args[0], focus, scope)
        right = self.node(node.args[1], focus, scope)
        if op in ("and", "or"):
            return Value(
                f"({self.as_bool(left)} {op.upper()} {self.as_bool(right)})", "scalar", "boolean"
            )
        if op == "xor":
            return Value(f"({self.as_bool(left)} <> {self.as_bool(right)})", "scalar", "boolean")
        if op == "implies":
            return Value(
                f"((NOT {self.as_bool(left)}) OR {self.as_bool(right)})", "scalar", "boolean"
            )
        if op in ("=", "!=", "~", "!~", "<", ">", "<=", ">="):
            return Value(self.compare(op, left, right), "scalar", "boolean")
        if op in ("+", "-", "*", "/"):
            typ = (
                "integer"
                if op != "/"
                and left.type == right.type == "integer"
                and left.kind == right.kind == "scalar"
                else "decimal"
            )
            return Value(f"({self.as_number(left)} {op} {self.as_number(right)})", "scalar", typ)
        if op == "&":
            lt = f"COALESCE({self.scalar_text(left)}, '')"
            rt = f"COALESCE({self.scalar_text(right)}, '')"
            return Value(f"({lt} || {rt})", "scalar", "text")
        if op == "|":
            return Value(self.d.concat.format(a=self.as_coll(left), b=self.as_coll(right)), "coll")
        raise FhirPathError(f"operator {op!r} is not supported")


def _repeats(resource_type: str, keys: tuple[str, ...]) -> list[bool] | None:
    """Whether each element along `keys` repeats (a JSON array), from the R4 definitions;
    None when a key is not an element there."""
    from healthdq.fhir.definitions import load

    try:
        definitions = load()
    except (OSError, ValueError):
        return None
    out = []
    for n in range(1, len(keys) + 1):
        resolved = definitions.resolve(resource_type, list(keys[:n]))
        if resolved.status != "ok":
            return None
        out.append(resolved.many)
    return out


# `Type/id` at the end of a reference (an absolute URL, a relative one, a versioned one).
KEY_PATTERN = "([A-Za-z]+/[A-Za-z0-9.-]+)(/_history/[A-Za-z0-9.-]+)?$"
