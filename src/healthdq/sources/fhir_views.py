"""A FHIR location as a table: read it (healthdq.fhir.read), flatten it with a view, register.

A contract table with `fhir_view: NAME` (ReadOptions.fhir_view) is read here: the FHIR data
(resource, Bundle, NDJSON, folder or glob) is read once per engine into a resource table, the
named SQL-on-FHIR view runs in the engine over it, and the flat result is registered like any
other frame under the table's name. Every later step of the pipeline (rules, scores, masking,
audit, store, reports) is the one any table goes through. What could not be read is reported as
the first view table's warnings (file and line, never a value from the data).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any
from weakref import WeakKeyDictionary

from healthdq.sources.base import ReadOptions, RegisteredTable

# Engine -> FHIR location -> (resource table, read issues): each location is read once a run.
_READ: WeakKeyDictionary[Any, dict[str, tuple[str, list[Any]]]] = WeakKeyDictionary()
# Engine -> registered table -> (FHIR location, view name, options): to re-run a view.
_VIEWS: WeakKeyDictionary[Any, dict[str, tuple[str, str, ReadOptions]]] = WeakKeyDictionary()
# Engine -> locations whose resource table was already replaced by a filtered copy.
_FILTERED: WeakKeyDictionary[Any, set[str]] = WeakKeyDictionary()


def register_fhir_view(
    engine: Any, name: str, location: str, options: ReadOptions
) -> RegisteredTable:
    """Register view `options.fhir_view` of the FHIR data at `location` as relation `name`."""
    from healthdq.fhir.read import read_fhir
    from healthdq.fhir.ukcore import view_definition
    from healthdq.fhir.view import view_sql

    view_name = options.fhir_view or ""
    view = view_definition(view_name)
    done = _READ.setdefault(engine, {})
    first = location not in done
    if first:
        table = f"__fhir_resources_{len(done)}"
        done[location] = (table, read_fhir(engine, location, table))
    table, issues = done[location]
    # The view runs in the engine: DuckDB hands back Arrow it scans in place, Spark a cached
    # DataFrame that stays in the session.
    frame = engine.query_frame(view_sql(view, engine.dialect, table))
    registered: RegisteredTable = engine.register_frame(
        name, frame, replace(options, fhir_view=None)
    )
    registered.source = f"{location} (FHIR view {view_name})"
    registered.format = "fhir"
    if first:
        registered.warnings += [f"FHIR input: {issue}" for issue in issues]
    _VIEWS.setdefault(engine, {})[name] = (location, view_name, options)
    return registered


def rerun_view(
    engine: Any, name: str, registered: RegisteredTable, filtered: Callable[[str], str]
) -> tuple[RegisteredTable, int]:
    """Re-register view table `name` over a filtered copy of its FHIR resources:
    `filtered(resource table)` builds that copy and returns its name (once per location; later
    views of the location reuse it). Returns the new record and the view rows removed. The
    pipeline uses it for the opt-out (governance/optout_fhir.py)."""
    from healthdq.fhir.ukcore import view_definition
    from healthdq.fhir.view import view_sql

    location, view_name, options = _VIEWS[engine][name]
    done = _READ[engine]
    table, issues = done[location]
    filtered_here = _FILTERED.setdefault(engine, set())
    if location not in filtered_here:
        table = filtered(table)
        done[location] = (table, issues)
        filtered_here.add(location)
    frame = engine.query_frame(view_sql(view_definition(view_name), engine.dialect, table))
    fresh: RegisteredTable = engine.register_frame(name, frame, replace(options, fhir_view=None))
    fresh.source, fresh.format = registered.source, registered.format
    fresh.warnings = list(registered.warnings)
    return fresh, registered.rows - fresh.rows
