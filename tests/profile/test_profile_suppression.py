"""`profile --identifiable`: small-number suppression of what a profile publishes.

A value held by fewer rows than the policy's threshold is not listed among the most frequent
values; per-placeholder counts are suppressed with secondary suppression; round5 rounds counts.
Without the flag nothing changes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

Cli = Callable[..., tuple[int, str, str]]
Write = Callable[[str, str | bytes], Path]

# ward: A x20, B x9, C x2 (rare); site: a code and the GP practice placeholders V81998 (30
# rows) and V81999 (1 row).
ROWS = (
    [("A", "RXX01")] * 20
    + [("B", "RXX01")] * 9
    + [("C", "RXX01")] * 2
    + [("A", "V81998")] * 30
    + [("B", "V81999")]
)
CSV = "ward,site\n" + "".join(f"{w},{s}\n" for w, s in ROWS)


def _profile(cli: Cli, write: Write, tmp_path: Path, *args: str) -> dict:
    data = write("d.csv", CSV)
    out = tmp_path / "p.json"
    code, _, err = cli("profile", data, "--json", out, *args)
    assert code == 0, err
    return dict(json.loads(out.read_text()))


def _col(prof: dict, name: str) -> dict:
    return next(c for c in prof["columns"] if c["name"] == name)


def test_without_the_flag_every_value_is_listed(cli: Cli, write: Write, tmp_path: Path) -> None:
    prof = _profile(cli, write, tmp_path)
    assert set(_col(prof, "ward")["top_values"]) == {"A", "B", "C"}
    assert prof["suppression"] is None


def test_hes_hides_values_of_fewer_than_8_rows(cli: Cli, write: Write, tmp_path: Path) -> None:
    prof = _profile(cli, write, tmp_path, "--identifiable")
    ward = _col(prof, "ward")
    # C (2 rows) is not listed; B has 10 rows (9 + 1) and stays.
    assert ward["top_values"] == ["A", "B"] and ward["all_values_seen"] is False
    assert prof["suppression"] == "hes"
    # The extremes too: ward's max is C (2 rows); its min A (50 rows) stays.
    assert ward["max"] is None and ward["min"] == "A"
    # C and V81999 as frequent values, and as the maxima of ward and site.
    assert any(
        "4 values (most frequent, min, max) held by fewer than 8 rows" in w
        for w in prof["warnings"]
    )
    site = _col(prof, "site")
    # V81999 (1 row) is not listed, and its count is hidden. It is the only small cell and the
    # column total (31) is published, so the other count (30) is hidden too (secondary).
    # Which placeholder codes occur stays: they are codes for "unknown", not people.
    assert "V81999" not in site["top_values"] and site["max"] is None
    assert site["placeholders"] == {} and site["placeholder_rows"] == 31
    assert site["placeholder_values"] == ["V81998", "V81999"]


def test_placeholder_counts_without_the_flag(cli: Cli, write: Write, tmp_path: Path) -> None:
    site = _col(_profile(cli, write, tmp_path), "site")
    assert site["placeholders"] == {"V81998": 30, "V81999": 1}


def test_threshold_policy(cli: Cli, write: Write, tmp_path: Path) -> None:
    prof = _profile(cli, write, tmp_path, "--identifiable", "--suppression", "threshold:11")
    # B has 10 rows: below 11, hidden too.
    assert _col(prof, "ward")["top_values"] == ["A"]


def test_round5_rounds_counts(cli: Cli, write: Write, tmp_path: Path) -> None:
    prof = _profile(cli, write, tmp_path, "--identifiable", "--suppression", "round5")
    assert prof["rows"] == 60  # 62 rounded to the nearest 5
    ward = _col(prof, "ward")
    assert ward["count"] % 5 == 0
    assert "C" not in ward["top_values"]  # 2 rows round to 0


def test_bad_policy_is_one_line(cli: Cli, write: Write, tmp_path: Path) -> None:
    data = write("d.csv", CSV)
    code, _, err = cli("profile", data, "--identifiable", "--suppression", "nope")
    assert code == 2 and "suppression policy 'nope'" in err
    assert len(err.strip().splitlines()) == 1
