"""Open an OMOP CDM (DuckDB file, folder of CSV/Parquet, PostgreSQL schema) and build lookups.

Every CDM table becomes a view named after the table in lower case, with lower-case column names
and a `__row` column, whatever the source's case. Row-level checks that need another table
(person's birth, death and gender, the visit's dates, the concept behind a concept id, a foreign
key's target) read it through a *lookup*: a small keyed temp table joined to the checked table in
an enriched view, so those checks stay row-level and fuse into the table's single scan.

Tables are read by sources/ (a folder or zip on every engine, a database on DuckDB); the lookups
are the same SQL, written in DuckDB's dialect and translated by the engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from healthdq.engine.base import Engine
from healthdq.errors import SourceError
from healthdq.sources.base import RegisteredTable, quote_ident
from healthdq.sources.folder import CDM_OPTIONS, register_folder

INTEGER_TYPES = ("BIGINT", "INTEGER", "SMALLINT", "TINYINT", "HUGEINT", "UBIGINT", "UINTEGER")
DATE_TYPES = ("DATE", "TIMESTAMP")


# A CDM table: lower-case name = relation name, lower-case columns -> engine type, rows.
CdmTable = RegisteredTable


@dataclass
class Cdm:
    """The tables found, plus what the lookups offer."""

    location: str
    tables: dict[str, CdmTable] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def has(self, table: str, *columns: str) -> bool:
        t = self.tables.get(table.lower())
        return t is not None and all(c.lower() in t.columns for c in columns)


def q(name: str) -> str:
    return quote_ident(name)


def as_int(column: str, type_name: str, alias: str | None = None) -> str:
    """The column as BIGINT; a text or decimal column is converted without failing the scan."""
    ref = f"{alias}.{column}" if alias else column
    if type_name.upper().startswith(INTEGER_TYPES):
        return ref
    return f"TRY_CAST({ref} AS BIGINT)"


def as_date(column: str, type_name: str, alias: str | None = None) -> str:
    ref = f"{alias}.{column}" if alias else column
    upper = type_name.upper()
    if upper == "DATE":
        return ref
    if upper.startswith("TIMESTAMP"):
        return f"CAST({ref} AS DATE)"
    return f"TRY_CAST({ref} AS DATE)"


def open_cdm(engine: Engine, location: str, schema: str | None = None) -> Cdm:
    """Register every table of the CDM at `location` as a lower-case view.

    A folder or zip of CSV/Parquet files opens on every engine (sources/folder.py); a database
    (DuckDB file, postgres:DSN) on engines that can attach one.
    """
    cdm = Cdm(location=location)
    database = location.startswith(("postgres:", "postgresql:")) or location.lower().endswith(
        (".duckdb", ".db")
    )
    if not database and not Path(location).exists():
        raise SourceError("not found", path=location)
    if database:
        cdm.tables, cdm.warnings = engine.register_database(location, schema)
        return cdm
    if not Path(location).is_dir() and not location.lower().endswith(".zip"):
        raise SourceError(
            "give a DuckDB file, a folder (or zip) of CSV/Parquet or postgres:DSN", path=location
        )
    folder = register_folder(engine, location, CDM_OPTIONS)
    cdm.tables, cdm.warnings = folder.tables, folder.warnings
    return cdm


# -- lookups -----------------------------------------------------------------------------------


@dataclass
class Lookups:
    """Keyed temp tables built once per run; each enriched view joins the ones it needs."""

    person: bool = False  # __lk_person(k, gender, birth, birth_dt, death60)
    visit: bool = False  # __lk_visit(k, lo, hi)
    concept: bool = False  # __lk_concept(k, dom, cls, std, inv)
    keys: dict[tuple[str, str], str] = field(default_factory=dict)  # (table, column) -> relation
    text_keys: set[tuple[str, str]] = field(default_factory=set)  # keys compared as text


def _unique_ids(engine: Engine, table: str, column: str, type_name: str) -> bool:
    """True when an integer id column holds no duplicates: a lookup then needs no GROUP BY.

    Proved with a bitmap over the id range (one cheap pass); anything else is 'not proved',
    including every engine without DuckDB's bitstring_agg (the GROUP BY gives the same rows).
    """
    if not engine.bitmaps or not type_name.upper().startswith(INTEGER_TYPES):
        return False
    col = q(column)
    try:
        n, lo, hi = engine.fetch(f"SELECT count({col}), min({col}), max({col}) FROM {q(table)}")[0]
        if not n or hi - lo >= 1 << 27:
            return False
        rows = engine.fetch(
            f"SELECT bit_count(bitstring_agg({col}, {int(lo)}, {int(hi)})) FROM {q(table)}"
        )
        return bool(rows and rows[0][0] == n)
    except Exception:  # the engine's own error: not proved, the GROUP BY is used
        return False


def build_lookups(engine: Engine, cdm: Cdm) -> Lookups:
    """The person, visit and concept lookups this CDM offers, as temp tables."""
    lk = Lookups()
    person = cdm.tables.get("person")
    if person and "person_id" in person.columns:
        c = person.columns
        birth_dt = as_date("birth_datetime", c["birth_datetime"]) if "birth_datetime" in c else None
        month = "coalesce(month_of_birth, 1)" if "month_of_birth" in c else "1"
        day = "coalesce(day_of_birth, 1)" if "day_of_birth" in c else "1"
        parts = (
            f"TRY_CAST(concat(year_of_birth, '-', {month}, '-', {day}) AS DATE)"
            if "year_of_birth" in c
            else "NULL::DATE"
        )
        birth = f"coalesce({birth_dt}, {parts})" if birth_dt else parts
        gender = (
            as_int("gender_concept_id", c["gender_concept_id"])
            if "gender_concept_id" in c
            else "NULL::BIGINT"
        )
        death = cdm.tables.get("death")
        if death and {"person_id", "death_date"} <= set(death.columns):
            dd = as_date("death_date", death.columns["death_date"])
            did = as_int("person_id", death.columns["person_id"])
            death_join = (
                f"LEFT JOIN (SELECT {did} AS k, min({dd}) AS d FROM death GROUP BY 1) AS __d "
                "ON __d.k = __p.k"
            )
            death_col = "__d.d + 60"
        else:
            death_join, death_col = "", "NULL::DATE"
        pid = as_int("person_id", c["person_id"])
        persons = (
            f"SELECT {pid} AS k, {gender} AS gender, {birth} AS birth, "
            f"{birth_dt or 'NULL::DATE'} AS birth_dt FROM person WHERE {pid} IS NOT NULL"
            if _unique_ids(engine, "person", "person_id", c["person_id"])
            else f"SELECT {pid} AS k, any_value({gender}) AS gender, any_value({birth}) AS birth, "
            f"any_value({birth_dt or 'NULL::DATE'}) AS birth_dt FROM person "
            f"WHERE {pid} IS NOT NULL GROUP BY 1"
        )
        engine.create_temp(
            "__lk_person",
            "SELECT __p.k, __p.gender, __p.birth, "
            f"__p.birth_dt, {death_col} AS death60 FROM ({persons}) AS __p {death_join}",
            materialize=True,
        )
        lk.person = True
    visit = cdm.tables.get("visit_occurrence")
    if visit and {"visit_occurrence_id", "visit_start_date", "visit_end_date"} <= set(
        visit.columns
    ):
        c = visit.columns
        vid = as_int("visit_occurrence_id", c["visit_occurrence_id"])
        start = as_date("visit_start_date", c["visit_start_date"])
        end = as_date("visit_end_date", c["visit_end_date"])
        if _unique_ids(engine, "visit_occurrence", "visit_occurrence_id", c["visit_occurrence_id"]):
            visits = (
                f"SELECT {vid} AS k, {start} - 7 AS lo, {end} + 7 AS hi FROM visit_occurrence "
                f"WHERE {vid} IS NOT NULL"
            )
        else:
            visits = (
                f"SELECT {vid} AS k, min({start}) - 7 AS lo, max({end}) + 7 AS hi "
                f"FROM visit_occurrence WHERE {vid} IS NOT NULL GROUP BY 1"
            )
        engine.create_temp("__lk_visit", visits, materialize=True)
        lk.visit = True
    concept = cdm.tables.get("concept")
    if concept and "concept_id" in concept.columns:
        c = concept.columns

        def attr(name: str) -> str:
            return f"any_value(CAST({name} AS VARCHAR))" if name in c else "NULL::VARCHAR"

        cid = as_int("concept_id", c["concept_id"])
        engine.create_temp(
            "__lk_concept",
            f"SELECT {cid} AS k, "
            f"{attr('domain_id')} AS dom, {attr('concept_class_id')} AS cls, "
            f"{attr('standard_concept')} AS std, {attr('invalid_reason')} AS inv "
            f"FROM concept WHERE {cid} IS NOT NULL GROUP BY 1",
            materialize=True,
        )
        lk.concept = True
    return lk


def key_lookup(engine: Engine, cdm: Cdm, lk: Lookups, table: str, column: str) -> str | None:
    """Distinct keys of table.column as a temp table (foreign-key targets), built on first use."""
    key = (table.lower(), column.lower())
    if key in lk.keys:
        return lk.keys[key]
    t = cdm.tables.get(key[0])
    if t is None or key[1] not in t.columns:
        return None
    relation = f"__lk_keys_{key[0]}_{key[1]}"
    # Integer ids join as integers; text keys (DOMAIN_ID, RELATIONSHIP_ID...) as text.
    if t.columns[key[1]].upper().startswith(INTEGER_TYPES):
        expr = as_int(q(key[1]), t.columns[key[1]])
    else:
        expr = f"CAST({q(key[1])} AS VARCHAR)"
        lk.text_keys.add(key)
    engine.create_temp(
        relation,
        f"SELECT DISTINCT {expr} AS k FROM {q(key[0])} WHERE {expr} IS NOT NULL",
        materialize=True,
    )
    lk.keys[key] = relation
    return relation
