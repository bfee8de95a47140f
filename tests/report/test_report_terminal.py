import io

import pytest
from rich.console import Console

from healthdq.report import print_summary
from healthdq.results import RunResult


def _render(result: RunResult, width: int = 100, verbose: bool = False) -> str:
    out = io.StringIO()
    console = Console(file=out, width=width, force_terminal=False, color_system=None)
    print_summary(result, console=console, verbose=verbose)
    return out.getvalue()


def test_summary_content(result: RunResult) -> None:
    text = _render(result)
    assert "nhs-apc v2" in text
    assert "15,000 rows" in text
    assert "DQMI score 87.2" in text
    assert "validity 78.5" in text
    lines = text.splitlines()
    # Most severe first: the fatal failure before the warning.
    fatal = next(i for i, line in enumerate(lines) if "apc.nhs_number.valid" in line)
    warning = next(i for i, line in enumerate(lines) if "apc.postcode.not_null" in line)
    assert fatal < warning
    assert "120/10,000" in text and "1.20%" in text
    assert "[bold]ethnos" not in text  # messages are not in the table...
    assert "2 passed" in text and "2 failed" in text and "1 error" in text and "1 n/a" in text
    assert "RR8" in text and "81.0" in text
    assert "apc.admidate.range" not in text  # passed rules are not listed


def test_compact_by_default(make_result) -> None:
    result = make_result(n_extra_rules=200)
    text = _render(result)
    assert len(text.splitlines()) <= 40
    assert "more (--verbose" in text
    assert len(_render(result, verbose=True).splitlines()) > 60


def test_markup_in_data_is_literal(result: RunResult) -> None:
    result.rules[0].rule_id = "[bold red]evil[/]"
    assert "[bold red]evil[/]" in _render(result)


def test_no_scores_no_groups(make_result) -> None:
    result = make_result(with_scores=False)
    result.groups = []
    text = _render(result)
    assert "DQMI" not in text
    assert "rules:" in text


@pytest.mark.parametrize("width", [10, 30, 79, 80, 200])
def test_any_width(result: RunResult, width: int) -> None:
    text = _render(result, width=width)
    assert text.strip()
    if width >= 30:
        assert "apc.nhs_number.valid" in text.replace("\n", "")


def test_coverage_line_shows_the_share_that_ran(result: RunResult) -> None:
    text = _render(result)
    assert "5 of 6 rules (83.33%) and 2 of 2 data items (100%) ran" in text


def test_insufficient_is_not_headlined(result: RunResult) -> None:
    assert result.scores.dqmi is not None
    result.scores.dqmi.state = "insufficient"
    result.scores.dqmi.ran.rules_ran = 1
    text = _render(result, width=200)
    assert "DQMI insufficient: under 80% of the rules or data items ran" in text
    assert "partial score 87.2" in text
    assert "DQMI score" not in text and "validity 78.5" not in text
    assert "1 of 6 rules (16.67%)" in text
