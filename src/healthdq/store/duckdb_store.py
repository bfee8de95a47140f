"""The embedded store: one DuckDB file, created on first use (default .healthdq/runs.duckdb).

DuckDB lets one process at a time open a file for writing, so each call opens the file, does
its work in one transaction and closes it; a process that finds the file locked waits its turn.
A run killed mid-save leaves its transaction in the write-ahead log uncommitted: never visible.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import duckdb

from healthdq.store.base import StoreError
from healthdq.store.sql_store import SqlStore

# How long a save or read waits for another process to release the file.
LOCK_TIMEOUT_S = 120.0


class DuckDBStore(SqlStore):
    TYPES: ClassVar[dict[str, str]] = {"json": "JSON", "blob": "BLOB", "timestamp": "TIMESTAMP"}
    DRIVER_ERRORS: ClassVar[tuple[type[Exception], ...]] = (duckdb.Error,)

    def __init__(self, location: str | Path) -> None:
        super().__init__(str(location))
        self.path = Path(location)

    def _open(self, create: bool) -> Any | None:
        if self.path.is_dir():
            raise StoreError(f"results store {self.path} is a directory, not a file")
        if not self.path.exists():
            if not create:
                return None
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(
                    f"cannot create results store {self.path}: {exc.strerror or exc}"
                ) from None
        deadline = time.monotonic() + LOCK_TIMEOUT_S
        pause = 0.02
        while True:
            try:
                return duckdb.connect(str(self.path), config={"threads": 1})
            except duckdb.IOException as exc:
                if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                    raise StoreError(
                        f"cannot open results store {self.path}: {_first_line(exc)}"
                    ) from None
            except duckdb.Error as exc:
                raise StoreError(
                    f"cannot open results store {self.path}: {_first_line(exc)}"
                ) from None
            # Another run holds the file for its save: wait, with a growing pause.
            time.sleep(pause)
            pause = min(pause * 2, 0.5)

    def _close(self, con: Any) -> None:
        con.close()

    def _run(self, con: Any, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        cur = con.execute(sql, list(params))
        return cur.fetchall() if cur.description else []

    def _bulk_insert(
        self, con: Any, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]
    ) -> None:
        # One INSERT ... SELECT over list parameters unnested side by side, not a statement
        # per row (and not an Arrow scan, which would import pandas: +100 MB, +1.5 s).
        # A column with one value for every row (run id, dataset, time) is passed once.
        if not rows:
            return
        select, params = [], []
        for i, _ in enumerate(columns):
            values = [r[i] for r in rows]
            first = values[0]
            if all(v is first or (type(v) is type(first) and v == first) for v in values):
                select.append("?")
                params.append(first)
            else:
                select.append("unnest(?)")
                params.append(values)
        names = ", ".join(f'"{c}"' for c in columns)
        con.execute(f"INSERT INTO {table} ({names}) SELECT {', '.join(select)}", params)

    @contextmanager
    def _transaction(self, con: Any) -> Iterator[None]:
        con.begin()
        try:
            yield
        except BaseException:
            con.rollback()
            raise
        con.commit()

    def _ts_in(self, value: datetime) -> Any:
        # A naive UTC TIMESTAMP: DuckDB's TIMESTAMPTZ needs pytz to reach Python.
        return value.astimezone(UTC).replace(tzinfo=None)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
