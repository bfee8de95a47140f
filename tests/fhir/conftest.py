"""Small FHIR resources of our own (never ../shared) and a DuckDB engine holding them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# Five resources of our own: Patients with names, identifiers (an NHS number), an Observation
# and a nested QuestionnaireResponse.
PATIENTS: list[dict[str, Any]] = json.loads(
    (Path(__file__).parent / "data" / "resources.json").read_text(encoding="utf-8")
)


@pytest.fixture(scope="module")
def duck() -> Iterator[Any]:
    from healthdq.engine.duckdb import DuckDBEngine
    from healthdq.fhir.conformance import register_resources

    engine = DuckDBEngine()
    register_resources(engine, PATIENTS)
    yield engine
    engine.close()
