"""Every registered validator: renders for Spark, runs on DuckDB without errors, never NULL."""

from __future__ import annotations

import re

import duckdb
import pytest
import sqlglot
from sqlglot import exp

from healthdq.validators import REGISTRY, get_validator
from healthdq.validators.valueset import load_valueset

NAMES = sorted(REGISTRY)
EXPECTED = {
    "nhs_number", "sctid", "postcode", "ods_org", "ods_site", "gp_practice", "icd10", "opcs4",
    "treatment_function", "ethnic_category", "person_stated_gender", "sex", "admission_method",
    "admission_source", "discharge_method", "discharge_destination", "patient_classification",
    "ae_attendance_category", "ae_attendance_disposal", "outpatient_attendance_status",
    "first_attendance", "nhs_number_format", "postcode_format",
    "ukcore_ethnic_category", "ukcore_nhs_number_verification_status",
}  # fmt: skip
# Functions or operators that exist in DuckDB but not in Spark SQL.
DUCKDB_ONLY = re.compile(
    r"REGEXP_MATCHES|REGEXP_FULL_MATCH|STRPOS|UNICODE\(|LIST_|STRING_SPLIT|//|::", re.IGNORECASE
)
# Values chosen to trip casts, regexes and substring arithmetic.
AWKWARD = [
    "", " ", "  ", "-", "&", "0", "00", "-1", "+1", "1e5", "1.5", "0x1F", "1_000", "NaN", "inf",
    "9" * 19, "9" * 25, "-" + "9" * 18, "-9223372036854775808", "18446744073709551616",
    "１２３４５６７８９０", "é", "ZZ99", "\t", "a\nb", "9434765919\n", "😀" * 12, "x" * 300,
]  # fmt: skip


def test_registry_is_complete() -> None:
    assert set(NAMES) == EXPECTED
    for name in NAMES:
        v = get_validator(name)
        assert v.name == name and v.description and v.source
        assert v.kind in {"checksum", "format", "valueset", "finding"}


@pytest.mark.parametrize("name", NAMES)
def test_renders_for_spark(name: str) -> None:
    built = get_validator(name).build(exp.column("v", quoted=True))
    spark = built.sql("spark")
    assert not DUCKDB_ONLY.search(spark), spark[:300]
    reparsed = sqlglot.parse_one(spark, read="spark")
    assert reparsed.sql("spark") == spark
    # Invalid strings must not raise under Spark ANSI mode: casts have to stay TRY_CAST.
    assert spark.count("TRY_CAST(") == built.sql("duckdb").count("TRY_CAST(")
    assert " CAST(" not in spark and "(CAST(" not in spark
    if isinstance(built, exp.RegexpLike) or "RLIKE" in spark:
        assert "RLIKE '^" in spark and "\\\\z'" in spark  # anchored both ends, \z escaped


@pytest.mark.parametrize("name", NAMES)
def test_runs_on_awkward_values(name: str) -> None:
    built = get_validator(name).build(exp.column("v", quoted=True))
    rows = exp.values(
        [exp.Tuple(expressions=[exp.Literal.string(v)]) for v in AWKWARD], alias="t", columns=["v"]
    )
    con = duckdb.connect()
    got = [
        r[0]
        for r in con.execute(f"SELECT {built.sql('duckdb')} FROM {rows.sql('duckdb')}").fetchall()
    ]
    v = get_validator(name)
    codes = set(load_valueset(name)) if v.kind == "valueset" else set()
    # Format-finding validators pass whatever is not the identifier written another way.
    expected = name.endswith("_format")
    assert got == [expected or value in codes for value in AWKWARD]  # booleans, never NULL
    # NULL in, anything out, but no error.
    con.execute(f"SELECT {built.sql('duckdb')} FROM (SELECT CAST(NULL AS VARCHAR) AS v)").fetchall()


def test_build_does_not_share_nodes() -> None:
    """Builders copy the column: the caller's node must stay detached and reusable."""
    col = exp.column("v", quoted=True)
    for name in NAMES:
        get_validator(name).build(col)
        assert col.parent is None
