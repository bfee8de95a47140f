"""Turn a profile into a starting contract: rules that pass on the profiled data, ready to edit.

Every threshold is the observed violation rate rounded up, so the suggested contract passes on the
data it came from and fails when quality gets worse. Descriptions say what was observed.
"""

from __future__ import annotations

import math
import re
from datetime import date
from typing import Any

import yaml

from healthdq.profile.detect import (
    HINTS,
    default_codes,
    duplicates,
    hint_score,
    is_code_set,
    is_date,
    is_near_unique,
)
from healthdq.profile.profiler import (
    PLACEHOLDER_DATES,
    PLACEHOLDER_PREFIX,
    ColumnProfile,
    TableProfile,
    load_validators,
)

# not_null is suggested for columns at least this complete (%).
NOT_NULL_MIN = 99.0
CODE_PLACEHOLDERS = ("99", "X")
GP_PLACEHOLDERS = ("V81997", "V81998", "V81999")
ORG_VALIDATORS = ("gp_practice", "ods_org", "ods_site")


class Quoted(str):
    """A string written in single quotes, so codes such as '01' stay text when read back."""


class _Dumper(yaml.SafeDumper):
    pass


def _quoted(dumper: yaml.SafeDumper, value: Quoted) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", str(value), style="'")


_Dumper.add_representer(Quoted, _quoted)


def _up(pct: float) -> float:
    """Observed % rounded up to a whole number (0 stays 0), as a threshold."""
    # Round first so float noise (e.g. 2.0000000001) does not push a threshold up by one.
    return float(math.ceil(round(pct, 6)))


def _num(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


def _rule_id(table: str, column: str, kind: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.:\-]", "_", f"{table}.{column}.{kind}")


def _fmt_pct(pct: float) -> str:
    return f"{pct:.2f}%"


def _placeholders(col: ColumnProfile, kinds: dict[str, str]) -> tuple[list[str], int]:
    """The known NHS default values found in this column that mean 'not known' here, and the
    rows holding them."""
    if col.validator is not None and kinds.get(col.validator) == "valueset":
        # The value set itself says which of its codes are defaults (its 'not known' codes).
        codes = default_codes(col.validator)
    elif col.validator is None and is_code_set(col):
        codes = frozenset(CODE_PLACEHOLDERS)
    else:
        codes = frozenset()
    gp_like = col.validator in ORG_VALIDATORS or hint_score(col.name, HINTS["gp_practice"]) > 0
    postcode = col.validator == "postcode" or col.identifier == "postcode"
    found = [
        v
        for v in col.placeholder_values
        if (v in PLACEHOLDER_DATES and is_date(col))
        or (v in GP_PLACEHOLDERS and gp_like)
        or (v.startswith(PLACEHOLDER_PREFIX) and postcode)
        or v in codes
    ]
    if all(v in col.placeholders for v in found):
        return sorted(found), sum(col.placeholders[v] for v in found)
    # Several values and no per-value counts (confirm=False): all placeholder rows, an upper bound.
    return sorted(found), col.placeholder_rows


def _column_rules(
    col: ColumnProfile, table: str, rows: int, kinds: dict[str, str], today: date
) -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = []

    def rule(kind: str, **fields: Any) -> None:
        rules.append({"id": _rule_id(table, col.name, kind), "kind": kind, **fields})

    if col.count == 0:
        return rules
    complete = 100.0 - col.null_pct
    if complete >= NOT_NULL_MIN:
        rule(
            "not_null",
            column=col.name,
            severity="error",
            threshold=_num(_up(col.null_pct)),
            description=f"Observed {_fmt_pct(col.null_pct)} missing or blank "
            f"({col.nulls:,} of {rows:,} rows).",
        )
    placeholders, placeholder_rows = _placeholders(col, kinds)
    # The engine checks value rules on non-NULL rows, blank text included (blanks fail them).
    checked = col.count + col.blanks

    def pct_of_checked(violations: int) -> float:
        return 100.0 * violations / checked if checked else 0.0

    if col.validator:
        pct = col.validators[col.validator]
        passes = col.validator_passes
        if passes is None:  # sampled and not confirmed: estimate from the sample's rate
            passes = round(pct * col.count / 100.0)
        failing = col.count - passes + col.blanks
        rule(
            "validator",
            column=col.name,
            validator=col.validator,
            severity="error",
            threshold=_num(_up(pct_of_checked(failing))),
            description=f"Observed {_fmt_pct(pct)} of {col.count:,} non-null values pass "
            f"the {col.validator} validator.",
        )
    elif (
        is_code_set(col)
        and col.identifier is None
        and not col.unique
        and not is_near_unique(col)
        # A code set repeats: with fewer than two rows per value it is more likely an id.
        and col.count >= 2 * len(col.top_values)
    ):
        values = sorted(col.top_values)
        rule(
            "allowed_values",
            column=col.name,
            values=[Quoted(v) for v in values],
            severity="error",
            threshold=_num(_up(pct_of_checked(col.blanks))),
            description=f"Observed exactly these {len(values)} distinct values "
            f"in {col.count:,} non-null rows.",
        )
    if is_date(col) and col.date_min:
        low = col.date_min
        observed = f"Observed dates {col.date_min} to {col.date_max}"
        if col.identifier == "date_of_birth":
            # Publish years only: the earliest date of birth may identify someone.
            low = low[:4] + "-01-01"
            observed = f"Observed years of birth {low[:4]} to {(col.date_max or '')[:4]}"
        # Rows below the range's min: the placeholder dates it leaves out.
        ph_rows = placeholder_rows if any(v in PLACEHOLDER_DATES for v in placeholders) else 0
        not_dates = col.count - col.date_values
        failing = not_dates + ph_rows + col.future_dates + col.blanks
        notes = []
        if ph_rows:
            notes.append(f"{ph_rows:,} placeholder dates excluded")
        if col.future_dates:
            notes.append(f"{col.future_dates:,} after the profile date {today.isoformat()}")
        if not_dates:
            notes.append(f"{not_dates:,} values are not dates")
        rule(
            "date_range",
            column=col.name,
            min=Quoted(low),
            max=Quoted("today"),
            severity="warning",
            threshold=_num(_up(pct_of_checked(failing))),
            description=observed + (f" ({'; '.join(notes)})." if notes else "."),
        )
    if placeholders:
        counts = ", ".join(
            f"{v} x{col.placeholders[v]:,}" for v in placeholders if v in col.placeholders
        )
        rule(
            "default_value",
            column=col.name,
            values=[Quoted(v) for v in placeholders],
            severity="warning",
            threshold=_num(_up(pct_of_checked(placeholder_rows))),
            description=f"Observed NHS placeholder values in {placeholder_rows:,} rows "
            f"({_fmt_pct(pct_of_checked(placeholder_rows))} of non-null)"
            + (f": {counts}." if counts else "."),
        )
    if col.unique or is_near_unique(col):
        copies = duplicates(col)
        checked = col.count + col.blanks
        rule(
            "unique",
            columns=[col.name],
            severity="error",
            threshold=_num(_up(pct_of_checked(copies))),
            description=f"Observed {col.exact_distinct:,} distinct values in {checked:,} "
            "non-null rows (exact count)" + (f": {copies:,} surplus copies." if copies else "."),
        )
    return rules


def _column_spec(col: ColumnProfile) -> dict[str, Any]:
    spec: dict[str, Any] = {"description": f"{col.type}, {col.kind}"}
    if col.identifier:
        spec["identifier"] = col.identifier
    return spec


def suggest_contract(profile: TableProfile, table: str, source: str | None = None) -> str:
    """Contract YAML for `table` suggested from `profile` (valid for parse_contract)."""
    today = date.today()
    kinds = {name: getattr(v, "kind", "format") for name, v in load_validators().items()}
    rules: list[dict[str, Any]] = []
    seen: set[str] = set()
    for col in profile.columns:
        for r in _column_rules(col, table, profile.rows, kinds, today):
            # Two column names can sanitise to the same id: keep ids unique.
            base, n = r["id"], 2
            while r["id"] in seen:
                r["id"] = f"{base}_{n}"
                n += 1
            seen.add(r["id"])
            rules.append(r)
    spec: dict[str, Any] = {}
    if source:
        spec["source"] = source
    spec["description"] = (
        f"Suggested by healthdq profile from {profile.rows:,} rows on {today.isoformat()}."
    )
    spec["columns"] = {c.name: _column_spec(c) for c in profile.columns}
    spec["rules"] = rules
    contract = {
        "name": table,
        "version": Quoted("1"),
        "description": "Starting contract suggested from a data profile: review every rule.",
        "tables": {table: spec},
    }
    header = (
        "# Suggested by `healthdq profile`: thresholds are the observed violation % rounded up,\n"
        "# so this contract passes on the profiled data. Review, tighten and commit it.\n"
    )
    body = yaml.dump(contract, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)
    return header + body
