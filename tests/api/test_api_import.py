"""`healthdq.profile` and `healthdq.omop` are API functions and subpackages: both uses work, in
any import order (each order in a fresh interpreter)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ORDERS = {
    "function-first": """
import healthdq
import pyarrow as pa
print(healthdq.profile(pa.table({"a": [1, 2]})).rows)
from healthdq.profile import TableProfile, profile_table, suggest_contract
import healthdq.profile.suggest
print(healthdq.profile(pa.table({"a": [1, 2, 3]})).rows, callable(suggest_contract))
""",
    "subpackage-first": """
from healthdq.profile.profiler import TableProfile
from healthdq.profile import render_profile
import healthdq
import pyarrow as pa
print(healthdq.profile(pa.table({"a": [1, 2]})).rows)
print(healthdq.profile(pa.table({"a": [1, 2, 3]})).rows, callable(render_profile))
""",
    "omop-subpackage-later": """
import healthdq
from healthdq.omop.runner import run_omop
import healthdq.omop.catalogue
import pyarrow as pa
print(healthdq.profile(pa.table({"a": [1, 2]})).rows)
print(healthdq.profile(pa.table({"a": [1, 2, 3]})).rows, healthdq.omop is healthdq.api.omop)
""",
    "cli-first": """
import healthdq.cli
import healthdq
import pyarrow as pa
print(healthdq.profile(pa.table({"a": [1, 2]})).rows)
print(healthdq.profile(pa.table({"a": [1, 2, 3]})).rows, healthdq.profile is healthdq.api.profile)
""",
}


@pytest.mark.parametrize("order", list(ORDERS))
def test_profile_function_and_subpackage_coexist(order: str, tmp_path: Path) -> None:
    src = str(Path(__file__).resolve().parents[2] / "src")
    env = {**os.environ, "PYTHONPATH": src, "HEALTHDQ_AUDIT_LOG": str(tmp_path / "a.jsonl")}
    done = subprocess.run(
        [sys.executable, "-c", ORDERS[order]], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["2", "3", "True"]


def test_public_names() -> None:
    import healthdq
    from healthdq import api

    assert healthdq.check is api.check and healthdq.profile is api.profile
    assert healthdq.omop is api.omop
    assert set(healthdq.__all__) >= {"check", "profile", "omop", "RunResult", "HealthdqError"}
