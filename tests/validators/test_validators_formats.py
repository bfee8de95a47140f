"""Format validators: postcode, ODS codes, ICD-10, OPCS-4, treatment function."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import pytest

from healthdq.validators import clinical_codes, ods
from healthdq.validators.postcode import PATTERN as POSTCODE_PATTERN
from healthdq.validators.postcode import postcode_is_valid

Evaluate = Callable[[str, Sequence[str]], list[bool | None]]  # the `evaluate` fixture

CASES: dict[str, tuple[list[str], list[str]]] = {
    "postcode": (
        [
            # Royal Mail / BS 7666 format examples, one per outward pattern:
            "M1 1AA",  # A9
            "M60 1NW",  # A99
            "CR2 6XH",  # AA9
            "DN55 1PT",  # AA99
            "W1A 1HQ",  # A9A
            "EC1A 1BB",  # AA9A
            # Further examples from the project brief / Wikipedia "Postcodes in the UK":
            "SW1A 1AA",
            "W1A 0AX",
            "M1 1AE",
            "B33 8TH",
            "LS1 4AP",
            "SW1A1AA",  # no space is accepted (a postcode_format finding)
            "sw1a 1aa",  # lower case is accepted (a postcode_format finding)
            "Sw1A 1AA",
            "GIR 0AA",  # Girobank exception
            # NHS pseudo-postcodes (HES 'homeadd'; NHS Data Dictionary POSTCODE OF USUAL
            # ADDRESS: 'ZZ99' + digit + letter + 'Z'; ZZ99 6CZ is India):
            "ZZ99 3VZ",
            "ZZ99 3WZ",
            "ZZ99 3CZ",
            "ZZ99 3GZ",
            "ZZ99 1WZ",
            "ZZ99 2WZ",
            "ZZ99 6CZ",
            "ZZ993VZ",
        ],
        [
            "Q1 1AA",  # Q never first
            "V1 1AA",
            "X1 1AA",
            "AI1 1AA",  # I, J, Z never second
            "AJ1 1AA",
            "AZ1 1AA",
            "W1I 1AA",  # third position of A9A limited to A-H J K P S T U W
            "EC1C 1BB",  # fourth position of AA9A limited to A B E H M N P R V W X Y
            "SW1A 1AC",  # inward unit letters never C I K M O V
            "SW1A 1IA",
            "SW1A  1AA",  # two spaces
            " SW1A 1AA",
            "SW1A 1AA ",
            "SW1A 1AA\r",  # Windows line end: '$' in Java regex would let this through
            "SW1A 1AA\n",
            "SW1A",  # outward code only
            "SW1A 1A",
            "M1  1AE",  # fixed-width HES padding is not accepted
            "ZZ99 3VX",  # pseudo-postcodes end in Z
            "ZZ99 33Z",
            "GIR 0AB",
            "XX",
            "",
        ],
    ),
    "ods_org": (
        ["RR8", "RH8", "RTH", "15F", "QWO", "Y56", "NV7", "8HA03", "RR801", "B82005", "V81999"],
        ["rr8", "RR", "RR80", "RR8011", "B820055", "RR8 ", " RR8", "R-8", "BB2005X", ""],
    ),
    "ods_site": (
        ["RR801", "RH802", "RTH08", "NV701", "7A101", "X1601", "TAK01"],
        ["RR8", "RR80", "RR8011", "rr801", "RR80 ", "RR-01", ""],
    ),
    "gp_practice": (
        ["B82005", "A81001", "V81999", "V81998", "V81997"],
        ["82005B", "B8200", "B820055", "BB2005", "b82005", "B82 005", ""],
    ),
    "icd10": (
        [
            "I10X",  # 3-character code with X filler (Dictionary: 4th character 'X')
            "A09X",
            "R69X",
            "J189",
            "C509",
            "U071",  # COVID-19, U07.1
            "M2556",  # 5th character (site) in use
            "M255-",  # unused 5th character filled with '-'
            "A170-D",  # dagger flag in the 6th character
            "G01XA",  # asterisk flag, filler left out
            "A170D",
        ],
        [
            "I10",  # must be X-filled
            "I10.X",
            "J18.9",
            "j189",
            "1189",
            "J18",
            "I10XX",
            "A170DD",
            "A170-X",
            "I10X ",
            "IXX9",
            "",
        ],
    ),
    "opcs4": (
        ["W401", "H011", "K401", "Y534", "Z942", "X999", "A011", "U051"],
        ["I011", "O011", "W40", "W40.1", "w401", "W4011", "W40A", "-", "&", ""],
    ),
    "treatment_function": (
        ["100", "110", "300", "420", "501", "650", "999"],
        ["10", "1000", "A00", " 100", "100 ", "1.0", ""],
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_published_vectors(evaluate: Evaluate, name: str) -> None:
    valid, invalid = CASES[name]
    assert evaluate(name, valid) == [True] * len(valid)
    got = evaluate(name, invalid)
    assert [v for v, ok in zip(invalid, got, strict=True) if ok is not False] == []


def test_postcode_reference_agrees() -> None:
    valid, invalid = CASES["postcode"]
    assert all(postcode_is_valid(v) for v in valid)
    assert not any(postcode_is_valid(v) for v in invalid)


@pytest.mark.parametrize(
    ("name", "pattern"),
    [
        ("postcode", POSTCODE_PATTERN),
        ("ods_org", ods.ORG_PATTERN),
        ("ods_site", ods.SITE_PATTERN),
        ("gp_practice", ods.GP_PRACTICE_PATTERN),
        ("icd10", clinical_codes.ICD10_PATTERN),
        ("opcs4", clinical_codes.OPCS4_PATTERN),
    ],
)
def test_sql_regex_agrees_with_python(evaluate: Evaluate, name: str, pattern: str) -> None:
    """RE2 in DuckDB and Python's re read the pattern the same way on near-miss strings."""
    valid, invalid = CASES[name]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 -."
    near = [v[:i] + c + v[i + 1 :] for v in valid for i in range(len(v)) for c in alphabet[::7]]
    values = valid + invalid + near
    # The postcode validator reads any letter case (lower case is a postcode_format finding).
    fold = name == "postcode"
    expected = [re.fullmatch(pattern, v.upper() if fold else v) is not None for v in values]
    assert evaluate(name, values) == expected


def test_format_findings_are_their_own(evaluate: Evaluate) -> None:
    """Separators and letter case are format findings; junk is left to the validity rule."""
    values = ["9434765919", "943 476 5919", "943-476-5919", "N/A", "94 34", ""]
    assert evaluate("nhs_number_format", values) == [True, False, False, True, True, True]
    values = ["LS1 4AP", "LS14AP", "ls1 4ap", "ZZ99 3VZ", "ZZ993VZ", "junk", ""]
    assert evaluate("postcode_format", values) == [True, False, False, True, False, True, True]
