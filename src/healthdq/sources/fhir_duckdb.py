"""FHIR into DuckDB: every NDJSON line or .json file as one JSON document, then the resource view.

DuckDB's CSV reader splits a file into lines (one VARCHAR column, a delimiter that valid JSON
cannot hold, no quoting), in parallel and in chunks, and `try_cast(line AS JSON)` parses each:
an invalid line becomes NULL and is reported, never a failed read. Lines go, in file order, into
one temporary table whose rowid gives each line its number. A .json file is read whole
(read_text). Bundle entries are unwrapped from the documents with SQL into a second, small
table; the `fhir_resources` view joins the two.
"""

from __future__ import annotations

from typing import Any

import duckdb

from healthdq.fhir.read import MAX_DEPTH, MAX_ISSUES, FhirFile, RawIssue, salvage_gzip
from healthdq.governance.messages import engine_message
from healthdq.sources.base import quote_ident, quote_literal

# Splits nothing: raw control characters cannot appear in valid JSON.
DELIMITER = "\x1e\x1f\x1e"
# Longest NDJSON line (one resource); DuckDB's default is 2 MB.
MAX_LINE_BYTES = 256 << 20
BOM_CHAR = "\ufeff"


def read_fhir(
    engine: Any, table: str, files: list[FhirFile], known: list[str]
) -> tuple[list[RawIssue], int]:
    con: duckdb.DuckDBPyConnection = getattr(engine, "con", engine)
    workdir = engine.workdir() if hasattr(engine, "workdir") else None
    docs, names, entries = (quote_ident(f"__fhir_{table}_{p}") for p in ("docs", "files", "entry"))
    con.execute(f"CREATE OR REPLACE TEMP TABLE {docs} (f INTEGER, bad BOOLEAN, j JSON)")
    issues: list[RawIssue] = []
    starts: list[tuple[int, str, int]] = []
    start = 0
    for i, f in enumerate(files):
        try:
            added = _insert(con, docs, i, f)
        except duckdb.Error as exc:
            if f.compression != "gzip":
                issues.append((i, None, None, "unreadable", engine_message(exc)))
                continue
            copy, issue = salvage_gzip(f, i, workdir)
            issues += [issue] if issue else []
            try:
                added = _insert(con, docs, i, copy)
            except duckdb.Error as again:
                issues.append((i, None, None, "unreadable", engine_message(again)))
                continue
        starts.append((i, f.path, start))
        start += added
    con.execute(f"CREATE OR REPLACE TEMP TABLE {names} (f INTEGER, path VARCHAR, start BIGINT)")
    if starts:
        con.executemany(f"INSERT INTO {names} VALUES (?, ?, ?)", starts)
    lines = (
        f"(SELECT d.f, d.rowid - p.start + 1 AS line, d.bad, d.j, p.path "
        f"FROM {docs} d JOIN {names} p ON d.f = p.f)"
    )
    # Bundle entries, each with its index: one row per entry, from the Bundle documents only.
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {entries} AS "
        f"SELECT f, path, line, unnest(l) AS e, generate_subscripts(l, 1) - 1 AS idx FROM ("
        f"SELECT f, path, line, json_extract(j, '$.entry[*]') AS l FROM {lines} "
        f"WHERE j->>'resourceType' = 'Bundle' AND json_type(j, '$.entry') = 'ARRAY')"
    )
    con.execute(
        f"CREATE OR REPLACE VIEW {quote_ident(table)} AS "
        f"SELECT j->>'resourceType' AS resource_type, j->>'id' AS id, j AS resource, "
        f"NULL::VARCHAR AS full_url, path AS source_file, line::BIGINT AS source_line, "
        f"NULL::INTEGER AS source_entry FROM {lines} WHERE {_is_resource('j')} "
        f"UNION ALL "
        f"SELECT e->'resource'->>'resourceType', e->'resource'->>'id', e->'resource', "
        f"e->>'fullUrl', path, line::BIGINT, idx::INTEGER FROM {entries} "
        f"WHERE {_is_resource(_resource('e'))}"
    )
    known_list = "[" + ", ".join(quote_literal(t) for t in known) + "]"
    found = _issues(con, lines, entries, known_list)
    return issues + found[0], len(issues) + found[1]


def _insert(con: duckdb.DuckDBPyConnection, docs: str, index: int, f: FhirFile) -> int:
    """Append the file's documents (one per line, blank lines too: rowid numbers the lines)."""
    if f.kind == "ndjson":
        source = (
            f"SELECT line AS t FROM read_csv({quote_literal(f.read_path)}, "
            f"columns = {{'line': 'VARCHAR'}}, header = false, auto_detect = false, "
            f"delim = {quote_literal(DELIMITER)}, quote = '', escape = '', strict_mode = false, "
            f"max_line_size = {MAX_LINE_BYTES}, "
            f"compression = {quote_literal(f.compression or 'none')})"
        )
    else:
        # A byte order mark is data to read_text: dropped here.
        source = (
            f"SELECT CASE WHEN starts_with(content, {quote_literal(BOM_CHAR)}) "
            f"THEN substr(content, 2) ELSE content END AS t "
            f"FROM read_text({quote_literal(f.read_path)})"
        )
    row = con.execute(
        f"INSERT INTO {docs} SELECT {int(index)}, j IS NULL AND trim(coalesce(t, '')) <> '', j "
        f"FROM (SELECT t, try_cast(t AS JSON) AS j FROM ({source}))"
    ).fetchone()
    return int(row[0]) if row else 0


def _resource(entry: str) -> str:
    return f"({entry}->'resource')"


def _is_resource(j: str) -> str:
    return f"json_type({j}) = 'OBJECT' AND json_type({j}, '$.resourceType') = 'VARCHAR'"


def _depth(j: str) -> str:
    """Over MAX_DEPTH objects or arrays opened one inside the next (no close between them)."""
    return (
        f"(strlen({j}) > {2 * MAX_DEPTH} AND "
        f"regexp_matches({j}, '([\\[{{][^\\]}}]*){{{MAX_DEPTH + 1}}}'))"
    )


def _type_issue(j: str, known: str) -> str:
    return (
        f"CASE WHEN json_type({j}) <> 'OBJECT' THEN 'not_object' "
        f"WHEN json_type({j}, '$.resourceType') IS DISTINCT FROM 'VARCHAR' "
        f"THEN 'no_resource_type' "
        f"WHEN NOT list_contains({known}, {j}->>'resourceType') THEN 'unknown_type' END"
    )


def _issues(
    con: duckdb.DuckDBPyConnection, lines: str, entries: str, known: str
) -> tuple[list[RawIssue], int]:
    """The first MAX_ISSUES + 1 issues of the documents and entries, in order, and their count."""
    res = _resource("e")
    sql = (
        "WITH found AS ("
        f"SELECT f, line, NULL::INTEGER AS entry, unnest(list_filter(["
        f"CASE WHEN bad THEN 'invalid_json' "
        f"WHEN j IS NOT NULL THEN {_type_issue('j', known)} END, "
        f"CASE WHEN j IS NOT NULL AND {_depth('j')} THEN 'deep' END], "
        f"lambda c: c IS NOT NULL)) AS code, "
        f"j->>'resourceType' AS detail FROM {lines} "
        f"UNION ALL SELECT f, line, idx::INTEGER, "
        f"CASE WHEN json_type(e) <> 'OBJECT' THEN 'entry_not_object' "
        f"WHEN {res} IS NULL OR json_type({res}) = 'NULL' THEN 'entry_no_resource' "
        f"ELSE {_type_issue(res, known)} END, {res}->>'resourceType' FROM {entries}) "
        "SELECT f, line, entry, code, CASE WHEN code = 'unknown_type' THEN detail END, "
        "count(*) OVER () FROM found WHERE code IS NOT NULL "
        f"ORDER BY f, line, entry NULLS FIRST LIMIT {MAX_ISSUES + 1}"
    )
    rows = con.execute(sql).fetchall()
    total = int(rows[0][5]) if rows else 0
    return [(int(r[0]), int(r[1]), r[2], str(r[3]), r[4]) for r in rows], total
