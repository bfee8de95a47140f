"""Structural validation of FHIR R4: one case per kind of finding, each written from the R4
specification (resource definitions, datatypes, references, Bundle and DomainResource
invariants) and asserting the exact issue: severity, code and element path."""

from __future__ import annotations

import json
from typing import Any

import pytest

from healthdq.engine.duckdb import DuckDBEngine
from healthdq.fhir.validate import FhirIssue, parse_path, validate

OBS = {
    "resourceType": "Observation",
    "id": "o1",
    "status": "final",
    "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
    "subject": {"reference": "Patient/p1"},
    "effectiveDateTime": "2024-01-02T10:00:00Z",
    "valueQuantity": {"value": 72, "unit": "/min"},
}
PAT = {
    "resourceType": "Patient",
    "id": "p1",
    "gender": "female",
    "birthDate": "1980-02-29",
    "name": [{"family": "Smith", "given": ["Ann"]}],
}


def table(engine: DuckDBEngine, docs: list[Any], full_urls: list[str | None] | None = None) -> None:
    """The fhir_resources table (FHIR_CONTRACT.md): one row per document, line = position."""
    texts = [d if isinstance(d, str) else json.dumps(d) for d in docs]
    urls = full_urls or [None] * len(docs)
    engine.con.execute(
        """CREATE OR REPLACE TABLE fhir_resources AS
           SELECT CASE WHEN json_valid(t) AND json_type(t::JSON) = 'OBJECT'
                       THEN t::JSON->>'resourceType' END AS resource_type,
                  CASE WHEN json_valid(t) AND json_type(t::JSON) = 'OBJECT'
                       THEN t::JSON->>'id' END AS id,
                  t::JSON AS resource, u AS full_url, 'data.ndjson' AS source_file,
                  i::BIGINT AS source_line, NULL::INTEGER AS source_entry
           FROM (SELECT unnest(?) AS t, unnest(?) AS u, unnest(range(1, ?)) AS i)""",
        [texts, urls, len(texts) + 1],
    )


_ENGINE: list[DuckDBEngine] = []


@pytest.fixture(autouse=True, scope="module")
def _engine() -> Any:
    _ENGINE.append(DuckDBEngine(threads=1))
    yield
    _ENGINE.pop().close()


def run(*docs: Any, full_urls: list[str | None] | None = None) -> list[FhirIssue]:
    """Validate these documents (one engine per module: validation leaves no tables behind).

    Every case runs twice: walking every resource, and screened with a one-row sample (so
    later rows hold keys the sampled structure lacks): the issues must be the same."""
    engine = _ENGINE[-1]
    table(engine, list(docs), full_urls)
    walked = validate(engine, screen=False).issues
    screened = validate(engine, sample_rows=1).issues
    assert screened == walked
    return walked


def triples(issues: list[FhirIssue]) -> list[tuple[str, str, str | None]]:
    return [(i.severity, i.code, i.expression) for i in issues]


def only(issues: list[FhirIssue], kind: str) -> list[tuple[str, str, str | None]]:
    return triples([i for i in issues if i.kind == kind])


def with_(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    out = {**base, **changes}
    return {k: v for k, v in out.items() if v is not DROP}


DROP = object()


def test_valid_resources_have_no_issues() -> None:
    assert run(PAT, OBS) == []


def test_parse_path() -> None:
    assert parse_path("$.name.given") == ["name", "given"]
    assert parse_path('$."_birthDate".extension') == ["_birthDate", "extension"]
    assert parse_path("$") == []


def test_unknown_resource_type() -> None:
    issues = run({"resourceType": "Patinet", "id": "x"})
    assert triples(issues) == [("error", "structure", "resourceType")]
    assert issues[0].kind == "resource_type"


def test_not_an_object() -> None:
    issues = run("[1, 2]")
    assert [(i.kind, i.severity, i.code) for i in issues] == [("json", "error", "structure")]


def test_unknown_element_at_root_and_nested() -> None:
    issues = run(with_(PAT, nickname="A", name=[{"family": "S", "middle": "B"}]))
    assert only(issues, "unknown_element") == [
        ("error", "structure", "Patient.name[0].middle"),
        ("error", "structure", "Patient.nickname"),
    ]
    assert "'nickname'" in [i for i in issues if i.expression == "Patient.nickname"][0].details


def test_choice_type_not_allowed_is_unknown() -> None:
    # Patient.deceased[x] is boolean | dateTime: deceasedString is not an element.
    assert only(run(with_(PAT, deceasedString="yes")), "unknown_element") == [
        ("error", "structure", "Patient.deceasedString")
    ]


def test_two_types_of_one_choice() -> None:
    issues = run(with_(OBS, valueString="72"))
    assert only(issues, "choice") == [("error", "structure", "Observation.valueQuantity")]


def test_missing_required_element() -> None:
    # Observation.status and Observation.code are 1..1.
    issues = run(with_(OBS, status=DROP))
    assert only(issues, "cardinality") == [("error", "required", "Observation.status")]


def test_required_element_in_a_backbone_and_datatype() -> None:
    # Observation.component.code is 1..1; Extension.url is 1..1.
    doc = with_(
        OBS,
        component=[{"valueQuantity": {"value": 1}}],
        extension=[{"valueString": "x"}],
    )
    assert only(run(doc), "cardinality") == [
        ("error", "required", "Observation.component[0].code"),
        ("error", "required", "Observation.extension[0].url"),
    ]


def test_required_primitive_satisfied_by_its_extension() -> None:
    # A primitive may be present only as _status with an extension (FHIR JSON 2.6.2).
    ext = {"extension": [{"url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason",
                          "valueCode": "unknown"}]}  # fmt: skip
    assert run(PAT, with_(OBS, status=DROP, _status=ext)) == []


def test_max_one_given_an_array() -> None:
    issues = run(with_(PAT, gender=["female"]))
    assert only(issues, "cardinality") == [("error", "structure", "Patient.gender")]


def test_repeating_element_not_an_array() -> None:
    issues = run(with_(PAT, name={"family": "Smith"}))
    assert only(issues, "cardinality") == [("error", "structure", "Patient.name")]


def test_primitive_array_and_its_extension_array_differ_in_length() -> None:
    doc = with_(PAT, name=[{"given": ["A", "B"], "_given": [None]}])
    assert only(run(doc), "cardinality") == [("error", "structure", "Patient.name[0].given")]


@pytest.mark.parametrize(
    ("element", "value", "expression"),
    [
        ("birthDate", "1980-13-01", "Patient.birthDate"),  # date
        ("birthDate", "1981-02-29", "Patient.birthDate"),  # date: no such day
        ("active", "true", "Patient.active"),  # boolean must be a JSON boolean
        ("id", "p_1", "Patient.id"),  # id: [A-Za-z0-9\-\.]{1,64}
        ("implicitRules", "has space", "Patient.implicitRules"),  # uri: \S*
        ("multipleBirthInteger", 1.5, "Patient.multipleBirthInteger"),  # integer
        ("multipleBirthInteger", "2", "Patient.multipleBirthInteger"),  # integer as a string
        ("language", "en  GB", "Patient.language"),  # code: no double space
        ("photo", [{"data": "not base64!"}], "Patient.photo[0].data"),  # base64Binary
    ],
)
def test_primitive_formats(element: str, value: Any, expression: str) -> None:
    issues = run(with_(PAT, **{element: value}))
    assert only(issues, "format") == [("error", "value", expression)]


@pytest.mark.parametrize(
    ("changes", "expression"),
    [
        ({"effectiveDateTime": "2024-01-02T10:00:00"}, "Observation.effectiveDateTime"),  # no tz
        ({"issued": "2024-01-02"}, "Observation.issued"),  # instant needs a time
        ({"valueQuantity": DROP, "valueTime": "25:00:00"}, "Observation.valueTime"),
        ({"valueQuantity": {"value": "72"}}, "Observation.valueQuantity.value"),  # decimal
        (
            {"component": [{"code": {"text": "x"}, "valueInteger": -1}], "valueQuantity": DROP},
            None,
        ),  # integer may be negative: no issue
        (
            {
                "valueQuantity": DROP,
                "valueSampledData": {"origin": {"value": 0}, "period": 1, "dimensions": 0},
            },
            "Observation.valueSampledData.dimensions",
        ),  # positiveInt
    ],
)
def test_primitive_formats_in_datatypes(changes: dict[str, Any], expression: str | None) -> None:
    issues = run(with_(OBS, **changes))
    assert only(issues, "format") == ([("error", "value", expression)] if expression else [])


def test_primitive_given_an_object() -> None:
    issues = run(with_(PAT, birthDate={"value": "1980-01-01"}))
    assert only(issues, "format") == [("error", "structure", "Patient.birthDate")]


@pytest.mark.parametrize(
    ("changes", "code", "expression"),
    [
        ({"identifier": []}, "structure", "Patient.identifier"),
        ({"maritalStatus": {}}, "structure", "Patient.maritalStatus"),
        ({"name": [{"family": ""}]}, "value", "Patient.name[0].family"),
        ({"gender": None}, "structure", "Patient.gender"),
        ({"name": [{"given": ["A", None]}]}, "structure", "Patient.name[0].given[1]"),
    ],
)
def test_empty_values(changes: dict[str, Any], code: str, expression: str) -> None:
    assert only(run(with_(PAT, **changes)), "empty") == [("error", code, expression)]


def test_null_paired_with_an_extension_is_allowed() -> None:
    ext = {"extension": [{"url": "http://example.org/x", "valueString": "y"}]}
    assert run(with_(PAT, name=[{"given": ["A", None], "_given": [None, ext]}])) == []


def test_required_binding() -> None:
    # Patient.gender is bound (required) to administrative-gender.
    issues = run(with_(PAT, gender="F"))
    assert only(issues, "binding") == [("error", "code-invalid", "Patient.gender")]
    assert "administrative-gender" in issues[0].details


def test_required_binding_in_a_datatype() -> None:
    # ContactPoint.system is bound (required) to contact-point-system.
    issues = run(with_(PAT, telecom=[{"system": "mobile", "value": "x"}]))
    assert only(issues, "binding") == [("error", "code-invalid", "Patient.telecom[0].system")]


CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
COND = {
    "resourceType": "Condition",
    "id": "c1",
    "clinicalStatus": {"coding": [{"system": CONDITION_CLINICAL, "code": "active"}]},
    "code": {"text": "asthma"},
    "subject": {"reference": "Patient/p1"},
}


def test_required_binding_on_a_codeable_concept() -> None:
    # Condition.clinicalStatus: CodeableConcept, bound (required) to condition-clinical, whose
    # codes are the whole condition-clinical code system. Membership is (system, code).
    assert run(PAT, COND) == []
    wrong_code = {"coding": [{"system": CONDITION_CLINICAL, "code": "Active"}]}
    issues = run(PAT, with_(COND, clinicalStatus=wrong_code))
    assert triples(issues) == [("error", "code-invalid", "Condition.clinicalStatus")]
    assert issues[0].kind == "binding"
    assert issues[0].details == (
        "Condition.clinicalStatus: no coding (system and code) is in the required value set "
        "http://hl7.org/fhir/ValueSet/condition-clinical"
    )
    # The right code in another system is not a member either.
    other_system = {"coding": [{"system": "http://snomed.info/sct", "code": "active"}]}
    issues = run(PAT, with_(COND, clinicalStatus=other_system))
    assert triples(issues) == [("error", "code-invalid", "Condition.clinicalStatus")]


def test_required_binding_on_a_codeable_concept_needs_one_member_coding() -> None:
    # terminologies.html (required): the concept SHALL be from the value set; other codings
    # (translations) may sit beside a member coding; text alone is not enough.
    translated = {
        "coding": [
            {"system": "http://snomed.info/sct", "code": "55561003"},
            {"system": CONDITION_CLINICAL, "code": "active"},
        ]
    }
    assert run(PAT, with_(COND, clinicalStatus=translated)) == []
    text_only = {"text": "active"}
    issues = run(PAT, with_(COND, clinicalStatus=text_only))
    assert triples(issues) == [("error", "code-invalid", "Condition.clinicalStatus")]
    no_system = {"coding": [{"code": "active"}]}
    issues = run(PAT, with_(COND, clinicalStatus=no_system))
    assert triples(issues) == [("error", "code-invalid", "Condition.clinicalStatus")]


def test_required_binding_on_a_codeable_concept_in_backbone_arrays() -> None:
    # InsurancePlan.plan.specificCost.benefit.cost.applicability: CodeableConcept, required
    # binding to insuranceplan-applicability (code system .../CodeSystem/applicability).
    applicability = "http://terminology.hl7.org/CodeSystem/applicability"

    def plan(code: str) -> dict[str, Any]:
        cost = {
            "type": {"text": "visit"},
            "applicability": {"coding": [{"system": applicability, "code": code}]},
        }
        benefit = {"type": {"text": "primary care"}, "cost": [cost]}
        return {"specificCost": [{"category": {"text": "medical"}, "benefit": [benefit]}]}

    doc = {"resourceType": "InsurancePlan", "id": "i1", "plan": [plan("in-network")]}
    assert run(doc) == []
    doc["plan"] = [plan("in-network"), plan("in-netwerk")]
    issues = run(doc)
    path = "InsurancePlan.plan[1].specificCost[0].benefit[0].cost[0].applicability"
    assert triples(issues) == [("error", "code-invalid", path)]
    assert "insuranceplan-applicability" in issues[0].details


def test_required_binding_on_a_coding() -> None:
    # R4 core binds no Coding element with strength required (its Coding bindings, e.g.
    # Encounter.class, are extensible): the check runs on definitions where Encounter.class
    # is bound (required) to a value set of two v3 ActCode codes.
    from healthdq.fhir.definitions import Definitions, load

    act = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
    data = json.loads(json.dumps(load().data))
    data["types"]["Encounter"]["elements"]["class"][3] = "http://example.org/ValueSet/class"
    data["coded_valuesets"]["http://example.org/ValueSet/class"] = [[act, "AMB"], [act, "IMP"]]
    defs = Definitions(data)
    engine = _ENGINE[-1]

    def check(cls: dict[str, Any]) -> list[tuple[str, str, str | None]]:
        enc = {"resourceType": "Encounter", "id": "e1", "status": "finished", "class": cls}
        table(engine, [enc])
        walked = validate(engine, screen=False, definitions=defs).issues
        assert validate(engine, sample_rows=1, definitions=defs).issues == walked
        return only(walked, "binding")

    assert check({"system": act, "code": "AMB"}) == []
    assert check({"system": act, "code": "EMER"}) == [("error", "code-invalid", "Encounter.class")]
    assert check({"system": "http://snomed.info/sct", "code": "AMB"}) == [
        ("error", "code-invalid", "Encounter.class")
    ]
    assert check({"code": "AMB"}) == [("error", "code-invalid", "Encounter.class")]
    # With the packaged definitions (extensible binding) the same coding is not checked.
    table(
        engine,
        [
            {
                "resourceType": "Encounter",
                "id": "e1",
                "status": "finished",
                "class": {"system": act, "code": "EMER"},
            }
        ],
    )
    assert validate(engine).issues == []


def test_complex_element_given_a_primitive() -> None:
    issues = run(PAT, with_(COND, clinicalStatus="active"))
    assert triples(issues) == [("error", "structure", "Condition.clinicalStatus")]
    assert issues[0].kind == "format"
    assert issues[0].details == (
        "Condition.clinicalStatus is a CodeableConcept: a JSON string is not allowed"
    )


def test_reference_format() -> None:
    issues = run(PAT, with_(OBS, subject={"reference": "Patient/p 1"}))
    assert only(issues, "reference") == [("error", "value", "Observation.subject.reference")]


def test_reference_target_type() -> None:
    # Observation.subject: Reference(Patient | Group | Device | Location).
    issues = run(PAT, with_(OBS, subject={"reference": "Encounter/e1"}))
    assert only(issues, "reference") == [("error", "structure", "Observation.subject.reference")]


def test_reference_not_in_the_data() -> None:
    issues = run(with_(OBS, subject={"reference": "Patient/p2"}), PAT)
    assert only(issues, "reference_resolution") == [
        ("warning", "not-found", "Observation.subject.reference")
    ]


def test_urn_uuid_reference_resolves_to_a_full_url() -> None:
    uuid = "urn:uuid:0c3151bd-1cbf-4d64-b04d-cd9187a4c6e0"
    other = "urn:uuid:0c3151bd-1cbf-4d64-b04d-cd9187a4c6e1"
    ok = run(PAT, with_(OBS, subject={"reference": uuid}), full_urls=[uuid, None])
    assert ok == []
    bad = run(PAT, with_(OBS, subject={"reference": other}), full_urls=[uuid, None])
    assert only(bad, "reference_resolution") == [
        ("error", "not-found", "Observation.subject.reference")
    ]


def test_local_reference_to_a_contained_resource() -> None:
    org = {"resourceType": "Organization", "id": "org1", "name": "GP"}
    ok = with_(PAT, contained=[org], managingOrganization={"reference": "#org1"})
    assert run(ok) == []
    bad = with_(PAT, contained=[org], managingOrganization={"reference": "#org2"})
    issues = run(bad)
    assert only(issues, "reference_resolution") == [
        ("error", "not-found", "Patient.managingOrganization.reference")
    ]
    # and org1 is now referred to from nowhere: dom-3
    assert only(issues, "contained") == [("error", "invariant", "Patient.contained[0]")]


def test_contained_resource_rules() -> None:
    nested = {"resourceType": "Organization", "id": "o2"}
    org = {
        "resourceType": "Organization",
        "id": "org1",
        "meta": {"versionId": "2", "security": [{"code": "R"}]},
        "contained": [nested],
    }
    issues = run(with_(PAT, contained=[org], managingOrganization={"reference": "#org1"}))
    got = only(issues, "contained")
    assert got == [
        ("error", "invariant", "Patient.contained[0].contained"),
        ("error", "invariant", "Patient.contained[0].meta.security"),
        ("error", "invariant", "Patient.contained[0].meta.versionId"),
    ]
    keys = sorted(i.details.split(":")[0] for i in issues if i.kind == "contained")
    assert keys == ["dom-2", "dom-4", "dom-5"]


def test_contained_resource_is_validated_as_its_own_type() -> None:
    org = {"resourceType": "Organization", "id": "org1", "colour": "blue"}
    issues = run(with_(PAT, contained=[org], managingOrganization={"reference": "#org1"}))
    assert only(issues, "unknown_element") == [
        ("error", "structure", "Patient.contained[0].colour")
    ]


def test_ele1_element_with_only_an_id() -> None:
    issues = run(with_(PAT, maritalStatus={"id": "m1"}))
    assert only(issues, "invariant") == [("error", "invariant", "Patient.maritalStatus")]
    assert issues[0].details.startswith("ele-1:")


def test_ext1_extension_with_value_and_extensions() -> None:
    ext = {"url": "http://example.org/x", "valueString": "a",
           "extension": [{"url": "y", "valueString": "b"}]}  # fmt: skip
    issues = run(with_(PAT, extension=[ext]))
    assert only(issues, "invariant") == [("error", "invariant", "Patient.extension[0]")]
    assert issues[0].details.startswith("ext-1:")


def test_duplicate_ids() -> None:
    issues = run(PAT, OBS, PAT)
    assert only(issues, "duplicate_id") == [("error", "duplicate", "Patient.id")]
    dup = [i for i in issues if i.kind == "duplicate_id"][0]
    assert dup.source_line == 3
    assert "data.ndjson:1" in dup.details


def bundle(btype: str, entries: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"resourceType": "Bundle", "id": "b1", "type": btype, "entry": entries, **extra}


def test_transaction_entry_needs_a_request() -> None:
    entries = [
        {"fullUrl": "urn:uuid:0c3151bd-1cbf-4d64-b04d-cd9187a4c6e0", "resource": PAT,
         "request": {"method": "POST", "url": "Patient"}},
        {"fullUrl": "urn:uuid:0c3151bd-1cbf-4d64-b04d-cd9187a4c6e1", "resource": OBS},
    ]  # fmt: skip
    issues = run(bundle("transaction", entries))
    assert only(issues, "bundle") == [("error", "invariant", "Bundle.entry[1].request")]
    assert issues[0].details.startswith("bdl-3:")


def test_bundle_full_urls() -> None:
    url = "http://example.org/fhir/Patient/p1"
    entries = [
        {"fullUrl": url, "resource": PAT},
        {"fullUrl": url, "resource": PAT},
        {"resource": OBS},
        {"fullUrl": url + "/_history/2", "resource": PAT},
    ]
    got = only(run(bundle("collection", entries)), "bundle")
    assert got == [
        ("error", "invariant", "Bundle.entry[0].fullUrl"),  # bdl-7
        ("error", "invariant", "Bundle.entry[1].fullUrl"),  # bdl-7
        ("warning", "required", "Bundle.entry[2].fullUrl"),  # no fullUrl
        ("error", "invariant", "Bundle.entry[3].fullUrl"),  # bdl-8
    ]


def test_total_only_in_search_or_history() -> None:
    got = only(run(bundle("collection", [], total=3)), "bundle")
    # an empty entry array is also reported (empty), the total by bdl-1
    assert got == [("error", "invariant", "Bundle.total")]


def test_document_bundle_rules() -> None:
    got = only(run(bundle("document", [{"fullUrl": "urn:uuid:0c3151bd-1cbf-4d64-b04d-cd9187a4c6e0",
                                        "resource": PAT}])), "bundle")  # fmt: skip
    assert got == [
        ("error", "invariant", "Bundle.entry[0]"),  # bdl-11: Composition first
        ("error", "invariant", "Bundle.identifier"),  # bdl-9
        ("error", "invariant", "Bundle.timestamp"),  # bdl-10
    ]


def test_issue_carries_file_line_and_outcome() -> None:
    issues = run(PAT, with_(PAT, id="p2", gender="F"))
    (issue,) = issues
    assert (issue.source_file, issue.source_line, issue.resource_type) == (
        "data.ndjson",
        2,
        "Patient",
    )
    oo = issue.to_outcome_issue()
    assert oo["severity"] == "error" and oo["code"] == "code-invalid"
    assert oo["expression"] == ["Patient.gender"]
    assert oo["diagnostics"] == "data.ndjson:2"


def test_other_engines_are_refused() -> None:
    from healthdq.errors import HealthdqError

    class Other:
        name = "spark"

    with pytest.raises(HealthdqError, match="DuckDB"):
        validate(Other())


def test_screen_walks_only_flagged_resources() -> None:
    engine = _ENGINE[-1]
    good = [with_(PAT, id=f"p{i}") for i in range(50)]
    docs: list[Any] = [*good, with_(PAT, id="bad", gender="F"), with_(PAT, id="x", foo=1)]
    table(engine, docs)
    screened = validate(engine, sample_rows=10)
    assert screened.walked == 2
    assert only(screened.issues, "binding") == [("error", "code-invalid", "Patient.gender")]
    assert only(screened.issues, "unknown_element") == [("error", "structure", "Patient.foo")]
    assert screened.issues == validate(engine, screen=False).issues


def test_conditional_reference() -> None:
    # Type?search (http.html): valid in form, checked for its target type, never resolved.
    ok = run(PAT, with_(OBS, subject={"reference": "Patient?identifier=http://x.org|1"}))
    assert triples(ok) == [("warning", "not-found", "Observation.subject.reference")]
    assert ok[0].kind == "reference_resolution"
    bad = run(PAT, with_(OBS, subject={"reference": "Encounter?identifier=http://x.org|1"}))
    assert only(bad, "reference") == [("error", "structure", "Observation.subject.reference")]
