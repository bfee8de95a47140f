import base64
import hashlib
import re
import time
from html.parser import HTMLParser
from pathlib import Path

from healthdq.report import render_html, write_html
from healthdq.results import RunResult

VOID = {
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
    "track", "wbr",
}  # fmt: skip


class StrictParser(HTMLParser):
    """html.parser plus the checks it does not do: balanced tags and external URLs."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.urls: list[str] = []
        self.ids: list[str] = []
        self.text: list[str] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._attrs(tag, attrs)
        if tag not in VOID:
            self.stack.append(tag)
        self._in_script = tag == "script"

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._attrs(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"unexpected </{tag}> at {self.getpos()}, open: {self.stack[-3:]}")
            return
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        (self.scripts if self._in_script else self.text).append(data)

    def _attrs(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href", "xlink:href", "action", "data", "poster") and value:
                self.urls.append(value)
            if name == "id" and value:
                self.ids.append(value)


def _parse(html: str) -> StrictParser:
    parser = StrictParser()
    parser.feed(html)
    parser.close()
    assert parser.errors == []
    assert parser.stack == []
    return parser


def test_content(result: RunResult, tmp_path: Path) -> None:
    path = write_html(result, tmp_path / "out" / "report.html")
    html = path.read_text(encoding="utf-8")
    parser = _parse(html)
    text = " ".join(parser.text)
    # Header and score cards.
    assert "nhs-apc" in text and "duckdb 1.1" in text and "masked" in text
    assert "87.2" in text and "78.5" in text and "Coverage" in text
    # Kahn overview, chart, rules and samples.
    assert "Verification" in text and "plausibility" in text
    assert "<svg" in html and "Worst rules" in text
    for rule in result.rules:
        assert f'id="rule-{rule.rule_id.replace(".", "_")}"' in html
    assert "943 *** **19" in text and "NULL" in text
    assert "column attend not in source" in text
    # By-group league table with suppression and its footnote.
    assert "provider_code" in text and "RR8" in text and "RAE" in text and "(missing)" in text
    assert "small-number suppression" in text
    assert re.search(r'class="num sup"[^>]*>\*</td>', html)
    # Per data item table, tables and footer.
    assert "Data items" in text and "99.6" in text
    assert "data/apc.parquet" in text
    assert "run-2026-03-01-abc" in text and "healthdq 0.1.0" in text


def test_self_contained(result: RunResult) -> None:
    html = render_html(result)
    parser = _parse(html)
    assert all(url.startswith("#") for url in parser.urls), parser.urls
    assert "http://" not in html and "https://" not in html
    assert not re.search(r"""(src|href)\s*=\s*["']?//""", html)
    assert "<link" not in html and "@import" not in html and "url(" not in html
    # Internal links point at elements that exist.
    ids = set(parser.ids)
    assert {u[1:] for u in parser.urls} <= ids
    assert len(parser.ids) == len(ids), "duplicate ids"


def test_csp_pins_the_script(result: RunResult) -> None:
    html = render_html(result)
    parser = _parse(html)
    script = "".join(parser.scripts)  # exactly the bytes a browser hashes
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    assert "default-src 'none'" in html
    assert f"script-src 'sha256-{digest}'" in html


def test_everything_escaped(result: RunResult) -> None:
    result.rules[0].rule_id = "<img src=x onerror=alert(1)>"
    result.rules[0].samples[0].values["nhs_number"] = "</td></tr><script>alert(2)</script>"
    result.groups[0].rows[0].group = '"><b>RR8</b>'
    result.tables[0].source = "<i>x</i>"
    html = render_html(result)
    parser = _parse(html)
    assert "<img" not in html and "<script>alert" not in html and "<b>RR8" not in html
    assert "<i>x" not in html
    assert "</td></tr><script>alert(2)</script>" in " ".join(parser.text)
    assert parser.urls and all(url.startswith("#") for url in parser.urls)


def test_control_characters_removed(result: RunResult) -> None:
    html = render_html(result)  # the fixture has a BEL in an error message
    assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f]", html)


def test_unmasked_banner(make_result) -> None:
    html = render_html(make_result(masked=False))
    assert "NOT masked" in html and 'role="alert"' in html
    assert 'role="alert"' not in render_html(make_result(masked=True))


def test_without_scores(make_result) -> None:
    result = make_result(with_scores=False)
    html = render_html(result)
    _parse(html)
    assert "No scores were computed" in html
    assert 'id="items"' not in html
    # The Kahn overview is still derived from the rules.
    assert "Verification" in html


def test_empty_run(make_result) -> None:
    result = make_result(with_scores=False)
    result.rules = []
    result.groups = []
    html = render_html(result)
    _parse(html)
    assert 'id="worst"' not in html


def test_status_not_only_colour(result: RunResult) -> None:
    html = render_html(result)
    assert "✗ failed" in html and "✓ passed" in html and "! error" in html
    assert "<caption" in html and 'scope="col"' in html and 'scope="row"' in html


def test_large_report_is_fast(make_result) -> None:
    result = make_result(n_extra_rules=500, n_samples=10)
    start = time.perf_counter()
    html = render_html(result)
    elapsed = time.perf_counter() - start
    assert elapsed < 3.0
    assert html.count('<tr id="rule-') == 506
    assert len(html) < 2_000_000


def test_coverage_and_insufficient_state(result: RunResult) -> None:
    html = render_html(result)
    _parse(html)
    assert "5 of 6 rules (83.33%) and 2 of 2 data items (100%) ran" in html
    assert 'class="ran banner"' in html  # not everything ran: shown as a banner
    assert result.scores.dqmi is not None
    result.scores.dqmi.state = "insufficient"
    html = render_html(result)
    _parse(html)
    overview = html[html.index('id="overview"') : html.index('id="kahn"')]
    assert ">insufficient<" in overview and "partial score 87.2" in overview
    assert "The DQMI score is insufficient" in overview
    # No score is headlined, and the dimension cards are withheld too.
    assert "<meter" not in overview and "78.5" not in overview


def test_errored_rules_named_on_their_data_item(result: RunResult) -> None:
    assert result.scores.dqmi is not None
    result.scores.dqmi.items[1].errored = ["apc.postcode.valid"]
    html = render_html(result)
    assert "! apc.postcode.valid" in html[html.index('id="items"') :]
