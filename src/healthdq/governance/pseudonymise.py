"""Pseudonymisation compiled to one SQL SELECT per table, run by the engine (docs/governance.md).

A config maps each column to a method. Every method is a SQL expression over the row, so the
engine reads, transforms and writes the table in one pass (COPY ... TO on DuckDB, a DataFrame
write on Spark) with no Python per row.

Tokens are keyed HMAC-SHA256 (RFC 2104). Neither DuckDB nor Spark has a keyed HMAC, but both
hash binary strings with SHA-256, which is all HMAC needs:

    HMAC(K, m) = SHA256((K' xor opad) || SHA256((K' xor ipad) || m))

with K' the key padded with zeros to the 64-byte block (a longer key is hashed first). The two
padded keys are computed here and given to the engine as a one-row relation of binary columns
(`Engine.register_secret`), never as literals: the key is not in any SQL text, plan or message.
tests/governance/test_pseudonymise_hmac.py checks the SQL against RFC 4231's test vectors and
Python's hmac module on both engines.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)

from healthdq.errors import ContractError, HealthdqError
from healthdq.sources.base import quote_ident, quote_literal

KEY_ENV = "HEALTHDQ_KEY_FILE"
MIN_KEY_BYTES = 32
BLOCK = 64  # SHA-256's block size in bytes
SECRET = "__hdq_key"
IPAD, OPAD = "__hdq_ipad", "__hdq_opad"  # token key, padded
# The first (inner) pass of the patient's HMAC, hex: shared by the patient's token and date shift.
PATIENT_INNER = "__hdq_pin"
_KEY_ID_LABEL = b"healthdq pseudonymisation key id"

# method name -> whether it takes an argument (METHOD:ARG)
METHODS: dict[str, bool] = {
    "token": False,
    "drop": False,
    "keep": False,
    "year": False,
    "age_band": False,
    "age_at": True,
    "postcode_district": False,
    "postcode_sector": False,
    "month": False,
    "date_shift": False,
    "top_code": True,
    "bottom_code": True,
    "redact_text": False,
}
DATE_METHODS = ("year", "age_band", "age_at", "month", "date_shift")

# Postcodes (validators/postcode.py): outward code, then the sector digit, then the unit. NHS
# pseudo-postcodes ZZ99 keep their district.
_OUTWARD = (
    "[A-PR-UWYZ](?:[0-9][0-9]?|[A-HK-Y][0-9][0-9]?|[0-9][A-HJKPSTUW]|[A-HK-Y][0-9][ABEHMNPRVWXY])"
)
POSTCODE_PARTS = f"^(ZZ99|{_OUTWARD})([0-9])[A-Z]{{2}}$"


class KeyError_(HealthdqError):  # noqa: N801 - KeyError is a builtin
    """The pseudonymisation key is missing, unreadable or too short (never shows the key)."""


# -- the key -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class PseudonymKey:
    """A project key (>= 32 bytes). repr and str never show it."""

    raw: bytes = field(repr=False)

    def __str__(self) -> str:
        return f"PseudonymKey(id {self.key_id})"

    @property
    def key_id(self) -> str:
        """A name for the key revealing nothing of it: a truncated HMAC of a fixed label."""
        return hmac.new(self.raw, _KEY_ID_LABEL, hashlib.sha256).hexdigest()[:16]

    def token(self, value: str) -> str:
        """The token of an already normalised value (what the SQL computes), for tests."""
        return hmac.new(self.raw, value.encode("utf-8"), hashlib.sha256).hexdigest()

    def secret_row(self) -> dict[str, bytes]:
        """The two padded keys of HMAC, for `Engine.register_secret`."""
        ipad, opad = hmac_pads(self.raw)
        return {IPAD: ipad, OPAD: opad}

    def shift(self, value: str, days: int) -> int:
        """The date shift of an already normalised patient number (what the SQL computes)."""
        ipad, _ = hmac_pads(self.raw)
        inner = hashlib.sha256(ipad + value.encode("utf-8")).hexdigest()
        return int(inner[:6], 16) % (2 * days + 1) - days


def hmac_pads(key: bytes) -> tuple[bytes, bytes]:
    """(K' xor ipad, K' xor opad) of RFC 2104 for SHA-256."""
    if len(key) > BLOCK:
        key = hashlib.sha256(key).digest()
    padded = key.ljust(BLOCK, b"\0")
    return bytes(b ^ 0x36 for b in padded), bytes(b ^ 0x5C for b in padded)


def inner_sql(message: str, ipad: str = IPAD) -> str:
    """HMAC's first pass, SHA-256((K xor ipad) || message), as hex (DuckDB's SQL)."""
    return f"sha256({ipad} || encode({message}))"


def outer_sql(inner: str, opad: str = OPAD) -> str:
    """HMAC's second pass over the hex of the first."""
    return f"sha256({opad} || unhex({inner}))"


def hmac_sql(message: str, ipad: str = IPAD, opad: str = OPAD) -> str:
    """Lower-case hex HMAC-SHA256 of a text expression (DuckDB's SQL; NULL stays NULL)."""
    return outer_sql(inner_sql(message, ipad), opad)


def key_file_from(option: str | os.PathLike[str] | None) -> Path:
    """The key file: the option, else $HEALTHDQ_KEY_FILE; none refuses (never unkeyed)."""
    if option is not None:
        return Path(option)
    value = os.environ.get(KEY_ENV)
    if value:
        return Path(value)
    raise KeyError_(
        f"pseudonymise needs a key: --key-file FILE or {KEY_ENV} (at least {MIN_KEY_BYTES} "
        "bytes; tokens are never made without a key)"
    )


def load_key(path: str | os.PathLike[str]) -> PseudonymKey:
    """The key in `path` (raw bytes, trailing newline ignored), at least 32 bytes."""
    where = str(path)
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise KeyError_("key file not found", path=where) from None
    except IsADirectoryError:
        raise KeyError_("key file is a folder", path=where) from None
    except OSError as exc:
        raise KeyError_(f"key file unreadable ({exc.strerror})", path=where) from None
    raw = data.rstrip(b"\r\n")
    if len(raw) < MIN_KEY_BYTES:
        raise KeyError_(
            f"key too short: {len(raw)} bytes, need at least {MIN_KEY_BYTES}", path=where
        )
    return PseudonymKey(raw)


def key_file_warning(path: str | os.PathLike[str]) -> str | None:
    """A warning when others can read the key file (they could then re-identify tokens)."""
    try:
        mode = Path(path).stat().st_mode
    except OSError:
        return None
    if mode & 0o077:
        return (
            f"{path}: the key file is readable by other users (mode {mode & 0o777:o}); "
            f"make it private: chmod 600 {path}"
        )
    return None


# -- the config --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Method:
    name: str
    arg: str | None = None
    rename: str | None = None

    def __str__(self) -> str:
        return f"{self.name}:{self.arg}" if self.arg is not None else self.name


def parse_method(value: Any) -> Method:
    """`token`, `top_code:90`, or {method: age_at:admission_date, as: age_on_admission}."""
    if isinstance(value, Method):
        return value
    rename = None
    if isinstance(value, dict):
        unknown = set(value) - {"method", "as"}
        if unknown or "method" not in value:
            raise ValueError("a column's method is a name, or {method: NAME, as: NEW_NAME}")
        rename = str(value["as"]) if value.get("as") is not None else None
        value = value["method"]
    if not isinstance(value, str):
        raise ValueError(f"method must be text, got {value!r}")
    name, sep, arg = value.strip().partition(":")
    if name not in METHODS:
        raise ValueError(f"unknown method '{name}' (one of {', '.join(METHODS)})")
    if METHODS[name] and not (sep and arg.strip()):
        raise ValueError(f"method '{name}' needs an argument: {name}:VALUE")
    if not METHODS[name] and sep:
        raise ValueError(f"method '{name}' takes no argument")
    if name in ("top_code", "bottom_code") and not re.fullmatch(r"-?\d+(?:\.\d+)?", arg.strip()):
        raise ValueError(f"{name}:{arg}: the argument must be a number, e.g. {name}:90")
    return Method(name, arg.strip() if sep else None, rename)


MethodField = Annotated[Method, BeforeValidator(parse_method)]


def _mapping(value: Any) -> Any:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError("columns must map column names to methods")
    return {str(k): v for k, v in value.items()}


class TableConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)
    columns: Annotated[dict[str, MethodField], BeforeValidator(_mapping)] = Field(
        default_factory=dict
    )
    patient: str | None = None


class PseudonymiseConfig(BaseModel):
    """The YAML config of `healthdq pseudonymise` (docs/governance.md)."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)
    columns: Annotated[dict[str, MethodField], BeforeValidator(_mapping)] = Field(
        default_factory=dict
    )
    # The column naming the patient: the opt-out and date_shift key on it.
    patient: str = "nhs_number"
    # Further columns holding NHS numbers (normalised like the patient column before tokens).
    nhs_numbers: list[str] = Field(default_factory=list)
    # Columns not listed: error (refuse to run), drop or keep.
    default: str = "error"
    reference_date: date | None = None  # ages for year/age_band (default: the run date)
    age_band_width: int = Field(default=5, ge=1, le=50)
    age_band_top: int = Field(default=90, ge=1, le=130)
    date_shift_days: int = Field(default=180, ge=1, le=3650)
    tables: dict[str, TableConfig] = Field(default_factory=dict)
    # FHIR: element path (Type.element, *.element) -> method (governance/fhir_pseudonymise.py).
    fhir: Annotated[dict[str, MethodField], BeforeValidator(_mapping)] | None = None
    # FHIR resource ids and the references to them: token or keep.
    fhir_ids: str = "token"
    # Every Reference's display (drop or keep) and identifier (token, drop or keep).
    fhir_reference_display: str = "drop"
    fhir_reference_identifier: str = "token"
    path: str | None = None
    lines: dict[tuple[Any, ...], int] = Field(default_factory=dict, exclude=True)

    @field_validator("default")
    @classmethod
    def _default(cls, value: str) -> str:
        if value not in ("error", "drop", "keep"):
            raise ValueError("default must be error, drop or keep")
        return value

    @field_validator("fhir_ids", "fhir_reference_display", "fhir_reference_identifier")
    @classmethod
    def _fhir_choice(cls, value: str, info: Any) -> str:
        allowed = {
            "fhir_ids": ("token", "keep"),
            "fhir_reference_display": ("drop", "keep"),
            "fhir_reference_identifier": ("token", "drop", "keep"),
        }[info.field_name]
        if value not in allowed:
            raise ValueError(f"{info.field_name} must be {' or '.join(allowed)}")
        return value

    def model_post_init(self, _context: Any) -> None:
        if self.fhir is not None and (self.columns or self.tables):
            raise ValueError(
                "a config is for tables (columns:, tables:) or for FHIR (fhir:), not both"
            )
        if self.age_band_top % self.age_band_width:
            raise ValueError(
                f"age_band_top ({self.age_band_top}) must be a multiple of age_band_width "
                f"({self.age_band_width})"
            )

    def table(self, name: str) -> TableConfig:
        """The config for table `name`: its own columns over the shared ones."""
        own = self.tables.get(name) or TableConfig()
        return TableConfig(
            columns={**self.columns, **own.columns}, patient=own.patient or self.patient
        )

    def line_of(self, *loc: Any) -> int | None:
        for end in range(len(loc), -1, -1):
            if loc[:end] in self.lines:
                return self.lines[loc[:end]]
        return None

    def error(self, message: str, *loc: Any) -> ContractError:
        return ContractError(message, path=self.path, line=self.line_of(*loc) if loc else None)


def parse_config(text: str, path: str = "<config>") -> PseudonymiseConfig:
    from healthdq.rules.loader import _describe, _to_python

    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise ContractError(
            f"invalid YAML: {exc.problem or exc.context or 'invalid YAML'}",
            path=path,
            line=mark.line + 1 if mark else None,
        ) from None
    except yaml.YAMLError as exc:
        raise ContractError(f"invalid YAML: {exc}", path=path) from None
    if node is None:
        raise ContractError("config is empty: give columns: {COLUMN: METHOD, ...}", path=path)
    lines: dict[tuple[Any, ...], int] = {}
    try:
        data = _to_python(node, (), lines)
    except ContractError as exc:
        raise ContractError(exc.message, path=path, line=exc.line) from None
    if not isinstance(data, dict):
        raise ContractError("config must be a mapping with 'columns'", path=path, line=1)
    try:
        config = PseudonymiseConfig.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        first = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
        loc = tuple(first["loc"])
        line = next((lines[loc[:n]] for n in range(len(loc), -1, -1) if loc[:n] in lines), None)
        raise ContractError(_describe(first), path=path, line=line) from None
    config.path, config.lines = path, lines
    if config.fhir is not None:
        from healthdq.governance.fhir_pseudonymise import check_config

        check_config(config)
    return config


# Configs shipped with healthdq, by name (`--config fhir-default`).
BUILT_IN_CONFIGS = {"fhir-default": Path(__file__).with_name("fhir-default.yaml")}


def load_config(path: str | os.PathLike[str]) -> PseudonymiseConfig:
    where = str(path)
    if where in BUILT_IN_CONFIGS and not Path(path).exists():
        path = BUILT_IN_CONFIGS[where]
        where = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ContractError("config file not found", path=where) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ContractError(f"config file unreadable ({exc})", path=where) from None
    return parse_config(text, where)


# -- compiling a table -------------------------------------------------------------------------
_TEXT = ("VARCHAR", "TEXT", "STRING", "CHAR")
_NUMBER = ("TINYINT", "SMALLINT", "INTEGER", "INT", "BIGINT", "HUGEINT", "UBIGINT", "UINTEGER")


@dataclass
class TablePlan:
    """What one table becomes: the SELECT (DuckDB's SQL) and each output column's method."""

    name: str
    sql: str
    methods: dict[str, str]  # output column -> method
    patient: str | None
    redact: list[str] = field(default_factory=list)  # output columns of free text to redact

    def native_sql(self, engine: Any) -> str:
        """The SELECT in the engine's own SQL, free-text redaction applied over it."""
        inner = engine.translate(self.sql)
        if not self.redact:
            return inner
        from healthdq.governance.freetext import redact_sql

        items = [
            f"{redact_sql(engine.quote(c), engine)} AS {engine.quote(c)}"
            if c in self.redact
            else engine.quote(c)
            for c in self.methods
        ]
        return f"SELECT {', '.join(items)} FROM ({inner}) AS r"


def is_text(kind: str) -> bool:
    return kind.upper().startswith(_TEXT)


def nhs_text(column: str, kind: str, table: str | None = None) -> str:
    """An NHS number as 10 digits of text: spaces and dashes stripped; integers zero-padded."""
    q = (f"{table}." if table else "") + quote_ident(column)
    if is_text(kind):
        return f"NULLIF(replace(replace(trim({q}), ' ', ''), '-', ''), '')"
    return f"lpad(CAST(TRY_CAST({q} AS BIGINT) AS VARCHAR), 10, '0')"


def plain_text(column: str, kind: str) -> str:
    q = quote_ident(column)
    value = q if is_text(kind) else f"CAST({q} AS VARCHAR)"
    return f"NULLIF(trim({value}), '')"


def _age(birth: str, at: str) -> str:
    """Whole years from `birth` to `at` (both DATE); NULL when negative or unknown."""
    age = (
        f"(year({at}) - year({birth}) - CASE WHEN month({at}) * 100 + day({at}) < "
        f"month({birth}) * 100 + day({birth}) THEN 1 ELSE 0 END)"
    )
    return f"CASE WHEN {age} >= 0 THEN {age} END"


def shift_days(days: int) -> str:
    """The patient's offset in [-days, days] from the first 6 hex digits of the inner pass of
    their HMAC (keyed, and never output: the token is the outer pass over it).

    (ascii(c) - 48) % 39 is a hex digit's value for 0-9 and a-f; 16^6 values over 2*days+1
    offsets: a bias below 0.01%.
    """
    digits = " + ".join(
        f"((ascii(substr({PATIENT_INNER}, {i + 1}, 1)) - 48) % 39) * {16 ** (5 - i)}"
        for i in range(6)
    )
    return f"(({digits}) % {2 * days + 1} - {days})"


class Planner:
    """Compiles a table's columns, config and types into one SELECT."""

    def __init__(
        self,
        config: PseudonymiseConfig,
        table: str,
        columns: dict[str, str],
        run_date: date,
        date_formats: dict[str, str] | None = None,
    ) -> None:
        self.config = config
        self.name = table
        self.tconfig = config.table(table)
        self.columns = columns  # name -> engine type (DuckDB spelling)
        self.by_lower = {c.lower(): c for c in columns}
        self.reference = config.reference_date or run_date
        self.date_formats = date_formats or {}

    def loc(self, column: str) -> tuple[Any, ...]:
        own = self.config.tables.get(self.name)
        if own is not None and column in own.columns:
            return ("tables", self.name, "columns", column)
        return ("columns", column)

    def column(self, name: str, loc: tuple[Any, ...]) -> str:
        found = self.by_lower.get(name.lower())
        if found is None:
            raise self.config.error(
                f"column '{name}' not found in table {self.name} "
                f"(columns: {', '.join(list(self.columns)[:12])}"
                f"{', ...' if len(self.columns) > 12 else ''})",
                *loc,
            )
        return found

    @property
    def patient(self) -> str | None:
        """The table's patient column, if it has one."""
        return self.by_lower.get((self.tconfig.patient or "").lower())

    def methods(self) -> dict[str, Method]:
        """Every column of the table -> its method (the default for columns not listed)."""
        listed = {c.lower(): (c, m) for c, m in self.tconfig.columns.items()}
        out: dict[str, Method] = {}
        for column in self.columns:
            if column.lower() in listed:
                out[column] = listed[column.lower()][1]
            elif self.config.default == "error":
                raise self.config.error(
                    f"table {self.name}: column '{column}' has no method (add it under "
                    "columns:, or set default: drop or default: keep)",
                    "columns",
                )
            else:
                out[column] = Method(self.config.default)
        return out

    def as_date(self, column: str) -> str:
        kind = self.columns[column].upper()
        q = quote_ident(column)
        if kind == "DATE":
            return q
        if kind.startswith("TIMESTAMP"):
            return f"CAST({q} AS DATE)"
        pattern = self.date_formats.get(column)
        if pattern is not None:
            from sqlglot import exp

            from healthdq.engine.dates import converted

            return converted(exp.column(column, quoted=True), pattern).sql(dialect="duckdb")
        return f"TRY_CAST({q} AS DATE)"

    def expression(self, column: str, method: Method) -> str | None:
        """The SQL of one output column (DuckDB's SQL), or None when it is dropped."""
        kind = self.columns[column]
        q = quote_ident(column)
        loc = self.loc(column)
        name = method.name
        if name == "drop":
            return None
        if name == "keep":
            return q
        if name == "token":
            if column == self.patient:  # the inner pass is computed once per row, shared
                return outer_sql(PATIENT_INNER)
            nhs = {self.tconfig.patient or "", *self.config.nhs_numbers}
            is_nhs = column.lower() in {n.lower() for n in nhs}
            message = nhs_text(column, kind) if is_nhs else plain_text(column, kind)
            return hmac_sql(message)
        if name in DATE_METHODS and not (
            kind.upper() in ("DATE",) or kind.upper().startswith("TIMESTAMP") or is_text(kind)
        ):
            raise self.config.error(
                f"table {self.name}: {name} needs a date column; '{column}' is {kind}", *loc
            )
        if name == "year":
            return f"year({self.as_date(column)})"
        if name == "month":
            d = self.as_date(column)
            return f"CAST(year({d}) AS VARCHAR) || '-' || lpad(CAST(month({d}) AS VARCHAR), 2, '0')"
        if name == "age_band":
            return self._band(_age(self.as_date(column), f"DATE '{self.reference.isoformat()}'"))
        if name == "age_at":
            other = self.column(str(method.arg), loc)
            return _age(self.as_date(column), self.as_date(other))
        if name == "date_shift":
            if self.patient is None:
                raise self.config.error(
                    f"table {self.name}: date_shift needs the patient column "
                    f"'{self.tconfig.patient}' (set patient: COLUMN)",
                    *loc,
                )
            shift = shift_days(self.config.date_shift_days)
            return f"CAST({self.as_date(column)} + CAST({shift} AS INTEGER) AS DATE)"
        if name in ("postcode_district", "postcode_sector"):
            text = f"upper(replace({plain_text(column, kind)}, ' ', ''))"
            # A match test, then cuts by position: cheaper than extracting regex groups.
            valid = f"regexp_matches({text}, {quote_literal(POSTCODE_PARTS)})"
            district = f"left({text}, length({text}) - 3)"
            if name == "postcode_district":
                return f"CASE WHEN {valid} THEN {district} END"
            digit = f"substr({text}, length({text}) - 2, 1)"
            return f"CASE WHEN {valid} THEN {district} || ' ' || {digit} END"
        if name in ("top_code", "bottom_code"):
            bound = str(method.arg)
            op = ">" if name == "top_code" else "<"
            if is_text(kind):  # text stays text: numbers past the bound become the bound
                value = f"TRY_CAST({q} AS DOUBLE)"
                return f"CASE WHEN {value} {op} {bound} THEN {quote_literal(bound)} ELSE {q} END"
            literal = bound if re.fullmatch(r"-?\d+", bound) else f"CAST({bound} AS DOUBLE)"
            return f"CASE WHEN {q} {op} {literal} THEN {literal} ELSE {q} END"
        if name == "redact_text":
            # The free-text detector (governance/freetext.py) is written per engine: applied
            # over this output column by TablePlan.native_sql.
            return plain_text(column, kind)
        raise AssertionError(name)  # pragma: no cover - METHODS is exhaustive

    def _band(self, age: str) -> str:
        w, top = self.config.age_band_width, self.config.age_band_top
        low = f"CAST(floor({age} / {w}) AS INTEGER) * {w}"
        return (
            f"CASE WHEN {age} IS NULL THEN NULL WHEN {age} >= {top} THEN '{top}+' "
            f"ELSE CAST({low} AS VARCHAR) || '-' || CAST({low} + {w - 1} AS VARCHAR) END"
        )

    def plan(self, opt_out: bool = False) -> TablePlan:
        """The SELECT writing this table; `opt_out`: leave out opted-out patients' rows."""
        methods = self.methods()
        outputs: list[str] = []
        named: dict[str, str] = {}
        for column, method in methods.items():
            sql = self.expression(column, method)
            if sql is None:
                continue
            out = method.rename or column
            if out.lower() in {n.lower() for n in named}:
                raise self.config.error(
                    f"table {self.name}: two output columns are named '{out}'",
                    *self.loc(column),
                )
            named[out] = str(method)
            outputs.append(f"{sql} AS {quote_ident(out)}")
        if not outputs:
            raise self.config.error(f"table {self.name}: every column is dropped", "columns")
        patient = self.patient
        inner_cols = ["t.*", f"k.{IPAD}", f"k.{OPAD}"]
        uses_patient = any(m.name == "date_shift" for m in methods.values()) or (
            patient is not None and methods[patient].name == "token"
        )
        if uses_patient and patient is not None:
            message = nhs_text(patient, self.columns[patient], "t")
            inner_cols.append(f"{inner_sql(message, f'k.{IPAD}')} AS {PATIENT_INNER}")
        where = ""
        if opt_out:
            if patient is None:
                raise HealthdqError(
                    f"table {self.name} has no column '{self.tconfig.patient}' to apply the "
                    "opt-out to (set patient: COLUMN in the config)",
                    path=self.config.path,
                )
            from healthdq.governance.optout import removed_predicate

            patient_sql = nhs_text(patient, self.columns[patient], "t")
            where = f" WHERE NOT {removed_predicate(patient_sql)}"
        sql = (
            f"SELECT {', '.join(outputs)} FROM (SELECT {', '.join(inner_cols)} "
            f"FROM {quote_ident(self.name)} AS t CROSS JOIN {SECRET} AS k{where}) AS s"
        )
        redact = [out for out, method in named.items() if method == "redact_text"]
        return TablePlan(self.name, sql, named, patient, redact)


# -- the result --------------------------------------------------------------------------------
class TableOutput(BaseModel):
    """One table written: where, how many rows, each output column's method."""

    name: str
    source: str
    output: str
    rows: int
    # Records of opted-out patients left out, as published (1-7 shown as *).
    opted_out: str | None = None
    columns: dict[str, str] = Field(default_factory=dict)


class PseudonymiseResult(BaseModel):
    """What `healthdq pseudonymise` did; holds no key, no value from the data."""

    tables: list[TableOutput]
    engine: str
    key_id: str
    run_id: str | None = None  # the run's id in the results store (None: not kept)
    format: str
    opted_out: str | None = None  # total records removed, as published
    opt_out_file: str | None = None
    config: str | None = None
    read_issues: int | None = None  # FHIR lines or entries that could not be read (skipped)
    audit: Any = None
    seconds: float = 0.0
