"""The National Data Opt-out on FHIR: remove opted-out patients' resources before a view runs.

A Patient is opted out when one of its identifiers with system
`https://fhir.nhs.uk/Id/nhs-number` holds a listed NHS number (spaces and dashes ignored). Its
resource is removed, and so is every resource holding a reference to it (`Patient/ID`,
`base/Patient/ID[/_history/V]`, or the Patient's Bundle `fullUrl` such as `urn:uuid:...`), in
any element: an Encounter's `subject`, an Observation's `performer`, a Bundle that carries it.
The same rule as `pseudonymise` on FHIR (governance/fhir_pseudonymise.py). One query in the
engine (DuckDB); nothing is parsed in Python per resource.
"""

from __future__ import annotations

from typing import Any

from healthdq.errors import HealthdqError
from healthdq.governance.fhir_pseudonymise import NHS_NUMBER_SYSTEM, REF_RE, patient_ref
from healthdq.governance.optout import COLUMN, RELATION
from healthdq.sources.base import quote_ident, quote_literal


def restrict(engine: Any, table: str, kept: str) -> dict[str, int]:
    """Create `kept`: the resources of `table` without the opted-out patients' and those that
    refer to them (the opt-out relation must be registered). Returns resources removed by type."""
    if engine.name != "duckdb":
        raise HealthdqError("--opt-out on FHIR data runs on the duckdb engine")
    con = engine.con
    src = f"__hdq_optfhir_src_{kept}"
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {quote_ident(src)} AS "
        f"SELECT row_number() OVER () AS __rid, * FROM {quote_ident(table)}"
    )
    value = "replace(replace(trim(x->>'value'), ' ', ''), '-', '')"
    opted = (
        f"SELECT DISTINCT 'Patient/' || id AS ref, full_url FROM ("
        f"SELECT id, full_url, unnest(TRY_CAST(json_extract(resource, '$.identifier') "
        f"AS JSON[])) AS x FROM {quote_ident(src)} WHERE resource_type = 'Patient') "
        f"WHERE x->>'system' = {quote_literal(NHS_NUMBER_SYSTEM)} "
        f"AND {value} IN (SELECT {COLUMN} FROM {RELATION})"
    )
    refs = (
        f"SELECT __rid, unnest(regexp_extract_all(CAST(resource AS VARCHAR), "
        f"{quote_literal(REF_RE)}, 1)) AS ref FROM {quote_ident(src)}"
    )
    dropped = (
        f"WITH o AS ({opted}), r AS ({refs}) "
        f"SELECT s.__rid FROM {quote_ident(src)} AS s JOIN o "
        f"ON s.resource_type = 'Patient' AND 'Patient/' || s.id = o.ref "
        f"UNION SELECT r.__rid FROM r JOIN o ON {patient_ref('r.ref')} = o.ref "
        f"OR (o.full_url IS NOT NULL AND r.ref = o.full_url)"
    )
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {quote_ident(kept)} AS SELECT s.*, "
        f"d.__rid IS NOT NULL AS __dropped FROM {quote_ident(src)} AS s "
        f"LEFT JOIN ({dropped}) AS d USING (__rid)"
    )
    removed = con.execute(
        f"SELECT resource_type, count(*) FROM {quote_ident(kept)} WHERE __dropped GROUP BY 1"
    ).fetchall()
    con.execute(f"DELETE FROM {quote_ident(kept)} WHERE __dropped")
    con.execute(f"ALTER TABLE {quote_ident(kept)} DROP COLUMN __dropped")
    con.execute(f"ALTER TABLE {quote_ident(kept)} DROP COLUMN __rid")
    con.execute(f"DROP TABLE {quote_ident(src)}")
    return {str(t): int(n) for t, n in removed}
