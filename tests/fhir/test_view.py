"""SQL-on-FHIR v2 views compiled to DuckDB SQL: one or two cases per feature."""

from __future__ import annotations

from typing import Any

import pytest

from healthdq.fhir.view import ViewError, run_view, view_sql


def rows(engine: Any, view: dict[str, Any]) -> list[dict[str, Any]]:
    return run_view(engine, view).to_pylist()


def patient(*select: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"resource": "Patient", "select": list(select), **extra}


def test_columns_types_and_resource_filter(duck: Any) -> None:
    view = patient(
        {
            "column": [
                {"name": "id", "path": "id"},
                {"name": "active", "path": "active", "type": "boolean"},
                {"name": "family", "path": "name.family.first()"},
            ]
        }
    )
    assert rows(duck, view) == [
        {"id": "p1", "active": True, "family": "Smith"},
        {"id": "p2", "active": False, "family": "Brown"},
        {"id": "p3", "active": None, "family": None},
    ]


def test_flat_view_needs_no_unnest() -> None:
    sql = view_sql(patient({"column": [{"name": "id", "path": "id"}]}))
    assert "unnest" not in sql and "fhir_resources" in sql


def test_collection_and_join(duck: Any) -> None:
    view = patient(
        {
            "column": [
                {"name": "given", "path": "name.given", "collection": True},
                {"name": "joined", "path": "name.given.join(' ')"},
            ]
        },
        where=[{"path": "id = 'p1'"}],
    )
    assert rows(duck, view) == [{"given": ["Ann", "B"], "joined": "Ann B"}]


def test_several_values_without_collection_is_an_error(duck: Any) -> None:
    view = patient({"column": [{"name": "family", "path": "name.family"}]})
    with pytest.raises(ViewError, match=r"\$\.select\[0\]\.column\[0\]"):
        rows(duck, view)


def test_for_each_and_or_null_with_row_index(duck: Any) -> None:
    each = patient(
        {"column": [{"name": "id", "path": "id"}]},
        {
            "forEach": "name",
            "column": [
                {"name": "i", "path": "%rowIndex", "type": "integer"},
                {"name": "family", "path": "family"},
            ],
        },
    )
    assert rows(duck, each) == [
        {"id": "p1", "i": 0, "family": "Smith"},
        {"id": "p1", "i": 1, "family": "Jones"},
        {"id": "p2", "i": 0, "family": "Brown"},
    ]
    or_null = patient(
        {"column": [{"name": "id", "path": "id"}]},
        {"forEachOrNull": "identifier", "column": [{"name": "value", "path": "value"}]},
    )
    assert [r["id"] for r in rows(duck, or_null)] == ["p1", "p1", "p2", "p3"]


def test_union_all_and_constants(duck: Any) -> None:
    view = patient(
        {
            "unionAll": [
                {"forEach": "name.where(use = %u)", "column": [{"name": "n", "path": "family"}]},
                {"forEach": "identifier", "column": [{"name": "n", "path": "value"}]},
            ]
        },
        constant=[{"name": "u", "valueCode": "maiden"}],
    )
    assert sorted(r["n"] for r in rows(duck, view)) == ["9434765919", "Jones", "L1"]


def test_repeat_walks_nested_items_depth_first(duck: Any) -> None:
    view = {
        "resource": "QuestionnaireResponse",
        "select": [
            {"repeat": ["item", "answer.item"], "column": [{"name": "l", "path": "linkId"}]}
        ],
    }
    assert [r["l"] for r in rows(duck, view)] == ["1", "1.1", "2", "2.1"]


def test_where_extension_oftype_and_keys(duck: Any) -> None:
    view = {
        "resource": "Observation",
        "select": [
            {
                "column": [
                    {"name": "value", "path": "value.ofType(Quantity).value", "type": "decimal"},
                    {"name": "subject", "path": "subject.getReferenceKey(Patient)"},
                    {"name": "key", "path": "getResourceKey()"},
                    {
                        "name": "high",
                        "path": "value.ofType(Quantity).value > 70",
                        "type": "boolean",
                    },
                ]
            }
        ],
    }
    assert rows(duck, view) == [
        {"value": 72.5, "subject": "Patient/p1", "key": "Observation/ob1", "high": True}
    ]


def test_boundaries(duck: Any) -> None:
    view = patient(
        {
            "column": [
                {"name": "lo", "path": "birthDate.lowBoundary()"},
                {"name": "hi", "path": "birthDate.highBoundary()"},
            ]
        },
        where=[{"path": "birthDate.exists()"}],
    )
    assert rows(duck, view) == [{"lo": "1980-02-01", "hi": "1980-02-29"}]


@pytest.mark.parametrize(
    ("view", "where"),
    [
        ({}, "$.resource"),
        ({"resource": "Patient", "select": [{"forEach": "@@"}]}, "$.select[0].forEach"),
        ({"resource": "Patient", "select": [{"forEach": 1}]}, "$.select[0].forEach"),
        (patient({"column": [{"name": "x", "path": "%nope"}]}), "$.select[0].column[0].path"),
        (patient({"column": [{"name": "1x", "path": "id"}]}), "$.select[0].column[0].name"),
        (
            patient({"column": [{"name": "a", "path": "id"}, {"name": "a", "path": "id"}]}),
            "$.select[0].column[1].name",
        ),
    ],
)
def test_bad_views_name_the_json_path(view: dict[str, Any], where: str) -> None:
    with pytest.raises(ViewError) as info:
        view_sql(view)
    assert info.value.json_path == where


def test_where_path_not_boolean_is_an_error(duck: Any) -> None:
    with pytest.raises(ViewError, match="does not give a boolean"):
        rows(
            duck,
            patient(
                {"column": [{"name": "id", "path": "id"}]}, where=[{"path": "name.family.first()"}]
            ),
        )


def test_fields_parsed_once_and_chains_as_one_jsonpath() -> None:
    view = {
        "resource": "Observation",
        "select": [{"column": [{"name": "c", "path": "code.coding.code.first()"}]}],
    }
    duck = view_sql(view)
    assert "json_extract(\"resource\", ['$.code'])" in duck
    assert "'$.coding[*].code'" in duck
    assert "from_json(`resource`, 'map<string,string>')" in view_sql(view, dialect="spark")
