"""Statistics over seeds, in pure Python (no SciPy needed; the tests compare with
``scipy.stats`` where it is installed).

* mean with a two-sided Student-t confidence interval: ``mean +- t_{1-a/2, n-1} * sd / sqrt(n)``;
* the paired t-test between two configurations run on the same seeds (same data, same batch
  order): ``t = mean(d) / (sd(d) / sqrt(n))`` with ``n - 1`` degrees of freedom, as
  ``scipy.stats.ttest_rel``;
* the exact sign-flip (paired permutation) test: the share of the ``2**n`` sign patterns of the
  differences whose mean is at least as far from 0 as the observed one (no normality assumed;
  with ``n`` seeds it cannot go below ``2 / 2**n``).

The Student-t distribution function is the regularized incomplete beta function
``P(|T| > t) = I_{v/(v+t^2)}(v/2, 1/2)`` (Abramowitz & Stegun 26.7.1), evaluated with Lentz's
continued fraction (Numerical Recipes 6.4).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

_EPS = 1e-15
_TINY = 1e-300


def _beta_fraction(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz)."""
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > _TINY else _TINY)
    h = d
    for m in range(1, 10_000):
        m2 = 2 * m
        for aa in (m * (b - m) * x / ((qam + m2) * (a + m2)), -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))):
            d = 1.0 + aa * d
            d = 1.0 / (d if abs(d) > _TINY else _TINY)
            c = 1.0 + aa / c
            c = c if abs(c) > _TINY else _TINY
            delta = d * c
            h *= delta
        if abs(delta - 1.0) < _EPS:
            break
    return h


def incomplete_beta(a: float, b: float, x: float) -> float:
    """Regularized incomplete beta ``I_x(a, b)`` for ``0 <= x <= 1``."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _beta_fraction(a, b, x) / a
    return 1.0 - math.exp(log_front) * _beta_fraction(b, a, 1.0 - x) / b


def t_two_sided_p(t: float, df: float) -> float:
    """``P(|T| >= |t|)`` for Student's t with ``df`` degrees of freedom."""
    if math.isinf(t):
        return 0.0
    if t == 0.0:
        return 1.0
    return incomplete_beta(df / 2.0, 0.5, df / (df + t * t))


def t_quantile(q: float, df: float) -> float:
    """The ``q`` quantile of Student's t (``0 < q < 1``), by bisection on the distribution."""
    if not 0.0 < q < 1.0:
        raise ValueError(f"quantile level must be in (0, 1), got {q}")
    if q == 0.5:
        return 0.0
    tail = 2.0 * min(q, 1.0 - q)          # two-sided tail probability at the answer
    lo, hi = 0.0, 1.0
    while t_two_sided_p(hi, df) > tail:
        hi *= 2.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if t_two_sided_p(mid, df) > tail:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-13 * max(1.0, hi):
            break
    value = 0.5 * (lo + hi)
    return value if q > 0.5 else -value


def mean(values: Sequence[float]) -> float:
    return math.fsum(values) / len(values)


def sd(values: Sequence[float]) -> float:
    """Sample standard deviation (``n - 1``); 0 for a single value."""
    if len(values) < 2:
        return 0.0
    m = mean(values)
    return math.sqrt(math.fsum((v - m) ** 2 for v in values) / (len(values) - 1))


@dataclass(frozen=True)
class Interval:
    """Mean and its two-sided confidence interval; ``half`` is NaN for a single value."""

    mean: float
    half: float
    n: int
    sd: float
    level: float = 0.95

    @property
    def low(self) -> float:
        return self.mean - self.half

    @property
    def high(self) -> float:
        return self.mean + self.half


def mean_ci(values: Sequence[float], level: float = 0.95) -> Interval:
    """Mean +- ``t_{(1+level)/2, n-1} * sd / sqrt(n)``."""
    if not values:
        raise ValueError("mean_ci needs at least one value")
    n, s = len(values), sd(values)
    half = math.nan if n < 2 else t_quantile((1.0 + level) / 2.0, n - 1) * s / math.sqrt(n)
    return Interval(mean(values), half, n, s, level)


@dataclass(frozen=True)
class PairedTest:
    """``a - b`` over paired seeds: mean difference with its CI, the paired t-test and the
    exact sign-flip test (both two-sided)."""

    n: int
    diff: Interval
    t: float
    df: int
    p_t: float
    p_exact: float


def paired_t(a: Sequence[float], b: Sequence[float]) -> tuple[float, float]:
    """``(t, p)`` of the two-sided paired t-test, like ``scipy.stats.ttest_rel``, except that
    differences that do not vary give NaN for both (SciPy: NaN when all are 0, but ``t = inf,
    p = 0`` when all are the same nonzero value; with accuracies over 2-3 seeds that happens by
    chance, and is no proof)."""
    if len(a) != len(b) or len(a) < 2:
        raise ValueError("paired_t needs two sequences of the same length >= 2")
    d = [x - y for x, y in zip(a, b)]
    m, s = mean(d), sd(d)
    if s <= 1e-12 * max(1.0, abs(m)):
        return math.nan, math.nan
    t = m / (s / math.sqrt(len(d)))
    return t, t_two_sided_p(t, len(d) - 1)


def sign_flip_p(a: Sequence[float], b: Sequence[float]) -> float:
    """Exact two-sided paired permutation p-value: the share of all ``2**n`` sign patterns of
    ``d = a - b`` whose ``|sum|`` is at least the observed ``|sum(d)|``. Walks the patterns in
    Gray-code order, so each step changes one sign (O(2**n) time, O(n) memory)."""
    if len(a) != len(b) or not a:
        raise ValueError("sign_flip_p needs two sequences of the same nonzero length")
    d = [x - y for x, y in zip(a, b)]
    n = len(d)
    observed = abs(math.fsum(d))
    tol = 1e-9 * max(1e-300, math.fsum(abs(v) for v in d))
    signs = [1] * n
    total = math.fsum(d)
    hits = 1 if abs(total) >= observed - tol else 0
    for k in range(1, 1 << n):
        i = (k & -k).bit_length() - 1         # the bit that changes between gray(k-1) and gray(k)
        signs[i] = -signs[i]
        total += 2 * signs[i] * d[i]
        if abs(total) >= observed - tol:
            hits += 1
    return hits / (1 << n)


def paired_test(a: Sequence[float], b: Sequence[float], level: float = 0.95) -> PairedTest:
    d = [x - y for x, y in zip(a, b)]
    t, p = paired_t(a, b)
    return PairedTest(len(d), mean_ci(d, level), t, len(d) - 1, p, sign_flip_p(a, b))
