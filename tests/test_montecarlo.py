"""Tests for kldiv.montecarlo: the k1, k2 and k3 sample estimators of KL divergence.

Samples come from seeded generators; log-densities from scipy.stats.norm. Expectations are checked
against closed forms for normal distributions, within 4 standard errors of the sample mean.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import scipy.integrate
import scipy.stats

from kldiv import ESTIMATORS, kl_estimator_terms, monte_carlo_kl

N = 200_000


def _log_densities(rng, n, p, q):
    """Samples x ~ p = N(*p) and their log-densities under p and under q = N(*q)."""
    x = rng.normal(p[0], p[1], size=n)
    return scipy.stats.norm(*p).logpdf(x), scipy.stats.norm(*q).logpdf(x)


def _mean_and_standard_error(terms):
    return terms.mean(), terms.std(ddof=1) / math.sqrt(terms.size)


@pytest.mark.parametrize("estimator", ["k1", "k3"])
def test_unbiased_estimators_agree_with_closed_form_within_four_standard_errors(estimator):
    # p = N(0, 1), q = N(0.5, 1): D(p || q) = (mu_p - mu_q)^2 / 2 = 0.125.
    log_p, log_q = _log_densities(np.random.default_rng(41), N, (0.0, 1.0), (0.5, 1.0))
    mean, se = _mean_and_standard_error(kl_estimator_terms(log_p, log_q, estimator=estimator))
    assert se < 0.002
    assert abs(mean - 0.125) < 4 * se
    assert monte_carlo_kl(log_p, log_q, estimator=estimator) == pytest.approx(mean, rel=1e-12)


def test_k2_is_biased_for_distant_distributions():
    # p = N(0, 1), q = N(m, 1): ln r = ln q - ln p = m x - m^2/2 with x ~ N(0, 1), so
    # E[k2] = E[(ln r)^2] / 2 = (m^2 + m^4/4) / 2, whereas D(p || q) = m^2 / 2. For m = 2: 4 vs 2.
    m = 2.0
    truth, k2_expectation = m**2 / 2, (m**2 + m**4 / 4) / 2
    log_p, log_q = _log_densities(np.random.default_rng(42), N, (0.0, 1.0), (m, 1.0))
    mean, se = _mean_and_standard_error(kl_estimator_terms(log_p, log_q, estimator="k2"))
    assert abs(mean - k2_expectation) < 4 * se  # the sample mean is where theory says
    assert abs(mean - truth) > 4 * se  # and that is far from the divergence
    # The unbiased estimators find the truth from the same samples.
    for estimator in ("k1", "k3"):
        mean, se = _mean_and_standard_error(kl_estimator_terms(log_p, log_q, estimator=estimator))
        assert abs(mean - truth) < 4 * se


def test_k2_and_k3_terms_are_never_negative_while_k1_terms_can_be():
    log_p, log_q = _log_densities(np.random.default_rng(43), 10_000, (0.0, 1.0), (0.5, 1.0))
    assert (kl_estimator_terms(log_p, log_q, estimator="k2") >= 0).all()
    assert (kl_estimator_terms(log_p, log_q, estimator="k3") >= 0).all()
    k1 = kl_estimator_terms(log_p, log_q, estimator="k1")
    assert (k1 < 0).mean() > 0.3  # k1 = 0.125 - x/2 < 0 whenever x > 1/4: P = 0.40


def test_per_sample_values_follow_their_definitions():
    log_p = np.array([0.0, -1.0, -2.5, -0.3])
    log_q = np.array([-1.0, 0.0, -2.5, -0.2])
    log_r = log_q - log_p
    np.testing.assert_allclose(kl_estimator_terms(log_p, log_q, estimator="k1"), -log_r, rtol=1e-15)
    np.testing.assert_allclose(kl_estimator_terms(log_p, log_q, estimator="k2"), 0.5 * log_r**2, rtol=1e-15)
    np.testing.assert_allclose(kl_estimator_terms(log_p, log_q, estimator="k3"), np.exp(log_r) - 1 - log_r, rtol=1e-14, atol=1e-16)


def test_k3_stays_accurate_and_positive_when_the_ratio_is_close_to_one():
    # (r - 1) - ln r = x^2/2 + x^3/6 + ... with x = ln r; exp(x) - 1 - x would return 0 or noise.
    log_r = np.array([1e-8, -1e-8, 1e-6, -3e-5])
    k3 = kl_estimator_terms(np.zeros(4), log_r, estimator="k3")
    np.testing.assert_allclose(k3, log_r**2 / 2 + log_r**3 / 6 + log_r**4 / 24, rtol=1e-6)
    naive = np.exp(log_r) - 1 - log_r
    assert np.abs(naive / k3 - 1).max() > 1e-3
    assert (k3 > 0).all()


def test_k3_variance_is_infinite_when_q_has_much_heavier_tails_than_p():
    # p = N(2, 0.5^2), q = N(1, 1). Var_p[k3] involves E_p[r^2] = int q^2 / p dx, whose integrand is
    # exp(x^2 - 6x + const): the integral diverges. k1 = ln p - ln q is a quadratic in a normal
    # variable, so its variance is finite: 2 a^2 s^4 + (2 a mu s + b s)^2 = 17/32 for
    # ln r = 1.5 x^2 - 7 x + 7.5 + ln 0.5, x ~ N(mu = 2, s = 0.5).
    p, q = scipy.stats.norm(2.0, 0.5), scipy.stats.norm(1.0, 1.0)

    def second_moment(a, b, half_width):
        return scipy.integrate.quad(lambda x: b.pdf(x) ** 2 / a.pdf(x), 2 - half_width, 2 + half_width, limit=200)[0]

    growth = [second_moment(p, q, w) for w in (2.0, 4.0, 6.0)]
    assert growth[1] > 1e3 * growth[0] and growth[2] > 1e3 * growth[1]
    # For p = N(0, 1), q = N(0.5, 1) the same integral converges, to exp(0.5^2).
    p_ok, q_ok = scipy.stats.norm(0.0, 1.0), scipy.stats.norm(0.5, 1.0)
    assert second_moment(p_ok, q_ok, 20.0) == pytest.approx(math.exp(0.25), rel=1e-9)

    # Empirically: 100 chunks of 10,000 samples. With a finite variance the variance of all 10^6
    # samples is about the median chunk variance; with an infinite one it is dominated by rare huge
    # terms and far exceeds the typical chunk (over 300 seeds the ratio was never below 2.9 for
    # k3, and within [0.99, 1.01] for k1).
    rng = np.random.default_rng(2021)
    x = rng.normal(2.0, 0.5, size=(100, 10_000))
    log_p, log_q = p.logpdf(x), q.logpdf(x)
    k1 = kl_estimator_terms(log_p, log_q, estimator="k1")
    k3 = kl_estimator_terms(log_p, log_q, estimator="k3")
    assert k3.var() / np.median(k3.var(axis=1)) > 2.0
    assert k1.var() / np.median(k1.var(axis=1)) == pytest.approx(1.0, abs=0.05)
    assert k1.var() == pytest.approx(17 / 32, rel=0.03)
    # k1 still estimates the divergence, 1/8 + ln 2 (see test_gaussian.py).
    mean, se = _mean_and_standard_error(k1.ravel())
    assert abs(mean - (1 / 8 + math.log(2))) < 4 * se


def test_for_close_distributions_k3_has_lower_variance_than_k1():
    # Schulman (2020): for nearby p and q, k3 = (r - 1) - ln r = O((ln r)^2) while k1 = -ln r.
    log_p, log_q = _log_densities(np.random.default_rng(44), 50_000, (0.0, 1.0), (0.1, 1.0))
    k1 = kl_estimator_terms(log_p, log_q, estimator="k1")
    k3 = kl_estimator_terms(log_p, log_q, estimator="k3")
    assert k3.var() < 0.05 * k1.var()


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_sample_ruled_out_by_q_makes_the_estimate_infinite(estimator):
    log_p, log_q = np.array([-1.0, -0.5]), np.array([-1.2, -np.inf])
    terms = kl_estimator_terms(log_p, log_q, estimator=estimator)
    assert np.isfinite(terms[0]) and terms[1] == np.inf
    assert monte_carlo_kl(log_p, log_q, estimator=estimator) == np.inf


def test_base_two_gives_bits():
    log_p, log_q = _log_densities(np.random.default_rng(45), 1000, (0.0, 1.0), (1.0, 1.0))
    for estimator in ESTIMATORS:
        nats = monte_carlo_kl(log_p, log_q, estimator=estimator)
        assert monte_carlo_kl(log_p, log_q, estimator=estimator, base=2) == pytest.approx(nats / math.log(2), rel=1e-14)


def test_samples_along_an_axis_give_one_estimate_per_row():
    rng = np.random.default_rng(46)
    means = np.array([0.0, 0.5, 1.0])  # q = N(m, 1), D(N(0, 1) || q) = m^2 / 2
    x = rng.normal(size=(3, 100_000))
    log_p, log_q = scipy.stats.norm.logpdf(x), scipy.stats.norm.logpdf(x, loc=means[:, None])
    rows = monte_carlo_kl(log_p, log_q, estimator="k3")
    assert rows.shape == (3,)
    np.testing.assert_allclose(rows, means**2 / 2, atol=0.01)
    np.testing.assert_allclose(monte_carlo_kl(log_p.T, log_q.T, estimator="k3", axis=0), rows, rtol=1e-12)
    assert isinstance(monte_carlo_kl(log_p[0], log_q[0], estimator="k3"), np.float64)


def test_log_densities_broadcast():
    # A log-density that is the same for every sample (a uniform q) broadcasts against the samples.
    terms = kl_estimator_terms(np.array([-1.0, -2.0, -3.0]), -2.0, estimator="k1")
    np.testing.assert_array_equal(terms, [1.0, 0.0, -1.0])


# --------------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("estimator", ["k4", "K1", "", None, 1])
def test_unknown_estimator_is_rejected_by_name(estimator):
    message = f"estimator must be one of 'k1', 'k2', 'k3'; got {estimator!r}"
    with pytest.raises(ValueError, match=re.escape(message)):
        monte_carlo_kl([0.0], [0.0], estimator=estimator)
    with pytest.raises(ValueError, match=re.escape(message)):
        kl_estimator_terms([0.0], [0.0], estimator=estimator)


@pytest.mark.parametrize("bad, shown", [(-np.inf, "-inf"), (np.inf, "inf"), (np.nan, "nan")])
def test_non_finite_log_p_is_rejected(bad, shown):
    with pytest.raises(ValueError, match=re.escape(f"log_p must be finite (samples are drawn from p); got np.float64({shown}) at index (1,)")):
        monte_carlo_kl([0.0, bad], [0.0, 0.0], estimator="k1")
    with pytest.raises(ValueError, match=re.escape(f"log_p must be finite (samples are drawn from p); got np.float64({shown})")):
        kl_estimator_terms(bad, 0.0, estimator="k1")


@pytest.mark.parametrize("bad, shown", [(np.inf, "inf"), (np.nan, "nan")])
def test_nan_or_positive_infinite_log_q_is_rejected(bad, shown):
    with pytest.raises(ValueError, match=re.escape(f"log_q must be finite or -inf; got np.float64({shown}) at index (0, 1)")):
        monte_carlo_kl([[0.0, 0.0]], [[0.0, bad]], estimator="k1")


def test_log_densities_that_do_not_broadcast_are_rejected():
    with pytest.raises(ValueError, match=re.escape("log_p and log_q must broadcast together; got shapes (2,) and (3,)")):
        monte_carlo_kl([0.0, 0.0], [0.0, 0.0, 0.0], estimator="k1")


def test_estimate_needs_an_axis_of_samples():
    with pytest.raises(ValueError, match=re.escape("monte_carlo_kl needs an axis of samples; got scalar log-densities")):
        monte_carlo_kl(0.0, -1.0, estimator="k1")


def test_sample_axis_out_of_range_or_not_an_integer_is_rejected():
    with pytest.raises(ValueError, match=re.escape("axis 1 is out of range for the samples with 1 dimension(s)")):
        monte_carlo_kl([0.0], [0.0], estimator="k1", axis=1)
    with pytest.raises(TypeError, match=re.escape("axis must be an integer; got '0'")):
        monte_carlo_kl([0.0], [0.0], estimator="k1", axis="0")


@pytest.mark.parametrize("base", [0, 1, -1.0, math.nan])
def test_invalid_base_is_rejected(base):
    with pytest.raises(ValueError, match=re.escape(f"base must be positive, finite and not 1; got {base!r}")):
        monte_carlo_kl([0.0], [0.0], estimator="k1", base=base)


def test_non_real_log_densities_are_rejected():
    with pytest.raises(TypeError, match=re.escape("log_q must contain real numbers; got dtype complex128")):
        kl_estimator_terms([0.0], np.array([1j]), estimator="k1")
    with pytest.raises(ValueError, match=re.escape("log_p is empty (shape (0,))")):
        monte_carlo_kl([], [], estimator="k1")


def test_the_estimator_must_be_named_since_none_is_best_everywhere():
    # Issue 11: k3, the old default, has infinite variance when q has heavier tails than p (above),
    # and k1 has a far larger variance than k3 for nearby p and q: the caller has to choose.
    with pytest.raises(TypeError, match="estimator"):
        monte_carlo_kl([0.0], [0.0])
    with pytest.raises(TypeError, match="estimator"):
        kl_estimator_terms([0.0], [0.0])


def test_docstrings_qualify_the_variance_claims_for_nearby_distributions():
    # The low-variance claims for k2 and k3 hold only for nearby p and q (issue 11).
    import kldiv.montecarlo as module

    text = " ".join(module.__doc__.split())
    assert "low variance *for nearby p and q*" in text
    assert "*for nearby p and q* usually the lowest variance" in text
    assert "lowest variance" not in text.replace("*for nearby p and q* usually the lowest variance", "")
