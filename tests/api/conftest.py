"""Fixtures for the Python API tests: audit log and store in the test's folder, small files."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from api_data import COLUMNS, CONTRACT

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "omop"))

from omop_fixture import make_cdm  # noqa: E402, F401  (fixture used by test_api_omop)


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The audit log and results store live in the test's own folder."""
    monkeypatch.setenv("HEALTHDQ_AUDIT_LOG", str(tmp_path / "audit.jsonl"))
    monkeypatch.setenv("HEALTHDQ_STORE", str(tmp_path / "store.duckdb"))
    yield


@pytest.fixture
def contract_file(tmp_path: Path) -> Path:
    path = tmp_path / "people.yaml"
    path.write_text(CONTRACT, encoding="utf-8")
    return path


@pytest.fixture
def csv_file(tmp_path: Path) -> Path:
    path = tmp_path / "people.csv"
    lines = [",".join(COLUMNS)]
    lines += [",".join(str(v) for v in row) for row in zip(*COLUMNS.values(), strict=True)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
