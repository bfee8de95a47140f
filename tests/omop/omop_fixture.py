"""A tiny OMOP CDM with known defects, written as CSV, Parquet or a DuckDB file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

# Each statement makes one CDM table; the comments say which defects tests expect.
TABLES: dict[str, str] = {
    "person": """SELECT * FROM (VALUES
        (1, 8507, 1980, 1, 1, TIMESTAMP '1980-01-01', 0, 0, 'p1'),
        (2, 8532, 1990, 6, 15, TIMESTAMP '1990-06-15', 0, 0, 'p2'),
        (3, 8507, 2000, NULL, NULL, NULL, 0, 0, 'p3'),
        (4, 8532, 1970, 3, 3, TIMESTAMP '1970-03-03', 0, 0, 'p4'))
        AS t(person_id, gender_concept_id, year_of_birth, month_of_birth, day_of_birth,
             birth_datetime, race_concept_id, ethnicity_concept_id, person_source_value)""",
    "death": """SELECT * FROM (VALUES (4, DATE '2010-01-01', 32817))
        AS t(person_id, death_date, death_type_concept_id)""",
    # Person 1 has two overlapping periods; person 4 none (measurePersonCompleteness).
    "observation_period": """SELECT * FROM (VALUES
        (1, 1, DATE '2000-01-01', DATE '2010-12-31', 32817),
        (2, 1, DATE '2010-06-01', DATE '2020-12-31', 32817),
        (3, 2, DATE '2000-01-01', DATE '2020-12-31', 32817),
        (4, 3, DATE '2005-01-01', DATE '2020-12-31', 32817))
        AS t(observation_period_id, person_id, observation_period_start_date,
             observation_period_end_date, period_type_concept_id)""",
    "visit_occurrence": """SELECT * FROM (VALUES
        (10, 1, 9201, DATE '2015-01-01', DATE '2015-01-05', 32817),
        (20, 2, 9201, DATE '2016-01-01', DATE '2016-01-02', 32817))
        AS t(visit_occurrence_id, person_id, visit_concept_id, visit_start_date,
             visit_end_date, visit_type_concept_id)""",
    # Row 3: female (person 2) with a male-only condition (26662); row 4: unknown concept 999.
    "condition_occurrence": """SELECT * FROM (VALUES
        (100, 1, 26662, DATE '2015-01-02', 32817, 10, 'c1', 26662),
        (101, 1, 26662, DATE '2015-01-03', 32817, 10, 'c1', 26662),
        (102, 2, 26662, DATE '2016-01-01', 32817, 20, 'c1', 26662),
        (103, 2, 999, DATE '2016-01-01', 32817, 20, 'c9', 0))
        AS t(condition_occurrence_id, person_id, condition_concept_id, condition_start_date,
             condition_type_concept_id, visit_occurrence_id, condition_source_value,
             condition_source_concept_id)""",
    # Row 2: a month outside its visit; row 3: after death + 60 days; row 4: NULL person_id,
    # unit 8554 not plausible for 3006315; row 5: before birth.
    "measurement": """SELECT * FROM (VALUES
        (1000, 1, 3006315, DATE '2015-01-02', 32817, 8848, 1.5, 10),
        (1001, 1, 3006315, DATE '2015-03-01', 32817, 8848, 1.5, 10),
        (1002, 4, 3006315, DATE '2012-01-01', 32817, 8848, 1.5, NULL),
        (1003, NULL, 3006315, DATE '2016-01-01', 32817, 8554, 2.5, NULL),
        (1004, 3, 3006315, DATE '1999-01-01', 32817, 8848, 1.5, NULL))
        AS t(measurement_id, person_id, measurement_concept_id, measurement_date,
             measurement_type_concept_id, unit_concept_id, value_as_number,
             visit_occurrence_id)""",
    "concept": """SELECT * FROM (VALUES
        (0, 'No matching concept', 'Metadata', 'None', 'Undefined', NULL, 'No matching', NULL),
        (8507, 'MALE', 'Gender', 'Gender', 'Gender', 'S', 'M', NULL),
        (8532, 'FEMALE', 'Gender', 'Gender', 'Gender', 'S', 'F', NULL),
        (9201, 'Inpatient Visit', 'Visit', 'Visit', 'Visit', 'S', 'IP', NULL),
        (32817, 'EHR', 'Type Concept', 'Type Concept', 'Type Concept', 'S', 'OMOP', NULL),
        (26662, 'Testicular hypofunction', 'Condition', 'SNOMED', 'Clinical Finding', 'S',
         '1', NULL),
        (3006315, 'Basophils', 'Measurement', 'LOINC', 'Lab Test', 'S', '2', NULL),
        (8848, 'thousand per microliter', 'Unit', 'UCUM', 'Unit', 'S', 'u', NULL),
        (8554, 'percent', 'Unit', 'UCUM', 'Unit', 'S', '%', NULL))
        AS t(concept_id, concept_name, domain_id, vocabulary_id, concept_class_id,
             standard_concept, concept_code, invalid_reason)""",
}

MakeCdm = Callable[..., Path]


def build(
    con: duckdb.DuckDBPyConnection, skip: tuple[str, ...] = (), extra: dict[str, str] | None = None
) -> list[str]:
    names = []
    for name, sql in {**TABLES, **(extra or {})}.items():
        if name in skip:
            continue
        con.execute(f'CREATE OR REPLACE TABLE "{name}" AS {sql}')
        names.append(name)
    return names


@pytest.fixture
def make_cdm(tmp_path: Path) -> MakeCdm:
    """make_cdm(fmt='csv'|'parquet'|'duckdb', skip=(tables...), upper=False, extra={...})."""

    def make(
        fmt: str = "csv",
        skip: tuple[str, ...] = (),
        upper: bool = False,
        extra: dict[str, str] | None = None,
    ) -> Path:
        if fmt == "duckdb":
            path = tmp_path / "cdm.duckdb"
            con = duckdb.connect(str(path))
            build(con, skip, extra)
            con.close()
            return path
        folder = tmp_path / f"cdm_{fmt}"
        folder.mkdir(exist_ok=True)
        con = duckdb.connect()
        for name in build(con, skip, extra):
            stem = name.upper() if upper else name
            target = folder / f"{stem}.{fmt}"
            if upper:
                cols = [r[0] for r in con.execute(f'DESCRIBE "{name}"').fetchall()]
                select = ", ".join(f'"{c}" AS "{c.upper()}"' for c in cols)
                source = f'(SELECT {select} FROM "{name}")'
            else:
                source = f'"{name}"'
            options = "(FORMAT parquet)" if fmt == "parquet" else "(HEADER)"
            con.execute(f"COPY {source} TO '{target}' {options}")
        con.close()
        return folder

    return make
