"""FHIR into DuckDB: every NDJSON line or .json file as one JSON document, then the resource view.

DuckDB's CSV reader splits a file into lines (one VARCHAR column, a delimiter that valid JSON
cannot hold, no quoting), in parallel and in chunks, and `try_cast(line AS JSON)` parses each:
an invalid line becomes NULL and is reported, never a failed read. Lines go, in file order, into
one temporary table whose rowid gives each line its number. A .json file is read whole
(read_text). Bundle entries are unwrapped from the documents with SQL into a second, small
table; the `fhir_resources` view joins the two.
"""

from __future__ import annotations

import contextlib
import os
from typing import Any

import duckdb

from healthdq.fhir.read import MAX_DEPTH, MAX_ISSUES, FhirFile, RawIssue, salvage_gzip
from healthdq.governance.messages import engine_message
from healthdq.sources.base import quote_ident, quote_literal

# Splits nothing: raw control characters cannot appear in valid JSON.
DELIMITER = "\x1e\x1f\x1e"
# Longest NDJSON line (one resource) read in the first pass, and the reader's buffer (DuckDB's
# defaults, 2 MB lines in 32 MB buffers, would refuse a large Binary). A file with a longer line
# is read again with room for lines of LONG_LINE_BYTES (a buffer that size per thread).
MAX_LINE_BYTES = 32 << 20
LONG_LINE_BYTES = 1 << 30
BOM_CHAR = "\ufeff"
# DuckDB's memory limit while FHIR is read, unless one was asked for (--memory-limit): the line
# table is as large as the export, so without a bound a 5 GB export took 6.1 GB of memory; with
# it DuckDB spills to the engine's temporary folder (BENCHMARKS.md "Reading a large FHIR export").
FHIR_MEMORY_LIMIT_BYTES = 1 << 30
# Over MAX_DEPTH objects or arrays opened one inside the next (only non-brackets between).
DEEP = (
    f"(j IS NOT NULL AND strlen({{t}}) > {2 * MAX_DEPTH} "
    f"AND regexp_matches({{t}}, '([\\[{{{{][^\\[\\]{{{{}}}}]*){{{{{MAX_DEPTH + 1}}}}}'))"
)


def read_fhir(
    engine: Any, table: str, files: list[FhirFile], known: list[str]
) -> tuple[list[RawIssue], int]:
    con: duckdb.DuckDBPyConnection = getattr(engine, "con", engine)
    workdir = engine.workdir() if hasattr(engine, "workdir") else None
    bound_memory(engine)
    docs, names, entries = (quote_ident(f"__fhir_{table}_{p}") for p in ("docs", "files", "entry"))
    known_list = "[" + ", ".join(quote_literal(t) for t in known) + "]"
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {docs} "
        "(f INTEGER, j JSON, rt VARCHAR, id VARCHAR, code VARCHAR, deep BOOLEAN)"
    )
    issues: list[RawIssue] = []
    starts: list[tuple[int, str, int]] = []
    start = 0
    for i, f in enumerate(files):
        try:
            added = _insert_file(con, docs, i, f, known_list)
        except duckdb.Error as exc:
            if f.compression != "gzip":
                issues.append((i, None, None, "unreadable", engine_message(exc)))
                continue
            copy, issue = salvage_gzip(f, i, workdir)
            issues += [issue] if issue else []
            try:
                added = _insert_file(con, docs, i, copy, known_list)
            except duckdb.Error as again:
                issues.append((i, None, None, "unreadable", engine_message(again)))
                continue
        starts.append((i, f.path, start))
        start += added
    con.execute(f"CREATE OR REPLACE TEMP TABLE {names} (f INTEGER, path VARCHAR, start BIGINT)")
    if starts:
        con.executemany(f"INSERT INTO {names} VALUES (?, ?, ?)", starts)
    lines = (
        f"(SELECT d.f, p.path, d.rowid - p.start + 1 AS line, d.j, d.rt, d.id, d.code, d.deep "
        f"FROM {docs} d JOIN {names} p ON d.f = p.f)"
    )
    # Bundle entries, each with its index, classified as the lines are: a small table.
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {entries} AS "
        f"SELECT f, path, line, idx, e, r AS j, {_rt('x')} AS rt, {_id('x')} AS id, "
        f"CASE WHEN json_type(e) <> 'OBJECT' THEN 'entry_not_object' "
        f"WHEN r IS NULL OR json_type(r) = 'NULL' THEN 'entry_no_resource' "
        f"ELSE {_type_code('r', 'x', known_list)} END AS code FROM ("
        f"SELECT *, json_extract(r, ['$.resourceType', '$.id']) AS x FROM ("
        f"SELECT *, e->'resource' AS r FROM ("
        f"SELECT f, path, line, unnest(l) AS e, generate_subscripts(l, 1) - 1 AS idx FROM ("
        f"SELECT f, path, line, json_extract(j, '$.entry[*]') AS l FROM {lines} "
        f"WHERE rt = 'Bundle'))))"
    )
    kept = "(code IS NULL OR code = 'unknown_type')"
    con.execute(
        f"CREATE OR REPLACE VIEW {quote_ident(table)} AS "
        f"SELECT rt AS resource_type, id, j AS resource, NULL::VARCHAR AS full_url, "
        f"path AS source_file, line::BIGINT AS source_line, NULL::INTEGER AS source_entry "
        f"FROM {lines} WHERE {kept} "
        f"UNION ALL "
        f"SELECT rt, id, j, e->>'fullUrl', path, line::BIGINT, idx::INTEGER "
        f"FROM {entries} WHERE {kept}"
    )
    found = _issues(con, lines, entries)
    return issues + found[0], len(issues) + found[1]


def bound_memory(engine: Any) -> None:
    """Cap a healthdq DuckDB engine's memory at FHIR_MEMORY_LIMIT_BYTES (or 80% of RAM, if
    less) when no limit was asked for. A bare DuckDB connection is the caller's: left alone."""
    if not hasattr(engine, "memory_limit") or engine.memory_limit is not None:
        return
    limit = FHIR_MEMORY_LIMIT_BYTES
    with contextlib.suppress(ValueError, OSError, AttributeError):  # no sysconf: the default
        limit = min(limit, int(0.8 * os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")))
    engine.memory_limit = f"{limit >> 20}MiB"
    engine.con.execute(f"SET memory_limit = '{engine.memory_limit}'")


def _insert_file(
    con: duckdb.DuckDBPyConnection, docs: str, index: int, f: FhirFile, known: str
) -> int:
    try:
        return _insert(con, docs, index, f, known, MAX_LINE_BYTES)
    except (duckdb.InvalidInputException, duckdb.NotImplementedException):
        if f.kind != "ndjson":
            raise
    # A line longer than MAX_LINE_BYTES (the failed insert left nothing behind).
    return _insert(con, docs, index, f, known, LONG_LINE_BYTES)


def _insert(
    con: duckdb.DuckDBPyConnection,
    docs: str,
    index: int,
    f: FhirFile,
    known: str,
    line_bytes: int,
) -> int:
    """Append the file's documents, classified (one row per line, blank lines too: rowid
    numbers the lines). Each line is parsed twice: validated as JSON, then resourceType and id
    read in one pass; the rest happens only for the few odd lines."""
    if f.kind == "ndjson":
        source = (
            f"SELECT line AS t FROM read_csv({quote_literal(f.read_path)}, "
            f"columns = {{'line': 'VARCHAR'}}, header = false, auto_detect = false, "
            f"delim = {quote_literal(DELIMITER)}, quote = '', escape = '', strict_mode = false, "
            f"max_line_size = {line_bytes}, buffer_size = {2 * line_bytes}, "
            f"compression = {quote_literal(f.compression or 'none')})"
        )
    else:
        # A byte order mark is data to read_text: dropped here.
        source = (
            f"SELECT CASE WHEN starts_with(content, {quote_literal(BOM_CHAR)}) "
            f"THEN substr(content, 2) ELSE content END AS t "
            f"FROM read_text({quote_literal(f.read_path)})"
        )
    code = (
        "CASE WHEN j IS NULL THEN CASE WHEN regexp_matches(t, '\\S') THEN 'invalid_json' "
        f"ELSE 'blank' END ELSE {_type_code('j', 'x', known)} END"
    )
    row = con.execute(
        f"INSERT INTO {docs} SELECT {int(index)}, j, {_rt('x')}, {_id('x')}, {code}, "
        f"{DEEP.format(t='t')} "
        f"FROM (SELECT t, j, json_extract(j, ['$.resourceType', '$.id']) AS x FROM ("
        f"SELECT t, try_cast(t AS JSON) AS j FROM ({source})))"
    ).fetchone()
    return int(row[0]) if row else 0


def _rt(x: str) -> str:
    """resourceType from json_extract(j, ['$.resourceType', '$.id']): a JSON string only."""
    return f"CASE WHEN starts_with({x}[1], '\"') THEN {x}[1]->>'$' END"


def _id(x: str) -> str:
    return f"({x}[2]->>'$')"


def _type_code(j: str, x: str, known: str) -> str:
    """Issue code for a parsed document: not an object, no resourceType, unknown type, or NULL.

    Only documents without a string resourceType are looked at again (json_type)."""
    return (
        f"CASE WHEN {_rt(x)} IS NULL THEN CASE WHEN json_type({j}) <> 'OBJECT' "
        f"THEN 'not_object' ELSE 'no_resource_type' END "
        f"WHEN NOT list_contains({known}, {_rt(x)}) THEN 'unknown_type' END"
    )


def _issues(con: duckdb.DuckDBPyConnection, lines: str, entries: str) -> tuple[list[RawIssue], int]:
    """The first MAX_ISSUES + 1 issues of the documents and entries, in order, and their count."""
    sql = (
        "WITH found AS ("
        "SELECT f, line, NULL::INTEGER AS entry, code, rt FROM {lines} "
        "WHERE code IS NOT NULL AND code <> 'blank' "
        "UNION ALL SELECT f, line, NULL::INTEGER, 'deep', NULL FROM {lines} WHERE deep "
        "UNION ALL SELECT f, line, idx::INTEGER, code, rt FROM {entries} WHERE code IS NOT NULL) "
        "SELECT f, line, entry, code, CASE WHEN code = 'unknown_type' THEN rt END, "
        "count(*) OVER () FROM found "
        f"ORDER BY f, line, entry NULLS FIRST LIMIT {MAX_ISSUES + 1}"
    ).format(lines=lines, entries=entries)
    rows = con.execute(sql).fetchall()
    total = int(rows[0][5]) if rows else 0
    return [(int(r[0]), int(r[1]), r[2], str(r[3]), r[4]) for r in rows], total
