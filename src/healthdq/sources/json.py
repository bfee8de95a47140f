"""JSON and newline-delimited JSON reader, copied into an engine table to keep row order."""

from __future__ import annotations

import duckdb

from healthdq.sources.base import ROW, ReadOptions, quote_ident, quote_literal


def read(
    con: duckdb.DuckDBPyConnection, base: str, files: list[str], opts: ReadOptions
) -> list[str]:
    file_list = "[" + ", ".join(quote_literal(f) for f in files) + "]"
    # Numbers that are codes arrive as JSON strings and stay strings; we never re-type them.
    con.execute(
        f"CREATE OR REPLACE TABLE {quote_ident(base + '_data')} AS "
        f"SELECT * FROM read_json({file_list}, format = 'auto', union_by_name = true)"
    )
    con.execute(
        f"CREATE OR REPLACE VIEW {quote_ident(base)} AS "
        f"SELECT rowid + 1 AS {ROW}, * FROM {quote_ident(base + '_data')}"
    )
    return []
