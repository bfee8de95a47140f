"""The fast screen in front of structural validation: which resources need the full walk.

Walking every JSON node (json_tree) is exact but costs about twenty times a parse. Bulk data is
mostly valid and repetitive, so each resource type is screened first, in one vectorised pass:

1. the JSON structure of a sample of the type's resources (json_group_structure) gives a
   DuckDB type to parse into (every primitive kept as its JSON text);
2. SQL generated from that structure and the R4 definitions tests, per resource, everything the
   full walk checks, conservatively: each element's JSON kind against its definition (array or
   not, object or primitive), required children, choice types, primitive formats (the
   definitions' regexes on the JSON text), required bindings (codes, and the (system, code)
   pairs of Coding and CodeableConcept elements), empty arrays and objects, ele-1,
   ext-1, and reference forms and targets;
3. a resource whose keys are not all in the sampled structure (its count of `":` differs from
   the keys the parse kept), or whose text has `null`, `""`, `[]` or `{}`, is flagged too.

Flagged resources (and Bundles, resources with contained resources, unknown types) go to the
full walk (validate.py), which alone writes issues; a flag that finds nothing costs only time.
A resource passes the screen only if the full walk would find nothing in it.
"""

from __future__ import annotations

import json
from typing import Any

from healthdq.fhir.definitions import Definitions

SAMPLE_ROWS = 2000
ALWAYS_WALKED = ("Bundle",)
# The definitions' regexes for string, uri and code, as plain string tests that are exact on a
# JSON string token without a backslash (a raw tab or newline cannot occur in JSON text, and
# rows with a backslash or "" are flagged whole): a regex per value costs ~5x these.
CHEAP_STRING_CHECKS = {
    r"[ \r\n\t\S]+": "(left({t}, 1) <> '\"' OR {t} = '\"\"')",
    r"\S*": "(left({t}, 1) <> '\"' OR contains({t}, ' '))",
    r"[^\s]+(\s[^\s]+)*": (
        "(left({t}, 1) <> '\"' OR {t} = '\"\"' OR contains({t}, '  ') "
        "OR starts_with({t}, '\" ') OR suffix({t}, ' \"'))"
    ),
}


def _q(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def schema_of(structure: Any) -> Any:
    """json_group_structure's result as a json_transform target, every leaf kept as JSON."""
    if isinstance(structure, dict):
        return {k: schema_of(v) for k, v in structure.items()} if structure else "JSON"
    if isinstance(structure, list):
        return [schema_of(structure[0])] if structure else ["JSON"]
    return "JSON"


def _field(x: str, key: str) -> str:
    return f'{x}."{key}"' if key.replace("_", "a").isalnum() else f"struct_extract({x}, {_q(key)})"


class _Gen:
    """SQL over one resource type's parsed struct: a flag expression and a key count."""

    def __init__(self, defs: Definitions, rtype: str) -> None:
        self.defs = defs
        self.rtype = rtype
        self.depth = 0
        ident = defs.primitives["id"]["regex"]
        self.ref_any = "|".join(defs.resources)
        self.ident = ident

    def var(self) -> str:
        self.depth += 1
        return f"e{self.depth}"

    # -- values ----------------------------------------------------------------------------------
    def leaf(self, v: str, r: Any) -> list[str]:
        """Flags for one primitive value (JSON text) `v` of a resolved element `r`."""
        t = f"CAST({v} AS VARCHAR)"
        prim = self.defs.primitives[r.primitive]
        flags = []
        regex = prim["regex"]
        if prim["json"] == "string":
            cheap = CHEAP_STRING_CHECKS.get(regex or "")
            if cheap is not None:
                flags.append(cheap.format(t=t))
            else:
                pattern = '"(?:' + (regex or ".*") + ')"'
                flags.append(f"NOT regexp_full_match({t}, {_q(pattern)})")
            if r.primitive in ("date", "dateTime", "instant"):
                flags.append(
                    f"(length({t}) >= 12 AND TRY_CAST(substr({t}, 2, 10) AS DATE) IS NULL)"
                )
        elif prim["json"] == "boolean":
            flags.append(f"{t} NOT IN ('true', 'false')")
        else:
            flags.append(f"NOT regexp_full_match({t}, {_q('(?:' + (regex or '.*') + ')')})")
        if r.valueset and r.valueset in self.defs.valuesets:
            codes = ", ".join(_q(json.dumps(c)) for c in self.defs.valuesets[r.valueset])
            flags.append(f"NOT list_contains([{codes}], {t})")
        if r.reference:
            types = "|".join(t for t in r.targets if t not in ("Resource",)) or self.ref_any
            if "Resource" in r.targets:
                types = self.ref_any
            pattern = '"(' + types + ")/" + self.ident + '"'
            flags.append(f"NOT regexp_full_match({t}, {_q(pattern)})")
        return [f"coalesce({f}, false)" for f in flags]

    def coded_binding(self, x: str, schema: dict[str, Any], r: Any) -> str | None:
        """Flag for a Coding / CodeableConcept object `x` with a required binding the package
        enumerates: not a member (no coding of a CodeableConcept is). System and code are
        compared as JSON text, the pair concatenated (two JSON string tokens join
        unambiguously; rows with a backslash are flagged whole)."""
        pairs = self.defs.coded_valuesets.get(r.valueset or "")
        if r.complex_type not in ("Coding", "CodeableConcept") or not pairs:
            return None
        members = ", ".join(
            _q(json.dumps(system, ensure_ascii=False) + json.dumps(code, ensure_ascii=False))
            for system, code in pairs
        )

        def member(c: str, fields: Any) -> str | None:
            if not isinstance(fields, dict) or "system" not in fields or "code" not in fields:
                return None
            pair = f"CAST({_field(c, 'system')} AS VARCHAR) || CAST({_field(c, 'code')} AS VARCHAR)"
            return f"list_contains([{members}], {pair})"

        if r.complex_type == "Coding":
            test = member(x, schema)
        else:
            coding = schema.get("coding")
            item = coding[0] if isinstance(coding, list) and coding else None
            e = self.var()
            inner = member(e, item)
            test = (
                f"list_bool_or(list_transform({_field(x, 'coding')}, lambda {e}: {inner}))"
                if inner
                else None
            )
        if test is None:  # no sampled system/code: no member possible
            return f"({x} IS NOT NULL)"
        return f"({x} IS NOT NULL AND NOT coalesce({test}, false))"

    # -- structure -------------------------------------------------------------------------------
    def node(self, x: str, schema: Any, keys: list[str]) -> tuple[list[str], str, list[str]]:
        """(flags, key count, reference lists) of the object `x` at JSON keys `keys` with
        sampled `schema`."""
        r = self.defs.resolve(self.rtype, keys)
        flags: list[str] = []
        counts: list[str] = []
        refs: list[str] = []
        assert isinstance(schema, dict)
        fields = list(schema)
        # An object whose fields are all missing: {}, only nulls, or not an object at all.
        if fields:
            flags.append(
                f"({x} IS NOT NULL AND "
                + " AND ".join(f"{_field(x, k)} IS NULL" for k in fields)
                + ")"
            )
        context = r.context if r.status == "ok" else None
        if context:
            for _name, req in self.defs.required_names(context):
                present = [k for k in req if k in schema]
                if not present:
                    flags.append("true")
                else:
                    flags.append(
                        "(" + " AND ".join(f"{_field(x, k)} IS NULL" for k in present) + ")"
                    )
            if "id" in schema and len(fields) > 1:
                others = " AND ".join(f"{_field(x, k)} IS NULL" for k in fields if k != "id")
                flags.append(f"({_field(x, 'id')} IS NOT NULL AND {others})")
            elif fields == ["id"]:
                flags.append(f"{_field(x, 'id')} IS NOT NULL")
            coded = self.coded_binding(x, schema, r)
            if coded:
                flags.append(coded)
            if r.complex_type == "Extension":
                ext = _field(x, "extension") if "extension" in schema else None
                values = [k for k in fields if k.lstrip("_").startswith("value")]
                has_ext = f"({ext} IS NOT NULL)" if ext else "false"
                has_val = (
                    "(" + " OR ".join(f"{_field(x, k)} IS NOT NULL" for k in values) + ")"
                    if values
                    else "false"
                )
                flags.append(f"({has_ext} = {has_val})")
        choices: dict[str, list[str]] = {}
        for key, sub in schema.items():
            path = [*keys, key]
            f = _field(x, key)
            counts.append(f"({f} IS NOT NULL)::INTEGER")
            c = self.defs.resolve(self.rtype, path)
            if c.status != "ok":
                flags.append(f"{f} IS NOT NULL")
                continue
            if c.choice:
                choices.setdefault(c.choice, []).append(key.lstrip("_"))
            is_list = isinstance(sub, list)
            if is_list != c.many:
                flags.append(f"{f} IS NOT NULL")
                continue
            item = sub[0] if is_list else sub
            if is_list:
                flags.append(f"len({f}) = 0")
                if isinstance(item, list):
                    flags.append(f"{f} IS NOT NULL")
                    continue
                if c.primitive and f"_{key}" in schema and isinstance(schema[f"_{key}"], list):
                    flags.append(f"len({f}) <> len({_field(x, '_' + key)})")
                if key.startswith("_") and key[1:] in schema and isinstance(schema[key[1:]], list):
                    pass
            if c.primitive:
                if item != "JSON":
                    flags.append(f"{f} IS NOT NULL")
                    continue
                if is_list:
                    e = self.var()
                    inner = self.leaf(e, c)
                    if inner:
                        flags.append(
                            f"coalesce(list_bool_or(list_transform({f}, lambda {e}: "
                            + " OR ".join(inner)
                            + ")), false)"
                        )
                    if c.reference:
                        refs.append(f"list_transform({f}, lambda {e}: CAST({e} AS VARCHAR))")
                else:
                    flags += self.leaf(f, c)
                    if c.reference:
                        refs.append(f"[CAST({f} AS VARCHAR)]")
                continue
            if c.complex_type or c.extension:
                if not isinstance(item, dict):
                    flags.append(f"{f} IS NOT NULL")
                    continue
                if is_list:
                    e = self.var()
                    inner_flags, inner_count, inner_refs = self.node(e, item, path)
                    if inner_flags:
                        flags.append(
                            f"coalesce(list_bool_or(list_transform({f}, lambda {e}: "
                            + " OR ".join(inner_flags)
                            + ")), false)"
                        )
                    counts.append(
                        f"coalesce(list_sum(list_transform({f}, lambda {e}: {inner_count})), 0)"
                    )
                    if inner_refs:
                        joined = _concat(inner_refs)
                        refs.append(f"flatten(list_transform({f}, lambda {e}: {joined}))")
                else:
                    inner_flags, inner_count, inner_refs = self.node(f, item, path)
                    flags += [f"coalesce({g}, false)" for g in inner_flags]
                    counts.append(f"coalesce({inner_count}, 0)")
                    refs += inner_refs
                continue
            flags.append(f"{f} IS NOT NULL")
        for variants in choices.values():
            if len(set(variants)) > 1:
                # Two types of one choice element present at once.
                present = sorted(set(variants))
                terms = []
                for v in present:
                    alts = [k for k in (v, "_" + v) if k in schema]
                    terms.append(
                        "("
                        + " OR ".join(f"{_field(x, k)} IS NOT NULL" for k in alts)
                        + ")::INTEGER"
                    )
                flags.append("(" + " + ".join(terms) + ") > 1")
        return flags, " + ".join(counts) if counts else "0", refs


def _concat(lists: list[str]) -> str:
    """One list of the reference tokens in `lists` (NULL lists and items dropped)."""
    if not lists:
        return "[]::VARCHAR[]"
    parts = ", ".join(f"coalesce({x}, []::VARCHAR[])" for x in lists)
    return f"list_filter(flatten([{parts}]), lambda r: r IS NOT NULL)"


def screen_sql(defs: Definitions, rtype: str, structure: Any, rows: str) -> str | None:
    """SELECT rid, flagged (needs the full walk), refs (reference tokens, as JSON strings) of
    the rows of `rtype`, or None if the type cannot be screened (every row of it is walked)."""
    schema = schema_of(structure)
    if not isinstance(schema, dict) or not defs.is_resource(rtype):
        return None
    gen = _Gen(defs, rtype)
    inner = {k: v for k, v in schema.items() if k != "resourceType"}
    flags, count, refs = gen.node("s", inner, [])
    # Keys in the text: every key ends with `":`; a string holding `":` only over-counts.
    text_keys = "((length(t) - length(replace(t, '\":', ''))) // 2)"
    checks = [
        f"{text_keys} <> ({count}) + 1",
        "contains(t, 'null')",
        "contains(t, '\"\"')",
        "contains(t, '[]')",
        "contains(t, '{}')",
        "contains(t, '\\')",
        *flags,
    ]
    type_json = _q(json.dumps(schema))
    return f"""SELECT rid, {" OR ".join(f"coalesce({c}, true)" for c in checks)} AS flagged,
                      {_concat(refs)} AS refs
               FROM (SELECT rid, CAST(resource AS VARCHAR) AS t,
                            json_transform(resource, {type_json}) AS s
                     FROM {rows} WHERE resource_type = {_q(rtype)})"""
