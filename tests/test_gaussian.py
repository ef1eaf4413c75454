"""Tests for kldiv.gaussian: closed-form KL divergence between normal distributions.

References: the closed form derived below, TensorFlow Probability's registered KL for
Normal/Normal and MultivariateNormalDiag/MultivariateNormalDiag, numerical integration with
scipy.integrate.quad, and Kingma & Welling's VAE formula.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import scipy.integrate
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st

from kldiv import kl_diag_normal, kl_normal
from kldiv.notebook import quiet_native_logs

with quiet_native_logs():
    import tensorflow as tf
    import tensorflow_probability as tfp

tfd = tfp.distributions

# For p = N(mu_p, sigma_p^2), q = N(mu_q, sigma_q^2) (Bishop, PRML, exercise 1.30):
#   D(p || q) = E_p[ln p - ln q]
#             = ln(sigma_q / sigma_p) - 1/2 + (sigma_p^2 + (mu_p - mu_q)^2) / (2 sigma_q^2),
# since E_p[(x - mu_p)^2] = sigma_p^2 and E_p[(x - mu_q)^2] = sigma_p^2 + (mu_p - mu_q)^2.
#
# D(N(2, 0.5^2) || N(1, 1)) = ln 2 - 1/2 + (1/4 + 1) / 2       = 1/8 + ln 2 = 0.8181472
# D(N(1, 1) || N(2, 0.5^2)) = ln(1/2) - 1/2 + (1 + 1) / (2/4) = 7/2 - ln 2 = 2.8068528


def _textbook(mu_p, sigma_p, mu_q, sigma_q):
    return math.log(sigma_q / sigma_p) + (sigma_p**2 + (mu_p - mu_q) ** 2) / (2 * sigma_q**2) - 0.5


def test_narrow_normal_against_standard_width_matches_closed_form():
    assert kl_normal(2.0, 0.5, 1.0, 1.0) == pytest.approx(1 / 8 + math.log(2), rel=1e-15)
    assert round(float(kl_normal(2.0, 0.5, 1.0, 1.0)), 7) == 0.8181472


def test_reverse_divergence_matches_closed_form_and_differs():
    assert kl_normal(1.0, 1.0, 2.0, 0.5) == pytest.approx(7 / 2 - math.log(2), rel=1e-15)
    assert round(float(kl_normal(1.0, 1.0, 2.0, 0.5)), 7) == 2.8068528


def test_identical_normals_have_zero_divergence():
    assert kl_normal(0.3, 1.7, 0.3, 1.7) == 0.0
    np.testing.assert_array_equal(kl_normal([0.0, -5.0], [1e-3, 1e3], [0.0, -5.0], [1e-3, 1e3]), [0.0, 0.0])


def test_equal_scales_give_half_the_squared_standardised_mean_difference():
    assert kl_normal(3.0, 2.0, -1.0, 2.0) == pytest.approx(0.5 * (4.0 / 2.0) ** 2, rel=1e-15)


@settings(max_examples=50)
@given(
    st.floats(-10, 10), st.floats(0.05, 20), st.floats(-10, 10), st.floats(0.05, 20),
)
def test_divergence_is_non_negative_and_matches_textbook_form(mu_p, sigma_p, mu_q, sigma_q):
    d = kl_normal(mu_p, sigma_p, mu_q, sigma_q)
    assert d >= 0
    np.testing.assert_allclose(d, _textbook(mu_p, sigma_p, mu_q, sigma_q), rtol=1e-9, atol=1e-12)


def test_agrees_with_tensorflow_probability_for_random_parameters():
    rng = np.random.default_rng(31)
    mu_p, mu_q = rng.normal(0, 3, size=200), rng.normal(0, 3, size=200)
    sigma_p, sigma_q = np.exp(rng.normal(0, 1, size=200)), np.exp(rng.normal(0, 1, size=200))
    expected = tfd.kl_divergence(
        tfd.Normal(tf.constant(mu_p, tf.float64), tf.constant(sigma_p, tf.float64)),
        tfd.Normal(tf.constant(mu_q, tf.float64), tf.constant(sigma_q, tf.float64)),
    ).numpy()
    np.testing.assert_allclose(kl_normal(mu_p, sigma_p, mu_q, sigma_q), expected, rtol=1e-10)


@pytest.mark.parametrize(
    "mu_p, sigma_p, mu_q, sigma_q",
    [(2.0, 0.5, 1.0, 1.0), (1.0, 1.0, 2.0, 0.5), (0.0, 1.0, 0.5, 1.0), (-1.0, 2.0, 3.0, 0.7), (0.3, 0.1, -0.2, 5.0)],
)
def test_agrees_with_numerical_integration(mu_p, sigma_p, mu_q, sigma_q):
    p, q = scipy.stats.norm(mu_p, sigma_p), scipy.stats.norm(mu_q, sigma_q)

    def integrand(x):
        return p.pdf(x) * (p.logpdf(x) - q.logpdf(x))

    # p's mass beyond 12 standard deviations is below 1e-32.
    lo, hi = mu_p - 12 * sigma_p, mu_p + 12 * sigma_p
    integral, error = scipy.integrate.quad(integrand, lo, hi, points=[mu_p], epsabs=1e-13, epsrel=1e-12, limit=200)
    assert error < 1e-10
    np.testing.assert_allclose(kl_normal(mu_p, sigma_p, mu_q, sigma_q), integral, rtol=1e-9)


def test_nearly_equal_scales_keep_relative_accuracy_where_textbook_form_loses_all_digits():
    sigma_p, sigma_q = 1.0 + 1e-9, 1.0  # sigma_p = sigma_q (1 + 1e-9), equal means
    # With l = 2 ln(sigma_p / sigma_q): D = (e^l - 1 - l) / 2 = l^2/4 + l^3/12 + l^4/48 + ...
    # sigma_p - 1 is exact in float64, and log1p keeps l accurate to the last digit.
    ell = 2.0 * math.log1p(sigma_p - sigma_q)
    series = ell**2 / 4 + ell**3 / 12 + ell**4 / 48
    assert series == pytest.approx(1e-18, rel=1e-6)
    np.testing.assert_allclose(kl_normal(0.0, sigma_p, 0.0, sigma_q), series, rtol=1e-6)
    # The textbook form subtracts numbers near 1/2 that agree to ~1e-18: nothing is left.
    naive = _textbook(0.0, sigma_p, 0.0, sigma_q)
    assert abs(naive - series) > 0.5 * series


def test_base_two_gives_bits():
    assert kl_normal(2.0, 0.5, 1.0, 1.0, base=2) == pytest.approx((1 / 8 + math.log(2)) / math.log(2), rel=1e-15)
    assert kl_diag_normal([2.0, 0.0], [0.5, 1.0], 1.0, 1.0, base=2) == pytest.approx(
        (1 / 8 + math.log(2) + 0.5) / math.log(2), rel=1e-15
    )


def test_parameters_broadcast_and_scalars_give_numpy_scalar():
    mu_p = np.linspace(-1, 1, 3)[:, None]  # (3, 1)
    sigma_q = np.array([0.5, 1.0, 2.0, 4.0])  # (4,)
    grid = kl_normal(mu_p, 1.0, 0.0, sigma_q)
    assert grid.shape == (3, 4)
    assert grid[2, 1] == pytest.approx(_textbook(1.0, 1.0, 0.0, 1.0), rel=1e-14)
    single = kl_normal(0.0, 1.0, 1.0, 2.0)
    assert isinstance(single, np.float64) and np.ndim(single) == 0


# --------------------------------------------------------------------------------------------------
# kl_diag_normal
# --------------------------------------------------------------------------------------------------


def test_diagonal_divergence_is_the_sum_over_coordinates():
    rng = np.random.default_rng(32)
    mu_p, mu_q = rng.normal(size=(5, 8)), rng.normal(size=(5, 8))
    sigma_p, sigma_q = np.exp(rng.normal(size=(5, 8))), np.exp(rng.normal(size=(5, 8)))
    expected = [
        math.fsum(_textbook(*args) for args in zip(mu_p[b], sigma_p[b], mu_q[b], sigma_q[b])) for b in range(5)
    ]
    np.testing.assert_allclose(kl_diag_normal(mu_p, sigma_p, mu_q, sigma_q), expected, rtol=1e-12)


def test_diagonal_divergence_agrees_with_tensorflow_probability():
    rng = np.random.default_rng(33)
    mu_p, mu_q = rng.normal(size=(6, 4)), rng.normal(size=(6, 4))
    sigma_p, sigma_q = np.exp(rng.normal(size=(6, 4))), np.exp(rng.normal(size=(6, 4)))
    expected = tfd.kl_divergence(
        tfd.MultivariateNormalDiag(tf.constant(mu_p), tf.constant(sigma_p)),
        tfd.MultivariateNormalDiag(tf.constant(mu_q), tf.constant(sigma_q)),
    ).numpy()
    np.testing.assert_allclose(kl_diag_normal(mu_p, sigma_p, mu_q, sigma_q), expected, rtol=1e-10)


def test_vae_posterior_against_standard_normal_prior():
    # Kingma & Welling (2014), appendix B: -D = 1/2 sum_j (1 + ln sigma_j^2 - mu_j^2 - sigma_j^2).
    rng = np.random.default_rng(34)
    mu, sigma = rng.normal(size=(10, 16)), np.exp(0.5 * rng.normal(size=(10, 16)))
    expected = -0.5 * np.sum(1 + np.log(sigma**2) - mu**2 - sigma**2, axis=-1)
    np.testing.assert_allclose(kl_diag_normal(mu, sigma, 0.0, 1.0), expected, rtol=1e-12)
    assert kl_diag_normal([0.5, -0.5], [1.0, 0.5], 0.0, 1.0) == pytest.approx(
        0.125 + (0.125 + math.log(2) - 0.375), rel=1e-14
    )


def test_diagonal_divergence_sums_along_the_given_axis():
    rng = np.random.default_rng(35)
    mu_p, sigma_p = rng.normal(size=(3, 7)), np.exp(rng.normal(size=(3, 7)))
    rows = kl_diag_normal(mu_p, sigma_p, 0.0, 1.0)
    assert rows.shape == (3,)
    np.testing.assert_allclose(kl_diag_normal(mu_p.T, sigma_p.T, 0.0, 1.0, axis=0), rows, rtol=1e-15)
    total = kl_diag_normal(mu_p[0], sigma_p[0], 0.0, 1.0)
    assert isinstance(total, np.float64) and total == pytest.approx(rows[0], rel=1e-15)


# --------------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("sigma, shown", [(0.0, "0.0"), (-1.0, "-1.0"), (np.inf, "inf"), (np.nan, "nan")])
def test_non_positive_or_non_finite_standard_deviation_is_rejected(sigma, shown):
    with pytest.raises(ValueError, match=re.escape(f"sigma_p must be positive and finite (a standard deviation); got np.float64({shown})")):
        kl_normal(0.0, sigma, 0.0, 1.0)
    with pytest.raises(ValueError, match=re.escape(f"sigma_q must be positive and finite (a standard deviation); got np.float64({shown}) at index (1,)")):
        kl_diag_normal([0.0, 0.0], 1.0, 0.0, [1.0, sigma])


@pytest.mark.parametrize("mu, shown", [(np.nan, "nan"), (np.inf, "inf"), (-np.inf, "-inf")])
def test_non_finite_mean_is_rejected(mu, shown):
    with pytest.raises(ValueError, match=re.escape(f"mu_p must be finite; got np.float64({shown})")):
        kl_normal(mu, 1.0, 0.0, 1.0)
    with pytest.raises(ValueError, match=re.escape(f"mu_q must be finite; got np.float64({shown}) at index (0, 1)")):
        kl_normal(0.0, 1.0, [[0.0, mu]], 1.0)


def test_parameters_that_do_not_broadcast_are_rejected():
    message = "the parameters must broadcast together; got shapes mu_p (2,), sigma_p (3,), mu_q (), sigma_q ()"
    with pytest.raises(ValueError, match=re.escape(message)):
        kl_normal([0.0, 1.0], [1.0, 1.0, 1.0], 0.0, 1.0)
    with pytest.raises(ValueError, match=re.escape(message)):
        kl_diag_normal([0.0, 1.0], [1.0, 1.0, 1.0], 0.0, 1.0)


def test_non_real_parameter_is_rejected():
    with pytest.raises(TypeError, match=re.escape("mu_q must contain real numbers; got dtype <U1")):
        kl_normal(0.0, 1.0, "a", 1.0)


def test_empty_parameter_is_rejected():
    with pytest.raises(ValueError, match=re.escape("sigma_q is empty (shape (0,))")):
        kl_normal(0.0, 1.0, 0.0, [])


def test_diagonal_divergence_needs_a_coordinate_axis():
    with pytest.raises(ValueError, match=re.escape("kl_diag_normal needs a coordinate axis; got only scalar parameters (use kl_normal)")):
        kl_diag_normal(0.0, 1.0, 0.0, 1.0)


def test_diagonal_divergence_rejects_axis_out_of_range_or_not_an_integer():
    with pytest.raises(ValueError, match=re.escape("axis 2 is out of range for the broadcast parameters with 2 dimension(s)")):
        kl_diag_normal([[0.0]], 1.0, 0.0, 1.0, axis=2)
    with pytest.raises(TypeError, match=re.escape("axis must be an integer; got 0.5")):
        kl_diag_normal([0.0], 1.0, 0.0, 1.0, axis=0.5)


@pytest.mark.parametrize("base", [0, 1, -2.0, math.inf])
def test_invalid_base_is_rejected(base):
    with pytest.raises(ValueError, match=re.escape(f"base must be positive, finite and not 1; got {base!r}")):
        kl_normal(0.0, 1.0, 0.0, 1.0, base=base)
    with pytest.raises(ValueError, match=re.escape(f"base must be positive, finite and not 1; got {base!r}")):
        kl_diag_normal([0.0], 1.0, 0.0, 1.0, base=base)


# --------------------------------------------------------------------------------------------------
# Full covariances (issue 11)
# --------------------------------------------------------------------------------------------------


def _random_covariance(rng, d):
    a = rng.normal(size=(d, d))
    return a @ a.T + 0.5 * np.eye(d)


def test_full_covariance_divergence_agrees_with_tensorflow_probability_tril():
    from kldiv import kl_mvn_normal

    rng = np.random.default_rng(61)
    for d in (1, 2, 5):
        mu_p, mu_q = rng.normal(size=d), rng.normal(size=d)
        cov_p, cov_q = _random_covariance(rng, d), _random_covariance(rng, d)
        p = tfd.MultivariateNormalTriL(mu_p, np.linalg.cholesky(cov_p))
        q = tfd.MultivariateNormalTriL(mu_q, np.linalg.cholesky(cov_q))
        expected = float(tfd.kl_divergence(p, q))
        assert kl_mvn_normal(mu_p, cov_p, mu_q, cov_q) == pytest.approx(expected, rel=1e-10)


def test_full_covariance_divergence_agrees_with_a_monte_carlo_estimate():
    from kldiv import kl_mvn_normal, monte_carlo_kl

    rng = np.random.default_rng(62)
    mu_p, mu_q = np.array([0.0, 1.0, -0.5]), np.array([0.3, 0.5, 0.0])
    cov_p, cov_q = _random_covariance(rng, 3), _random_covariance(rng, 3) + np.eye(3)
    x = rng.multivariate_normal(mu_p, cov_p, size=200_000)
    log_p = scipy.stats.multivariate_normal(mu_p, cov_p).logpdf(x)
    log_q = scipy.stats.multivariate_normal(mu_q, cov_q).logpdf(x)
    terms = log_p - log_q
    se = terms.std(ddof=1) / np.sqrt(terms.size)
    assert abs(monte_carlo_kl(log_p, log_q, estimator="k1") - kl_mvn_normal(mu_p, cov_p, mu_q, cov_q)) < 4 * se


def test_full_covariance_divergence_reduces_to_the_diagonal_one_and_broadcasts():
    from kldiv import kl_mvn_normal

    mu_p, sigma_p = np.array([[0.5, -0.5], [1.0, 0.0]]), np.array([[1.0, 0.5], [2.0, 0.3]])
    cov_p = sigma_p[..., None] * np.eye(2) * sigma_p[:, None, :]
    np.testing.assert_allclose(kl_mvn_normal(mu_p, cov_p, np.zeros(2), np.eye(2)), kl_diag_normal(mu_p, sigma_p, 0.0, 1.0), rtol=1e-13)


@pytest.mark.parametrize(
    "cov_q, message",
    [
        ([[1.0, 2.0], [2.0, 1.0]], "cov_q must be positive definite (a covariance matrix); its smallest eigenvalue is -1"),
        ([[1.0, 0.5], [0.0, 1.0]], "cov_q must be symmetric; cov_q[0, 1] differs from its transpose by 0.5"),
        ([[1.0, np.nan], [np.nan, 1.0]], "cov_q must be finite; got np.float64(nan) at index (0, 1)"),
        (np.eye(3), "cov_q must have shape (..., 2, 2) to match mu_p's d = 2; got shape (3, 3)"),
    ],
)
def test_full_covariance_divergence_rejects_bad_covariances_by_name(cov_q, message):
    from kldiv import kl_mvn_normal

    with pytest.raises(ValueError, match=re.escape(message)):
        kl_mvn_normal([0.0, 0.0], np.eye(2), [0.0, 0.0], np.asarray(cov_q))
