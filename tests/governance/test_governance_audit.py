import hashlib
import json
import multiprocessing
from pathlib import Path

import pytest

from healthdq.governance.audit import (
    GENESIS_HASH,
    KEYED,
    QUARANTINE_ACTION,
    UNKEYED,
    AuditKeyError,
    AuditLog,
    AuditLogError,
    _canonical,
    key_id,
    load_key,
    open_log,
)

KEY = b"k3y-that-must-never-leak-0123456789abcdef"


def _log(tmp_path: Path, n: int = 3, key: bytes | None = None) -> AuditLog:
    log = AuditLog(tmp_path / "audit" / "audit.jsonl", key)
    for i in range(n):
        log.record(
            "check",
            f"apc{i}.csv",
            rows=100 + i,
            columns=["nhs_number"],
            unmasked=i == 1,
            detail={"run_id": f"run-{i}"},
        )
    return log


def _lines(log: AuditLog) -> list[str]:
    return log.path.read_text(encoding="utf-8").splitlines()


def _write(log: AuditLog, lines: list[str]) -> None:
    log.path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _rechain(events: list[dict[str, object]]) -> list[str]:
    """What an attacker without the key does: recompute every hash with plain SHA-256."""
    prev, out = GENESIS_HASH, []
    for event in events:
        body = {k: v for k, v in event.items() if k != "hash"}
        body["prev_hash"] = prev
        body["hash"] = prev = hashlib.sha256((prev + _canonical(body)).encode()).hexdigest()
        out.append(json.dumps(body))
    return out


def test_record_fields_and_chain(tmp_path: Path) -> None:
    log = _log(tmp_path)
    events = log.events()
    assert len(events) == 3
    first = events[0]
    for key in ("ts", "user", "host", "action", "dataset", "rows", "columns", "unmasked"):
        assert key in first
    assert first["chain"] == UNKEYED and "key_id" not in first
    assert first["prev_hash"] == GENESIS_HASH
    assert events[1]["prev_hash"] == first["hash"]
    assert events[1]["unmasked"] is True
    assert log.head() == events[-1]["hash"]
    found = log.verify()
    assert found and found.entries == 3 and found.head == events[-1]["hash"]


def test_unkeyed_verify_always_says_rewrites_go_undetected(tmp_path: Path) -> None:
    for log in (_log(tmp_path), AuditLog(tmp_path / "none.jsonl")):
        assert any("cannot be detected" in w for w in log.verify().warnings)
    assert AuditLog(tmp_path / "none.jsonl").head() == GENESIS_HASH


def test_unkeyed_rewrite_and_recompute_is_not_detected(tmp_path: Path) -> None:
    # The documented limit of the unkeyed mode: drop the unmasked access, recompute, verifies.
    log = _log(tmp_path)
    events = [e for e in log.events() if not e["unmasked"]]
    _write(log, _rechain(events))
    found = log.verify()
    assert found.entries == 2 and "cannot be detected" in found.warnings[0]


def test_appends_across_instances(tmp_path: Path) -> None:
    _log(tmp_path, 2)
    log = _log(tmp_path, 2)  # a second process appends to the same chain
    assert len(log.events()) == 4
    assert log.verify()


def test_tampered_line_breaks_verify(tmp_path: Path) -> None:
    log = _log(tmp_path)
    lines = _lines(log)
    event = json.loads(lines[1])
    event["unmasked"] = False  # hide an unmasked access
    lines[1] = json.dumps(event)
    _write(log, lines)
    with pytest.raises(AuditLogError, match=r"audit.jsonl:2: .*modified"):
        log.verify()


def test_deleted_line_breaks_verify(tmp_path: Path) -> None:
    log = _log(tmp_path)
    lines = _lines(log)
    del lines[1]
    _write(log, lines)
    with pytest.raises(AuditLogError, match=r"audit.jsonl:2: .*chain broken"):
        log.verify()


def test_garbage_line_breaks_verify(tmp_path: Path) -> None:
    log = _log(tmp_path)
    lines = _lines(log)
    lines.insert(1, "not json")
    _write(log, lines)
    with pytest.raises(AuditLogError, match=r":2: .*not valid JSON"):
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


# -- keyed chain -------------------------------------------------------------------------------
def test_keyed_events_name_the_key_without_revealing_it(tmp_path: Path) -> None:
    log = _log(tmp_path, key=KEY)
    text = log.path.read_text(encoding="utf-8")
    assert KEY.decode() not in text and KEY.hex() not in text and "k3y" not in repr(log)
    events = log.events()
    assert {e["chain"] for e in events} == {KEYED}
    assert {e["key_id"] for e in events} == {key_id(KEY)}
    assert key_id(KEY) not in KEY.decode()
    found = log.verify()
    assert found and found.keyed == 3 and found.warnings == []


def test_keyed_rewrite_and_recompute_is_detected(tmp_path: Path) -> None:
    log = _log(tmp_path, key=KEY)
    kept = [e for e in log.events() if not e["unmasked"]]
    # Recomputed with plain SHA-256 (keeping the keyed labels): the MAC does not match.
    _write(log, _rechain(kept))
    with pytest.raises(AuditLogError, match=r"audit.jsonl:1: .*MAC mismatch"):
        log.verify()
    # Recomputed as an unkeyed log: a key was given, so an all-unkeyed log fails.
    for event in kept:
        event["chain"] = UNKEYED
        event.pop("key_id")
    _write(log, _rechain(kept))
    with pytest.raises(AuditLogError, match=r":1: .*no entry is keyed"):
        log.verify()
    # Recomputed with another key under the same key id: MAC mismatch.
    other = AuditLog(tmp_path / "other.jsonl", b"x" * 40)
    for event in kept:
        other.record(event["action"], event["dataset"], event["rows"], [], False)  # type: ignore[arg-type]
    forged = [json.loads(line) for line in _lines(other)]
    for event in forged:
        event["key_id"] = key_id(KEY)
    log.path.write_text("".join(json.dumps(e) + "\n" for e in forged), encoding="utf-8")
    with pytest.raises(AuditLogError, match=r":1: .*MAC mismatch"):
        log.verify()


def test_unkeyed_after_keyed_is_refused_and_detected(tmp_path: Path) -> None:
    log = _log(tmp_path, 2, key=KEY)
    with pytest.raises(AuditKeyError, match="keyed"):
        AuditLog(log.path).record("check", "x", 1, [], False)
    with pytest.raises(AuditKeyError, match="another key"):
        AuditLog(log.path, b"y" * 32).record("check", "x", 1, [], False)
    with pytest.raises(AuditKeyError, match="give --key-file"):
        AuditLog(log.path).verify()
    # Appended by hand without the key: named as the first bad entry.
    events = log.events()
    tail = AuditLog(tmp_path / "t.jsonl")
    tail.record("check", "x", 1, [], False)
    extra = tail.events()[0]
    extra["prev_hash"] = events[-1]["hash"]
    extra["hash"] = hashlib.sha256(
        (events[-1]["hash"] + _canonical({k: v for k, v in extra.items() if k != "hash"})).encode()
    ).hexdigest()
    with open(log.path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(extra) + "\n")
    with pytest.raises(AuditLogError, match=r":3: unkeyed entry after keyed"):
        log.verify()


def test_an_unkeyed_prefix_is_anchored_by_the_first_keyed_entry(tmp_path: Path) -> None:
    _log(tmp_path, 2)
    log = _log(tmp_path, 1, key=KEY)
    found = log.verify()
    assert found and (found.unkeyed, found.keyed) == (2, 1)
    lines = _lines(log)
    events = [json.loads(line) for line in lines[:2]]
    events[0]["rows"] = 1
    lines[:2] = _rechain(events)  # the prefix recomputed: the keyed entry's link breaks
    _write(log, lines)
    with pytest.raises(AuditLogError, match=r":3: .*chain broken"):
        log.verify()


def test_deleted_tail_detected_against_a_known_head(tmp_path: Path) -> None:
    log = _log(tmp_path, key=KEY)
    head = log.head()
    _write(log, _lines(log)[:-1])
    assert log.verify()  # the file alone still looks fine
    with pytest.raises(AuditLogError, match=r"audit.jsonl:3: known head .* not in the log"):
        log.verify(heads=[head])
    assert log.verify(heads=[log.head()])


def test_since_starts_at_a_run(tmp_path: Path) -> None:
    log = _log(tmp_path, 4, key=KEY)
    lines = _lines(log)
    lines[0] = "garbage from before"  # not read past --since... except to collect hashes
    _write(log, lines)
    with pytest.raises(AuditLogError, match=":1:"):
        log.verify(since="run-2")
    log = _log(tmp_path / "b", 4, key=KEY)
    event = json.loads(_lines(log)[0])
    event["rows"] = 0  # tampering before the run is out of scope with since
    _write(log, [json.dumps(event), *_lines(log)[1:]])
    assert log.verify(since="run-2").entries == 2
    with pytest.raises(AuditLogError, match=r":5: run run-9 is not in the log"):
        log.verify(since="run-9")


# -- crash and full disk -----------------------------------------------------------------------
def test_partial_last_line_is_quarantined_and_recorded(tmp_path: Path) -> None:
    log = _log(tmp_path, 2, key=KEY)
    good_head = log.head()
    fragment = '{"ts": "2026-12-07T10:00:00", "user": "a", "act'
    with open(log.path, "a", encoding="utf-8") as fh:
        fh.write(fragment)
    with pytest.raises(AuditLogError, match=r":3: partial last line"):
        log.verify()
    assert log.head() == good_head  # a reader sees the last good event
    event = log.record("check", "apc.csv", 3, ["nhs_number"], False)
    assert log.warnings and "quarantine" in log.warnings[0]
    events = log.events()
    marker = events[2]
    assert marker["action"] == QUARANTINE_ACTION and marker["prev_hash"] == good_head
    assert marker["detail"]["line"] == 3 and marker["detail"]["bytes"] == len(fragment)
    assert events[3] == event and event["prev_hash"] == marker["hash"]
    kept = json.loads((tmp_path / "audit" / "audit.jsonl.quarantine").read_text().splitlines()[0])
    assert kept["content"] == fragment and kept["line"] == 3
    found = log.verify(heads=[good_head, event["hash"]])
    assert [w for w in found.warnings if "quarantined" in w and "no longer" not in w]
    (tmp_path / "audit" / "audit.jsonl.quarantine").unlink()  # the evidence removed
    assert any("no longer in that file" in w for w in log.verify().warnings)


def test_partial_write_completed_by_an_old_writer_is_quarantined(tmp_path: Path) -> None:
    # A fragment followed by a whole event on the same line: unreadable, but the crash's doing.
    log = _log(tmp_path, 2)
    with open(log.path, "a", encoding="utf-8") as fh:
        fh.write('{"ts": "2026' + _lines(log)[-1] + "\n")
    log.record("check", "apc.csv", 3, [], False)
    assert [e["action"] for e in log.events()][2:] == [QUARANTINE_ACTION, "check"]
    assert log.verify()


def test_two_unreadable_lines_are_not_a_crash(tmp_path: Path) -> None:
    log = _log(tmp_path, 2)
    with open(log.path, "a", encoding="utf-8") as fh:
        fh.write("junk one\njunk two\n")
    with pytest.raises(AuditLogError, match="unreadable lines before its last"):
        log.record("check", "apc.csv", 3, [], False)


def test_full_disk_is_an_error_not_a_traceback(tmp_path: Path) -> None:
    full = Path("/dev/full")
    if not full.exists():
        pytest.skip("no /dev/full")
    with pytest.raises(AuditLogError, match="No space left"):
        AuditLog(full).record("check", "apc.csv", 3, [], False)


def _writer(path: str, n: int) -> None:
    log = AuditLog(path, KEY)
    for i in range(n):
        log.record("check", f"w{i}", i, [], False)


def test_concurrent_writers_keep_the_keyed_chain(tmp_path: Path) -> None:
    path = str(tmp_path / "audit.jsonl")
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(path, 15)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    log = AuditLog(path, KEY)
    assert log.verify().entries == 60


# -- keys --------------------------------------------------------------------------------------
def test_key_file_errors_never_show_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    short = tmp_path / "short.key"
    short.write_bytes(b"tiny-secret-value\n")
    with pytest.raises(AuditKeyError) as info:
        load_key(short)
    assert "tiny-secret-value" not in str(info.value) and "17 bytes" in str(info.value)
    with pytest.raises(AuditKeyError, match="not found"):
        load_key(tmp_path / "missing.key")
    good = tmp_path / "good.key"
    good.write_bytes(KEY + b"\n")
    assert load_key(good) == KEY
    monkeypatch.setenv("HEALTHDQ_AUDIT_KEY_FILE", str(good))
    monkeypatch.setenv("HEALTHDQ_AUDIT_LOG", str(tmp_path / "env.jsonl"))
    log = open_log()
    assert log.keyed and log.path == tmp_path / "env.jsonl"
    assert not open_log(key_file=None, path=tmp_path / "x.jsonl").path.exists()
