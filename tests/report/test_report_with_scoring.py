"""The reports render what the real scoring module produces (shapes differ from hand-built)."""

import io
import re
from pathlib import Path

from rich.console import Console

from healthdq.report import load_json, print_summary, render_html, write_json
from healthdq.report._common import group_league, kahn_overview
from healthdq.results import RunResult, Scores
from healthdq.scoring import score


def test_kahn_from_scorer_matches_rules(result: RunResult) -> None:
    derived = kahn_overview(result)
    score(result)
    assert result.scores.kahn is not None and result.scores.kahn.categories
    from_scores = kahn_overview(result)
    for category in ("conformance", "completeness", "plausibility"):
        for ctx in ("verification", "validation", "total"):
            assert from_scores[category][ctx] == derived[category][ctx], (category, ctx)


def test_league_worst_first_with_scorer_ranks(result: RunResult) -> None:
    score(result)
    league = group_league(result.groups[0], result.rules)
    scored = [row for row in league if row.score is not None]
    assert [row.score for row in scored] == sorted(row.score for row in scored)
    assert [row.rank for row in scored] == list(range(1, len(scored) + 1))
    rxz = next(row for row in league if row.group == "RXZ")
    assert rxz.all_suppressed and rxz.failed == 0


def test_reports_render_scored_result(result: RunResult, tmp_path: Path) -> None:
    result.scores = Scores()
    result.groups[0].scores = []
    result.tables[0].warnings = ["encoding guessed as latin-1"]
    score(result)
    html = render_html(result)
    assert result.scores.dqmi is not None
    overall = result.scores.dqmi.score
    assert overall is not None and f"{overall:.1f}" in html
    assert "Defaults in excess" in html and "Item score" in html
    assert "not in the score" in html  # the scorer's excluded rules
    assert "encoding guessed as latin-1" in html
    assert re.search(r"<th scope=\"row\" class=\"mono\">RR8</th>", html)

    out = io.StringIO()
    print_summary(result, Console(file=out, width=100, force_terminal=False))
    assert "DQMI score" in out.getvalue()

    assert load_json(write_json(result, tmp_path / "r.json")) == result
