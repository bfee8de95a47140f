"""Re-identification risks and population uniqueness on small examples worked by hand.

Each expected figure is derived in the comments from the published formula (docs/risk.md cites
them); the code under test never sees the derivation.
"""

from __future__ import annotations

import math

import pytest
from tests.risk.conftest import Measure

from healthdq.governance import uniqueness as u
from healthdq.governance.risk import population_risk, prosecutor_risk, suppress

# Classes of sizes 1, 1, 2, 5, 5: n = 1 + 1 + 2 + 5 + 5 = 14 records, J = 5 classes.
SIZES = {1: 2, 2: 1, 5: 2}


def test_prosecutor_journalist_marketer_by_hand(measure_rows: Measure) -> None:
    rows = (
        [{"a": "x", "b": "1"}, {"a": "y", "b": "1"}]  # two classes of 1
        + [{"a": "z", "b": "1"}] * 2  # one class of 2
        + [{"a": "x", "b": "2"}] * 5
        + [{"a": "y", "b": "2"}] * 5  # two classes of 5
    )
    report = measure_rows(rows, ["a", "b"], threshold=0.2)
    assert report.rows == 14 and report.classes == 5 and report.k == 1
    # At risk: classes whose 1/size > 0.2, i.e. size < 5: 1 + 1 + 2 = 4 records = 28.571...%.
    assert report.prosecutor.records_at_risk == 4
    assert report.prosecutor.records_at_risk_pct == pytest.approx(100 * 4 / 14)
    # Highest: 1 / smallest class = 1; average: J / n = 5 / 14.
    assert report.prosecutor.highest == 1.0
    assert report.prosecutor.average == pytest.approx(5 / 14)
    # No population table: journalist = prosecutor (an upper bound); marketer = J / n.
    assert report.journalist == report.prosecutor
    assert report.marketer == pytest.approx(5 / 14)
    # Sample uniques: the two classes of one record, 2 / 14.
    assert report.sample_uniques == 2
    assert report.sample_uniques_pct == pytest.approx(100 * 2 / 14)
    assert [(r.size, r.classes, r.records) for r in report.histogram] == [
        (1, 2, 2),
        (2, 1, 2),
        (5, 2, 10),
    ]


def test_threshold_is_strict() -> None:
    # Threshold 0.5: 1/1 > 0.5 at risk, 1/2 = 0.5 is not above it, 1/5 not: 2 records.
    assert prosecutor_risk(SIZES, 0.5).records_at_risk == 2
    # Threshold 1: nothing is above 1.
    assert prosecutor_risk(SIZES, 1.0).records_at_risk == 0


def test_zayatz_by_hand() -> None:
    # s_1 = 2, s_2 = 1: n = 4, u = 3; N = 8 (pi = 1/2).
    # P(f=1|F=1) = hypergeometric(N=8, K=1, n=4) at 1 = 1 * C(7,3) / C(8,4) = 35/70 = 1/2
    # P(f=1|F=2) = 2 * C(6,3) / C(8,4) = 40/70 = 4/7
    # P(F=1|f=1) = (2/3 * 1/2) / (2/3 * 1/2 + 1/3 * 4/7) = (1/3) / (11/21) = 7/11
    # uniques = s_1 * 7/11 * N / n = 2 * 7/11 * 2 = 28/11
    sizes = {1: 2, 2: 1}
    assert u.hypergeometric_one(8, 1, 4) == pytest.approx(0.5)
    assert u.hypergeometric_one(8, 2, 4) == pytest.approx(4 / 7)
    assert u.zayatz(sizes, 8) == pytest.approx(28 / 11)


def test_shlosser_classes_by_hand() -> None:
    # Haas-Stokes D_Sh3 for s_1 = 2, s_2 = 1, q = 1/2:
    #   a = sum j q^2 (1-q^2)^(j-1) s_j = 1*.25*1*2 + 2*.25*.75*1 = 0.875
    #   b = sum (1-q)^j ((1+q)^j - 1) s_j = .5*.5*2 + .25*1.25*1 = 0.8125
    #   c = sum (1-q)^j s_j = .5*2 + .25 = 1.25 ; d = sum j q (1-q)^(j-1) s_j = 1 + .5 = 1.5
    #   K = u + s_1 (a/b)(c/d)^2 = 3 + 2 * (14/13) * (25/36) = 3 + 175/117 = 526/117
    assert u.shlosser_classes({1: 2, 2: 1}, 0.5) == pytest.approx(526 / 117)


def test_snb_expectations_match_the_model() -> None:
    # With pi = 1 (the sample is the population), d = 0: E[s_1] = K beta^alpha = K P(F=1) and
    # E[s_2] = K alpha beta^alpha (1-beta) = K P(F=2) for F-1 ~ NB(alpha, beta).
    e1, e2 = u.snb_expected(10.0, 1.0, 2.0, 0.5)
    assert e1 == pytest.approx(10 * 0.25)
    assert e2 == pytest.approx(10 * 2 * 0.25 * 0.5)
    # pi = 1/2, alpha = 1 (geometric F), beta = 1/2, K = 1: P(F=j) = 2^-j. By direct sums,
    # E[s_1] = sum_j 2^-j j (1/2)^j = sum j 4^-j = (1/4)/(3/4)^2 = 4/9;
    # E[s_2] = sum_j 2^-j C(j,2) (1/2)^j = sum C(j,2) 4^-j = (1/16)/(3/4)^3 = 4/27.
    e1, e2 = u.snb_expected(1.0, 0.5, 1.0, 0.5)
    assert e1 == pytest.approx(4 / 9)
    assert e2 == pytest.approx(4 / 27)


def test_snb_fit_reproduces_s1_and_s2() -> None:
    sizes = {1: 40, 2: 25, 3: 12, 4: 6, 6: 2}
    n = sum(j * s for j, s in sizes.items())
    population = 10 * n
    params = u.snb_parameters(sizes, population)
    assert params is not None
    classes, alpha, beta = params
    e1, e2 = u.snb_expected(classes, n / population, alpha, beta)
    assert e1 == pytest.approx(40, rel=1e-9) and e2 == pytest.approx(25, rel=1e-9)
    assert u.snb(sizes, population) == pytest.approx(classes * beta**alpha)


def test_pitman_solves_the_published_likelihood_equations() -> None:
    # Hoshino (2001): the MLE of Pitman's (theta, alpha) solves, with plain sums,
    #   sum_{i<u} 1/(theta + i alpha) = sum_{i<n} 1/(theta + i)
    #   sum_{i<u} i/(theta + i alpha) = sum_j s_j sum_{i<j} 1/(i - alpha)
    # A heavy tail (many uniques, a few large classes), where 0 < alpha < 1.
    sizes = {1: 60, 2: 10, 3: 4, 4: 2, 8: 1, 20: 1}
    n = sum(j * s for j, s in sizes.items())
    nu = sum(sizes.values())
    params = u.pitman_parameters(sizes)
    assert params is not None
    theta, alpha = params
    assert 0 < alpha < 1
    left = sum(1 / (theta + i * alpha) for i in range(1, nu))
    right = sum(1 / (theta + i) for i in range(1, n))
    assert left == pytest.approx(right, rel=1e-9)
    left = sum(i / (theta + i * alpha) for i in range(1, nu))
    right = sum(s * sum(1 / (i - alpha) for i in range(1, j)) for j, s in sizes.items())
    assert left == pytest.approx(right, rel=1e-9)
    # Population uniques = Gamma(theta + 1) / Gamma(theta + alpha) * N^alpha.
    population = 5000
    expected = math.exp(math.lgamma(theta + 1) - math.lgamma(theta + alpha)) * population**alpha
    assert u.pitman(sizes, population) == pytest.approx(expected)


def test_pitman_without_a_root() -> None:
    # Little uniqueness: the likelihood's alpha equation has no root in (0, 1) (the score is
    # negative throughout), so there is no estimate.
    assert u.pitman_parameters({1: 30, 2: 12, 3: 6, 5: 2, 9: 1}) is None
    # s_1 = 1, s_2 = 1 (n = 3, u = 2): the equations give theta + alpha = 1 - alpha and then
    # 1/(2(1 - alpha)) = 1/(3 - 2 alpha), i.e. 3 = 2: no estimate.
    assert u.pitman({1: 1, 2: 1}, 100) is None


def test_digamma_against_known_values() -> None:
    # psi(1) = -Euler-Mascheroni; psi(1/2) = -gamma - 2 ln 2; psi(n+1) = psi(n) + 1/n.
    gamma = 0.57721566490153286
    assert u.digamma(1.0) == pytest.approx(-gamma, abs=1e-13)
    assert u.digamma(0.5) == pytest.approx(-gamma - 2 * math.log(2), abs=1e-13)
    assert u.digamma(11.0) == pytest.approx(-gamma + sum(1 / k for k in range(1, 11)), abs=1e-13)


@pytest.mark.parametrize(
    ("fraction_n", "estimates", "expected"),
    [
        # pi = 100/1000 <= 0.1 -> Pitman when it has an estimate, else Zayatz.
        (100, {"pitman": 50.0, "zayatz": 80.0, "snb": 20.0}, ("pitman", 50.0)),
        (100, {"pitman": None, "zayatz": 80.0, "snb": 20.0}, ("zayatz", 80.0)),
        # pi = 0.5 -> the smaller of Zayatz and SNB; Zayatz when SNB has none.
        (500, {"pitman": 50.0, "zayatz": 80.0, "snb": 20.0}, ("snb", 20.0)),
        (500, {"pitman": 50.0, "zayatz": 10.0, "snb": 20.0}, ("zayatz", 10.0)),
        (500, {"pitman": 50.0, "zayatz": 10.0, "snb": None}, ("zayatz", 10.0)),
    ],
)
def test_dankar_decision_rule(fraction_n: int, estimates: dict, expected: tuple) -> None:
    sizes = {1: 10, 2: (fraction_n - 10) // 2}
    assert u.dankar(sizes, 1000, estimates) == expected


def test_no_sample_uniques_means_no_population_uniques() -> None:
    risk = population_risk({2: 5, 3: 2}, 1000)
    assert risk.dankar_model == "none" and risk.dankar_uniques == 0.0


def test_population_smaller_than_sample_is_an_error() -> None:
    from healthdq.errors import HealthdqError

    with pytest.raises(HealthdqError, match="smaller than the 14 rows"):
        population_risk(SIZES, 10)


def test_small_numbers_suppressed_with_a_secondary_cell(measure_rows: Measure) -> None:
    rows = [{"a": "x"}] * 1 + [{"a": "y"}] * 20 + [{"a": "z"}] * 30
    report = suppress(measure_rows(rows, ["a"]), 7)
    # Only the class of 1 is small, but n = 51 would give it away: the next smallest row (20)
    # is hidden with it; sample uniques (1) and the records at risk (1) are hidden too.
    assert [(r.size, r.records) for r in report.histogram] == [(30, 30), (None, None)]
    assert report.sample_uniques is None and report.prosecutor.records_at_risk is None
    assert report.k == 1 and report.suppressed
