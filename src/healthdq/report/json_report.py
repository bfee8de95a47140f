"""Machine-readable results: the RunResult as JSON (schema in docs/json-schema.md).

Output is deterministic for a given result: model fields in schema order (scores included),
free-form mappings (summary, sample values, observed metrics) with sorted keys, ISO 8601
datetimes, UTF-8, and no NaN/Infinity (written as null, since they are not valid JSON).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from healthdq.errors import HealthdqError
from healthdq.report._common import write_text_atomic
from healthdq.report.upgrade import upgrade
from healthdq.results import SCHEMA_VERSION, RunResult

# Keys whose values are free-form mappings; their key order is made stable by sorting.
_FREE_FORM = {"summary", "values", "observed"}


def _clean(value: Any, sort: bool = False) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        items = sorted(value.items(), key=lambda kv: str(kv[0])) if sort else value.items()
        return {str(k): _clean(v, sort or k in _FREE_FORM) for k, v in items}
    if isinstance(value, list):
        return [_clean(v, sort) for v in value]
    return value


def to_json_dict(result: RunResult) -> dict[str, Any]:
    """The result as plain JSON-ready data, in the stable order `write_json` uses."""
    data: dict[str, Any] = _clean(result.model_dump(mode="json"))
    return data


def dumps(result: RunResult) -> str:
    """The result as a JSON document (str), as written by `write_json`."""
    return json.dumps(to_json_dict(result), indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def write_json(result: RunResult, path: str | os.PathLike[str]) -> Path:
    """Write the result as UTF-8 JSON; atomic, so a reader never sees a half-written file."""
    target = Path(path)
    write_text_atomic(target, dumps(result))
    return target


def load_json(path: str | os.PathLike[str]) -> RunResult:
    """Read a results file written by `write_json`: 2.x, or 1.x upgraded (report/upgrade.py)."""
    source = Path(path)
    try:
        data = json.loads(source.read_text(encoding="utf-8"))
    except OSError as exc:
        raise HealthdqError(f"cannot read results: {exc.strerror}", path=str(source)) from exc
    except ValueError as exc:
        raise HealthdqError(f"results file is not valid JSON: {exc}", path=str(source)) from exc
    if not isinstance(data, dict):
        raise HealthdqError("results file is not a JSON object", path=str(source))
    version = str(data.get("schema_version", ""))
    major = version.split(".")[0]
    if major not in ("1", SCHEMA_VERSION.split(".")[0]):
        raise HealthdqError(
            f"results schema_version {version or '(missing)'} is not supported "
            f"(this healthdq reads 1.x and {SCHEMA_VERSION.split('.')[0]}.x)",
            path=str(source),
        )
    try:
        if major == "1":
            return upgrade(data)
        # Unknown fields are ignored: minor versions only add fields.
        return RunResult.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise HealthdqError(
            f"results file does not match the schema at {where}: {first['msg']}",
            path=str(source),
        ) from exc
