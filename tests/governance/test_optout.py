"""National data opt-out: opted-out patients' records are in no output, the count removed is
small-number suppressed, no opt-out status is written, and a malformed file is one line."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from healthdq.errors import HealthdqError
from healthdq.governance.optout import load_opt_out, suppress, suppress_table
from healthdq.governance.pseudonymise import PseudonymKey

from .pseudo_data import KEY_TEXT, PATIENTS, spaced, write_dataset

Cli = Callable[..., tuple[int, str, str]]


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    return write_dataset(tmp_path / "in")


def _pseudo(
    cli: Cli, files: dict[str, Path], out: Path, *extra: str | Path
) -> tuple[int, str, str]:
    return cli(
        "pseudonymise",
        f"apc={files['apc']}",
        f"ae={files['ae']}",
        "-c",
        files["config"],
        "-o",
        out,
        "--key-file",
        files["key"],
        *extra,
    )


def test_opted_out_patients_are_in_no_output(
    cli: Cli, files: dict[str, Path], tmp_path: Path
) -> None:
    gone = PATIENTS[:9]  # 9 apc records (>7: shown) and 8 ae records
    opt = tmp_path / "optout.txt"
    opt.write_text(
        "# national data opt-out\n"
        + "\n".join(spaced(p) if i % 2 else p for i, p in enumerate(gone))
        + "\n\n",
        encoding="utf-8",
    )
    code, out, err = _pseudo(cli, files, tmp_path / "out", "--opt-out", opt)
    assert code == 0, err
    key = PseudonymKey(KEY_TEXT.encode())
    gone_tokens = {key.token(p) for p in gone}
    apc = duckdb.sql(f"SELECT * FROM '{tmp_path / 'out' / 'apc.parquet'}'")
    ae = duckdb.sql(f"SELECT * FROM '{tmp_path / 'out' / 'ae.parquet'}'")
    apc_tokens = {r[0] for r in apc.select("nhs_number").fetchall()}
    assert not apc_tokens & gone_tokens
    assert apc_tokens - {None} == {key.token(p) for p in PATIENTS[9:]}
    assert ae.count("*").fetchall() == [(0,)]  # every ae patient opted out
    # No opt-out status written onto any record: the columns are the config's, nothing added.
    assert "opt" not in " ".join(apc.columns).lower()
    assert apc.count("*").fetchall() == [(len(PATIENTS) - 9 + 1,)]  # the row without a number stays
    assert "apc: 4 rows" in out and "opted-out records removed: 9" in out
    assert "ae: 0 rows" in out and "opted-out records removed: 8" in out
    assert "records removed: 17" in out


def test_small_counts_are_suppressed(cli: Cli, files: dict[str, Path], tmp_path: Path) -> None:
    opt = tmp_path / "optout.txt"
    opt.write_text(PATIENTS[10] + "\n", encoding="utf-8")  # in apc only: 1 record
    code, out, _ = _pseudo(
        cli, files, tmp_path / "out", "--opt-out", opt, "--json", tmp_path / "r.json"
    )
    assert code == 0
    assert "opted-out records removed: *" in out
    assert "records removed: *" in out
    assert "records removed: 1" not in out
    report = (tmp_path / "r.json").read_text(encoding="utf-8")
    assert '"opted_out": "*"' in report and '"opted_out": "1"' not in report
    audit = (tmp_path / "audit.jsonl").read_text(encoding="utf-8")
    assert '"removed": "*"' in audit


def test_suppression_rules() -> None:
    assert [suppress(n) for n in (0, 1, 7, 8, 120)] == ["0", "*", "*", "8", "120"]
    # One hidden cell: the next smallest is hidden too, so the total cannot give it back.
    assert suppress_table({"a": 3, "b": 20, "c": 50}) == ({"a": "*", "b": "*", "c": "50"}, "73")
    assert suppress_table({"a": 3, "b": 0}) == ({"a": "*", "b": "*"}, "*")
    assert suppress_table({"a": 3}) == ({"a": "*"}, "*")
    assert suppress_table({"a": 3, "b": 4, "c": 50}) == ({"a": "*", "b": "*", "c": "50"}, "57")
    assert suppress_table({"a": 0, "b": 12}) == ({"a": "0", "b": "12"}, "12")


@pytest.mark.parametrize(
    ("content", "line"),
    [
        (b"4000000004\n123\n", 2),
        (b"4000000004\n4000000005\n", 2),  # bad check digit
        (b"\n\n40000000x4\n", 3),
        (b"4000000004\nnhs_number\n", 2),
        (b"4000000004\n\xff\xfe\n", 2),
    ],
)
def test_malformed_line_is_one_error_naming_file_line_and_nothing_is_written(
    cli: Cli, files: dict[str, Path], tmp_path: Path, content: bytes, line: int
) -> None:
    opt = tmp_path / "optout.txt"
    opt.write_bytes(content)
    code, out, err = _pseudo(cli, files, tmp_path / "out", "--opt-out", opt)
    assert code == 2
    assert err.count("\n") == 1 and "Traceback" not in err
    assert f"{opt}:{line}:" in err
    assert not (tmp_path / "out").exists()
    # The bad value is never echoed (it may be a real number).
    assert "4000000005" not in err and "40000000x4" not in err


def test_missing_opt_out_file(cli: Cli, files: dict[str, Path], tmp_path: Path) -> None:
    code, _, err = _pseudo(cli, files, tmp_path / "out", "--opt-out", tmp_path / "none.txt")
    assert code == 2 and "none.txt: opt-out file not found" in err
    assert not (tmp_path / "out").exists()


def test_a_table_without_the_patient_column_is_refused(
    files: dict[str, Path], tmp_path: Path
) -> None:
    opt = tmp_path / "optout.txt"
    opt.write_text(PATIENTS[0] + "\n", encoding="utf-8")
    files["config"].write_text("patient: mrn\ndefault: keep\n", encoding="utf-8")
    from healthdq import pipeline
    from healthdq.governance.pseudonymise import load_config

    with pytest.raises(HealthdqError, match="table ae has no column 'mrn' to apply the opt-out to"):
        pipeline.pseudonymise(
            {"ae": str(files["ae"])},
            load_config(files["config"]),
            tmp_path / "o.parquet",
            key_file=files["key"],
            opt_out=opt,
            settings=pipeline.Settings(audit_log=tmp_path / "a.jsonl"),
        )
    assert not (tmp_path / "o.parquet").exists()


def test_load_normalises_and_deduplicates(tmp_path: Path) -> None:
    opt = tmp_path / "o.txt"
    opt.write_bytes(b"\xef\xbb\xbf" + f"{PATIENTS[0]}\r\n{spaced(PATIENTS[0])}\n # x\n".encode())
    loaded = load_opt_out(opt)
    assert loaded.numbers == (PATIENTS[0],)
    assert PATIENTS[0] not in repr(loaded)


CONTRACT = """
name: people
tables:
  apc:
    columns:
      nhs_number: {identifier: nhs_number}
    rules:
      - {id: los.small, kind: range, column: los, max: 0}
"""


def test_check_samples_and_counts_leave_opted_out_patients_out(
    cli: Cli, files: dict[str, Path], tmp_path: Path
) -> None:
    contract = tmp_path / "c.yaml"
    contract.write_text(CONTRACT, encoding="utf-8")
    opt = tmp_path / "optout.txt"
    opt.write_text("\n".join(PATIENTS[:10]) + "\n", encoding="utf-8")
    args = [files["apc"], "-c", contract, "--fail-on", "never", "--unmask", "--sample-size", "50"]
    code, out, err = cli("check", *args, "--opt-out", opt, "--json", tmp_path / "r.json")
    assert code == 0, err
    report = (tmp_path / "r.json").read_text(encoding="utf-8")
    for p in PATIENTS[:10]:
        assert p not in report and spaced(p) not in report
    rows = [s["row"] for r in json.loads(report)["rules"] for s in r["samples"]]
    assert rows == [11, 12, 13]  # file rows 1-10 are the opted-out patients'
    assert '"rows": 3' in report  # 13 rows, 10 opted out
    assert "national data opt-out: 10 records of opted-out patients removed" in err
    audit = (tmp_path / "audit.jsonl").read_text(encoding="utf-8").splitlines()[-1]
    assert '"removed": "10"' in audit
    # Without the opt-out the same check shows them.
    code, _, _ = cli("check", *args, "--json", tmp_path / "all.json")
    everyone = json.loads((tmp_path / "all.json").read_text(encoding="utf-8"))
    assert [s["row"] for r in everyone["rules"] for s in r["samples"]] == list(range(2, 14))


def test_check_opt_out_needs_an_nhs_number_column(
    cli: Cli, files: dict[str, Path], tmp_path: Path
) -> None:
    contract = tmp_path / "c.yaml"
    contract.write_text(CONTRACT.replace("{identifier: nhs_number}", "{}"), encoding="utf-8")
    opt = tmp_path / "optout.txt"
    opt.write_text(PATIENTS[0] + "\n", encoding="utf-8")
    code, _, err = cli(
        "check", files["apc"], "-c", contract, "--opt-out", opt, "--json", tmp_path / "r.json"
    )
    assert code == 2
    assert "table apc has no NHS number column (identifier: nhs_number)" in err
    assert not (tmp_path / "r.json").exists()
