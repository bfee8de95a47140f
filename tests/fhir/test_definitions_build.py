"""Value set expansion in the definitions build (fhir/definitions/build.py): value sets are
enumerated as (system, code) pairs from the package's own CodeSystems and ValueSets, or not at
all. A tiny package of our own, written from the R4 ValueSet.compose rules."""

from __future__ import annotations

from typing import Any

from healthdq.fhir.definitions.build import _expand

CS = "http://example.org/CodeSystem/status"
CODESYSTEMS: dict[str, dict[str, Any]] = {
    CS: {
        "url": CS,
        "content": "complete",
        "concept": [
            {"code": "active", "concept": [{"code": "relapse"}, {"code": "recurrence"}]},
            {"code": "inactive", "concept": [{"code": "resolved"}]},
        ],
    },
    "http://example.org/CodeSystem/partial": {
        "url": "http://example.org/CodeSystem/partial",
        "content": "fragment",
        "concept": [{"code": "x"}],
    },
}


def vs(url: str, *include: dict[str, Any], exclude: list[Any] | None = None) -> dict[str, Any]:
    compose: dict[str, Any] = {"include": list(include)}
    if exclude:
        compose["exclude"] = exclude
    return {"url": url, "compose": compose}


VALUESETS = {
    v["url"]: v
    for v in [
        vs("http://example.org/vs/all", {"system": CS}),
        vs(
            "http://example.org/vs/listed",
            {"system": "http://loinc.org", "concept": [{"code": "LA6576-8"}, {"code": "LA6577-6"}]},
        ),
        vs(
            "http://example.org/vs/is-a",
            {"system": CS, "filter": [{"property": "concept", "op": "is-a", "value": "active"}]},
        ),
        vs(
            "http://example.org/vs/below",
            {
                "system": CS,
                "filter": [{"property": "concept", "op": "descendent-of", "value": "active"}],
            },
        ),
        vs(
            "http://example.org/vs/minus",
            {"system": CS},
            exclude=[{"system": CS, "concept": [{"code": "resolved"}]}],
        ),
        vs("http://example.org/vs/nested", {"valueSet": ["http://example.org/vs/is-a"]}),
        vs("http://example.org/vs/external", {"system": "http://snomed.info/sct"}),
        vs("http://example.org/vs/fragment", {"system": "http://example.org/CodeSystem/partial"}),
        vs(
            "http://example.org/vs/regex",
            {"system": CS, "filter": [{"property": "code", "op": "regex", "value": "a.*"}]},
        ),
    ]
}


def expand(name: str) -> set[tuple[str, str]] | None:
    return _expand(f"http://example.org/vs/{name}", VALUESETS, CODESYSTEMS)


def test_whole_code_system_includes_nested_concepts() -> None:
    codes = {"active", "relapse", "recurrence", "inactive", "resolved"}
    assert expand("all") == {(CS, c) for c in codes}


def test_concept_list_keeps_its_system() -> None:
    assert expand("listed") == {("http://loinc.org", "LA6576-8"), ("http://loinc.org", "LA6577-6")}


def test_is_a_and_descendent_of_filters() -> None:
    assert expand("is-a") == {(CS, "active"), (CS, "relapse"), (CS, "recurrence")}
    assert expand("below") == {(CS, "relapse"), (CS, "recurrence")}
    assert expand("nested") == expand("is-a")


def test_exclude() -> None:
    all_codes = expand("all")
    assert all_codes is not None
    assert expand("minus") == all_codes - {(CS, "resolved")}


def test_what_the_package_cannot_enumerate_is_none() -> None:
    # An outside code system, a code system not held whole, a filter other than is-a.
    assert expand("external") is None
    assert expand("fragment") is None
    assert expand("regex") is None
    assert expand("missing") is None
