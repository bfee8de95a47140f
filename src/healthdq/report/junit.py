"""JUnit XML for CI systems (GitHub Actions, GitLab, Jenkins, Azure DevOps).

One <testsuite> per table and one <testcase> per rule (classname = table, name = rule id):
failed -> <failure>, error -> <error>, not_applicable -> <skipped>. A last suite, "score",
holds one case for the DQMI score: it fails when the score is insufficient (too few rules or
data items ran), so CI shows a run that could not be assessed. Failing-row samples are
included in the failure text only when the result is masked, because CI logs are widely
readable and kept for a long time.
"""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path

from healthdq.report._common import (
    column_label,
    duration_seconds,
    num,
    ran_text,
    status_counts,
    write_text_atomic,
)
from healthdq.results import Dqmi, RuleResult, RunResult

# Characters XML 1.0 cannot carry at all, even escaped; ElementTree would write them verbatim.
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_MAX_SAMPLES = 5


def _x(value: object) -> str:
    return _INVALID_XML.sub("\ufffd", "" if value is None else str(value))


def _counts_text(rule: RuleResult) -> str:
    pct = num(rule.pct_violating)
    parts = []
    if rule.violating_rows is not None:
        of = f" of {rule.denominator:,}" if rule.denominator is not None else ""
        parts.append(f"{rule.violating_rows:,}{of} rows violate")
    if pct is not None:
        parts.append(f"({pct:.2f}%, threshold {rule.threshold:g}%)")
    if not parts and rule.observed is not None:
        parts.append(f"observed {rule.observed}")
    return " ".join(parts)


def _failure_body(rule: RuleResult, masked: bool, bindings: dict[str, str]) -> str:
    lines = [
        f"rule: {rule.rule_id} ({rule.kind}) on {rule.table}",
        f"severity: {rule.severity}",
    ]
    if rule.description:
        lines.append(f"description: {rule.description}")
    if rule.columns:
        lines.append(f"columns: {', '.join(column_label(c, bindings) for c in rule.columns)}")
    if rule.category:
        kahn = f"{rule.category}/{rule.context}" if rule.context else rule.category
        lines.append(f"kahn: {kahn}")
    if rule.dimension:
        lines.append(f"dimension: {rule.dimension}")
    counts = _counts_text(rule)
    if counts:
        lines.append(f"result: {counts}")
    if rule.message:
        lines.append(f"message: {rule.message}")
    if masked and rule.samples:
        lines.append("samples (identifiers masked):")
        for sample in rule.samples[:_MAX_SAMPLES]:
            values = ", ".join(
                f"{column_label(k, bindings)}={v!r}" for k, v in sample.values.items()
            )
            where = f"row {sample.row}" if sample.row is not None else "row ?"
            lines.append(f"  {where}: {values}")
        if len(rule.samples) > _MAX_SAMPLES:
            lines.append(f"  ... {len(rule.samples) - _MAX_SAMPLES} more in the HTML/JSON report")
    return "\n".join(lines)


def _testcase(
    suite: ET.Element, rule: RuleResult, masked: bool, bindings: dict[str, str] | None = None
) -> None:
    case = ET.SubElement(suite, "testcase", classname=_x(rule.table), name=_x(rule.rule_id))
    case.set("time", "0")
    if rule.status == "failed":
        summary = _counts_text(rule) or rule.message or "rule failed"
        failure = ET.SubElement(
            case,
            "failure",
            message=_x(f"[{rule.severity}] {rule.rule_id}: {summary}"),
            type=_x(rule.severity),
        )
        failure.text = _x(_failure_body(rule, masked, bindings or {}))
    elif rule.status == "error":
        error = ET.SubElement(
            case,
            "error",
            message=_x(rule.message or "rule could not be evaluated"),
            type="error",
        )
        error.text = _x(_failure_body(rule, masked, bindings or {}))
    elif rule.status == "not_applicable":
        ET.SubElement(case, "skipped", message=_x(rule.message or "not applicable"))


def _score_suite(root: ET.Element, dqmi: Dqmi, result: RunResult) -> None:
    """Suite "score", case "dqmi": failure if insufficient, skipped if nothing was scored."""
    insufficient = dqmi.state == "insufficient"
    suite = ET.SubElement(
        root,
        "testsuite",
        name="score",
        tests="1",
        failures=str(int(insufficient)),
        errors="0",
        skipped=str(int(dqmi.state == "not_scored")),
        time="0.000",
        timestamp=result.started_at.isoformat(),
    )
    props = ET.SubElement(suite, "properties")
    for key, value in (
        ("dqmi_state", dqmi.state),
        ("dqmi_score", dqmi.score),
        ("rules_ran", f"{dqmi.ran.rules_ran}/{dqmi.ran.rules_total}"),
        ("items_ran", f"{dqmi.ran.items_ran}/{dqmi.ran.items_total}"),
        ("min_coverage_pct", f"{dqmi.min_coverage_pct:g}"),
    ):
        if value is not None:
            ET.SubElement(props, "property", name=key, value=_x(value))
    case = ET.SubElement(suite, "testcase", classname="score", name="dqmi", time="0")
    ran = ran_text(dqmi)
    if insufficient:
        failure = ET.SubElement(
            case,
            "failure",
            message=_x(f"DQMI insufficient: {ran} (at least {dqmi.min_coverage_pct:g}% needed)"),
            type="insufficient",
        )
        partial = "none" if dqmi.score is None else f"{dqmi.score:g}"
        failure.text = _x(f"{ran}.\npartial score (errored rules count as 0): {partial}")
    elif dqmi.state == "not_scored":
        ET.SubElement(case, "skipped", message="no data item was scored")
    else:
        out = ET.SubElement(case, "system-out")
        out.text = _x(f"DQMI score {dqmi.score:g}; {ran}")


def build_junit(result: RunResult) -> ET.Element:
    """The JUnit document as an ElementTree element (root <testsuites>)."""
    counts = status_counts(result)
    dqmi = result.scores.dqmi
    insufficient = dqmi is not None and dqmi.state == "insufficient"
    not_scored = dqmi is not None and dqmi.state == "not_scored"
    root = ET.Element(
        "testsuites",
        name=_x(f"healthdq {result.contract}"),
        tests=str(len(result.rules) + (dqmi is not None)),
        failures=str(counts.get("failed", 0) + insufficient),
        errors=str(counts.get("error", 0)),
        skipped=str(counts.get("not_applicable", 0) + not_scored),
        time=f"{duration_seconds(result):.3f}",
    )
    tables = {t.name: t for t in result.tables}
    # Suites in the order of the tables, then any table only the rules mention.
    by_table: dict[str, list[RuleResult]] = {name: [] for name in tables}
    for rule in result.rules:
        by_table.setdefault(rule.table, []).append(rule)
    for name, rules in by_table.items():
        table = tables.get(name)
        suite = ET.SubElement(
            root,
            "testsuite",
            name=_x(name),
            tests=str(len(rules)),
            failures=str(sum(r.status == "failed" for r in rules)),
            errors=str(sum(r.status == "error" for r in rules)),
            skipped=str(sum(r.status == "not_applicable" for r in rules)),
            time=f"{(table.elapsed_ms if table else 0.0) / 1000:.3f}",
            timestamp=result.started_at.isoformat(),
        )
        props = ET.SubElement(suite, "properties")
        for key, value in (
            ("contract", result.contract),
            ("contract_version", result.contract_version),
            ("run_id", result.run_id),
            ("healthdq_version", result.healthdq_version),
            ("rows", table.rows if table else None),
            ("source", table.source if table else None),
            ("masked", str(result.masked).lower()),
        ):
            if value is not None:
                ET.SubElement(props, "property", name=key, value=_x(value))
        for rule in rules:
            _testcase(suite, rule, result.masked, table.bindings if table else None)
    if dqmi is not None:
        _score_suite(root, dqmi, result)
    return root


def write_junit(result: RunResult, path: str | os.PathLike[str]) -> Path:
    """Write JUnit XML (UTF-8) for the run: a suite per table, a test case per rule."""
    root = build_junit(result)
    ET.indent(root)
    text = ET.tostring(root, encoding="unicode", xml_declaration=False)
    target = Path(path)
    write_text_atomic(target, '<?xml version="1.0" encoding="UTF-8"?>\n' + text + "\n")
    return target
