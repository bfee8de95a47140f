"""NHS Number (Modulus 11) and SNOMED CT identifier (Verhoeff): published vectors and SQL vs the
pure-Python references on random strings."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

import pytest

from healthdq.validators.nhs_number import nhs_number_check_digit, nhs_number_is_valid
from healthdq.validators.sctid import PARTITIONS, sctid_is_valid, verhoeff_check_digit

Evaluate = Callable[[str, Sequence[str]], list[bool | None]]  # the `evaluate` fixture

NHS_VALID = [
    # "943 476 5919": the worked example in the nhs-number crate docs' checksum section
    # (docs.rs/nhs-number) and the epidm R package's valid_nhs() example.
    "9434765919",
    # Example in the heidi crate docs (docs.rs/heidi, module nhs): "6541003238".
    "6541003238",
    # npm nhs-validation README: NHSNumber.validate('671 668 9966') // true (spaces removed).
    "6716689966",
    # From the project brief, checked by hand, e.g. 4010232137: 4*10 + 0*9 + 1*8 + 0*7 + 2*6 +
    # 3*5 + 2*4 + 1*3 + 3*2 = 92; 92 mod 11 = 4; 11 - 4 = 7 = last digit.
    "9434765870",
    "4010232137",
    # 9990000018: 9*10 + 9*9 + 9*8 + 1*2 = 245; 245 mod 11 = 3; 11 - 3 = 8.
    "9990000018",
    # As people type it (3-3-4, spaces or dashes): normalised before the check digit.
    "943 476 5919",
    "943-476-5919",
    "671 668 9966",
]
NHS_INVALID = [
    "0000000001",  # npm nhs-validation README: validate('000 000 0001') // false
    "9434765918",  # the worked example with the wrong check digit
    "9434765910",
    # 999123456: weighted sum 287, 287 mod 11 = 1, 11 - 1 = 10, so no check digit works; the
    # nhs-number crate docs use "999 123 4560" only as a format example.
    "9991234560",
    "9991234561",
    "943476591",  # 9 digits
    "94347659190",  # 11 digits
    "94 3476 5919",  # separators only in the 3-3-4 places
    "943  476 5919",
    "943 476 5918",  # separators do not rescue a wrong check digit
    " 9434765919",
    "9434765919 ",
    "9434765919\r",
    "9434765919\n",
    "943476591X",
    "+943476591",  # TRY_CAST would accept the sign: the format check must not
    "94347.6591",
    "9_43476591",
    "0x1F2A3B4C",
    "",
]


def test_nhs_number_published_vectors(evaluate: Evaluate) -> None:
    assert evaluate("nhs_number", NHS_VALID) == [True] * len(NHS_VALID)
    assert evaluate("nhs_number", NHS_INVALID) == [False] * len(NHS_INVALID)
    assert all(nhs_number_is_valid(v) for v in NHS_VALID)
    assert not any(nhs_number_is_valid(v) for v in NHS_INVALID)


def test_nhs_number_check_digit() -> None:
    assert nhs_number_check_digit("943476591") == 9
    assert nhs_number_check_digit("943476587") == 0  # remainder 0 -> 11 -> check digit 0
    assert nhs_number_check_digit("999123456") is None  # 10: no valid number
    with pytest.raises(ValueError):
        nhs_number_check_digit("94347659")


def test_nhs_number_sql_matches_reference(evaluate: Evaluate) -> None:
    rng = random.Random(20240611)
    values = ["".join(rng.choices("0123456789", k=10)) for _ in range(3000)]
    # Random strings are ~1/11 valid: add valid numbers and their one-digit corruptions.
    while len(values) < 4500:
        first9 = "".join(rng.choices("0123456789", k=9))
        check = nhs_number_check_digit(first9)
        if check is None:
            values.append(first9 + str(rng.randrange(10)))
            continue
        valid = first9 + str(check)
        pos = rng.randrange(10)
        wrong = valid[:pos] + str((int(valid[pos]) + rng.randrange(1, 10)) % 10) + valid[pos + 1 :]
        values += [valid, wrong]
    expected = [nhs_number_is_valid(v) for v in values]
    assert evaluate("nhs_number", values) == expected
    assert sum(expected) > 800  # both outcomes well represented


SCTID_VALID = [
    # Concepts in the SNOMED CT International Edition (SNOMED International browser).
    "22298006",  # Myocardial infarction
    "404684003",  # Clinical finding
    "138875005",  # SNOMED CT Concept (root)
    "73211009",  # Diabetes mellitus
    "24700007",  # Multiple sclerosis (hermes docs, ICD-10 map example)
    # SNOMED CT Release File Specification 6.1: "101291009" must not be written "0101291009".
    "101291009",
    # Specification 6.3 notes: inactivation indicator and historical association refsets.
    "900000000000489007",
    "900000000000522004",
    "900000000000207008",  # SNOMED CT core module (18 digits, long format)
    # UK Edition identifiers (long format, namespace 1000000), e.g. Rdiagnosislist docs.
    "999000011000000103",
    "999000031000000106",
    "999002271000000101",  # UK ICD-10 5th edition complex map reference set
    "1126441000000105",  # OPCS-4.9 complex map reference set
]
SCTID_INVALID = [
    "22298007",  # changed check digit
    "22298005",
    "404684004",
    "0101291009",  # leading zero (spec 6.1)
    "022298006",
    "10000",  # 5 digits: below the 6-digit minimum
    "1000000000000000000",  # 19 digits: above the 18-digit maximum
    "9000000000002070081",
    "22298068",  # Verhoeff-valid but partition 06 is reserved (spec 6.5)
    "2229 8006",
    "22298006 ",
    "-22298006",
    "+22298006",
    "22298006.0",
    "SCT22298006",
    "",
]


def test_sctid_published_vectors(evaluate: Evaluate) -> None:
    assert evaluate("sctid", SCTID_VALID) == [True] * len(SCTID_VALID)
    assert evaluate("sctid", SCTID_INVALID) == [False] * len(SCTID_INVALID)
    assert all(sctid_is_valid(v) for v in SCTID_VALID)
    assert not any(sctid_is_valid(v) for v in SCTID_INVALID)
    assert verhoeff_check_digit("2229800") == "6"


def _random_sctid(rng: random.Random) -> str:
    length = rng.randint(6, 18)
    partition = rng.choice(["00", "01", "02", "03", "04", "05", "10", "11", "12", "16"])
    body = str(rng.randint(1, 9)) + "".join(rng.choices("0123456789", k=length - 4)) + partition
    return body + verhoeff_check_digit(body)


def test_sctid_sql_matches_reference(evaluate: Evaluate) -> None:
    rng = random.Random(19690101)
    values = []
    for _ in range(2500):  # any digits, any length 4-20, leading zeros included
        values.append("".join(rng.choices("0123456789", k=rng.randint(4, 20))))
    for _ in range(1500):
        valid = _random_sctid(rng)
        pos = rng.randrange(len(valid) - 1)
        # Verhoeff catches every single-digit error and adjacent transposition.
        typo = valid[:pos] + str((int(valid[pos]) + rng.randrange(1, 10)) % 10) + valid[pos + 1 :]
        swap = valid[:pos] + valid[pos + 1] + valid[pos] + valid[pos + 2 :]
        values += [valid, typo]
        if swap != valid:
            values.append(swap)
            assert not sctid_is_valid(swap)
        assert sctid_is_valid(valid) and not sctid_is_valid(typo)
    expected = [sctid_is_valid(v) for v in values]
    assert evaluate("sctid", values) == expected
    assert sum(expected) > 1500


def test_sctid_partitions(evaluate: Evaluate) -> None:
    """Spec 6.5: 00-02, 10-12, 16 (plus RF1-era 03-05, 13-15) pass; every other one fails."""
    values = []
    for p in range(100):
        body = "1234567" + f"{p:02d}"
        values.append(body + verhoeff_check_digit(body))
    got = evaluate("sctid", values)
    assert [v[-3:-1] for v, ok in zip(values, got, strict=True) if ok] == list(PARTITIONS)
    with pytest.raises(ValueError):
        verhoeff_check_digit("12a4")
