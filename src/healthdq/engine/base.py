"""The engine interface: what differs between DuckDB and Spark lives behind these methods.

Rules compile to dialect-neutral sqlglot predicates (engine/compiler.py); an engine renders them
and supplies the few aggregate forms whose syntax differs (conditional count, bounded sample
collection).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

import sqlglot
from sqlglot import exp

from healthdq.errors import SourceError
from healthdq.sources.base import ROW, ReadOptions, RegisteredTable

# Blocks of consecutive rows a profile's sample is taken from (sample_rows).
SAMPLE_BLOCKS = 8

ProgressCallback = Callable[[float], None]


class Engine(ABC):
    """A SQL engine that can register sources and run fused check queries."""

    name: str = "abstract"
    dialect: str = ""
    # Range bitmaps (bitstring_agg / bit_count): prove an integer id unique, or count the ids
    # present, in one cheap pass. Engines without them run the exact GROUP BY or join instead.
    bitmaps: bool = False

    @abstractmethod
    def register(self, name: str, location: str, options: ReadOptions) -> RegisteredTable:
        """Make `location` queryable as relation `name` with a `__row` column."""

    def register_frame(self, name: str, frame: Any, options: ReadOptions) -> RegisteredTable:
        """Make a DataFrame (pandas, polars, Arrow, Spark...) queryable as relation `name`."""
        from healthdq.errors import SourceError
        from healthdq.sources.frames import frame_label

        raise SourceError(f"the {self.name} engine cannot read a {frame_label(frame)}")

    @abstractmethod
    def fetch(self, sql: str, progress: ProgressCallback | None = None) -> list[tuple[Any, ...]]:
        """Run a query and return all rows."""

    def fetch_arrow(self, sql: str) -> Any:
        """Run a query and return its rows as a pyarrow Table."""
        raise NotImplementedError(f"{self.name} engine cannot return Arrow tables")

    def query_frame(self, sql: str) -> Any:
        """The rows of a query as a frame this engine's `register_frame` scans (a derived table,
        e.g. a FHIR view): by default an Arrow table."""
        return self.fetch_arrow(sql)

    def render(self, expression: exp.Expr) -> str:
        return expression.sql(dialect=self.dialect)

    def quote(self, name: str) -> str:
        """An identifier quoted for this engine ("x" in DuckDB, `x` in Spark)."""
        return exp.to_identifier(name, quoted=True).sql(dialect=self.dialect)

    def as_text(self, column: str, table: str | None = None) -> str:
        """A column cast to the engine's string type."""
        ref = exp.column(column, table=table, quoted=True)
        return self.render(exp.Cast(this=ref, to=exp.DataType.build("VARCHAR")))

    @abstractmethod
    def count_if(self, predicate: str) -> str:
        """Aggregate counting rows where `predicate` is TRUE."""

    def hash_key(self, columns: list[str]) -> str:
        """A 64-bit hash of the columns' values: equal keys hash equal (collisions possible)."""
        return f"hash({', '.join(self.quote(c) for c in columns)})"

    def hash_partitions(self, rows: int) -> int:
        """Slices of the hash space a key aggregate over `rows` rows is split into.

        One slice at a time bounds an in-process engine's hash table; a cluster engine spreads
        the aggregate over executors instead and keeps 1.
        """
        return 1

    @abstractmethod
    def sample(self, predicate: str, columns: list[str], limit: int) -> str:
        """Aggregate collecting up to `limit` rows (lowest __row first) where predicate holds.

        Each collected item is a struct of `__row` and `columns`.
        """

    # -- hand-written SQL (the OMOP runner's lookups and aggregates) ---------------------------
    def translate(self, sql: str) -> str:
        """A statement written in DuckDB's SQL, as this engine runs it (unchanged on DuckDB)."""
        if self.dialect == "duckdb":
            return sql
        return self.render(sqlglot.parse_one(sql, read="duckdb"))

    def create_temp(
        self, name: str, sql: str, materialize: bool = False, native: bool = False
    ) -> None:
        """Make a SELECT (DuckDB's SQL; this engine's own SQL when `native`) queryable as the
        session-local relation `name`.

        `materialize` computes it once (a lookup read by many queries); otherwise it is a view.
        """
        raise NotImplementedError(f"{self.name} engine cannot create temporary relations")

    def drop_temp(self, name: str) -> None:  # noqa: B027  (optional hook)
        """Forget a relation made by create_temp (and free what it held)."""

    def top_k(self, item: str, weight: str, k: int) -> str:
        """Aggregate (this engine's SQL): a list of the `k` items of largest weight."""
        raise NotImplementedError(f"{self.name} engine cannot collect top values")

    def sample_rows(self, relation: str, rows: int, n: int) -> str:
        """A SELECT (this engine's SQL) of about `n` of the `rows` rows of `relation`, every
        column, the same rows on every run: SAMPLE_BLOCKS blocks of consecutive `__row`s spread
        evenly over the table. A filter on `__row` (Parquet's row index, a table's rowid) lets
        DuckDB skip the row groups between the blocks, where a hash of every row would read
        them all. Files read together may each number their rows from 1: the LIMIT bounds it."""
        blocks = max(1, min(SAMPLE_BLOCKS, n))
        size, step = max(1, n // blocks), max(1, rows // blocks)
        row = self.quote(ROW)
        spans = " OR ".join(
            f"{row} BETWEEN {1 + b * step} AND {b * step + size}" for b in range(blocks)
        )
        return f"SELECT * FROM {self.quote(relation)} WHERE {spans} LIMIT {int(n)}"

    def unpivot(self, relation: str, items: list[tuple[int, str]]) -> str:
        """A SELECT (this engine's SQL) of `c, v`: for every row of `relation`, one row per item
        (label, text-valued expression), in one read of the relation."""
        raise NotImplementedError(f"{self.name} engine cannot unpivot")

    def describe(self, relation: str) -> dict[str, str]:
        """Column name -> type of a relation, types spelled as DuckDB spells them."""
        raise NotImplementedError(f"{self.name} engine cannot describe relations")

    def register_database(
        self, location: str, schema: str | None
    ) -> tuple[dict[str, RegisteredTable], list[str]]:
        """Every table of a database (one schema) as lower-case views, and what was skipped."""
        raise SourceError(
            f"use a folder of CSV/Parquet with the {self.name} engine (or a zip of them)",
            path=location,
        )

    # -- rows written out (pseudonymise, governance/pseudonymise.py) ----------------------------
    def register_secret(self, name: str, values: dict[str, bytes]) -> None:
        """A one-row relation `name` of binary columns holding key material, passed to the
        engine as data (never as SQL literals, so it cannot reach a log or an error)."""
        raise NotImplementedError(f"{self.name} engine cannot hold keys")

    def register_values(self, name: str, column: str, values: list[str]) -> None:
        """A one-column text relation `name` of `values` (an opt-out list), passed as data."""
        raise NotImplementedError(f"{self.name} engine cannot register values")

    def restrict(self, name: str, where: str) -> None:
        """Replace relation `name` by its rows where `where` (DuckDB's SQL) holds."""
        raise NotImplementedError(f"{self.name} engine cannot filter relations")

    def export(self, sql: str, path: str, fmt: str, native: bool = False) -> None:
        """Write the rows of a SELECT (DuckDB's SQL; this engine's own SQL when `native`) to
        `path` as `fmt` (parquet or csv)."""
        raise NotImplementedError(f"{self.name} engine cannot write files")

    def workdir(self) -> str | None:
        """A private local folder for files the readers unpack (zips, transcoded CSV)."""
        return None

    def seal(self, locations: list[str]) -> None:  # noqa: B027  (optional hook)
        """After the sources are registered: no further file, network or extension access.

        `locations` are what was registered (files, folders, globs), still readable by the views
        over them. Defence in depth behind the contract sandbox (rules/sandbox.py).
        """

    def close(self) -> None:  # noqa: B027  (optional hook)
        """Release resources."""
