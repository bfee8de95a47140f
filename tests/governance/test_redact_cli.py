"""`healthdq redact`: free-text columns redacted by the engine, other columns untouched,
audited; bad input is one line and exit 2 with nothing written."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

Cli = Callable[..., tuple[int, str, str]]
Write = Callable[[str, str | bytes], Path]

CSV = (
    "id,notes,other\n"
    '1,"Mr John Smith, NHS 943 476 5919, lives LS1 4AP",943 476 5919\n'
    '2,"Tel 07700 900123 or jo@example.com",x\n'
    "3,,y\n"
)


def test_redacts_named_columns_only_and_audits(cli: Cli, write: Write, tmp_path: Path) -> None:
    data = write("notes.csv", CSV)
    out = tmp_path / "out.parquet"
    code, _, err = cli(
        "redact", data, "--columns", "notes", "--out", out, "--json", tmp_path / "r.json"
    )
    assert code == 0, err
    rows = duckdb.sql(f"SELECT id, notes, other FROM '{out}' ORDER BY id").fetchall()
    assert rows == [
        ("1", "Mr [NAME], NHS [NHS_NUMBER], lives [POSTCODE]", "943 476 5919"),
        ("2", "Tel [PHONE] or [EMAIL]", "x"),
        ("3", None, "y"),
    ]
    done = json.loads((tmp_path / "r.json").read_text())
    assert done["columns"] == ["notes"] and done["rows"] == 3 and done["detector"] == "builtin"
    log = (tmp_path / "audit.jsonl").read_text()
    assert '"redact"' in log and "943 476 5919" not in log


def test_csv_output(cli: Cli, write: Write, tmp_path: Path) -> None:
    data = write("notes.csv", CSV)
    out = tmp_path / "out.csv"
    code, _, err = cli("redact", data, "--columns", "NOTES", "--out", out, "-q")
    assert code == 0, err
    assert "[NHS_NUMBER]" in out.read_text() and "LS1 4AP" not in out.read_text()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--columns", "nope"), "no column 'nope'"),
        (("--columns", ","), "name at least one"),
        (("--columns", "notes", "--detector", "magic"), "--detector must be one of"),
    ],
)
def test_bad_input_is_one_line(
    cli: Cli, write: Write, tmp_path: Path, args: tuple[str, ...], expected: str
) -> None:
    data = write("notes.csv", CSV)
    out = tmp_path / "out.parquet"
    code, _, err = cli("redact", data, *args, "--out", out)
    assert code == 2
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and expected in lines[0], err
    assert not out.exists()
    assert not list(tmp_path.glob(".out.parquet.tmp-*"))


OPTED = "id,NHS_NUMBER,notes\n1,943 476 5919,seen today\n2,401 023 2137,seen today\n3,,no number\n"


def test_opt_out_removes_patients_rows_before_redacting(
    cli: Cli, write: Write, tmp_path: Path
) -> None:
    data = write("opted.csv", OPTED)
    opt = write("optout.txt", "# opted out\n943-476-5919\n")
    out = tmp_path / "out.parquet"
    code, _, err = cli(
        "redact", data, "--columns", "notes", "--out", out, "--opt-out", opt,
        "--json", tmp_path / "r.json",
    )  # fmt: skip
    assert code == 0, err
    ids = [r[0] for r in duckdb.sql(f"SELECT id FROM '{out}' ORDER BY id").fetchall()]
    assert ids == ["2", "3"]
    # One record removed: published as * (HES small-number rule), never as 1.
    assert "records removed: *" in err
    done = json.loads((tmp_path / "r.json").read_text())
    assert done["opted_out"] == "*" and done["rows"] == 2
    log = (tmp_path / "audit.jsonl").read_text()
    assert '"removed": 1' in log
    assert not any(n in log for n in ("9434765919", "943 476 5919", "943-476-5919"))


@pytest.mark.parametrize(
    ("csv", "args", "expected"),
    [
        ("id,notes\n1,x\n", (), "no column named as an NHS number; name it with"),
        ("nhsno,NHS_NUMBER,notes\n1,2,x\n", (), "2 columns (nhsno, NHS_NUMBER)"),
        (OPTED, ("--nhs-number-column", "nope"), "--nhs-number-column: no column 'nope'"),
    ],
)
def test_opt_out_column_must_be_clear(
    cli: Cli, write: Write, tmp_path: Path, csv: str, args: tuple[str, ...], expected: str
) -> None:
    data = write("d.csv", csv)
    opt = write("optout.txt", "9434765919\n")
    out = tmp_path / "out.parquet"
    code, _, err = cli("redact", data, "--columns", "notes", "--out", out, "--opt-out", opt, *args)
    assert code == 2 and expected in err and len(err.strip().splitlines()) == 1, err
    assert not out.exists()


def test_opt_out_by_named_column(cli: Cli, write: Write, tmp_path: Path) -> None:
    data = write("d.csv", "patient,notes\n9434765919,a\n4010232137,b\n")
    opt = write("optout.txt", "4010232137\n")
    out = tmp_path / "out.csv"
    code, _, err = cli(
        "redact", data, "--columns", "notes", "--out", out, "--opt-out", opt,
        "--nhs-number-column", "PATIENT", "-q",
    )  # fmt: skip
    assert code == 0, err
    assert "4010232137" not in out.read_text() and "9434765919" in out.read_text()
