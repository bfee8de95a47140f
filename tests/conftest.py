"""Shared fixtures: small files written per test, and an in-process CLI runner."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from healthdq.cli import main


@pytest.fixture(scope="session", autouse=True)
def _session_outputs_in_tmp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Runs made by module- or session-scoped fixtures are stored (and audited) in a temporary
    folder too: nothing a test does writes into the repository's .healthdq/."""
    root = tmp_path_factory.mktemp("session-healthdq")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HEALTHDQ_STORE", str(root / "runs.duckdb"))
        patch.setenv("HEALTHDQ_AUDIT_LOG", str(root / "audit.jsonl"))
        yield


@pytest.fixture(autouse=True)
def _store_in_tmp(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Every run a test makes (CLI or pipeline) is stored under tmp_path, never in the repo."""
    store = tmp_path / "store" / "runs.duckdb"
    monkeypatch.setenv("HEALTHDQ_STORE", str(store))
    return store


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str, str | bytes], Path]:
    def _write(name: str, content: str | bytes) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        return path

    return _write


@pytest.fixture
def cli(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> Callable[..., tuple[int, str, str]]:
    """Run `healthdq ARGS` in-process; returns (exit code, stdout, stderr)."""

    def _run(*args: str) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "argv", ["healthdq", *map(str, args)])
        monkeypatch.setenv("HEALTHDQ_AUDIT_LOG", str(tmp_path / "audit.jsonl"))
        monkeypatch.setenv("HEALTHDQ_STORE", str(tmp_path / "store" / "runs.duckdb"))
        monkeypatch.setenv("COLUMNS", "200")
        code = 0
        try:
            main()
        except SystemExit as exc:
            code = int(exc.code or 0)
        out, err = capsys.readouterr()
        return code, out, err

    return _run
