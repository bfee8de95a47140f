"""CSV reader: detect encoding and delimiter, read strictly, keep codes as text.

Why so careful: DuckDB's sniffer, faced with ragged rows, can settle on a dialect that silently
drops rows. We read the header ourselves, pass the columns explicitly and read in strict mode, so a
ragged row is an error naming its line, never a silent loss. Integer-looking columns stay text
(NHS codes such as '01' keep their zeros); dates and decimals are typed only when every value
converts.
"""

from __future__ import annotations

import codecs
import csv as pycsv
import re

import duckdb

from healthdq.errors import SourceError
from healthdq.governance.messages import engine_message
from healthdq.sources.base import ROW, ReadOptions, quote_ident, quote_literal

HEAD_BYTES = 1 << 20
DELIMITERS = [",", "\t", ";", "|"]
# Types we keep from the sniffer when every value converts; integers stay text on purpose.
TYPED = {"DATE", "TIMESTAMP", "DOUBLE", "BOOLEAN", "TIME"}


def _detect_encoding(head: bytes, path: str) -> tuple[str, str | None]:
    if head.startswith(codecs.BOM_UTF16_LE) or head.startswith(codecs.BOM_UTF16_BE):
        return "utf-16", None
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
        return "utf-8", None
    except UnicodeDecodeError as exc:
        line = head[: exc.start].count(b"\n") + 1
        return "latin-1", f"{path}:{line}: not UTF-8; read as latin-1 (override with --encoding)"


def _header(head: bytes, encoding: str, delimiter: str | None, path: str) -> tuple[list[str], str]:
    text = head.decode("utf-16" if encoding == "utf-16" else encoding, errors="replace")
    text = text.lstrip("\ufeff")
    first = text.split("\n", 1)[0].rstrip("\r")
    if not first.strip():
        raise SourceError("first line is blank: expected a header row", path=path, line=1)
    if delimiter is None:
        counts = {d: first.count(d) for d in DELIMITERS}
        delimiter = max(counts, key=lambda d: counts[d])
        if counts[delimiter] == 0:
            delimiter = ","
    names = next(pycsv.reader([first], delimiter=delimiter, quotechar='"'))
    names = [n.strip() for n in names]
    seen: set[str] = set()
    for i, n in enumerate(names, start=1):
        if not n:
            raise SourceError(f"header column {i} has no name", path=path, line=1, column=i)
        if n.lower() in seen:
            raise SourceError(f"duplicate column name '{n}' in header", path=path, line=1)
        seen.add(n.lower())
    return names, delimiter


def _csv_error(exc: duckdb.Error, path: str) -> SourceError:
    text = str(exc)
    m = re.search(r"CSV Error on Line: (\d+)", text)
    line = int(m.group(1)) if m else None
    if "Expected Number of Columns" in text:
        m2 = re.search(r"Expected Number of Columns: (\d+) Found: (\d+)", text)
        detail = f"expected {m2.group(1)} columns, found {m2.group(2)}" if m2 else "ragged row"
        return SourceError(f"ragged row: {detail} (wrong delimiter?)", path=path, line=line)
    if "Invalid unicode" in text or "not utf-8" in text.lower():
        return SourceError("invalid UTF-8 bytes (try --encoding latin-1)", path=path, line=line)
    return SourceError(engine_message(exc), path=path, line=line)


def read(
    con: duckdb.DuckDBPyConnection, base: str, files: list[str], opts: ReadOptions
) -> list[str]:
    warnings: list[str] = []
    with open(files[0], "rb") as fh:
        head = fh.read(HEAD_BYTES)
    encoding = opts.encoding
    if encoding is None:
        encoding, warning = _detect_encoding(head, files[0])
        if warning:
            warnings.append(warning)
    names, delimiter = _header(head, encoding, opts.delimiter, files[0])
    if len(names) == 1 and any(d in names[0] for d in DELIMITERS if d != delimiter):
        warnings.append(f"{files[0]}: read as one column '{names[0]}': wrong delimiter?")
    columns = "{" + ", ".join(f"{quote_literal(n)}: 'VARCHAR'" for n in names) + "}"
    file_list = "[" + ", ".join(quote_literal(f) for f in files) + "]"
    raw = quote_ident(base + "_raw")
    read_sql = (
        f"read_csv({file_list}, auto_detect = false, header = true, "
        f"delim = {quote_literal(delimiter)}, quote = '\"', escape = '\"', "
        f"columns = {columns}, strict_mode = true, encoding = {quote_literal(encoding)})"
    )
    try:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {raw} AS SELECT * FROM {read_sql}")
    except duckdb.Error as exc:
        raise _csv_error(exc, files[0]) from None
    types = _typed_columns(con, files[0], delimiter, encoding, names, raw)
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
    return warnings


def _typed_columns(
    con: duckdb.DuckDBPyConnection,
    path: str,
    delimiter: str,
    encoding: str,
    names: list[str],
    raw: str,
) -> dict[str, str]:
    """Columns the sniffer types as dates/decimals, kept only if every value converts."""
    try:
        sniffed = con.execute(
            "SELECT Columns FROM sniff_csv(?, delim = ?, header = true, encoding = ?)",
            [path, delimiter, encoding],
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
