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


NHS = ["4010232137", "9990001112", "6541238970", "1234567881"]


def _with_numbers() -> str:
    """CSV with an NHS number per record: the lone 85+ record is the patient 943 476 5919."""
    lines = CSV.strip().splitlines()
    rows = ["nhs_number," + lines[0]]
    for i, line in enumerate(lines[1:]):
        number = "943 476 5919" if line.startswith("85+") else f"X{i:03d}"
        rows.append(f"{number},{line}")
    return "\n".join(rows) + "\n"


def test_opt_out_removes_records_before_measuring(cli: Cli, write: Write, tmp_path: Path) -> None:
    data = write("d.csv", _with_numbers())
    opt = write("optout.txt", "9434765919\n")
    out = tmp_path / "risk.json"
    code, stdout, err = cli(
        "risk", data, "--qi", "age_band,sex,district", "--opt-out", opt, "--json", out
    )
    assert code == 0, err
    report = json.loads(out.read_text())
    # Without the lone 85+ record every class has 8: k rises from 1 to 8.
    assert report["rows"] == 24 and report["k"] == 8
    assert report["opted_out"] == "*" and "records removed first: *" in stdout
    event = json.loads((tmp_path / "audit.jsonl").read_text().strip().splitlines()[-1])
    assert event["detail"]["opt_out"]["removed"] == 1


def test_opt_out_without_an_nhs_number_column_is_one_line(
    cli: Cli, write: Write, tmp_path: Path
) -> None:
    data = write("d.csv", CSV)
    opt = write("optout.txt", "9434765919\n")
    code, _, err = cli("risk", data, "--qi", "age_band,sex", "--opt-out", opt)
    assert code == 2
    assert "no column named as an NHS number" in one_line_error(err)


def _patient(i: int, gender: str, birth: str, nhs: str) -> str:
    return json.dumps(
        {
            "resourceType": "Patient",
            "id": f"p{i}",
            "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": nhs}],
            "gender": gender,
            "birthDate": birth,
        }
    )


def test_risk_on_fhir_through_a_view_with_opt_out(cli: Cli, write: Write, tmp_path: Path) -> None:
    people = [("female", "1980"), ("female", "1980"), ("male", "1975"), ("male", "1975")]
    lines = [_patient(i, g, b, NHS[i]) for i, (g, b) in enumerate(people)]
    lines.append(_patient(9, "other", "1931", "943 476 5919"))
    data = write("Patient.ndjson", "\n".join(lines) + "\n")
    out = tmp_path / "risk.json"
    args = ("risk", data, "--fhir-view", "Patient", "--qi", "gender,birth_date", "--json", out)
    code, _, err = cli(*args, "--no-suppress")
    assert code == 0, err
    report = json.loads(out.read_text())
    assert report["rows"] == 5 and report["classes"] == 3 and report["k"] == 1
    opt = write("optout.txt", "943-476-5919\n")
    code, _, err = cli(*args, "--no-suppress", "--opt-out", opt)
    assert code == 0, err
    report = json.loads(out.read_text())
    assert report["rows"] == 4 and report["classes"] == 2 and report["k"] == 2
