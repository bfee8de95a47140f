import xml.etree.ElementTree as ET
from pathlib import Path

from healthdq.report import write_junit
from healthdq.results import RunResult


def _parse(result: RunResult, tmp_path: Path) -> ET.Element:
    path = write_junit(result, tmp_path / "junit" / "junit.xml")
    assert path.read_bytes().startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    return ET.parse(path).getroot()


def test_structure(result: RunResult, tmp_path: Path) -> None:
    root = _parse(result, tmp_path)
    assert root.tag == "testsuites"
    assert root.get("tests") == "7"  # 6 rules and the score
    assert (root.get("failures"), root.get("errors"), root.get("skipped")) == ("2", "1", "1")
    suites = {s.get("name"): s for s in root.findall("testsuite")}
    assert set(suites) == {"apc", "op", "score"}
    apc = suites["apc"]
    assert apc.get("tests") == "5" and apc.get("failures") == "2" and apc.get("errors") == "1"
    cases = {c.get("name"): c for c in apc.findall("testcase")}
    assert all(c.get("classname") == "apc" for c in cases.values())

    failure = cases["apc.nhs_number.valid"].find("failure")
    assert failure is not None
    assert failure.get("type") == "fatal"
    assert "120 of 10,000" in (failure.get("message") or "")
    assert "943 *** **19" in (failure.text or "")  # masked samples are shown

    error = cases["apc.ethnos.sql"].find("error")
    assert error is not None and "Binder Error" in (error.get("message") or "")
    assert cases["apc.admidate.range"].find("failure") is None

    skipped = suites["op"].find("testcase/skipped")
    assert skipped is not None and skipped.get("message") == "column attend not in source"


def test_unmasked_samples_stay_out_of_ci_logs(make_result, tmp_path: Path) -> None:
    result = make_result(masked=False)
    result.rules[0].samples[0].values["nhs_number"] = "9434765919"
    text = write_junit(result, tmp_path / "j.xml").read_text(encoding="utf-8")
    assert "9434765919" not in text
    assert "samples" not in text


def test_hostile_text_still_valid_xml(result: RunResult, tmp_path: Path) -> None:
    result.rules[0].rule_id = 'x<y>&"z\x00'
    result.rules[0].samples[0].values["nhs_number"] = "\x1b[31m]]>"
    root = _parse(result, tmp_path)
    names = [c.get("name") for c in root.iter("testcase")]
    assert 'x<y>&"z\ufffd' in names


def test_rule_for_unknown_table_gets_a_suite(result: RunResult, tmp_path: Path) -> None:
    result.rules[-1].table = "ghost"
    root = _parse(result, tmp_path)
    assert "ghost" in [s.get("name") for s in root.findall("testsuite")]


def test_score_case_passes_when_scored_and_fails_when_insufficient(
    result: RunResult, tmp_path: Path
) -> None:
    case = _parse(result, tmp_path).find("testsuite[@name='score']/testcase[@name='dqmi']")
    assert case is not None and case.find("failure") is None
    assert "DQMI score 87.25; 5 of 6 rules (83.33%)" in (case.findtext("system-out") or "")

    assert result.scores.dqmi is not None
    result.scores.dqmi.state = "insufficient"
    result.scores.dqmi.ran.rules_ran = 1
    root = _parse(result, tmp_path)
    assert root.get("failures") == "3"
    suite = root.find("testsuite[@name='score']")
    assert suite is not None and suite.get("failures") == "1"
    failure = suite.find("testcase/failure")
    assert failure is not None and failure.get("type") == "insufficient"
    assert "1 of 6 rules (16.67%)" in (failure.get("message") or "")
    assert "at least 80% needed" in (failure.get("message") or "")


def test_no_score_suite_without_scores(make_result, tmp_path: Path) -> None:
    root = _parse(make_result(with_scores=False), tmp_path)
    assert root.get("tests") == "6"
    assert "score" not in [s.get("name") for s in root.findall("testsuite")]
