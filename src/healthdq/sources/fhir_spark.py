"""FHIR into Spark: the same `fhir_resources` table as on DuckDB, as a cached temp view.

Spark's text source splits NDJSON into lines (a .json file is read whole), in parallel across
splits; each line is numbered within its file from the splits' row counts (only the counts come
back to the driver), parsed once with try_parse_json (a VARIANT; NULL when the line is not JSON),
and turned, with its Bundle entries, into rows of the table in one generator pass. `resource` is
the line as given for a top-level resource, and the entry re-serialised (keys sorted, as Spark's
VARIANT keeps them) for a Bundle entry.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from healthdq.fhir.read import MAX_DEPTH, MAX_ISSUES, FhirFile, RawIssue, salvage_gzip
from healthdq.governance.messages import engine_message

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from healthdq.engine.spark import SparkEngine

# monotonically_increasing_id keeps the partition index above bit 33.
PARTITION_SHIFT = 33
BOM_CHAR = "\ufeff"
# Over MAX_DEPTH objects or arrays opened one inside the next, only non-brackets between (the
# same test as on DuckDB; written without ambiguity so a backtracking engine stays linear). Only
# lines holding more than MAX_DEPTH opening brackets can match, so only those are searched: the
# search on every line was most of the read's time (Java's regex engine, 2026-12-07 profile).
DEEP = f"([\\\\[{{][^\\\\[\\\\]{{}}]*){{{MAX_DEPTH + 1}}}"


def read_fhir(
    engine: SparkEngine, table: str, files: list[FhirFile], known: list[str]
) -> tuple[list[RawIssue], int]:
    issues: list[RawIssue] = []
    files = list(files)
    live = list(range(len(files)))
    try:
        offsets = _split_offsets(engine, files, live)
    except Exception:  # a file Spark cannot read: find it, salvage gzip, report the rest
        live, found = _readable(engine, files, live)
        issues += found
        offsets = _split_offsets(engine, files, live) if live else []
    # Cached: the issue query below computes it once, the view reads it after.
    items = engine.keep(_items(engine, table, files, live, offsets, known))
    view = items.where("resource IS NOT NULL").select(
        "resource_type",
        "id",
        "resource",
        "full_url",
        "source_file",
        "source_line",
        "source_entry",
    )
    view.createOrReplaceTempView(table)
    return _issues(items, issues)


def _lines(engine: SparkEngine, files: list[FhirFile], live: list[int]) -> DataFrame:
    """(f, mid, t) for every line of every readable file, in file order."""
    from pyspark.sql import functions as F

    frames = []
    for i in live:
        f = files[i]
        df = engine.spark.read.text(f.read_path, wholetext=f.kind == "json")
        frames.append(
            df.select(
                F.lit(i).alias("f"),
                F.monotonically_increasing_id().alias("mid"),
                F.col("value").alias("t"),
            )
        )
    out = frames[0]
    for df in frames[1:]:
        out = out.unionAll(df)
    return out


def _split_offsets(
    engine: SparkEngine, files: list[FhirFile], live: list[int]
) -> list[tuple[int, int, int]]:
    """(file, split, number to add to a row's id to get its line) for every split."""
    from pyspark.sql import functions as F

    if not live:
        return []
    counts = (
        _lines(engine, files, live)
        .groupBy("f", F.shiftright("mid", PARTITION_SHIFT).alias("part"))
        .agg(F.count(F.lit(1)).alias("n"), F.min("mid").alias("first"))
        .collect()
    )
    out = []
    seen: dict[int, int] = {}
    for r in sorted(counts, key=lambda r: (r["f"], r["part"])):
        before = seen.get(r["f"], 0)
        out.append((int(r["f"]), int(r["part"]), before - int(r["first"]) + 1))
        seen[r["f"]] = before + int(r["n"])
    return out


def _readable(
    engine: SparkEngine, files: list[FhirFile], live: list[int]
) -> tuple[list[int], list[RawIssue]]:
    """After a failed read: damaged gzip files are salvaged (checked here, not by Spark, which
    stops at the first); if none was damaged, each file is read alone to find the bad one."""
    issues: list[RawIssue] = []
    for i in live:
        if files[i].compression == "gzip":
            copy, issue = salvage_gzip(files[i], i, engine.workdir())
            if issue is not None:
                files[i] = copy
                issues.append(issue)
    if issues:
        return live, issues
    keep: list[int] = []
    for i in live:
        try:
            engine.spark.read.text(files[i].read_path).count()
            keep.append(i)
        except Exception as exc:
            issues.append((i, None, None, "unreadable", engine_message(exc)))
    return keep, issues


def _items(
    engine: SparkEngine,
    table: str,
    files: list[FhirFile],
    live: list[int],
    offsets: list[tuple[int, int, int]],
    known: list[str],
) -> DataFrame:
    """One row per document and per Bundle entry: the table's columns and the issue codes."""
    from pyspark.sql import functions as F

    spark = engine.spark
    if not live:
        empty = (
            "resource_type string, id string, resource string, full_url string, "
            "source_file string, source_line bigint, source_entry int, f int, codes array<string>, "
            "detail string"
        )
        return spark.createDataFrame([], empty)
    base = spark.createDataFrame(offsets, "f int, part long, add long")
    names = spark.createDataFrame([(i, files[i].path) for i in live], "f int, path string")
    lines = (
        _lines(engine, files, live)
        .withColumn("part", F.shiftright("mid", PARTITION_SHIFT))
        .join(F.broadcast(base), ["f", "part"])
        .join(F.broadcast(names), ["f"])
        .select("f", "path", (F.col("mid") + F.col("add")).alias("line"), "t")
    )
    lines_view = engine.quote(f"__fhir_{table}_lines")
    lines.createOrReplaceTempView(f"__fhir_{table}_lines")
    known_sql = "array(" + ", ".join("'" + t + "'" for t in known) + ")"
    typed = (
        "CASE WHEN {obj} THEN "
        "CASE WHEN schema_of_variant(try_variant_get({v}, '$.resourceType', 'variant')) "
        "IS DISTINCT FROM 'STRING' THEN 'no_resource_type' "
        f"WHEN NOT array_contains({known_sql}, try_variant_get({{v}}, '$.resourceType', "
        "'string')) THEN 'unknown_type' END ELSE 'not_object' END"
    )
    doc = typed.format(obj="t RLIKE '^\\\\s*[{]'", v="v")
    res = "try_variant_get(e, '$.resource', 'variant')"
    entry_typed = typed.format(obj=f"schema_of_variant({res}) LIKE 'OBJECT%'", v=res)
    entry_code = (
        f"CASE WHEN {res} IS NULL OR is_variant_null({res}) THEN "
        "CASE WHEN schema_of_variant(e) LIKE 'OBJECT%' THEN 'entry_no_resource' "
        f"ELSE 'entry_not_object' END ELSE {entry_typed} END"
    )
    return spark.sql(
        f"""
        WITH parsed AS (
          SELECT f, path, line, t, try_parse_json(t) AS v
          FROM (SELECT f, path, line, CASE WHEN startswith(t, '{BOM_CHAR}') THEN substr(t, 2)
                ELSE t END AS t FROM {lines_view})
          WHERE t RLIKE '\\\\S'
        ),
        docs AS (
          SELECT f, path, line, t, v,
            CASE WHEN v IS NULL THEN 'invalid_json' ELSE {doc} END AS code,
            v IS NOT NULL AND length(t) > {2 * MAX_DEPTH}
              AND length(t) - length(translate(t, '[{{', '')) > {MAX_DEPTH}
              AND t RLIKE '{DEEP}' AS deep,
            CASE WHEN v IS NOT NULL AND try_variant_get(v, '$.resourceType', 'string') = 'Bundle'
              THEN try_variant_get(v, '$.entry', 'array<variant>') END AS entries
          FROM parsed
        ),
        items AS (
          SELECT f, path, line, item.* FROM docs LATERAL VIEW explode(concat(
            array(named_struct(
              'entry', CAST(NULL AS INT),
              'resource', CASE WHEN code IS NULL OR code = 'unknown_type' THEN t END,
              'rt', try_variant_get(v, '$.resourceType', 'string'),
              'id', try_variant_get(v, '$.id', 'string'),
              'full_url', CAST(NULL AS STRING),
              'codes', filter(array(code, CASE WHEN deep THEN 'deep' END), c -> c IS NOT NULL))),
            coalesce(transform(entries, (e, i) -> named_struct(
              'entry', CAST(i AS INT),
              'resource', CASE WHEN {entry_code} IS NULL OR {entry_code} = 'unknown_type'
                THEN to_json({res}) END,
              'rt', try_variant_get({res}, '$.resourceType', 'string'),
              'id', try_variant_get({res}, '$.id', 'string'),
              'full_url', try_variant_get(e, '$.fullUrl', 'string'),
              'codes', filter(array({entry_code}), c -> c IS NOT NULL))),
              array()))) x AS item
        )
        SELECT rt AS resource_type, id, resource, full_url, path AS source_file,
          CAST(line AS BIGINT) AS source_line, entry AS source_entry, f, codes,
          CASE WHEN array_contains(codes, 'unknown_type') THEN rt END AS detail
        FROM items
        """
    )


def _issues(items: DataFrame, earlier: list[RawIssue]) -> tuple[list[RawIssue], int]:
    """The first MAX_ISSUES + 1 issues in order and their count, in one job."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    found = items.where(F.size("codes") > 0).select(
        "f", "source_line", "source_entry", F.explode("codes").alias("code"), "detail"
    )
    rows = (
        found.withColumn("total", F.count(F.lit(1)).over(Window.partitionBy()))
        .orderBy("f", "source_line", F.col("source_entry").asc_nulls_first())
        .limit(MAX_ISSUES + 1)
        .collect()
    )
    out: list[RawIssue] = [
        (
            int(r["f"]),
            int(r["source_line"]),
            None if r["source_entry"] is None else int(r["source_entry"]),
            str(r["code"]),
            r["detail"] if r["code"] == "unknown_type" else None,
        )
        for r in rows
    ]
    total = int(rows[0]["total"]) if rows else 0
    return earlier + out, len(earlier) + total
