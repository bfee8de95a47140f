"""`healthdq risk` on files: the summary, --json, the audit entry, and bad input."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.test_cli_errors import Cli, Write, one_line_error

CSV = "age_band,sex,district,diagnosis\n" + "".join(
    f"{a},{s},{d},{x}\n"
    for a, s, d, x in [("18-39", "1", "LS1", "I21")] * 8
    + [("18-39", "2", "LS1", "J18")] * 8
    + [("40-64", "1", "LS2", "I21"), ("40-64", "1", "LS2", "E11")] * 4
    + [("85+", "2", "LS9", "C34")]
)


def test_summary_and_json(cli: Cli, write: Write, tmp_path: Path) -> None:
    data = write("d.csv", CSV)
    out = tmp_path / "r" / "risk.json"
    code, stdout, _ = cli(
        "risk",
        data,
        "--qi",
        "age_band,sex,district",
        "--sensitive",
        "diagnosis",
        "--population",
        "1000",
        "--json",
        out,
    )
    assert code == 0
    assert "k = 1" in stdout and "l = 1" in stdout
    report = json.loads(out.read_text())
    assert report["rows"] == 25 and report["classes"] == 4 and report["k"] == 1
    # The lone 85+ record is a small number: hidden, with the next smallest class (8 records).
    assert report["sample_uniques"] is None and report["suppressed"] is True
    assert report["population"]["population"] == 1000
    # The audit log records the access, never a value.
    log = (tmp_path / "audit.jsonl").read_text()
    event = json.loads(log.strip().splitlines()[-1])
    assert event["action"] == "risk" and event["rows"] == 25
    assert "LS9" not in log and "C34" not in log


def test_no_suppress_shows_small_counts(cli: Cli, write: Write, tmp_path: Path) -> None:
    data = write("d.csv", CSV)
    out = tmp_path / "risk.json"
    code, _, _ = cli("risk", data, "--qi", "age_band,sex,district", "--no-suppress", "--json", out)
    assert code == 0
    report = json.loads(out.read_text())
    assert report["sample_uniques"] == 1
    assert [(r["size"], r["classes"]) for r in report["histogram"]] == [(1, 1), (8, 3)]


def test_a_qi_that_is_not_a_column(cli: Cli, write: Write, tmp_path: Path) -> None:
    data = write("d.csv", CSV)
    out = tmp_path / "risk.json"
    code, _, err = cli("risk", data, "--qi", "age_band,postcode", "--json", out)
    assert code == 2
    line = one_line_error(err)
    assert str(data) in line and "--qi column 'postcode' is not a column" in line
    assert not out.exists()


def test_bad_options(cli: Cli, write: Write) -> None:
    data = write("d.csv", CSV)
    for args, message in [
        (["--qi", "sex,,district"], "--qi 'sex,,district' has an empty column name"),
        (["--qi", "sex", "--sensitive", "sex"], "'sex' is given both as --qi and as --sensitive"),
        (["--qi", "sex", "--sensitive", "nope"], "--sensitive column 'nope' is not a column"),
        (["--qi", "sex", "--population", "3"], "--population 3 is smaller than the 25 rows"),
        (["--qi", "sex", "--threshold", "0"], "--threshold must be in (0, 1]"),
    ]:
        code, _, err = cli("risk", data, *args)
        assert code == 2, args
        assert message in one_line_error(err)


def test_missing_file(cli: Cli, tmp_path: Path) -> None:
    code, _, err = cli("risk", tmp_path / "nope.csv", "--qi", "a")
    assert code == 2
    assert "nope.csv" in one_line_error(err)
