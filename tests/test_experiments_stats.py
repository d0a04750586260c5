"""convgeom.experiments.stats against scipy.stats (installed with scikit-learn) and against
distributions known in closed form."""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from convgeom.experiments import stats

scipy_stats = pytest.importorskip("scipy.stats")
scipy_special = pytest.importorskip("scipy.special")
np = pytest.importorskip("numpy")


@pytest.mark.parametrize("df", [1, 2, 3, 4, 7, 19, 60, 500])
@pytest.mark.parametrize("q", [0.975, 0.95, 0.9, 0.6, 0.25, 0.01])
def test_t_quantile_matches_scipy(df: int, q: float) -> None:
    assert stats.t_quantile(q, df) == pytest.approx(scipy_stats.t.ppf(q, df), rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("q", [0.6, 0.9, 0.975, 0.995])
def test_t_quantile_closed_forms(q: float) -> None:
    # df=1 is the Cauchy distribution; df=2 has F^-1(q) = (2q-1) / sqrt(2q(1-q))
    assert stats.t_quantile(q, 1) == pytest.approx(math.tan(math.pi * (q - 0.5)), rel=1e-10)
    assert stats.t_quantile(q, 2) == pytest.approx((2 * q - 1) / math.sqrt(2 * q * (1 - q)), rel=1e-10)


@given(st.floats(0.05, 40), st.floats(0.05, 40), st.floats(0.0, 1.0))
@settings(max_examples=200, deadline=None)
def test_incomplete_beta_matches_scipy(a: float, b: float, x: float) -> None:
    assert stats.incomplete_beta(a, b, x) == pytest.approx(float(scipy_special.betainc(a, b, x)), rel=1e-8, abs=1e-12)


@pytest.mark.parametrize("n", [2, 3, 5, 12])
def test_paired_t_and_ci_match_scipy(n: int) -> None:
    rng = np.random.default_rng(n)
    for _ in range(20):
        a = rng.normal(0.8, 0.05, n)
        b = a + rng.normal(rng.uniform(-0.05, 0.05), 0.03, n)
        t, p = stats.paired_t(list(a), list(b))
        ref = scipy_stats.ttest_rel(a, b)
        assert t == pytest.approx(ref.statistic, rel=1e-10)
        assert p == pytest.approx(ref.pvalue, rel=1e-8, abs=1e-14)
        ci = stats.mean_ci(list(a))
        low, high = scipy_stats.t.interval(0.95, n - 1, loc=np.mean(a), scale=scipy_stats.sem(a))
        assert (ci.low, ci.high) == (pytest.approx(low, rel=1e-10), pytest.approx(high, rel=1e-10))


def test_paired_t_without_variation_is_undefined() -> None:
    # SciPy: NaN when every difference is 0, (inf, 0) when all are the same nonzero value; here
    # both are NaN (on accuracies, 2-3 seeds can agree to the test image by chance)
    ref_zero = scipy_stats.ttest_rel(np.array([0.5, 0.5]), np.array([0.5, 0.5]))
    assert math.isnan(ref_zero.pvalue) and all(math.isnan(v) for v in stats.paired_t([0.5, 0.5], [0.5, 0.5]))
    ref_const = scipy_stats.ttest_rel(np.array([3.0, 2.0, 1.0]), np.array([2.0, 1.0, 0.0]))
    assert ref_const.pvalue == 0.0 and all(math.isnan(v) for v in stats.paired_t([3.0, 2.0, 1.0], [2.0, 1.0, 0.0]))


def _brute_sign_flip(d: list[float]) -> float:
    observed = abs(sum(d))
    hits = sum(abs(sum(s * x for s, x in zip(signs, d))) >= observed - 1e-12
               for signs in itertools.product((1, -1), repeat=len(d)))
    return hits / 2 ** len(d)


@pytest.mark.parametrize("n", [1, 2, 3, 6, 10])
def test_sign_flip_is_exact(n: int) -> None:
    rng = np.random.default_rng(100 + n)
    for _ in range(10):
        a, b = rng.normal(size=n), rng.normal(0.4, 1.0, size=n)
        p = stats.sign_flip_p(list(a), list(b))
        assert p == pytest.approx(_brute_sign_flip(list(a - b)), abs=1e-12)
        if n >= 2:
            ref = scipy_stats.permutation_test((a, b), lambda x, y: np.mean(x - y), permutation_type="samples",
                                               n_resamples=np.inf, alternative="two-sided")
            assert p == pytest.approx(ref.pvalue, abs=1e-12)


def test_sign_flip_floor_is_two_over_two_to_the_n() -> None:
    # all differences the same sign: only the observed pattern and its mirror are as extreme
    assert stats.sign_flip_p([1.0, 2.0, 3.0, 4.0], [0.0] * 4) == 2 / 16


def test_mean_ci_single_value_has_no_interval() -> None:
    ci = stats.mean_ci([0.7])
    assert ci.mean == 0.7 and math.isnan(ci.half)
    with pytest.raises(ValueError):
        stats.mean_ci([])
