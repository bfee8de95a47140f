"""The HTML report in a real headless Chromium: it opens offline and its script runs under CSP.

CI installs Debian's chromium (.ci/run); a developer machine without it skips, CI never does.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

Cli = Callable[..., tuple[int, str, str]]
Write = Callable[[str, str | bytes], Path]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed; .ci/run installs it")
        pytest.skip("chromium not installed (apt-get install chromium)")
    profile = tmp_path / "profile"
    return subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_report_renders_and_its_script_runs(cli: Cli, write: Write, tmp_path: Path) -> None:
    contract = write(
        "c.yaml",
        "name: demo\ntables:\n  t:\n    columns:\n      nhs: {identifier: nhs_number}\n"
        "    rules:\n      - {id: t.nhs.nn, kind: not_null, column: nhs}\n"
        "      - {id: t.sex.vals, kind: allowed_values, column: sex, values: ['1', '2']}\n",
    )
    data = write("d.csv", "nhs,sex,prov\n9434765919,1,RR8\n,M,RR8\n9434765870,2,RTH\n")
    report = tmp_path / "report.html"
    code, _, err = cli("check", data, "--contract", contract, "--html", report, "-g", "prov")
    assert code == 1, err
    done = chromium(tmp_path, "--dump-dom", report.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    dom = done.stdout
    # The filter box is revealed and the counter filled only by the report's own script:
    # proof that the Content-Security-Policy hash matches and the page works offline.
    assert "Showing 2 of 2 rules" in dom
    assert re.search(r"<th[^>]*><button", dom), "sortable headers get buttons from the script"
    assert "t.sex.vals" in dom and "RR8" in dom
    assert "9434765919" not in dom, "identifiers are masked in the report"

    shot = tmp_path / "report.png"
    done = chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,2000", report.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    assert shot.exists() and shot.stat().st_size > 10_000
