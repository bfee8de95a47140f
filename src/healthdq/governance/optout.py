"""The National Data Opt-out: remove opted-out patients' records before any row leaves.

The opt-out file lists NHS numbers, one per line (spaces and dashes allowed; blank lines and
`#` comments skipped). The numbers go to the engine as a one-column relation and each table is
filtered with an anti-join on its (normalised) NHS number column, in the engine. Opt-out status
is never written onto a record: opted-out records are simply not there. Counts of removed
records are reported with the HES small-number rule (1-7 shown as `*`).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from healthdq.errors import HealthdqError
from healthdq.validators.nhs_number import nhs_number_is_valid

if TYPE_CHECKING:
    from healthdq.engine.base import Engine
    from healthdq.sources.base import RegisteredTable

RELATION = "__hdq_optout"
COLUMN = "nhs_number"
# HES analysis guide: counts 1 to 7 are suppressed (shown as *).
SMALL_NUMBER_MAX = 7
SUPPRESSED = "*"


@dataclass(frozen=True)
class OptOut:
    """The opted-out NHS numbers (normalised, distinct) and where they came from."""

    path: str
    numbers: tuple[str, ...]
    sha256: str

    def __repr__(self) -> str:  # never list the numbers
        return f"OptOut({self.path!r}, {len(self.numbers)} numbers)"


def load_opt_out(path: str | os.PathLike[str]) -> OptOut:
    """Read and check the file; a malformed line is one error naming file:line (not its value)."""
    where = str(path)
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise HealthdqError("opt-out file not found", path=where) from None
    except IsADirectoryError:
        raise HealthdqError("opt-out file is a folder", path=where) from None
    except OSError as exc:
        raise HealthdqError(f"opt-out file unreadable ({exc.strerror})", path=where) from None
    numbers: set[str] = set()
    for number, raw in enumerate(data.removeprefix(b"\xef\xbb\xbf").split(b"\n"), start=1):
        try:
            line = raw.decode("utf-8").strip()
        except UnicodeDecodeError:
            raise HealthdqError("opt-out line is not UTF-8 text", path=where, line=number) from None
        if not line or line.startswith("#"):
            continue
        # The value itself is never echoed: it may be a real NHS number.
        if not nhs_number_is_valid(line):
            raise HealthdqError(
                "not an NHS number (10 digits, spaces or dashes allowed, valid check digit)",
                path=where,
                line=number,
            )
        numbers.add(line.replace(" ", "").replace("-", ""))
    return OptOut(where, tuple(sorted(numbers)), hashlib.sha256(data).hexdigest())


def register(engine: Engine, opt_out: OptOut) -> str:
    """The opted-out numbers as an engine relation; returns its name."""
    engine.register_values(RELATION, COLUMN, list(opt_out.numbers))
    return RELATION


def removed_predicate(patient_sql: str) -> str:
    """True for rows of an opted-out patient (DuckDB's SQL, `patient_sql` over alias t)."""
    return f"EXISTS (SELECT 1 FROM {RELATION} AS o WHERE o.{COLUMN} = {patient_sql})"


def count_removed(engine: Engine, table: str, patient_sql: str) -> int:
    from healthdq.sources.base import quote_ident

    sql = f"SELECT count(*) FROM {quote_ident(table)} AS t WHERE {removed_predicate(patient_sql)}"
    return int(engine.fetch(engine.translate(sql))[0][0])


def restrict(
    engine: Engine, registered: RegisteredTable, patient: str
) -> tuple[RegisteredTable, int]:
    """Replace the table's relation by its opted-in rows; (the new record, records removed)."""
    from healthdq.governance.pseudonymise import nhs_text

    patient_sql = nhs_text(patient, registered.columns[patient], "t")
    removed = count_removed(engine, registered.name, patient_sql)
    engine.restrict(registered.name, f"NOT {removed_predicate(patient_sql)}")
    return replace(registered, rows=registered.rows - removed), removed


def suppress(count: int) -> str:
    """A count as published: 1-7 as `*` (HES small-number rule)."""
    return SUPPRESSED if 0 < count <= SMALL_NUMBER_MAX else str(count)


def suppress_table(counts: dict[str, int]) -> tuple[dict[str, str], str]:
    """Per-table counts and their total as published, with secondary suppression
    (governance/suppression.py `protect`, the HES threshold): a cell of 1-7 is `*`, and when
    one cell is hidden the next smallest is too, so the total minus the shown cells cannot give
    it back; when nothing is left to hide with, the total is hidden."""
    from healthdq.governance.suppression import protect

    hidden, total_hidden = protect(counts, SMALL_NUMBER_MAX + 1)
    shown = {name: SUPPRESSED if name in hidden else str(n) for name, n in counts.items()}
    total = sum(counts.values())
    return shown, SUPPRESSED if total_hidden else suppress(total)


# Column names (lower case, separators removed) that hold an NHS number in the extracts healthdq
# reads: the canonical name and the HES/SUS field names (rules/packs/nhs-apc.yaml aliases).
NHS_NUMBER_NAMES = ("nhsnumber", "newnhsno", "nhsno")


def nhs_number_column(columns: list[str], given: str | None, where: str) -> str:
    """The column an opt-out applies to: `given` (any case), else the one column named as an
    NHS number; anything else is one clear error naming the data."""
    by_lower = {c.lower(): c for c in columns}
    if given:
        found = by_lower.get(given.lower())
        if found is None:
            raise HealthdqError(f"--nhs-number-column: no column '{given}' in the data", path=where)
        return found
    named = [c for c in columns if c.lower().replace("_", "").replace(" ", "") in NHS_NUMBER_NAMES]
    if len(named) != 1:
        which = "no column" if not named else f"{len(named)} columns ({', '.join(named)})"
        raise HealthdqError(
            f"--opt-out: {which} named as an NHS number; name it with --nhs-number-column",
            path=where,
        )
    return named[0]


def apply(
    engine: Engine,
    registered: RegisteredTable,
    opt_out: OptOut,
    column: str | None,
    where: str,
) -> tuple[RegisteredTable, int]:
    """Remove the opted-out patients' rows from one registered table, in the engine; (the new
    record, records removed)."""
    register(engine, opt_out)
    chosen = nhs_number_column(list(registered.columns), column, where)
    return restrict(engine, registered, chosen)
