"""Reference data for synthetic extracts: organisations, places, code lists and their weights.

Every list here holds only values that are VALID under the NHS Data Dictionary lists the
validators use, so the generator never makes an accidental defect: defects are injected
separately (see ``spec.py``) at exact, documented rates. Weights are integers out of a fixed
total (1000 or 10000) so a weighted draw is a lookup in a repeated list or a CASE on thresholds.
"""

from __future__ import annotations

from dataclasses import dataclass

from healthdq.validators.sctid import verhoeff_valid

# Financial year the events fall in (HES counts activity by financial year).
FY_START = "2024-04-01"
FY_DAYS = 365  # 2024-04-01 .. 2025-03-31


@dataclass(frozen=True)
class Provider:
    """An NHS trust: its ODS code, site count, nearby GP practice prefix and postcode districts."""

    code: str
    name: str
    sites: int
    gp_prefix: str  # letter + 2 digits; practices are prefix + 3 digits
    districts: tuple[str, ...]  # postcode outward codes near the trust
    weight: int  # share of activity (out of 1000) for adults; skewed like real trust sizes
    prone: int  # share (out of 1000) of the rows that carry a defect: some trusts submit worse


# code, sites, GP prefix, adult weight, prone weight, postcode districts | trust name.
# The children's trust RBS (weight 0) is only ever chosen for patients under 18.
_PROVIDER_TABLE = """
R0A 4 P84 140  60 M13 M14 M20 M23      | Manchester University NHS FT
RR8 4 B86 120  40 LS1 LS6 LS7 LS9 LS17 | Leeds Teaching Hospitals NHS Trust
RJ1 3 G85 100  40 SE1 SE11 SE5 SW9     | Guy's and St Thomas' NHS FT
RTH 4 K84  90  30 OX1 OX3 OX4 OX2      | Oxford University Hospitals NHS FT
RX1 3 C84  90  60 NG7 NG5 NG3 NG1      | Nottingham University Hospitals NHS Trust
RWE 3 C82  80 250 LE1 LE5 LE3 LE2      | University Hospitals of Leicester NHS Trust
RYJ 3 E85  70  40 W2 W12 W6 NW10       | Imperial College Healthcare NHS Trust
RTD 3 A86  70  30 NE1 NE4 NE7 NE6      | The Newcastle upon Tyne Hospitals NHS FT
RGT 2 D81  50  30 CB2 CB1 CB4          | Cambridge University Hospitals NHS FT
RAL 3 E83  50  40 NW3 NW5 N19 EN5      | Royal Free London NHS FT
RRV 3 F83  40  30 NW1 WC1E N7 EC1A     | University College London Hospitals NHS FT
RA7 3 L81  40 150 BS2 BS1 BS5 BS8      | University Hospitals Bristol and Weston NHS FT
RM1 2 D82  30 150 NR4 NR2 NR1          | Norfolk and Norwich University Hospitals NHS FT
RQM 2 E87  30  50 SW10 SW3 SW6 SW1A    | Chelsea and Westminster Hospital NHS FT
RBS 1 N82   0   0 L12 L13 L14          | Alder Hey Children's NHS FT
"""


def _providers() -> tuple[Provider, ...]:
    out = []
    for line in _PROVIDER_TABLE.strip().splitlines():
        fields, name = line.split("|")
        code, sites, gp, weight, prone, *districts = fields.split()
        out.append(
            Provider(code, name.strip(), int(sites), gp, tuple(districts), int(weight), int(prone))
        )
    return tuple(out)


PROVIDERS = _providers()
CHILDRENS_PROVIDER = len(PROVIDERS)  # 1-based index of RBS

# Inward code letters: the last two characters of a postcode never use C I K M O V.
INWARD_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"

# Age bands (lowest age, highest age inclusive) and their share of activity out of 1000 per kind.
# Shapes follow NHS Digital's Hospital Episode Statistics by age: APC and OP lean elderly,
# A&E leans to young adults and children.
AGE_BANDS: tuple[tuple[int, int], ...] = (
    (0, 0), (1, 4), (5, 11), (12, 17), (18, 29), (30, 39),
    (40, 49), (50, 59), (60, 69), (70, 79), (80, 89), (90, 94), (95, 102),
)  # fmt: skip
CHILD_BANDS = 4  # bands 0..3 are under 18
ELDERLY_BAND = 9  # bands 9.. are 70 and over
AGE_WEIGHTS: dict[str, tuple[int, ...]] = {
    "apc": (40, 20, 20, 20, 80, 95, 90, 125, 150, 180, 140, 32, 8),
    "ae": (40, 70, 65, 65, 170, 130, 105, 100, 80, 80, 70, 20, 5),
    "op": (15, 25, 35, 35, 80, 95, 100, 140, 165, 180, 105, 20, 5),
}

# Ethnic category (NHS Data Dictionary ETHNIC CATEGORY) out of 10000. Proportions are the
# England and Wales population by ethnic group, ONS Census 2021 table TS021 (released
# 29 November 2022), scaled to leave 2% 'Z' (not stated). 'White: Gypsy or Irish Traveller' and
# 'White: Roma' fall in C; 'Other: Arab' falls in S. '99' (not known) is never drawn here:
# it is the injected ``ethnic_not_known`` defect, so its count is exact.
ETHNIC_WEIGHTS: tuple[tuple[str, int], ...] = (
    ("A", 7281), ("B", 88), ("C", 637), ("D", 88), ("E", 39), ("F", 78), ("G", 78),
    ("H", 304), ("J", 265), ("K", 108), ("L", 157), ("M", 98), ("N", 245), ("P", 49),
    ("R", 69), ("S", 216), ("Z", 200),
)  # fmt: skip

# ICD-10 codes as HES stores them: 4 characters, no dot, X filler for 3-character codes (plus
# one 5-character code, S7200). Sex-neutral on purpose so no diagnosis/sex rule fires by accident.
# Weight (out of 1000) applies to the primary diagnosis.
ICD10: tuple[tuple[str, int], ...] = (
    ("R69X", 25), ("I10X", 10), ("J189", 55), ("K358", 15), ("N390", 40), ("I489", 25),
    ("E119", 15), ("J440", 25), ("S7200", 20), ("I209", 20), ("I214", 20), ("I500", 25),
    ("I639", 20), ("J181", 10), ("J449", 25), ("J459", 15), ("A099", 20), ("A419", 25),
    ("K529", 15), ("K590", 15), ("K802", 25), ("K819", 10), ("K921", 10), ("N179", 20),
    ("N189", 15), ("R072", 20), ("R074", 40), ("R104", 40), ("R55X", 25), ("R51X", 15),
    ("R11X", 15), ("R060", 20), ("R509", 15), ("C349", 20), ("C189", 20), ("Z511", 60),
    ("F329", 10), ("F419", 10), ("G409", 15), ("M545", 25), ("M179", 25), ("L031", 25),
    ("D649", 20), ("E871", 15), ("H269", 30), ("K219", 15),
)  # fmt: skip

# OPCS-4 procedure codes: letter + 3 digits, sex-neutral. Weight applies to the first procedure;
# approach/laterality/imaging codes (Y, Z, Y98) only ever follow it, as in HES.
OPCS4: tuple[tuple[str, int], ...] = (
    ("W401", 55), ("H011", 30), ("K401", 15), ("Y534", 0), ("Z942", 0), ("C751", 160),
    ("W371", 55), ("H221", 110), ("G451", 140), ("T201", 30), ("J183", 30), ("U051", 80),
    ("X292", 80), ("E852", 20), ("Y981", 0), ("Z943", 0), ("A521", 20), ("C712", 20),
    ("H251", 40), ("X352", 60), ("S062", 30), ("W901", 25),
)  # fmt: skip

# SNOMED CT concept ids (findings) used as ECDS chief complaints; weight out of 1000.
# Every id passes the Verhoeff check and has partition '00' (concept); checked at import.
CHIEF_COMPLAINTS: tuple[tuple[str, int], ...] = (
    ("21522001", 120),  # abdominal pain
    ("29857009", 100),  # chest pain
    ("267036007", 80),  # dyspnoea
    ("25064002", 50),  # headache
    ("22253000", 60),  # pain
    ("161891005", 40),  # backache
    ("386661006", 70),  # fever
    ("422587007", 20),  # nausea
    ("422400008", 50),  # vomiting
    ("62315008", 30),  # diarrhoea
    ("49727002", 40),  # cough
    ("404640003", 40),  # dizziness
    ("271594007", 30),  # syncope
    ("91175000", 25),  # seizure
    ("271807003", 30),  # rash
    ("418290006", 10),  # itching
    ("162397003", 25),  # pain in throat
    ("84229001", 20),  # fatigue
    ("267038008", 15),  # oedema
    ("302866003", 10),  # hypoglycaemia
    ("248062006", 40),  # self-injurious behaviour
    ("367391008", 95),  # malaise
)
# SNOMED CT concept ids (disorders) used as ECDS primary diagnoses; drawn uniformly.
AE_DIAGNOSES: tuple[str, ...] = (
    "22298006",  # myocardial infarction
    "125605004",  # fracture of bone
    "233604007",  # pneumonia
    "68566005",  # urinary tract infection
    "195967001",  # asthma
    "13645005",  # COPD
    "230690007",  # cerebrovascular accident
    "44054006",  # type 2 diabetes mellitus
    "38341003",  # hypertensive disorder
    "49436004",  # atrial fibrillation
    "74400008",  # appendicitis
    "128045006",  # cellulitis
    "71620000",  # fracture of femur
    "44465007",  # sprain of ankle
    "35489007",  # depressive disorder
    "197480006",  # anxiety disorder
    "82272006",  # common cold
    "10509002",  # acute bronchitis
    "36971009",  # sinusitis
    "125667009",  # contusion
    "271737000",  # anaemia
    "80394007",  # hyperglycaemia
)

# Admitted patient care: ADMISSION METHOD out of 1000 for ordinary draws. Maternity (31, 32)
# and birth (82, 83) methods are assigned by patient age/sex in the generator instead. No 28
# (replaced by 2A-2D): a clean extract has no legacy code; its share went to 2D.
ADMISSION_METHODS: tuple[tuple[str, int], ...] = (
    ("11", 220), ("12", 200), ("13", 60), ("21", 330), ("22", 45), ("23", 5), ("24", 25),
    ("25", 5), ("2A", 12), ("2B", 12), ("2C", 6), ("2D", 50), ("81", 30),
)  # fmt: skip
ADMISSION_SOURCE_EMERGENCY: tuple[tuple[str, int], ...] = (
    ("19", 880), ("29", 40), ("51", 30), ("54", 25), ("65", 10), ("85", 5), ("87", 10),
)  # fmt: skip
DISCHARGE_DESTINATIONS: tuple[tuple[str, int], ...] = (
    ("19", 900), ("29", 20), ("51", 30), ("54", 30), ("65", 10), ("66", 5), ("48", 5),
)  # fmt: skip
# TREATMENT FUNCTION CODE out of 1000 for adults (paediatrics/geriatrics/obstetrics by rule).
TFC_APC: tuple[tuple[str, int], ...] = (
    ("100", 150), ("101", 60), ("110", 120), ("120", 50), ("130", 70), ("140", 20),
    ("150", 15), ("160", 25), ("170", 15), ("300", 205), ("301", 70), ("320", 80),
    ("330", 10), ("340", 60), ("400", 25), ("410", 15), ("650", 10),
)  # fmt: skip
TFC_OP: tuple[tuple[str, int], ...] = (
    ("100", 90), ("101", 60), ("110", 130), ("120", 60), ("130", 110), ("140", 30),
    ("150", 10), ("160", 25), ("170", 10), ("300", 70), ("301", 60), ("320", 90),
    ("330", 60), ("340", 40), ("400", 40), ("410", 40), ("650", 75),
)  # fmt: skip

# Length of stay buckets (first day, last day, weight out of 1000) for emergency admissions:
# a quarter leave the same day, a long thin tail stays weeks.
LOS_EMERGENCY: tuple[tuple[int, int, int], ...] = (
    (0, 0, 250), (1, 2, 300), (3, 7, 250), (8, 21, 150), (22, 60, 50),
)  # fmt: skip

# A&E arrival hour out of 1000: quiet overnight, busy late morning to evening.
AE_ARRIVAL_HOUR: tuple[int, ...] = (
    20, 15, 12, 10, 9, 10, 15, 25, 40, 60, 66, 68,
    66, 64, 62, 61, 60, 60, 58, 55, 50, 44, 36, 34,
)  # fmt: skip
# A&E time in department (minutes, first, last, weight out of 1000): most within 4 hours.
AE_DURATION: tuple[tuple[int, int, int], ...] = (
    (15, 60, 150), (61, 120, 200), (121, 240, 370), (241, 480, 180), (481, 720, 60),
    (721, 1440, 40),
)  # fmt: skip
AE_CATEGORY: tuple[tuple[str, int], ...] = (("1", 920), ("2", 30), ("3", 50))
AE_DISPOSAL: tuple[tuple[str, int], ...] = (
    ("01", 270), ("02", 180), ("03", 330), ("04", 40), ("05", 25), ("06", 30), ("07", 12),
    ("10", 2), ("11", 40), ("12", 45), ("13", 16), ("14", 10),
)  # fmt: skip

# Outpatients: ATTENDED OR DID NOT ATTEND and FIRST ATTENDANCE out of 1000.
OP_ATTENDANCE_STATUS: tuple[tuple[str, int], ...] = (
    ("5", 800), ("6", 30), ("7", 5), ("2", 60), ("3", 70), ("4", 30), ("0", 5),
)  # fmt: skip
OP_FIRST_ATTENDANCE: tuple[tuple[str, int], ...] = (
    ("1", 250), ("2", 500), ("3", 50), ("4", 180), ("5", 20),
)  # fmt: skip
# Referral to appointment wait (days, first, last, weight out of 1000).
OP_WAIT: tuple[tuple[int, int, int], ...] = (
    (0, 13, 150), (14, 41, 300), (42, 90, 300), (91, 180, 200), (181, 365, 50),
)  # fmt: skip


# --- check digits -------------------------------------------------------------------------------
# The Verhoeff check itself lives with the SCTID validator (one implementation in the project).


def verhoeff_corrupt(sctid: str, k: int) -> str:
    """The id with its check digit shifted by k (1..9): a single-digit change always fails."""
    last = int(sctid[-1])
    return sctid[:-1] + str((last + k) % 10)


def _check() -> None:
    # Fail at import, not in a 10M-row file, if a list drifts away from its own rules.
    for sctid in [c for c, _ in CHIEF_COMPLAINTS] + list(AE_DIAGNOSES):
        assert verhoeff_valid(sctid) and sctid[-3:-1] == "00", sctid
    for name, table, total in (
        ("ethnic", ETHNIC_WEIGHTS, 10000),
        ("icd10", ICD10, 1000),
        ("opcs4", OPCS4, 1000),
        ("complaints", CHIEF_COMPLAINTS, 1000),
        ("admission_method", ADMISSION_METHODS, 1000),
        ("admission_source", ADMISSION_SOURCE_EMERGENCY, 1000),
        ("discharge_destination", DISCHARGE_DESTINATIONS, 1000),
        ("tfc_apc", TFC_APC, 1000),
        ("tfc_op", TFC_OP, 1000),
        ("ae_category", AE_CATEGORY, 1000),
        ("ae_disposal", AE_DISPOSAL, 1000),
        ("op_status", OP_ATTENDANCE_STATUS, 1000),
        ("op_first", OP_FIRST_ATTENDANCE, 1000),
    ):
        got = sum(w for _, w in table)
        assert got == total, f"{name} weights sum to {got}, not {total}"
    for buckets in (LOS_EMERGENCY, AE_DURATION, OP_WAIT):
        assert sum(w for _, _, w in buckets) == 1000
    assert sum(AE_ARRIVAL_HOUR) == 1000 and len(AE_ARRIVAL_HOUR) == 24
    for kind, weights in AGE_WEIGHTS.items():
        assert sum(weights) == 1000 and len(weights) == len(AGE_BANDS), kind
    assert sum(p.weight for p in PROVIDERS) == 1000
    assert sum(p.prone for p in PROVIDERS) == 1000
    assert PROVIDERS[CHILDRENS_PROVIDER - 1].code == "RBS"


_check()
