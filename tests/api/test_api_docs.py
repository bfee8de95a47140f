"""The notebook example in docs/python.md runs as written and shows masked identifiers."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "python.md"


def test_notebook_example_runs() -> None:
    pytest.importorskip("pandas")
    example = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)[0]
    scope: dict[str, object] = {}
    exec(compile(example, str(DOC), "exec"), scope)
    result = scope["result"]
    html = result._repr_html_()  # type: ignore[attr-defined]
    assert "401 *** **38" in html and "4010232138" not in html
    assert [r.rule_id for r in result.failed()] == ["sex.valid", "age.range", "nhs.valid"]  # type: ignore[attr-defined]
