"""Renderers registered by name: every file output is drawn from a RunResult.

Built-in renderers are named here and imported on first use; `register_renderer` adds more
(a plug-in, the server). The pipeline writes `outputs={name: path}` through this table only.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from healthdq.errors import HealthdqError
from healthdq.results import RunResult

Renderer = Callable[..., Any]

# name -> "module:function(result, path, **options)"
_BUILTIN: dict[str, str] = {
    "json": "healthdq.report.json_report:write_json",
    "html": "healthdq.report.html:write_html",
    "junit": "healthdq.report.junit:write_junit",
    "dqd-json": "healthdq.report.dqd_json:write_dqd_json",
}
_REGISTERED: dict[str, Renderer] = {}


def register_renderer(name: str, renderer: Renderer) -> None:
    """Make `renderer(result, path, **options)` available as output `name`."""
    _REGISTERED[name] = renderer


def renderer_names() -> list[str]:
    return sorted({*_BUILTIN, *_REGISTERED})


def get_renderer(name: str) -> Renderer:
    if name in _REGISTERED:
        return _REGISTERED[name]
    target = _BUILTIN.get(name)
    if target is None:
        raise HealthdqError(f"unknown output '{name}' (known: {', '.join(renderer_names())})")
    module, func = target.split(":")
    renderer: Renderer = getattr(importlib.import_module(module), func)
    return renderer


def render(name: str, result: RunResult, path: str | Path, **options: Any) -> None:
    get_renderer(name)(result, Path(path), **options)
