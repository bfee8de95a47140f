"""Validator registry: a validator turns a column expression into a SQL boolean expression.

A validator is an expression builder, never engine code: it returns a sqlglot expression that
is TRUE when a (non-null) value is valid, so every engine (DuckDB, Spark) renders the same rule.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlglot import exp

Builder = Callable[[exp.Expression], exp.Expression]


@dataclass(frozen=True)
class Validator:
    """A named check on one column value."""

    name: str
    description: str
    source: str  # citation of the published definition or code list
    build: Builder
    # 'checksum' | 'format' | 'valueset' | 'finding' (a valid value written another way: never
    # used to recognise a column); value sets are cheap per distinct value
    kind: str = "format"


REGISTRY: dict[str, Validator] = {}


def register(validator: Validator) -> Validator:
    REGISTRY[validator.name] = validator
    return validator


def get_validator(name: str) -> Validator:
    from healthdq import validators as _pkg  # noqa: F401  (imports register every validator)

    try:
        return REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(REGISTRY))
        raise KeyError(f"unknown validator '{name}' (known: {known})") from None
