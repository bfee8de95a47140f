"""SQL-on-FHIR views on Spark give the rows DuckDB gives (one query each)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

PATIENTS = json.loads(
    (Path(__file__).parent.parent / "fhir" / "data" / "resources.json").read_text(encoding="utf-8")
)

VIEWS: list[dict[str, Any]] = [
    {
        "resource": "Patient",
        "constant": [{"name": "u", "valueCode": "official"}],
        "select": [
            {
                "column": [
                    {"name": "id", "path": "id"},
                    {"name": "active", "path": "active", "type": "boolean"},
                    {"name": "official", "path": "name.where(use = %u).family"},
                    {"name": "given", "path": "name.given", "collection": True},
                ]
            },
            {
                "forEachOrNull": "identifier",
                "column": [
                    {"name": "i", "path": "%rowIndex", "type": "integer"},
                    {"name": "value", "path": "value"},
                ],
            },
        ],
    },
    {
        "resource": "QuestionnaireResponse",
        "select": [
            {
                "unionAll": [
                    {
                        "repeat": ["item", "answer.item"],
                        "column": [{"name": "l", "path": "linkId"}],
                    },
                    {"column": [{"name": "l", "path": "getResourceKey()"}]},
                ]
            }
        ],
    },
]


@pytest.fixture(scope="module")
def engines(spark_engine: Any) -> tuple[Any, Any]:
    from healthdq.engine.duckdb import DuckDBEngine
    from healthdq.fhir.conformance import register_resources

    duck = DuckDBEngine()
    register_resources(duck, PATIENTS)
    register_resources(spark_engine, PATIENTS)
    return duck, spark_engine


@pytest.mark.parametrize("view", VIEWS)
def test_spark_matches_duckdb(engines: tuple[Any, Any], view: dict[str, Any]) -> None:
    from healthdq.fhir.view import run_view

    duck, spark = engines
    want = run_view(duck, view).to_pylist()
    got = run_view(spark, view).to_pylist()
    key = repr
    assert sorted(got, key=key) == sorted(want, key=key)
    assert want


def test_spark_reports_the_json_path(engines: tuple[Any, Any]) -> None:
    from healthdq.fhir.view import ViewError, run_view

    view = {"resource": "Patient", "select": [{"column": [{"name": "f", "path": "name.family"}]}]}
    with pytest.raises(ViewError, match=r"\$\.select\[0\]\.column\[0\]"):
        run_view(engines[1], view)
