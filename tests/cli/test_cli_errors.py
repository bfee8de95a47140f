"""Bad input through the CLI: one line naming file and line, exit 2, never a traceback."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

Cli = Callable[..., tuple[int, str, str]]
Write = Callable[[str, str | bytes], Path]

CONTRACT = """name: t
tables:
  t:
    rules:
      - {id: nn, kind: not_null, column: a}
      - {id: vals, kind: allowed_values, column: b, values: ['1', '2'], severity: warning}
"""


def one_line_error(err: str) -> str:
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


@pytest.mark.parametrize(
    ("contract", "expected"),
    [
        ("name: t\ntables: [\n", "c.yaml:3:1: invalid YAML"),
        (
            "name: t\ntables:\n  t:\n    rules:\n      - {id: x, kind: not_null, colum: a}\n",
            "c.yaml:5: unknown key 'colum'",
        ),
        (
            "name: t\ntables:\n  t:\n    rules:\n      - id: x\n        kind: nope\n",
            "c.yaml:5: tables.t.rules.0: unknown rule kind",
        ),
        (
            "name: t\ntables:\n  t:\n    rules:\n      - id: x\n        kind: range\n"
            "        column: a\n        min: low\n",
            "c.yaml:8: tables.t.rules.0.min",
        ),
        ("", "contract is empty"),
        ("name: t\nname: u\ntables: {}\n", "c.yaml:2: duplicate key 'name'"),
    ],
)
def test_bad_contracts(cli: Cli, write: Write, contract: str, expected: str) -> None:
    data = write("d.csv", "a,b\n1,1\n")
    path = write("c.yaml", contract)
    code, _, err = cli("check", data, "--contract", path)
    assert code == 2
    line = one_line_error(err)
    assert expected in line
    assert str(path.parent) in line


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("missing.csv", None, "missing.csv: file not found"),
        ("empty.csv", b"", "empty.csv: file is empty"),
        ("ragged.csv", b"a,b\n1,2\n3\n", "ragged.csv:3: ragged row"),
        ("bad.parquet", b"not a parquet file", "bad.parquet"),
    ],
)
def test_bad_data_files(
    cli: Cli, write: Write, name: str, content: bytes | None, expected: str
) -> None:
    contract = write("c.yaml", CONTRACT)
    data = write(name, content) if content is not None else contract.parent / name
    code, _, err = cli("check", data, "--contract", contract)
    assert code == 2
    assert expected in one_line_error(err)


def test_unknown_column_is_a_rule_error_not_a_crash(cli: Cli, write: Write, tmp_path: Path) -> None:
    contract = write(
        "c.yaml",
        "name: t\ntables:\n  t:\n    rules:\n      - {id: nn, kind: not_null, column: zzz}\n"
        "      - {id: ok, kind: not_null, column: a}\n",
    )
    data = write("d.csv", "a,b\n1,1\n")
    code, out, err = cli("check", data, "--contract", contract, "--json", tmp_path / "r.json")
    assert code == 1  # a rule in error fails the run: never a silent pass
    text = (tmp_path / "r.json").read_text(encoding="utf-8")
    assert '"status": "error"' in text and "column 'zzz' not found" in text


def test_usage_errors_exit_2(cli: Cli, write: Write) -> None:
    data = write("d.csv", "a,b\n1,1\n")
    assert cli("check", data)[0] == 2  # neither --contract nor --pack
    assert cli("check", data, "--pack", "no-such-pack")[0] == 2
    assert cli("check", data, "--pack", "nhs-apc", "--fail-on", "loud")[0] == 2
    assert cli("check", data, "--pack", "nhs-apc", "--map", "nonsense")[0] == 2
    assert cli("nonsense-verb")[0] == 2


def test_exit_codes_follow_fail_on(cli: Cli, write: Write) -> None:
    contract = write("c.yaml", CONTRACT)
    clean = write("clean.csv", "a,b\n1,1\n2,2\n")
    warn = write("warn.csv", "a,b\n1,1\n2,3\n")
    assert cli("check", clean, "--contract", contract)[0] == 0
    assert cli("check", warn, "--contract", contract)[0] == 0  # warning < error
    assert cli("check", warn, "--contract", contract, "--fail-on", "warning")[0] == 1
    assert cli("check", warn, "--contract", contract, "--fail-on", "never")[0] == 0
