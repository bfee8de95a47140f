"""Pseudonymisation of FHIR R4 by element path, compiled to SQL run by DuckDB (docs/governance.md).

The config's `fhir:` section maps element paths (`Patient.identifier`, `Encounter.period`,
`Observation.effective`, `*.text`) to methods. Each path is resolved against the R4 definitions
(fhir/definitions) per resource type present, so a method knows the type of what it changes
(Identifier, HumanName, Period, date, dateTime...). The paths of a resource type become one
SQL expression over the resource's JSON: JSON merge patches (RFC 7386) that replace or remove
elements, with list lambdas over repeating elements. Nothing is parsed in Python per resource.

References: with `ids: token` every resource id becomes the token of the id, and every
`Reference.reference` in the text of a resource (`Patient/ID`, `http://base/Patient/ID`,
`urn:uuid:...` naming a Bundle entry's fullUrl) is rewritten to `Type/TOKEN`, so references
still resolve in the NDJSON written. `#local` references and contained resources are left as
they are.

The patient of a resource (for date_shift and the opt-out): a Patient's NHS number (identifier
system https://fhir.nhs.uk/Id/nhs-number, normalised as in the tabular path) or, without one,
the text `Patient/ID`; any other resource's patient is that of the Patient its `subject` or
`patient` reference names. The same NHS number therefore gets the same token and the same date
shift as in a tabular extract pseudonymised with the same key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from healthdq.errors import ContractError
from healthdq.governance.pseudonymise import (
    IPAD,
    OPAD,
    PATIENT_INNER,
    POSTCODE_PARTS,
    SECRET,
    Method,
    PseudonymiseConfig,
    hmac_sql,
    inner_sql,
    shift_days,
)
from healthdq.sources.base import quote_ident, quote_literal

NHS_NUMBER_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
# A tokenised NHS number is no NHS number: its identifier.system says what it is instead (a
# UK Core reader would otherwise check a token as an NHS number and find it invalid).
PSEUDONYM_SYSTEM = "urn:healthdq:pseudonym:nhs-number"
# Methods that make sense on FHIR elements.
FHIR_METHODS = (
    "token",
    "drop",
    "keep",
    "year",
    "month",
    "date_shift",
    "postcode_district",
    "postcode_sector",
    "redact_text",
)
DATE_METHODS = ("year", "month", "date_shift")
DATE_TYPES = ("date", "dateTime", "instant")
# Types of a choice's alternatives a date method leaves as they are: they hold no date.
DATELESS = ("boolean", "integer", "decimal", "Age", "Duration", "Quantity", "Range")
TEXT_TYPES = ("string", "id", "code", "uri", "markdown")
# Address elements the postcode methods remove with the lines (the rest is kept).
ADDRESS_DROPPED = ("text", "line")
# Patient-compartment links used to find a resource's patient, in order.
PATIENT_LINKS = ("subject", "patient")
# A Reference.reference in a resource's JSON text (the value as written, escapes included).
REF_RE = r'"reference"\s*:\s*"((?:[^"\\]|\\.)*)"'
# [base/]Type/id[/_history/version] (FHIR's literal reference, id as R4's id type).
LITERAL_RE = r"^(.*/)?([A-Z][A-Za-z]+)/([A-Za-z0-9\-\.]{1,64})(/_history/[A-Za-z0-9\-\.]{1,64})?$"
DEFAULT_CONFIG = Path(__file__).with_name("fhir-default.yaml")
P = "__pf_"  # prefix of the temporary relations


@cache
def _definitions() -> Any:
    from healthdq.fhir.definitions import load

    return load()


# -- paths -------------------------------------------------------------------------------------
@dataclass
class Leaf:
    """One element a method applies to: JSON keys from the root, whether each key repeats,
    and the element's type (a primitive or complex type name)."""

    keys: list[str]
    many: list[bool]
    kind: str


@dataclass
class Node:
    """The trie of a resource type's paths: key -> (repeats, child node); `leaf` at an end."""

    children: dict[str, tuple[bool, Node]] = field(default_factory=dict)
    leaf: tuple[Method, str] | None = None  # (method, element type)


def _choice_keys(context: str, name: str) -> list[tuple[str, str]] | None:
    """(JSON key, type) for each type of choice element `name[x]` under `context`."""
    children = dict(_definitions().children(context))
    base = name[:-3] if name.endswith("[x]") else name
    element = children.get(base + "[x]")
    if element is None:
        return None
    return [(base + t[:1].upper() + t[1:], t) for t in element[2]]


def resolve_path(resource_type: str, path: str) -> list[Leaf] | str:
    """The elements `path` (segments after the type) names in `resource_type`, or why none."""
    defs = _definitions()
    if not defs.is_resource(resource_type):
        return f"'{resource_type}' is not a FHIR R4 resource type"
    partial: list[tuple[list[str], list[bool], str | None, str]] = [
        ([], [], f"{resource_type}|", resource_type)
    ]
    for seg in path.split("."):
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9]*(\[x\])?", seg):
            return f"'{seg}' is not an element name"
        nxt: list[tuple[list[str], list[bool], str | None, str]] = []
        for keys, many, context, _ in partial:
            if context is None:
                return f"'{seg}': the element before it has no children (a primitive)"
            candidates: list[str]
            if not seg.endswith("[x]") and seg in dict(defs.children(context)):
                candidates = [seg]
            else:
                choice = _choice_keys(context, seg)
                if choice is None:
                    resolved = defs.resolve(resource_type, [*keys, seg])
                    if resolved.status != "ok":
                        return f"no element '{seg}' in {resolved.element or resource_type}"
                    candidates = [seg]  # a choice type's own key, e.g. effectiveDateTime
                else:
                    candidates = [k for k, _ in choice]
            for key in candidates:
                r = defs.resolve(resource_type, [*keys, key])
                if r.status != "ok":
                    continue  # a choice type that is a resource (Bundle.entry.resource)
                kind = r.primitive or r.complex_type or "?"
                # an inline (backbone) element: its type name is the resource's own
                if r.complex_type == resource_type and r.context != f"{resource_type}|":
                    kind = "BackboneElement"
                nxt.append(([*keys, key], [*many, r.many], r.context, kind))
        if not nxt:
            return f"no element '{seg}'"
        partial = nxt
    return [Leaf(k, m, kind) for k, m, _, kind in partial]


def check_method(method: Method, leaf: Leaf, named_choice: bool) -> str | None:
    """Why `method` cannot apply to this element (None when it can).

    `named_choice`: the path named a choice element (`effective`), so an alternative type the
    method cannot change is dropped instead of refused (reported by `leaf_action`)."""
    name, kind = method.name, leaf.kind
    if name in ("drop", "keep"):
        return None
    if name == "token":
        ok = kind == "Identifier" or kind in TEXT_TYPES
        return None if ok else f"token needs an Identifier or a text element; this is {kind}"
    if name in DATE_METHODS:
        if kind == "instant" and name != "date_shift" and not named_choice:
            return (
                f"{name} would not be a valid instant (instants are full timestamps): use "
                "date_shift or drop"
            )
        ok = kind in DATE_TYPES or kind == "Period"
        if ok or named_choice:
            return None
        return f"{name} needs a date, dateTime, instant or Period element; this is {kind}"
    if name in ("postcode_district", "postcode_sector"):
        ok = kind in ("Address", "string")
        return None if ok else f"{name} needs an Address or a string element; this is {kind}"
    if name == "redact_text":
        ok = kind in ("string", "markdown")
        return None if ok else f"redact_text needs a string element; this is {kind}"
    return f"method '{name}' does not apply to FHIR (one of {', '.join(FHIR_METHODS)})"


# -- the plan ----------------------------------------------------------------------------------
@dataclass
class FhirPlan:
    """What each resource type becomes: its SQL expression and each path's method."""

    expressions: dict[str, str]  # resource type -> JSON expression over column j
    methods: dict[str, dict[str, str]]  # resource type -> {path: method}


def _paths_for(config: PseudonymiseConfig, resource_type: str) -> dict[str, Method]:
    """The config's paths that apply to `resource_type` (its own over `*.` ones)."""
    out: dict[str, Method] = {}
    for path, method in (config.fhir or {}).items():
        head, _, rest = path.partition(".")
        if head == "*" and not isinstance(resolve_path(resource_type, rest), str):
            out[rest] = method
    for path, method in (config.fhir or {}).items():
        head, _, rest = path.partition(".")
        if head == resource_type:
            out[rest] = method
    return out


def check_config(config: PseudonymiseConfig) -> None:
    """Every path and method of the `fhir:` section, against the R4 definitions: the first
    problem is one error naming the config file and line."""
    defs = _definitions()
    for path, method in (config.fhir or {}).items():
        loc = ("fhir", path)
        head, dot, rest = path.partition(".")
        if not dot or not rest:
            raise config.error(f"fhir path '{path}': give Type.element (e.g. Patient.name)", *loc)
        if method.rename is not None:
            raise config.error(f"fhir path '{path}': 'as' (renaming) does not apply to FHIR", *loc)
        if method.name not in FHIR_METHODS:
            raise config.error(
                f"fhir path '{path}': method '{method.name}' does not apply to FHIR "
                f"(one of {', '.join(FHIR_METHODS)})",
                *loc,
            )
        types = defs.resources if head == "*" else [head]
        if head != "*" and not defs.is_resource(head):
            raise config.error(f"fhir path '{path}': '{head}' is not a FHIR R4 resource type", *loc)
        found = False
        for rtype in types:
            leaves = resolve_path(rtype, rest)
            if isinstance(leaves, str):
                if head != "*":
                    raise config.error(f"fhir path '{path}': {leaves}", *loc)
                continue
            found = True
            named_choice = len(leaves) > 1 or leaves[0].keys[-1] != rest.rsplit(".", 1)[-1]
            for leaf in leaves:
                why = check_method(method, leaf, named_choice)
                if why is not None:
                    raise config.error(f"fhir path '{path}': {why}", *loc)
        if not found:
            raise config.error(f"fhir path '{path}': no resource type has '{rest}'", *loc)


def plan(
    config: PseudonymiseConfig,
    resource_types: list[str],
    present: dict[str, set[str]] | None = None,
) -> FhirPlan:
    """The expression of each resource type present, over columns j (the resource, references
    already rewritten) and PATIENT_INNER. `present`: the top-level keys found per type (paths
    under any other key have nothing to change)."""
    expressions: dict[str, str] = {}
    methods: dict[str, dict[str, str]] = {}
    for rtype in resource_types:
        root = Node()
        shown: dict[str, str] = {}
        # Every Reference's display (often a name) and identifier (an NHS number, for a logical
        # reference) first; the config's own paths then override.
        for ref in reference_leaves(rtype):
            for key, kind, name in (
                ("display", "string", config.fhir_reference_display),
                ("identifier", "Identifier", config.fhir_reference_identifier),
            ):
                if name != "keep":
                    _place(root, Leaf([*ref.keys, key], [*ref.many, False], kind), Method(name))
        for path, method in _paths_for(config, rtype).items():
            leaves = resolve_path(rtype, path)
            if isinstance(leaves, str):  # checked by check_config; an unknown type's paths
                continue
            shown[f"{rtype}.{path}"] = str(method)
            for leaf in leaves:
                _place(root, leaf, method)
        if present is not None:
            keys = present.get(rtype, set())
            root.children = {k: v for k, v in root.children.items() if k in keys}
        extra = ("'id'", f"to_json({_token_id('id')})") if config.fhir_ids == "token" else ()
        body = _build("j", root, 0, config.date_shift_days, extra)
        expressions[rtype] = body
        methods[rtype] = shown
    return FhirPlan(expressions, methods)


def _place(root: Node, leaf: Leaf, method: Method) -> None:
    """Put `method` at `leaf` in the trie (keep: whatever was planned there is undone)."""
    node = root
    for key, many in zip(leaf.keys, leaf.many, strict=True):
        node = node.children.setdefault(key, (many, Node()))[1]
    node.children.clear()
    node.leaf = None if method.name == "keep" else (method, leaf.kind)


# Elements never walked for references: extensions, and contained resources (left as they are).
_SKIPPED = ("extension", "modifierExtension", "contained")


@cache
def reference_leaves(resource_type: str, depth: int = 4) -> list[Leaf]:
    """Every element of type Reference in `resource_type`, backbone elements included (not
    inside data types, nor deeper than `depth`)."""
    defs = _definitions()
    found: list[Leaf] = []
    if not defs.is_resource(resource_type):
        return found  # a type R4 does not know (read all the same): its id alone is tokenised

    def walk(keys: list[str], many: list[bool], context: str) -> None:
        if len(keys) >= depth:
            return
        for name, element in defs.children(context):
            if name in _SKIPPED:
                continue
            base = name[:-3] if name.endswith("[x]") else None
            names = [base + t[:1].upper() + t[1:] for t in element[2]] if base else [name]
            for key in names:
                r = defs.resolve(resource_type, [*keys, key])
                if r.status != "ok":
                    continue
                if r.complex_type == "Reference":
                    found.append(Leaf([*keys, key], [*many, r.many], "Reference"))
                elif r.context and r.complex_type == resource_type:  # a backbone element
                    walk([*keys, key], [*many, r.many], r.context)

    walk([], [], f"{resource_type}|")
    return found


def _token_id(expr: str, keys: str = "") -> str:
    """The token of an id (trimmed, as the tabular `token` of a text column)."""
    return hmac_sql(f"NULLIF(trim({expr}), '')", keys + IPAD, keys + OPAD)


def patient_ref(ref: str) -> str:
    """`Patient/ID` of a reference to a Patient ([base/]Patient/ID[/_history/V]); any other
    reference (urn:uuid:...) as it is, to match a fullUrl."""
    pid = "Patient/[A-Za-z0-9\\-\\.]{1,64}"
    return (
        f"CASE WHEN regexp_matches({ref}, '(^|/){pid}(/_history/.*)?$') "
        f"THEN regexp_extract({ref}, '({pid})(/_history/.*)?$', 1) ELSE {ref} END"
    )


def _build(expr: str, node: Node, depth: int, days: int, extra: tuple[str, ...] = ()) -> str:
    """The object `expr` with each child of `node` replaced by its transformed value (`extra`:
    more key, value pairs to set). DuckDB's JSON is text: the children are extracted in one
    parse (a list of paths) and set in one merge patch."""
    keys = list(node.children)
    if not keys and not extra:
        return expr

    def patch(found: str) -> str:
        nulls: list[str] = []
        values: list[str] = list(extra)
        for n, key in enumerate(keys, start=1):
            many, child = node.children[key]
            value = f"{found}[{n}]"
            var = f"v{depth}"
            if child.leaf is not None:
                method, kind = child.leaf
                item = _leaf(var if many else value, method, kind, days)
                if kind in DATE_TYPES + TEXT_TYPES + ("markdown",):
                    nulls.append(quote_literal("_" + key))  # the primitive's extensions go too
            else:
                item = _build(var if many else value, child, depth + 1, days)
            if many:
                listed = (
                    f"list_filter(list_transform(TRY_CAST({value} AS JSON[]), "
                    f"lambda {var}: {item}), lambda {var}: {var} IS NOT NULL)"
                )
                item = _let(listed, lambda x: f"CASE WHEN len({x}) > 0 THEN to_json({x}) END")
            # an element that is not there stays away
            item = f"CASE WHEN {value} IS NOT NULL THEN {item} END"
            nulls.append(quote_literal(key))
            values += [quote_literal(key), item]
        removed = ", ".join(f"{k}, NULL::JSON" for k in nulls) or "'__none', NULL::JSON"
        return f"json_merge_patch({expr}, json_object({removed}), json_object({', '.join(values)}))"

    if keys:
        paths = "[" + ", ".join(quote_literal("$." + k) for k in keys) + "]"
        patched = _let(f"json_extract({expr}, {paths})", patch)
    else:
        patched = patch("NULL")
    return patched if depth == 0 else _not_empty(patched)


def _let(value: str, body: Any) -> str:
    """`body(name)` with `value` computed once: a one-item list lambda, DuckDB's let."""
    _VARS[0] += 1
    name = f"w{_VARS[0]}"
    return f"list_transform([{value}], lambda {name}: {body(name)})[1]"


_VARS = [0]


def _not_empty(obj: str) -> str:
    """NULL for an object left with nothing in it (FHIR allows no empty objects)."""
    return _let(obj, lambda o: f"CASE WHEN CAST({o} AS VARCHAR) <> '{{}}' THEN {o} END")


def _text(value: str) -> str:
    return f"({value}->>'$')"


def _date_sql(method: str, s: str, days: int) -> str:
    """A FHIR date/dateTime/instant text changed by a date method (NULL when not a date)."""
    if method == "year":
        return f"CASE WHEN regexp_matches({s}, '^[0-9]{{4}}') THEN left({s}, 4) END"
    if method == "month":
        return f"CASE WHEN regexp_matches({s}, '^[0-9]{{4}}') THEN left({s}, 7) END"
    shift = shift_days(days)

    def shifted(t: str) -> str:
        day = (
            f"TRY_CAST(CASE WHEN length({t}) >= 10 THEN left({t}, 10) WHEN length({t}) = 7 "
            f"THEN {t} || '-01' WHEN length({t}) = 4 THEN {t} || '-01-01' END AS DATE)"
        )
        return _let(
            day,
            lambda d: (
                f"CASE WHEN {d} IS NOT NULL AND {PATIENT_INNER} IS NOT NULL THEN "
                f"left(strftime(CAST({d} + CAST({shift} AS INTEGER) AS DATE), '%Y-%m-%d'), "
                f"least(length({t}), 10)) || substr({t}, 11) END"
            ),
        )

    return _let(s, shifted)


def _postcode_sql(method: str, s: str) -> str:
    text = f"upper(replace(NULLIF(trim({s}), ''), ' ', ''))"
    valid = f"regexp_matches({text}, {quote_literal(POSTCODE_PARTS)})"
    district = f"left({text}, length({text}) - 3)"
    if method == "postcode_district":
        return f"CASE WHEN {valid} THEN {district} END"
    return f"CASE WHEN {valid} THEN {district} || ' ' || substr({text}, length({text}) - 2, 1) END"


def _leaf(value: str, method: Method, kind: str, days: int) -> str:
    """The new JSON of one element (NULL: removed)."""
    name = method.name
    if name == "drop":
        return "NULL::JSON"
    if name == "token":
        if kind == "Identifier":
            system = f"({value}->>'system')"
            raw = f"({value}->>'value')"
            nhs = f"NULLIF(replace(replace(trim({raw}), ' ', ''), '-', ''), '')"
            message = (
                f"CASE WHEN {system} = '{NHS_NUMBER_SYSTEM}' THEN {nhs} "
                f"ELSE NULLIF(trim({raw}), '') END"
            )
            new_system = (
                f"CASE WHEN {system} = '{NHS_NUMBER_SYSTEM}' THEN '{PSEUDONYM_SYSTEM}' "
                f"ELSE {system} END"
            )
            return _not_empty(
                f"json_merge_patch({value}, json_object('value', to_json({hmac_sql(message)}), "
                f"'system', to_json({new_system}), '_value', NULL::JSON))"
            )
        return f"to_json({hmac_sql(f'NULLIF(trim({_text(value)}), {chr(39)}{chr(39)})')})"
    if name in DATE_METHODS:
        if kind in DATE_TYPES:
            if kind == "instant" and name != "date_shift":
                return "NULL::JSON"  # a choice's instant alternative: dropped (see docs)
            return f"to_json({_date_sql(name, _text(value), days)})"
        if kind == "Period":
            parts = ", ".join(
                f"'{p}', to_json({_date_sql(name, _text(f'json_extract({value}, {q})'), days)})"
                for p, q in (("start", "'$.start'"), ("end", "'$.end'"))
            )
            return _not_empty(
                f"json_merge_patch({value}, json_object('_start', NULL::JSON, '_end', NULL::JSON),"
                f" json_object({parts}))"
            )
        if kind in DATELESS:
            return value  # a choice's alternative holding no date (deceasedBoolean, onsetAge)
        return "NULL::JSON"  # a choice's other alternative (Timing, string): dropped
    if name in ("postcode_district", "postcode_sector"):
        if kind == "Address":
            dropped = ", ".join(f"'{k}', NULL::JSON" for k in ADDRESS_DROPPED)
            code = _postcode_sql(name, f"(json_extract({value}, '$.postalCode')->>'$')")
            return _not_empty(
                f"json_merge_patch({value}, json_object({dropped}, '_postalCode', NULL::JSON), "
                f"json_object('postalCode', to_json({code})))"
            )
        return f"to_json({_postcode_sql(name, _text(value))})"
    if name == "redact_text":
        from healthdq.governance.freetext import redact_sql

        return f"to_json({redact_sql(_text(value), 'duckdb')})"
    raise AssertionError(name)  # pragma: no cover - check_config refuses the rest


# -- the run -----------------------------------------------------------------------------------
@dataclass
class Prepared:
    """The relations a run built: resource types present, and rows removed by the opt-out."""

    types: dict[str, int]  # resource type -> resources kept
    removed: dict[str, int]  # resource type -> resources removed by the opt-out
    keys: dict[str, set[str]] = field(default_factory=dict)  # type -> top-level keys present


def prepare(con: Any, table: str, config: PseudonymiseConfig, opt_out: bool) -> Prepared:
    """Build, in the engine: the numbered resources, each resource's patient (and the inner
    HMAC pass of it), the references rewritten, and the resources the opt-out removes."""
    src, pat, pmap, refs, nrefs, drop = (
        f"{P}{n}" for n in ("src", "pat", "pmap", "refs", "nrefs", "drop")
    )
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {src} AS SELECT row_number() OVER () AS rid, "
        f"resource_type, id, resource AS j, full_url FROM {quote_ident(table)} "
        # A Bundle's entries are resources of the table in their own right; the Bundle (which
        # holds them all again, untouched) is not written.
        "WHERE resource_type IS DISTINCT FROM 'Bundle'"
    )
    nhs_value = (
        f"list_filter(TRY_CAST(json_extract(j, '$.identifier') AS JSON[]), "
        f"lambda x: (x->>'system') = '{NHS_NUMBER_SYSTEM}')[1]->>'value'"
    )
    nhs = f"NULLIF(replace(replace(trim({nhs_value}), ' ', ''), '-', ''), '')"
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {pmap} AS "
        f"SELECT ref, any_value(pkey) AS pkey FROM ("
        f"SELECT 'Patient/' || id AS ref, pkey FROM (SELECT id, full_url, "
        f"coalesce({nhs}, 'Patient/' || id) AS pkey FROM {src} WHERE resource_type = 'Patient') "
        f"UNION ALL SELECT full_url, coalesce({nhs}, 'Patient/' || id) FROM {src} "
        f"WHERE resource_type = 'Patient' AND full_url IS NOT NULL) WHERE ref IS NOT NULL "
        "GROUP BY ref"
    )
    link = (
        "coalesce("
        + ", ".join(f"json_extract_string(j, '$.{k}.reference')" for k in PATIENT_LINKS)
        + ")"
    )
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {pat} AS "
        f"SELECT s.rid, coalesce(m.pkey, CASE WHEN starts_with(s.n, 'Patient/') THEN s.n END) "
        f"AS pkey FROM (SELECT rid, CASE WHEN resource_type = 'Patient' THEN 'Patient/' || id "
        f"ELSE {patient_ref(link)} END AS n FROM {src}) AS s "
        f"LEFT JOIN {pmap} AS m ON m.ref = s.n"
    )
    # Every Reference.reference, in order, with what it becomes.
    token_ids = config.fhir_ids == "token"
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {refs} AS SELECT rid, unnest(generate_series(1, len(l))) "
        f"AS ord, unnest(l) AS ref FROM (SELECT rid, regexp_extract_all(CAST(j AS VARCHAR), "
        f"{quote_literal(REF_RE)}, 1) AS l FROM {src}) WHERE len(l) > 0"
    )
    # Bundle references (urn:uuid:, or any fullUrl) become Type/ID: the NDJSON written has no
    # fullUrl to resolve them by. With tokens, every literal reference's id is tokenised.
    names = "['base', 'type', 'id', 'hist']"
    lit = f"regexp_extract(r.ref, {quote_literal(LITERAL_RE)}, {names})"
    if token_ids:
        new = (
            f"CASE WHEN starts_with(r.ref, '#') THEN r.ref "
            f"WHEN u.rtype IS NOT NULL THEN u.rtype || '/' || {_token_id('u.id', 'k.')} "
            f"WHEN m.type <> '' THEN m.base || m.type || '/' || "
            f"{_token_id('m.id', 'k.')} || m.hist ELSE r.ref END"
        )
    else:
        new = "CASE WHEN u.rtype IS NOT NULL THEN u.rtype || '/' || u.id ELSE r.ref END"
    # Each distinct reference is rewritten once (many resources name the same patient).
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {nrefs} AS SELECT r.rid, list(d.nref ORDER BY r.ord) "
        f"AS refs FROM {refs} AS r JOIN (SELECT r.ref, {new} AS nref FROM "
        f"(SELECT ref, {lit} AS m FROM (SELECT DISTINCT ref FROM {refs}) AS r) AS r "
        f"LEFT JOIN (SELECT full_url, any_value(resource_type) AS rtype, any_value(id) AS id "
        f"FROM {src} WHERE full_url IS NOT NULL GROUP BY full_url) AS u "
        f"ON u.full_url = r.ref CROSS JOIN {SECRET} AS k) AS d ON d.ref = r.ref GROUP BY r.rid"
    )
    con.execute(f"CREATE OR REPLACE TEMP TABLE {drop} (rid BIGINT)")
    if opt_out:
        from healthdq.governance.optout import COLUMN, RELATION

        opted = f"(SELECT {COLUMN} FROM {RELATION})"
        # The opted-out patients' resources, and every resource referring to one of them.
        con.execute(
            f"INSERT INTO {drop} SELECT rid FROM {pat} WHERE pkey IN {opted} "
            f"UNION SELECT r.rid FROM (SELECT rid, {patient_ref('ref')} AS n FROM {refs}) AS r "
            f"JOIN {pmap} AS m ON m.ref = r.n "
            f"WHERE m.pkey IN {opted}"
        )
    # Per type: resources kept, removed, and the top-level keys present (the plan leaves out
    # paths under keys no resource has).
    rows = con.execute(
        f"SELECT resource_type, count(*) FILTER (WHERE d.rid IS NULL), "
        f"count(*) FILTER (WHERE d.rid IS NOT NULL), list_distinct(flatten(list(json_keys(s.j)))) "
        f"FROM {src} AS s LEFT JOIN (SELECT DISTINCT rid FROM {drop}) AS d USING (rid) "
        "GROUP BY ALL ORDER BY 1"
    ).fetchall()
    return Prepared(
        {str(t): int(k) for t, k, _, _ in rows if k},
        {str(t): int(r) for t, _, r, _ in rows},
        {str(t): set(keys or ()) for t, _, _, keys in rows},
    )


def select_sql(config: PseudonymiseConfig, fplan: FhirPlan, resource_type: str) -> str:
    """The SELECT of one resource type's output lines (JSON text, in input order)."""
    src, pat, nrefs, drop = (f"{P}{n}" for n in ("src", "pat", "nrefs", "drop"))
    expr = fplan.expressions[resource_type]
    text = "CAST(s.j AS VARCHAR)"

    # The text with each reference replaced by its rewritten value, in order.
    def rebuilt(p: str) -> str:
        return (
            f"array_to_string(list_transform(generate_series(1, len({p})), lambda i: {p}[i] || "
            "CASE WHEN i <= len(n.refs) THEN '\"reference\":\"' || n.refs[i] || '\"' "
            "ELSE '' END), '')"
        )

    split = f"regexp_split_to_array({text}, {quote_literal(REF_RE)})"
    j = f"CASE WHEN n.refs IS NULL THEN s.j ELSE CAST({_let(split, rebuilt)} AS JSON) END"
    joins = f"LEFT JOIN {nrefs} AS n USING (rid)"
    patient = inner_sql("pt.pkey", "k." + IPAD)
    inner = (
        f"SELECT s.rid, {j} AS j, s.id, {patient} AS {PATIENT_INNER}, k.{IPAD}, k.{OPAD} "
        f"FROM (SELECT * FROM {src} WHERE resource_type = {quote_literal(resource_type)}) "
        f"AS s LEFT JOIN {pat} AS pt USING (rid) {joins} CROSS JOIN {SECRET} AS k "
        f"WHERE s.rid NOT IN (SELECT rid FROM {drop})"
    )
    # Unchanged resources are minified (a .json file may be pretty-printed over many lines).
    line = "json(j)" if expr == "j" else expr
    return f"SELECT CAST({line} AS VARCHAR) AS line FROM ({inner}) ORDER BY rid"


def load_default() -> PseudonymiseConfig:
    from healthdq.governance.pseudonymise import load_config

    return load_config(DEFAULT_CONFIG)


def describe_error(config: PseudonymiseConfig, message: str) -> ContractError:
    return ContractError(message, path=config.path)
