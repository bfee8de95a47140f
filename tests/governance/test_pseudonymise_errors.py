"""Bad input to `healthdq pseudonymise`: one clear line naming what and where, exit 2, nothing
written."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from .pseudo_data import write_dataset

Cli = Callable[..., tuple[int, str, str]]


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    return write_dataset(tmp_path / "in")


def _run(cli: Cli, files: dict[str, Path], *args: str | Path) -> tuple[int, str, str]:
    return cli("pseudonymise", *args, "--key-file", files["key"])


def _one_line(code: int, err: str) -> str:
    assert code == 2
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


@pytest.mark.parametrize(
    ("config", "needle"),
    [
        ("columns:\n  sex: year\ndefault: keep\n", "column 'sex' does not hold dates"),
        ("columns:\n  los: age_band\ndefault: keep\n", "column 'los' does not hold dates"),
        (
            "default: keep\ncolumns:\n  sex: {method: keep, as: postcode}\n",
            "two output columns are named 'postcode'",
        ),
        ("default: drop\n", "every column is dropped"),
        ("", "config is empty"),
        ("columns:\n  sex: [keep]\n", "method must be text"),
    ],
)
def test_config_problems(
    cli: Cli, files: dict[str, Path], tmp_path: Path, config: str, needle: str
) -> None:
    files["config"].write_text(config, encoding="utf-8")
    code, _, err = _run(cli, files, files["apc"], "-c", files["config"], "-o", tmp_path / "o.csv")
    assert needle in _one_line(code, err)
    assert str(files["config"]) in err
    assert not (tmp_path / "o.csv").exists()


def test_missing_data_config_and_bad_outputs(
    cli: Cli, files: dict[str, Path], tmp_path: Path
) -> None:
    code, _, err = _run(
        cli, files, tmp_path / "nope.csv", "-c", files["config"], "-o", tmp_path / "o.csv"
    )
    assert "nope.csv" in _one_line(code, err)
    code, _, err = _run(
        cli, files, files["apc"], "-c", tmp_path / "no.yaml", "-o", tmp_path / "o.csv"
    )
    assert "no.yaml: config file not found" in _one_line(code, err)
    code, _, err = _run(cli, files, files["apc"], "-c", files["config"], "-o", tmp_path / "o.json")
    assert "write .parquet or .csv" in _one_line(code, err)
    (tmp_path / "file").write_text("x", encoding="utf-8")
    code, _, err = _run(
        cli,
        files,
        f"apc={files['apc']}",
        f"ae={files['ae']}",
        "-c",
        files["config"],
        "-o",
        tmp_path / "file",
    )
    assert "several tables are written to a folder" in _one_line(code, err)
    code, _, err = _run(
        cli, files, files["apc"], files["ae"], "-c", files["config"], "-o", tmp_path / "d"
    )
    assert "give each as TABLE=PATH" in _one_line(code, err)
    assert not (tmp_path / "o.csv").exists() and not (tmp_path / "d").exists()


def test_a_problem_in_the_second_table_leaves_nothing(
    cli: Cli, files: dict[str, Path], tmp_path: Path
) -> None:
    """Every table is planned (and every config problem found) before any is written."""
    files["config"].write_text(
        "default: keep\ncolumns:\n  nhs_number: token\n  arrival_date: 'age_at:nowhere'\n",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    code, _, err = _run(
        cli, files, f"apc={files['apc']}", f"ae={files['ae']}", "-c", files["config"], "-o", out
    )
    assert "column 'nowhere' not found in table ae" in _one_line(code, err)
    assert not out.exists() or not list(out.iterdir())
