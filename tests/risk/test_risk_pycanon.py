"""k, l (distinct and entropy) and t agree exactly with pyCANON on the same data.

pyCANON (PyPI `pycanon`) pins exact versions of pandas, numpy and typer, so it is installed
without its dependencies (`make venv` does this); these tests are skipped where it is absent.
"""

from __future__ import annotations

import random

import pytest
from tests.risk.conftest import Measure

pd = pytest.importorskip("pandas")
anonymity = pytest.importorskip("pycanon.anonymity")

QI = ["age_band", "sex", "district"]


def pycanon_figures(frame, qi: list[str], sensitive: list[str]) -> tuple[int, int, int, float]:
    return (
        anonymity.k_anonymity(frame, qi),
        anonymity.l_diversity(frame, qi, sensitive),
        anonymity.entropy_l_diversity(frame, qi, sensitive),
        anonymity.t_closeness(frame, qi, sensitive),
    )


def ours(report) -> tuple[int, int, int, float]:
    return report.k, report.l_distinct, report.l_entropy, report.t_closeness


def random_frame(seed: int) -> pd.DataFrame:
    rng = random.Random(seed)
    n = rng.randint(5, 150)
    ages = ["0-17", "18-39", "40-64", "65+", "85+"][: rng.randint(1, 5)]
    districts = [f"LS{i}" for i in range(1, rng.randint(2, 12))]
    codes = ["I21", "J18", "E11", "C34", "F32", "K35", "N39"][: rng.randint(1, 7)]
    spread = rng.choice([1, 3, 12])
    return pd.DataFrame(
        {
            "age_band": [rng.choice(ages) for _ in range(n)],
            "sex": [rng.choice(["1", "2"]) for _ in range(n)],
            "district": [rng.choice(districts) for _ in range(n)],
            "diagnosis": [rng.choice(codes) for _ in range(n)],
            "los": [rng.randint(0, spread) for _ in range(n)],
        }
    )


# pyCANON is slow (seconds for a few hundred rows): a few small random tables per run, each
# with a text attribute, a numerical one, or both (pyCANON's gen=True: smallest l, largest t).
SENSITIVE = (["diagnosis"], ["los"], ["diagnosis", "los"])


@pytest.mark.parametrize("seed", range(9))
def test_random_tables_categorical_and_numerical(measure_rows: Measure, seed: int) -> None:
    frame = random_frame(seed)
    sensitive = SENSITIVE[seed % 3]
    if "los" in sensitive and frame["los"].nunique() == 1:
        frame.loc[0, "los"] = 99  # pyCANON divides by (m - 1) = 0 for a one-valued number
    report = measure_rows(frame, QI, sensitive)
    assert ours(report) == pycanon_figures(frame, QI, sensitive), (seed, sensitive)
    assert report.k == min(r.size for r in report.histogram)


def test_uniform_classes_hit_the_integer_boundary(measure_rows: Measure) -> None:
    """Classes with 2, 3 or 4 equally frequent values: e ** entropy is an integer in exact
    arithmetic, so the entropy l depends on the last bit of the sum - pyCANON's bit."""
    rows = []
    for k, codes in enumerate((["A", "B"], ["A", "B", "C"], ["A", "B", "C", "D"])):
        for code in codes * 3:
            rows.append({"age_band": str(k), "sex": "1", "district": "X", "diagnosis": code})
    frame = pd.DataFrame(rows)
    report = measure_rows(frame, QI, ["diagnosis"])
    assert ours(report) == pycanon_figures(frame, QI, ["diagnosis"])


def test_one_class_and_all_unique(measure_rows: Measure) -> None:
    same = pd.DataFrame(
        {
            "age_band": ["1"] * 6,
            "sex": ["2"] * 6,
            "district": ["Y"] * 6,
            "diagnosis": list("AABBCD"),
        }
    )
    assert ours(measure_rows(same, QI, ["diagnosis"])) == pycanon_figures(same, QI, ["diagnosis"])
    unique = pd.DataFrame(
        {
            "age_band": [str(i) for i in range(8)],
            "sex": ["1"] * 8,
            "district": ["Z"] * 8,
            "diagnosis": list("ABABCCDA"),
        }
    )
    report = measure_rows(unique, QI, ["diagnosis"])
    assert ours(report) == pycanon_figures(unique, QI, ["diagnosis"])
    assert report.k == 1 and report.sample_uniques == 8


def test_a_synthetic_extract(measure_rows: Measure) -> None:
    """Realistic skew: 4 QIs, ICD-10 codes and length of stay."""
    rng = random.Random(7)
    n = 200
    frame = pd.DataFrame(
        {
            "age_band": [
                rng.choices(["0-17", "18-64", "65-84", "85+"], [2, 5, 3, 1])[0] for _ in range(n)
            ],
            "sex": [rng.choice(["1", "2"]) for _ in range(n)],
            "district": [f"M{int(rng.paretovariate(1.5))}" for _ in range(n)],
            "ethnicity": [
                rng.choices(list("ABCDEFGHJKLMNPRSZ"), [30] + [2] * 16)[0] for _ in range(n)
            ],
            "diagnosis": [f"{rng.choice('IJ')}{rng.randint(0, 5):02d}" for _ in range(n)],
            "los": [int(rng.expovariate(0.2)) for _ in range(n)],
        }
    )
    qi = ["age_band", "sex", "district", "ethnicity"]
    report = measure_rows(frame, qi, ["diagnosis"])
    assert ours(report) == pycanon_figures(frame, qi, ["diagnosis"])
