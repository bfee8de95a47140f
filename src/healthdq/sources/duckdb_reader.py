"""Reading into DuckDB: csv, parquet, json/ndjson and DuckDB tables as relations with `__row`.

CSV: DuckDB's sniffer, faced with ragged rows, can settle on a dialect that silently drops rows.
We read the header ourselves (sources/sniff.py), pass the columns explicitly and read in strict
mode, so a ragged row is an error naming its line, never a silent loss. Integer-looking columns
stay text (NHS codes such as '01' keep their zeros); dates and decimals are typed only when every
value converts. gzip and zstd files are read compressed; encodings DuckDB cannot read itself
(UTF-16 big-endian, cp1252...) are first transcoded to UTF-8 in the working folder.
"""

from __future__ import annotations

import codecs
import gzip
import io
import re
import tempfile
from pathlib import Path
from typing import IO, cast

import duckdb

from healthdq.errors import SourceError
from healthdq.governance.messages import engine_message
from healthdq.sources import sniff
from healthdq.sources.base import ROW, ReadOptions, RegisteredTable, quote_ident, quote_literal
from healthdq.sources.compose import datetime_from_parts
from healthdq.sources.locate import resolve_files
from healthdq.sources.mapping import Mapped, map_columns

# Types we keep from the sniffer when every value converts; integers stay text on purpose.
TYPED = {"DATE", "TIMESTAMP", "DOUBLE", "BOOLEAN", "TIME"}
# Encodings DuckDB's CSV reader takes without an extension (Python codec name -> DuckDB name).
NATIVE = {"utf-8": "utf-8", "utf-16": "utf-16", "utf-16-le": "utf-16", "iso8859-1": "latin-1"}
TRANSCODE_CHUNK = 1 << 20
# Error classes a damaged Parquet file raises mid-scan (a Thrift error arrives as the base class).
READ_FAILURES = (
    duckdb.Error,
    duckdb.IOException,
    duckdb.InvalidInputException,
    duckdb.InternalException,
)


def register(
    con: duckdb.DuckDBPyConnection,
    name: str,
    location: str,
    opts: ReadOptions,
    workdir: str | None = None,
) -> RegisteredTable:
    """Read `location` into relation `name` (a view with a `__row` column)."""
    files, detected = resolve_files(location, workdir)
    fmt = opts.format or detected
    base = f"__src_{name}"
    readers = {"csv": _csv, "parquet": _parquet, "json": _json, "duckdb": _database}
    if fmt not in readers:
        raise SourceError(
            "unrecognised file type (use --format csv|parquet|json|duckdb)", path=location
        )
    try:
        warnings = readers[fmt](con, base, files, opts, workdir)
    except SourceError:
        raise
    except duckdb.Error as exc:
        raise SourceError(first_line(exc), path=_named(exc, files)) from None
    columns = [c for c in describe(con, base) if c != ROW]
    mapped = mapped_view(con, name, base, columns, opts, location)
    try:
        rows = con.execute(f"SELECT count(*) FROM {quote_ident(name)}").fetchone()
    except duckdb.Error as exc:
        raise SourceError(first_line(exc), path=_named(exc, files)) from None
    return RegisteredTable(
        name=name,
        source=location,
        format=fmt,
        columns={c: t for c, t in describe(con, name).items() if c != ROW},
        rows=int(rows[0]) if rows else 0,
        warnings=warnings + mapped.warnings,
        files=files if fmt == "parquet" else [],
        bindings=mapped.bound,
    )


def mapped_view(
    con: duckdb.DuckDBPyConnection,
    name: str,
    base: str,
    columns: list[str],
    opts: ReadOptions,
    location: str,
) -> Mapped:
    """View `name` over `base`: `__row`, then each column under its mapped or aliased name."""
    mapped = map_columns(columns, opts.mapping, location, opts.lower_case, opts.aliases, opts.parts)
    select = [quote_ident(ROW)] + [
        quote_ident(src) if src == out else f"{quote_ident(src)} AS {quote_ident(out)}"
        for src, out in mapped.pairs
    ]
    select += [
        f"{datetime_from_parts(d, t).sql(dialect='duckdb')} AS {quote_ident(out)}"
        for d, t, out in mapped.composed
    ]
    con.execute(
        f"CREATE OR REPLACE VIEW {quote_ident(name)} AS SELECT {', '.join(select)} "
        f"FROM {quote_ident(base)}"
    )
    return mapped


def describe(con: duckdb.DuckDBPyConnection, relation: str) -> dict[str, str]:
    return {
        str(r[0]): str(r[1]) for r in con.execute(f"DESCRIBE {quote_ident(relation)}").fetchall()
    }


def first_line(exc: BaseException) -> str:
    """The engine's message without data: readers quote the line or value they failed on."""
    return engine_message(exc)


def _named(exc: BaseException, files: list[str]) -> str:
    """The file an engine message names, else the first file."""
    text = str(exc)
    return next((f for f in files if f in text), files[0])


def _file_list(files: list[str]) -> str:
    return "[" + ", ".join(quote_literal(f) for f in files) + "]"


# -- csv ---------------------------------------------------------------------------------------


def _csv(
    con: duckdb.DuckDBPyConnection,
    base: str,
    files: list[str],
    opts: ReadOptions,
    workdir: str | None,
) -> list[str]:
    first = sniff.csv_layout(files[0], opts.encoding, opts.delimiter)
    layouts = [first] + [
        sniff.csv_layout(f, first.encoding, first.delimiter, sniff.OTHER_HEAD_BYTES)
        for f in files[1:]
    ]
    if len({lay.compression for lay in layouts}) > 1:
        raise SourceError("files mix compressed and plain CSV: give one kind", path=files[0])
    if not opts.union_by_name:
        for lay in layouts[1:]:
            sniff.same_columns(first, lay)
    paths, encoding, compression = _readable(layouts, workdir)
    if opts.infer_all_types:
        return _csv_all_types(con, base, paths, first, encoding, compression)
    raw = quote_ident(base + "_raw")
    try:
        if opts.union_by_name and len(layouts) > 1:
            _csv_union(con, raw, layouts, paths, encoding, compression)
        else:
            read_sql = _read_csv(paths, first.names, first.delimiter, encoding, compression)
            con.execute(f"CREATE OR REPLACE TEMP TABLE {raw} AS SELECT * FROM {read_sql}")
    except duckdb.Error as exc:
        raise _csv_error(exc, [lay.path for lay in layouts], paths) from None
    names = [c for c in describe(con, base + "_raw")]
    types = _typed_columns(con, paths[0], first.delimiter, encoding, compression, names, raw)
    select = [f"rowid + 1 AS {ROW}"]
    for n in names:
        t = types.get(n)
        select.append(f"CAST({quote_ident(n)} AS {t}) AS {quote_ident(n)}" if t else quote_ident(n))
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {quote_ident(base + '_data')} AS "
        f"SELECT {', '.join(select)} FROM {raw}"
    )
    con.execute(f"DROP TABLE {raw}")
    con.execute(
        f"CREATE OR REPLACE VIEW {quote_ident(base)} AS SELECT * FROM {quote_ident(base + '_data')}"
    )
    return [w for lay in layouts for w in lay.warnings]


def _read_csv(
    paths: list[str], names: list[str], delimiter: str, encoding: str, compression: str
) -> str:
    columns = "{" + ", ".join(f"{quote_literal(n)}: 'VARCHAR'" for n in names) + "}"
    return (
        f"read_csv({_file_list(paths)}, auto_detect = false, header = true, "
        f"delim = {quote_literal(delimiter)}, quote = '\"', escape = '\"', "
        f"columns = {columns}, strict_mode = true, encoding = {quote_literal(encoding)}, "
        f"compression = {quote_literal(compression)})"
    )


def _csv_union(
    con: duckdb.DuckDBPyConnection,
    raw: str,
    layouts: list[sniff.CsvLayout],
    paths: list[str],
    encoding: str,
    compression: str,
) -> None:
    """Files with different columns as one table: every column of any file, by name.

    One insert per file, in file order, so row numbers run through the files in order.
    """
    union: dict[str, str] = {}
    for lay in layouts:
        for n in lay.names:
            union.setdefault(n.lower(), n)
    cols = ", ".join(f"{quote_ident(n)} VARCHAR" for n in union.values())
    con.execute(f"CREATE OR REPLACE TEMP TABLE {raw} ({cols})")
    for lay, path in zip(layouts, paths, strict=True):
        names = [union[n.lower()] for n in lay.names]
        read_sql = _read_csv([path], lay.names, lay.delimiter, encoding, compression)
        select = ", ".join(
            f"{quote_ident(src)} AS {quote_ident(out)}"
            for src, out in zip(lay.names, names, strict=True)
        )
        con.execute(
            f"INSERT INTO {raw} ({', '.join(quote_ident(n) for n in names)}) "
            f"SELECT {select} FROM {read_sql}"
        )


def _readable(layouts: list[sniff.CsvLayout], workdir: str | None) -> tuple[list[str], str, str]:
    """Paths DuckDB can read, the DuckDB encoding and compression to read them with."""
    first = layouts[0]
    name = codecs.lookup(first.encoding).name
    native = NATIVE.get(name)
    if native and not sniff.is_big_endian(first.encoding, first.head):
        return [lay.path for lay in layouts], native, first.compression or "none"
    folder = Path(tempfile.mkdtemp(prefix="utf8-", dir=workdir))
    paths = [_transcode(lay, folder / f"{i}.csv") for i, lay in enumerate(layouts)]
    return paths, "utf-8", "none"


def _transcode(layout: sniff.CsvLayout, target: Path) -> str:
    """The file as UTF-8 (decompressed), in chunks: codec work, not per-row Python."""
    with (
        _open_binary(layout.path, layout.compression) as raw,
        open(target, "w", encoding="utf-8", newline="") as out,
    ):
        text = io.TextIOWrapper(raw, encoding=layout.encoding, errors="strict", newline="")
        try:
            while chunk := text.read(TRANSCODE_CHUNK):
                out.write(chunk)
        except UnicodeDecodeError as exc:
            raise SourceError(
                f"not valid {layout.encoding} ({exc.reason}); give --encoding", path=layout.path
            ) from None
    return str(target)


def _open_binary(path: str, compression: str | None) -> IO[bytes]:
    if compression == "gzip":
        return cast(IO[bytes], gzip.open(path, "rb"))
    if compression == "zstd":
        import zstandard

        raw = open(path, "rb")  # noqa: SIM115  (closed by the reader: closefd)
        return cast(IO[bytes], zstandard.ZstdDecompressor().stream_reader(raw, closefd=True))
    return open(path, "rb")


def _csv_error(exc: duckdb.Error, files: list[str], paths: list[str]) -> SourceError:
    text = str(exc)
    # The message names the file DuckDB was reading (a transcoded copy stands for its original).
    path = next((f for f, p in zip(files, paths, strict=True) if p in text), files[0])
    m = re.search(r"CSV Error on Line: (\d+)", text)
    line = int(m.group(1)) if m else None
    if "Expected Number of Columns" in text:
        m2 = re.search(r"Expected Number of Columns: (\d+) Found: (\d+)", text)
        detail = f"expected {m2.group(1)} columns, found {m2.group(2)}" if m2 else "ragged row"
        return SourceError(f"ragged row: {detail} (wrong delimiter?)", path=path, line=line)
    if "Invalid unicode" in text or "not utf-8" in text.lower():
        return SourceError("invalid UTF-8 bytes (try --encoding latin-1)", path=path, line=line)
    return SourceError(first_line(exc), path=path, line=line)


def _typed_columns(
    con: duckdb.DuckDBPyConnection,
    path: str,
    delimiter: str,
    encoding: str,
    compression: str,
    names: list[str],
    raw: str,
) -> dict[str, str]:
    """Columns the sniffer types as dates/decimals, kept only if every value converts."""
    try:
        sniffed = con.execute(
            "SELECT Columns FROM sniff_csv(?, delim = ?, header = true, encoding = ?, "
            "compression = ?)",
            [path, delimiter, encoding, compression],
        ).fetchone()
    except duckdb.Error:
        return {}
    if not sniffed:
        return {}
    candidates = {
        c["name"]: c["type"] for c in sniffed[0] if c["type"] in TYPED and c["name"] in names
    }
    if not candidates:
        return {}
    checks = ", ".join(
        f"count(*) FILTER (WHERE {quote_ident(n)} IS NOT NULL AND trim({quote_ident(n)}) <> '' "
        f"AND TRY_CAST({quote_ident(n)} AS {t}) IS NULL)"
        for n, t in candidates.items()
    )
    row = con.execute(f"SELECT {checks} FROM {raw}").fetchone()
    if row is None:
        return {}
    return {n: t for (n, t), bad in zip(candidates.items(), row, strict=True) if bad == 0}


def _csv_all_types(
    con: duckdb.DuckDBPyConnection,
    base: str,
    paths: list[str],
    first: sniff.CsvLayout,
    encoding: str,
    compression: str,
) -> list[str]:
    """DuckDB's own dialect and types, every value sampled (OMOP CDM files).

    A late non-numeric value then makes the column text (reported by cdmDatatype) instead of
    failing the read.
    """
    con.execute(
        f"CREATE OR REPLACE TABLE {quote_ident(base)} AS SELECT row_number() OVER () AS "
        f"{quote_ident(ROW)}, * FROM read_csv({_file_list(paths)}, header = true, "
        f"sample_size = -1, encoding = {quote_literal(encoding)}, "
        f"compression = {quote_literal(compression)})"
    )
    return list(first.warnings)


# -- parquet, json, database -------------------------------------------------------------------


def _parquet(
    con: duckdb.DuckDBPyConnection,
    base: str,
    files: list[str],
    opts: ReadOptions,
    workdir: str | None,
) -> list[str]:
    if len(files) > 1 and not opts.union_by_name:
        _same_parquet_schema(con, files)
    # The file's own row numbers: a view over the files, no copy.
    con.execute(
        f"CREATE OR REPLACE VIEW {quote_ident(base)} AS "
        f"SELECT file_row_number + 1 AS {ROW}, * EXCLUDE (file_row_number) "
        f"FROM read_parquet({_file_list(files)}, file_row_number = true, "
        f"union_by_name = {'true' if opts.union_by_name else 'false'})"
    )
    warnings = []
    if len(files) > 1:
        warnings.append(f"{len(files)} files read; sample row numbers restart in each file")
    return warnings


def _same_parquet_schema(con: duckdb.DuckDBPyConnection, files: list[str]) -> None:
    """Refuse files whose schemas differ (names or types), naming the first file and the odd one.

    Nullability is not compared: a writer marks a column without NULLs REQUIRED in one file
    and OPTIONAL in the next.

    Reads footers only (one query; DuckDB caches them for the scans that follow).
    """
    try:
        rows = con.execute(
            "SELECT file_name, lower(name), duckdb_type, num_children "
            f"FROM parquet_schema({_file_list(files)})"
        ).fetchall()
    except duckdb.Error as exc:
        raise SourceError(
            f"not a readable Parquet file ({first_line(exc)})", path=_named(exc, files)
        ) from None
    schemas: dict[str, list[tuple[object, ...]]] = {f: [] for f in files}
    for file_name, *element in rows:
        schemas.setdefault(str(file_name), []).append(tuple(element))
    reference = schemas[files[0]]
    for f in files[1:]:
        if schemas.get(f) != reference:
            ours = [str(e[0]) for e in reference[1:]]
            theirs = [str(e[0]) for e in schemas.get(f, [])[1:]]
            detail = sniff.describe_difference(ours, theirs)
            if detail == "same columns in another order" and ours == theirs:
                detail = "column types differ"
            raise SourceError(
                f"schema differs from {files[0]} ({detail}); give --union-by-name to combine "
                "files by column name",
                path=f,
            )


def _json(
    con: duckdb.DuckDBPyConnection,
    base: str,
    files: list[str],
    opts: ReadOptions,
    workdir: str | None,
) -> list[str]:
    # Numbers that are codes arrive as JSON strings and stay strings; we never re-type them.
    # Records may carry different keys by design, so JSON is always combined by name.
    con.execute(
        f"CREATE OR REPLACE TABLE {quote_ident(base + '_data')} AS "
        f"SELECT * FROM read_json({_file_list(files)}, format = 'auto', union_by_name = true, "
        f"compression = {quote_literal(_json_compression(files))})"
    )
    con.execute(
        f"CREATE OR REPLACE VIEW {quote_ident(base)} AS "
        f"SELECT rowid + 1 AS {ROW}, * FROM {quote_ident(base + '_data')}"
    )
    return []


def _json_compression(files: list[str]) -> str:
    """gzip or zstd by the files' first bytes (DuckDB alone would go by the name)."""
    kinds = {sniff.compression(f) for f in files}
    if len(kinds) > 1:
        raise SourceError("files mix compressed and plain JSON: give one kind", path=files[0])
    kind = kinds.pop()
    if kind is not None and kind not in sniff.READABLE:
        raise SourceError(f"file is {kind}-compressed: decompress it first", path=files[0])
    return kind or "none"


def _database(
    con: duckdb.DuckDBPyConnection,
    base: str,
    files: list[str],
    opts: ReadOptions,
    workdir: str | None,
) -> list[str]:
    """A table inside a DuckDB database file, attached read-only."""
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


# -- databases holding many tables (an OMOP CDM) --------------------------------------------------


def register_database(
    con: duckdb.DuckDBPyConnection, location: str, schema: str | None
) -> tuple[dict[str, RegisteredTable], list[str]]:
    """Every table and view of one schema of a DuckDB file or PostgreSQL database, read-only.

    Each becomes a view named after the table in lower case, with lower-case columns and a
    `__row` column. Without `schema`: the schema holding PERSON, else the only one, else 'main'
    ('public' on PostgreSQL).
    """
    if location.startswith(("postgres:", "postgresql:")):
        # DuckDB's postgres extension must already be installed (it is version-locked to the
        # DuckDB build and normally downloaded on first use).
        try:
            # Never download at run time: an offline machine would wait on the network.
            con.execute("SET autoinstall_known_extensions = false")
            con.execute("LOAD postgres")
        except duckdb.Error as exc:
            raise SourceError(
                "PostgreSQL needs DuckDB's postgres extension for this DuckDB version "
                f"(install it with DuckDB's INSTALL postgres): {first_line(exc)}",
                path=location,
            ) from None
        dsn = location.split(":", 1)[1] if location.startswith("postgres:") else location
        alias = "__cdm_pg"
        con.execute(f"ATTACH {quote_literal(dsn)} AS {alias} (TYPE postgres, READ_ONLY)")
        schema = schema or "public"
    else:
        if not Path(location).exists():
            raise SourceError("not found", path=location)
        alias = "__cdm_db"
        try:
            con.execute(f"ATTACH {quote_literal(location)} AS {alias} (READ_ONLY)")
        except duckdb.Error as exc:
            raise SourceError(first_line(exc), path=location) from None
    rows = con.execute(
        "SELECT schema_name, table_name, false FROM duckdb_tables() WHERE database_name = ? "
        "UNION ALL SELECT schema_name, view_name, true FROM duckdb_views() "
        "WHERE database_name = ? AND NOT internal",
        [alias, alias],
    ).fetchall()
    schemas = sorted({r[0] for r in rows})
    if schema is None:
        with_person = sorted({r[0] for r in rows if r[1].lower() == "person"})
        schema = with_person[0] if with_person else (schemas[0] if len(schemas) == 1 else "main")
    tables: dict[str, RegisteredTable] = {}
    warnings: list[str] = []
    for sch, table, is_view in rows:
        if sch.lower() != schema.lower():
            continue
        name = table.lower()
        if name in tables:
            continue
        base = f"__cdm_{name}"
        ref = f"{quote_ident(alias)}.{quote_ident(sch)}.{quote_ident(table)}"
        row_id = "row_number() OVER ()" if is_view else "rowid + 1"
        source = f"{location}#{sch}.{table}"
        try:
            con.execute(
                f"CREATE OR REPLACE VIEW {quote_ident(base)} AS "
                f"SELECT {row_id} AS {quote_ident(ROW)}, * FROM {ref}"
            )
            tables[name] = _lower_view(con, name, base, source)
        except duckdb.Error as exc:
            warnings.append(f"{table}: cannot be read ({first_line(exc)})")
    return tables, warnings


def _lower_view(
    con: duckdb.DuckDBPyConnection, name: str, base: str, source: str
) -> RegisteredTable:
    mapped = map_columns(list(describe(con, base)), {}, source, lower_case=True)
    select = [quote_ident(ROW)] + [f"{quote_ident(s)} AS {quote_ident(o)}" for s, o in mapped.pairs]
    con.execute(
        f"CREATE OR REPLACE VIEW {quote_ident(name)} AS SELECT {', '.join(select)} "
        f"FROM {quote_ident(base)}"
    )
    row = con.execute(f"SELECT count(*) FROM {quote_ident(name)}").fetchone()
    return RegisteredTable(
        name=name,
        source=source,
        format="table",
        columns={c: t for c, t in describe(con, name).items() if c != ROW},
        rows=int(row[0]) if row else 0,
    )


# -- errors found while scanning -----------------------------------------------------------------


def corrupt_file(con: duckdb.DuckDBPyConnection, exc: duckdb.Error, files: list[str]) -> str | None:
    """Which of `files` (Parquet) fails to read in full, when a scan failed with `exc`.

    Called on the error path only: a damaged page surfaces mid-scan with a message that names
    no file (e.g. a Thrift decoding error), so each file is read once on its own to find it.
    """
    if not files or type(exc) not in READ_FAILURES:
        return None  # a rule's own failure (binding, conversion...), not a damaged file
    named = [f for f in files if f in str(exc)]
    if named:
        return named[0]
    for f in files:
        try:
            con.execute(
                f"SELECT max(hash(COLUMNS(*))) FROM read_parquet({quote_literal(f)})"
            ).fetchall()
        except duckdb.PermissionException:
            return None  # the engine is sealed: the probe proves nothing
        except duckdb.Error:
            return f
    return None
