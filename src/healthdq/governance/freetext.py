"""Free-text de-identification: find identifiers in clinical notes and replace them with tags.

The built-in detector is a chain of regular expressions run as SQL in the engine (DuckDB or
Spark), one `REGEXP_REPLACE` per entity type over the column, innermost first. NHS numbers are
found by pattern and then kept only when the Modulus 11 check digit holds, with healthdq's own
NHS number validator (validators/nhs_number.py) as the predicate of a list filter, so a random
10-digit number is left alone. Names and addresses have no checksum: they are found by cue
words (titles such as "Mr", "Dr"; "seen by", "wife", "Name:"; house number + street type), and
a name with no cue is missed (the measured recall in docs/governance.md says how often).

    redact_sql("notes", "duckdb")  ->  a SQL expression giving the redacted text

Replacement tags: [NHS_NUMBER] [EMAIL] [NI_NUMBER] [PHONE] [POSTCODE] [DATE] [ADDRESS] [NAME].
A title or cue word is kept ("Dr [NAME]"), so the note still reads.

Engine differences are data (`TextDialect`), not branches: how to replace every match, how a
back-reference is written, and the list filter/fold used for the checksum step.

Every pattern is in the common subset of RE2 (DuckDB) and java.util.regex (Spark): no
look-around, `\\b` word boundaries, `(?i)` for case-insensitive entities.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel
from sqlglot import exp

from healthdq.errors import HealthdqError
from healthdq.results import AuditRef
from healthdq.sources.base import quote_ident
from healthdq.validators import nhs_number, postcode


@dataclass(frozen=True)
class TextDialect:
    """How one engine spells the few functions the redaction chain needs."""

    name: str
    # Replace every match: {text} {pattern} {replacement} are SQL expressions.
    replace_all: str
    # A back-reference to capture group 1 inside a replacement string.
    group1: str
    # Every match of {pattern} in {text} (whole match), as an array.
    extract_all: str
    # Keep the elements {var} of {items} for which {predicate} holds.
    filter: str
    # Fold {items} into {init}, replacing each element {var} in the accumulator {acc} by {tag}.
    replace_each: str


DIALECTS: dict[str, TextDialect] = {
    "duckdb": TextDialect(
        name="duckdb",
        replace_all="REGEXP_REPLACE({text}, {pattern}, {replacement}, 'g')",
        group1="\\1",
        extract_all="REGEXP_EXTRACT_ALL({text}, {pattern})",
        filter="LIST_FILTER({items}, lambda {var}: {predicate})",
        replace_each=(
            "LIST_REDUCE({items}, lambda {acc}, {var}: REPLACE({acc}, {var}, {tag}), {init})"
        ),
    ),
    "spark": TextDialect(
        name="spark",
        replace_all="REGEXP_REPLACE({text}, {pattern}, {replacement})",
        group1="$1",
        # Spark's default group is 1: ask for the whole match.
        extract_all="REGEXP_EXTRACT_ALL({text}, {pattern}, 0)",
        filter="FILTER({items}, {var} -> {predicate})",
        replace_each="AGGREGATE({items}, {init}, ({acc}, {var}) -> REPLACE({acc}, {var}, {tag}))",
    ),
}

_MONTH = (
    "(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?"
    "|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)"
)
_ORD = "(?:st|nd|rd|th)?"
# A capitalised word as names are written (O'Neil, Smith-Jones, McDonald).
_WORD = "[A-Z][a-z]+(?:['-][A-Z]?[a-z]+)?"
_NAME = f"(?:[A-Z]\\.? )?{_WORD}(?: {_WORD})?"
_STREET_TYPES = (
    "Road|Street|Lane|Avenue|Close|Drive|Way|Crescent|Court|Place|Gardens|Terrace|Grove|Hill"
    "|Park|Square|Row|Walk|Mews|Rise|View|Green|Parade|Boulevard|Rd|St|Ave|Ln|Dr|Cres|Ct|Pl|Gdns"
)
_TITLES = "Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Professor|Sister|Nurse|Rev|Sir|Dame|Lady|Lord"
_CUES = (
    "[Pp]atient|[Pp]t|[Nn]ame|NOK|[Nn]ext of kin|[Ss]een by|[Rr]eviewed by|[Rr]eferred by"
    "|[Dd]iscussed with|[Ss]poke (?:to|with)|[Ww]ife|[Hh]usband|[Dd]aughter|[Ss]on|[Mm]other"
    "|[Ff]ather|[Pp]artner|[Bb]rother|[Ss]ister|[Cc]arer|[Ff]riend|GP|[Cc]onsultant|[Ss]igned"
    "|[Ss]igned by|[Cc]ontact|[Nn]eighbour|[Mm]um|[Dd]ad|[Cc]opied to|cc"
)
# National Insurance number (HMRC NIM39110): prefix letters D F I Q U V never; O never second;
# BG GB KN NK NT TN ZZ never allocated. Spelled out as classes because RE2 has no look-ahead.
_NINO_PREFIX = (
    "(?:[ACEHJLMOPRSWXY][A-CEGHJ-NPR-TW-Z]|B[A-CEHJ-NPR-TW-Z]|G[ACEGHJ-NPR-TW-Z]"
    "|K[A-CEGHJ-MPR-TW-Z]|N[A-CEGHJL-NPRSW-Z]|T[A-CEGHJ-MPR-TW-Z]|Z[A-CEGHJ-NPR-TW-Y])"
)


@dataclass(frozen=True)
class Entity:
    """One kind of identifier: its tag name, the pattern of the identifier itself (`body`), and
    an optional `cue` pattern before it that must be present and is kept ("Dr [NAME]")."""

    name: str
    body: str
    cue: str | None = None

    @property
    def pattern(self) -> str:
        return self.body if self.cue is None else f"\\b({self.cue}){self.body}"


# In the order applied, innermost first. NHS numbers first (the checksum step repeats its input
# text, which is then only the column), emails before anything that could match inside one,
# dates before phone numbers, names last (their cue words must not have been replaced).
# A number after a +44/0044 prefix is a phone number: the prefix is taken into the candidate,
# which then fails the validator's whole-value format test and is left for the PHONE step.
NHS_NUMBER = Entity(
    "NHS_NUMBER", f"(?:(?:\\+|\\b00)44[ -]?(?:\\(0\\)[ -]?)?)?\\b{nhs_number.SEPARATED}\\b"
)
_TITLE = f"(?:{_TITLES})\\.? "
ENTITIES: tuple[Entity, ...] = (
    NHS_NUMBER,
    Entity("EMAIL", "[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\\.[A-Za-z0-9-]+)*\\.[A-Za-z]{2,}"),
    Entity(
        "NI_NUMBER",
        f"(?i)\\b{_NINO_PREFIX}[ -]?[0-9]{{2}}[ -]?[0-9]{{2}}[ -]?[0-9]{{2}}[ -]?[A-D]\\b",
    ),
    Entity(
        "DATE",
        "(?i)\\b(?:[0-3]?[0-9][/.-][01]?[0-9][/.-](?:19|20)?[0-9]{2}"
        "|(?:19|20)[0-9]{2}[/.-][01]?[0-9][/.-][0-3]?[0-9]"
        f"|[0-3]?[0-9]{_ORD}(?: of)?[ -]{_MONTH}\\.?,?[ -](?:19|20)[0-9]{{2}}"
        f"|{_MONTH}\\.? [0-3]?[0-9]{_ORD},? (?:19|20)[0-9]{{2}})\\b",
    ),
    Entity(
        "PHONE",
        "(?:(?:\\+|\\b00)44[ -]?(?:\\(0\\)[ -]?)?|\\(0|\\b0)[1-9](?:[ -]?\\)?[ -]?[0-9]){8,9}\\b",
    ),
    Entity("POSTCODE", f"(?i)\\b(?:{postcode.PATTERN})\\b"),
    Entity(
        "ADDRESS",
        f"\\b(?:(?:Flat|Apartment|Unit) [0-9]+[A-Za-z]?,? )?[0-9]{{1,4}}[A-Za-z]?,? "
        f"(?:{_WORD} ){{1,3}}(?:{_STREET_TYPES})\\b\\.?(?:, {_WORD}(?: {_WORD})?)?",
    ),
    # After a title, or a cue word (and an optional title): "Mr Smith", "seen by Dr A. Patel".
    Entity("NAME", _NAME, cue=f"{_TITLE}|(?:{_CUES})(?: is| was)?:? (?:{_TITLE})?"),
    # "Name: SMITH, John"
    Entity("NAME", f"[A-Z]{{2,}}, {_WORD}", cue="(?:Name|Patient|Pt):? "),
)
ENTITY_TYPES: tuple[str, ...] = tuple(dict.fromkeys(e.name for e in ENTITIES))

_VAR, _ACC = "hdq_c", "hdq_acc"


def tag(entity: str) -> str:
    return f"[{entity}]"


def _dialect(dialect: object) -> TextDialect:
    """A TextDialect from a name ("duckdb", "spark") or anything with a `.dialect` name."""
    name = dialect if isinstance(dialect, str) else getattr(dialect, "dialect", None)
    found = DIALECTS.get(str(name).lower())
    if found is None:
        raise HealthdqError(
            f"free-text redaction has no SQL for dialect '{name}' (one of: {', '.join(DIALECTS)})"
        )
    return found


def _string(value: str, d: TextDialect) -> str:
    """A SQL string literal for the dialect (Spark doubles backslashes)."""
    return exp.Literal.string(value).sql(dialect=d.name)


def _checked(text: str, entity: Entity, predicate: str, d: TextDialect) -> str:
    """Replace the matches of `entity` for which `predicate` (over _VAR) holds."""
    pattern = _string(entity.pattern, d)
    found = d.extract_all.format(text=text, pattern=pattern)
    kept = d.filter.format(items=found, var=_VAR, predicate=predicate)
    return d.replace_each.format(
        items=kept, acc=_ACC, var=_VAR, tag=_string(tag(entity.name), d), init=text
    )


def _replaced(text: str, entity: Entity, d: TextDialect) -> str:
    replacement = ("" if entity.cue is None else d.group1) + tag(entity.name)
    return d.replace_all.format(
        text=text, pattern=_string(entity.pattern, d), replacement=_string(replacement, d)
    )


def redact_sql(expr: str, dialect: object, entities: tuple[str, ...] | None = None) -> str:
    """A SQL expression (for `dialect`: "duckdb" or "spark", or an engine) giving the text of
    `expr` with every identifier found replaced by its tag; NULL stays NULL.

    `entities` limits the types redacted (default: all of ENTITY_TYPES).
    """
    d = _dialect(dialect)
    wanted = set(ENTITY_TYPES if entities is None else entities)
    unknown = wanted - set(ENTITY_TYPES)
    if unknown:
        raise HealthdqError(
            f"unknown entity type(s) {', '.join(sorted(unknown))} "
            f"(one of: {', '.join(ENTITY_TYPES)})"
        )
    text = expr
    for entity in ENTITIES:
        if entity.name not in wanted:
            continue
        if entity is NHS_NUMBER:
            predicate = nhs_number.build(exp.column(_VAR)).sql(dialect=d.name)
            text = _checked(text, entity, predicate, d)
        else:
            text = _replaced(text, entity, d)
    return text


# -- the redact job's result -------------------------------------------------------------------
DETECTORS = ("builtin", "presidio")


class RedactResult(BaseModel):
    """What `healthdq redact` did (no data): where from and to, which columns, how."""

    source: str
    output: str
    rows: int
    columns: list[str]
    detector: str
    engine: str
    format: str
    seconds: float = 0.0
    # National data opt-out: the file and the records removed, as published (1-7 shown as *).
    opt_out_file: str | None = None
    opted_out: str | None = None
    audit: AuditRef | None = None


def select_sql(table: str, columns: dict[str, str], redact: dict[str, str]) -> str:
    """SELECT every column of `table` in order, those in `redact` (column -> SQL) replaced."""
    out = [f"{redact[c]} AS {quote_ident(c)}" if c in redact else quote_ident(c) for c in columns]
    return f"SELECT {', '.join(out)} FROM {quote_ident(table)}"
