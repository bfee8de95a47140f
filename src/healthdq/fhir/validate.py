"""Structural validation of FHIR R4 resources, in the engine, driven by the R4 definitions.

    issues = validate_fhir(engine, table="fhir_resources")

The resource table (fhir/read.py) is walked once by DuckDB's json_tree: one row per JSON node.
The distinct element paths present (a few hundred, whatever the row count) are resolved against
the compiled definitions (fhir/definitions) in Python; every check is then SQL over the nodes
joined to those paths and to the code tables: no Python loop over resources. Each finding is an
OperationOutcome issue (severity, code from the FHIR issue-type code system, details, the
element's FHIRPath expression) with the file and line it came from.

Checks (KINDS below): known resourceType, unknown elements, cardinality (min, max, arrays),
choice types, primitive formats (JSON type and the definitions' regex), empty values, required
bindings (code, Coding and CodeableConcept elements), reference format, target type and
resolution, Bundle rules (bdl-*), duplicate ids, contained resources (dom-2..dom-5), and the
invariants ele-1 and ext-1.
Messages name elements and codes from the definitions, never a value from the data.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from healthdq.errors import HealthdqError
from healthdq.fhir.definitions import Definitions, Resolved, load
from healthdq.fhir.validate_screen import SAMPLE_ROWS

if TYPE_CHECKING:
    from healthdq.results import RuleResult

# kind -> (title, Kahn category, DQMI dimension). Severity and code are per issue.
KINDS: dict[str, tuple[str, str, str]] = {
    "json": ("well-formed JSON object", "conformance", "validity"),
    "resource_type": ("known resourceType", "conformance", "validity"),
    "unknown_element": ("no unknown elements", "conformance", "validity"),
    "cardinality": ("cardinality (min, max, arrays)", "conformance", "completeness"),
    "choice": ("one type per choice element", "conformance", "validity"),
    "format": ("primitive formats", "conformance", "validity"),
    "empty": ("no empty arrays, objects, strings or nulls", "conformance", "validity"),
    "binding": ("required bindings", "conformance", "validity"),
    "reference": ("reference format and target type", "conformance", "validity"),
    "reference_resolution": ("references resolve", "conformance", "validity"),
    "bundle": ("Bundle rules", "conformance", "validity"),
    "duplicate_id": ("unique resource ids", "conformance", "validity"),
    "contained": ("contained resources (dom-2..dom-5)", "conformance", "validity"),
    "invariant": ("core invariants (ele-1, ext-1)", "conformance", "validity"),
}
SEVERITIES = ("fatal", "error", "warning", "information")
PREFIX = "__fv_"


@dataclass(frozen=True)
class FhirIssue:
    """One OperationOutcome issue, with where it was found."""

    severity: str  # fatal | error | warning | information
    code: str  # OperationOutcome issue type (structure, required, value, code-invalid...)
    details: str
    expression: str | None  # FHIRPath of the element, e.g. Patient.name[0].given[1]
    kind: str  # check kind (KINDS)
    resource_type: str | None
    id: str | None
    source_file: str | None
    source_line: int | None
    source_entry: int | None = None

    def where(self) -> str:
        out = self.source_file or "?"
        if self.source_line is not None:
            out += f":{self.source_line}"
        if self.source_entry is not None:
            out += f" entry {self.source_entry}"
        return out

    def to_outcome_issue(self) -> dict[str, Any]:
        """This issue as an OperationOutcome.issue: where it was found in `diagnostics`
        (file:line, entry), the line also as the operationoutcome-issue-line extension that
        HL7's validator writes."""
        out: dict[str, Any] = {}
        if self.source_line is not None:
            out["extension"] = [
                {
                    "url": "http://hl7.org/fhir/StructureDefinition/operationoutcome-issue-line",
                    "valueInteger": int(self.source_line),
                }
            ]
        out["severity"] = self.severity
        out["code"] = self.code
        out["details"] = {"text": self.details}
        out["diagnostics"] = self.where()
        if self.expression:
            out["expression"] = [self.expression]
        return out

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Validation:
    """A validation run's issues and, per (kind, resourceType), resources checked and failing."""

    issues: list[FhirIssue]
    # (kind, resource_type) -> (resources with at least one issue of that kind, worst severity)
    failing: dict[tuple[str, str], tuple[int, str]]
    # resource_type -> resources of that type
    resources: dict[str, int]
    # resources the full walk read (the rest passed the screen)
    walked: int = 0


def _q(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _list(items: list[str]) -> str:
    return "[" + ", ".join(_q(i) for i in items) + "]::VARCHAR[]"


_SEGMENT = re.compile(r'\.(?:"((?:[^"\\]|\\.)*)"|([^."\[]+))')


def parse_path(npath: str) -> list[str] | None:
    """JSON keys of a json_tree path without indices ($.a."_b".c -> [a, _b, c])."""
    if not npath.startswith("$"):
        return None
    keys: list[str] = []
    pos = 1
    while pos < len(npath):
        m = _SEGMENT.match(npath, pos)
        if m is None:
            return None
        keys.append(m.group(1) if m.group(1) is not None else m.group(2))
        pos = m.end()
    return keys


def _resolve(defs: Definitions, utype: str | None, npath: str) -> Resolved:
    keys = parse_path(npath)
    if utype is None or keys is None:
        return Resolved("below")
    if keys == ["resourceType"]:
        return Resolved("below")
    return defs.resolve(utype, keys)


def _reference_regex(defs: Definitions) -> str:
    """Literal reference forms (FHIR R4 references.html): relative or absolute Type/id with an
    optional _history version, a local #id, a urn:uuid:/urn:oid:, any other absolute URL, or a
    conditional reference Type?search (http.html, transactions)."""
    types = "|".join(defs.resources)
    ident = defs.primitives["id"]["regex"]
    return (
        rf"(#.*|urn:uuid:[0-9a-fA-F\-]{{36}}|urn:oid:[0-2](\.(0|[1-9][0-9]*))+"
        rf"|((https?://\S+/)?({types})/{ident}(/_history/{ident})?)|[a-z][a-z0-9+.\-]*:\S+"
        rf"|({types})\?.+)"
    )


def _primitive_sql(defs: Definitions) -> tuple[str, str]:
    """CASE expressions over (p.primitive, n.jtype, v): JSON type wrong; regex not matched."""
    kinds = {"string": "'VARCHAR'", "boolean": "'BOOLEAN'"}
    numeric = "('BIGINT', 'UBIGINT', 'DOUBLE', 'HUGEINT')"
    jt = []
    rx = []
    for name, prim in sorted(defs.primitives.items()):
        want = prim["json"]
        if want == "number":
            jt.append(f"WHEN {_q(name)} THEN n.jtype NOT IN {numeric}")
        else:
            jt.append(
                f"WHEN {_q(name)} THEN n.jtype <> {kinds.get(want, chr(39) + 'VARCHAR' + chr(39))}"
            )
        if prim["regex"]:
            rx.append(
                f"WHEN {_q(name)} THEN NOT regexp_full_match(v, {_q('(?:' + prim['regex'] + ')')})"
            )
    return (
        "CASE p.primitive " + " ".join(jt) + " ELSE false END",
        "CASE p.primitive " + " ".join(rx) + " ELSE false END",
    )


def _expr(root: str = "u.root", key: str = "n.fullkey") -> str:
    """The FHIRPath of a node: unit root + json_tree path, quotes and the _ of _element off."""
    return f"{root} || replace(regexp_replace(substr({key}, 2), '\"', '', 'g'), '._', '.')"


class _Run:
    def __init__(
        self, engine: Any, table: str, defs: Definitions, screen: bool, sample_rows: int
    ) -> None:
        self.engine = engine
        self.table = table
        self.defs = defs
        self.screen = screen
        self.sample_rows = sample_rows
        self.temps: list[str] = []

    def sql(self, sql: str) -> list[tuple[Any, ...]]:
        return list(self.engine.fetch(sql))

    def temp(self, name: str, sql: str) -> None:
        self.engine.create_temp(PREFIX + name, sql, materialize=True)
        self.temps.append(PREFIX + name)

    def close(self) -> None:
        for name in reversed(self.temps):
            self.engine.drop_temp(name)

    # -- stages --------------------------------------------------------------------------------
    def units(self) -> None:
        self.temp(
            "rows",
            "SELECT row_number() OVER () AS rid, resource_type, id, resource, full_url, "
            f"source_file, source_line, source_entry FROM {self.table}",
        )
        self.walk_set()
        # A validation unit: each walked resource, and each resource contained in one.
        self.temp(
            "units",
            f"""SELECT rid AS uid, rid, json_type(resource) AS jt,
                  CASE WHEN json_type(resource) = 'OBJECT' THEN resource->>'resourceType' END
                    AS utype,
                  resource AS j, coalesce(resource_type, 'Resource') AS root,
                  NULL::INTEGER AS cidx
                FROM {PREFIX}rows SEMI JOIN {PREFIX}walk USING (rid)
              UNION ALL
              SELECT -row_number() OVER (ORDER BY rid, i) AS uid, rid, json_type(c),
                  CASE WHEN json_type(c) = 'OBJECT' THEN c->>'resourceType' END, c,
                  coalesce(resource_type, 'Resource') || '.contained[' || i || ']', i
                FROM (SELECT rid, resource_type, unnest(cs) AS c,
                             unnest(range(len(cs))) AS i
                      FROM (SELECT rid, resource_type, json_extract(resource, '$.contained[*]')
                              AS cs
                            FROM {PREFIX}rows SEMI JOIN {PREFIX}walk USING (rid)
                            WHERE json_type(resource, '$.contained') = 'ARRAY'))""",
        )
        self.temp(
            "nodes",
            f"""SELECT u.uid, u.utype, t.id AS nid, t.parent, t.key, t.type AS jtype, t.atom,
                  t.fullkey, regexp_replace(t.fullkey, '\\[[0-9]+\\]', '', 'g') AS npath,
                  suffix(t.fullkey, ']') AS item
                FROM {PREFIX}units u, json_tree(u.j) t
                WHERE u.jt = 'OBJECT'""",
        )
        self.temp(
            "kids",
            f"""SELECT uid, parent, count(*) AS n, list(key) AS keys FROM {PREFIX}nodes
                WHERE parent IS NOT NULL GROUP BY uid, parent""",
        )

    def walk_set(self) -> None:
        """The rows the full walk validates: all of them, or (screened) only those the screen
        flags, those of types it cannot screen, and those with a reference that does not
        resolve to a row."""
        rows = f"{PREFIX}rows"
        if not self.screen:
            self.temp("walk", f"SELECT rid FROM {rows}")
            return
        from healthdq.fhir.validate_screen import ALWAYS_WALKED, screen_sql

        parts = []
        walked = []
        for (rtype,) in self.sql(f"SELECT DISTINCT resource_type FROM {rows}"):
            sql = None
            if rtype is not None and rtype not in ALWAYS_WALKED and self.defs.is_resource(rtype):
                got = self.sql(
                    f"""SELECT json_group_structure(resource) FROM (
                          SELECT resource FROM {rows} WHERE resource_type = {_q(rtype)}
                          LIMIT {int(self.sample_rows)})"""
                )
                structure = json.loads(got[0][0]) if got and got[0][0] else None
                sql = screen_sql(self.defs, rtype, structure, rows)
            if sql is None:
                walked.append(rtype)
            else:
                parts.append(sql)
        self.temp(
            "screen",
            " UNION ALL ".join(parts)
            if parts
            else "SELECT NULL::BIGINT rid, false flagged, []::VARCHAR[] refs WHERE false",
        )
        known = _list([t for t in walked if t is not None])
        # A screened reference is "Type/id" to an allowed type (anything else is flagged):
        # it resolves if a row has that type and id.
        self.temp(
            "walk",
            f"""SELECT rid FROM {PREFIX}screen WHERE flagged
                UNION
                SELECT rid FROM {rows}
                WHERE resource_type IS NULL OR list_contains({known}, resource_type)
                UNION
                SELECT rid FROM (SELECT rid, trim(unnest(refs), '"') AS k
                                 FROM {PREFIX}screen WHERE NOT flagged) r
                ANTI JOIN (SELECT resource_type || '/' || id AS k FROM {rows}
                           WHERE id IS NOT NULL) t USING (k)""",
        )

    def paths(self) -> None:
        rows = self.sql(f"SELECT DISTINCT utype, npath FROM {PREFIX}nodes")
        values = []
        req = []
        for utype, npath in rows:
            r = _resolve(self.defs, utype, npath)
            values.append(
                "("
                + ", ".join(
                    [
                        _q(utype) if utype is not None else "NULL",
                        _q(npath),
                        _q(r.status),
                        _q(r.element) if r.element else "NULL",
                        _q(r.primitive) if r.primitive else "NULL",
                        _q(r.complex_type) if r.complex_type else "NULL",
                        "true" if r.many else "false",
                        str(r.max) if r.max is not None else "NULL",
                        _q(r.valueset) if r.valueset else "NULL",
                        _q(r.choice) if r.choice else "NULL",
                        "true" if r.extension else "false",
                        "true" if r.reference else "false",
                        _list(list(r.targets)),
                    ]
                )
                + ")"
            )
            if r.status == "ok" and r.context:
                for name, keys in self.defs.required_names(r.context):
                    req.append(f"({_q(utype)}, {_q(npath)}, {_q(name)}, {_list(keys)})")
        cols = (
            "utype, npath, status, element, primitive, complex_type, many, maxn, valueset, "
            "choice, ext, ref, targets"
        )
        if values:
            self.temp("paths", f"SELECT * FROM (VALUES {', '.join(values)}) v({cols})")
        else:
            self.temp(
                "paths",
                "SELECT NULL::VARCHAR utype, NULL::VARCHAR npath, NULL::VARCHAR status, "
                "NULL::VARCHAR element, NULL::VARCHAR primitive, NULL::VARCHAR complex_type, "
                "false many, NULL::INTEGER maxn, NULL::VARCHAR valueset, NULL::VARCHAR choice, "
                "false ext, false ref, []::VARCHAR[] targets WHERE false",
            )
        if req:
            self.temp("req", f"SELECT * FROM (VALUES {', '.join(req)}) v(utype, npath, name, keys)")
        else:
            self.temp(
                "req",
                "SELECT NULL::VARCHAR utype, NULL::VARCHAR npath, NULL::VARCHAR name, "
                "[]::VARCHAR[] keys WHERE false",
            )
        used = [
            r[0]
            for r in self.sql(
                f"SELECT DISTINCT valueset FROM {PREFIX}paths WHERE valueset IS NOT NULL"
            )
        ]
        parts = [
            f"SELECT {_q(vs)} AS vs, unnest({_list(self.defs.valuesets[vs])}) AS code"
            for vs in used
            if vs in self.defs.valuesets
        ]
        self.temp(
            "codes",
            " UNION ALL ".join(parts)
            if parts
            else "SELECT NULL::VARCHAR vs, NULL::VARCHAR code WHERE false",
        )
        # (system, code) pairs of the value sets bound to Coding/CodeableConcept elements.
        coded = [
            r[0]
            for r in self.sql(
                f"""SELECT DISTINCT valueset FROM {PREFIX}paths WHERE valueset IS NOT NULL
                    AND complex_type IN ('Coding', 'CodeableConcept')"""
            )
        ]
        pairs = [
            f"({_q(vs)}, {_q(system)}, {_q(code)})"
            for vs in coded
            for system, code in self.defs.coded_valuesets.get(vs, [])
        ]
        self.temp(
            "pairs",
            f"SELECT * FROM (VALUES {', '.join(pairs)}) v(vs, system, code)"
            if pairs
            else "SELECT NULL::VARCHAR vs, NULL::VARCHAR system, NULL::VARCHAR code WHERE false",
        )

    def checks(self) -> list[str]:
        """SELECTs of (uid, kind, severity, code, details, expression)."""
        j = (
            f"{PREFIX}nodes n JOIN {PREFIX}units u USING (uid) "
            f"JOIN {PREFIX}paths p ON p.utype = n.utype AND p.npath = n.npath"
        )
        kids = f"LEFT JOIN {PREFIX}kids k ON k.uid = n.uid AND k.parent = n.nid"
        wrong_json, bad_format = _primitive_sql(self.defs)
        ele1 = _q(f"ele-1: {self.defs.constraints['ele-1']['human']}")
        ext1 = _q(f"ext-1: {self.defs.constraints['ext-1']['human']}")
        ref_re = _q(_reference_regex(self.defs))
        types = _list(self.defs.resources)
        e = _expr()
        out = [
            # The row is not a JSON object at all.
            f"""SELECT uid, 'json', 'error', 'structure', 'the resource is not a JSON object',
                   root FROM {PREFIX}units WHERE jt <> 'OBJECT'""",
            f"""SELECT uid, 'resource_type', 'error', 'structure',
                   CASE WHEN utype IS NULL THEN 'no resourceType'
                        ELSE 'unknown resourceType ''' || utype || ''' (not a FHIR R4 resource)'
                   END,
                   CASE WHEN cidx IS NULL THEN 'resourceType' ELSE root || '.resourceType' END
                FROM {PREFIX}units
                WHERE jt = 'OBJECT' AND (utype IS NULL OR NOT list_contains({types}, utype))""",
            f"""SELECT n.uid, 'unknown_element', 'error', 'structure',
                   'unrecognised element ''' || n.key || ''' in ' || p.element, {e}
                FROM {j} WHERE p.status = 'unknown' AND NOT n.item""",
            # Arrays exactly where the element repeats.
            f"""SELECT n.uid, 'cardinality', 'error', 'structure',
                   CASE WHEN p.many THEN p.element || ' repeats (max *): it must be a JSON array'
                        ELSE p.element || ' has max 1: it must not be an array' END, {e}
                FROM {j}
                WHERE p.status IN ('ok', 'resource') AND NOT n.item AND n.jtype <> 'NULL'
                  AND (p.many <> (n.jtype = 'ARRAY'))""",
            f"""SELECT n.uid, 'cardinality', 'error', 'structure',
                   p.element || ': an array inside an array', {e}
                FROM {j} WHERE p.status IN ('ok', 'resource') AND n.item AND n.jtype = 'ARRAY'""",
            f"""SELECT n.uid, 'cardinality', 'error', 'structure',
                   p.element || ': at most ' || p.maxn || ' allowed, found ' || k.n, {e}
                FROM {j} {kids}
                WHERE p.maxn IS NOT NULL AND n.jtype = 'ARRAY' AND NOT n.item AND k.n > p.maxn""",
            # Required children, satisfied by the element or its _element extension.
            f"""SELECT n.uid, 'cardinality', 'error', 'required',
                   p.element || '.' || r.name || ': minimum required = 1, but only found 0',
                   {e} || '.' || r.name
                FROM {j} JOIN {PREFIX}req r ON r.utype = n.utype AND r.npath = n.npath {kids}
                WHERE n.jtype = 'OBJECT' AND (n.item OR NOT p.many)
                  AND NOT list_has_any(coalesce(k.keys, []::VARCHAR[]), r.keys)""",
            # x and _x arrays of a repeating primitive must line up.
            f"""SELECT n.uid, 'cardinality', 'error', 'structure',
                   p.element || ': the arrays ' || n.key || ' and _' || n.key
                     || ' differ in length', {e}
                FROM {j} {kids}
                JOIN {PREFIX}nodes x ON x.uid = n.uid AND x.parent = n.parent
                  AND x.key = '_' || n.key AND x.jtype = 'ARRAY'
                LEFT JOIN {PREFIX}kids xk ON xk.uid = x.uid AND xk.parent = x.nid
                WHERE p.primitive IS NOT NULL AND n.jtype = 'ARRAY' AND NOT n.item
                  AND coalesce(k.n, 0) <> coalesce(xk.n, 0)""",
            f"""SELECT n.uid, 'choice', 'error', 'structure',
                   'only one type of ' || p.choice || ' may be present, found '
                     || string_agg(DISTINCT ltrim(n.key, '_'), ', ' ORDER BY ltrim(n.key, '_')),
                   min({e})
                FROM {j}
                WHERE p.choice IS NOT NULL AND NOT n.item
                GROUP BY n.uid, n.parent, p.choice
                HAVING count(DISTINCT ltrim(n.key, '_')) > 1""",
            f"""SELECT n.uid, 'format', 'error', 'structure',
                   p.element || ' is a primitive (' || p.primitive || '): a JSON '
                     || CASE n.jtype WHEN 'ARRAY' THEN 'array' ELSE 'object' END
                     || ' is not allowed', {e}
                FROM {j}
                WHERE p.status = 'ok' AND p.primitive IS NOT NULL AND n.jtype = 'OBJECT'""",
            f"""SELECT n.uid, 'format', 'error', 'structure',
                   p.element || ' is a ' || p.complex_type || ': a JSON '
                     || CASE WHEN n.jtype = 'VARCHAR' THEN 'string'
                             WHEN n.jtype = 'BOOLEAN' THEN 'boolean' ELSE 'number' END
                     || ' is not allowed', {e}
                FROM {j}
                WHERE p.status = 'ok' AND p.complex_type IS NOT NULL AND NOT p.ext
                  AND n.jtype NOT IN ('OBJECT', 'ARRAY', 'NULL') AND (n.item OR NOT p.many)""",
            f"""SELECT uid, 'format', 'error', 'value', msg, expr FROM (
                  SELECT n.uid, {e} AS expr,
                    CASE WHEN {wrong_json} THEN p.element || ': a ' || p.primitive
                           || ' must be a JSON '
                           || CASE WHEN p.primitive IN ('boolean') THEN 'boolean'
                                   WHEN p.primitive IN ('integer', 'positiveInt',
                                     'unsignedInt', 'decimal') THEN 'number'
                                   ELSE 'string' END
                         WHEN {bad_format} THEN p.element || ': not a valid ' || p.primitive
                         WHEN p.primitive IN ('date', 'dateTime', 'instant')
                              AND length(v) >= 10 AND TRY_CAST(left(v, 10) AS DATE) IS NULL
                           THEN p.element || ': not a valid ' || p.primitive
                             || ' (no such day)'
                    END AS msg
                  FROM (SELECT n.*, CASE WHEN n.jtype = 'VARCHAR'
                                    THEN json_extract_string(n.atom, '$')
                                    ELSE CAST(n.atom AS VARCHAR) END AS v
                        FROM {PREFIX}nodes n) n
                  JOIN {PREFIX}units u USING (uid)
                  JOIN {PREFIX}paths p ON p.utype = n.utype AND p.npath = n.npath
                  WHERE p.status = 'ok' AND p.primitive IS NOT NULL
                    AND n.jtype NOT IN ('OBJECT', 'ARRAY', 'NULL') AND n.atom <> '""')
                WHERE msg IS NOT NULL""",
            f"""SELECT n.uid, 'empty', 'error', CASE WHEN n.jtype = 'VARCHAR' THEN 'value'
                     ELSE 'structure' END,
                   p.element || CASE n.jtype WHEN 'ARRAY' THEN ': an array must not be empty'
                                  WHEN 'OBJECT' THEN ': an object must not be empty'
                                  ELSE ': a string must not be empty' END, {e}
                FROM {j} {kids}
                WHERE p.status IN ('ok', 'resource')
                  AND ((n.jtype IN ('ARRAY', 'OBJECT') AND k.n IS NULL)
                       OR (n.jtype = 'VARCHAR' AND n.atom = '""'))""",
            # null: only inside an array that a matching x/_x array pairs up.
            f"""SELECT n.uid, 'empty', 'error', 'structure',
                   p.element || ': null is not allowed here', {e}
                FROM {j}
                LEFT JOIN {PREFIX}nodes a ON a.uid = n.uid AND a.nid = n.parent AND n.item
                LEFT JOIN {PREFIX}kids s ON s.uid = n.uid AND s.parent = a.parent
                WHERE p.status = 'ok' AND n.jtype = 'NULL'
                  AND (NOT n.item OR NOT list_contains(coalesce(s.keys, []::VARCHAR[]),
                        CASE WHEN starts_with(a.key, '_') THEN ltrim(a.key, '_')
                             ELSE '_' || a.key END))""",
            f"""SELECT n.uid, 'binding', 'error', 'code-invalid',
                   p.element || ': the code is not in the required value set ' || p.valueset,
                   {e}
                FROM {j}
                WHERE p.status = 'ok' AND p.valueset IS NOT NULL AND n.jtype = 'VARCHAR'
                  AND p.primitive IS NOT NULL AND p.valueset IN (SELECT vs FROM {PREFIX}codes)
                  AND json_extract_string(n.atom, '$') NOT IN
                      (SELECT code FROM {PREFIX}codes c WHERE c.vs = p.valueset)""",
            f"""SELECT n.uid, 'invariant', 'error', 'invariant', {ele1}, {e}
                FROM {j} {kids}
                WHERE p.status = 'ok' AND n.jtype = 'OBJECT' AND k.keys = ['id']""",
            f"""SELECT n.uid, 'invariant', 'error', 'invariant', {ext1}, {e}
                FROM {j} {kids}
                WHERE p.status = 'ok' AND p.complex_type = 'Extension' AND n.jtype = 'OBJECT'
                  AND k.n IS NOT NULL
                  AND list_contains(k.keys, 'extension')
                      = (len(list_filter(k.keys, lambda x: starts_with(ltrim(x, '_'), 'value')))
                         > 0)""",
        ]
        out.append(self._coded_binding(j, e))
        out += self._references(j, e, ref_re)
        out += self._contained(j, e)
        out += self._bundles()
        out.append(
            f"""SELECT uid, 'duplicate_id', 'error', 'duplicate',
                   'resource id already used by ' || first_file || ':' || first_line
                     || ' (same resourceType and id)',
                   root || '.id'
                FROM (SELECT r.rid AS uid, r.resource_type AS root,
                        first_value(r.source_file) OVER w AS first_file,
                        first_value(r.source_line) OVER w AS first_line,
                        row_number() OVER w AS k
                      FROM {PREFIX}rows r SEMI JOIN (
                        SELECT resource_type, id FROM {PREFIX}rows
                        WHERE id IS NOT NULL AND resource_type IS NOT NULL
                        GROUP BY ALL HAVING count(*) > 1) d USING (resource_type, id)
                      WINDOW w AS (PARTITION BY r.resource_type, r.id ORDER BY r.rid))
                WHERE k > 1"""
        )
        return out

    def _coded_binding(self, j: str, e: str) -> str:
        """Required bindings on Coding and CodeableConcept elements (terminologies.html,
        binding strength `required`): a Coding is in the value set when its (system, code)
        pair is; a CodeableConcept when at least one of its codings is (other codings, e.g.
        translations, may sit beside it; text alone is not enough)."""
        nodes = f"{PREFIX}nodes"
        return f"""WITH bound AS (
                  SELECT n.uid, n.nid, p.complex_type AS ct, p.element, p.valueset, {e} AS expr
                  FROM {j}
                  WHERE p.status = 'ok' AND p.complex_type IN ('Coding', 'CodeableConcept')
                    AND n.jtype = 'OBJECT' AND p.valueset IN (SELECT vs FROM {PREFIX}pairs)),
                codings AS (
                  SELECT uid, nid, nid AS cnid, valueset FROM bound WHERE ct = 'Coding'
                  UNION ALL
                  SELECT b.uid, b.nid, c.nid, b.valueset FROM bound b
                  JOIN {nodes} a ON a.uid = b.uid AND a.parent = b.nid AND a.key = 'coding'
                    AND a.jtype = 'ARRAY'
                  JOIN {nodes} c ON c.uid = a.uid AND c.parent = a.nid AND c.jtype = 'OBJECT'
                  WHERE b.ct = 'CodeableConcept'),
                members AS (
                  SELECT DISTINCT k.uid, k.nid FROM codings k
                  JOIN {nodes} s ON s.uid = k.uid AND s.parent = k.cnid AND s.key = 'system'
                    AND s.jtype = 'VARCHAR'
                  JOIN {nodes} c ON c.uid = k.uid AND c.parent = k.cnid AND c.key = 'code'
                    AND c.jtype = 'VARCHAR'
                  JOIN {PREFIX}pairs v ON v.vs = k.valueset
                    AND v.system = json_extract_string(s.atom, '$')
                    AND v.code = json_extract_string(c.atom, '$'))
                SELECT b.uid, 'binding', 'error', 'code-invalid',
                  b.element || CASE b.ct
                    WHEN 'Coding' THEN ': the coding (system and code) is not in the required '
                    ELSE ': no coding (system and code) is in the required ' END
                  || 'value set ' || b.valueset, b.expr
                FROM bound b ANTI JOIN members m USING (uid, nid)"""

    def _references(self, j: str, e: str, ref_re: str) -> list[str]:
        ID = self.defs.primitives["id"]["regex"]  # noqa: N806
        refs = f"""(SELECT n.uid, u.rid, {e} AS expr, p.targets,
                           json_extract_string(n.atom, '$') AS v
                    FROM {j} WHERE p.status = 'ok' AND p.ref AND n.jtype = 'VARCHAR'
                      AND n.atom <> '""')"""
        self.temp("refs", refs)
        r = f"{PREFIX}refs"
        rel_type = (
            f"coalesce(nullif(regexp_extract(v, '(^|/)([A-Z][A-Za-z]+)/{ID}(/_history/{ID})?$', 2),"
            " ''), regexp_extract(v, '^([A-Z][A-Za-z]+)\\?', 1))"
        )
        return [
            f"""SELECT uid, 'reference', 'error', 'value',
                   'not a valid reference (Type/id, an absolute URL, urn:uuid:, urn:oid: or #id)',
                   expr FROM {r} WHERE NOT regexp_full_match(v, {ref_re})""",
            f"""SELECT uid, 'reference', 'error', 'structure',
                   'a reference to ' || t || ' is not allowed here (allowed: '
                     || array_to_string(targets, ', ') || ')', expr
                FROM (SELECT *, {rel_type} AS t FROM {r})
                WHERE t <> '' AND len(targets) > 0 AND NOT list_contains(targets, 'Resource')
                  AND NOT list_contains(targets, t) AND regexp_full_match(v, {ref_re})""",
            # #id: a contained resource of the same resource ('#' alone is the container).
            f"""SELECT r.uid, 'reference_resolution', 'error', 'not-found',
                   'local reference has no contained resource with that id', r.expr
                FROM {r} r
                WHERE starts_with(r.v, '#') AND r.v <> '#' AND NOT EXISTS (
                  SELECT 1 FROM {PREFIX}units c
                  WHERE c.rid = r.rid AND c.cidx IS NOT NULL AND c.j->>'id' = substr(r.v, 2))""",
            # urn:uuid:/urn:oid: name a Bundle entry's fullUrl in the same file.
            f"""SELECT r.uid, 'reference_resolution', 'error', 'not-found',
                   'no Bundle entry in this file has this fullUrl', r.expr
                FROM {r} r JOIN {PREFIX}rows w ON w.rid = r.rid
                WHERE starts_with(r.v, 'urn:') AND NOT EXISTS (
                  SELECT 1 FROM {PREFIX}rows t
                  WHERE t.full_url = r.v AND t.source_file = w.source_file)""",
            # Type?search: resolved by a server in a transaction, never within the data.
            f"""SELECT uid, 'reference_resolution', 'warning', 'not-found',
                   'a conditional reference (Type?search) is not resolved within the data',
                   expr FROM {r} WHERE regexp_full_match(v, '[A-Z][A-Za-z]+\\?.+')""",
            # Type/id: a resource of that type and id in the data (or an entry's fullUrl).
            f"""SELECT r.uid, 'reference_resolution', 'warning', 'not-found',
                   'the referenced resource is not in the data', r.expr
                FROM (SELECT *, regexp_extract(v, '^([A-Z][A-Za-z]+)/({ID})(/_history/.*)?$',
                                               ['t', 'i']) AS ti
                      FROM {r} WHERE regexp_full_match(v, '[A-Z][A-Za-z]+/{ID}(/_history/.*)?')) r
                WHERE NOT EXISTS (SELECT 1 FROM {PREFIX}rows t
                                  WHERE t.resource_type = r.ti.t AND t.id = r.ti.i)
                  AND NOT EXISTS (SELECT 1 FROM {PREFIX}rows t
                                  WHERE t.full_url IS NOT NULL
                                    AND suffix(t.full_url, '/' || r.ti.t || '/' || r.ti.i))""",
        ]

    def _contained(self, j: str, e: str) -> list[str]:
        c = self.defs.constraints
        out = []
        rules = {
            "dom-2": "n.npath = '$.contained'",
            "dom-4": "n.npath IN ('$.meta.versionId', '$.meta.lastUpdated')",
            "dom-5": "n.npath = '$.meta.security'",
        }
        for key, cond in rules.items():
            out.append(
                f"""SELECT n.uid, 'contained', 'error', 'invariant',
                       {_q(f"{key}: {c[key]['human']}")}, {e}
                    FROM {j} WHERE u.cidx IS NOT NULL AND NOT n.item AND {cond}"""
            )
        out.append(
            f"""SELECT u.uid, 'contained', 'error', 'invariant',
                   {_q(f"dom-3: {c['dom-3']['human']}")}, u.root
                FROM {PREFIX}units u
                WHERE u.cidx IS NOT NULL AND u.jt = 'OBJECT' AND NOT EXISTS (
                  SELECT 1 FROM {PREFIX}refs r
                  WHERE r.rid = u.rid AND r.v = '#' || (u.j->>'id'))
                  AND NOT EXISTS (SELECT 1 FROM {PREFIX}refs r WHERE r.uid = u.uid AND r.v = '#')"""
        )
        return out

    def _bundles(self) -> list[str]:
        c = self.defs.constraints

        def text(key: str) -> str:
            return _q(f"{key}: {c[key]['human']}")

        b = f"""(SELECT u.uid, u.root, u.j->>'type' AS btype, u.j FROM {PREFIX}units u
                 WHERE u.utype = 'Bundle' AND u.cidx IS NULL)"""
        entries = f"""(SELECT uid, root, btype, e, i FROM (
                         SELECT uid, root, btype, unnest(es) AS e, unnest(range(len(es))) AS i
                         FROM (SELECT *, json_extract(j, '$.entry[*]') AS es FROM {b})
                         WHERE json_type(j, '$.entry') = 'ARRAY'))"""
        ent = "root || '.entry[' || i || ']'"
        return [
            f"""SELECT uid, 'bundle', 'error', 'invariant', {text("bdl-1")}, root || '.total'
                FROM {b} WHERE btype NOT IN ('searchset', 'history')
                  AND json_exists(j, '$.total')""",
            f"""SELECT uid, 'bundle', 'error', 'invariant', {text("bdl-2")}, {ent} || '.search'
                FROM {entries} WHERE btype <> 'searchset' AND json_exists(e, '$.search')""",
            f"""SELECT uid, 'bundle', 'error', 'invariant', {text("bdl-3")}, {ent} || '.request'
                FROM {entries}
                WHERE (btype IN ('batch', 'transaction', 'history'))
                      <> json_exists(e, '$.request')""",
            f"""SELECT uid, 'bundle', 'error', 'invariant', {text("bdl-4")}, {ent} || '.response'
                FROM {entries}
                WHERE (btype IN ('batch-response', 'transaction-response', 'history'))
                      <> json_exists(e, '$.response')""",
            f"""SELECT uid, 'bundle', 'error', 'invariant', {text("bdl-7")}, {ent} || '.fullUrl'
                FROM (SELECT *, count(*) OVER (PARTITION BY uid, e->>'fullUrl',
                                                e->>'$.resource.meta.versionId') AS k
                      FROM {entries} WHERE json_exists(e, '$.fullUrl'))
                WHERE k > 1""",
            f"""SELECT uid, 'bundle', 'error', 'invariant', {text("bdl-8")}, {ent} || '.fullUrl'
                FROM {entries} WHERE contains(e->>'fullUrl', '/_history/')""",
            f"""SELECT uid, 'bundle', 'warning', 'required',
                   'an entry with a resource should have a fullUrl', {ent} || '.fullUrl'
                FROM {entries}
                WHERE json_exists(e, '$.resource') AND NOT json_exists(e, '$.fullUrl')
                  AND NOT (btype IN ('transaction', 'batch')
                           AND e->>'$.request.method' = 'POST')""",
            f"""SELECT uid, 'bundle', 'error', 'invariant', {text("bdl-9")}, root || '.identifier'
                FROM {b} WHERE btype = 'document' AND (j->>'$.identifier.system' IS NULL
                                                      OR j->>'$.identifier.value' IS NULL)""",
            f"""SELECT uid, 'bundle', 'error', 'invariant', {text("bdl-10")}, root || '.timestamp'
                FROM {b} WHERE btype = 'document' AND j->>'timestamp' IS NULL""",
            f"""SELECT uid, 'bundle', 'error', 'invariant', {text("bdl-11")}, root || '.entry[0]'
                FROM {b} WHERE btype = 'document'
                  AND coalesce(j->>'$.entry[0].resource.resourceType', '') <> 'Composition'""",
        ]

    def run(self) -> Validation:
        self.units()
        self.paths()
        checks = self.checks()
        body = " UNION ALL ".join(f"({c})" for c in checks)
        # uid: a unit; a row's own unit has uid = rid (rows not walked have no unit).
        self.temp(
            "found",
            f"""SELECT coalesce(u.rid, f.uid) AS rid, f.* FROM ({body})
                  f(uid, kind, severity, code, details, expr)
                LEFT JOIN {PREFIX}units u ON u.uid = f.uid""",
        )
        issues_sql = f"""
            SELECT f.severity, f.code, f.details, f.expr, f.kind, r.resource_type, r.id,
                   r.source_file, r.source_line, r.source_entry
            FROM {PREFIX}found f JOIN {PREFIX}rows r ON r.rid = f.rid
            ORDER BY r.rid, f.uid DESC, f.expr, f.kind, f.details"""
        issues = [FhirIssue(*row) for row in self.sql(issues_sql)]
        counts = self.sql(
            f"""SELECT f.kind, coalesce(r.resource_type, '(none)'), count(DISTINCT r.rid),
                       min(CASE f.severity WHEN 'fatal' THEN 0 WHEN 'error' THEN 1
                                WHEN 'warning' THEN 2 ELSE 3 END)
                FROM {PREFIX}found f JOIN {PREFIX}rows r ON r.rid = f.rid GROUP BY ALL"""
        )
        failing = {(k, t): (int(n), SEVERITIES[int(s)]) for k, t, n, s in counts}
        totals = self.sql(
            f"SELECT coalesce(resource_type, '(none)'), count(*) FROM {PREFIX}rows GROUP BY ALL"
        )
        walked = self.sql(f"SELECT count(*) FROM {PREFIX}walk")[0][0]
        return Validation(issues, failing, {t: int(n) for t, n in totals}, int(walked))


def validate_fhir(engine: Any, table: str = "fhir_resources") -> list[FhirIssue]:
    """OperationOutcome issues of every resource in `table` (the fhir_resources contract)."""
    return validate(engine, table).issues


def validate(
    engine: Any,
    table: str = "fhir_resources",
    *,
    screen: bool = True,
    sample_rows: int = SAMPLE_ROWS,
    definitions: Definitions | None = None,
) -> Validation:
    """Validate `table` on `engine` (DuckDB): issues, and counts for rule results.

    `screen` (validate_screen.py) walks only the resources a fast pass flags; the issues are
    the same either way (tests/fhir/test_validate*.py run both). `sample_rows` per resource
    type give the structure the screen parses into. `definitions` default to the packaged R4
    core definitions (`healthdq.fhir.definitions.load()`).
    """
    if getattr(engine, "name", None) != "duckdb":
        raise HealthdqError("FHIR validation runs on the DuckDB engine (--engine duckdb)")
    run = _Run(engine, table, definitions or load(), screen, sample_rows)
    try:
        return run.run()
    finally:
        run.close()


# -- results for the pipeline ------------------------------------------------------------------
RULE_SEVERITY = {"fatal": "fatal", "error": "error", "warning": "warning", "information": "info"}
READ_RULE = "fhir.json"


def rule_results(
    validation: Validation, read_issues: list[Any], sample_size: int
) -> list[RuleResult]:
    """One RuleResult per check kind per resourceType present (violating = resources with at
    least one issue of that kind), plus one for the lines and entries the reader skipped.
    Samples name the file, line and element, never a value."""
    from healthdq.results import RuleResult, Sample
    from healthdq.results.status import decide

    samples: dict[tuple[str, str], list[Sample]] = {}
    for issue in validation.issues:
        key = (issue.kind, issue.resource_type or "(none)")
        got = samples.setdefault(key, [])
        if len(got) < sample_size:
            got.append(
                Sample(
                    row=issue.source_line,
                    values={
                        "file": issue.source_file,
                        "entry": issue.source_entry,
                        "expression": issue.expression,
                        "severity": issue.severity,
                        "code": issue.code,
                        "details": issue.details,
                    },
                )
            )
    rules: list[RuleResult] = []
    skipped = [i for i in read_issues if not getattr(i, "kept", False)]
    total = sum(validation.resources.values())
    status, pct = decide(len(skipped), total + len(skipped), 0.0)
    rules.append(
        RuleResult(
            rule_id=READ_RULE,
            table="fhir_resources",
            kind="fhir_json",
            description="Every line, entry and file is a readable JSON object (FHIR JSON)",
            columns=["resource"],
            category="conformance",
            context="verification",
            dimension="validity",
            severity="error",
            status=status,
            violating_rows=len(skipped),
            denominator=total + len(skipped),
            pct_violating=pct,
            samples=[
                Sample(row=i.line, values={"file": i.file, "entry": i.entry, "details": i.message})
                for i in skipped[:sample_size]
            ],
        )
    )
    for rtype, n in sorted(validation.resources.items()):
        for kind, (title, category, dimension) in KINDS.items():
            failing, worst = validation.failing.get((kind, rtype), (0, "error"))
            status, pct = decide(failing, n, 0.0)
            rules.append(
                RuleResult(
                    rule_id=f"fhir.{kind}.{rtype}",
                    table=rtype,
                    kind=f"fhir_{kind}",
                    description=f"{rtype}: {title} (FHIR R4 core definitions)",
                    columns=["resource"],
                    category=category,
                    context="verification",
                    dimension=dimension,
                    severity=RULE_SEVERITY[worst] if failing else _default_severity(kind),
                    status=status,
                    violating_rows=failing,
                    denominator=n,
                    pct_violating=pct,
                    samples=samples.get((kind, rtype), []),
                )
            )
    return rules


def _default_severity(kind: str) -> str:
    return "warning" if kind == "reference_resolution" else "error"


def outcomes(issues: list[FhirIssue]) -> list[dict[str, Any]]:
    """One OperationOutcome per resource with issues, in the order found. Resource ids are left
    out (they can be identifiers); file, line and entry say where the resource is."""
    grouped: dict[tuple[Any, ...], list[FhirIssue]] = {}
    for issue in issues:
        key = (issue.source_file, issue.source_line, issue.source_entry, issue.resource_type)
        grouped.setdefault(key, []).append(issue)
    return [
        {"resourceType": "OperationOutcome", "issue": [i.to_outcome_issue() for i in group]}
        for group in grouped.values()
    ]


def read_issue(issue: Any) -> FhirIssue:
    """A line, entry or file the reader skipped (healthdq.fhir.read.FhirReadIssue) as an issue."""
    return FhirIssue(
        severity="error",
        code="structure",
        details=issue.message,
        expression=None,
        kind="json",
        resource_type=None,
        id=None,
        source_file=issue.file,
        source_line=issue.line,
        source_entry=issue.entry,
    )


def write_outcome(issues: list[FhirIssue], path: Any) -> None:
    """Write the OperationOutcomes as NDJSON (one resource's issues a line)."""
    import json
    from pathlib import Path

    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as f:
        for outcome in outcomes(issues):
            f.write(json.dumps(outcome, ensure_ascii=False, separators=(",", ":")) + "\n")
