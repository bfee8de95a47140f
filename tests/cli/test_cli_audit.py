"""`healthdq audit verify` and the keyed audit chain end to end: exit 0 intact, 1 naming the first
bad entry, 2 on usage errors; a partial last line never locks `check` out; the key never leaks."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

Cli = Callable[..., tuple[int, str, str]]
KEY_TEXT = "SECRET-audit-key-0f1e2d3c4b5a69788796a5b4c3d2e1f0"

CONTRACT = """
name: people
tables:
  people:
    columns:
      nhs_number: {identifier: nhs_number}
    rules:
      - {id: sex.valid, kind: allowed_values, column: sex, values: ['1', '2']}
"""


@pytest.fixture
def run(tmp_path: Path, cli: Cli) -> Callable[..., tuple[int, str, str]]:
    """`healthdq check` on a small extract with failing rows; returns (code, stdout, stderr)."""
    data = tmp_path / "people.csv"
    data.write_text("nhs_number,sex\n9434765919,1\n9434765870,X\n4010232137,9\n", encoding="utf-8")
    contract = tmp_path / "c.yaml"
    contract.write_text(CONTRACT, encoding="utf-8")

    def _run(*extra: str | Path) -> tuple[int, str, str]:
        return cli("check", data, "--contract", contract, "--fail-on", "never", "-q", *extra)

    return _run


@pytest.fixture
def key(tmp_path: Path) -> Path:
    path = tmp_path / "audit.key"
    path.write_text(KEY_TEXT + "\n", encoding="utf-8")
    path.chmod(0o600)
    return path


def _log(tmp_path: Path) -> Path:
    return tmp_path / "audit.jsonl"


def test_keyed_run_records_its_head_and_verifies(
    run: Callable[..., tuple[int, str, str]], cli: Cli, tmp_path: Path, key: Path
) -> None:
    out = tmp_path / "r.json"
    code, _, err = run("--json", out, "--audit-key-file", key)
    assert code == 0, err
    result = json.loads(out.read_text(encoding="utf-8"))
    event = json.loads(_log(tmp_path).read_text(encoding="utf-8").splitlines()[-1])
    assert event["chain"] == "hmac-sha256"
    assert result["audit"] == {"log": str(_log(tmp_path)), "head": event["hash"], "keyed": True}
    code, stdout, err = cli("audit", "verify", _log(tmp_path), "--key-file", key, "--head", out)
    assert code == 0, err
    assert "1 entries intact (hmac-sha256" in stdout and event["hash"] in stdout
    assert "cannot be detected" not in err


def test_unkeyed_log_verifies_with_a_warning(
    run: Callable[..., tuple[int, str, str]], cli: Cli, tmp_path: Path
) -> None:
    assert run()[0] == 0
    code, stdout, err = cli("audit", "verify")  # $HEALTHDQ_AUDIT_LOG, as the run used
    assert code == 0
    assert "intact (sha256, unkeyed" in stdout
    assert "cannot be detected" in err


def test_rewritten_entry_exits_1_naming_the_line(
    run: Callable[..., tuple[int, str, str]], cli: Cli, tmp_path: Path, key: Path
) -> None:
    for _ in range(3):
        assert run("--audit-key-file", key)[0] == 0
    lines = _log(tmp_path).read_text(encoding="utf-8").splitlines()
    event = json.loads(lines[1])
    event["unmasked"] = not event["unmasked"]
    lines[1] = json.dumps(event)
    _log(tmp_path).write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, _, err = cli("audit", "verify", "--key-file", key)
    assert code == 1
    assert f"{_log(tmp_path)}:2: entry was modified: MAC mismatch" in err
    assert "1 entries before it are intact" in err


def test_deleted_tail_exits_1_against_a_results_head(
    run: Callable[..., tuple[int, str, str]], cli: Cli, tmp_path: Path, key: Path
) -> None:
    assert run("--audit-key-file", key)[0] == 0
    out = tmp_path / "r.json"
    assert run("--audit-key-file", key, "--json", out)[0] == 0
    lines = _log(tmp_path).read_text(encoding="utf-8").splitlines()
    _log(tmp_path).write_text(lines[0] + "\n", encoding="utf-8")
    assert cli("audit", "verify", "--key-file", key, "--no-store")[0] == 0
    code, _, err = cli("audit", "verify", "--key-file", key, "--no-store", "--head", out)
    assert code == 1 and ":2: known head" in err and "deleted" in err
    head = json.loads(out.read_text(encoding="utf-8"))["audit"]["head"]
    assert cli("audit", "verify", "--key-file", key, "--no-store", "--head", head)[0] == 1
    # The results store kept both runs' heads: checked by default.
    code, _, err = cli("audit", "verify", "--key-file", key)
    assert code == 1 and ":2: known head" in err


def test_store_heads_are_those_of_this_log(
    run: Callable[..., tuple[int, str, str]], cli: Cli, tmp_path: Path
) -> None:
    assert run()[0] == 0
    assert run("--audit-log", tmp_path / "other.jsonl")[0] == 0
    code, stdout, err = cli("audit", "verify")
    assert code == 0, err
    assert "1 entries intact" in stdout and "1 known heads found" in stdout
    (tmp_path / "other.jsonl").write_text("", encoding="utf-8")  # the other log emptied
    assert cli("audit", "verify")[0] == 0
    code, _, err = cli("audit", "verify", tmp_path / "other.jsonl")
    assert code == 1 and "known head" in err


def test_partial_line_is_quarantined_and_check_still_runs(
    run: Callable[..., tuple[int, str, str]], cli: Cli, tmp_path: Path, key: Path
) -> None:
    assert run("--audit-key-file", key)[0] == 0
    with open(_log(tmp_path), "a", encoding="utf-8") as fh:
        fh.write('{"ts": "2026-12-07T10:00:00.000+00:00", "us')  # the disk filled here
    code, _, err = cli("audit", "verify", "--key-file", key)
    assert code == 1 and ":2: partial last line" in err
    code, _, err = run("--audit-key-file", key)
    assert code == 0, err
    assert "healthdq: warning:" in err and "audit.jsonl.quarantine" in err
    assert (tmp_path / "audit.jsonl.quarantine").is_file()
    code, stdout, err = cli("audit", "verify", "--key-file", key)
    assert code == 0, err
    assert "3 entries intact" in stdout and "quarantined" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["audit", "verify", "nowhere.jsonl"], "audit log not found"),
        (["audit", "verify", "--head", "abc"], "neither a 64-hex hash"),
        (["audit", "verify"], "give --key-file"),
        (["audit", "verify", "--key-file", "short.key"], "audit key too short"),
        (["audit", "verify", "--key-file", "missing.key"], "audit key file not found"),
    ],
)
def test_usage_errors_exit_2(
    run: Callable[..., tuple[int, str, str]],
    cli: Cli,
    tmp_path: Path,
    key: Path,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    message: str,
) -> None:
    assert run("--audit-key-file", key)[0] == 0
    (tmp_path / "short.key").write_text(KEY_TEXT[:20], encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    code, _, err = cli(*args)
    assert code == 2 and message in err, err
    assert "Traceback" not in err


def test_the_key_never_appears_anywhere(
    run: Callable[..., tuple[int, str, str]],
    cli: Cli,
    tmp_path: Path,
    key: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    outs = [tmp_path / "r.json", tmp_path / "r.html", tmp_path / "r.xml"]
    texts: list[str] = []
    monkeypatch.setenv("HEALTHDQ_AUDIT_KEY_FILE", str(key))
    code, stdout, err = run("--json", outs[0], "--html", outs[1], "--junit", outs[2])
    texts += [stdout, err]
    with open(_log(tmp_path), "a", encoding="utf-8") as fh:
        fh.write('{"partial')
    texts += list(run())[1:]  # quarantines
    texts += list(cli("audit", "verify", "--key-file", key))[1:]
    texts += list(cli("audit", "verify", "--key-file", key, "--head", "0" * 64))[1:]
    short = tmp_path / "short.key"
    short.write_text(KEY_TEXT[:31], encoding="utf-8")
    texts += list(run("--audit-key-file", short))[1:]
    texts += list(cli("audit", "verify", "--key-file", short))[1:]
    other = tmp_path / "other.key"
    other.write_text(KEY_TEXT[::-1], encoding="utf-8")
    texts += list(run("--audit-key-file", other))[1:]
    texts += [p.read_text(encoding="utf-8") for p in outs]
    texts += [
        _log(tmp_path).read_text(encoding="utf-8"),
        (tmp_path / "audit.jsonl.quarantine").read_text(encoding="utf-8"),
    ]
    assert code == 0 and "too short" in "".join(texts) and "another key" in "".join(texts)
    for text in texts:
        for piece in (KEY_TEXT, KEY_TEXT[:31], KEY_TEXT[::-1], KEY_TEXT[:12], KEY_TEXT[-12:]):
            assert piece not in text


def test_key_problems_fail_before_the_run(
    run: Callable[..., tuple[int, str, str]], tmp_path: Path, key: Path
) -> None:
    assert run("--audit-key-file", key)[0] == 0
    out = tmp_path / "r.json"
    short = tmp_path / "short.key"
    short.write_text("too-short", encoding="utf-8")
    for args, message in (
        (["--audit-key-file", short], "audit key too short: 9 bytes"),
        ([], "this audit log is keyed"),  # no key for a keyed log
    ):
        code, _, err = run("--json", out, *args)
        assert code == 2 and message in err, err
        assert not out.exists(), "the run stops before reading data or writing reports"


def test_a_key_file_others_can_read_is_warned_about(
    run: Callable[..., tuple[int, str, str]], key: Path
) -> None:
    code, _, err = run("--audit-key-file", key)
    assert code == 0 and "readable by other users" not in err
    key.chmod(0o644)
    code, _, err = run("--audit-key-file", key)
    assert code == 0
    assert "audit key file is readable by other users (mode 644)" in err
    assert "chmod 600" in err and KEY_TEXT not in err
