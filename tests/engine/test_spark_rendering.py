"""Every shipped rule renders to Spark SQL from the same sqlglot tree (the Spark engine's input)."""

from __future__ import annotations

from datetime import date

import pytest
import sqlglot

from healthdq.engine.compiler import Compiler, JoinCheck, RowCheck
from healthdq.rules.loader import load_pack, pack_names

DUCKDB_ONLY = ("REGEXP_MATCHES", "STRUCT_PACK", "TRY_STRPTIME", "REGEXP_FULL_MATCH", "::")


def _types(name: str) -> str:
    if name.endswith(("_date", "date_of_birth")):
        return "DATE"
    if name.endswith("_datetime"):
        return "TIMESTAMP"
    return "VARCHAR"


def _view_columns(view_name: str) -> set[str]:
    """Output columns of a FHIR view table, from its SQL run on no resources."""
    import duckdb

    from healthdq.fhir.ukcore import view_definition
    from healthdq.fhir.view import view_sql

    con = duckdb.connect()
    con.execute(
        "CREATE TABLE fhir_resources (resource_type VARCHAR, id VARCHAR, resource JSON, "
        "full_url VARCHAR, source_file VARCHAR, source_line BIGINT, source_entry INTEGER)"
    )
    sql = view_sql(view_definition(view_name), "duckdb", "fhir_resources")
    return {d[0] for d in con.execute(sql).description}


@pytest.mark.parametrize("pack", pack_names())
def test_every_pack_rule_renders_for_spark(pack: str) -> None:
    contract = load_pack(pack)
    rendered = 0
    row_checks = 0
    for table, spec in contract.tables.items():
        # Declared columns too: a compare may use an expression over one (substr(col, 1, 10)).
        columns = sorted({c for r in spec.rules for c in r.columns_used} | set(spec.columns))
        if spec.fhir_view:
            columns = sorted(set(columns) | _view_columns(spec.fhir_view))
        compiler = Compiler(table, {c: _types(c) for c in columns}, date(2025, 6, 30))
        for rule in spec.rules:
            check = compiler.compile(rule)
            if isinstance(check, RowCheck | JoinCheck):
                row_checks += 1
                predicates = [check.applies]
                if isinstance(check, RowCheck):
                    predicates.append(check.violates)
                for predicate in predicates:
                    spark = predicate.sql(dialect="spark")
                    assert not any(f in spark.upper() for f in DUCKDB_ONLY), (rule.id, spark)
                    sqlglot.parse_one(spark, read="spark")
                    rendered += 1
    # Every row-level rule rendered at least one predicate, and most rules are row-level.
    assert row_checks > sum(len(spec.rules) for spec in contract.tables.values()) // 2
    assert rendered >= row_checks
