"""Outputs of a run: JSON (machine-readable), JUnit XML (CI), HTML (people), terminal summary."""

from healthdq.report.html import render_html, write_html
from healthdq.report.json_report import load_json, write_json
from healthdq.report.junit import write_junit
from healthdq.report.terminal import print_summary

__all__ = ["load_json", "print_summary", "render_html", "write_html", "write_json", "write_junit"]
