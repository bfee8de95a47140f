"""Tables inside a DuckDB database file, attached read-only."""

from __future__ import annotations

import duckdb

from healthdq.errors import SourceError
from healthdq.sources.base import ROW, ReadOptions, quote_ident, quote_literal


def read(
    con: duckdb.DuckDBPyConnection, base: str, files: list[str], opts: ReadOptions
) -> list[str]:
    if len(files) != 1:
        raise SourceError("give one database file at a time", path=files[0])
    alias = f"{base}_db"
    con.execute(
        f"ATTACH IF NOT EXISTS {quote_literal(files[0])} AS {quote_ident(alias)} (READ_ONLY)"
    )
    tables = [
        r[0]
        for r in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = ? ORDER BY 1", [alias]
        ).fetchall()
    ]
    wanted = opts.table or base.removeprefix("__src_")
    match = next((t for t in tables if t.lower() == wanted.lower()), None)
    if match is None and opts.table is None and len(tables) == 1:
        match = tables[0]
    if match is None:
        raise SourceError(
            f"no table '{wanted}' in database (tables: {', '.join(tables) or 'none'})",
            path=files[0],
        )
    con.execute(
        f"CREATE OR REPLACE VIEW {quote_ident(base)} AS "
        f"SELECT rowid + 1 AS {ROW}, * FROM {quote_ident(alias)}.{quote_ident(match)}"
    )
    return []
