"""Load contracts from YAML with errors that name file:line and the offending key."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from healthdq.errors import ContractError
from healthdq.rules import sandbox
from healthdq.rules.model import RULE_KINDS, Contract

PACKS_PACKAGE = "healthdq.rules.packs"

Loc = tuple[str | int, ...]


def _to_python(node: yaml.Node, loc: Loc, lines: dict[Loc, int]) -> Any:
    """Turn a composed YAML node into Python data, recording the line of every path."""
    lines[loc] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _scalar(key_node)
            if key in out:
                raise ContractError(f"duplicate key '{key}'", line=key_node.start_mark.line + 1)
            child = (*loc, key)
            out[key] = _to_python(value_node, child, lines)
            lines[child] = key_node.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_to_python(item, (*loc, i), lines) for i, item in enumerate(node.value)]
    return _scalar(node)


def _scalar(node: yaml.Node) -> Any:
    # The composer already resolved the tag (int, date, bool, str): construct with the safe rules.
    constructor = yaml.constructor.SafeConstructor()
    return constructor.construct_object(node, deep=True)


def _closest_line(loc: Loc, lines: dict[Loc, int]) -> int | None:
    for end in range(len(loc), -1, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return None


def _user_loc(loc: tuple[Any, ...]) -> Loc:
    # pydantic puts the discriminator tag (the rule kind) in the loc: keep the user's keys only.
    return tuple(p for p in loc if not (isinstance(p, str) and p in RULE_KINDS))


def _describe(error: Any) -> str:
    loc = [str(p) for p in _user_loc(error["loc"])]
    key = ".".join(loc)
    msg = error["msg"]
    if error["type"] == "extra_forbidden":
        return f"unknown key '{loc[-1]}' at {key}"
    if error["type"] == "missing":
        return f"missing key '{loc[-1]}' at {'.'.join(loc[:-1]) or 'top level'}"
    if error["type"] == "union_tag_invalid":
        return f"{key}: unknown rule kind ({msg})"
    if error["type"] == "value_error":
        msg = msg.removeprefix("Value error, ")
    return f"{key}: {msg}" if key else msg


def parse_contract(text: str, path: str = "<contract>") -> Contract:
    """Parse and validate a contract held in a string."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        raise ContractError(
            f"invalid YAML: {problem}",
            path=path,
            line=mark.line + 1 if mark else None,
            column=mark.column + 1 if mark else None,
        ) from None
    except yaml.YAMLError as exc:
        raise ContractError(f"invalid YAML: {exc}", path=path) from None
    if node is None:
        raise ContractError("contract is empty", path=path)
    lines: dict[Loc, int] = {}
    try:
        data = _to_python(node, (), lines)
    except ContractError as exc:
        raise ContractError(exc.message, path=path, line=exc.line) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ContractError(
            f"invalid YAML value: {getattr(exc, 'problem', exc)}",
            path=path,
            line=mark.line + 1 if mark else None,
        ) from None
    if not isinstance(data, dict):
        raise ContractError(
            "a contract must be a mapping with 'name' and 'tables'", path=path, line=lines.get(())
        )
    # Record each rule's line so later errors (bad SQL, unknown column) can point at it.
    for tname, table in (data.get("tables") or {}).items():
        if isinstance(table, dict) and isinstance(table.get("rules"), list):
            for i, rule in enumerate(table["rules"]):
                if isinstance(rule, dict):
                    rule["line"] = lines.get(("tables", tname, "rules", i))
    try:
        contract = Contract.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        # An unknown key explains a 'missing' one (a typo), so report it first.
        first = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
        loc = _user_loc(first["loc"])
        raise ContractError(_describe(first), path=path, line=_closest_line(loc, lines)) from None
    contract.path = path
    _check_sandbox(contract, path, lines)
    return contract


# Rule fields that hold user SQL: each must pass the sandbox before any engine sees it.
SQL_FIELDS = ("when", "predicate", "denominator", "left", "right")


def _check_sandbox(contract: Contract, path: str, lines: dict[Loc, int]) -> None:
    """Refuse SQL that reaches outside the table, and sources outside the contract's folder."""
    for tname, table in contract.tables.items():
        if table.source is not None:
            try:
                sandbox.resolve_source(table.source, path if path != "<contract>" else None)
            except sandbox.SandboxError as exc:
                line = lines.get(("tables", tname, "source"))
                raise ContractError(str(exc), path=path, line=line) from None
        for i, rule in enumerate(table.rules):
            for name in SQL_FIELDS:
                sql = getattr(rule, name, None)
                if not isinstance(sql, str):
                    continue
                try:
                    sandbox.parse_expression(sql)
                except sandbox.SandboxError as exc:
                    loc: Loc = ("tables", tname, "rules", i, name)
                    raise ContractError(
                        f"rule '{rule.id}' {name}: {exc}",
                        path=path,
                        line=lines.get(loc, rule.line),
                    ) from None


def load_contract(path: str | Path) -> Contract:
    """Load a contract file; any problem is a ContractError naming file:line."""
    p = Path(path)
    if not p.exists():
        raise ContractError("contract file not found", path=str(p))
    if p.is_dir():
        raise ContractError("expected a YAML file, got a folder", path=str(p))
    raw = p.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ContractError("contract is not UTF-8 text", path=str(p), line=line) from None
    return parse_contract(text, str(p))


def pack_names() -> list[str]:
    """Names of the packs shipped inside the package."""
    root = resources.files(PACKS_PACKAGE)
    return sorted(f.name[:-5] for f in root.iterdir() if f.name.endswith(".yaml"))


def pack_path(name: str) -> Path:
    root = resources.files(PACKS_PACKAGE)
    candidate = root / f"{name}.yaml"
    if not candidate.is_file():
        raise ContractError(f"unknown pack '{name}' (shipped: {', '.join(pack_names())})")
    return Path(str(candidate))


def load_pack(name: str) -> Contract:
    """Load a shipped pack by name, e.g. 'nhs-apc'."""
    return load_contract(pack_path(name))
