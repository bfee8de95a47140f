"""The contract schema: datasets, tables, columns and rules, validated by pydantic.

A contract is YAML (see docs/contracts.md). Every rule carries the metadata that scoring and
reporting need: a Kahn category and context (as in OHDSI DQD), a DQMI dimension, a severity and
a threshold (the % of violating rows tolerated; 0 means any violation fails, DQD semantics).
"""

from __future__ import annotations

import re
from datetime import date
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class Severity(StrEnum):
    fatal = "fatal"
    error = "error"
    warning = "warning"
    info = "info"

    @property
    def rank(self) -> int:
        return {"fatal": 3, "error": 2, "warning": 1, "info": 0}[self.value]


class KahnCategory(StrEnum):
    conformance = "conformance"
    completeness = "completeness"
    plausibility = "plausibility"


class KahnContext(StrEnum):
    verification = "verification"
    validation = "validation"


class Dimension(StrEnum):
    """DQMI dimensions (NHS England Data Quality Maturity Index)."""

    coverage = "coverage"
    completeness = "completeness"
    validity = "validity"
    default = "default"
    # Rules outside the four DQMI dimensions (uniqueness, cross-field plausibility...)
    other = "other"


# A relative bound reaches at most this far from the run date, so it resolves to a real date
# for any run date (years 1..9999) a contract could be judged against.
MAX_RELATIVE = {"d": 366_000, "m": 12_000, "y": 1_000}
_RELATIVE = re.compile(r"today(?:([+-])(\d{1,9})([dmy]))?")


def check_date_bound(value: str) -> None:
    """Refuse a date bound that is neither ISO nor today[+-]N(d|m|y) within MAX_RELATIVE."""
    text = value.strip().lower().replace(" ", "")
    if text.startswith("today"):
        found = _RELATIVE.fullmatch(text)
        if not found:
            raise ValueError(f"bad relative date '{value}' (use e.g. today-120y, today+7d)")
        if found.group(2) and int(found.group(2)) > MAX_RELATIVE[found.group(3)]:
            limit = MAX_RELATIVE[found.group(3)]
            raise ValueError(
                f"relative date '{value}' is out of range (at most {limit}{found.group(3)})"
            )
        return
    try:
        date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"bad date '{value}' (use YYYY-MM-DD or today-120y)") from None


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", use_enum_values=False)


# Defaults of metadata by rule kind, so a short rule in YAML is still fully described.
KIND_DEFAULTS: dict[str, tuple[KahnCategory, KahnContext, Dimension]] = {
    "not_null": (KahnCategory.completeness, KahnContext.verification, Dimension.completeness),
    "type": (KahnCategory.conformance, KahnContext.verification, Dimension.validity),
    "allowed_values": (KahnCategory.conformance, KahnContext.verification, Dimension.validity),
    "regex": (KahnCategory.conformance, KahnContext.verification, Dimension.validity),
    "length": (KahnCategory.conformance, KahnContext.verification, Dimension.validity),
    "range": (KahnCategory.plausibility, KahnContext.verification, Dimension.validity),
    "date_range": (KahnCategory.plausibility, KahnContext.verification, Dimension.validity),
    "validator": (KahnCategory.conformance, KahnContext.verification, Dimension.validity),
    "unique": (KahnCategory.plausibility, KahnContext.verification, Dimension.other),
    "compare": (KahnCategory.plausibility, KahnContext.verification, Dimension.other),
    "foreign_key": (KahnCategory.conformance, KahnContext.verification, Dimension.validity),
    "row_count": (KahnCategory.completeness, KahnContext.validation, Dimension.coverage),
    "freshness": (KahnCategory.plausibility, KahnContext.validation, Dimension.coverage),
    "default_value": (KahnCategory.plausibility, KahnContext.validation, Dimension.default),
    "sql": (KahnCategory.plausibility, KahnContext.verification, Dimension.other),
    # A valid code used outside the period it was in force: its own finding, not invalidity.
    "code_era": (KahnCategory.conformance, KahnContext.verification, Dimension.other),
}


class RuleBase(Strict):
    id: str = Field(pattern=r"^[A-Za-z0-9_.:\-]+$")
    description: str = ""
    category: KahnCategory | None = None
    subcategory: str | None = None  # e.g. value, relational, computational, temporal, atemporal
    context: KahnContext | None = None
    dimension: Dimension | None = None
    severity: Severity = Severity.error
    threshold: float = Field(default=0.0, ge=0, le=100)
    # Conditional rule: the rule applies only to rows where this SQL predicate holds.
    when: str | None = None
    # Source line in the YAML file; filled by the loader, used in error messages.
    line: int | None = Field(default=None, exclude=True)

    @model_validator(mode="after")
    def _fill_defaults(self) -> RuleBase:
        kind = getattr(self, "kind", None)
        if kind in KIND_DEFAULTS:
            cat, ctx, dim = KIND_DEFAULTS[kind]
            if self.category is None:
                self.category = cat
            if self.context is None:
                self.context = ctx
            if self.dimension is None:
                self.dimension = dim
        return self

    @property
    def columns_used(self) -> list[str]:
        cols: list[str] = []
        for name in ("column", "left", "right"):
            value = getattr(self, name, None)
            if isinstance(value, str):
                cols.append(value)
        cols.extend(getattr(self, "columns", None) or [])
        return cols


class ColumnRule(RuleBase):
    column: str


class CodeListRule(ColumnRule):
    """A rule holding a list of codes in `values`."""

    @field_validator("values", mode="before", check_fields=False)
    @classmethod
    def _as_strings(cls, v: Any) -> Any:
        # Codes are text: YAML reads an unquoted 01 as 1, so list items are kept as strings.
        if isinstance(v, list):
            return [str(x) for x in v]
        return v


class NotNullRule(ColumnRule):
    kind: Literal["not_null"]
    # Treat blank strings (after trimming) as missing, as DQMI completeness does.
    blank_is_null: bool = True


class TypeRule(ColumnRule):
    kind: Literal["type"]
    type: Literal["integer", "decimal", "date", "timestamp", "boolean", "string"]
    format: str | None = None  # strptime format for date/timestamp held as text


class AllowedValuesRule(CodeListRule):
    kind: Literal["allowed_values"]
    values: list[str] | None = None
    value_set: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> AllowedValuesRule:
        if (self.values is None) == (self.value_set is None):
            raise ValueError("give exactly one of 'values' or 'value_set'")
        return self


class RegexRule(ColumnRule):
    kind: Literal["regex"]
    pattern: str


class LengthRule(ColumnRule):
    kind: Literal["length"]
    min: int | None = Field(default=None, ge=0)
    max: int | None = Field(default=None, ge=0)


class RangeRule(ColumnRule):
    kind: Literal["range"]
    min: float | None = None
    max: float | None = None


class DateRangeRule(ColumnRule):
    kind: Literal["date_range"]
    # ISO dates, or 'today' / 'today-120y' / 'today+1d' relative to the run date.
    min: str | None = None
    max: str | None = None

    @field_validator("min", "max", mode="before")
    @classmethod
    def _date_bound(cls, v: Any) -> Any:
        # YAML reads an unquoted 2020-01-01 as a date: keep it as the ISO text it was.
        if isinstance(v, date):
            return v.isoformat()
        if isinstance(v, str):
            check_date_bound(v)
        return v


class CodeEraRule(ColumnRule):
    """A code of `value_set` must be in force at the record's date (`date_column`), or at
    `as_of`, or at the contract's data_standard_date, or at the run date."""

    kind: Literal["code_era"]
    value_set: str
    date_column: str | None = None
    as_of: date | None = None

    @property
    def columns_used(self) -> list[str]:
        return [self.column] + ([self.date_column] if self.date_column else [])


class ValidatorRule(ColumnRule):
    kind: Literal["validator"]
    validator: str


class UniqueRule(RuleBase):
    kind: Literal["unique"]
    columns: list[str] = Field(min_length=1)


class CompareRule(RuleBase):
    kind: Literal["compare"]
    left: str
    op: Literal["<", "<=", ">", ">=", "=", "!="]
    right: str


class ForeignKeyRule(ColumnRule):
    kind: Literal["foreign_key"]
    ref_table: str
    ref_column: str


class RowCountRule(RuleBase):
    kind: Literal["row_count"]
    min: int | None = Field(default=None, ge=0)
    max: int | None = Field(default=None, ge=0)


class FreshnessRule(ColumnRule):
    kind: Literal["freshness"]
    max_age_days: int = Field(ge=0)


class DefaultValueRule(CodeListRule):
    kind: Literal["default_value"]
    values: list[str]


class SqlRule(RuleBase):
    kind: Literal["sql"]
    # A row passes when this predicate is TRUE; FALSE counts as a violation, NULL as not applicable.
    predicate: str
    columns: list[str] = Field(default_factory=list)
    # Rows counted in the denominator (SQL predicate; 'TRUE' = every row). Unset: rows where the
    # predicate is not NULL. With it, a NULL predicate on a counted row is not a violation.
    denominator: str | None = None


Rule = Annotated[
    NotNullRule
    | TypeRule
    | AllowedValuesRule
    | RegexRule
    | LengthRule
    | RangeRule
    | DateRangeRule
    | CodeEraRule
    | ValidatorRule
    | UniqueRule
    | CompareRule
    | ForeignKeyRule
    | RowCountRule
    | FreshnessRule
    | DefaultValueRule
    | SqlRule,
    Field(discriminator="kind"),
]

RULE_KINDS: tuple[str, ...] = tuple(KIND_DEFAULTS)


def _markers(v: Any) -> Any:
    """Markers are text, compared after trimming spaces and tabs (as extracts pad them)."""
    if v is None:
        return []
    if isinstance(v, list):
        return list(dict.fromkeys(str(x).strip(" \t") for x in v))
    return v


class ColumnParts(Strict):
    """A timestamp column an extract splits into a date field and a time field."""

    date: list[str] = Field(min_length=1)
    time: list[str] = Field(min_length=1)


class ColumnSpec(Strict):
    """What a column holds; identifiers are masked in outputs."""

    description: str = ""
    # nhs_number | postcode | date_of_birth | name | address | local_id | none
    identifier: str | None = None
    # Values that mean "missing" (HES '&' not known, '-' not applicable): counted as missing by
    # not_null, as defaults by default_value, and never judged by validity rules.
    missing: list[str] = Field(default_factory=list)
    # Other names the column is known by in extracts (HES, SUS, ECDS), matched case-insensitively.
    aliases: list[str] = Field(default_factory=list)
    # Or the fields it is split into (HES A&E ARRIVALDATE + ARRIVALTIME): composed when the
    # source has neither the column nor an alias of it (sources/compose.py).
    parts: ColumnParts | None = None
    # How a text date column writes its dates: ISO, YYYYMMDD, DD/MM/YYYY, MMYYYY, YYYY-MM... or a
    # strptime pattern. Unset: detected from the data when a date rule reads the column.
    format: str | None = None

    @field_validator("format")
    @classmethod
    def _known_format(cls, v: str | None) -> str | None:
        if v is not None:
            from healthdq.rules.dateformats import strptime_of

            strptime_of(v)  # ValueError names the formats it knows
        return v

    @field_validator("missing", mode="before")
    @classmethod
    def _trim_markers(cls, v: Any) -> Any:
        return _markers(v)


class TableSpec(Strict):
    source: str | None = None
    # The table is this SQL-on-FHIR view of FHIR data (a built-in or UK Core view name,
    # healthdq.fhir.ukcore.view_names()): DATA is then read as FHIR and flattened (docs/fhir.md).
    fhir_view: str | None = None
    description: str = ""
    columns: dict[str, ColumnSpec] = Field(default_factory=dict)
    # Missing-value markers for every text column of the table (a column adds its own).
    missing: list[str] = Field(default_factory=list)
    rules: list[Rule] = Field(default_factory=list)
    group_by: list[str] = Field(default_factory=list)

    @field_validator("missing", mode="before")
    @classmethod
    def _trim_markers(cls, v: Any) -> Any:
        return _markers(v)


class Contract(Strict):
    """A dataset contract: tables and their rules."""

    name: str
    version: str = "1"
    description: str = ""
    # Small-number suppression in by-group outputs (NHS statistical disclosure control).
    small_number: int = Field(default=7, ge=0)
    # Identifiable data: every table of counts gets the `suppression` policy (hes, round5,
    # threshold:N) with secondary suppression (governance/suppression.py).
    identifiable: bool = False
    suppression: str = "hes"
    run_date: date | None = None
    # The date code sets are judged at when a code_era rule names no date column.
    data_standard_date: date | None = None
    tables: dict[str, TableSpec] = Field(min_length=1)
    # Where the contract came from, for error messages.
    path: str | None = Field(default=None, exclude=True)

    @model_validator(mode="after")
    def _unique_rule_ids(self) -> Contract:
        seen: set[str] = set()
        for table in self.tables.values():
            for rule in table.rules:
                if rule.id in seen:
                    raise ValueError(f"duplicate rule id '{rule.id}'")
                seen.add(rule.id)
        return self
