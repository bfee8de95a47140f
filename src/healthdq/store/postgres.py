"""PostgreSQL store for shared deployments: `postgresql://user@host/db` (psycopg 3).

Tables live in the connection's current schema (choose one with `?options=-csearch_path%3D...`).
Concurrent runs each write in their own transaction; schema migrations take an advisory lock so
two first runs cannot both create the tables. Needs the `postgres` extra (healthdq[postgres]).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, ClassVar

from healthdq.store.base import StoreError
from healthdq.store.sql_store import SqlStore, redact

try:
    import psycopg
except ImportError:  # the extra is not installed: said when a URL is used, not at import
    psycopg = None  # type: ignore[assignment]

CONNECT_TIMEOUT_S = 10
# pg_advisory_xact_lock key for schema changes ("hdq" in ASCII).
_SCHEMA_LOCK = 0x686471


class PostgresStore(SqlStore):
    TYPES: ClassVar[dict[str, str]] = {"json": "JSONB", "blob": "BYTEA", "timestamp": "TIMESTAMPTZ"}
    PLACEHOLDER: ClassVar[str] = "%s"
    DRIVER_ERRORS: ClassVar[tuple[type[Exception], ...]] = (
        (psycopg.Error,) if psycopg is not None else ()
    )

    def _open(self, create: bool) -> Any | None:
        if psycopg is None:
            raise StoreError(
                "a PostgreSQL results store needs psycopg: pip install 'healthdq[postgres]'"
            )
        try:
            # autocommit: reads need no transaction; writes open one explicitly.
            return psycopg.connect(
                self.location, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S
            )
        except psycopg.Error as exc:
            text = str(exc).strip()
            first = text.splitlines()[0] if text else type(exc).__name__
            raise StoreError(
                f"cannot connect to results store {redact(self.location)}: {first}"
            ) from None

    def _close(self, con: Any) -> None:
        con.close()

    def _run(self, con: Any, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        cur = con.execute(sql, list(params) if params else None)
        return cur.fetchall() if cur.description else []

    def _bulk_insert(
        self, con: Any, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]
    ) -> None:
        if not rows:
            return
        names = ", ".join(f'"{c}"' for c in columns)
        with con.cursor() as cur, cur.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)

    @contextmanager
    def _transaction(self, con: Any) -> Iterator[None]:
        with con.transaction():
            yield

    def _lock_schema(self, con: Any) -> None:
        self._run(con, "SELECT pg_advisory_xact_lock(%s)", [_SCHEMA_LOCK])
