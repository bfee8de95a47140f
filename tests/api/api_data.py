"""Shared data for the Python API tests: one small table with planted failures and identifiers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

# Valid NHS numbers (check digit) planted in failing rows: none may appear in an output.
NHS = ["9434765919", "9434765870", "4010232137", "9434765828"]
COLUMNS: dict[str, list[Any]] = {
    "nhs_number": NHS,
    "sex": ["1", "X", "2", "9"],
    "age": [34, 51, -2, 77],
}
CONTRACT = """
name: people
tables:
  people:
    columns:
      nhs_number: {identifier: nhs_number}
    rules:
      - {id: sex.valid, kind: allowed_values, column: sex, values: ['1', '2']}
      - {id: age.range, kind: range, column: age, min: 0, max: 120}
      - {id: nhs.present, kind: not_null, column: nhs_number}
      - {id: nhs.flagged, kind: sql, predicate: "sex <> 'X'", columns: [sex, nhs_number]}
"""
# What every input type must give: rule -> (status, violating rows, sample row numbers).
EXPECTED = {
    "sex.valid": ("failed", 2, [2, 4]),
    "age.range": ("failed", 1, [3]),
    "nhs.present": ("passed", 0, []),
    "nhs.flagged": ("failed", 1, [2]),
}


def audit_events(tmp_path: Path) -> list[dict[str, Any]]:
    log = tmp_path / "audit.jsonl"
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines() if line]
