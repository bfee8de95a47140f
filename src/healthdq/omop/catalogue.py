"""The DQD check catalogue, read as data from the shipped CSVs (dqd/NOTICE).

One CheckDef per (check type, table, field, concept, unit) that DQD would run: a check type applies
to a row of the table-, field- or concept-level CSV when the type's `evaluationFilter` (e.g.
`isForeignKey=='Yes' & fkDomain!= ''`) holds for that row, exactly as DQD selects its checks.
"""

from __future__ import annotations

import csv
import dataclasses
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

DQD_DIR = Path(__file__).parent / "dqd"
PREFIX = "OMOP_CDMv5.4"
LEVEL_FILES = {"TABLE": "Table_Level", "FIELD": "Field_Level", "CONCEPT": "Concept_Level"}
# Checks the DQD catalogue describes but DQD does not run by default (no evaluationFilter match
# in the v5.4 files, or disabled upstream) are simply never produced.
_TERM = re.compile(r"^\s*(\w+)\s*(==|!=)\s*'([^']*)'\s*$")


@dataclass
class CheckDef:
    """One DQD check instance with its metadata and the catalogue row it came from."""

    check_name: str
    check_level: str  # TABLE | FIELD | CONCEPT
    table: str  # upper case, as in the catalogue
    field: str | None  # upper case
    concept_id: str | None
    unit_concept_id: str | None
    description: str
    category: str  # Conformance | Completeness | Plausibility
    subcategory: str
    context: str  # Verification | Validation
    severity: str  # fatal | convention | characterization
    sql_file: str
    threshold: float
    notes: str | None
    params: dict[str, str] = dataclasses.field(default_factory=dict)

    @property
    def check_id(self) -> str:
        """DQD's checkId: level, name, table, field, concept, unit joined by '_', lower case."""
        parts = [self.check_level, self.check_name, self.table, self.field]
        parts += [self.concept_id, self.unit_concept_id]
        return "_".join(p for p in parts if p).lower()

    def param(self, name: str) -> str:
        return (self.params.get(name) or "").strip()


def _read(name: str) -> list[dict[str, str]]:
    with (DQD_DIR / f"{PREFIX}_{name}.csv").open("r", encoding="utf-8-sig") as fh:
        return [{k: (v or "") for k, v in row.items() if k} for row in csv.DictReader(fh)]


def _matches(expression: str, row: dict[str, str]) -> bool:
    """Evaluate a DQD evaluationFilter (terms `name=='v'` / `name!='v'` joined by '&')."""
    for term in expression.split("&"):
        found = _TERM.match(term)
        if not found:
            raise ValueError(f"unsupported DQD evaluationFilter term: {term!r}")
        name, op, value = found.groups()
        actual = (row.get(name) or "").strip()
        if (actual == value) != (op == "=="):
            return False
    return True


def _render(template: str, row: dict[str, str]) -> str:
    """Fill DQD's @placeholders from the catalogue row (longest names first)."""
    out = " ".join(template.split())
    for key in sorted(row, key=len, reverse=True):
        out = out.replace(f"@{key}", (row.get(key) or "").strip())
    return out


def _threshold(row: dict[str, str], check_name: str) -> float:
    value = (row.get(f"{check_name}Threshold") or "").strip()
    try:
        return float(value) if value else 0.0
    except ValueError:
        return 0.0


@cache
def descriptions() -> tuple[dict[str, str], ...]:
    return tuple(_read("Check_Descriptions"))


@cache
def load_catalogue() -> tuple[CheckDef, ...]:
    """Every check DQD runs for CDM v5.4, in DQD's order (table, field, concept level)."""
    levels = {level: _read(name) for level, name in LEVEL_FILES.items()}
    out: list[CheckDef] = []
    for desc in descriptions():
        level = desc["checkLevel"].strip().upper()
        for row in levels.get(level, []):
            if not _matches(desc["evaluationFilter"], row):
                continue
            name = desc["checkName"].strip()
            field_name = row.get("cdmFieldName", "").strip() or None
            concept = row.get("conceptId", "").strip() or None
            unit = row.get("unitConceptId", "").strip() or None
            notes = (row.get(f"{name}Notes") or "").strip() or None
            out.append(
                CheckDef(
                    check_name=name,
                    check_level=level,
                    table=row["cdmTableName"].strip().upper(),
                    field=field_name.upper() if field_name else None,
                    concept_id=concept,
                    unit_concept_id=unit if level == "CONCEPT" else None,
                    description=_render(desc["checkDescription"], row),
                    category=desc["kahnCategory"].strip(),
                    subcategory=desc["kahnSubcategory"].strip(),
                    context=desc["kahnContext"].strip(),
                    severity=desc["severity"].strip(),
                    sql_file=desc["sqlFile"].strip(),
                    threshold=_threshold(row, name),
                    notes=notes,
                    params=dict(row),
                )
            )
    return tuple(out)


@cache
def field_specs() -> dict[str, dict[str, dict[str, Any]]]:
    """Table (lower) -> field (lower) -> its field-level catalogue row: the CDM's columns."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for row in _read(LEVEL_FILES["FIELD"]):
        out.setdefault(row["cdmTableName"].strip().lower(), {})[
            row["cdmFieldName"].strip().lower()
        ] = row
    return out


@cache
def cdm_tables() -> tuple[str, ...]:
    return tuple(r["cdmTableName"].strip().lower() for r in _read(LEVEL_FILES["TABLE"]))
