"""Any tamper of a keyed audit log is detected and the first bad entry is named (hypothesis);
insertion and reordering by hand; parallel `healthdq pseudonymise` processes keep one chain."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from healthdq.governance.audit import AuditLog, _canonical

from .pseudo_data import write_dataset

KEY = b"audit-key-for-tamper-tests-0123456789abcdef"
ENTRIES = 6


def _log(path: Path) -> tuple[AuditLog, list[str]]:
    if path.exists():
        path.unlink()
    log = AuditLog(path, KEY)
    for i in range(ENTRIES):
        log.record(
            "pseudonymise" if i % 2 else "check.samples",
            f"apc{i}.parquet",
            rows=10 * i,
            columns=["nhs_number", "postcode"],
            unmasked=False,
            detail={"run_id": f"run-{i}", "outputs": [{"sha256": f"{i:064x}"}]},
        )
    return log, path.read_text(encoding="utf-8").splitlines()


def _write(path: Path, lines: list[str]) -> None:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def test_an_inserted_entry_is_named(tmp_path: Path) -> None:
    log, lines = _log(tmp_path / "a.jsonl")
    _write(log.path, [*lines[:3], lines[1], *lines[3:]])  # a copy of entry 2 after entry 3
    found = log.inspect()
    assert (found.ok, found.bad_line, found.entries) == (False, 4, 3)
    assert "inserted or reordered" in str(found.reason)


def test_reordered_entries_are_named(tmp_path: Path) -> None:
    log, lines = _log(tmp_path / "a.jsonl")
    lines[2], lines[4] = lines[4], lines[2]
    _write(log.path, lines)
    found = log.inspect()
    assert (found.ok, found.bad_line) == (False, 3)


def test_a_forged_entry_chained_without_the_key_is_named(tmp_path: Path) -> None:
    """An attacker who links a new entry correctly (prev_hash right) still lacks the key."""
    log, lines = _log(tmp_path / "a.jsonl")
    forged = json.loads(lines[2])
    forged["prev_hash"] = json.loads(lines[2])["hash"]
    forged["dataset"] = "nothing-to-see.csv"
    _write(log.path, [*lines[:3], json.dumps(forged), *lines[3:]])
    found = log.inspect()
    assert (found.ok, found.bad_line) == (False, 4)
    assert "MAC mismatch" in str(found.reason)


FIELDS = ["ts", "user", "action", "dataset", "rows", "columns", "unmasked", "detail", "prev_hash"]


@st.composite
def tampers(draw: st.DrawFn) -> tuple[str, tuple[int, ...], object]:
    kind = draw(st.sampled_from(["edit", "bytes", "delete", "insert", "swap", "truncate"]))
    i = draw(st.integers(0, ENTRIES - 1))
    j = draw(st.integers(0, ENTRIES - 1).filter(lambda x: x != i))
    if kind == "edit":
        return kind, (i,), (draw(st.sampled_from(FIELDS)), draw(st.text(max_size=8)))
    if kind == "bytes":
        return kind, (i, draw(st.integers(0, 400))), draw(st.integers(1, 255))
    if kind == "truncate":
        return kind, (max(1, i),), None
    return kind, (min(i, j), max(i, j)), None


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(tamper=tampers())
def test_any_tamper_is_detected_at_the_first_changed_entry(
    tmp_path: Path, tamper: tuple[str, tuple[int, ...], object]
) -> None:
    log, lines = _log(tmp_path / "audit.jsonl")
    head = json.loads(lines[-1])["hash"]
    kind, where, what = tamper
    out = list(lines)
    i = where[0]
    expected = i + 1  # 1-based line of the first entry that is not what was written there
    if kind == "edit":
        field, value = what  # type: ignore[misc]
        event = json.loads(out[i])
        if event[field] == value:
            value = f"{value}!"
        event[field] = value
        out[i] = json.dumps(event)
    elif kind == "bytes":
        raw = bytearray(out[i].encode("utf-8"))
        pos = where[1] % len(raw)
        raw[pos] = (raw[pos] + int(what)) % 256  # type: ignore[call-overload]
        if raw[pos] == ord("\n"):
            raw[pos] = ord("x")
        try:
            same = json.loads(raw.decode("utf-8")) == json.loads(out[i])
        except ValueError:
            same = False
        if same:  # e.g. a space turned into another space-like byte JSON ignores: not a tamper
            return
        out[i] = raw.decode("utf-8", errors="replace")
    elif kind == "delete":
        del out[i]
    elif kind == "insert":
        out.insert(i + 1, lines[where[1]])
        # A copy of the very entry that follows is indistinguishable from it: the original,
        # now after its copy, is the first bad one.
        expected = i + 3 if where[1] == i + 1 else i + 2
    elif kind == "swap":
        out[i], out[where[1]] = out[where[1]], out[i]
    elif kind == "truncate":
        out = out[:i]
        expected = i + 1  # the known head is missing after the last line kept
    _write(log.path, out)
    found = log.inspect(heads=[head])
    assert not found.ok, (kind, where)
    assert found.bad_line == expected, (kind, where, found.reason)


def test_canonical_form_is_what_is_hashed() -> None:
    # A rewrite that only re-spaces the JSON keeps every hash: the content is unchanged.
    event = {"b": 1, "a": [1, 2]}
    assert _canonical(event) == '{"a":[1,2],"b":1}'


def test_parallel_pseudonymise_processes_keep_one_chain(tmp_path: Path) -> None:
    """Three `healthdq pseudonymise` processes at once, one keyed log: every entry chained."""
    files = write_dataset(tmp_path / "in")
    audit_key = tmp_path / "audit.key"
    audit_key.write_bytes(KEY)
    audit_key.chmod(0o600)
    log = tmp_path / "audit.jsonl"
    src = str(Path(__file__).resolve().parents[2] / "src")
    env = {**os.environ, "PYTHONPATH": src, "HEALTHDQ_STORE": str(tmp_path / "s.duckdb")}
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "healthdq",
                "pseudonymise",
                f"apc={files['apc']}",
                f"ae={files['ae']}",
                "-c",
                str(files["config"]),
                "--key-file",
                str(files["key"]),
                "-o",
                str(tmp_path / f"out{n}"),
                "--audit-log",
                str(log),
                "--audit-key-file",
                str(audit_key),
                "-q",
                "--threads",
                "1",
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for n in range(3)
    ]
    for p in procs:
        _, err = p.communicate(timeout=240)
        assert p.returncode == 0, err.decode()
    found = AuditLog(log, KEY).inspect()
    assert found.ok and found.entries == 3
    events = AuditLog(log, KEY).events()
    assert [e["action"] for e in events] == ["pseudonymise"] * 3
    assert len({e["detail"]["outputs"][0]["path"] for e in events}) == 3
