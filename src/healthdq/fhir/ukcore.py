"""UK Core data for the fhir-uk-core pack: its views, identifier systems and observation ranges.

Data, not code (src/healthdq/fhir/ukcore_data/, generated from the UK Core definitions by
`python -m healthdq.fhir.ukcore_build`, except observation_ranges.yaml which cites its source per
entry). A pack table names its view with `fhir_view:`; `view_definition` finds it among the
UK Core views here and the built-in views (healthdq.fhir.view.builtin_views).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from healthdq.errors import SourceError

DATA = Path(__file__).with_name("ukcore_data")


@dataclass(frozen=True)
class ObservationRange:
    """A plausible range (inclusive) for an Observation value by LOINC code and UCUM unit."""

    name: str
    loinc: str
    display: str
    unit: str
    low: float
    high: float


@cache
def ukcore_views() -> dict[str, dict[str, Any]]:
    """The pack's own ViewDefinitions by name (ukcore_data/views/*.json)."""
    out = {}
    for path in sorted((DATA / "views").glob("*.json")):
        view = json.loads(path.read_text(encoding="utf-8"))
        out[str(view["name"])] = view
    return out


def _builtin() -> dict[str, dict[str, Any]]:
    from healthdq.fhir.view import builtin_views

    return dict(builtin_views())


def view_names() -> list[str]:
    """Every view a contract table may name with `fhir_view:`."""
    return sorted({*ukcore_views(), *_builtin()})


def view_definition(name: str) -> dict[str, Any]:
    """The ViewDefinition called `name` (UK Core views first, then the built-in views)."""
    views = ukcore_views()
    if name in views:
        return views[name]
    builtin = _builtin()
    if name in builtin:
        return builtin[name]
    raise SourceError(f"unknown FHIR view '{name}' (known: {', '.join(view_names())})")


@cache
def identifiers() -> dict[str, str]:
    """UK Core identifier systems and extension URLs by key (ukcore_data/ukcore.json)."""
    data = json.loads((DATA / "ukcore.json").read_text(encoding="utf-8"))
    return {k: str(v["value"]) for k, v in data["identifiers"].items()}


@cache
def observation_ranges() -> tuple[ObservationRange, ...]:
    """Plausible Observation ranges, each cited (ukcore_data/observation_ranges.yaml)."""
    data = yaml.safe_load((DATA / "observation_ranges.yaml").read_text(encoding="utf-8"))
    return tuple(
        ObservationRange(
            name=str(r["name"]),
            loinc=str(r["loinc"]),
            display=str(r["display"]),
            unit=str(r["unit"]),
            low=float(r["low"]),
            high=float(r["high"]),
        )
        for r in data["ranges"]
    )
