"""Value-set files, their loader and the IN-list validators."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
import yaml

from healthdq.validators import REGISTRY, valueset
from healthdq.validators.valueset import get_valueset, load_valueset, valueset_names

Evaluate = Callable[[str, Sequence[str]], list[bool | None]]  # the `evaluate` fixture

REQUIRED = {
    "ethnic_category": "A B C D E F G H J K L M N P R S Z 99 0 1 2 3 4 5 6 7 8 9",
    "person_stated_gender": "1 2 9 X",
    "sex": "1 2 9 X 0",
    "admission_method": "11 12 13 21 22 23 24 25 2A 2B 2C 2D 28 31 32 81 82 83 98 99",
    "admission_source": "19 29 37 39 40 42 49 51 52 53 54 55 56 65 66 79 85 87 88 98 99",
    "discharge_method": "1 2 3 4 5 8 9",
    "discharge_destination": (
        "19 29 30 37 38 40 42 48 49 50 51 52 53 54 55 56 65 66 79 84 85 87 88 89 98 99"
    ),
    "patient_classification": "1 2 3 4 5",
    "ae_attendance_category": "1 2 3",
    "ae_attendance_disposal": "01 02 03 04 05 06 07 10 11 12 13 14",
    "outpatient_attendance_status": "5 6 7 2 3 4 0",
    "first_attendance": "1 2 3 4 5",
}


def test_required_sets_and_codes() -> None:
    assert set(REQUIRED) <= set(valueset_names())
    for name, codes in REQUIRED.items():
        assert load_valueset(name) == codes.split(), name


def test_changes_note_lists_the_final_codes() -> None:
    """The synthetic-data generator reads CHANGES-FROM-BRIEF.md: keep it in step."""
    note = (valueset.VALUESET_DIR / "CHANGES-FROM-BRIEF.md").read_text(encoding="utf-8")
    for name in ("admission_method", "discharge_destination"):
        assert " ".join(load_valueset(name)) in note


@pytest.mark.parametrize("path", sorted(valueset.VALUESET_DIR.glob("*.yaml")), ids=lambda p: p.stem)
def test_file_hygiene(path: Path) -> None:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert list(raw)[:5] == ["name", "title", "source", "license", "codes"]
    # NHS Data Dictionary lists are OGL; sets generated from the UK Core package are Apache 2.0.
    if path.stem.startswith("ukcore_"):
        assert raw["license"].startswith("Apache License 2.0")
        assert "UK Core" in raw["source"]
        licence = "Apache License 2.0"
    else:
        assert raw["license"] == "Open Government Licence v3.0"
        assert "NHS Data Dictionary" in raw["source"]
        licence = "Open Government Licence"
    vs = get_valueset(path.stem)
    assert all(c.label for c in vs.codes)
    validator = REGISTRY[vs.name]
    assert validator.kind == "valueset"
    assert licence in validator.source


def test_unquoted_codes_are_rejected(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "name: bad\ntitle: t\nsource: s\nlicense: l\ncodes:\n  - {code: 01, label: x}\n",
        encoding="utf-8",
    )
    with pytest.raises(ValueError, match="quoted string"):
        valueset._parse(bad)


def test_unknown_valueset() -> None:
    with pytest.raises(KeyError, match="unknown value set 'nope'"):
        load_valueset("nope")


def test_membership_is_exact(evaluate: Evaluate) -> None:
    values = ["01", "1", " 01", "01 ", "14", "15", "99", ""]
    assert evaluate("ae_attendance_disposal", values) == [
        True, False, False, False, True, False, False, False,
    ]  # fmt: skip
    # 9 is a code of the pre-2001 scheme: valid (code_era judges its period).
    assert evaluate("ethnic_category", ["A", "a", "Z", "99", "9", "A1", "X"]) == [
        True, False, True, True, True, False, False,
    ]  # fmt: skip
    assert evaluate("admission_method", ["2A", "2a", "28", "98", "2E"]) == [
        True, False, True, True, False,
    ]  # fmt: skip
