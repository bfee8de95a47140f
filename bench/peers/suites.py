"""Turn bench/peers/rules.yaml into each tool's native suite.

Imported by the per-tool runners, which live in different virtual environments: the module itself
needs only PyYAML and imports each tool inside the builder for that tool.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
RULES = HERE / "rules.yaml"

_OPS = {">=": ">=", "<=": "<=", ">": ">", "<": "<"}
# The violating comparison for each op (what a failed-rows condition selects).
_NEGATED = {">=": "<", "<=": ">", ">": "<=", "<": ">="}


def load_rules(path: Path = RULES) -> tuple[str, list[dict[str, Any]]]:
    """The table name and the rule list."""
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    return doc["table"], doc["rules"]


def columns_used(rules: list[dict[str, Any]]) -> list[str]:
    """Every column any rule reads, in first-use order (tools read only these)."""
    seen: dict[str, None] = {}
    for r in rules:
        for key in ("column", "left", "right"):
            if key in r:
                seen[r[key]] = None
    return list(seen)


def _date(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


# --- healthdq ------------------------------------------------------------------------------


def healthdq_contract(table: str, rules: list[dict[str, Any]]) -> str:
    """A healthdq contract (YAML text) with the same rules."""
    out = []
    for r in rules:
        kind = r["kind"]
        rule: dict[str, Any] = {"id": r["id"]}
        if kind == "not_null":
            # The shared definition is SQL NULL only; healthdq's default also counts blanks.
            rule.update(kind="not_null", column=r["column"], blank_is_null=False)
        elif kind == "in_set":
            rule.update(kind="allowed_values", column=r["column"], values=list(r["values"]))
        elif kind == "regex":
            rule.update(kind="regex", column=r["column"], pattern=r["pattern"])
        elif kind == "length":
            rule.update(kind="length", column=r["column"], min=r["min"], max=r["max"])
        elif kind == "date_range":
            rule.update(kind="date_range", column=r["column"], min=r["min"], max=r["max"])
        elif kind == "compare":
            rule.update(kind="compare", left=r["left"], op=r["op"], right=r["right"])
        elif kind == "unique":
            rule.update(kind="unique", columns=[r["column"]])
        else:
            raise ValueError(f"unknown kind {kind}")
        out.append(rule)
    contract = {"name": "peers-bench", "tables": {table: {"rules": out}}}
    return yaml.safe_dump(contract, sort_keys=False)


# --- Great Expectations ----------------------------------------------------------------------


def end_anchored(pattern: str, dialect: str) -> str:
    r"""The shared ^...$ pattern with `$` made the true end of the string.

    In Python's re and Java's regex `$` also matches before a final newline, so 'value\n' would
    pass; their end-of-input anchors are `\Z` and `\z`. RE2 (DuckDB) and Rust (polars) have no
    `\Z`, which is why rules.yaml says `$`.
    """
    end = {"python": "\\Z", "java": "\\z"}.get(dialect)
    if end and pattern.endswith("$") and not pattern.endswith("\\$"):
        return pattern[:-1] + end
    return pattern


def gx_expectations(rules: list[dict[str, Any]], regex_dialect: str) -> list[Any]:
    """GX 1.x expectation objects, one per rule, in rule order.

    Date bounds are datetime.date: pandas reads Parquet DATE columns as Python dates (object
    dtype), and SQL backends compare them with DATE literals. ``regex_dialect``: "python" for
    the pandas backend (pandas' str.contains), "java" for Spark (rlike), "re2" for DuckDB SQL.
    """
    import great_expectations.expectations as gxe

    out: list[Any] = []
    for r in rules:
        kind = r["kind"]
        if kind == "not_null":
            e = gxe.ExpectColumnValuesToNotBeNull(column=r["column"])
        elif kind == "in_set":
            e = gxe.ExpectColumnValuesToBeInSet(column=r["column"], value_set=list(r["values"]))
        elif kind == "regex":
            pattern = end_anchored(r["pattern"], regex_dialect)
            e = gxe.ExpectColumnValuesToMatchRegex(column=r["column"], regex=pattern)
        elif kind == "length":
            e = gxe.ExpectColumnValueLengthsToBeBetween(
                column=r["column"], min_value=r["min"], max_value=r["max"]
            )
        elif kind == "date_range":
            e = gxe.ExpectColumnValuesToBeBetween(
                column=r["column"], min_value=_date(r["min"]), max_value=_date(r["max"])
            )
        elif kind == "compare":
            # GX only has "A greater than B"; a <= b is b >= a.
            a, b = (r["left"], r["right"]) if r["op"] in (">=", ">") else (r["right"], r["left"])
            e = gxe.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A=a,
                column_B=b,
                or_equal=r["op"] in (">=", "<="),
                ignore_row_if="either_value_is_missing",
            )
        elif kind == "unique":
            e = gxe.ExpectColumnValuesToBeUnique(column=r["column"])
        else:
            raise ValueError(f"unknown kind {kind}")
        e.meta = {"rule_id": r["id"]}
        out.append(e)
    return out


# --- Soda Core -------------------------------------------------------------------------------


def soda_checks(table: str, rules: list[dict[str, Any]]) -> str:
    """SodaCL checks (YAML text). Each check is named by its rule id so results map back."""
    checks: list[Any] = []
    for r in rules:
        kind, rid = r["kind"], r["id"]
        col = r.get("column")
        if kind == "not_null":
            checks.append({f"missing_count({col}) = 0": {"name": rid}})
        elif kind == "in_set":
            checks.append(
                {f"invalid_count({col}) = 0": {"name": rid, "valid values": list(r["values"])}}
            )
        elif kind == "regex":
            checks.append({f"invalid_count({col}) = 0": {"name": rid, "valid regex": r["pattern"]}})
        elif kind == "length":
            checks.append(
                {
                    f"invalid_count({col}) = 0": {
                        "name": rid,
                        "valid min length": r["min"],
                        "valid max length": r["max"],
                    }
                }
            )
        elif kind == "date_range":
            # SodaCL's valid min/max are numeric; a failed-rows condition is its way to bound
            # dates. NULL makes the condition NULL, so null rows are not counted.
            cond = f"{col} < DATE {_sql_str(r['min'])} OR {col} > DATE {_sql_str(r['max'])}"
            checks.append({"failed rows": {"name": rid, "fail condition": cond}})
        elif kind == "compare":
            cond = f"{r['left']} {_NEGATED[r['op']]} {r['right']}"
            checks.append({"failed rows": {"name": rid, "fail condition": cond}})
        elif kind == "unique":
            checks.append({f"duplicate_count({col}) = 0": {"name": rid}})
        else:
            raise ValueError(f"unknown kind {kind}")
    return yaml.safe_dump({f"checks for {table}": checks}, sort_keys=False)


# --- pandera (polars backend) ----------------------------------------------------------------


def pandera_schema(rules: list[dict[str, Any]]) -> tuple[Any, dict[str, tuple[Any, Any]]]:
    """A pandera DataFrameSchema for polars, and where each rule's failures are reported.

    The second value maps a rule id to the (column, check) key of pandera's failure_cases:
    ``check`` is the check's position in its column (or among the frame checks), or the name
    pandera gives its built-in nullability and uniqueness checks.
    """
    import pandera.polars as pa
    import polars as pl

    cols: dict[str, dict[str, Any]] = {}
    frame_checks: list[Any] = []
    keys: dict[str, tuple[Any, Any]] = {}

    def col(name: str) -> dict[str, Any]:
        # nullable=True unless a not_null rule says otherwise: other rules skip nulls.
        return cols.setdefault(name, {"checks": [], "nullable": True, "unique": False})

    def add(name: str, rid: str, check: Any) -> None:
        keys[rid] = (name, len(col(name)["checks"]))
        col(name)["checks"].append(check)

    for r in rules:
        kind, rid = r["kind"], r["id"]
        if kind == "not_null":
            col(r["column"])["nullable"] = False
            keys[rid] = (r["column"], "not_nullable")
        elif kind == "in_set":
            add(r["column"], rid, pa.Check.isin(list(r["values"])))
        elif kind == "regex":
            add(r["column"], rid, pa.Check.str_matches(r["pattern"]))
        elif kind == "length":
            add(r["column"], rid, pa.Check.str_length(r["min"], r["max"]))
        elif kind == "date_range":
            add(r["column"], rid, pa.Check.in_range(_date(r["min"]), _date(r["max"])))
        elif kind == "compare":
            left, right, op = r["left"], r["right"], r["op"]

            def compare(data: Any, _l: str = left, _r: str = right, _op: str = op) -> Any:
                a, b = pl.col(_l), pl.col(_r)
                ok = {">=": a >= b, "<=": a <= b, ">": a > b, "<": a < b}[_op]
                # Rows with a NULL side are skipped: NULL comparisons count as passing.
                return data.lazyframe.select(ok.fill_null(True))

            keys[rid] = (None, len(frame_checks))
            frame_checks.append(pa.Check(compare, name=rid))
            col(left)
            col(right)
        elif kind == "unique":
            col(r["column"])["unique"] = True
            keys[rid] = (r["column"], "field_uniqueness")
        else:
            raise ValueError(f"unknown kind {kind}")
    columns = {
        name: pa.Column(nullable=spec["nullable"], unique=spec["unique"], checks=spec["checks"])
        for name, spec in cols.items()
    }
    return pa.DataFrameSchema(columns, checks=frame_checks), keys
