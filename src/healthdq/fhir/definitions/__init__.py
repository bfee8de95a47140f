"""FHIR R4 core definitions as data (r4.json.gz, compiled by build.py from the official
hl7.fhir.r4.core 4.0.1 package, CC0; NOTICE beside this file), and the path resolver that
structural validation uses to find the definition of each element present in the data."""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

DATA = Path(__file__).with_name("r4.json.gz")
# Element types that hold a whole resource (contained, Bundle.entry.resource...).
RESOURCE_TYPES = ("Resource", "DomainResource")


@dataclass(frozen=True)
class Resolved:
    """What the definitions say about one element path present in the data.

    status: ok | unknown (this key is not an element there) | below (inside an unknown key, a
    primitive or a nested resource: reported through that node) | resource (a nested resource:
    validated on its own).
    """

    status: str
    element: str | None = None  # definition path, e.g. Patient.contact.name
    primitive: str | None = None  # primitive type of the value (date, code...)
    complex_type: str | None = None  # type whose elements the object holds
    context: str | None = None  # (type, prefix) of its children, as "Type|prefix"
    many: bool = False  # max is not 1: the JSON is an array
    max: int | None = None  # a numeric max other than 1 and *
    min: int = 0
    valueset: str | None = None  # required binding
    choice: str | None = None  # definition path of the choice element (value[x])
    extension: bool = False  # a primitive's _element object
    reference: bool = False  # Reference.reference
    targets: tuple[str, ...] = ()  # allowed reference target types ('Resource': any)


class Definitions:
    """The compiled R4 definitions, with the lookups the validator needs."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.version: str = data["version"]
        self.types: dict[str, Any] = data["types"]
        self.primitives: dict[str, Any] = data["primitives"]
        self.valuesets: dict[str, list[str]] = data["valuesets"]
        # Value sets bound (required) to Coding/CodeableConcept elements: [system, code] pairs.
        self.coded_valuesets: dict[str, list[list[str]]] = data.get("coded_valuesets", {})
        self.constraints: dict[str, Any] = data["constraints"]
        self.resources = sorted(
            n for n, t in self.types.items() if t["kind"] == "resource" and not t["abstract"]
        )
        self._resource_set = set(self.resources)
        # Per type: element paths that have children of their own (backbone elements).
        self._inline: dict[str, set[str]] = {}
        for name, t in self.types.items():
            parents: set[str] = set()
            for rel in t["elements"]:
                if "." in rel:
                    parents.add(rel.rsplit(".", 1)[0])
            self._inline[name] = parents

    def is_resource(self, name: str) -> bool:
        return name in self._resource_set

    def element(self, type_name: str, rel: str) -> list[Any] | None:
        t = self.types.get(type_name)
        return None if t is None else t["elements"].get(rel)

    def _child(
        self, tname: str, prefix: str, name: str
    ) -> tuple[str, list[Any], str | None] | None:
        """(rel path, element, choice type) of child `name` of (tname, prefix)."""
        elements = self.types[tname]["elements"]
        rel = f"{prefix}.{name}" if prefix else name
        e = elements.get(rel)
        if e is not None and not rel.endswith("[x]"):
            return rel, e, None
        for other, oe in elements.items():
            if not other.endswith("[x]"):
                continue
            parent, _, last = other.rpartition(".")
            if parent != prefix:
                continue
            base = last[:-3]
            if name.startswith(base) and len(name) > len(base):
                suffix = name[len(base) :]
                for t in oe[2]:
                    if t[:1].upper() + t[1:] == suffix:
                        return other, oe, t
        return None

    def children(self, context: str) -> list[tuple[str, list[Any]]]:
        """Direct child elements (name, element) of a "Type|prefix" context."""
        tname, _, prefix = context.partition("|")
        out = []
        for rel, e in self.types[tname]["elements"].items():
            if not rel:
                continue
            parent, _, last = rel.rpartition(".")
            if parent == prefix:
                out.append((last, e))
        return out

    def required_names(self, context: str) -> list[tuple[str, list[str]]]:
        """Required children of a context: (element name, JSON keys that satisfy it)."""
        out = []
        for last, e in self.children(context):
            if e[0] < 1:
                continue
            if last.endswith("[x]"):
                base = last[:-3]
                keys = [base + t[:1].upper() + t[1:] for t in e[2]]
                keys += ["_" + k for k, t in zip(keys, e[2], strict=True) if t in self.primitives]
            else:
                keys = [last] + (["_" + last] if any(t in self.primitives for t in e[2]) else [])
            out.append((last, keys))
        return out

    def resolve(self, resource_type: str, keys: list[str]) -> Resolved:
        """The definition of the element at `keys` (JSON keys from the resource root)."""
        if not self.is_resource(resource_type):
            return Resolved("below")
        tname, prefix = resource_type, ""
        if not keys:
            root = self.types[tname]["elements"][""]
            return Resolved(
                "ok", element=tname, complex_type=tname, context=f"{tname}|", min=root[0]
            )
        state = "object"
        for i, key in enumerate(keys):
            last = i == len(keys) - 1
            if state != "object":
                return Resolved("below")
            ext = key.startswith("_")
            name = key[1:] if ext else key
            found = self._child(tname, prefix, name)
            if found is None:
                return Resolved("unknown", element=f"{tname}.{prefix}" if prefix else tname)
            rel, e, choice_type = found
            types: list[str] = [choice_type] if choice_type else list(e[2])
            path = f"{tname}.{rel}"
            common = {
                "element": path,
                "many": e[1] != "1",
                "max": int(e[1]) if e[1] not in ("1", "*") else None,
                "min": int(e[0]),
                "choice": path if choice_type else None,
            }
            if ext:
                if not types or not all(t in self.primitives for t in types):
                    return Resolved("unknown", element=f"{tname}.{prefix}" if prefix else tname)
                tname, prefix = "Element", ""
                if last:
                    return Resolved(
                        "ok", complex_type="Element", context="Element|", extension=True, **common
                    )
                continue
            if e[5]:  # contentReference: the children of another element of this type
                tname, prefix, state = tname, e[5], "object"
                if last:
                    return Resolved("ok", complex_type=tname, context=f"{tname}|{prefix}", **common)
                continue
            if rel in self._inline[tname]:
                prefix = rel
                if last:
                    return Resolved("ok", complex_type=tname, context=f"{tname}|{rel}", **common)
                continue
            if len(types) != 1:
                return Resolved("unknown", element=path)
            t = types[0]
            if t in self.primitives:
                if last:
                    reference = tname == "Reference" and rel == "reference"
                    return Resolved(
                        "ok",
                        primitive=t,
                        valueset=e[3],
                        reference=reference,
                        **common,
                    )
                state = "primitive"
                continue
            if t in RESOURCE_TYPES or self.is_resource(t):
                if last:
                    return Resolved("resource", **common)
                state = "resource"
                continue
            if t not in self.types:
                return Resolved("unknown", element=path)
            if last:
                return Resolved(
                    "ok",
                    complex_type=t,
                    context=f"{t}|",
                    valueset=e[3],
                    targets=tuple(e[4] or ()),
                    **common,
                )
            if t == "Reference":
                # The targets of a Reference element apply to its `reference` child.
                targets = tuple(e[4] or ())
                if len(keys) == i + 2 and keys[i + 1] == "reference":
                    return Resolved(
                        "ok",
                        element="Reference.reference",
                        primitive="string",
                        reference=True,
                        targets=targets,
                    )
            tname, prefix = t, ""
        return Resolved("below")


@cache
def load() -> Definitions:
    """The packaged R4 definitions (compiled by `python -m healthdq.fhir.definitions.build`)."""
    return Definitions(json.loads(gzip.decompress(DATA.read_bytes())))
