"""Population uniqueness from a sample's equivalence-class sizes: Zayatz, Pitman, SNB, Dankar.

Every estimator reads only the sample's *frequency of frequencies*: `sizes[j]` = the number of
equivalence classes of size j in the sample (s_j), with n = sum(j * s_j) records and
u = sum(s_j) classes; N is the population size and pi = n / N the sampling fraction. They return
the estimated number of population uniques (None where the model has no valid estimate).

Sources (formulas as published; docs/risk.md derives the worked examples in the tests):

* Dankar F.K., El Emam K., Neisa A., Roffey T. "Estimating the re-identification risk of clinical
  data sets". BMC Medical Informatics and Decision Making 2012, 12:66 (appendix A: the models;
  the decision rule selecting between Pitman, SNB and Zayatz by sampling fraction and by the
  difference between the estimates).
* Zayatz L. "Estimation of the number of unique population elements using a sample" (1991):
  P(F=1 | f=1) = p_1 P(f=1|F=1) / sum_j p_j P(f=1|F=j), P(f=1|F=j) hypergeometric, p_j the
  share of classes of size j (estimated from the sample); uniques = s_1 P(F=1|f=1) N / n.
* Hoshino N. "Applying Pitman's sampling formula to microdata disclosure risk assessment"
  (J. Official Statistics 2001): theta and alpha by maximum likelihood on the sample's
  partition; population uniques = Gamma(theta+1) / Gamma(theta+alpha) * N^alpha.
* Chen G., Keller-McNulty S. "Estimation of identification disclosure risk in microdata"
  (J. Official Statistics 1998), slide negative binomial: population class sizes F with F-1
  negative binomial(alpha, beta), sampled binomially at pi; alpha and beta fitted so that the
  expected numbers of sample classes of size 1 and 2 equal s_1 and s_2; K (non-empty
  population classes) by Haas and Stokes' Shlosser-type estimator (JASA 1998, D_Sh3);
  population uniques = K * beta^alpha.
* The decision rule as implemented by ARX (RiskModelPopulationUniqueness): pi <= 0.1 -> Pitman
  (Zayatz when Pitman has no estimate); otherwise the smaller of Zayatz and SNB (Zayatz when SNB
  has no estimate).

Pure Python on the histogram: the data are never read here.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

DANKAR_PITMAN_FRACTION = 0.1
_TOL = 1e-12


# -- special functions -------------------------------------------------------------------------
def digamma(x: float) -> float:
    """psi(x) for x > 0: recurrence up to 10, then the asymptotic series (error < 1e-13)."""
    if x <= 0:
        raise ValueError("digamma needs x > 0")
    result = 0.0
    while x < 10.0:
        result -= 1.0 / x
        x += 1.0
    inv = 1.0 / x
    inv2 = inv * inv
    series = inv2 * (
        1.0 / 12 - inv2 * (1.0 / 120 - inv2 * (1.0 / 252 - inv2 * (1.0 / 240 - inv2 / 132)))
    )
    return result + math.log(x) - 0.5 * inv - series


def log_comb(n: int, k: int) -> float:
    """ln C(n, k) (-inf when k is out of range)."""
    if k < 0 or k > n:
        return -math.inf
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def _bisect(fn: Callable[[float], float], lo: float, hi: float, iterations: int = 200) -> float:
    """A root of fn in [lo, hi], where fn(lo) and fn(hi) differ in sign."""
    f_lo = fn(lo)
    for _ in range(iterations):
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi):
            break
        f_mid = fn(mid)
        if (f_mid > 0) == (f_lo > 0):
            lo, f_lo = mid, f_mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def _totals(sizes: Mapping[int, int]) -> tuple[int, int]:
    n = sum(j * s for j, s in sizes.items())
    u = sum(sizes.values())
    return n, u


def _valid(value: float | None, population: int) -> float | None:
    if value is None or math.isnan(value) or math.isinf(value) or value <= 0 or value > population:
        return None
    return value


# -- Zayatz ------------------------------------------------------------------------------------
def hypergeometric_one(population: int, successes: int, draws: int) -> float:
    """P(X = 1) for X ~ Hypergeometric(N=population, K=successes, n=draws)."""
    log_p = (
        math.log(successes)
        + log_comb(population - successes, draws - 1)
        - log_comb(population, draws)
    )
    return math.exp(log_p) if log_p > -math.inf else 0.0


def zayatz(sizes: Mapping[int, int], population: int) -> float | None:
    """Zayatz's estimate of the number of population uniques."""
    n, u = _totals(sizes)
    s1 = sizes.get(1, 0)
    if s1 == 0 or n == 0:
        return None
    denominator = sum((s / u) * hypergeometric_one(population, j, n) for j, s in sizes.items() if s)
    if denominator <= 0:
        return None
    conditional = (s1 / u) * hypergeometric_one(population, 1, n) / denominator
    return _valid(s1 * conditional * population / n, population)


# -- Pitman ------------------------------------------------------------------------------------
def _pitman_theta(alpha: float, n: int, u: int) -> float | None:
    """theta solving d lnL / d theta = 0 for a given alpha (None when there is no root)."""

    def score(theta: float) -> float:
        first = (digamma(theta / alpha + u) - digamma(theta / alpha + 1)) / alpha
        return first - (digamma(theta + n) - digamma(theta + 1))

    lo = -alpha + 1e-12 * max(1.0, alpha)
    hi = 1.0
    while score(hi) > 0:
        hi *= 2
        if hi > 1e15:
            return None
    if score(lo) <= 0:
        return None
    return _bisect(score, lo, hi)


def pitman_parameters(sizes: Mapping[int, int]) -> tuple[float, float] | None:
    """Maximum-likelihood (theta, alpha) of Pitman's sampling formula, 0 < alpha < 1."""
    n, u = _totals(sizes)
    if u < 2 or u >= n:
        return None

    def alpha_score(alpha: float) -> float:
        theta = _pitman_theta(alpha, n, u)
        if theta is None:
            return math.nan
        spread = digamma(theta / alpha + u) - digamma(theta / alpha + 1)
        first = (u - 1) / alpha - theta * spread / (alpha * alpha)
        psi_one = digamma(1 - alpha)
        second = sum(s * (digamma(j - alpha) - psi_one) for j, s in sizes.items() if j > 1)
        return first - second

    lo, hi = 1e-6, 1 - 1e-9
    f_lo, f_hi = alpha_score(lo), alpha_score(hi)
    if math.isnan(f_lo) or math.isnan(f_hi) or (f_lo > 0) == (f_hi > 0):
        return None
    alpha = _bisect(alpha_score, lo, hi)
    theta = _pitman_theta(alpha, n, u)
    if theta is None:
        return None
    return theta, alpha


def pitman(sizes: Mapping[int, int], population: int) -> float | None:
    """Pitman's (Hoshino's) estimate of the number of population uniques."""
    if sizes.get(1, 0) == 0:
        return None
    params = pitman_parameters(sizes)
    if params is None:
        return None
    theta, alpha = params
    try:
        log_value = (
            math.lgamma(theta + 1) - math.lgamma(theta + alpha) + alpha * math.log(population)
        )
        value = math.exp(log_value)
    except (ValueError, OverflowError):
        return None
    return _valid(value, population)


# -- SNB ---------------------------------------------------------------------------------------
def shlosser_classes(sizes: Mapping[int, int], fraction: float) -> float | None:
    """Haas and Stokes' D_Sh3: the number of non-empty population classes."""
    _, u = _totals(sizes)
    s1 = sizes.get(1, 0)
    q = fraction
    a = sum(j * q * q * (1 - q * q) ** (j - 1) * s for j, s in sizes.items())
    b = sum((1 - q) ** j * ((1 + q) ** j - 1) * s for j, s in sizes.items())
    c = sum((1 - q) ** j * s for j, s in sizes.items())
    d = sum(j * q * (1 - q) ** (j - 1) * s for j, s in sizes.items())
    if b <= 0 or d <= 0:
        return None
    return u + s1 * (a / b) * (c / d) ** 2


def snb_expected(classes: float, fraction: float, alpha: float, beta: float) -> tuple[float, float]:
    """Expected numbers of sample classes of size 1 and 2 under the SNB model.

    With d = (1 - pi)(1 - beta):
      E[s_1] = K pi (beta / (1 - d))^alpha (1 + alpha d / (1 - d))
      E[s_2] = K alpha beta^alpha pi^2 (1 - beta) (2 - (1 - alpha) d) / (2 (1 - d)^(alpha + 2))
    (the sums over F of P(F) C(F, i) pi^i (1 - pi)^(F - i), by the negative binomial series).
    """
    d = (1 - fraction) * (1 - beta)
    e1 = classes * fraction * (beta / (1 - d)) ** alpha * (1 + alpha * d / (1 - d))
    e2 = (
        classes
        * alpha
        * beta**alpha
        * fraction**2
        * (1 - beta)
        * (2 - (1 - alpha) * d)
        / (2 * (1 - d) ** (alpha + 2))
    )
    return e1, e2


def snb_parameters(sizes: Mapping[int, int], population: int) -> tuple[float, float, float] | None:
    """(K, alpha, beta) of the SNB model, or None when the equations have no valid root."""
    n, _ = _totals(sizes)
    s1, s2 = sizes.get(1, 0), sizes.get(2, 0)
    fraction = n / population
    if s1 == 0 or s2 == 0 or fraction >= 1:
        return None
    classes = shlosser_classes(sizes, fraction)
    if classes is None or classes <= 0:
        return None

    # Unconstrained: alpha = exp(x), beta = logistic(y); residuals relative to s_1 and s_2.
    def residuals(x: float, y: float) -> tuple[float, float]:
        alpha = math.exp(x)
        beta = 1 / (1 + math.exp(-y))
        e1, e2 = snb_expected(classes, fraction, alpha, beta)
        return e1 / s1 - 1, e2 / s2 - 1

    for x0, y0 in ((0.0, 0.0), (-2.0, -2.0), (2.0, -4.0), (-4.0, 2.0), (1.0, 2.0)):
        root = _newton2(residuals, x0, y0)
        if root is not None:
            alpha, beta = math.exp(root[0]), 1 / (1 + math.exp(-root[1]))
            return classes, alpha, beta
    return None


def _newton2(
    fn: Callable[[float, float], tuple[float, float]], x: float, y: float
) -> tuple[float, float] | None:
    """Damped Newton on two equations with a finite-difference Jacobian."""
    try:
        r = fn(x, y)
        for _ in range(200):
            norm = abs(r[0]) + abs(r[1])
            if norm < 1e-12:
                return x, y
            h = 1e-7
            rx = fn(x + h, y)
            ry = fn(x, y + h)
            j11, j21 = (rx[0] - r[0]) / h, (rx[1] - r[1]) / h
            j12, j22 = (ry[0] - r[0]) / h, (ry[1] - r[1]) / h
            det = j11 * j22 - j12 * j21
            if det == 0 or math.isnan(det):
                return None
            dx = (r[0] * j22 - r[1] * j12) / det
            dy = (j11 * r[1] - j21 * r[0]) / det
            step = 1.0
            while step > 1e-6:
                nx, ny = x - step * dx, y - step * dy
                nr = fn(nx, ny)
                if abs(nr[0]) + abs(nr[1]) < norm:
                    x, y, r = nx, ny, nr
                    break
                step /= 2
            else:
                return None
        return (x, y) if abs(r[0]) + abs(r[1]) < 1e-9 else None
    except (OverflowError, ValueError, ZeroDivisionError):
        return None


def snb(sizes: Mapping[int, int], population: int) -> float | None:
    """The SNB estimate of the number of population uniques: K beta^alpha."""
    params = snb_parameters(sizes, population)
    if params is None:
        return None
    classes, alpha, beta = params
    return _valid(classes * beta**alpha, population)


# -- Dankar ------------------------------------------------------------------------------------
def dankar(
    sizes: Mapping[int, int],
    population: int,
    estimates: Mapping[str, float | None] | None = None,
) -> tuple[str, float]:
    """(model chosen, population uniques) by Dankar et al.'s decision rule."""
    if sizes.get(1, 0) == 0:
        return "none", 0.0
    n, _ = _totals(sizes)
    got = dict(estimates or {})
    for name, fn in (("pitman", pitman), ("zayatz", zayatz), ("snb", snb)):
        if name not in got:
            got[name] = fn(sizes, population)
    zay = got["zayatz"] or 0.0
    if n / population <= DANKAR_PITMAN_FRACTION:
        if got["pitman"] is not None:
            return "pitman", got["pitman"]
        return "zayatz", zay
    if got["snb"] is not None and got["snb"] <= zay:
        return "snb", got["snb"]
    return "zayatz", zay
