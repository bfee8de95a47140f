"""The check verb end to end on a synthetic extract: reports, masking, audit, mapping."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from healthdq.synth import generate

Cli = Callable[..., tuple[int, str, str]]
Write = Callable[[str, str | bytes], Path]


def test_pack_check_writes_every_report_masked_and_audited(cli: Cli, tmp_path: Path) -> None:
    data = generate("apc", 3000, tmp_path / "apc.parquet", seed=3).path
    out = tmp_path / "out"
    code, stdout, _ = cli(
        "check",
        data,
        "--pack",
        "nhs-apc",
        "-g",
        "provider_code",
        "--run-date",
        "2025-06-30",
        "--html",
        out / "r.html",
        "--json",
        out / "r.json",
        "--junit",
        out / "r.xml",
    )
    assert code == 1  # the synthetic extract carries seeded errors
    assert "DQMI" in stdout
    results = json.loads((out / "r.json").read_text(encoding="utf-8"))
    assert results["masked"] is True
    nhs = next(r for r in results["rules"] if r["rule_id"] == "apc.nhs_number.valid")
    assert nhs["samples"], "failing rows are sampled"
    for sample in nhs["samples"]:
        assert "***" in sample["values"]["nhs_number"]
    assert results["schema_version"] == "2.0"
    assert results["groups"] and results["scores"]["dqmi"]["score"] is not None
    assert results["scores"]["dqmi"]["state"] == "scored"
    assert "55 of 55 rules (100%)" in stdout
    assert (out / "r.html").stat().st_size > 10_000
    assert "<testsuite" in (out / "r.xml").read_text(encoding="utf-8")
    audit = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert audit[-1]["action"] == "check.samples" and audit[-1]["unmasked"] is False
    assert audit[-1]["rows"] > 0


def test_unmask_shows_identifiers_and_is_audited_as_unmasked(cli: Cli, tmp_path: Path) -> None:
    data = generate("apc", 3000, tmp_path / "apc.parquet", seed=3).path
    code, _, _ = cli("check", data, "--pack", "nhs-apc", "--json", tmp_path / "r.json", "--unmask")
    results = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    nhs = next(r for r in results["rules"] if r["rule_id"] == "apc.nhs_number.valid")
    assert all("***" not in s["values"]["nhs_number"] for s in nhs["samples"])
    audit = (tmp_path / "audit.jsonl").read_text().splitlines()
    assert json.loads(audit[-1])["unmasked"] is True


def test_column_mapping_points_a_pack_at_other_names(
    cli: Cli, write: Write, tmp_path: Path
) -> None:
    data = write("d.csv", "NHSNO,SEX\n9434765919,1\n9434765918,2\n")
    contract = write(
        "c.yaml",
        "name: m\ntables:\n  t:\n    rules:\n"
        "      - {id: nhs, kind: validator, column: nhs_number, validator: nhs_number}\n"
        "      - {id: sex, kind: allowed_values, column: sex, value_set: sex}\n",
    )
    code, _, _ = cli(
        "check",
        data,
        "--contract",
        contract,
        "--map",
        "nhs_number=NHSNO",
        "--json",
        tmp_path / "r.json",
    )
    results = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    got = {r["rule_id"]: (r["status"], r["violating_rows"]) for r in results["rules"]}
    assert got == {"nhs": ("failed", 1), "sex": ("passed", 0)}
    assert code == 1


def test_wrong_delimiter_warns_and_rules_report_error(cli: Cli, write: Write) -> None:
    data = write("d.csv", "a,b\n1,2\n")
    contract = write(
        "c.yaml",
        "name: t\ntables:\n  t:\n    rules:\n      - {id: nn, kind: not_null, column: a}\n",
    )
    code, _, err = cli("check", data, "--contract", contract, "--delimiter", ";")
    assert code == 1
    assert "wrong delimiter?" in err


def test_profile_is_audited_and_suggests_a_valid_contract(cli: Cli, tmp_path: Path) -> None:
    data = generate("apc", 2000, tmp_path / "apc.parquet", seed=3).path
    code, out, _ = cli("profile", data, "--suggest", tmp_path / "c.yaml", "--table", "apc")
    assert code == 0
    assert "9434765919" not in out
    assert cli("validate", tmp_path / "c.yaml")[0] == 0
    audit = [json.loads(x) for x in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert audit[-1]["action"] == "profile" and audit[-1]["rows"] == 2000


def test_pack_on_unmapped_columns_reports_an_insufficient_score(cli: Cli, tmp_path: Path) -> None:
    """Issue 8 item 6 / issue 10 item 3: most rules in error must not headline ~99.9."""
    import duckdb

    data = generate("apc", 200, tmp_path / "apc.parquet", seed=3).path
    keep = {"episode_id", "nhs_number", "provider_code"}
    con = duckdb.connect()
    names = [row[0] for row in con.execute(f"DESCRIBE SELECT * FROM '{data}'").fetchall()]
    select = ", ".join(n if n in keep else f'"{n}" AS "x_{n}"' for n in names)
    renamed = tmp_path / "renamed.parquet"
    con.execute(f"COPY (SELECT {select} FROM '{data}') TO '{renamed}' (FORMAT parquet)")
    out = tmp_path / "out"
    code, stdout, _ = cli(
        "check", renamed, "--pack", "nhs-apc", "--json", out / "r.json", "--junit", out / "r.xml"
    )
    assert code == 1
    assert "DQMI insufficient" in stdout and "DQMI score" not in stdout
    results = json.loads((out / "r.json").read_text(encoding="utf-8"))
    dqmi = results["scores"]["dqmi"]
    errors = sum(r["status"] == "error" for r in results["rules"])
    assert errors > 30
    assert dqmi["state"] == "insufficient"
    assert dqmi["ran"]["rules_ran"] == len(results["rules"]) - errors
    assert dqmi["score"] < 20
    assert 'type="insufficient"' in (out / "r.xml").read_text(encoding="utf-8")
