"""What every reader shares: read options, the registered-table record, identifier quoting.

Every reader produces a relation whose first column `__row` is the 1-based row number in the
source, so failing-row samples point back at the file. A column mapping renames the user's
columns to the names a pack expects (sources/mapping.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from healthdq.sources.locate import FORMATS, resolve_files

if TYPE_CHECKING:
    import duckdb

ROW = "__row"

__all__ = ["FORMATS", "ROW", "ReadOptions", "RegisteredTable", "register_source", "resolve_files"]


@dataclass
class ReadOptions:
    """User overrides for reading; None means detect."""

    format: str | None = None
    delimiter: str | None = None
    encoding: str | None = None
    table: str | None = None  # table inside a database file
    mapping: dict[str, str] = field(default_factory=dict)  # canonical name -> source column
    # Files of a folder or glob whose columns differ are refused unless combined by name.
    union_by_name: bool = False
    # Lower-case column names (first of a case-duplicate wins): OMOP CDM tables.
    lower_case: bool = False
    # Type every CSV column from all of its values, integers included (OMOP CDM files); by
    # default integer-looking columns stay text so codes keep leading zeros.
    infer_all_types: bool = False
    # Canonical name -> other names it is known by (a pack's HES/SUS/ECDS field names).
    aliases: dict[str, list[str]] = field(default_factory=dict)
    # Canonical name -> (date field names, time field names) it may be composed from.
    parts: dict[str, tuple[list[str], list[str]]] = field(default_factory=dict)
    # Read the location as FHIR and register this SQL-on-FHIR view of it (sources/fhir_views.py).
    fhir_view: str | None = None


@dataclass
class RegisteredTable:
    name: str  # relation name in the engine
    source: str  # what the user gave
    format: str
    columns: dict[str, str]  # column -> engine type, in order, without __row
    rows: int
    warnings: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)  # local files read (to name a corrupt one)
    # Canonical column -> the source column bound to it (by --map or by a pack alias).
    bindings: dict[str, str] = field(default_factory=dict)


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def register_source(
    con: duckdb.DuckDBPyConnection, name: str, location: str, options: ReadOptions | None = None
) -> RegisteredTable:
    """Read `location` into relation `name` on a DuckDB connection (see duckdb_reader)."""
    from healthdq.sources.duckdb_reader import register

    return register(con, name, location, options or ReadOptions())
