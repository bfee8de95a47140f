"""CLI polish (issue #10, item 7): every flag a message names exists, --help shows plain
placeholders and paired booleans, and the --verbose hint of the summary works."""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import typer.main
from typer.testing import CliRunner

import healthdq
from healthdq.cli import app

Cli = Callable[..., tuple[int, str, str]]
Write = Callable[[str, str | bytes], Path]
SRC = Path(healthdq.__file__).parent
# Modules with their own argparse command line (python -m healthdq.omop.conformance ...).
OWN_PARSERS = {"omop/conformance.py", "fhir/conformance.py"}
FLAG = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")


def _commands(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    yield path, command
    for name, sub in getattr(command, "commands", {}).items():
        yield from _commands(sub, (*path, name))


def _root() -> Any:
    return typer.main.get_command(app)


def _options() -> set[str]:
    flags = {"--help"}
    for _, command in _commands(_root()):
        for param in command.params:
            flags.update(getattr(param, "opts", []))
            flags.update(getattr(param, "secondary_opts", []))
    return flags


def _help(path: tuple[str, ...]) -> str:
    result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return result.output


def test_every_flag_a_message_names_exists() -> None:
    """Hints and errors ('--verbose or see the HTML report', '--out-format parquet|csv') name
    only options that the CLI has."""
    known = _options()
    named: dict[str, str] = {}
    for path in SRC.rglob("*.py"):
        rel = path.relative_to(SRC).as_posix()
        if rel in OWN_PARSERS:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                for flag in FLAG.findall(node.value):
                    named.setdefault(flag, rel)
    unknown = {flag: where for flag, where in named.items() if flag not in known}
    assert unknown == {}


def test_help_has_plain_placeholders_on_every_command() -> None:
    for path, command in _commands(_root()):
        text = _help(path)
        for noise in ("<str>", "<int>", "<float>", "<path>", "list[", "{", "--no-no-"):
            assert noise not in text, (path, noise)
        if any("--engine" in getattr(p, "opts", []) for p in command.params):
            assert "healthdq[spark]" in text and "needs healthdq)" not in text, path


def test_check_help_pairs_booleans_and_names_placeholders() -> None:
    text = _help(("check",))
    assert "Usage: healthdq check [OPTIONS] DATA..." in " ".join(text.split()) or "DATA..." in text
    assert "--suppress / --no-suppress" in text
    for shown in ("--contract FILE", "--sample-size N", "--run-date YYYY-MM-DD", "--engine"):
        assert shown in text
    assert "--engine duckdb|spark" in text
    profile = _help(("profile",))
    assert "DATA  Data file" in profile and "--format FORMAT" in profile


@pytest.fixture
def many_failures(write: Write) -> tuple[Path, Path]:
    """20 rules failing on a two-row CSV: more than the summary lists without --verbose."""
    columns = [f"c{i:02d}" for i in range(20)]
    data = write("t.csv", ",".join(columns) + "\n" + ",".join("x" * 20) + "\n" + "," * 19 + "\n")
    rules = "\n".join(f"      - {{id: nn{c}, kind: not_null, column: {c}}}" for c in columns)
    contract = write("c.yaml", f"name: t\ntables:\n  t:\n    source: t.csv\n    rules:\n{rules}\n")
    return data, contract


def test_verbose_hint_works(cli: Cli, many_failures: tuple[Path, Path]) -> None:
    data, contract = many_failures
    code, short, _ = cli("check", data, "--contract", contract, "--no-store")
    assert code == 1 and "more (--verbose" in short
    code, verbose, _ = cli("check", data, "--contract", contract, "--no-store", "--verbose")
    assert code == 1 and "more (--verbose" not in verbose
    assert all(f"nnc{i:02d}" in verbose for i in range(20))


def test_suppress_flags_both_parse(cli: Cli, many_failures: tuple[Path, Path]) -> None:
    data, contract = many_failures
    for flag in ("--suppress", "--no-suppress"):
        code, _, err = cli("check", data, "--contract", contract, "--no-store", flag)
        assert code == 1, err


def test_samples_are_labelled_with_the_users_column_names(cli: Cli, tmp_path: Path) -> None:
    """A HES-named column bound to a pack column: the HTML and JUnit samples show the user's
    name with the pack's beside it."""
    import duckdb

    from healthdq.synth import generate

    data = generate("apc", 2000, tmp_path / "apc.parquet", seed=3).path
    hes = tmp_path / "hes.parquet"
    con = duckdb.connect()
    con.execute(
        f"COPY (SELECT * RENAME (nhs_number AS NHSNO) FROM '{data}') TO '{hes}' (FORMAT parquet)"
    )
    con.close()
    html, junit = tmp_path / "r.html", tmp_path / "r.xml"
    code, _, err = cli(
        "check", hes, "--pack", "nhs-apc", "--html", html, "--junit", junit, "--no-store"
    )
    assert code == 1, err
    assert "NHSNO (nhs_number)" in html.read_text(encoding="utf-8")
    assert "NHSNO (nhs_number)='" in junit.read_text(encoding="utf-8")
