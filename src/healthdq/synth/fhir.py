"""A synthetic FHIR R4 bulk export, UK Core shaped, written by DuckDB: one NDJSON file per type.

Why this shape: as for the tabular extracts (``generator.py``), every value is a pure function of
the resource index and the seed (integer hashing in vectorised SQL) and each resource's JSON
text is built by string concatenation inside DuckDB, so a million resources take seconds and
nothing is held in Python. Optional elements are pieces that are NULL when absent
(``concat_ws`` skips them), so a defect that removes an element removes its key, never writes
``null``. The defect table is ``fhir_spec.py``; its closed-form counts are exact.

UK Core shapes used (UK Core R4 STU2 definitions, NHS England, FHIR-R4-UKCORE-STAGING-MAIN):
NHS number identifier system ``https://fhir.nhs.uk/Id/nhs-number`` with the
Extension-UKCore-NHSNumberVerificationStatus extension on the identifier (UKCore-Patient
slice ``identifier:nhsNumber``), Extension-UKCore-EthnicCategory on Patient, ODS organisation
code system ``https://fhir.nhs.uk/Id/ods-organization-code`` (UKCore-Organization slice
``identifier:odsOrganisationCode``), vital-sign LOINC codes and UCUM units fixed by the
UKCore-Observation-VitalSigns-* profiles.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb

from healthdq.errors import HealthdqError
from healthdq.synth import codes as C
from healthdq.synth.fhir_spec import (
    FHIR_DEFECTS,
    ID_PREFIX,
    MIN_RESOURCES,
    TYPES,
    expected_fhir_defects,
    resource_counts,
    slot_ranges,
)
from healthdq.synth.generator import (
    MAX_ROWS,
    _case_pick,
    _list,
    _lit,
    _mix,
    _stage,
    _weighted,
    nhs_number_stages,
)
from healthdq.synth.spec import MODULUS, STRIDE
from healthdq.validators.sctid import verhoeff_valid

NHS_NUMBER_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
ODS_SYSTEM = "https://fhir.nhs.uk/Id/ods-organization-code"
SDS_USER_SYSTEM = "https://fhir.nhs.uk/Id/sds-user-id"
SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
UKCORE_SD = "https://fhir.hl7.org.uk/StructureDefinition/"
UKCORE_CS = "https://fhir.hl7.org.uk/CodeSystem/"
ETHNIC_URL = UKCORE_SD + "Extension-UKCore-EthnicCategory"
ETHNIC_SYSTEM = UKCORE_CS + "UKCore-EthnicCategoryEngland"
VERIFICATION_URL = UKCORE_SD + "Extension-UKCore-NHSNumberVerificationStatus"
VERIFICATION_SYSTEM = UKCORE_CS + "UKCore-NHSNumberVerificationStatusEngland"

# Observations: LOINC code, display (LOINC long common name), UCUM unit, the synthetic value's
# low and high (in tenths when decimals = 1), decimals, weight out of 1000, category. The vital
# sign codes and units are those the UKCore-Observation-VitalSigns-* profiles fix. The synthetic
# values are not reference data: they are chosen inside the cited plausible ranges of
# fhir/ukcore_data/observation_ranges.yaml, so a clean resource never fails the pack.
OBSERVATIONS: tuple[tuple[str, str, str, int, int, int, int, str], ...] = (
    ("8867-4", "Heart rate", "/min", 50, 110, 0, 150, "vital-signs"),
    ("9279-1", "Respiratory rate", "/min", 12, 24, 0, 100, "vital-signs"),
    ("8310-5", "Body temperature", "Cel", 360, 385, 1, 100, "vital-signs"),
    ("29463-7", "Body weight", "kg", 450, 1200, 1, 80, "vital-signs"),
    ("8302-2", "Body height", "cm", 150, 195, 0, 50, "vital-signs"),
    ("39156-5", "Body mass index (BMI) [Ratio]", "kg/m2", 185, 350, 1, 50, "vital-signs"),
    ("8480-6", "Systolic blood pressure", "mm[Hg]", 100, 160, 0, 120, "vital-signs"),
    ("8462-4", "Diastolic blood pressure", "mm[Hg]", 60, 95, 0, 120, "vital-signs"),
    ("718-7", "Hemoglobin [Mass/volume] in Blood", "g/L", 110, 170, 0, 50, "laboratory"),
    ("2823-3", "Potassium [Moles/volume] in Serum or Plasma", "mmol/L", 35, 52, 1, 50,
     "laboratory"),
    ("2951-2", "Sodium [Moles/volume] in Serum or Plasma", "mmol/L", 135, 145, 0, 50,
     "laboratory"),
    ("14682-9", "Creatinine [Moles/volume] in Serum or Plasma", "umol/L", 50, 150, 0, 40,
     "laboratory"),
    ("2093-3", "Cholesterol [Mass/volume] in Serum or Plasma", "mmol/L", 30, 70, 1, 40,
     "laboratory"),
)  # fmt: skip
# An out-of-range value adds this to the clean value: above every cited high for these codes.
OUT_OF_RANGE_OFFSET = 1000

# SNOMED CT procedures (concept ids; checked with Verhoeff and partition 00 at import).
PROCEDURES: tuple[str, ...] = (
    "387713003",  # surgical procedure
    "103693007",  # diagnostic procedure
    "80146002",  # appendicectomy
    "73761001",  # colonoscopy
    "399208008",  # plain chest X-ray
    "77477000",  # computerised axial tomography
    "113091000",  # magnetic resonance imaging
    "16310003",  # diagnostic ultrasonography
    "5880005",  # physical examination
)
# Encounter class (HL7 v3 ActCode) out of 1000.
ENCOUNTER_CLASSES: tuple[tuple[str, str, int], ...] = (
    ("AMB", "ambulatory", 600),
    ("EMER", "emergency", 250),
    ("IMP", "inpatient encounter", 150),
)
GP_LETTERS = "ABCDEFGHJKLMNPY"
_NHS_POOL = 900_000
_FY = C.FY_START
_FY_SECONDS = C.FY_DAYS * 86_400


@dataclass
class FhirSynthResult:
    """What ``generate_fhir`` wrote: one file per type, counts, exact defect totals."""

    path: Path
    rows: int
    seed: int
    counts: dict[str, int]
    expected: dict[str, int]
    files: dict[str, Path] = field(default_factory=dict)
    seconds: float = 0.0


# --- JSON text pieces (SQL expressions yielding VARCHAR) -------------------------------------


def _str(key: str, expr: str) -> str:
    """``"key":"<expr>"`` (the value must need no JSON escaping: generated text only)."""
    return f"'\"{key}\":\"' || {expr} || '\"'"


def _raw(key: str, expr: str) -> str:
    """``"key":<expr>`` where expr is JSON text (object, array, number)."""
    return f"'\"{key}\":' || {expr}"


def _const(key: str, json_text: str) -> str:
    return _lit(f'"{key}":{json_text}')


def _obj(*parts: str) -> str:
    """A JSON object from pieces; a NULL piece (an absent element) is left out."""
    return f"'{{' || concat_ws(',', {', '.join(parts)}) || '}}'"


def _when(cond: str, piece: str) -> str:
    return f"CASE WHEN {cond} THEN {piece} END"


def _ref(key: str, prefix: str, index: str) -> str:
    return f"'\"{key}\":{{\"reference\":\"' || '{prefix}' || CAST({index} AS VARCHAR) || '\"}}'"


def _coding(system: str, code_expr: str) -> str:
    """A CodeableConcept with one coding of ``system`` and a code from ``code_expr``."""
    return f'\'{{"coding":[{{"system":"{system}","code":"\' || {code_expr} || \'"}}]}}\''


def _profile(name: str) -> str:
    return _const("meta", f'{{"profile":["{UKCORE_SD}UKCore-{name}"]}}')


def _datetime(ts: str) -> str:
    return f"strftime({ts}, '%Y-%m-%dT%H:%M:%S') || '+00:00'"


def _pick_defect(values: list[str]) -> str:
    return f"{_list(values)}[1 + dh % {len(values)}]"


# --- per-type queries ------------------------------------------------------------------------


def _base(rtype: str, n: int, seed: int, streams: list[str]) -> str:
    """Index ``i``, defect number (1-based position in the type's spec, 0 none) and hashes."""
    defect_of_slot = [0] * MODULUS
    for k, d in enumerate(FHIR_DEFECTS[rtype], start=1):
        a, b = slot_ranges(rtype)[d.id]
        defect_of_slot[a:b] = [k] * (b - a)
    slot = f"(range % {MODULUS}) * {STRIDE} % {MODULUS}"
    q = (
        f"SELECT range AS i, {_list(defect_of_slot)}[1 + {slot}] AS defect "
        f"FROM (SELECT CAST(i AS BIGINT) AS range FROM synth_rows WHERE i < {n})"
    )
    return _mix(q, "i", [*streams, "dh"], "h_", seed, rtype)


def _defect(rtype: str, defect_id: str) -> str:
    """SQL test: this row carries the named defect."""
    ids = [d.id for d in FHIR_DEFECTS[rtype]]
    return f"defect = {ids.index(defect_id) + 1}"


def _postcode(h_pc: str, h_inw: str) -> str:
    districts = [d for p in C.PROVIDERS for d in p.districts]
    letters = _list(list(C.INWARD_LETTERS))
    nl = len(C.INWARD_LETTERS)
    return (
        f"{_list(districts)}[1 + {h_pc} % {len(districts)}] || ' ' || CAST({h_inw} % 10 AS "
        f"VARCHAR) || {letters}[1 + ({h_inw} // 10) % {nl}] || {letters}[1 + ({h_inw} // 1000) "
        f"% {nl}]"
    )


def _patient_sql(counts: dict[str, int], seed: int) -> str:
    n = counts["Patient"]
    q = _base("Patient", n, seed, ["age", "sex", "eth", "pc", "inw", "gp", "ver", "dec"])
    q = _stage(
        q,
        {
            "dh": "h_dh",
            "nhs_idx": f"(i * 7919 + {(seed * 7919) % _NHS_POOL}) % {_NHS_POOL}",
            # Whole years plus a day back from the day before the financial year: every birth
            # precedes every event in the export.
            "birth": f"DATE '{_FY}' - CAST((h_age % 100) * 365 + (h_age >> 16) % 365 + 1 "
            "AS INTEGER)",
        },
    )
    q = nhs_number_stages(q)
    n_org = counts["Organization"]
    trusts = min(len(C.PROVIDERS), n_org)
    gp = f"{trusts} + h_gp % {n_org - trusts}" if n_org > trusts else f"h_gp % {n_org}"
    d = lambda x: _defect("Patient", x)  # noqa: E731
    nhs_value = (
        f"CASE WHEN {d('nhs_number_bad_check')} THEN CAST(nhs_body9 * 10 + "
        "(nhs_check + 1 + dh % 9) % 10 AS VARCHAR) ELSE nhs_number END"
    )
    ver_code = (
        f"CASE WHEN {d('nhs_verification_invalid')} THEN {_pick_defect(['9', '00'])} "
        "WHEN h_ver % 100 < 90 THEN '01' ELSE '02' END"
    )
    ver_ext = (
        f'\'"extension":[{{"url":"{VERIFICATION_URL}","valueCodeableConcept":\' || '
        f"{_coding(VERIFICATION_SYSTEM, ver_code)} || '}}],'"
    )
    identifier = (
        "'\"identifier\":[{' || "
        f"CASE WHEN {d('nhs_verification_missing')} THEN '' ELSE {ver_ext} END || "
        f'\'"system":"{NHS_NUMBER_SYSTEM}","value":"\' || {nhs_value} || \'"}}]\''
    )
    eth_code = (
        f"CASE WHEN {d('ethnic_category_invalid')} THEN {_pick_defect(['Q', 'X1', '11'])} "
        f"ELSE {_case_pick('h_eth', C.ETHNIC_WEIGHTS, 10000)} END"
    )
    extension = (
        f'\'"extension":[{{"url":"{ETHNIC_URL}","valueCodeableConcept":\' || '
        f"{_coding(ETHNIC_SYSTEM, eth_code)} || '}}]'"
    )
    postcode = (
        f"CASE WHEN {d('postcode_invalid')} THEN {_pick_defect(['LS1 4A', 'QQ1 1AA', '1LS 4AB'])}"
        f" ELSE {_postcode('h_pc', 'h_inw')} END"
    )
    deceased = (
        f"CASE WHEN {d('death_before_birth')} THEN birth - CAST(1 + dh % 3650 AS INTEGER) "
        f"WHEN h_dec % 1000 < 20 THEN DATE '{_FY}' + CAST((h_dec >> 12) % {C.FY_DAYS} "
        "AS INTEGER) END"
    )
    q = _stage(
        q,
        {
            "deceased": deceased,
            "birth_out": f"CASE WHEN {d('birth_date_future')} THEN DATE '2095-01-01' "
            "+ CAST(dh % 1826 AS INTEGER) ELSE birth END",
        },
    )
    gender = (
        "CASE WHEN h_sex % 1000 < 3 THEN 'unknown' WHEN h_sex % 1000 < 492 THEN 'male' "
        "ELSE 'female' END"
    )
    json = _obj(
        _const("resourceType", '"Patient"'),
        _str("id", f"'{ID_PREFIX['Patient']}' || CAST(i AS VARCHAR)"),
        _profile("Patient"),
        extension,
        _when(f"NOT {d('nhs_number_missing')}", identifier),
        _when(f"NOT {d('gender_missing')}", _str("gender", gender)),
        _when(f"NOT {d('birth_date_missing')}", _str("birthDate", "CAST(birth_out AS VARCHAR)")),
        _when("deceased IS NOT NULL", _str("deceasedDateTime", "CAST(deceased AS VARCHAR)")),
        _raw("address", f"'[{{\"use\":\"home\",\"postalCode\":\"' || {postcode} || '\"}}]'"),
        _raw("generalPractitioner", f"'[{{\"reference\":\"Organization/o' || "
             f"CAST({gp} AS VARCHAR) || '\"}}]'"),
    )  # fmt: skip
    return f"SELECT {json} AS j FROM ({q})"


def _encounter_sql(counts: dict[str, int], seed: int) -> str:
    n = counts["Encounter"]
    q = _base("Encounter", n, seed, ["cls", "start", "dur", "prac", "org"])
    q = _mix(q, "i", ["pat"], "e_", seed, "Encounter")
    cls = _weighted([c for c, _, _ in ENCOUNTER_CLASSES], [w for _, _, w in ENCOUNTER_CLASSES])
    disp = _weighted([t for _, t, _ in ENCOUNTER_CLASSES], [w for _, _, w in ENCOUNTER_CLASSES])
    q = _stage(
        q,
        {
            "dh": "h_dh",
            "cls": f"{cls}[1 + h_cls % 1000]",
            "cls_display": f"{disp}[1 + h_cls % 1000]",
            "t0": f"TIMESTAMP '{_FY} 00:00:00' + to_seconds(CAST(h_start % {_FY_SECONDS} "
            "AS BIGINT))",
        },
    )
    minutes = (
        "CASE cls WHEN 'AMB' THEN 15 + h_dur % 106 WHEN 'EMER' THEN 60 + h_dur % 661 "
        "ELSE 1440 + h_dur % 18720 END"
    )
    d = lambda x: _defect("Encounter", x)  # noqa: E731
    q = _stage(
        q,
        {
            "t1": f"CASE WHEN {d('end_before_start')} THEN t0 - to_minutes(CAST(1 + dh % 600 "
            f"AS BIGINT)) ELSE t0 + to_minutes(CAST({minutes} AS BIGINT)) END",
        },
    )
    trusts = min(len(C.PROVIDERS), counts["Organization"])
    klass = (
        '\'{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"\' || cls '
        '|| \'","display":"\' || cls_display || \'"}\''
    )
    json = _obj(
        _const("resourceType", '"Encounter"'),
        _str("id", f"'{ID_PREFIX['Encounter']}' || CAST(i AS VARCHAR)"),
        _profile("Encounter"),
        _const("status", '"finished"'),
        _when(f"NOT {d('class_missing')}", _raw("class", klass)),
        _when(f"NOT {d('subject_missing')}",
              _ref("subject", "Patient/p", f"e_pat % {counts['Patient']}")),
        _raw("participant", "'[{\"individual\":{\"reference\":\"Practitioner/pr' || "
             f"CAST(h_prac % {counts['Practitioner']} AS VARCHAR) || '\"}}}}]'"),
        _raw("period", f"'{{\"start\":\"' || {_datetime('t0')} || '\",\"end\":\"' || "
             f"{_datetime('t1')} || '\"}}'"),
        _ref("serviceProvider", "Organization/o", f"h_org % {trusts}"),
    )  # fmt: skip
    return f"SELECT {json} AS j FROM ({q})"


def _linked(rtype: str, counts: dict[str, int], seed: int, streams: list[str]) -> str:
    """A clinical resource's base query with its encounter and that encounter's patient."""
    q = _base(rtype, counts[rtype], seed, ["enc", "when", *streams])
    q = _stage(q, {"dh": "h_dh", "enc": f"h_enc % {counts['Encounter']}"})
    return _mix(q, "enc", ["pat"], "e_", seed, "Encounter")


def _links(counts: dict[str, int]) -> tuple[str, str]:
    return (
        _ref("subject", "Patient/p", f"e_pat % {counts['Patient']}"),
        _ref("encounter", "Encounter/e", "enc"),
    )


def _event_time() -> str:
    return _datetime(f"TIMESTAMP '{_FY} 00:00:00' + to_seconds(CAST(h_when % {_FY_SECONDS} "
                     "AS BIGINT))")  # fmt: skip


def _condition_sql(counts: dict[str, int], seed: int) -> str:
    q = _linked("Condition", counts, seed, ["code", "st"])
    d = lambda x: _defect("Condition", x)  # noqa: E731
    good = list(C.AE_DIAGNOSES)
    bad = [C.verhoeff_corrupt(c, k) for c in good for k in (1, 2, 3)]
    code = (
        f"CASE WHEN {d('sctid_invalid')} THEN {_pick_defect(bad)} "
        f"ELSE {_list(good)}[1 + h_code % {len(good)}] END"
    )
    status = "CASE WHEN h_st % 100 < 70 THEN 'active' ELSE 'resolved' END"
    subject, encounter = _links(counts)
    json = _obj(
        _const("resourceType", '"Condition"'),
        _str("id", f"'{ID_PREFIX['Condition']}' || CAST(i AS VARCHAR)"),
        _profile("Condition"),
        _raw("clinicalStatus", _coding(
            "http://terminology.hl7.org/CodeSystem/condition-clinical", status)),
        _raw("verificationStatus", _coding(
            "http://terminology.hl7.org/CodeSystem/condition-ver-status", "'confirmed'")),
        _raw("category", "'[' || " + _coding(
            "http://terminology.hl7.org/CodeSystem/condition-category",
            "'encounter-diagnosis'") + " || ']'"),
        _when(f"NOT {d('code_missing')}", _raw("code", _coding(SNOMED, code))),
        subject,
        encounter,
        _str("recordedDate", _event_time()),
    )  # fmt: skip
    return f"SELECT {json} AS j FROM ({q})"


def _procedure_sql(counts: dict[str, int], seed: int) -> str:
    q = _linked("Procedure", counts, seed, ["code"])
    d = lambda x: _defect("Procedure", x)  # noqa: E731
    good = list(PROCEDURES)
    bad = [C.verhoeff_corrupt(c, k) for c in good for k in (1, 2, 3)]
    code = (
        f"CASE WHEN {d('sctid_invalid')} THEN {_pick_defect(bad)} "
        f"ELSE {_list(good)}[1 + h_code % {len(good)}] END"
    )
    subject, encounter = _links(counts)
    json = _obj(
        _const("resourceType", '"Procedure"'),
        _str("id", f"'{ID_PREFIX['Procedure']}' || CAST(i AS VARCHAR)"),
        _profile("Procedure"),
        _const("status", '"completed"'),
        _raw("code", _coding(SNOMED, code)),
        subject,
        encounter,
        _str("performedDateTime", _event_time()),
    )
    return f"SELECT {json} AS j FROM ({q})"


def _observation_sql(counts: dict[str, int], seed: int) -> str:
    q = _linked("Observation", counts, seed, ["code", "val"])
    rows = OBSERVATIONS
    idx = _weighted(list(range(1, len(rows) + 1)), [r[6] for r in rows])
    q = _stage(q, {"k": f"{idx}[1 + h_code % 1000]"})
    lo, hi, dec = (
        _list([r[3] for r in rows]),
        _list([r[4] for r in rows]),
        _list([r[5] for r in rows]),
    )
    d = lambda x: _defect("Observation", x)  # noqa: E731
    offset = f"CASE WHEN {d('value_out_of_range')} THEN {OUT_OF_RANGE_OFFSET} ELSE 0 END"
    q = _stage(
        q,
        {
            # The value in units of its last decimal place (tenths when decimals = 1).
            "v": f"{lo}[k] + h_val % ({hi}[k] - {lo}[k] + 1) "
            f"+ ({offset}) * (CASE WHEN {dec}[k] = 1 THEN 10 ELSE 1 END)",
            "dec": f"{dec}[k]",
        },
    )
    value = (
        "CASE WHEN dec = 1 THEN CAST(v // 10 AS VARCHAR) || '.' || CAST(v % 10 AS VARCHAR) "
        "ELSE CAST(v AS VARCHAR) END"
    )
    unit = f"{_list([r[2] for r in rows])}[k]"
    code = (
        f'\'{{"coding":[{{"system":"{LOINC}","code":"\' || {_list([r[0] for r in rows])}[k]'
        f' || \'","display":"\' || {_list([r[1] for r in rows])}[k] || \'"}}]}}\''
    )
    category = (
        "'[' || " + _coding("http://terminology.hl7.org/CodeSystem/observation-category",
                            f"{_list([r[7] for r in rows])}[k]") + " || ']'"
    )  # fmt: skip
    quantity = (
        f'\'{{"value":\' || {value} || \',"unit":"\' || {unit} || \'","system":"{UCUM}",'
        f'"code":"\' || {unit} || \'"}}\''
    )
    subject, encounter = _links(counts)
    json = _obj(
        _const("resourceType", '"Observation"'),
        _str("id", f"'{ID_PREFIX['Observation']}' || CAST(i AS VARCHAR)"),
        _profile("Observation"),
        _const("status", '"final"'),
        _raw("category", category),
        _when(f"NOT {d('code_missing')}", _raw("code", code)),
        subject,
        encounter,
        _when(f"NOT {d('effective_missing')}", _str("effectiveDateTime", _event_time())),
        _when(f"NOT {d('value_missing')}", _raw("valueQuantity", quantity)),
    )
    return f"SELECT {json} AS j FROM ({q})"


def _organization_sql(counts: dict[str, int], seed: int) -> str:
    q = _base("Organization", counts["Organization"], seed, ["pc", "inw"])
    q = _stage(q, {"dh": "h_dh"})
    trusts = min(len(C.PROVIDERS), counts["Organization"])
    d = lambda x: _defect("Organization", x)  # noqa: E731
    gp_code = (
        f"{_list(list(GP_LETTERS))}[1 + (i - {trusts}) % {len(GP_LETTERS)}] || "
        f"lpad(CAST(((i - {trusts}) // {len(GP_LETTERS)}) % 100000 AS VARCHAR), 5, '0')"
    )
    code = (
        f"CASE WHEN {d('ods_invalid')} THEN {_pick_defect(['XYZ123', 'R1'])} "
        f"WHEN i < {trusts} THEN {_list([p.code for p in C.PROVIDERS])}[1 + i] ELSE {gp_code} END"
    )
    name = (
        f"CASE WHEN i < {trusts} THEN {_list([p.name for p in C.PROVIDERS])}[1 + i] "
        f"ELSE 'GP practice ' || CAST(i - {trusts} AS VARCHAR) END"
    )
    json = _obj(
        _const("resourceType", '"Organization"'),
        _str("id", f"'{ID_PREFIX['Organization']}' || CAST(i AS VARCHAR)"),
        _profile("Organization"),
        _when(f"NOT {d('ods_missing')}", _raw("identifier",
              f"'[{{\"system\":\"{ODS_SYSTEM}\",\"value\":\"' || {code} || '\"}}]'")),
        _const("active", "true"),
        _str("name", name),
        _raw("address", f"'[{{\"postalCode\":\"' || {_postcode('h_pc', 'h_inw')} || '\"}}]'"),
    )  # fmt: skip
    return f"SELECT {json} AS j FROM ({q})"


def _practitioner_sql(counts: dict[str, int], seed: int) -> str:
    q = _base("Practitioner", counts["Practitioner"], seed, ["sex"])
    json = _obj(
        _const("resourceType", '"Practitioner"'),
        _str("id", f"'{ID_PREFIX['Practitioner']}' || CAST(i AS VARCHAR)"),
        _profile("Practitioner"),
        _raw("identifier", f"'[{{\"system\":\"{SDS_USER_SYSTEM}\",\"value\":\"5' || "
             "lpad(CAST(i AS VARCHAR), 11, '0') || '\"}]'"),
        _const("active", "true"),
        _str("gender", "CASE WHEN h_sex % 2 = 0 THEN 'female' ELSE 'male' END"),
    )  # fmt: skip
    return f"SELECT {json} AS j FROM ({q})"


_BUILDERS = {
    "Organization": _organization_sql,
    "Practitioner": _practitioner_sql,
    "Patient": _patient_sql,
    "Encounter": _encounter_sql,
    "Condition": _condition_sql,
    "Procedure": _procedure_sql,
    "Observation": _observation_sql,
}


def build_fhir_sql(resource_type: str, rows: int, seed: int = 42) -> str:
    """The SELECT yielding one JSON text column ``j`` per resource of ``resource_type``.

    It reads the row numbers from a table ``synth_rows(i INTEGER)`` holding 0..n-1 in order.
    """
    return _BUILDERS[resource_type](resource_counts(rows), seed)


def generate_fhir(
    rows: int, out: str | Path, seed: int = 42, compress: bool = False
) -> FhirSynthResult:
    """Write a synthetic UK Core shaped bulk export of ``rows`` resources into folder ``out``.

    One ``<Type>.ndjson`` file per resource type (``.ndjson.gz`` with ``compress``), resources
    in index order. ``expected`` holds the exact number of resources carrying each defect,
    keyed ``Type.defect_id``.
    """
    if isinstance(rows, bool) or not isinstance(rows, int) or not MIN_RESOURCES <= rows <= MAX_ROWS:
        raise HealthdqError(
            f"rows must be a whole number from {MIN_RESOURCES} to {MAX_ROWS} for a FHIR export, "
            f"not {rows!r}"
        )
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**31:
        raise HealthdqError(f"seed must be a whole number from 0 to {2**31 - 1}, not {seed!r}")
    folder = Path(out)
    if folder.exists() and not folder.is_dir():
        raise HealthdqError("a FHIR export is a folder: give a folder name", path=str(folder))
    folder.mkdir(parents=True, exist_ok=True)
    counts = resource_counts(rows)
    files: dict[str, Path] = {}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="healthdq-synth-") as spill:
        con = duckdb.connect()
        try:
            con.execute("SET memory_limit = '1024MB'")
            con.execute("SET enable_progress_bar = false")
            # Row numbers in a table: its scan is parallel, and the order-preserving COPY
            # still writes resources in index order (range() would run on one thread).
            con.execute(
                f"CREATE TEMP TABLE synth_rows AS SELECT CAST(range AS INTEGER) AS i "
                f"FROM range({max(counts.values())})"
            )
            con.execute(f"SET temp_directory = {_lit(spill)}")
            for rtype in TYPES:
                path = folder / (f"{rtype}.ndjson" + (".gz" if compress else ""))
                opts = "FORMAT csv, HEADER false, QUOTE '', ESCAPE '', DELIMITER '\t'"
                if compress:
                    opts += ", COMPRESSION gzip"
                sql = _BUILDERS[rtype](counts, seed)
                con.execute(f"COPY ({sql}) TO {_lit(str(path))} ({opts})")
                files[rtype] = path
        except (duckdb.IOException, duckdb.PermissionException) as exc:
            raise HealthdqError(
                f"cannot write output: {str(exc).splitlines()[0]}", path=str(folder)
            ) from None
        finally:
            con.close()
    return FhirSynthResult(
        path=folder,
        rows=rows,
        seed=seed,
        counts=counts,
        expected=expected_fhir_defects(rows),
        files=files,
        seconds=time.perf_counter() - started,
    )


def _check() -> None:
    for sctid in PROCEDURES:
        assert verhoeff_valid(sctid) and sctid[-3:-1] == "00", sctid
    assert sum(r[6] for r in OBSERVATIONS) == 1000
    assert sum(w for _, _, w in ENCOUNTER_CLASSES) == 1000
    assert date.fromisoformat(_FY)  # the financial year start parses


_check()
