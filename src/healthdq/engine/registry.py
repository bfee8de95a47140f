"""Engines by name: `--engine NAME`, `healthdq.check(..., engine=NAME)` and the server look here.

An entry names the module and class, and the optional package it needs, so an engine is imported
only when asked for (pyspark takes seconds to import). Adding an engine = one module + one line.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from healthdq.errors import HealthdqError

if TYPE_CHECKING:
    from healthdq.engine.base import Engine


@dataclass(frozen=True)
class EngineEntry:
    module: str
    cls: str
    needs: str | None = None  # an importable package the engine requires
    extra: str | None = None  # the pip extra that installs it
    about: str = ""


ENGINES: dict[str, EngineEntry] = {
    "duckdb": EngineEntry("healthdq.engine.duckdb", "DuckDBEngine", about="in-process"),
    "spark": EngineEntry(
        "healthdq.engine.spark", "SparkEngine", "pyspark", "spark", "Apache Spark"
    ),
}


def engine_names() -> list[str]:
    return list(ENGINES)


def create_engine(name: str, **options: Any) -> Engine:
    """An engine by name; options the engine does not take are ignored (threads, master...)."""
    entry = ENGINES.get(name)
    if entry is None:
        known = " or ".join(", ".join(ENGINES).rsplit(", ", 1))
        raise HealthdqError(f"--engine must be {known}, got '{name}'")
    if entry.needs and importlib.util.find_spec(entry.needs) is None:
        raise HealthdqError(
            f"--engine {name} needs {entry.needs}: pip install 'healthdq[{entry.extra}]'"
        )
    cls = getattr(importlib.import_module(entry.module), entry.cls)
    accepted = cls.__init__.__code__.co_varnames[: cls.__init__.__code__.co_argcount]
    return cls(**{k: v for k, v in options.items() if k in accepted and v is not None})
