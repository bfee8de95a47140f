"""Compile the FHIR R4 core package into the data file structural validation reads.

    python -m healthdq.fhir.definitions.build [PACKAGE_DIR] [--schema fhir.schema.json] [--out F]

PACKAGE_DIR is the unpacked `hl7.fhir.r4.core` 4.0.1 package (StructureDefinition-*, ValueSet-*,
CodeSystem-* JSON; default ../shared/conformance/fhir-r4/package). Nothing here is typed by
hand: every element, cardinality, type, required binding, code and invariant comes from the
package; the JSON type of each primitive (string, number, boolean) comes from fhir.schema.json.

What the file holds (`r4.json.gz`, gzipped JSON):
- `types`: per resource and data type (specialisations only, not profiles), its kind, whether
  it is abstract, and its elements by path relative to the type ("" is the type itself,
  "contact.name" an element of a backbone element), each as
  [min, max, type codes, required value set or null, reference target types or null,
   contentReference path or null];
- `primitives`: per primitive type, its JSON type and its regex from the definitions;
- `valuesets`: the codes of every value set a required binding names, where the package's own
  code systems enumerate it (a value set drawing on an outside system, e.g. BCP-47 languages or
  MIME types, is left out: its binding is not checked);
- `coded_valuesets`: for the value sets a required binding on a Coding or CodeableConcept
  element names, their (system, code) pairs, enumerated the same way (a Coding is a member
  only with both the system and the code);
- `constraints`: the invariants by key (severity, human text, FHIRPath), and per type the
  element paths each applies to.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
OUT = HERE / "r4.json.gz"
DEFAULT_PACKAGE = Path("../shared/conformance/fhir-r4/package")
FHIR_TYPE_EXT = "http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type"
REGEX_EXT = "http://hl7.org/fhir/StructureDefinition/regex"
SD_PREFIX = "http://hl7.org/fhir/StructureDefinition/"


def _load(folder: Path, prefix: str) -> list[dict[str, Any]]:
    return [
        json.loads(p.read_text(encoding="utf-8")) for p in sorted(folder.glob(prefix + "-*.json"))
    ]


def _ext(items: list[dict[str, Any]] | None, url: str) -> Any:
    for e in items or []:
        if e.get("url") == url:
            return e.get("valueUrl", e.get("valueString", e.get("valueCanonical")))
    return None


def _type_code(t: dict[str, Any]) -> str:
    """A type's code, with the FHIRPath system types (System.String...) named by their FHIR
    type as the definitions' structuredefinition-fhir-type extension gives it."""
    return str(_ext(t.get("extension"), FHIR_TYPE_EXT) or t["code"])


def _schema_ref(schema: dict[str, Any], type_name: str, element: str) -> str | None:
    """The primitive fhir.schema.json gives an element of a type (e.g. Patient.id -> id)."""
    props = schema["definitions"].get(type_name, {}).get("properties", {})
    ref = props.get(element, {}).get("$ref", "")
    return ref.rsplit("/", 1)[-1] if ref.startswith("#/definitions/") else None


def _elements(
    sd: dict[str, Any], schema: dict[str, Any], required_vs: set[str], coded_vs: set[str]
) -> dict[str, list[Any]]:
    name = sd["type"]
    out: dict[str, list[Any]] = {}
    for e in sd["snapshot"]["element"]:
        path: str = e["path"]
        rel = "" if path == name else path[len(name) + 1 :]
        if sd["kind"] == "primitive-type" and rel == "value":
            continue
        types = [_type_code(t) for t in e.get("type", [])]
        system = any(t["code"].startswith("http://hl7.org/fhirpath/") for t in e.get("type", []))
        if rel and "." not in rel and system:
            types = [_schema_ref(schema, name, rel) or t for t in types]
        binding = e.get("binding") or {}
        vs = None
        if binding.get("strength") == "required" and binding.get("valueSet"):
            vs = binding["valueSet"].split("|")[0]
            required_vs.add(vs)
            if {"Coding", "CodeableConcept"} & set(types):
                coded_vs.add(vs)
        targets = sorted(
            {
                p[len(SD_PREFIX) :]
                for t in e.get("type", [])
                if t.get("code") == "Reference"
                for p in t.get("targetProfile", [])
                if p.startswith(SD_PREFIX)
            }
        )
        ref = e.get("contentReference")
        out[rel] = [
            e.get("min", 0),
            e.get("max", "*"),
            types,
            vs,
            targets or None,
            ref[1 + len(name) + 1 :] if ref else None,
        ]
    return out


def _codes_of(cs: dict[str, Any]) -> list[str]:
    found: list[str] = []

    def walk(concepts: list[dict[str, Any]]) -> None:
        for c in concepts:
            found.append(c["code"])
            walk(c.get("concept", []))

    walk(cs.get("concept", []))
    return found


def _descendants(cs: dict[str, Any], code: str, include_self: bool) -> list[str] | None:
    def find(concepts: list[dict[str, Any]]) -> dict[str, Any] | None:
        for c in concepts:
            if c["code"] == code:
                return c
            hit = find(c.get("concept", []))
            if hit is not None:
                return hit
        return None

    node = find(cs.get("concept", []))
    if node is None:
        return None
    below = _codes_of({"concept": node.get("concept", [])})
    return ([code] if include_self else []) + below


Pair = tuple[str, str]  # (system, code)


def _expand(
    url: str,
    valuesets: dict[str, dict[str, Any]],
    codesystems: dict[str, dict[str, Any]],
    seen: frozenset[str] = frozenset(),
) -> set[Pair] | None:
    """The (system, code) pairs of a value set, or None when the package cannot enumerate
    them (an include of a code system the package does not hold whole, a filter other than
    is-a / descendent-of on the concept hierarchy, a value set it does not hold)."""
    vs = valuesets.get(url)
    if vs is None or url in seen:
        return None
    compose = vs.get("compose", {})
    codes: set[Pair] = set()
    for part, sign in (("include", 1), ("exclude", -1)):
        for inc in compose.get(part, []):
            got = _include(inc, valuesets, codesystems, seen | {url})
            if got is None:
                if sign > 0:
                    return None
                continue
            codes = codes | got if sign > 0 else codes - got
    return codes


def _include(
    inc: dict[str, Any],
    valuesets: dict[str, dict[str, Any]],
    codesystems: dict[str, dict[str, Any]],
    seen: frozenset[str],
) -> set[Pair] | None:
    got: set[Pair] | None = None
    for other in inc.get("valueSet", []):
        sub = _expand(other.split("|")[0], valuesets, codesystems, seen)
        if sub is None:
            return None
        got = sub if got is None else got & sub
    system = inc.get("system")
    if system is None:
        return got
    own: set[Pair]
    if "concept" in inc:
        own = {(system, c["code"]) for c in inc["concept"]}
    else:
        cs = codesystems.get(system)
        if cs is None or cs.get("content") != "complete":
            return None
        if inc.get("filter"):
            own = set()
            for f in inc["filter"]:
                if f.get("property") != "concept" or f.get("op") not in ("is-a", "descendent-of"):
                    return None
                below = _descendants(cs, f["value"], f["op"] == "is-a")
                if below is None:
                    return None
                own |= {(system, c) for c in below}
        else:
            own = {(system, c) for c in _codes_of(cs)}
    return own if got is None else got & own


def build(package: Path, schema_path: Path) -> dict[str, Any]:
    schema = json.loads(schema_path.read_text(encoding="utf-8"))
    meta = json.loads((package / "package.json").read_text(encoding="utf-8"))
    sds = [
        sd
        for sd in _load(package, "StructureDefinition")
        if sd.get("derivation") == "specialization"
        and sd.get("kind") in ("resource", "complex-type", "primitive-type")
    ]
    # Element and BackboneElement have no derivation (they are the roots): keep them too.
    sds += [
        sd
        for sd in _load(package, "StructureDefinition")
        if sd.get("derivation") is None and sd.get("kind") in ("resource", "complex-type")
    ]
    required_vs: set[str] = set()
    coded_vs: set[str] = set()
    types: dict[str, Any] = {}
    primitives: dict[str, Any] = {}
    constraints: dict[str, Any] = {}
    for sd in sds:
        name = sd["type"]
        elements = _elements(sd, schema, required_vs, coded_vs)
        applies: dict[str, list[str]] = {}
        for e in sd["snapshot"]["element"]:
            rel = "" if e["path"] == name else e["path"][len(name) + 1 :]
            for c in e.get("constraint", []):
                if "expression" not in c:
                    continue
                constraints.setdefault(
                    c["key"],
                    {"severity": c["severity"], "human": c["human"], "expression": c["expression"]},
                )
                applies.setdefault(c["key"], []).append(rel)
        types[name] = {
            "kind": sd["kind"],
            "abstract": bool(sd.get("abstract")),
            "base": (sd.get("baseDefinition") or "")[len(SD_PREFIX) :] or None,
            "elements": elements,
            "constraints": applies,
        }
        if sd["kind"] == "primitive-type":
            value = next(e for e in sd["snapshot"]["element"] if e["path"] == name + ".value")
            regex = None
            for t in value.get("type", []):
                regex = regex or _ext(t.get("extension"), REGEX_EXT)
            json_type = schema["definitions"].get(name, {}).get("type", "string")
            primitives[name] = {"json": json_type, "regex": regex}
    valuesets = {vs["url"]: vs for vs in _load(package, "ValueSet")}
    codesystems = {cs["url"]: cs for cs in _load(package, "CodeSystem")}
    expanded: dict[str, list[str]] = {}
    coded: dict[str, list[list[str]]] = {}
    for url in sorted(required_vs):
        pairs = _expand(url, valuesets, codesystems)
        if pairs:
            expanded[url] = sorted({code for _, code in pairs})
            if url in coded_vs:
                coded[url] = [list(p) for p in sorted(pairs)]
    return {
        "package": meta["name"],
        "version": meta["version"],
        "license": meta.get("license"),
        "types": dict(sorted(types.items())),
        "primitives": dict(sorted(primitives.items())),
        "valuesets": expanded,
        "coded_valuesets": coded,
        "unenumerated_valuesets": sorted(required_vs - set(expanded)),
        "constraints": dict(sorted(constraints.items())),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("package", nargs="?", type=Path, default=DEFAULT_PACKAGE)
    parser.add_argument("--schema", type=Path, default=None, help="fhir.schema.json")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    package: Path = args.package
    schema = args.schema or package.parent / "fhir.schema.json"
    if not (package / "package.json").is_file() or not schema.is_file():
        print(
            f"error: {package} is not an unpacked FHIR package with {schema} beside it",
            file=sys.stderr,
        )
        return 2
    data = build(package, schema)
    text = json.dumps(data, separators=(",", ":"), sort_keys=False).encode("utf-8")
    # mtime=0: the same package always gives the same bytes.
    args.out.write_bytes(gzip.compress(text, compresslevel=9, mtime=0))
    print(
        f"{args.out}: {len(data['types'])} types, {len(data['valuesets'])} value sets "
        f"({len(data['unenumerated_valuesets'])} not enumerable; "
        f"{len(data['coded_valuesets'])} bound to Coding/CodeableConcept), "
        f"{len(data['constraints'])} invariants, {args.out.stat().st_size} bytes"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
