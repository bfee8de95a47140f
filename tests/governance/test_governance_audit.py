import json
from pathlib import Path

import pytest

from healthdq.governance.audit import GENESIS_HASH, AuditLog, AuditLogError


def _log(tmp_path: Path, n: int = 3) -> AuditLog:
    log = AuditLog(tmp_path / "audit" / "audit.jsonl")
    for i in range(n):
        log.record("check", f"apc{i}.csv", rows=100 + i, columns=["nhs_number"], unmasked=i == 1)
    return log


def test_record_fields_and_chain(tmp_path: Path) -> None:
    log = _log(tmp_path)
    events = log.events()
    assert len(events) == 3
    first = events[0]
    for key in ("ts", "user", "host", "action", "dataset", "rows", "columns", "unmasked"):
        assert key in first
    assert first["prev_hash"] == GENESIS_HASH
    assert events[1]["prev_hash"] == first["hash"]
    assert events[1]["unmasked"] is True
    assert log.head() == events[-1]["hash"]
    assert log.verify() is True


def test_empty_log_verifies(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "none.jsonl")
    assert log.verify() is True
    assert log.head() == GENESIS_HASH


def test_appends_across_instances(tmp_path: Path) -> None:
    _log(tmp_path, 2)
    log = _log(tmp_path, 2)  # a second process appends to the same chain
    assert len(log.events()) == 4
    assert log.verify()


def test_tampered_line_breaks_verify(tmp_path: Path) -> None:
    log = _log(tmp_path)
    lines = log.path.read_text(encoding="utf-8").splitlines()
    event = json.loads(lines[1])
    event["unmasked"] = False  # hide an unmasked access
    lines[1] = json.dumps(event)
    log.path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(AuditLogError, match=r"audit.jsonl:2: .*modified"):
        log.verify()


def test_deleted_line_breaks_verify(tmp_path: Path) -> None:
    log = _log(tmp_path)
    lines = log.path.read_text(encoding="utf-8").splitlines()
    del lines[1]
    log.path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(AuditLogError, match="chain broken"):
        log.verify()


def test_garbage_line_breaks_verify(tmp_path: Path) -> None:
    log = _log(tmp_path)
    with open(log.path, "a", encoding="utf-8") as fh:
        fh.write("not json\n")
    with pytest.raises(AuditLogError, match="not valid JSON"):
        log.verify()


def test_secrets_redacted(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "a.jsonl")
    event = log.record(
        "check",
        "postgres://db/apc",
        rows=5,
        columns=["nhs_number"],
        unmasked=True,
        detail={
            "api_key": "abc123",
            "Token": "t0k",
            "db_password": "hunter2",
            "client_secret": "s3",
            "nested": {"accessKey": "k", "ok": [{"refresh_token": "x"}]},
            "reason": "clinical safety incident 42",
        },
    )
    text = log.path.read_text(encoding="utf-8")
    for secret in ("abc123", "t0k", "hunter2", 's3"', 'refresh_token": "x'):
        assert secret not in text
    assert event["detail"]["api_key"] == "[redacted]"
    assert event["detail"]["nested"]["accessKey"] == "[redacted]"
    assert event["detail"]["nested"]["ok"][0]["refresh_token"] == "[redacted]"
    assert event["detail"]["reason"] == "clinical safety incident 42"
    assert log.verify()
