"""GB telephone numbers by format, for the Presidio path (governance/presidio.py).

Presidio's own phone recogniser keeps only numbers that libphonenumber calls *valid*, i.e.
inside ranges its metadata lists as allocated; that rejects well-formed numbers in ranges it does
not list, among them Ofcom's ranges reserved for drama (07700 900xxx, 01632 960xxx), which our
synthetic notes use (synth/notes.py). This recogniser finds GB numbers by their *form*:

- a prefix: the trunk 0 (`0`, `(0`), or the country code written `+44` or `0044`, optionally
  followed by `(0)` (a common misuse Ofcom advises against, but written);
- then the national significant number (NSN: the digits after the 0 or 44), in groups separated
  by single spaces or dashes, the area code optionally in brackets;
- the NSN must have a length the UK numbering plan uses for its first digit (NSN_LENGTHS).

Precision (blood pressures, doses, lab values, dates, lab references): the number must start
with a 0 or a country code, so "132/84", "Hb 128", "4857773456" and "01/02/2024" are never
candidates. A bare run of digits with no separator and no country code ("07700900123") looks
like any other reference number, so it is taken only with a phone word shortly before it
(CONTEXT_WORDS, within CONTEXT_CHARS characters): "Tel 07700900123", not "Sample 01134960123".

Sources: Ofcom, National Telephone Numbering Plan (number ranges 01/02 geographic, 03
non-geographic at geographic rates, 05 corporate and VoIP, 07 mobile, personal and paging, 08
freephone and special services, 09 premium rate; 04 and 06 not in use); NSN lengths as Ofcom's
number formats give them (10 digits; 9 for some 01 area codes and for 0800/0500 freephone).
The drama ranges are those Ofcom reserves for use in TV and radio drama.
"""

from __future__ import annotations

import re
from typing import Any

# First digit of the NSN -> the NSN lengths in use (04 and 06 are not allocated).
NSN_LENGTHS: dict[str, tuple[int, ...]] = {
    "1": (10, 9),
    "2": (10,),
    "3": (10,),
    "5": (10, 9),
    "7": (10,),
    "8": (10, 9),
    "9": (10,),
}
# 9-digit NSNs outside 01: freephone 0800 xxxxxx and the former 0500 xxxxxx.
NSN_SHORT_PREFIXES = ("800", "500")
CONTEXT_WORDS = (
    "phone",
    "telephone",
    "tel",
    "mobile",
    "mob",
    "landline",
    "contact",
    "call",
    "called",
    "ring",
    "rang",
    "fax",
    "text",
    "sms",
    "whatsapp",
)
CONTEXT_CHARS = 40

_PREFIX = r"(?:(?:\+|\b00)44[ -]?(?:\(0\)[ -]?)?|\(0|\b0)"
# The NSN after the prefix: 7-10 digits, single separators, an optional closing bracket.
PATTERN = _PREFIX + r"[1-9](?:[ -]?\)?[ -]?[0-9]){6,9}(?![0-9])"
_CONTEXT = re.compile(r"\b(?:" + "|".join(CONTEXT_WORDS) + r")\b", re.IGNORECASE)


def nsn(text: str) -> str:
    """The national significant number of a candidate: its digits after 0044/+44, (0) or 0."""
    digits = re.sub(r"[^0-9]", "", text)
    stripped = text.lstrip()
    if stripped.startswith("+44"):
        digits = digits[2:]
    elif stripped.startswith("0044"):
        digits = digits[4:]
    return digits[1:] if digits.startswith("0") else digits


def plausible(text: str) -> bool:
    """The NSN has a length the numbering plan uses for its first digit."""
    number = nsn(text)
    lengths = NSN_LENGTHS.get(number[:1], ())
    if len(number) not in lengths:
        return False
    return len(number) == 10 or number[0] == "1" or number.startswith(NSN_SHORT_PREFIXES)


def needs_context(text: str) -> bool:
    """A bare run of digits (no separator, bracket or country code) is taken only in context."""
    return re.fullmatch(r"0[0-9]+", text.strip()) is not None


def has_context(full_text: str, start: int) -> bool:
    """A phone word within CONTEXT_CHARS characters before `start`."""
    return _CONTEXT.search(full_text, max(0, start - CONTEXT_CHARS), start) is not None


def recognizer(score: float = 0.7) -> Any:
    """A Presidio PatternRecognizer (entity PHONE_NUMBER) for GB numbers by format."""
    from presidio_analyzer import Pattern, PatternRecognizer

    class UkPhoneRecognizer(PatternRecognizer):
        def __init__(self) -> None:
            super().__init__(
                supported_entity="PHONE_NUMBER",
                name="UkPhoneRecognizer",
                patterns=[Pattern("GB phone number", PATTERN, score)],
                context=list(CONTEXT_WORDS),
                supported_language="en",
            )

        def invalidate_result(self, pattern_text: str) -> bool:
            return not plausible(pattern_text)

        def analyze(
            self,
            text: str,
            entities: list[str],
            nlp_artifacts: Any = None,
            regex_flags: int | None = None,
        ) -> Any:
            results = super().analyze(text, entities, nlp_artifacts, regex_flags)
            return [
                r
                for r in results
                if not needs_context(text[r.start : r.end]) or has_context(text, r.start)
            ]

    return UkPhoneRecognizer()
