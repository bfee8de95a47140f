"""Every verb goes through the pipeline: identifiers masked in every output by default, and an
audit entry written for each access to patient-level rows (check, omop, profile)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

# Valid NHS numbers (check digit), a date of birth and a postcode planted in failing rows.
NHS = ["9434765919", "9434765870", "4010232137"]
DOB = "1950-03-12"
POSTCODE = "LS1 4AP"

Cli = Callable[..., tuple[int, str, str]]


def _csv(tmp_path: Path) -> Path:
    rows = ["nhs_number,date_of_birth,postcode,sex"]
    for i, nhs in enumerate(NHS):
        rows.append(f"{nhs},{DOB},{POSTCODE},{'X' if i else '1'}")
    path = tmp_path / "people.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


CONTRACT = """
name: people
tables:
  people:
    columns:
      nhs_number: {identifier: nhs_number}
      date_of_birth: {identifier: date_of_birth}
      postcode: {identifier: postcode}
    rules:
      - {id: sex.valid, kind: allowed_values, column: sex, values: ['1', '2']}
      - {id: all.cols, kind: sql, predicate: "sex = '1' AND nhs_number IS NOT NULL",
         columns: [sex, nhs_number, date_of_birth, postcode]}
"""


def _audit(tmp_path: Path) -> list[dict[str, object]]:
    log = tmp_path / "audit.jsonl"
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines() if line]


def _leaks(texts: list[str], secrets: list[str]) -> list[str]:
    return [s for s in secrets if any(s in t for t in texts)]


def test_check_masks_every_output_and_audits(cli: Cli, tmp_path: Path) -> None:
    data = _csv(tmp_path)
    contract = tmp_path / "c.yaml"
    contract.write_text(CONTRACT, encoding="utf-8")
    outs = {k: tmp_path / f"out.{k}" for k in ("json", "html", "xml")}
    code, out, err = cli(
        "check", data, "--contract", contract, "--json", outs["json"], "--html", outs["html"],
        "--junit", outs["xml"], "--fail-on", "never",
    )  # fmt: skip
    assert code == 0, err
    texts = [out, err] + [p.read_text(encoding="utf-8") for p in outs.values()]
    texts.append((tmp_path / "audit.jsonl").read_text(encoding="utf-8"))
    result = json.loads(outs["json"].read_text(encoding="utf-8"))
    assert result["masked"] is True
    assert any(r["samples"] for r in result["rules"]), "the test needs failing samples"
    assert _leaks(texts, [*NHS, DOB, POSTCODE]) == []
    events = _audit(tmp_path)
    assert [e["action"] for e in events] == ["check.samples"]
    assert events[0]["unmasked"] is False and events[0]["rows"] > 0
    # The run records the audit log's head: the hash of its own audit event.
    assert result["audit"]["head"] == events[-1]["hash"]


def test_check_unmasked_is_audited_as_unmasked(cli: Cli, tmp_path: Path) -> None:
    data = _csv(tmp_path)
    contract = tmp_path / "c.yaml"
    contract.write_text(CONTRACT, encoding="utf-8")
    out_json = tmp_path / "r.json"
    code, _, err = cli(
        "check", data, "--contract", contract, "--json", out_json, "--unmask", "--fail-on", "never"
    )
    assert code == 0, err
    assert NHS[1] in out_json.read_text(encoding="utf-8")
    assert _audit(tmp_path)[-1]["unmasked"] is True


def test_profile_masks_identifiers_and_audits(cli: Cli, tmp_path: Path) -> None:
    data = _csv(tmp_path)
    prof, suggest = tmp_path / "p.json", tmp_path / "s.yaml"
    code, out, err = cli("profile", data, "--json", prof, "--suggest", suggest)
    assert code == 0, err
    texts = [out, err, prof.read_text(encoding="utf-8"), suggest.read_text(encoding="utf-8")]
    assert _leaks(texts, NHS) == []
    events = _audit(tmp_path)
    assert [e["action"] for e in events] == ["profile"]
    assert events[0]["rows"] == len(NHS)


def test_omop_masks_person_id_and_audits(
    cli: Cli, tmp_path: Path, make_cdm: Callable[..., Path]
) -> None:
    folder = make_cdm("csv")
    out_json, out_html = tmp_path / "o.json", tmp_path / "o.html"
    code, _, err = cli(
        "omop", folder, "--json", out_json, "--html", out_html, "--run-date", "2025-01-01", "-q"
    )
    assert code == 0, err
    result = json.loads(out_json.read_text(encoding="utf-8"))
    values = [v for r in result["rules"] for s in r["samples"] for v in s["values"].items()]
    persons = [v for k, v in values if k == "person_id" and v is not None]
    births = [v for k, v in values if k.startswith("__p_birth")]
    assert births, "the seeded CDM has failing rows carrying a person's date of birth"
    assert all(v == "***" for v in persons)
    assert all(str(v).endswith("-**-**") for v in births)
    assert "2000-01-01" not in out_html.read_text(encoding="utf-8")
    events = _audit(tmp_path)
    assert [e["action"] for e in events] == ["omop.samples"]
    assert events[0]["rows"] == sum(len(r["samples"]) for r in result["rules"])


@pytest.mark.parametrize("size", ["-5", "1000001"])
def test_sample_size_out_of_bounds_is_refused(cli: Cli, tmp_path: Path, size: str) -> None:
    data = _csv(tmp_path)
    code, _, err = cli("check", data, "--pack", "nhs-apc", "--sample-size", size)
    assert code == 2
    assert "--sample-size" in err


def test_header_only_table_is_not_applicable_and_exits_1(cli: Cli, tmp_path: Path) -> None:
    data = tmp_path / "empty.csv"
    data.write_text("nhs_number,date_of_birth,postcode,sex\n", encoding="utf-8")
    contract = tmp_path / "c.yaml"
    contract.write_text(CONTRACT, encoding="utf-8")
    out_json = tmp_path / "r.json"
    code, _, err = cli("check", data, "--contract", contract, "--json", out_json, "-q")
    assert code == 1
    assert "no rows" in err
    result = json.loads(out_json.read_text(encoding="utf-8"))
    assert {r["status"] for r in result["rules"]} == {"not_applicable"}
    code, _, _ = cli("check", data, "--contract", contract, "--allow-empty", "-q")
    assert code == 0


def test_every_verb_writes_a_keyed_entry(
    cli: Cli, tmp_path: Path, make_cdm: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from healthdq.governance.audit import AuditLog, key_id, load_key

    key = tmp_path / "audit.key"
    key.write_bytes(b"0123456789abcdef-per-verb-audit-key\n")
    monkeypatch.setenv("HEALTHDQ_AUDIT_KEY_FILE", str(key))
    data = _csv(tmp_path)
    contract = tmp_path / "c.yaml"
    contract.write_text(CONTRACT, encoding="utf-8")
    runs = {
        "check.samples": ["check", data, "--contract", contract, "--fail-on", "never", "-q"],
        "omop.samples": ["omop", make_cdm("csv"), "--run-date", "2025-01-01", "-q"],
        "profile": ["profile", data],
    }
    for action, args in runs.items():
        out = tmp_path / f"{action}.json"
        code, _, err = cli(*args, "--json", out)
        assert code == 0, err
        event = _audit(tmp_path)[-1]
        assert event["action"] == action
        assert event["chain"] == "hmac-sha256" and event["key_id"] == key_id(load_key(key))
        if action != "profile":  # a profile is not a RunResult and records no head
            ref = json.loads(out.read_text(encoding="utf-8"))["audit"]
            assert ref["head"] == event["hash"] and ref["keyed"] is True
    log = AuditLog(tmp_path / "audit.jsonl", load_key(key))
    assert log.verify().keyed == 3


def test_api_warns_when_the_audit_log_was_quarantined(tmp_path: Path) -> None:
    from healthdq import pipeline
    from healthdq.rules.loader import load_contract

    contract = tmp_path / "c.yaml"
    contract.write_text(CONTRACT, encoding="utf-8")
    log = tmp_path / "own.jsonl"
    log.write_text('{"ts": "2026-', encoding="utf-8")  # a crash mid-write, before any entry
    settings = pipeline.Settings(audit_log=log)
    with pytest.warns(UserWarning, match="quarantine"):
        result = pipeline.check(
            load_contract(contract), {"people": str(_csv(tmp_path))}, settings=settings
        )
    assert result.audit is not None and result.audit.log == str(log)
    heard: list[str] = []
    log.write_text(log.read_text(encoding="utf-8") + "{", encoding="utf-8")
    settings.on_warning = heard.append
    pipeline.check(load_contract(contract), {"people": str(_csv(tmp_path))}, settings=settings)
    assert len(heard) == 1 and "own.jsonl:3" in heard[0]
