"""The FHIR bulk export's shape and its defect spec table: counts per type, defects, exact totals.

The same slot scheme as the tabular extracts (``spec.py``): within each resource type, resource
``i`` sits in slot ``(i % MODULUS) * STRIDE % MODULUS`` and each defect owns a slot range, so a
resource carries at most one defect and every count is exact and known in closed form.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from healthdq.synth.spec import MODULUS, STRIDE

# Resource types in the export and their share of the resources (out of 1000). Observation
# takes the remainder so the total is exactly the number asked for.
TYPE_SHARES: dict[str, int] = {
    "Organization": 20,
    "Practitioner": 10,
    "Patient": 60,
    "Encounter": 180,
    "Condition": 120,
    "Procedure": 120,
    "Observation": 500,
}
TYPES = tuple(TYPE_SHARES)
ID_PREFIX = {
    "Organization": "o",
    "Practitioner": "pr",
    "Patient": "p",
    "Encounter": "e",
    "Condition": "c",
    "Procedure": "x",
    "Observation": "ob",
}
MIN_RESOURCES = 100


@dataclass(frozen=True)
class FhirDefect:
    """One seeded defect class of one resource type, at an exact rate (a multiple of 0.001)."""

    id: str
    resource_type: str
    description: str
    rate: float
    rule: str  # the fhir-uk-core pack rule that should catch it

    @property
    def slots(self) -> int:
        n = round(self.rate * MODULUS)
        if abs(n - self.rate * MODULUS) > 1e-9 or n <= 0:
            raise ValueError(f"{self.id}: rate {self.rate} is not a positive multiple of 0.001")
        return n


def _d(rtype: str, id_: str, rate: float, rule: str, description: str) -> FhirDefect:
    return FhirDefect(id_, rtype, description, rate, rule)


FHIR_DEFECTS: dict[str, list[FhirDefect]] = {
    "Patient": [
        _d("Patient", "nhs_number_bad_check", 0.005, "patient.nhs_number.valid",
           "NHS number identifier whose 10th digit is not the Modulus 11 check digit"),
        _d("Patient", "nhs_number_missing", 0.005, "patient.nhs_number.present",
           "no identifier with system https://fhir.nhs.uk/Id/nhs-number"),
        _d("Patient", "nhs_verification_missing", 0.004,
           "patient.nhs_number.verification_present",
           "NHS number identifier without the UK Core NHS number verification status extension"),
        _d("Patient", "nhs_verification_invalid", 0.003,
           "patient.nhs_number.verification_valid",
           "verification status code not in UKCore-NHSNumberVerificationStatus ('9' or '00')"),
        _d("Patient", "birth_date_missing", 0.006, "patient.birth_date.present",
           "no birthDate"),
        _d("Patient", "birth_date_future", 0.003, "patient.birth_date.not_future",
           "birthDate in the future (2095-2099)"),
        _d("Patient", "death_before_birth", 0.003, "patient.deceased.after_birth",
           "deceasedDateTime 1 to 3,650 days before birthDate"),
        _d("Patient", "gender_missing", 0.004, "patient.gender.present", "no gender"),
        _d("Patient", "ethnic_category_invalid", 0.003, "patient.ethnic_category.valid",
           "UK Core ethnic category extension with a code not in the value set ('Q', 'X1', '11')"),
        _d("Patient", "postcode_invalid", 0.004, "patient.postcode.valid",
           "home address postalCode not a UK postcode ('LS1 4A', 'QQ1 1AA', '1LS 4AB')"),
    ],
    "Encounter": [
        _d("Encounter", "end_before_start", 0.005, "encounter.period.end_after_start",
           "period.end 1 to 600 minutes before period.start"),
        _d("Encounter", "class_missing", 0.004, "encounter.class.present", "no class"),
        _d("Encounter", "subject_missing", 0.003, "encounter.subject.present", "no subject"),
    ],
    "Condition": [
        _d("Condition", "sctid_invalid", 0.005, "condition.code.sctid_valid",
           "SNOMED CT code with a wrong Verhoeff check digit"),
        _d("Condition", "code_missing", 0.004, "condition.code.present", "no code"),
    ],
    "Procedure": [
        _d("Procedure", "sctid_invalid", 0.004, "procedure.code.sctid_valid",
           "SNOMED CT code with a wrong Verhoeff check digit"),
    ],
    "Observation": [
        _d("Observation", "value_out_of_range", 0.005, "observation.*.in_range",
           "valueQuantity above the cited plausible range for its LOINC code and unit"),
        _d("Observation", "code_missing", 0.003, "observation.code.present", "no code"),
        _d("Observation", "value_missing", 0.004, "observation.value.present",
           "no value[x] (and no dataAbsentReason)"),
        _d("Observation", "effective_missing", 0.003, "observation.effective.present",
           "no effective[x]"),
    ],
    "Organization": [
        _d("Organization", "ods_missing", 0.020, "organization.ods_code.present",
           "no identifier with system https://fhir.nhs.uk/Id/ods-organization-code"),
        _d("Organization", "ods_invalid", 0.010, "organization.ods_code.valid",
           "ODS identifier value not an ODS code shape ('XYZ123', 'R1')"),
    ],
    "Practitioner": [],
}  # fmt: skip


def resource_counts(rows: int) -> dict[str, int]:
    """Resources of each type in an export of ``rows`` resources (they add up to ``rows``)."""
    if rows < MIN_RESOURCES:
        raise ValueError(f"a FHIR export needs at least {MIN_RESOURCES} resources")
    out = {t: rows * share // 1000 for t, share in TYPE_SHARES.items() if t != "Observation"}
    out["Observation"] = rows - sum(out.values())
    return out


@cache
def slot_ranges(resource_type: str) -> dict[str, tuple[int, int]]:
    """Each defect's half-open slot range [a, b) within its type, in spec order from slot 0."""
    out: dict[str, tuple[int, int]] = {}
    a = 0
    for d in FHIR_DEFECTS[resource_type]:
        out[d.id] = (a, a + d.slots)
        a += d.slots
    if a > MODULUS:
        raise ValueError(f"{resource_type}: defect rates add up to more than 100%")
    return out


def _count(resource_type: str, defect_id: str, n: int) -> int:
    a, b = slot_ranges(resource_type)[defect_id]
    res = [r for r in range(MODULUS) if a <= r * STRIDE % MODULUS < b]
    full, rest = divmod(n, MODULUS)
    return full * len(res) + sum(1 for r in res if r < rest)


def expected_fhir_defects(rows: int) -> dict[str, int]:
    """Exact number of resources carrying each defect, keyed ``Type.defect_id``."""
    counts = resource_counts(rows)
    return {f"{t}.{d.id}": _count(t, d.id, counts[t]) for t in TYPES for d in FHIR_DEFECTS[t]}


def expected_fhir_by_rule(rows: int) -> dict[str, int]:
    """Expected failing rows per fhir-uk-core pack rule (defects sharing a rule added up)."""
    out: dict[str, int] = {}
    counts = expected_fhir_defects(rows)
    for t in TYPES:
        for d in FHIR_DEFECTS[t]:
            out[d.rule] = out.get(d.rule, 0) + counts[f"{t}.{d.id}"]
    return out
