"""check's audit entry carries the content hashes of its inputs and of its contract or pack, as
pseudonymise's and redact's entries do (docs/audit.md)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from healthdq import pipeline
from healthdq.rules.loader import load_pack, pack_path, parse_contract

Cli = Callable[..., tuple[int, str, str]]

CONTRACT = """
name: people
tables:
  people:
    rules:
      - {id: sex.valid, kind: allowed_values, column: sex, values: ['1', '2']}
"""


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _events(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines() if line]


def test_check_entry_hashes_inputs_and_contract(cli: Cli, tmp_path: Path) -> None:
    data = tmp_path / "people.csv"
    data.write_text("nhs_number,sex\n9434765919,1\n9434765870,X\n", encoding="utf-8")
    contract = tmp_path / "people.yaml"
    contract.write_text(CONTRACT, encoding="utf-8")
    code, _, err = cli("check", data, "--contract", contract, "--fail-on", "never", "-q")
    assert code == 0, err
    (event,) = _events(tmp_path / "audit.jsonl")
    detail = event["detail"]
    assert detail["inputs"] == [
        {"table": "people", "source": str(data), "files": {str(data): _sha(data)}}
    ]
    config = detail["config"]
    assert config["path"] == str(contract) and config["sha256"] == _sha(contract)
    assert config["name"] == "people" and len(config["parsed_sha256"]) == 64
    assert detail["contract"] == "people" and detail["run_id"]

    # Another input byte, another hash; the same contract, the same hashes.
    data.write_text("nhs_number,sex\n9434765919,1\n9434765870,2\n", encoding="utf-8")
    cli("check", data, "--contract", contract, "--fail-on", "never", "-q")
    again = _events(tmp_path / "audit.jsonl")[-1]["detail"]
    assert again["inputs"][0]["files"][str(data)] == _sha(data) != detail["inputs"][0]["files"]
    assert again["config"] == config


def test_pack_folder_and_glob_inputs_are_hashed(tmp_path: Path) -> None:
    folder = tmp_path / "parts"
    folder.mkdir()
    for i in range(2):
        (folder / f"p{i}.csv").write_text(f"nhs_number,sex\n943476591{i},1\n", encoding="utf-8")
    log = tmp_path / "a.jsonl"
    settings = pipeline.Settings(audit_log=log, keep_run=False)
    pipeline.check(load_pack("nhs-ae"), {"ae": str(folder)}, settings=settings)
    pipeline.check(load_pack("nhs-ae"), {"ae": str(folder / "*.csv")}, settings=settings)
    first, second = (e["detail"] for e in _events(log))
    want = {str(p): _sha(p) for p in sorted(folder.iterdir())}
    assert first["inputs"][0]["files"] == want == second["inputs"][0]["files"]
    assert first["config"]["sha256"] == _sha(pack_path("nhs-ae"))
    # A contract built in code has no file to hash; its parsed form still is.
    built = parse_contract(CONTRACT, "<memory>")
    detail = pipeline.contract_detail(built)
    assert detail["sha256"] is None and len(detail["parsed_sha256"]) == 64


def test_a_failed_check_does_not_wait_for_the_hash(tmp_path: Path) -> None:
    import pytest

    from healthdq.errors import HealthdqError

    settings = pipeline.Settings(audit_log=tmp_path / "a.jsonl", keep_run=False)
    with pytest.raises(HealthdqError):
        pipeline.check(load_pack("nhs-ae"), {"ae": str(tmp_path / "no.csv")}, settings=settings)
    assert not (tmp_path / "a.jsonl").exists() or not _events(tmp_path / "a.jsonl")
