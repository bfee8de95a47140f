"""Value-set validators: one per YAML file in valuesets/, TRUE when the value is a listed code.

Each file holds the code list of one NHS Data Dictionary element:

    name: ethnic_category          # registry key and file stem
    title: Ethnic category
    source: NHS Data Dictionary ...  # element, address, version; what was (not) verified
    license: Open Government Licence v3.0
    codes:
      - {code: 'A', label: 'White - British'}
      - {code: '99', label: 'Not known', default: true}   # a Dictionary "default code"

Codes are compared as strings, exactly: '01' is not '1', and codes must be quoted in the YAML
so that 01 does not load as the integer 1.

Code sets change over time. A code may carry the period it was in force (`from`/`to`, ISO dates,
either open) and the `scheme` it belongs to; a `changes:` list at the top cites each change. A
value from any period is a valid code (allowed_values); the code_era rule reports one used outside
its period at the record's date.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path

import yaml
from sqlglot import exp

from healthdq.validators._sql import in_list
from healthdq.validators.base import Builder, Validator, register

VALUESET_DIR = Path(__file__).with_name("valuesets")
_HEADER_KEYS = ("name", "title", "source", "license", "codes")


@dataclass(frozen=True)
class Code:
    code: str
    label: str
    default: bool = False  # listed by the Dictionary as a default code (not known, n/a, ...)
    valid_from: date | None = None  # first day in force (None: always, as far as we cite)
    valid_to: date | None = None  # last day in force
    scheme: str = ""  # e.g. "1991 census categories (0-9)"
    # From a superseded scheme whose end date we cannot cite: valid, but never in force now.
    legacy: bool = False

    def in_force(self, day: date) -> bool:
        if self.legacy and self.valid_to is None:
            return False
        return (self.valid_from is None or day >= self.valid_from) and (
            self.valid_to is None or day <= self.valid_to
        )


@dataclass(frozen=True)
class ValueSet:
    name: str
    title: str
    source: str
    license: str
    codes: tuple[Code, ...]
    path: Path
    # Cited changes over time ("2001-04-01: 2001 census categories A-Z replace 0-9 (source)").
    changes: tuple[str, ...] = ()

    @property
    def dated(self) -> bool:
        return any(c.valid_from or c.valid_to for c in self.codes)


def _parse(path: Path) -> ValueSet:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path.name}: expected a mapping at the top level")
    missing = [k for k in _HEADER_KEYS if k not in data]
    if missing:
        raise ValueError(f"{path.name}: missing {', '.join(missing)}")
    if data["name"] != path.stem:
        raise ValueError(f"{path.name}: name {data['name']!r} must match the file name")
    codes: list[Code] = []
    for i, entry in enumerate(data["codes"] or []):
        code = entry.get("code") if isinstance(entry, dict) else None
        if not isinstance(code, str) or not code:
            # An unquoted 01 loads as the integer 1 and would silently drop the leading zero.
            raise ValueError(f"{path.name}: codes[{i}] needs a quoted string 'code', got {code!r}")
        label = str(entry.get("label", ""))
        codes.append(
            Code(
                code=code,
                label=label,
                default=bool(entry.get("default", False)),
                valid_from=_day(entry.get("from"), path, i),
                valid_to=_day(entry.get("to"), path, i),
                scheme=str(entry.get("scheme", "")),
                legacy=bool(entry.get("legacy", False)),
            )
        )
    seen = [c.code for c in codes]
    dupes = sorted({c for c in seen if seen.count(c) > 1})
    if dupes:
        raise ValueError(f"{path.name}: duplicate codes {dupes}")
    if not codes:
        raise ValueError(f"{path.name}: no codes")
    return ValueSet(
        name=data["name"],
        title=str(data["title"]),
        source=" ".join(str(data["source"]).split()),
        license=str(data["license"]),
        codes=tuple(codes),
        path=path,
        changes=tuple(" ".join(str(c).split()) for c in data.get("changes") or []),
    )


def _day(value: object, path: Path, i: int) -> date | None:
    if value is None:
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f"{path.name}: codes[{i}] has a bad date {value!r}") from None


@cache
def _all() -> dict[str, ValueSet]:
    sets = (_parse(p) for p in sorted(VALUESET_DIR.glob("*.yaml")))
    return {vs.name: vs for vs in sets}


def valueset_names() -> list[str]:
    """Names of the shipped value sets, sorted."""
    return sorted(_all())


def get_valueset(name: str) -> ValueSet:
    """The whole value set (codes with labels, source, licence); KeyError when unknown."""
    try:
        return _all()[name]
    except KeyError:
        known = ", ".join(valueset_names())
        raise KeyError(f"unknown value set '{name}' (known: {known})") from None


def load_valueset(name: str) -> list[str]:
    """The codes of value set `name`, in file order; KeyError when unknown."""
    return [c.code for c in get_valueset(name).codes]


def _builder(name: str) -> Builder:
    def build(col: exp.Expression) -> exp.Expression:
        return in_list(col, load_valueset(name))

    return build


def _register_all() -> None:
    for vs in _all().values():
        register(
            Validator(
                name=vs.name,
                description=f"{vs.title}: one of {len(vs.codes)} listed codes",
                source=f"{vs.source} ({vs.license})",
                build=_builder(vs.name),
                kind="valueset",
            )
        )


_register_all()
