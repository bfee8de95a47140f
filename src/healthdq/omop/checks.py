"""Map each DQD check to how healthdq runs it.

Row-level checks become `sql` rules over the table's enriched view: the predicate is TRUE for a
passing row, FALSE for a violating row and NULL outside the denominator; `denominator` says which
rows DQD counts (all rows unless given). They fuse into one scan per table. The rest are
aggregates: uniqueness and distinct source values (one query per table), concept-level checks
(one GROUP BY per table), person-level completeness and overlap (one query each), and cdmTable /
cdmField, answered from the catalogue of what the source holds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta

from healthdq.omop.catalogue import CheckDef
from healthdq.omop.cdm import Cdm, Lookups, as_date, as_int, q

ROW_LEVEL = {
    "isRequired",
    "measureValueCompleteness",
    "cdmDatatype",
    "isForeignKey",
    "fkDomain",
    "fkClass",
    "isStandardValidConcept",
    "standardConceptRecordCompleteness",
    "sourceConceptRecordCompleteness",
    "plausibleValueLow",
    "plausibleValueHigh",
    "plausibleTemporalAfter",
    "plausibleDuringLife",
    "plausibleBeforeDeath",
    "plausibleAfterBirth",
    "plausibleStartBeforeEnd",
    "withinVisitDates",
}
CONCEPT_LEVEL = {"plausibleGender", "plausibleGenderUseDescendants", "plausibleUnitConceptIds"}
GENDER = {"male": 8507, "female": 8532}


@dataclass
class RowPlan:
    """A check as a row predicate over the enriched view, and the lookups it joins."""

    predicate: str
    denominator: str | None = "TRUE"  # None: rows where the predicate is not NULL
    needs: set[str] = field(default_factory=set)


class NotApplicable(Exception):
    """The check cannot apply to this CDM (a table, field or vocabulary is absent)."""


def _absent_table(table: str) -> NotApplicable:
    return NotApplicable(f"Table {table.upper()} does not exist.")


def _absent_field(table: str, column: str) -> NotApplicable:
    return NotApplicable(f"Field {table.upper()}.{column.upper()} does not exist.")


def parse_bound(text: str, run_date: date) -> tuple[str, str] | None:
    """A DQD plausible value as (kind, SQL literal): dates like '19500101', GETDATE() forms,
    or numbers."""
    value = text.strip()
    if not value:
        return None
    if value.upper().startswith("DATEADD(DD,1,GETDATE())"):
        return "date", f"DATE '{(run_date + timedelta(days=1)).isoformat()}'"
    found = re.fullmatch(r"YEAR\(GETDATE\(\)\)\s*\+\s*(\d+)", value, re.IGNORECASE)
    if found:
        return "number", str(run_date.year + int(found.group(1)))
    bare = value.strip("'")
    if re.fullmatch(r"\d{8}", bare) and value.startswith("'"):
        return "date", f"DATE '{bare[:4]}-{bare[4:6]}-{bare[6:]}'"
    try:
        float(bare)
    except ValueError:
        return None
    return "number", bare


class Planner:
    """Plans checks against one opened CDM."""

    def __init__(self, cdm: Cdm, lookups: Lookups, run_date: date) -> None:
        self.cdm = cdm
        self.lk = lookups
        self.run_date = run_date

    def _type(self, table: str, column: str) -> str:
        return self.cdm.tables[table].columns[column]

    def _col(self, table: str, column: str) -> str:
        if column not in self.cdm.tables[table].columns:
            raise _absent_field(table, column)
        return q(column)

    def _date(self, table: str, column: str) -> str:
        return as_date(self._col(table, column), self._type(table, column))

    def _int(self, table: str, column: str) -> str:
        return as_int(self._col(table, column), self._type(table, column))

    def _need_person(self, table: str) -> str:
        if not self.lk.person:
            raise _absent_table("PERSON")
        self._col(table, "person_id")
        return "person"

    def _need_concept(self, table: str, column: str) -> str:
        if not self.lk.concept:
            raise _absent_table("CONCEPT")
        self._col(table, column)
        return f"concept:{column}"

    def row_plan(self, check: CheckDef) -> RowPlan:
        """The row predicate of a ROW_LEVEL check on its table (lower-case names)."""
        t = check.table.lower()
        f = (check.field or "").lower()
        name = check.check_name
        c = self._col(t, f)
        if name in ("isRequired", "measureValueCompleteness"):
            return RowPlan(f"{c} IS NOT NULL")
        if name == "cdmDatatype":
            if self._type(t, f).upper().startswith(("BIGINT", "INTEGER", "SMALLINT", "TINYINT")):
                return RowPlan("TRUE")
            # DQD counts non-null values that are not numeric (ISNUMERIC(abs(x)) = 0).
            return RowPlan(f"{c} IS NULL OR TRY_CAST(CAST({c} AS VARCHAR) AS DOUBLE) IS NOT NULL")
        if name == "isForeignKey":
            return self._foreign_key(check, t, f, c)
        if name in ("fkDomain", "fkClass", "isStandardValidConcept"):
            need = self._need_concept(t, f)
            p = f"__c_{f}"
            if name == "isStandardValidConcept":
                bad = f"(coalesce({p}_std, '') <> 'S' OR {p}_inv IS NOT NULL)"
            else:
                attr, wanted = ("dom", "fkDomain") if name == "fkDomain" else ("cls", "fkClass")
                value = check.param(wanted).replace("'", "''")
                bad = f"{p}_{attr} <> '{value}'"
            return RowPlan(f"NOT coalesce({p}_id <> 0 AND {bad}, FALSE)", needs={need})
        if name in ("standardConceptRecordCompleteness", "sourceConceptRecordCompleteness"):
            return RowPlan(f"NOT coalesce({self._int(t, f)} = 0, FALSE)")
        if name in ("plausibleValueLow", "plausibleValueHigh"):
            bound = parse_bound(check.param(name), self.run_date)
            if bound is None:
                raise NotApplicable(f"Unrecognised plausible value '{check.param(name)}'.")
            kind, literal = bound
            value = (
                self._date(t, f)
                if kind == "date"
                else (
                    c
                    if self._type(t, f).upper().startswith(("BIGINT", "INTEGER", "DOUBLE", "DEC"))
                    else f"TRY_CAST({c} AS DOUBLE)"
                )
            )
            op = ">=" if name == "plausibleValueLow" else "<="
            return RowPlan(f"{value} {op} {literal}", denominator=f"{c} IS NOT NULL")
        if name == "plausibleTemporalAfter":
            other_table = check.param("plausibleTemporalAfterTableName").lower()
            other = check.param("plausibleTemporalAfterFieldName").lower()
            floor = "DATE '1900-01-01'"
            mine = f"coalesce({self._date(t, f)}, {floor})"
            if other_table == "person" and t != "person":
                need = self._need_person(t)
                return RowPlan(f"{mine} >= coalesce(__p_birth_dt, {floor})", needs={need})
            if other_table != t:
                raise NotApplicable(f"Comparison with table {other_table.upper()} not supported.")
            return RowPlan(f"{mine} >= coalesce({self._date(t, other)}, {floor})")
        if name in ("plausibleDuringLife", "plausibleBeforeDeath"):
            need = self._need_person(t)
            return RowPlan(
                f"NOT coalesce({self._date(t, f)} > __p_death60, FALSE)",
                denominator="__p_death60 IS NOT NULL",
                needs={need},
            )
        if name == "plausibleAfterBirth":
            need = self._need_person(t)
            return RowPlan(
                f"NOT coalesce(__p_birth > {self._date(t, f)}, FALSE)",
                denominator=f"{c} IS NOT NULL AND __p_id IS NOT NULL",
                needs={need},
            )
        if name == "plausibleStartBeforeEnd":
            end = check.param("plausibleStartBeforeEndFieldName").lower()
            e = self._col(t, end)
            return RowPlan(
                f"{self._date(t, f)} <= {self._date(t, end)}",
                denominator=f"{c} IS NOT NULL AND {e} IS NOT NULL",
            )
        if name == "withinVisitDates":
            if not self.lk.visit:
                raise _absent_table("VISIT_OCCURRENCE")
            self._col(t, "visit_occurrence_id")
            d = self._date(t, f)
            return RowPlan(
                f"NOT coalesce({d} < __v_lo OR {d} > __v_hi, FALSE)",
                denominator="__v_id IS NOT NULL",
                needs={"visit"},
            )
        raise ValueError(f"{name} is not a row-level check")

    def _foreign_key(self, check: CheckDef, t: str, f: str, c: str) -> RowPlan:
        target = check.param("fkTableName").lower()
        target_field = (check.param("fkFieldName") or f).lower()
        if target == "concept" and target_field == "concept_id":
            need = self._need_concept(t, f)
            return RowPlan(f"{c} IS NULL OR __c_{f}_id IS NOT NULL", needs={need})
        if target == "person" and f == "person_id":
            need = self._need_person(t)
            return RowPlan(f"{c} IS NULL OR __p_id IS NOT NULL", needs={need})
        if target == "visit_occurrence" and f == "visit_occurrence_id" and self.lk.visit:
            return RowPlan(f"{c} IS NULL OR __v_id IS NOT NULL", needs={"visit"})
        if not self.cdm.has(target):
            raise _absent_table(target)
        if not self.cdm.has(target, target_field):
            raise _absent_field(target, target_field)
        return RowPlan(
            f"{c} IS NULL OR __fk_{f} IS NOT NULL", needs={f"fk:{f}:{target}:{target_field}"}
        )

    # -- enriched view ---------------------------------------------------------------------------
    def enriched_sql(self, table: str, needs: set[str], key_relation: dict[str, str]) -> str:
        """SELECT of `table` with the lookups in `needs` LEFT JOINed (one row per table row)."""
        cols = self.cdm.tables[table].columns
        select = ["__b.*"]
        joins = []

        def key(column: str) -> str:
            return as_int(q(column), cols[column], "__b")

        for need in sorted(needs):
            if need == "person":
                joins.append(f"LEFT JOIN __lk_person AS __jp ON __jp.k = {key('person_id')}")
                select += [
                    "__jp.k AS __p_id",
                    "__jp.gender AS __p_gender",
                    "__jp.birth AS __p_birth",
                    "__jp.birth_dt AS __p_birth_dt",
                    "__jp.death60 AS __p_death60",
                ]
            elif need == "visit":
                joins.append(
                    f"LEFT JOIN __lk_visit AS __jv ON __jv.k = {key('visit_occurrence_id')}"
                )
                select += ["__jv.k AS __v_id", "__jv.lo AS __v_lo", "__jv.hi AS __v_hi"]
            elif need.startswith("concept:"):
                f = need.split(":", 1)[1]
                a = q(f"__jc_{f}")
                joins.append(f"LEFT JOIN __lk_concept AS {a} ON {a}.k = {key(f)}")
                select += [
                    f"{a}.k AS {q(f'__c_{f}_id')}",
                    f"{a}.dom AS {q(f'__c_{f}_dom')}",
                    f"{a}.cls AS {q(f'__c_{f}_cls')}",
                    f"{a}.std AS {q(f'__c_{f}_std')}",
                    f"{a}.inv AS {q(f'__c_{f}_inv')}",
                ]
            elif need.startswith("fk:"):
                _, f, target, target_field = need.split(":")
                a = q(f"__jk_{f}")
                probe = (
                    f"CAST(__b.{q(f)} AS VARCHAR)"
                    if (target, target_field) in self.lk.text_keys
                    else key(f)
                )
                joins.append(f"LEFT JOIN {q(key_relation[need])} AS {a} ON {a}.k = {probe}")
                select.append(f"{a}.k AS {q(f'__fk_{f}')}")
        return f"SELECT {', '.join(select)} FROM {q(table)} AS __b {' '.join(joins)}".strip()
