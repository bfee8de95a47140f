"""Generalisation hierarchies for the anonymisation search (`healthdq risk --hierarchies`).

A YAML file gives, per quasi-identifier, the levels it may be generalised to; level 0 is the
value as it is. Each level is one of:

    age_band:
      - {"0-17": "0-39", "18-39": "0-39", "40-64": "40+", "65+": "40+"}   # value -> value
      - "*"                                                                 # everything
    postcode_district:
      - prefix: 2          # the first 2 characters (LS12 -> LS)
      - "*"
    age:
      - interval: 5        # numbers: 0-4, 5-9, ... (integer width)
      - interval: 20
    admission_date:
      - month              # dates: 2024-03
      - year               # 2024

A value -> value level maps the column's *original* values (as ARX's hierarchy tables do). Each
level compiles to a SQL expression over the original column (a CASE for a mapping), so a
transformation is evaluated by the engine in one GROUP BY. Errors name the file and line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from healthdq.errors import ContractError
from healthdq.sources.base import quote_ident, quote_literal

DATE_LEVELS = {"month": "%Y-%m", "year": "%Y"}


@dataclass
class Level:
    kind: str  # map | all | prefix | interval | month | year
    line: int
    mapping: dict[str, str] = field(default_factory=dict)
    width: int = 0

    def sql(self, column: str) -> str:
        """The generalised value of `column` at this level, as text."""
        col = quote_ident(column)
        text = f"CAST({col} AS VARCHAR)"
        if self.kind == "all":
            return f"CASE WHEN {col} IS NULL THEN NULL ELSE '*' END"
        if self.kind == "map":
            arms = " ".join(
                f"WHEN {quote_literal(k)} THEN {quote_literal(v)}" for k, v in self.mapping.items()
            )
            return f"CASE {text} {arms} END"
        if self.kind == "prefix":
            return f"left({text}, {self.width})"
        if self.kind == "interval":
            low = f"CAST(floor(TRY_CAST({col} AS DOUBLE) / {self.width}) * {self.width} AS BIGINT)"
            return f"CAST({low} AS VARCHAR) || '-' || CAST({low} + {self.width - 1} AS VARCHAR)"
        fmt = DATE_LEVELS[self.kind]
        return f"strftime(TRY_CAST({col} AS DATE), {quote_literal(fmt)})"

    def uncovered(self, column: str) -> str:
        """A predicate true for a non-null original value this level cannot generalise."""
        col = quote_ident(column)
        if self.kind == "map":
            keys = ", ".join(quote_literal(k) for k in self.mapping)
            return f"CAST({col} AS VARCHAR) NOT IN ({keys})"
        if self.kind == "interval":
            return f"TRY_CAST({col} AS DOUBLE) IS NULL"
        if self.kind in DATE_LEVELS:
            return f"TRY_CAST({col} AS DATE) IS NULL"
        return "FALSE"

    def describe(self) -> str:
        if self.kind == "map":
            return f"{len(self.mapping)} values mapped"
        if self.kind in ("prefix", "interval"):
            return f"{self.kind} {self.width}"
        return self.kind


@dataclass
class Hierarchy:
    column: str
    line: int
    levels: list[Level]

    @property
    def height(self) -> int:
        """The highest level (0 when there is no hierarchy)."""
        return len(self.levels)

    def sql(self, level: int) -> str:
        if level == 0:
            return f"CAST({quote_ident(self.column)} AS VARCHAR)"
        return self.levels[level - 1].sql(self.column)


def _lines(node: yaml.Node) -> Any:
    """Composed YAML as Python, each mapping/sequence/scalar paired with its line."""
    if isinstance(node, yaml.MappingNode):
        return (
            {str(yaml.safe_load(yaml.serialize(k))): _lines(v) for k, v in node.value},
            node.start_mark.line + 1,
        )
    if isinstance(node, yaml.SequenceNode):
        return ([_lines(v) for v in node.value], node.start_mark.line + 1)
    return (yaml.safe_load(yaml.serialize(node)), node.start_mark.line + 1)


def _level(item: Any, path: str) -> Level:
    value, line = item
    if isinstance(value, str):
        if value == "*":
            return Level("all", line)
        if value in DATE_LEVELS:
            return Level(value, line)
        raise ContractError(
            f"unknown level '{value}': use a mapping, '*', month, year, prefix: N or interval: N",
            path=path,
            line=line,
        )
    if isinstance(value, dict):
        plain = {k: v[0] for k, v in value.items()}
        if set(plain) in ({"prefix"}, {"interval"}):
            kind = next(iter(plain))
            width = plain[kind]
            if not isinstance(width, int) or isinstance(width, bool) or width < 1:
                raise ContractError(
                    f"{kind} must be a whole number of 1 or more", path=path, line=line
                )
            return Level(kind, line, width=width)
        for key, (val, key_line) in value.items():
            if isinstance(val, (dict, list)) or val is None:
                raise ContractError(
                    f"a mapping level maps each value to one value ('{key}' does not)",
                    path=path,
                    line=key_line,
                )
        return Level("map", line, mapping={k: str(v) for k, v in plain.items()})
    raise ContractError(
        "a level is a mapping, '*', month, year, prefix or interval", path=path, line=line
    )


def load_hierarchies(path: str | Path) -> dict[str, Hierarchy]:
    """Column -> hierarchy from a YAML file; errors name the file and line."""
    file = Path(path)
    if not file.is_file():
        raise ContractError("hierarchy file not found", path=str(path))
    try:
        node = yaml.compose(file.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ContractError(
            "invalid YAML", path=str(path), line=mark.line + 1 if mark else None
        ) from None
    if node is None:
        raise ContractError("empty hierarchy file", path=str(path))
    top, line = _lines(node)
    if not isinstance(top, dict):
        raise ContractError(
            "expected 'column: [levels...]' per quasi-identifier", path=str(path), line=line
        )
    out: dict[str, Hierarchy] = {}
    for column, (levels, col_line) in top.items():
        if not isinstance(levels, list) or not levels:
            raise ContractError(f"'{column}' needs a list of levels", path=str(path), line=col_line)
        out[column] = Hierarchy(column, col_line, [_level(item, str(path)) for item in levels])
    return out
