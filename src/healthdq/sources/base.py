"""Resolve a data location and register it in the engine as a relation with a row number.

Every reader produces a relation whose first column `__row` is the 1-based row number in the
source, so failing-row samples point back at the file. A column mapping renames the user's
columns to the names a pack expects.
"""

from __future__ import annotations

import glob as globmod
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from healthdq.errors import SourceError

ROW = "__row"

FORMATS: dict[str, str] = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".psv": "csv",
    ".csv.gz": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".json": "json",
    ".ndjson": "json",
    ".jsonl": "json",
    ".duckdb": "duckdb",
    ".db": "duckdb",
}


@dataclass
class ReadOptions:
    """User overrides for reading; None means detect."""

    format: str | None = None
    delimiter: str | None = None
    encoding: str | None = None
    table: str | None = None  # table inside a database file
    mapping: dict[str, str] = field(default_factory=dict)  # canonical name -> source column
    # Canonical name -> other names it is known by (a pack's HES/SUS/ECDS field names).
    aliases: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class RegisteredTable:
    name: str  # relation name in the engine
    source: str  # what the user gave
    format: str
    columns: dict[str, str]  # column -> engine type, in order, without __row
    rows: int
    warnings: list[str] = field(default_factory=list)
    # Canonical column -> the source column bound to it (by --map or by a pack alias).
    bindings: dict[str, str] = field(default_factory=dict)


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _suffix(path: str) -> str:
    lower = path.lower()
    for ext in sorted(FORMATS, key=len, reverse=True):
        if lower.endswith(ext):
            return ext
    return Path(lower).suffix


def resolve_files(location: str) -> tuple[list[str], str | None]:
    """Expand a file, folder or glob into files and a detected format."""
    path = Path(location)
    if any(ch in location for ch in "*?["):
        files = sorted(globmod.glob(location, recursive=True))
        if not files:
            raise SourceError("no files match this pattern", path=location)
    elif path.is_dir():
        files = sorted(str(p) for p in path.iterdir() if p.is_file() and _suffix(p.name) in FORMATS)
        if not files:
            raise SourceError("folder holds no csv, parquet, json or duckdb files", path=location)
    elif path.exists():
        files = [str(path)]
    else:
        raise SourceError("file not found", path=location)
    formats = {FORMATS.get(_suffix(f)) for f in files}
    if len(formats) > 1:
        raise SourceError(f"mixed file types {sorted(str(f) for f in formats)}", path=location)
    fmt = formats.pop()
    for f in files:
        if Path(f).stat().st_size == 0:
            raise SourceError("file is empty", path=f)
    return files, fmt


def _describe(con: duckdb.DuckDBPyConnection, relation: str) -> dict[str, str]:
    rows = con.execute(f"DESCRIBE {quote_ident(relation)}").fetchall()
    return {r[0]: r[1] for r in rows if r[0] != ROW}


def register_source(
    con: duckdb.DuckDBPyConnection, name: str, location: str, options: ReadOptions | None = None
) -> RegisteredTable:
    """Read `location` into relation `name` (a view or table with a `__row` column)."""
    from healthdq.sources import csv, database, json, parquet
    from healthdq.sources.aliases import bind_columns

    opts = options or ReadOptions()
    files, detected = resolve_files(location)
    fmt = opts.format or detected
    base = f"__src_{name}"
    warnings: list[str] = []
    readers = {
        "csv": csv.read,
        "parquet": parquet.read,
        "json": json.read,
        "duckdb": database.read,
    }
    if fmt not in readers:
        raise SourceError(
            "unrecognised file type (use --format csv|parquet|json|duckdb)", path=location
        )
    try:
        warnings += readers[fmt](con, base, files, opts)
    except SourceError:
        raise
    except duckdb.Error as exc:
        raise SourceError(_first_line(exc), path=files[0]) from None
    columns = _describe(con, base)
    select = [quote_ident(ROW)]
    binding = bind_columns(list(columns), opts.mapping, opts.aliases, location)
    for col in columns:
        canonical = binding.renames.get(col.lower())
        select.append(
            f"{quote_ident(col)} AS {quote_ident(canonical)}" if canonical else quote_ident(col)
        )
    warnings += binding.warnings
    con.execute(
        f"CREATE OR REPLACE VIEW {quote_ident(name)} AS SELECT {', '.join(select)} "
        f"FROM {quote_ident(base)}"
    )
    rows = con.execute(f"SELECT count(*) FROM {quote_ident(name)}").fetchone()
    return RegisteredTable(
        name=name,
        source=location,
        format=fmt,
        columns=_describe(con, name),
        rows=int(rows[0]) if rows else 0,
        warnings=warnings,
        bindings=binding.bound,
    )


def _first_line(exc: BaseException) -> str:
    from healthdq.governance.messages import engine_message

    # Reader errors quote the line or value they failed on: no data reaches an output.
    return engine_message(exc)
