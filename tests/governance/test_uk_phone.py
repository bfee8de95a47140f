"""GB phone numbers by format for the Presidio path (governance/uk_phone.py): every way the
notes write them, the drama ranges libphonenumber rejects, and what must stay untouched."""

from __future__ import annotations

import pytest

from healthdq.governance import uk_phone

FOUND = [
    "07700 900123",  # mobile, drama range
    "07700-900-123",
    "07700900123",  # bare: needs a phone word before it (the sentences below have one)
    "(07700) 900123",
    "+44 7700 900123",
    "+44 (0)7700 900123",
    "+447700900123",
    "0044 7700 900123",
    "020 7946 0123",  # London, 2+8
    "(020) 7946 0123",
    "+44 20 7946 0123",
    "0113 496 0123",  # Leeds, 3+7
    "0161-496-0123",  # Manchester
    "(0161) 496 0123",
    "01632 960123",  # drama range, 4+6
    "01632 960 123",
    "(01632) 960123",
    "0300 123 4567",  # 03
    "0800 123 4567",  # freephone, 10 digits
    "0800 123 456",  # freephone, 9 digits
]

NOT_FOUND = [
    "BP 132/84, HR 78, sats 97% on air.",
    "Bloods: Hb 128 g/L, CRP 12, eGFR 64.",
    "Metformin 500 mg BD, paracetamol 1 g QDS.",
    "Lab ref 4857773456 sent to micro.",  # a 10-digit reference: no leading 0
    "NHS number 485 777 3456.",
    "DOB 01-02-2024, seen 01/02/2024 at 0930.",
    "Sample 01134960123 sent.",  # a bare run of digits with no phone word before it
    "Ward 07, Bed 12, Bay 3.",
    "Tel 0400 123 4567.",  # 04: not in use
    "Tel 0113 496 01.",  # too short for the plan
    "Tel 07700 900 1234 5.",  # the digits run on past a plan length
]


@pytest.mark.parametrize("number", FOUND)
def test_plausible_numbers(number: str) -> None:
    assert uk_phone.plausible(number), number


def test_nsn() -> None:
    assert uk_phone.nsn("+44 (0)20 7946 0123") == "2079460123"
    assert uk_phone.nsn("0044 113 496 0123") == "1134960123"
    assert uk_phone.nsn("(01632) 960123") == "1632960123"
    assert uk_phone.nsn("07700900123") == "7700900123"


def test_context_only_for_bare_digits() -> None:
    assert uk_phone.needs_context("07700900123")
    assert not uk_phone.needs_context("07700 900123")
    assert not uk_phone.needs_context("+447700900123")
    text = "Contact number: 07700900123"
    assert uk_phone.has_context(text, text.index("0"))
    text = "Sample 07700900123"
    assert not uk_phone.has_context(text, text.index("0"))


presidio = pytest.importorskip("presidio_analyzer")


@pytest.mark.parametrize("number", FOUND)
def test_recogniser_finds_the_whole_number(number: str) -> None:
    r = uk_phone.recognizer()
    for cue in ("Tel ", "Call back on ", "Mobile ", "Contact number: "):
        text = f"{cue}{number}."
        found = [(x.start, x.end, x.entity_type) for x in r.analyze(text, ["PHONE_NUMBER"])]
        assert found == [(len(cue), len(cue) + len(number), "PHONE_NUMBER")], text


@pytest.mark.parametrize("text", NOT_FOUND)
def test_recogniser_leaves_other_numbers(text: str) -> None:
    assert uk_phone.recognizer().analyze(text, ["PHONE_NUMBER"]) == []


def test_presidio_redacts_drama_numbers() -> None:
    """Through the analyzer healthdq builds: numbers libphonenumber does not call valid."""
    from healthdq.governance.presidio import redactor

    out = redactor().redact("Tel 07700 900123. Call back on (01632) 960123. BP 132/84.")
    assert out == "Tel [PHONE]. Call back on [PHONE]. BP 132/84."


def test_phone_number_passing_the_nhs_check_digit_stays_a_phone_number() -> None:
    """'113 496 0344' passes the NHS number check digit; after +44 it is a phone number."""
    from healthdq.governance.presidio import redactor

    out = redactor().redact("Call back on +44 113 496 0344. NHS number 943 476 5919.")
    assert out == "Call back on [PHONE]. NHS number [NHS_NUMBER]."
