"""RunResult in a notebook: .failed(), .to_pandas() (one row per rule), _repr_html_()."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest
from api_data import COLUMNS, CONTRACT, EXPECTED, NHS

import healthdq
from healthdq.results.display import HTML_RULES, RULE_COLUMNS


def test_failed_lists_failing_and_errored_rules() -> None:
    broken = CONTRACT + "      - {id: broken, kind: sql, predicate: 'no_such_column > 1'}\n"
    result = healthdq.check(pa.table(COLUMNS), contract=broken)
    failing = {r.rule_id: r.status for r in result.failed()}
    assert failing == {
        **{k: "failed" for k, (status, _, _) in EXPECTED.items() if status == "failed"},
        "broken": "error",
    }


def test_to_pandas_is_one_row_per_rule_with_masked_samples() -> None:
    pytest.importorskip("pandas")
    result = healthdq.check(pa.table(COLUMNS), contract=CONTRACT)
    frame = result.to_pandas()
    assert list(frame.columns) == list(RULE_COLUMNS)
    assert list(frame["rule_id"]) == [r.rule_id for r in result.rules]
    row = frame.set_index("rule_id").loc["nhs.flagged"]
    assert (row["status"], row["violating_rows"]) == ("failed", 1)
    assert row["columns"] == "sex, nhs_number"
    assert row["samples"] == [{"sex": "X", "nhs_number": "943 *** **70", "__row": 2}]
    assert not any(n in frame.to_string() for n in NHS)


def test_repr_html_is_escaped_and_compact(tmp_path: Path) -> None:
    """Data values are shown as text, never as markup; long failing lists are cut."""
    rules = "".join(
        f"      - {{id: r{i}, kind: sql, predicate: \"sex IN ('1', '2')\", columns: [sex]}}\n"
        for i in range(HTML_RULES + 3)
    )
    contract = CONTRACT.split("    rules:")[0] + "    rules:\n" + rules
    frame = pa.table({**COLUMNS, "sex": ["<script>x</script>", "<b>", "1", "2"]})
    html = healthdq.check(frame, contract=contract)._repr_html_()
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert html.count("<tr>") == HTML_RULES + 1  # header and the first HTML_RULES rules
    assert "and 3 more failing rules" in html


def test_repr_html_of_a_clean_run_is_one_line() -> None:
    clean = CONTRACT.split("    rules:")[0] + (
        "    rules:\n      - {id: nhs.present, kind: not_null, column: nhs_number}\n"
    )
    html = healthdq.check(pa.table(COLUMNS), contract=clean)._repr_html_()
    assert "1 passed, 0 failed" in html and "<table>" not in html
    assert "DQMI 100.0" in html


def test_outputs_are_written_through_the_renderers(tmp_path: Path) -> None:
    out = {"json": tmp_path / "r.json", "junit": tmp_path / "r.xml", "html": tmp_path / "r.html"}
    healthdq.check(pa.table(COLUMNS), contract=CONTRACT, outputs=out)
    for path in out.values():
        text = path.read_text(encoding="utf-8")
        assert "nhs.flagged" in text and not any(n in text for n in NHS)


def test_repr_html_says_when_the_score_is_insufficient() -> None:
    broken = CONTRACT.split("    rules:")[0] + (
        "    rules:\n      - {id: broken, kind: sql, predicate: 'no_such_column > 1'}\n"
    )
    html = healthdq.check(pa.table(COLUMNS), contract=broken)._repr_html_()
    assert "<b>DQMI insufficient</b> (0 of 1 rules ran)" in html
