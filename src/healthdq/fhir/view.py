"""SQL-on-FHIR v2 ViewDefinitions compiled to one SQL query the engine runs.

A view compiles to a single SELECT over the resource table (`fhir_resources`, FHIR_CONTRACT):
`WHERE resource_type = <resource>` plus the view's `where` paths, one expression per column.
A view whose selects iterate (`forEach`, `forEachOrNull`, `repeat`, `unionAll`) compiles to a
list of row structs per resource that the engine unnests; nested iterations are nested list
lambdas, `unionAll` a list concatenation, `repeat` a bounded unrolled descent (REPEAT_DEPTH
levels). The FHIRPath in paths compiles through `fhirpath.py`.

    from healthdq.fhir.view import run_view, view_sql, builtin_views
    table = run_view(engine, view_definition)            # a pyarrow Table
    sql = view_sql(view_definition, dialect="spark")

Errors in a ViewDefinition raise ViewError naming the JSON path (`$.select[0].forEach`);
the checks that need the data (a non-collection column with several values, a `where` path
that is not boolean) are raised by the engine while the query runs and reported the same way.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from importlib import resources as importlib_resources
from typing import TYPE_CHECKING, Any

from healthdq.errors import HealthdqError
from healthdq.fhir.fhirpath import (
    Compiler,
    FhirPathError,
    Scope,
    SqlDialect,
    Value,
    dialect_for,
    parse,
)

if TYPE_CHECKING:
    import pyarrow as pa

    from healthdq.engine.base import Engine

# How many levels `repeat` follows (each level one nested list lambda in the SQL).
REPEAT_DEPTH = 8
# Marks the engine errors our own SQL raises, so they are reported as view errors.
RUNTIME_MARK = "healthdq-view"

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_NODE_KEYS = {"column", "select", "forEach", "forEachOrNull", "repeat", "unionAll", "description"}
_COLUMN_KEYS = {"name", "path", "type", "collection", "description", "tag"}
_VIEW_KEYS = {
    "resourceType", "url", "identifier", "name", "title", "meta", "version", "status",
    "experimental", "publisher", "contact", "description", "useContext", "copyright",
    "resource", "fhirVersion", "constant", "select", "where", "id", "text", "extension",
    "language", "implicitRules", "modifierExtension", "date", "jurisdiction", "purpose",
    "profile", "tag",
}  # fmt: skip
_INTEGER_CONSTANTS = {"valueInteger", "valuePositiveInt", "valueUnsignedInt", "valueInteger64"}


class ViewError(HealthdqError):
    """A ViewDefinition that cannot be compiled or run: names the JSON path of the problem."""

    def __init__(self, message: str, json_path: str = "$", *, path: str | None = None) -> None:
        self.json_path = json_path
        super().__init__(f"{json_path}: {message}", path=path)


@dataclass
class _Rows:
    """What a select produces per focus: one row of expressions, or a list of row structs."""

    columns: list[tuple[str, str]]  # (name, SQL type) in output order
    exprs: list[str] = field(default_factory=list)  # one row: an expression per column
    rows: str | None = None  # else: SQL list of structs


@dataclass
class CompiledView:
    resource: str
    columns: list[tuple[str, str]]  # (name, SQL type)
    fhir_types: dict[str, str]
    sql: str


class _ViewCompiler:
    def __init__(self, dialect: SqlDialect, source: str) -> None:
        self.d = dialect
        self.fp = Compiler(dialect)
        self.source = source
        self.names: set[str] = set()
        self.fhir_types: dict[str, str] = {}

    # -- FHIRPath --------------------------------------------------------------------------
    def path(self, text: Any, scope: Scope, where: str) -> Value:
        if not isinstance(text, str):
            raise ViewError("a FHIRPath expression must be a string", where)
        try:
            return self.fp.compile(parse(text), scope)
        except FhirPathError as exc:
            raise ViewError(str(exc), where) from None

    def struct_list(self, rows: _Rows) -> str:
        if rows.rows is not None:
            return rows.rows
        return self.d.list_of.format(
            x=self.d.struct(list(zip(_names(rows), rows.exprs, strict=True)))
        )

    # -- columns -------------------------------------------------------------------------------
    def column(self, col: Any, scope: Scope, where: str) -> tuple[str, str, str]:
        if not isinstance(col, dict):
            raise ViewError("a column must be an object", where)
        unknown = set(col) - _COLUMN_KEYS
        if unknown:
            raise ViewError(f"unknown column property {sorted(unknown)[0]!r}", where)
        name = col.get("name")
        if not isinstance(name, str) or not _NAME.match(name):
            raise ViewError("a column needs a name of letters, digits and _", f"{where}.name")
        if name in self.names:
            raise ViewError(f"column name {name!r} is used twice", f"{where}.name")
        self.names.add(name)
        fhir_type = col.get("type")
        if fhir_type is not None and not isinstance(fhir_type, str):
            raise ViewError("type must be a string", f"{where}.type")
        collection = col.get("collection", False)
        if not isinstance(collection, bool):
            raise ViewError("collection must be true or false", f"{where}.collection")
        value = self.path(col.get("path"), scope, f"{where}.path")
        if fhir_type is None:
            fhir_type = {"boolean": "boolean", "integer": "integer", "decimal": "decimal"}.get(
                value.type if value.kind == "scalar" else "", "string"
            )
        self.fhir_types[name] = fhir_type
        sql_type = self.d.sql_type(_type_class(fhir_type))
        if collection:
            coll = self.fp.as_coll(value)
            expr = self.fp.map(coll, lambda v: self.convert(Value(v, "scalar", "text"), fhir_type))
            return name, self.d.list_type(sql_type), expr
        if value.kind == "scalar":
            return name, sql_type, self.convert(value, fhir_type)
        if value.single:
            first = Value(self.fp.first(value.sql), "scalar", "text")
            return name, sql_type, f"CAST({self.convert(first, fhir_type)} AS {sql_type})"
        message = (
            f"{RUNTIME_MARK}: {where}: column {name!r} has more than one value;"
            " set collection: true"
        )
        one = self.fp.map(
            self.d.list_of.format(x=value.sql),
            lambda v: (
                f"CASE WHEN {self.fp.length(v)} > 1 THEN {self.fp.raise_error(message)}"
                f" ELSE {self.convert(Value(self.fp.first(v), 'scalar', 'text'), fhir_type)} END"
            ),
        )
        return name, sql_type, f"CAST({self.fp.first(one)} AS {sql_type})"

    def convert(self, value: Value, fhir_type: str) -> str:
        cls = _type_class(fhir_type)
        if cls == "boolean":
            return self.fp.as_bool(value)
        if cls == "integer":
            if value.kind == "scalar" and value.type == "integer":
                return f"CAST({value.sql} AS BIGINT)"
            return f"TRY_CAST({self.fp.scalar_text(value)} AS BIGINT)"
        if cls == "decimal":
            return self.fp.as_number(value)
        return self.fp.scalar_text(value)

    # -- selects -------------------------------------------------------------------------------
    def node(self, node: Any, scope: Scope, where: str) -> _Rows:
        if not isinstance(node, dict):
            raise ViewError("a select must be an object", where)
        unknown = set(node) - _NODE_KEYS
        if unknown:
            raise ViewError(f"unknown select property {sorted(unknown)[0]!r}", where)
        iterators = [k for k in ("forEach", "forEachOrNull", "repeat") if k in node]
        if len(iterators) > 1:
            raise ViewError("use one of forEach, forEachOrNull and repeat", where)
        if not iterators:
            return self.body(node, scope, where)
        key = iterators[0]
        if key == "repeat":
            paths = node["repeat"]
            if not isinstance(paths, list) or not paths:
                raise ViewError("repeat must be a list of FHIRPath expressions", f"{where}.repeat")
            items = self.repeat(paths, scope, f"{where}.repeat")
        else:
            items = self.fp.as_coll(self.path(node[key], scope, f"{where}.{key}"))
            if key == "forEachOrNull":
                items = (
                    f"(CASE WHEN {self.fp.length(items)} = 0"
                    f" THEN {self.d.list_of.format(x=self.d.typed_null(self.d.text_type))}"
                    f" ELSE {items} END)"
                )
        v, i = self.fp.var(), self.fp.var()
        index = f"({i} - {self.d.index_base})" if self.d.index_base else i
        inner_scope = Scope(v, scope.root, scope.key, index, scope.constants)
        inner = self.body(node, inner_scope, where)
        body = self.struct_list(inner)
        lam = self.fp.lam(v, body, i)
        rows = self.d.flatten.format(c=self.d.transform.format(c=items, f=lam))
        return _Rows(inner.columns, rows=rows)

    def repeat(self, paths: list[Any], scope: Scope, where: str) -> str:
        nodes = []
        for n, text in enumerate(paths):
            if not isinstance(text, str):
                raise ViewError("a FHIRPath expression must be a string", f"{where}[{n}]")
            try:
                nodes.append(parse(text))
            except FhirPathError as exc:
                raise ViewError(str(exc), f"{where}[{n}]") from None

        def children(focus: str) -> str:
            sub = Scope(focus, scope.root, scope.key, scope.row_index, scope.constants)
            colls = [self.fp.as_coll(self.fp.compile(n, sub)) for n in nodes]
            out = colls[0]
            for c in colls[1:]:
                out = self.d.concat.format(a=out, b=c)
            return out

        def descend(focus: str, depth: int) -> str:
            if depth == 0:
                return self.d.empty_list
            kids = children(focus)
            return self.d.flatten.format(
                c=self.fp.map(
                    kids,
                    lambda c: self.d.concat.format(
                        a=self.d.list_of.format(x=c), b=descend(c, depth - 1)
                    ),
                )
            )

        try:
            return descend(scope.focus, REPEAT_DEPTH)
        except FhirPathError as exc:
            raise ViewError(str(exc), where) from None

    def body(self, node: dict[str, Any], scope: Scope, where: str) -> _Rows:
        parts: list[_Rows] = []
        cols = node.get("column", [])
        if not isinstance(cols, list):
            raise ViewError("column must be a list", f"{where}.column")
        single = _Rows([])
        for n, col in enumerate(cols):
            name, sql_type, expr = self.column(col, scope, f"{where}.column[{n}]")
            single.columns.append((name, sql_type))
            single.exprs.append(expr)
        parts.append(single)
        selects = node.get("select", [])
        if not isinstance(selects, list):
            raise ViewError("select must be a list", f"{where}.select")
        for n, sub in enumerate(selects):
            parts.append(self.node(sub, scope, f"{where}.select[{n}]"))
        if "unionAll" in node:
            parts.append(self.union(node["unionAll"], scope, f"{where}.unionAll"))
        if not any(p.columns for p in parts) and "unionAll" not in node:
            raise ViewError("a select needs a column, a select or a unionAll", where)
        out = parts[0]
        for part in parts[1:]:
            out = self.cross(out, part)
        return out

    def union(self, branches: Any, scope: Scope, where: str) -> _Rows:
        if not isinstance(branches, list) or not branches:
            raise ViewError("unionAll must be a non-empty list of selects", where)
        names_before = set(self.names)
        compiled: list[_Rows] = []
        for n, branch in enumerate(branches):
            self.names = set(names_before)  # each branch declares the same columns
            compiled.append(self.node(branch, scope, f"{where}[{n}]"))
        first = _names(compiled[0])
        for n, rows in enumerate(compiled[1:], start=1):
            if _names(rows) != first:
                raise ViewError(
                    f"unionAll branches must have the same columns in the same order"
                    f" ({', '.join(first)} vs {', '.join(_names(rows))})",
                    f"{where}[{n}]",
                )
        out = self.struct_list(compiled[0])
        for rows in compiled[1:]:
            out = self.d.concat.format(a=out, b=self.struct_list(rows))
        return _Rows(compiled[0].columns, rows=out)

    def cross(self, a: _Rows, b: _Rows) -> _Rows:
        columns = a.columns + b.columns
        if a.rows is None and b.rows is None:
            return _Rows(columns, exprs=a.exprs + b.exprs)
        if a.rows is None and not a.columns:
            return b
        if b.rows is None and not b.columns:
            return a

        def fields(rows: _Rows, var: str) -> list[str]:
            if rows.rows is None:
                return rows.exprs
            return [self.d.struct_field.format(s=var, q=self.d.quote(n)) for n in _names(rows)]

        names = [n for n, _ in columns]
        if a.rows is not None and b.rows is not None:
            sql = self.d.flatten.format(
                c=self.fp.map(
                    a.rows,
                    lambda x: self.fp.map(
                        b.rows or "",
                        lambda y: self.d.struct(
                            list(zip(names, fields(a, x) + fields(b, y), strict=True))
                        ),
                    ),
                )
            )
        elif a.rows is not None:
            sql = self.fp.map(
                a.rows,
                lambda x: self.d.struct(list(zip(names, fields(a, x) + b.exprs, strict=True))),
            )
        else:
            sql = self.fp.map(
                b.rows or "",
                lambda y: self.d.struct(list(zip(names, a.exprs + fields(b, y), strict=True))),
            )
        return _Rows(columns, rows=sql)

    # -- the view ------------------------------------------------------------------------------
    def constants(self, items: Any) -> dict[str, Value]:
        out: dict[str, Value] = {}
        if items is None:
            return out
        if not isinstance(items, list):
            raise ViewError("constant must be a list", "$.constant")
        for n, item in enumerate(items):
            where = f"$.constant[{n}]"
            if not isinstance(item, dict):
                raise ViewError("a constant must be an object", where)
            name = item.get("name")
            if not isinstance(name, str) or not _NAME.match(name):
                raise ViewError("a constant needs a name", f"{where}.name")
            values = [k for k in item if k.startswith("value")]
            if len(values) != 1:
                raise ViewError(f"constant {name!r} needs exactly one value[x]", where)
            key = values[0]
            raw = item[key]
            if key == "valueBoolean":
                if not isinstance(raw, bool):
                    raise ViewError("valueBoolean must be true or false", f"{where}.{key}")
                out[name] = Value("TRUE" if raw else "FALSE", "scalar", "boolean")
            elif key in _INTEGER_CONSTANTS:
                if not isinstance(raw, int) or isinstance(raw, bool):
                    raise ViewError(f"{key} must be an integer", f"{where}.{key}")
                out[name] = Value(f"CAST({raw} AS BIGINT)", "scalar", "integer")
            elif key == "valueDecimal":
                if not isinstance(raw, (int, float)) or isinstance(raw, bool):
                    raise ViewError("valueDecimal must be a number", f"{where}.{key}")
                out[name] = Value(f"CAST({float(raw)!r} AS DOUBLE)", "scalar", "decimal")
            else:
                if not isinstance(raw, str):
                    raise ViewError(f"{key} must be a string", f"{where}.{key}")
                out[name] = Value(self.d.string(raw), "scalar", "text")
        return out

    def view(self, view: Any) -> CompiledView:
        if not isinstance(view, dict):
            raise ViewError("a ViewDefinition must be a JSON object")
        resource = view.get("resource")
        if not isinstance(resource, str) or not _NAME.match(resource):
            raise ViewError('a ViewDefinition needs a resource (e.g. "Patient")', "$.resource")
        unknown = set(view) - _VIEW_KEYS
        if unknown:
            raise ViewError(f"unknown property {sorted(unknown)[0]!r}", "$")
        selects = view.get("select")
        if not isinstance(selects, list) or not selects:
            raise ViewError("a ViewDefinition needs a non-empty select list", "$.select")
        q = self.d.quote
        self.fp.resource_type = resource
        root = self.d.as_text.format(x=q("resource"), t=self.d.text_type)
        key = f"{q('resource_type')} || '/' || {q('id')}"
        scope = Scope(root, root, key, "0", self.constants(view.get("constant")), prefetch=q("_rf"))
        rows = self.body({"select": selects}, scope, "$")
        filters = []
        wheres = view.get("where", [])
        if not isinstance(wheres, list):
            raise ViewError("where must be a list", "$.where")
        for n, item in enumerate(wheres):
            where = f"$.where[{n}].path"
            if not isinstance(item, dict):
                raise ViewError("a where item must be an object with a path", f"$.where[{n}]")
            value = self.path(item.get("path"), scope, where)
            if value.kind == "scalar" and value.type not in ("boolean", "text", "json", "root"):
                raise ViewError("a where path must be boolean", where)
            message = f"{RUNTIME_MARK}: {where}: the path does not give a boolean"
            filters.append(f"COALESCE({self.fp.as_bool(value, strict=message)}, FALSE)")
        names = _names(rows)
        # The resource's top-level fields the view reads are parsed once per resource.
        prefetch = (
            f", {self.fp.prefetch_sql(q('resource'))} AS {q('_rf')}" if self.fp.root_fields else ""
        )
        inner = (
            f"(SELECT *{prefetch} FROM {self.source}"
            f" WHERE {q('resource_type')} = {self.d.string(resource)}) _s"
        )
        where_sql = f" WHERE {' AND '.join(filters)}" if filters else ""
        if rows.rows is None:
            select = ", ".join(f"{e} AS {q(n)}" for n, e in zip(names, rows.exprs, strict=True))
            sql = f"SELECT {select} FROM {inner}{where_sql}"
        else:
            select = ", ".join(
                f"{self.d.struct_field.format(s='_r', q=q(n))} AS {q(n)}" for n in names
            )
            sql = (
                f"SELECT {select} FROM (SELECT {self.d.explode.format(c=rows.rows)} AS _r"
                f" FROM {inner}{where_sql}) _t"
            )
        return CompiledView(resource, rows.columns, dict(self.fhir_types), sql)


def _names(rows: _Rows) -> list[str]:
    return [n for n, _ in rows.columns]


def _type_class(fhir_type: str) -> str:
    if fhir_type == "boolean":
        return "boolean"
    if fhir_type in ("integer", "positiveInt", "unsignedInt", "integer64"):
        return "integer"
    if fhir_type == "decimal":
        return "decimal"
    return "string"


# -- public API -------------------------------------------------------------------------------
def compile_view(
    view: dict[str, Any], dialect: str = "duckdb", source: str = "fhir_resources"
) -> CompiledView:
    """Compile a ViewDefinition for an engine dialect ("duckdb" or "spark")."""
    return _ViewCompiler(dialect_for(dialect), source).view(view)


def view_sql(view: dict[str, Any], dialect: str = "duckdb", source: str = "fhir_resources") -> str:
    """The SQL of a ViewDefinition over the resource table `source`."""
    return compile_view(view, dialect, source).sql


def run_view(engine: Engine, view: dict[str, Any], source: str = "fhir_resources") -> pa.Table:
    """Run a ViewDefinition in the engine; the rows as a pyarrow Table."""
    compiled = compile_view(view, engine.dialect, source)
    try:
        return engine.fetch_arrow(compiled.sql)
    except Exception as exc:  # the engine's own error type
        error = runtime_error(exc)
        if error is None:
            raise
        raise error from None


def runtime_error(exc: BaseException, path: str | None = None) -> ViewError | None:
    """The ViewError an engine error stands for, when our compiled SQL raised it."""
    text = str(exc)
    if RUNTIME_MARK not in text:
        return None
    detail = text[text.index(RUNTIME_MARK) + len(RUNTIME_MARK) + 2 :]
    json_path, _, message = detail.partition(": ")
    message = message.splitlines()[0] if message else detail
    message = re.sub(r"['\"]*\s*SQLSTATE.*$", "", message).rstrip("'\" ")
    return ViewError(message, json_path, path=path)


def load_view(path: str) -> dict[str, Any]:
    """A ViewDefinition from a JSON file (ViewError naming the file and line if unreadable)."""
    try:
        with open(path, encoding="utf-8-sig") as handle:
            data = json.load(handle)
    except OSError as exc:
        raise ViewError(exc.strerror or "cannot read the file", "$", path=path) from None
    except json.JSONDecodeError as exc:
        raise HealthdqError(
            f"not valid JSON ({exc.msg})", path=path, line=exc.lineno, column=exc.colno
        ) from None
    if not isinstance(data, dict):
        raise ViewError("a ViewDefinition must be a JSON object", "$", path=path)
    return data


def resolve_view(spec: str) -> tuple[dict[str, Any], str]:
    """A view given on the command line: a JSON file, or a built-in view's name (`Patient`).

    Returns the ViewDefinition and its label (the file, or `builtin:Patient`).
    """
    from pathlib import Path

    if not Path(spec).exists():
        views = builtin_views()
        if spec in views:
            return views[spec], f"builtin:{spec}"
    view = load_view(spec)
    return view, spec


def builtin_views() -> dict[str, dict[str, Any]]:
    """The shipped ViewDefinitions (src/healthdq/fhir/views/<Resource>.json) by resource type."""
    out: dict[str, dict[str, Any]] = {}
    folder = importlib_resources.files("healthdq.fhir") / "views"
    for item in sorted(folder.iterdir(), key=lambda p: p.name):
        if item.name.endswith(".json"):
            view = json.loads(item.read_text(encoding="utf-8"))
            out[item.name[:-5]] = view
    return out
