"""A HES-style APC extract, with HES field names and HES markers, checked with --pack alone.

Written from the HES Data Dictionary conventions (our own rows): field names as HES releases them
(NEWNHSNO, DOB, HOMEADD, PROCODE3, ADMIDATE, DIAG_4_01, OPERTN_4_01...), '-' for "no operation",
'&' for "not known", codes padded with spaces or a tab, ETHNOS 'X' for not known.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

HEADER = (
    "EPIKEY,PROVSPNO,NEWNHSNO,DOB,HOMEADD,PROCODE3,SITETRET,SEX,ETHNOS,GPPRAC,ADMIDATE,DISDATE,"
    "ADMIMETH,ADMISORC,DISMETH,DISDEST,CLASSPAT,TRETSPEF,DIAG_4_01,DIAG_4_02,DIAG_4_03,DIAG_4_04,"
    "DIAG_4_05,DIAG_4_06,OPERTN_4_01,OPERTN_4_02,OPERTN_4_03,OPERTN_4_04"
)
ROWS = [
    "1,S1,9434765919,1950-01-01,LS1 4AP,RR8,RR801,1,A,B82005,2024-01-01,2024-01-03,"
    "11,19,1,19,1,100,I219,E119,-,-,-,-,K401,-,-,-",
    "2,S2,9434765870,1960-02-02,LS2 9JT,RR8,RR801,2,X,B82005,2024-01-02,2024-01-04,"
    '21,19,1,19,1,300,J189,&,-,-,-,-,"-   ",-,-,-',
    "3,S3,9434765919,1970-03-03,LS6 2QB,RR8,RR801,1,99,B82005,2024-01-03,2024-01-05,"
    '11,19,1,19,1,100,I10X,-,-,-,-,-,"&\t ",-,-,-',
    "4,S4,9434765870,1980-04-04,LS7 3EX,RR8,RR801,2,A,B82005,2024-01-04,2024-01-06,"
    "12,19,1,19,2,100,K359,-,-,-,-,-,H011,99Z9,-,-",
]


def test_hes_named_extract_runs_with_the_pack_alone(
    tmp_path: Path, cli: Callable[..., tuple[int, str, str]]
) -> None:
    data = tmp_path / "apc.csv"
    data.write_text("\n".join([HEADER, *ROWS]) + "\n", encoding="utf-8")
    out = tmp_path / "r.json"
    html = tmp_path / "r.html"
    code, stdout, stderr = cli(
        "check",
        data,
        "--pack",
        "nhs-apc",
        "--run-date",
        "2024-03-01",
        "--json",
        out,
        "--fail-on",
        "never",
        "--html",
        html,
        "--verbose",
    )
    assert code == 0, stdout + stderr
    doc = json.loads(out.read_text())
    table = doc["tables"][0]
    # Every pack column was bound to its HES name, and the output says so.
    assert table["bindings"]["nhs_number"] == "NEWNHSNO"
    assert table["bindings"]["opertn_01"] == "OPERTN_4_01"
    assert table["bindings"]["diag_01"] == "DIAG_4_01"
    assert len(table["bindings"]) == 28
    assert "columns bound" in stdout
    rules = {r["rule_id"]: r for r in doc["rules"]}
    assert not [r for r in rules.values() if r["status"] == "error"]

    # Markers are never invalid: only 99Z9 is a bad OPCS code (of H011, 99Z9).
    def counts(rule_id: str) -> tuple[int, int]:
        return rules[rule_id]["violating_rows"], rules[rule_id]["denominator"]

    assert counts("apc.opertn_01.valid") == (0, 2)
    assert counts("apc.opertn_02.valid") == (1, 1)
    for i in (3, 4):
        assert rules[f"apc.opertn_0{i}.valid"]["status"] == "not_applicable"
    assert rules["apc.diag_02.valid"]["denominator"] == 1
    # ETHNOS 'X' is not known: a default for DQMI, not an invalid code; 99 is the other default.
    assert rules["apc.ethnic_category.valid"]["violating_rows"] == 0
    assert rules["apc.ethnic_category.default"]["violating_rows"] == 2
    assert rules["apc.ethnic_category.not_null"]["violating_rows"] == 1
    assert rules["apc.ethnic_category.not_null"]["observed"] == {"missing_markers": 1}
    # Samples and rule columns are labelled with the user's names, the pack's beside them.
    page = html.read_text(encoding="utf-8")
    assert "OPERTN_4_02 (opertn_02)" in page
    # --verbose, which the summary suggests, exists and lists every failed rule.
    failed = [r for r in rules.values() if r["status"] in ("failed", "error")]
    assert all(r["rule_id"] in stdout for r in failed)
    assert "more (--verbose" not in stdout


OP_ROWS = [
    "ATTENDKEY,PROCODE3,SITETRET,NEWNHSNO,DOB,HOMEADD,SEX,ETHNOS,GPPRAC,REQDATE,APPTDATE,"
    "ATTENDED,FIRSTATT,TRETSPEF,DIAG_4_01,OPERTN_4_01",
    "1,RR8,RR801,9434765919,1950-01-01,LS1 4AP,1,A,B82005,2024-01-01,2024-02-01,5,1,100,I219,-",
    "2,RR8,RR801,943-476-5870,1960-02-02,LS2 9JT,2,X,B82005,1800-01-01,2024-02-02,5,2,300,&,K401",
    "3,RR8,RR801,9434765919,1970-03-03,LS6 2QB,1,99,B82005,2024-01-03,2024-02-03,2,1,100,-,&",
]


def test_hes_outpatient_extract_reports_only_true_findings(
    tmp_path: Path, cli: Callable[..., tuple[int, str, str]]
) -> None:
    data = tmp_path / "op.csv"
    data.write_text("\n".join(OP_ROWS) + "\n", encoding="utf-8")
    out = tmp_path / "r.json"
    code, stdout, stderr = cli(
        "check", data, "--pack", "nhs-op", "--run-date", "2024-03-01", "--json", out,
        "--fail-on", "never",
    )  # fmt: skip
    assert code == 0, stdout + stderr
    doc = json.loads(out.read_text())
    assert len(doc["tables"][0]["bindings"]) == 16
    failing = {r["rule_id"]: r["violating_rows"] for r in doc["rules"] if r["status"] != "passed"}
    # Exactly the findings the rows carry: ETHNOS X (missing) and X/99 (defaults), the 1800-01-01
    # referral placeholder and the dashed NHS number. No marker is judged invalid.
    assert failing == {
        "op.ethnic_category.default": 2,
        "op.ethnic_category.not_null": 1,
        "op.referral_date.default": 1,
        "op.nhs_number.format": 1,
    }


# HES A&E field names (HES A&E Data Dictionary): arrival split into ARRIVALDATE + ARRIVALTIME,
# AEATTENDCAT / AEATTENDDISP, DIAG_01 holding A&E diagnosis codes (not SNOMED CT).
AE_ROWS = [
    "AEKEY,PROCODE3,SITETRET,NEWNHSNO,DOB,HOMEADD,SEX,ETHNOS,GPPRAC,ARRIVALDATE,ARRIVALTIME,"
    "AEATTENDCAT,AEATTENDDISP,DIAG_01",
    "1,RR8,RR801,9434765919,1950-01-01,LS1 4AP,1,A,B82005,2019-04-01,14:30,1,02,011",
    "2,RR8,RR801,9434765870,1960-02-02,LS2 9JT,2,X,B82005,2019-04-02,0930,1,03,&",
    "3,RR8,RR801,9434765919,1970-03-03,LS6 2QB,1,99,B82005,2019-04-03,&,2,02,-",
    "4,RR8,RR801,9434765870,1980-04-04,LS7 3EX,2,A,B82005,1800-01-01,00:00,1,02,011",
]


def test_hes_ae_extract_composes_arrival_from_date_and_time(
    tmp_path: Path, cli: Callable[..., tuple[int, str, str]]
) -> None:
    data = tmp_path / "ae.csv"
    data.write_text("\n".join(AE_ROWS) + "\n", encoding="utf-8")
    out = tmp_path / "r.json"
    code, stdout, stderr = cli(
        "check", data, "--pack", "nhs-ae", "--run-date", "2019-05-01", "--json", out,
        "--fail-on", "never",
    )  # fmt: skip
    assert code == 0, stdout + stderr
    doc = json.loads(out.read_text())
    bindings = doc["tables"][0]["bindings"]
    assert bindings["arrival_datetime"] == "ARRIVALDATE + ARRIVALTIME"
    assert "primary_diagnosis" not in bindings  # DIAG_01 is not SNOMED CT
    rules = {r["rule_id"]: r for r in doc["rules"]}
    # Only rules on fields a HES A&E extract does not have cannot run (ECDS SNOMED CT coding,
    # departure): they are errors that lower coverage, never findings.
    errors = {r for r, v in rules.items() if v["status"] == "error"}
    assert errors == {
        "ae.chief_complaint.not_null",
        "ae.chief_complaint.valid",
        "ae.primary_diagnosis.valid",
        "ae.departure_datetime.after_arrival",
        "ae.departure_datetime.default",
    }
    failing = {r: v["violating_rows"] for r, v in rules.items() if v["status"] == "failed"}
    # The '&' arrival time leaves row 3 without an arrival timestamp; row 4 arrives on the
    # 1800-01-01 placeholder (HES null date), which also fails the 2000+ range and is no date to
    # judge its ethnic category's era by; ETHNOS X and 99 are not known.
    assert failing == {
        "ae.arrival_datetime.not_null": 1,
        "ae.arrival_datetime.default": 1,
        "ae.arrival_datetime.valid": 1,
        "ae.ethnic_category.default": 2,
        "ae.ethnic_category.not_null": 1,
        "ae.date_of_birth.before_arrival": 1,
    }
    assert rules["ae.ethnic_category.era"]["violating_rows"] == 0
