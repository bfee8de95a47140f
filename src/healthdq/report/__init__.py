"""Outputs of a run: JSON (machine-readable), JUnit XML (CI), HTML (people), DQD JSON (OHDSI's
viewer), terminal summary."""

from healthdq.report.dqd_json import write_dqd_json
from healthdq.report.html import render_html, write_html
from healthdq.report.json_report import load_json, write_json
from healthdq.report.junit import write_junit
from healthdq.report.terminal import print_summary

__all__ = [
    "load_json",
    "print_summary",
    "render_html",
    "write_dqd_json",
    "write_html",
    "write_json",
    "write_junit",
]
