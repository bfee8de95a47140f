"""Parquet reader: a view over the files, row numbers from the file itself (no copy)."""

from __future__ import annotations

import duckdb

from healthdq.sources.base import ROW, ReadOptions, quote_ident, quote_literal


def read(
    con: duckdb.DuckDBPyConnection, base: str, files: list[str], opts: ReadOptions
) -> list[str]:
    file_list = "[" + ", ".join(quote_literal(f) for f in files) + "]"
    con.execute(
        f"CREATE OR REPLACE VIEW {quote_ident(base)} AS "
        f"SELECT file_row_number + 1 AS {ROW}, * EXCLUDE (file_row_number) "
        f"FROM read_parquet({file_list}, file_row_number = true, union_by_name = true)"
    )
    warnings = []
    if len(files) > 1:
        warnings.append(f"{len(files)} files read; sample row numbers restart in each file")
    return warnings
