"""Labelled synthetic UK clinical notes: free text with identifiers inserted at known spans.

Used to measure free-text de-identification (governance/freetext.py, bench/freetext_eval.py):
every inserted identifier is recorded with its character span and entity type, in the many
ways people type them (NHS numbers spaced, dashed or run together; postcodes in any case, with
or without the space; phone numbers as 0..., +44, +44 (0), 0044, with brackets, spaces or
dashes; dates numeric and in words; names after titles, after cue words, and bare).

Every figure is made up: NHS numbers are random 9 digits with their Modulus 11 check digit (so
they are valid in form, like any real one, and belong to nobody known); phone numbers sit in
Ofcom's ranges reserved for drama (07700 900xxx, 020 7946 0xxx, 0113 496 0xxx, 0161 496 0xxx,
01632 960xxx); email domains are example.* or nhs.net with made-up local parts. Decoys (10-digit
numbers failing the check digit, blood pressures, doses, ward numbers) are left unlabelled so
that precision is measured too.

The generator is seeded: the same seed gives the same notes.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from healthdq.validators.nhs_number import nhs_number_check_digit

FIRST = [
    "Oliver",
    "George",
    "Harry",
    "Jack",
    "Jacob",
    "Noah",
    "Charlie",
    "Muhammad",
    "Thomas",
    "Oscar",
    "William",
    "James",
    "Leo",
    "Alfie",
    "Henry",
    "Joshua",
    "Freddie",
    "Archie",
    "Ethan",
    "Isaac",
    "Olivia",
    "Amelia",
    "Isla",
    "Ava",
    "Emily",
    "Sophia",
    "Grace",
    "Mia",
    "Poppy",
    "Ella",
    "Lily",
    "Evie",
    "Isabella",
    "Sophie",
    "Ivy",
    "Freya",
    "Harper",
    "Willow",
    "Charlotte",
    "Jessica",
    "Margaret",
    "Susan",
    "Patricia",
    "Barbara",
    "Priya",
    "Aisha",
    "Fatima",
    "Mohammed",
    "Ahmed",
    "Raj",
    "Sanjay",
    "Wei",
    "Chen",
    "Siobhan",
    "Niamh",
    "Sean",
    "Gareth",
    "Rhys",
    "Dylan",
    "Ewan",
    "Callum",
    "Mairi",
]
LAST = [
    "Smith",
    "Jones",
    "Taylor",
    "Brown",
    "Williams",
    "Wilson",
    "Johnson",
    "Davies",
    "Robinson",
    "Wright",
    "Thompson",
    "Evans",
    "Walker",
    "White",
    "Roberts",
    "Green",
    "Hall",
    "Wood",
    "Jackson",
    "Clarke",
    "Patel",
    "Khan",
    "Ali",
    "Ahmed",
    "Singh",
    "Begum",
    "Shah",
    "Hughes",
    "Edwards",
    "Lewis",
    "Harris",
    "Martin",
    "Cooper",
    "King",
    "Lee",
    "Baker",
    "Turner",
    "Hill",
    "Morris",
    "Ward",
    "Moore",
    "O'Neill",
    "McDonald",
    "Campbell",
    "Stewart",
    "Murphy",
    "Kelly",
    "Nowak",
    "Kowalski",
    "Okafor",
    "Mensah",
    "Adeyemi",
    "Smith-Jones",
    "Fitzgerald",
]
TOWNS = [
    "Leeds",
    "Manchester",
    "Birmingham",
    "Bristol",
    "Sheffield",
    "Liverpool",
    "Newcastle",
    "Nottingham",
    "Leicester",
    "Coventry",
    "Bradford",
    "Cardiff",
    "Exeter",
    "Norwich",
    "York",
    "Derby",
    "Plymouth",
    "Reading",
    "Luton",
    "Preston",
    "Hull",
    "Sunderland",
    "Wolverhampton",
    "Swindon",
    "Oxford",
    "Cambridge",
    "Ipswich",
    "Lincoln",
    "Carlisle",
    "Durham",
]
STREETS = [
    "Acacia",
    "Oak",
    "Station",
    "Church",
    "Victoria",
    "Park",
    "Mill",
    "School",
    "Queens",
    "Kings",
    "Green",
    "Manor",
    "Chapel",
    "North",
    "South",
    "Springfield",
    "Windsor",
    "Highfield",
    "Albert",
    "Grange",
    "Beech",
    "Orchard",
    "Meadow",
    "Cedar",
]
STREET_TYPES = [
    "Road",
    "Street",
    "Lane",
    "Avenue",
    "Close",
    "Drive",
    "Way",
    "Crescent",
    "Court",
    "Place",
    "Gardens",
    "Terrace",
    "Grove",
    "Rd",
    "St",
    "Ave",
]
OUTWARD = [
    "LS1",
    "LS6",
    "LS17",
    "M1",
    "M13",
    "M20",
    "B15",
    "B5",
    "BS8",
    "BS1",
    "S10",
    "S1",
    "L3",
    "L18",
    "NE1",
    "NE4",
    "NG7",
    "LE1",
    "CV1",
    "BD7",
    "CF10",
    "CF24",
    "EX2",
    "NR4",
    "YO10",
    "DE22",
    "PL4",
    "RG1",
    "LU1",
    "PR1",
    "HU3",
    "SR1",
    "WV1",
    "SN1",
    "OX3",
    "CB2",
    "IP4",
    "LN1",
    "CA1",
    "DH1",
    "SW1A",
    "W1A",
    "EC1A",
    "E1",
    "N1",
    "SE1",
    "NW3",
    "WC2N",
]
INWARD_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"
MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
# HMRC NIM39110: allowed prefixes (not D F I Q U V; O not second; not BG GB KN NK NT TN ZZ).
NINO_FIRST = "ABCEGHJKLMNOPRSTWXYZ"
NINO_SECOND = "ABCEGHJKLMNPRSTWXYZ"
NINO_BARRED = {"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"}

FILLER = (
    "Presented with a two-day history of chest pain.",
    "BP 132/84, HR 78, sats 97% on air.",
    "Metformin 500 mg BD, continue.",
    "Bloods: Hb 128 g/L, CRP 12, eGFR 64.",
    "Plan: review in 2 weeks in clinic.",
    "No known drug allergies.",
    "Wound clean and dry, dressing changed.",
    "Mobilising with a frame on Ward 7B.",
    "Chest clear, heart sounds normal.",
    "Pain score 3/10 after paracetamol 1 g QDS.",
    "Discussed with the team, happy for discharge.",
    "HbA1c 58 mmol/mol, up from 52.",
    "Referred to physiotherapy.",
    "Bed 12, Bay 3.",
    "Temp 37.8 C, RR 18.",
)


@dataclass
class Span:
    start: int
    end: int
    entity: str


@dataclass
class Note:
    text: str
    spans: list[Span] = field(default_factory=list)


class _Builder:
    def __init__(self) -> None:
        self.parts: list[str] = []
        self.length = 0
        self.spans: list[Span] = []

    def add(self, text: str, entity: str | None = None) -> None:
        if entity is not None:
            self.spans.append(Span(self.length, self.length + len(text), entity))
        self.parts.append(text)
        self.length += len(text)

    def note(self) -> Note:
        return Note("".join(self.parts), self.spans)


class NoteGenerator:
    """Seeded generator of labelled notes; each `note()` has 3-8 sentences."""

    def __init__(self, seed: int = 0) -> None:
        self.r = random.Random(seed)

    # -- entities ---------------------------------------------------------------------------
    def nhs_number(self, valid: bool = True) -> str:
        r = self.r
        while True:
            first9 = str(r.randint(4, 7)) + "".join(str(r.randint(0, 9)) for _ in range(8))
            check = nhs_number_check_digit(first9)
            if valid and check is not None:
                digits = first9 + str(check)
                break
            if not valid:
                wrong = [d for d in range(10) if d != check]
                digits = first9 + str(r.choice(wrong))
                break
        sep = r.choice(["", " ", " ", "-"])
        return f"{digits[:3]}{sep}{digits[3:6]}{sep}{digits[6:]}"

    def postcode(self) -> str:
        r = self.r
        code = (
            r.choice(OUTWARD)
            + r.choice([" ", " ", " ", ""])
            + str(r.randint(0, 9))
            + "".join(r.choice(INWARD_LETTERS) for _ in range(2))
        )
        case = r.random()
        return code.lower() if case < 0.15 else code.title() if case < 0.2 else code

    def phone(self) -> str:
        r = self.r
        kind = r.choice(["mobile", "london", "leeds", "manchester", "drama"])
        sub = f"{r.randint(0, 999):03d}"
        area, local = {
            "mobile": ("7700", f"900{sub}"),
            "london": ("20", f"7946 0{sub}"),
            "leeds": ("113", f"496 0{sub}"),
            "manchester": ("161", f"496 0{sub}"),
            "drama": ("1632", f"960{sub}"),
        }[kind]
        local_digits = local.replace(" ", "")
        style = r.choice(
            ["0sp", "0sp", "0dash", "0none", "paren", "+44", "+44(0)", "+44none", "0044"]
        )
        if style == "0sp":
            return f"0{area} {local}" if " " in local else f"0{area} {local[:3]} {local[3:]}"
        if style == "0dash":
            return f"0{area}-{local_digits[:3]}-{local_digits[3:]}"
        if style == "0none":
            return f"0{area}{local_digits}"
        if style == "paren":
            return f"(0{area}) {local}"
        if style == "+44":
            return f"+44 {area} {local}"
        if style == "+44(0)":
            return f"+44 (0){area} {local}"
        if style == "+44none":
            return f"+44{area}{local_digits}"
        return f"0044 {area} {local}"

    def email(self, first: str, last: str) -> str:
        r = self.r
        f, surname = first.lower(), last.lower().replace("'", "")
        local = r.choice(
            [
                f"{f}.{surname}",
                f"{f[0]}{surname}{r.randint(1, 99)}",
                f"{f}_{surname}",
                f"{surname}{f[0]}",
            ]
        )
        domain = r.choice(["nhs.net", "example.com", "example.co.uk", "example.org.uk"])
        return f"{local}@{domain}"

    def nino(self) -> str:
        r = self.r
        while True:
            prefix = r.choice(NINO_FIRST) + r.choice(NINO_SECOND)
            if prefix not in NINO_BARRED:
                break
        digits = "".join(str(r.randint(0, 9)) for _ in range(6))
        suffix = r.choice("ABCD")
        style = r.random()
        if style < 0.5:
            text = f"{prefix} {digits[:2]} {digits[2:4]} {digits[4:]} {suffix}"
        else:
            text = f"{prefix}{digits}{suffix}"
        return text.lower() if r.random() < 0.1 else text

    def date(self) -> str:
        r = self.r
        y, m, d = r.randint(1930, 2025), r.randint(1, 12), r.randint(1, 28)
        month = MONTHS[m - 1]
        style = r.randint(0, 8)
        ordinal = {1: "st", 2: "nd", 3: "rd", 21: "st", 22: "nd", 23: "rd"}.get(d, "th")
        return [
            f"{d:02d}/{m:02d}/{y}",
            f"{d}/{m}/{y % 100:02d}",
            f"{d:02d}-{m:02d}-{y}",
            f"{d:02d}.{m:02d}.{y}",
            f"{y}-{m:02d}-{d:02d}",
            f"{d} {month} {y}",
            f"{d}{ordinal} {month[:3]} {y}",
            f"{month} {d}, {y}",
            f"{d:02d}-{month[:3]}-{y}",
        ][style]

    def address(self) -> str:
        r = self.r
        street = f"{r.randint(1, 250)} {r.choice(STREETS)} {r.choice(STREET_TYPES)}"
        if r.random() < 0.2:
            street = f"Flat {r.randint(1, 30)}, {street}"
        text = f"{street}, {r.choice(TOWNS)}"
        return text.lower() if r.random() < 0.05 else text

    # -- sentences --------------------------------------------------------------------------
    def _name_sentence(self, b: _Builder) -> None:
        r = self.r
        first, last = r.choice(FIRST), r.choice(LAST)
        style = r.randint(0, 9)
        if style == 0:
            b.add(r.choice(["Mr ", "Mrs ", "Ms ", "Miss "]))
            b.add(f"{first} {last}", "NAME")
            b.add(" attended clinic today.")
        elif style == 1:
            b.add("Seen by Dr ")
            b.add(last, "NAME")
            b.add(", registrar.")
        elif style == 2:
            b.add("Patient: ")
            b.add(f"{last.upper()}, {first}", "NAME")
            b.add(".")
        elif style == 3:
            b.add(r.choice(["Wife ", "Daughter ", "Son ", "Husband ", "Partner "]))
            b.add(first, "NAME")
            b.add(" present for the consultation.")
        elif style == 4:
            b.add("Discussed with ")
            b.add(f"{first} {last}", "NAME")
            b.add(" (next of kin).")
        elif style == 5:
            b.add("GP: Dr ")
            b.add(f"{first[0]}. {last}", "NAME")
            b.add(".")
        elif style == 6:
            # No cue at all: a bare name starting a sentence.
            b.add(first, "NAME")
            b.add(" rang the ward asking for an update.")
        elif style == 7:
            b.add("Signed: ")
            b.add(f"{first} {last}", "NAME")
            b.add(", staff nurse.")
        elif style == 8:
            b.add("Mr ")
            b.add(last, "NAME")
            b.add(" was reviewed on the ward round.")
        else:
            b.add("Letter copied to ")
            b.add(f"{first} {last}", "NAME")
            b.add(".")

    def note(self) -> Note:
        r = self.r
        b = _Builder()
        first, last = r.choice(FIRST), r.choice(LAST)
        kinds = ["nhs", "postcode", "phone", "email", "nino", "date", "address", "name", "decoy"]
        chosen = r.sample(kinds, r.randint(3, 6))
        for i, kind in enumerate(chosen):
            if i:
                b.add(" ")
            if r.random() < 0.5:
                b.add(r.choice(FILLER) + " ")
            if kind == "nhs":
                b.add(r.choice(["NHS number ", "NHS no. ", "NHS: ", "nhs no ", "Patient ID "]))
                b.add(self.nhs_number(), "NHS_NUMBER")
                b.add(".")
            elif kind == "postcode":
                b.add(r.choice(["Postcode ", "Lives in ", "Moved to "]))
                b.add(self.postcode(), "POSTCODE")
                b.add(r.choice([".", " area.", " last year."]))
            elif kind == "phone":
                b.add(r.choice(["Tel ", "Contact number: ", "Call back on ", "Mobile "]))
                b.add(self.phone(), "PHONE")
                b.add(".")
            elif kind == "email":
                b.add(r.choice(["Email ", "Results sent to ", "Contact: "]))
                b.add(self.email(first, last), "EMAIL")
                b.add(".")
            elif kind == "nino":
                b.add(r.choice(["NI number ", "NINO: ", "National Insurance no "]))
                b.add(self.nino(), "NI_NUMBER")
                b.add(".")
            elif kind == "date":
                b.add(r.choice(["DOB ", "Admitted ", "Seen on ", "Next review "]))
                b.add(self.date(), "DATE")
                b.add(".")
            elif kind == "address":
                b.add(r.choice(["Lives at ", "Address: ", "Home address "]))
                b.add(self.address(), "ADDRESS")
                if r.random() < 0.5:
                    b.add(" ")
                    b.add(self.postcode(), "POSTCODE")
                b.add(".")
            elif kind == "name":
                self._name_sentence(b)
            else:
                b.add(r.choice(["Lab ref ", "Sample number ", "Order "]))
                b.add(self.nhs_number(valid=False).replace(" ", "").replace("-", ""))
                b.add(r.choice([".", " sent to micro."]))
        return b.note()


def labelled_notes(n: int, seed: int = 0) -> list[Note]:
    """`n` labelled notes from `seed`."""
    gen = NoteGenerator(seed)
    return [gen.note() for _ in range(n)]
