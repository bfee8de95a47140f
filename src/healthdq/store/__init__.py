"""Results store: every run kept (result, rules, metrics, rendered outputs) for history.

`open_store(location)` picks the backend: a `postgresql://` URL, or a DuckDB file path; no
location means `HEALTHDQ_STORE`, else `.healthdq/runs.duckdb`. See docs/store.md.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from healthdq.results import RunResult
from healthdq.store.base import MetricPoint, RunSummary, Store, StoreError

DEFAULT_STORE = ".healthdq/runs.duckdb"
_URL_SCHEMES = ("postgresql://", "postgres://")

__all__ = [
    "DEFAULT_STORE",
    "MetricPoint",
    "RunSummary",
    "Store",
    "StoreError",
    "open_store",
    "save_run",
    "store_location",
]


def store_location(location: str | None = None) -> str:
    """The store to use: the one given, else HEALTHDQ_STORE, else .healthdq/runs.duckdb."""
    return location or os.environ.get("HEALTHDQ_STORE") or DEFAULT_STORE


def open_store(location: str | None = None) -> Store:
    """The store at `location` (a PostgreSQL URL or a DuckDB file path); nothing is opened yet."""
    where = store_location(location)
    if where.startswith(_URL_SCHEMES):
        from healthdq.store.postgres import PostgresStore

        return PostgresStore(where)
    from healthdq.store.duckdb_store import DuckDBStore

    return DuckDBStore(where)


def save_run(
    result: RunResult,
    location: str | None,
    outputs: Mapping[str, bytes],
    *,
    verb: str,
    dataset: str | None = None,
) -> None:
    """Keep `result` and its rendered `outputs` (name -> bytes) in the store at `location`."""
    open_store(location).save_run(
        result, verb=verb, dataset=dataset or result.contract, outputs=outputs
    )
