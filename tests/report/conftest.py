"""A RunResult fixture for the report tests, built directly (no engine needed)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from healthdq.results import (
    ColumnInfo,
    GroupBreakdown,
    GroupRow,
    GroupScore,
    RuleResult,
    RunResult,
    Sample,
    Scores,
    TableResult,
)
from healthdq.results.scores import Dimensions, Dqmi, Item, Ran, TableScore

XSS = '<script>alert("x")</script>'


def build_result(
    n_extra_rules: int = 0, n_samples: int = 3, with_scores: bool = True, masked: bool = True
) -> RunResult:
    started = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    rules = [
        RuleResult(
            rule_id="apc.nhs_number.valid",
            table="apc",
            kind="validator",
            description="NHS number passes the modulus-11 check",
            columns=["nhs_number"],
            category="conformance",
            subcategory="value",
            context="verification",
            dimension="validity",
            severity="fatal",
            status="failed",
            violating_rows=120,
            denominator=10_000,
            pct_violating=1.2,
            samples=[
                Sample(row=17 + i, values={"nhs_number": "943 *** **19", "sex": None})
                for i in range(n_samples)
            ],
        ),
        RuleResult(
            rule_id="apc.postcode.not_null",
            table="apc",
            kind="not_null",
            columns=["postcode"],
            category="completeness",
            context="verification",
            dimension="completeness",
            severity="warning",
            threshold=5.0,
            status="failed",
            violating_rows=900,
            denominator=10_000,
            pct_violating=9.0,
            samples=[Sample(row=3, values={"postcode": None, "note": ""})],
        ),
        RuleResult(
            rule_id="apc.admidate.range",
            table="apc",
            kind="date_range",
            description=f"Admission date plausible {XSS}",
            columns=["admidate"],
            category="plausibility",
            context="verification",
            dimension="validity",
            severity="error",
            status="passed",
            violating_rows=0,
            denominator=10_000,
            pct_violating=0.0,
        ),
        RuleResult(
            rule_id="apc.rows",
            table="apc",
            kind="row_count",
            category="completeness",
            context="validation",
            dimension="coverage",
            status="passed",
            observed=10_000,
        ),
        RuleResult(
            rule_id="apc.ethnos.sql",
            table="apc",
            kind="sql",
            category="plausibility",
            context="verification",
            dimension="other",
            severity="error",
            status="error",
            message="Binder Error: column [bold]ethnos\x07 not found",
        ),
        RuleResult(
            rule_id="op.attend.allowed",
            table="op",
            kind="allowed_values",
            category="conformance",
            context="verification",
            dimension="validity",
            severity="info",
            status="not_applicable",
            message="column attend not in source",
        ),
    ]
    for i in range(n_extra_rules):
        status = ("failed", "passed", "passed", "not_applicable")[i % 4]
        rules.append(
            RuleResult(
                rule_id=f"op.extra.{i:04d}",
                table="op",
                kind="regex",
                description=f"extra rule {i}",
                columns=["col"],
                category="conformance",
                context="verification",
                dimension="validity",
                severity=("fatal", "error", "warning", "info")[i % 4],
                status=status,
                violating_rows=i if status == "failed" else 0,
                denominator=5000,
                pct_violating=(i / 50) if status == "failed" else 0.0,
                samples=[
                    Sample(row=j * 7 + 1, values={"col": f"v{j}", "other": j})
                    for j in range(n_samples if status == "failed" else 0)
                ],
            )
        )
    scores = Scores()
    if with_scores:
        dims = Dimensions(completeness=91.0, validity=78.5, default=99.0, coverage=100.0)
        scores = Scores(
            dqmi=Dqmi(
                method="healthdq DQMI v2 (test)",
                state="scored",
                score=87.25,
                ran=Ran(rules_total=6, rules_ran=5, items_total=2, items_ran=2),
                dimensions=dims,
                tables={"apc": TableScore(score=85.5, dimensions=dims, items=2)},
                items=[
                    Item(
                        table="apc",
                        column="nhs_number",
                        coverage=100.0,
                        completeness=100.0,
                        validity=98.8,
                        default=100.0,
                        score=99.6,
                    ),
                    Item(
                        table="apc",
                        column="postcode",
                        coverage=100.0,
                        completeness=91.0,
                        validity=100.0,
                        score=95.5,
                    ),
                ],
            )
        )
    groups = [
        GroupBreakdown(
            table="apc",
            column="provider_code",
            rows=[
                GroupRow(
                    group="RR8",
                    rule_id="apc.nhs_number.valid",
                    violating_rows=100,
                    denominator=6000,
                    pct_violating=1.6667,
                ),
                GroupRow(
                    group="RAE",
                    rule_id="apc.nhs_number.valid",
                    violating_rows=20,
                    denominator=3995,
                    pct_violating=0.5006,
                ),
                GroupRow(
                    group="RXZ",
                    rule_id="apc.nhs_number.valid",
                    violating_rows=None,
                    denominator=None,
                    pct_violating=None,
                    suppressed=True,
                ),
                GroupRow(
                    group=None,
                    rule_id="apc.nhs_number.valid",
                    violating_rows=0,
                    denominator=4,
                    pct_violating=0.0,
                ),
            ],
            scores=[
                GroupScore(group="RR8", score=81.0, rows=6000, rank=1),
                GroupScore(group="RAE", score=93.5, rows=3995, rank=2),
                GroupScore(group="RXZ", score=None, rows=None, suppressed_rules=1),
            ]
            if with_scores
            else [],
        )
    ]
    return RunResult(
        healthdq_version="0.1.0",
        run_id="run-2026-03-01-abc",
        contract="nhs-apc",
        contract_version="2",
        started_at=started,
        finished_at=datetime(2026, 3, 1, 9, 30, 4, 500_000, tzinfo=UTC),
        run_date="2026-03-01",
        engine="duckdb 1.1",
        masked=masked,
        tables=[
            TableResult(
                name="apc",
                source="data/apc.parquet",
                rows=10_000,
                columns=[
                    ColumnInfo(name="nhs_number", type="VARCHAR", identifier="nhs_number"),
                    ColumnInfo(name="postcode", type="VARCHAR", identifier="postcode"),
                    ColumnInfo(name="admidate", type="DATE"),
                ],
                elapsed_ms=812.5,
                scans=1,
            ),
            TableResult(
                name="op",
                source="data/op.csv",
                rows=5000,
                columns=[ColumnInfo(name="col", type="VARCHAR")],
            ),
        ],
        rules=rules,
        groups=groups,
        scores=scores,
        summary={"rules": len(rules)},
    )


@pytest.fixture
def make_result() -> Callable[..., RunResult]:
    return build_result


@pytest.fixture
def result() -> RunResult:
    return build_result()
