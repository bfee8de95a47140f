"""The shipped views: valid, flat (one row per resource), stable column names, both dialects."""

from __future__ import annotations

from typing import Any

import pytest

from healthdq.fhir.view import builtin_views, compile_view, run_view

RESOURCES = [
    "Patient", "Encounter", "Condition", "Observation", "Procedure", "MedicationRequest",
    "Immunization", "AllergyIntolerance", "Organization", "Practitioner", "Location",
    "DocumentReference",
]  # fmt: skip


def test_one_view_per_resource() -> None:
    views = builtin_views()
    assert sorted(views) == sorted(RESOURCES)
    for name, view in views.items():
        assert view["resource"] == name


@pytest.mark.parametrize("name", RESOURCES)
@pytest.mark.parametrize("dialect", ["duckdb", "spark"])
def test_compiles_flat(name: str, dialect: str) -> None:
    compiled = compile_view(builtin_views()[name], dialect)
    names = [c for c, _ in compiled.columns]
    assert names[:2] == ["id", "key"]
    assert "unnest" not in compiled.sql and "explode" not in compiled.sql


def test_patient_and_observation_columns(duck: Any) -> None:
    views = builtin_views()
    patients = {r["id"]: r for r in run_view(duck, views["Patient"]).to_pylist()}
    p1 = patients["p1"]
    assert p1["nhs_number"] == "9434765919"
    assert p1["nhs_number_system"] == "https://fhir.nhs.uk/Id/nhs-number"
    assert (p1["family"], p1["given"], p1["gender"]) == ("Smith", "Ann", "female")
    assert p1["identifier_count"] == 2 and p1["active"] is True
    assert p1["managing_organization_key"] == "Organization/o1"
    assert patients["p3"]["nhs_number"] is None
    (obs,) = run_view(duck, views["Observation"]).to_pylist()
    assert obs["value_quantity"] == 72.5 and obs["value_unit"] == "/min"
    assert (obs["code_code"], obs["code_system"]) == ("8867-4", "http://loinc.org")
    assert obs["subject_key"] == "Patient/p1"
