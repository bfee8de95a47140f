"""Readers that register csv, parquet, json/ndjson and DuckDB tables as engine relations."""

from healthdq.sources.base import ROW, ReadOptions, RegisteredTable, register_source, resolve_files

__all__ = ["ROW", "ReadOptions", "RegisteredTable", "register_source", "resolve_files"]
