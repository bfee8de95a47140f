"""Small two-table extracts with known patients for the pseudonymisation and opt-out tests."""

from __future__ import annotations

from pathlib import Path

from healthdq.validators.nhs_number import nhs_number_check_digit

KEY_TEXT = "PSEUDO-KEY-never-in-output-0123456789abcdef"
OTHER_KEY_TEXT = "ANOTHER-project-key-fedcba9876543210-xyz"


def nhs(i: int) -> str:
    """The i-th valid NHS number above 400 000 000 0 (check digit 10 skipped)."""
    n = 400_000_000 + i
    while nhs_number_check_digit(str(n)) is None:
        n += 1
    return f"{n}{nhs_number_check_digit(str(n))}"


def valid_numbers(count: int) -> list[str]:
    out: list[str] = []
    i = 0
    while len(out) < count:
        value = nhs(i)
        if value not in out:
            out.append(value)
        i += 1
    return out


PATIENTS = valid_numbers(12)
POSTCODES = ["LS1 4AP", "SW1A 1AA", "m1 1ae", "B33 8TH", "CR2 6XH", "DN55 1PT", "ZZ99 3VZ"]
APC_HEADER = (
    "episode_id,nhs_number,date_of_birth,sex,postcode,admission_date,discharge_date,los,notes"
)


def spaced(number: str) -> str:
    return f"{number[:3]} {number[3:6]} {number[6:]}"


def apc_csv() -> str:
    rows = [APC_HEADER]
    for i, p in enumerate(PATIENTS):
        shown = spaced(p) if i % 3 == 1 else (f"{p[:3]}-{p[3:6]}-{p[6:]}" if i % 3 == 2 else p)
        rows.append(
            f"E{i:04d},{shown},19{50 + i}-0{1 + i % 9}-1{i % 10},{1 + i % 2},"
            f"{POSTCODES[i % len(POSTCODES)]},2024-0{1 + i % 9}-0{1 + i % 9},"
            f"2024-0{1 + i % 9}-2{i % 10},{i * 7},"
            f"Seen by Dr Who; call 07700 900{i:03d} or mail p{i}@example.nhs.uk re {spaced(p)}"
        )
    rows.append("E9999,,1980-01-01,1,LS1 4AP,2024-02-02,2024-02-03,2,no number")
    return "\n".join(rows) + "\n"


def ae_csv() -> str:
    rows = ["attendance_id,nhs_number,arrival_date"]
    for i, p in enumerate(PATIENTS[:8]):
        rows.append(f"A{i:04d},{p},2024-0{1 + i % 9}-0{1 + i % 9}")
    return "\n".join(rows) + "\n"


CONFIG = """\
patient: nhs_number
reference_date: 2025-03-31
columns:
  episode_id: token
  attendance_id: token
  nhs_number: token
  date_of_birth: age_band
  sex: keep
  postcode: postcode_district
  admission_date: date_shift
  arrival_date: date_shift
  discharge_date: month
  los: top_code:40
  notes: redact_text
"""


def write_dataset(folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    apc = folder / "apc.csv"
    apc.write_text(apc_csv(), encoding="utf-8")
    ae = folder / "ae.csv"
    ae.write_text(ae_csv(), encoding="utf-8")
    config = folder / "pseudo.yaml"
    config.write_text(CONFIG, encoding="utf-8")
    key = folder / "project.key"
    key.write_text(KEY_TEXT + "\n", encoding="utf-8")
    key.chmod(0o600)
    other = folder / "other.key"
    other.write_text(OTHER_KEY_TEXT, encoding="utf-8")
    other.chmod(0o600)
    return {"apc": apc, "ae": ae, "config": config, "key": key, "other": other}
