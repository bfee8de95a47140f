"""healthdq synth fhir: every seeded defect counted back by independent queries over the NDJSON.

The counts here read the files as JSON in DuckDB and judge values with the Python reference
validators (Modulus 11, Verhoeff, the postcode regex), never with the generator's SQL.
"""

from __future__ import annotations

import gzip
import json
import re
from datetime import date
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from healthdq.cli import app
from healthdq.errors import HealthdqError
from healthdq.synth.fhir import generate_fhir
from healthdq.synth.fhir_spec import (
    FHIR_DEFECTS,
    TYPES,
    expected_fhir_by_rule,
    expected_fhir_defects,
    resource_counts,
)
from healthdq.validators.nhs_number import nhs_number_is_valid
from healthdq.validators.postcode import postcode_is_valid
from healthdq.validators.sctid import sctid_is_valid

# Not a multiple of 1000 in any type: the partial block of slots is exercised too.
N = 23_457
NHS = "https://fhir.nhs.uk/Id/nhs-number"
ODS = "https://fhir.nhs.uk/Id/ods-organization-code"
VERIFICATION = (
    "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSNumberVerificationStatus"
)
ETHNIC = "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-EthnicCategory"
# UK Core NHS number verification status (England) and ethnic category (England) codes.
VERIFICATION_CODES = {f"0{k}" for k in range(1, 9)}
ETHNIC_CODES = set("ABCDEFGHJKLMNPRSZ") | {"99"}
ODS_SHAPE = re.compile(r"[A-Z0-9]{3}|[A-Z0-9]{5}|[A-Z][0-9]{5}")


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("fhir") / "export"
    result = generate_fhir(N, out, seed=7)
    assert result.counts == resource_counts(N)
    return out


_PARSED: dict[tuple[Path, str], list[dict]] = {}


def _resources(folder: Path, rtype: str) -> list[dict]:
    key = (folder, rtype)
    if key not in _PARSED:
        with open(folder / f"{rtype}.ndjson", encoding="utf-8") as fh:
            _PARSED[key] = [json.loads(line) for line in fh]
    return _PARSED[key]


def _count(export: Path, rtype: str, where: str) -> int:
    con = duckdb.connect()
    path = str(export / f"{rtype}.ndjson").replace("'", "''")
    con.execute(f"CREATE VIEW r AS SELECT json AS j FROM read_ndjson_objects('{path}')")
    row = con.execute(f"SELECT count(*) FROM r WHERE {where}").fetchone()
    assert row is not None
    return int(row[0])


def test_files_counts_and_json(export: Path) -> None:
    counts = resource_counts(N)
    assert sum(counts.values()) == N
    for rtype in TYPES:
        resources = _resources(export, rtype)
        assert len(resources) == counts[rtype]
        assert all(r["resourceType"] == rtype for r in resources)
        ids = [r["id"] for r in resources]
        assert len(set(ids)) == len(ids)
        # No element is ever written as null (absent elements are left out).
        assert b"null" not in (export / f"{rtype}.ndjson").read_bytes()


def test_references_resolve(export: Path) -> None:
    ids = {f"{t}/{r['id']}" for t in TYPES for r in _resources(export, t)}
    refs: set[str] = set()
    for rtype in ("Patient", "Encounter", "Condition", "Procedure", "Observation"):
        text = (export / f"{rtype}.ndjson").read_text(encoding="utf-8")
        refs |= set(re.findall(r'"reference":"([^"]+)"', text))
    assert refs and refs <= ids


def _patient_counts(export: Path) -> dict[str, int]:
    got = dict.fromkeys(d.id for d in FHIR_DEFECTS["Patient"])
    counts = dict.fromkeys(got, 0)
    today = date.today().isoformat()
    for p in _resources(export, "Patient"):
        nhs = [i for i in p.get("identifier", []) if i.get("system") == NHS]
        if not nhs:
            counts["nhs_number_missing"] += 1
        else:
            ident = nhs[0]
            if not nhs_number_is_valid(ident["value"]):
                counts["nhs_number_bad_check"] += 1
            ext = [e for e in ident.get("extension", []) if e["url"] == VERIFICATION]
            if not ext:
                counts["nhs_verification_missing"] += 1
            elif ext[0]["valueCodeableConcept"]["coding"][0]["code"] not in VERIFICATION_CODES:
                counts["nhs_verification_invalid"] += 1
        birth = p.get("birthDate")
        if birth is None:
            counts["birth_date_missing"] += 1
        elif birth > today:
            counts["birth_date_future"] += 1
        death = p.get("deceasedDateTime")
        if death is not None and birth is not None and death[:10] < birth:
            counts["death_before_birth"] += 1
        if "gender" not in p:
            counts["gender_missing"] += 1
        eth = [e for e in p.get("extension", []) if e["url"] == ETHNIC]
        if eth[0]["valueCodeableConcept"]["coding"][0]["code"] not in ETHNIC_CODES:
            counts["ethnic_category_invalid"] += 1
        if not postcode_is_valid(p["address"][0]["postalCode"]):
            counts["postcode_invalid"] += 1
    return counts


def test_every_seeded_defect_has_its_exact_count(export: Path) -> None:
    expected = expected_fhir_defects(N)
    got = {f"Patient.{k}": v for k, v in _patient_counts(export).items()}
    enc = "Encounter"
    got[f"{enc}.end_before_start"] = _count(
        export,
        enc,
        "CAST(j->>'$.period.end' AS TIMESTAMPTZ) < CAST(j->>'$.period.start' AS TIMESTAMPTZ)",
    )
    got[f"{enc}.class_missing"] = _count(export, enc, "(j->'$.class') IS NULL")
    got[f"{enc}.subject_missing"] = _count(export, enc, "(j->'$.subject') IS NULL")
    for rtype in ("Condition", "Procedure"):
        codes = [r["code"]["coding"][0]["code"] for r in _resources(export, rtype) if "code" in r]
        got[f"{rtype}.sctid_invalid"] = sum(not sctid_is_valid(c) for c in codes)
    got["Condition.code_missing"] = _count(export, "Condition", "(j->'$.code') IS NULL")
    obs = "Observation"
    got[f"{obs}.value_out_of_range"] = _count(
        export, obs, "CAST(j->>'$.valueQuantity.value' AS DOUBLE) >= 1000"
    )
    got[f"{obs}.code_missing"] = _count(export, obs, "(j->'$.code') IS NULL")
    got[f"{obs}.value_missing"] = _count(export, obs, "(j->'$.valueQuantity') IS NULL")
    got[f"{obs}.effective_missing"] = _count(export, obs, "(j->'$.effectiveDateTime') IS NULL")
    orgs = _resources(export, "Organization")
    ods = [[i["value"] for i in o.get("identifier", []) if i["system"] == ODS] for o in orgs]
    got["Organization.ods_missing"] = sum(not v for v in ods)
    got["Organization.ods_invalid"] = sum(bool(v) and not ODS_SHAPE.fullmatch(v[0]) for v in ods)
    assert got == expected
    # Every class is present at this size, and the by-rule totals add up.
    assert all(v > 0 for v in expected.values())
    assert sum(expected_fhir_by_rule(N).values()) == sum(expected.values())


def test_clean_values_are_uk_core_shaped(export: Path) -> None:
    units = {
        (r["code"]["coding"][0]["system"], r["valueQuantity"]["system"])
        for r in _resources(export, "Observation")
        if "code" in r and "valueQuantity" in r
    }
    assert units == {("http://loinc.org", "http://unitsofmeasure.org")}
    statuses = {
        ident["extension"][0]["valueCodeableConcept"]["coding"][0]["code"]
        for p in _resources(export, "Patient")
        for ident in p.get("identifier", [])
        if ident.get("extension")
    }
    assert {"01", "02"} <= statuses


def test_same_seed_same_bytes_and_gzip(tmp_path: Path) -> None:
    first = generate_fhir(3_000, tmp_path / "first", seed=7)
    again = generate_fhir(3_000, tmp_path / "again", seed=7)
    zipped = generate_fhir(3_000, tmp_path / "gz", seed=7, compress=True)
    for rtype in TYPES:
        plain = first.files[rtype].read_bytes()
        assert again.files[rtype].read_bytes() == plain
        assert gzip.decompress(zipped.files[rtype].read_bytes()) == plain
    other = generate_fhir(3_000, tmp_path / "other", seed=8)
    assert other.files["Patient"].read_bytes() != first.files["Patient"].read_bytes()


def test_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(HealthdqError, match="from 100"):
        generate_fhir(99, tmp_path / "x")
    (tmp_path / "file").write_text("x")
    with pytest.raises(HealthdqError, match="folder"):
        generate_fhir(1000, tmp_path / "file")


def test_cli(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["synth", "fhir", "--rows", "1000", "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    assert "injected Patient.nhs_number_bad_check" in res.output
    assert (tmp_path / "Observation.ndjson").exists()
