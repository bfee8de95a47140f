"""Safety: no key or a short key refuses to run (never unkeyed hashing); the key and the raw
identifiers appear in no output file, JSON report, audit log, store, stdout or stderr."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from .pseudo_data import KEY_TEXT, PATIENTS, spaced, write_dataset

Cli = Callable[..., tuple[int, str, str]]


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    return write_dataset(tmp_path / "in")


def _args(files: dict[str, Path], out: Path) -> list[str | Path]:
    return [f"apc={files['apc']}", f"ae={files['ae']}", "-c", files["config"], "-o", out]


def _everything(root: Path) -> list[Path]:
    """Every file under root but the inputs (the data, the config and the keys)."""
    return [p for p in root.rglob("*") if p.is_file() and p.parent.name != "in"]


def test_no_key_refuses_and_writes_nothing(
    cli: Cli, files: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HEALTHDQ_KEY_FILE", raising=False)
    code, out, err = cli("pseudonymise", *_args(files, tmp_path / "out"))
    assert code == 2
    assert "pseudonymise needs a key: --key-file FILE or HEALTHDQ_KEY_FILE" in err
    assert "never made without a key" in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("length", [0, 1, 31])
def test_a_short_key_is_refused(
    cli: Cli, files: dict[str, Path], tmp_path: Path, length: int
) -> None:
    short = tmp_path / "short.key"
    short.write_bytes(b"s" * length + b"\n")
    code, _, err = cli("pseudonymise", *_args(files, tmp_path / "out"), "--key-file", short)
    assert code == 2
    assert f"{short}: key too short: {length} bytes, need at least 32" in err
    assert not (tmp_path / "out").exists()


def test_missing_and_unreadable_key_files(cli: Cli, files: dict[str, Path], tmp_path: Path) -> None:
    code, _, err = cli(
        "pseudonymise", *_args(files, tmp_path / "o"), "--key-file", tmp_path / "nope"
    )
    assert code == 2 and f"{tmp_path / 'nope'}: key file not found" in err
    code, _, err = cli("pseudonymise", *_args(files, tmp_path / "o"), "--key-file", tmp_path)
    assert code == 2 and "key file is a folder" in err
    assert not (tmp_path / "o").exists()


def test_key_from_the_environment(
    cli: Cli, files: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEALTHDQ_KEY_FILE", str(files["key"]))
    code, out, _ = cli("pseudonymise", *_args(files, tmp_path / "out"))
    assert code == 0, out
    assert (tmp_path / "out" / "apc.parquet").is_file()


def test_a_key_others_can_read_is_warned_about(
    cli: Cli, files: dict[str, Path], tmp_path: Path
) -> None:
    files["key"].chmod(0o644)
    code, _, err = cli("pseudonymise", *_args(files, tmp_path / "out"), "--key-file", files["key"])
    assert code == 0
    assert "the key file is readable by other users" in err
    assert KEY_TEXT not in err


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_key_and_identifiers_appear_nowhere(
    cli: Cli, files: dict[str, Path], tmp_path: Path, fmt: str
) -> None:
    code, out, err = cli(
        "pseudonymise",
        *_args(files, tmp_path / "out"),
        "--key-file",
        files["key"],
        "--out-format",
        fmt,
        "--json",
        tmp_path / "report.json",
    )
    assert code == 0, err
    # A check run on the same data keeps a run in the store and an audit entry too.
    code, _, err = cli("check", files["ae"], "--pack", "nhs-ae", "-q", "--fail-on", "never")
    secrets = [KEY_TEXT]
    identifiers = [*PATIENTS, *(spaced(p) for p in PATIENTS), "E0000", "LS1 4AP", "07700 900"]
    written = _everything(tmp_path)
    names = {p.name for p in written}
    assert {f"apc.{fmt}", f"ae.{fmt}", "report.json", "audit.jsonl"} <= names
    for path in written:
        data = path.read_bytes()
        for secret in secrets:
            assert secret.encode() not in data, f"key in {path}"
            assert secret.encode().hex().encode() not in data, f"key (hex) in {path}"
        if path.name.startswith(("apc.", "ae.", "report.json", "audit.jsonl")):
            for value in identifiers:
                assert value.encode() not in data, f"identifier in {path}"
    for text in (out, err):
        assert KEY_TEXT not in text
        assert not any(p in text for p in PATIENTS)
