"""Results in the OHDSI Data Quality Dashboard's JSON layout, so DQD's own viewer opens them.

Top level: startTimestamp, endTimestamp, executionTime, executionTimeSeconds, CheckResults,
Metadata, Overview; one CheckResults item per check with DQD's field names (numViolatedRows,
pctViolatedRows as a fraction, numDenominatorRows, checkId, failed/passed/isError/notApplicable
as 0/1, notApplicableReason, thresholdValue, notesValue...).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from healthdq import __version__
from healthdq.omop.runner import OmopRun, Outcome
from healthdq.report._common import write_text_atomic

CATEGORIES = ("Plausibility", "Conformance", "Completeness")


def _secs(seconds: float) -> str:
    return f"{seconds:.2f} secs"


def check_result(o: Outcome) -> dict[str, Any]:
    c = o.check
    na = o.status == "not_applicable"
    return {
        "numViolatedRows": None if o.status == "error" else o.violated,
        "pctViolatedRows": None if o.status == "error" else o.pct,
        "numDenominatorRows": None if o.status == "error" else o.denominator,
        "executionTime": _secs(o.seconds),
        "queryText": o.query,
        "checkName": c.check_name,
        "checkLevel": c.check_level,
        "checkDescription": c.description,
        "cdmTableName": c.table,
        "cdmFieldName": c.field,
        "conceptId": c.concept_id,
        "unitConceptId": c.unit_concept_id,
        "sqlFile": c.sql_file,
        "category": c.category,
        "subcategory": c.subcategory or None,
        "context": c.context,
        "warning": None,
        "error": o.error,
        "checkId": c.check_id,
        "failed": int(o.status == "failed"),
        "passed": int(o.status == "passed"),
        "isError": int(o.status == "error"),
        "notApplicable": int(na),
        "notApplicableReason": o.na_reason if na else None,
        "thresholdValue": c.threshold,
        "notesValue": c.notes,
    }


def overview(run: OmopRun) -> dict[str, Any]:
    """DQD's summary counts (summarizeResults)."""
    outs = run.outcomes
    failed = [o for o in outs if o.status in ("failed", "error")]
    passed = [o for o in outs if o.status == "passed"]
    out: dict[str, Any] = {
        "countTotal": len(outs),
        "countThresholdFailed": sum(o.status == "failed" for o in outs),
        "countErrorFailed": sum(o.status == "error" for o in outs),
        "countOverallFailed": len(failed),
        "countPassed": len(passed),
        "countNotApplicable": sum(o.status == "not_applicable" for o in outs),
    }
    judged = len(passed) + len(failed)
    out["percentPassed"] = round(100 * len(passed) / judged, 2) if judged else 0
    out["percentFailed"] = round(100 * len(failed) / judged, 2) if judged else 0
    for cat in CATEGORIES:
        mine = [o for o in outs if o.check.category == cat]
        out[f"countTotal{cat}"] = len(mine)
        out[f"countFailed{cat}"] = sum(o.status in ("failed", "error") for o in mine)
        out[f"countPassed{cat}"] = sum(o.status == "passed" for o in mine)
    return out


def _snake(name: str) -> str:
    """numViolatedRows -> NUM_VIOLATED_ROWS: DQD 1.x's field case (its convertJsonResultsFileCase
    converts between the two)."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).upper()


def to_dqd(run: OmopRun, case: str = "camel") -> dict[str, Any]:
    seconds = (run.finished - run.started).total_seconds()
    metadata = [dict(row, DQD_VERSION=f"healthdq {__version__}") for row in run.metadata] or [
        {"DQD_VERSION": f"healthdq {__version__}"}
    ]
    return {
        "startTimestamp": run.started.strftime("%Y-%m-%d %H:%M:%S"),
        "endTimestamp": run.finished.strftime("%Y-%m-%d %H:%M:%S"),
        "executionTime": _secs(seconds),
        "executionTimeSeconds": round(seconds, 3),
        "CheckResults": [
            {_snake(k): v for k, v in check_result(o).items()}
            if case == "snake"
            else check_result(o)
            for o in run.outcomes
        ],
        "Metadata": metadata,
        "Overview": overview(run),
    }


def write_dqd_json(run: OmopRun, path: str | Path, case: str = "camel") -> Path:
    """DQD 2.x writes camelCase field names (the default); case='snake' gives DQD 1.x's."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(target, json.dumps(to_dqd(run, case), indent=1, default=str))
    return target
