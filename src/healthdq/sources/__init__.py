"""Reading: locations, formats, sniffing and column mapping; one reader module per engine."""

from healthdq.sources.base import ROW, ReadOptions, RegisteredTable, register_source
from healthdq.sources.locate import resolve_files

__all__ = ["ROW", "ReadOptions", "RegisteredTable", "register_source", "resolve_files"]
