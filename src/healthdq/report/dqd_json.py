"""A RunResult in the OHDSI Data Quality Dashboard's JSON layout, so DQD's own viewer opens it.

Top level: startTimestamp, endTimestamp, executionTime, executionTimeSeconds, CheckResults,
Metadata, Overview; one CheckResults item per rule with DQD's field names (numViolatedRows,
pctViolatedRows as a fraction, numDenominatorRows, checkId, failed/passed/isError/notApplicable
as 0/1, notApplicableReason, thresholdValue, notesValue...).

Everything comes from the RunResult (DQD's own names from each rule's `reference`, CDM_SOURCE
from `source_metadata`), so a stored run renders byte-identically to the run itself. Rules
without a DQD reference (a contract run) are written with their healthdq names.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from healthdq.errors import HealthdqError
from healthdq.report._common import write_text_atomic
from healthdq.results import RuleResult, RunResult
from healthdq.scoring.kahn import kahn_overview

CATEGORIES = ("Plausibility", "Conformance", "Completeness")
CASES = ("camel", "snake")


def _secs(seconds: float) -> str:
    return f"{seconds:.2f} secs"


def _upper(name: str | None) -> str | None:
    return name.upper() if name else None


def _title(name: str | None) -> str | None:
    return name.capitalize() if name else None


def check_result(r: RuleResult) -> dict[str, Any]:
    """One CheckResults item (camelCase names)."""
    ref = r.reference
    error = r.status == "error"
    na = r.status == "not_applicable"
    fraction = None
    if not error and r.violating_rows is not None and r.denominator is not None:
        fraction = r.violating_rows / r.denominator if r.denominator else 0.0
    field = ref.field if ref else _upper(r.columns[0] if r.columns else None)
    return {
        "numViolatedRows": None if error else r.violating_rows,
        "pctViolatedRows": fraction,
        "numDenominatorRows": None if error else r.denominator,
        "executionTime": _secs((r.elapsed_ms or 0.0) / 1000),
        "queryText": r.query_text or "",
        "checkName": ref.check_name if ref else r.kind,
        "checkLevel": ref.check_level if ref else ("FIELD" if r.columns else "TABLE"),
        "checkDescription": r.description,
        "cdmTableName": ref.table if ref else _upper(r.table),
        "cdmFieldName": field,
        "conceptId": ref.concept_id if ref else None,
        "unitConceptId": ref.unit_concept_id if ref else None,
        "sqlFile": ref.sql_file if ref else None,
        "category": ref.category if ref else _title(r.category),
        "subcategory": ref.subcategory if ref else _title(r.subcategory),
        "context": ref.context if ref else _title(r.context),
        "warning": None,
        "error": r.error if ref else (r.message if error else None),
        "checkId": r.rule_id,
        "failed": int(r.status == "failed"),
        "passed": int(r.status == "passed"),
        "isError": int(error),
        "notApplicable": int(na),
        "notApplicableReason": (r.not_applicable_reason if ref else r.message) if na else None,
        "thresholdValue": r.threshold,
        "notesValue": ref.notes if ref else None,
    }


def overview(result: RunResult) -> dict[str, Any]:
    """DQD's summary counts (its summarizeResults), from the one Kahn count of the rules."""
    kahn = result.scores.kahn or kahn_overview(result.rules)
    total = kahn.total
    failed = total.failed + total.error
    out: dict[str, Any] = {
        "countTotal": total.total,
        "countThresholdFailed": total.failed,
        "countErrorFailed": total.error,
        "countOverallFailed": failed,
        "countPassed": total.passed,
        "countNotApplicable": total.not_applicable,
    }
    # DQD counts errors as failures here (healthdq's Kahn % leaves them out).
    judged = total.passed + failed
    out["percentPassed"] = round(100 * total.passed / judged, 2) if judged else 0
    out["percentFailed"] = round(100 * failed / judged, 2) if judged else 0
    for cat in CATEGORIES:
        counts = kahn.categories[cat.lower()].total
        out[f"countTotal{cat}"] = counts.total
        out[f"countFailed{cat}"] = counts.failed + counts.error
        out[f"countPassed{cat}"] = counts.passed
    return out


def _snake(name: str) -> str:
    """numViolatedRows -> NUM_VIOLATED_ROWS: DQD 1.x's field case (its convertJsonResultsFileCase
    converts between the two)."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).upper()


def to_dqd(result: RunResult, case: str = "camel") -> dict[str, Any]:
    if case not in CASES:
        raise HealthdqError(f"DQD JSON case must be camel or snake, got '{case}'")
    seconds = (result.finished_at - result.started_at).total_seconds()
    version = f"healthdq {result.healthdq_version}"
    metadata = [dict(row, DQD_VERSION=version) for row in result.source_metadata] or [
        {"DQD_VERSION": version}
    ]
    items = [check_result(r) for r in result.rules]
    if case == "snake":
        items = [{_snake(k): v for k, v in item.items()} for item in items]
    return {
        "startTimestamp": result.started_at.strftime("%Y-%m-%d %H:%M:%S"),
        "endTimestamp": result.finished_at.strftime("%Y-%m-%d %H:%M:%S"),
        "executionTime": _secs(seconds),
        "executionTimeSeconds": round(seconds, 3),
        "CheckResults": items,
        "Metadata": metadata,
        "Overview": overview(result),
    }


def dumps(result: RunResult, case: str = "camel") -> str:
    return json.dumps(to_dqd(result, case), indent=1, default=str)


def write_dqd_json(result: RunResult, path: str | Path, case: str = "camel") -> Path:
    """DQD 2.x writes camelCase field names (the default); case='snake' gives DQD 1.x's."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(target, dumps(result, case))
    return target
