"""kldiv's accuracy claims checked against 60-digit arithmetic (mpmath), issue 11.

The reference for ``kl_divergence(p, q)`` is the divergence of the float inputs, each row divided
by its exact sum, evaluated with mpmath at 60 significant digits: nothing in it is rounded to
float64 before the end. The documented bound is a relative error of (K + 30) eps for K outcomes (plus an
absolute eps ||p - q||_1^2, which matters only where the exact divergence is 0).
Rows that agree to 8-14 digits are the hard case (SciPy gh-20710): there the textbook sum keeps
only an absolute error of about eps, which the tests show next to kldiv's result so that a
regression to it would fail.
"""

from __future__ import annotations

import mpmath
import numpy as np
import pytest
import scipy.special
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from kldiv import kl_divergence, kl_divergence_from_logits, kl_estimator_terms, log_likelihood_ratio

EPS = np.finfo(np.float64).eps
mpmath.mp.dps = 60


def _mp_kl(p, q) -> mpmath.mpf:
    x = [mpmath.mpf(float(v)) for v in p]
    y = [mpmath.mpf(float(v)) for v in q]
    sp, sq = mpmath.fsum(x), mpmath.fsum(y)
    return mpmath.fsum((a / sp) * mpmath.log((a / sp) / (b / sq)) for a, b in zip(x, y) if a > 0)


def _mp_kl_logits(zp, zq) -> mpmath.mpf:
    a = [mpmath.mpf(float(v)) for v in zp]
    b = [mpmath.mpf(float(v)) for v in zq]
    la = mpmath.log(mpmath.fsum(mpmath.exp(v) for v in a))
    lb = mpmath.log(mpmath.fsum(mpmath.exp(v) for v in b))
    return mpmath.fsum(mpmath.exp(u - la) * ((u - la) - (v - lb)) for u, v in zip(a, b))


def _relative_error(value, reference: mpmath.mpf) -> float:
    return float(abs(mpmath.mpf(float(value)) - reference) / reference)


def _nearly_identical_rows(rng, k, digits):
    """p from a Dirichlet, q = p with relative perturbations of 10**-digits, renormalised in float64."""
    p = rng.dirichlet(np.ones(k))
    q = p * (1 + 10.0**-digits * rng.standard_normal(k))
    return p, q / q.sum()


# 14-8 digits: divergences below 1e-12, summed with c - 1 from exact differences; 5-1 digits: the
# fast path, with a series for the terms whose ratio is near 1 and (r - 1) - ln r for the others.
@pytest.mark.parametrize("digits", [14, 12, 8, 5, 3, 1])
@pytest.mark.parametrize("k", [2, 10, 100])
def test_divergence_of_rows_agreeing_to_many_digits_meets_the_documented_bound(k, digits):
    rng = np.random.default_rng(1100 + 10 * k + digits)
    for _ in range(5):
        p, q = _nearly_identical_rows(rng, k, digits)
        reference = _mp_kl(p, q)
        assert _relative_error(kl_divergence(p, q), reference) <= (k + 30) * EPS
        # float32 rows are exact in float64; their sums are 1 only to float32 rounding, so
        # normalize=True, whose scaling error (eps |s_p / s_q - 1| sqrt(D)) is far below the bound.
        p32 = p.astype(np.float32)
        value = kl_divergence(p32, q, normalize=True)
        assert _relative_error(value, _mp_kl(p32, q)) <= (k + 30) * EPS


def test_textbook_sum_fails_the_bound_on_rows_agreeing_to_fourteen_digits():
    # Why the bound needs the log1p form: the same rows through scipy.special.rel_entr (log of the
    # rounded ratio) are off by far more than (K + 30) eps, so the test above can fail.
    rng = np.random.default_rng(1114)
    p, q = _nearly_identical_rows(rng, 10, 14)
    reference = _mp_kl(p, q)
    assert _relative_error(scipy.special.rel_entr(p, q).sum(), reference) > 1e-6
    assert _relative_error(kl_divergence(p, q), reference) <= 40 * EPS


_weights = st.floats(min_value=1e-12, max_value=1.0)


@settings(max_examples=80, deadline=None)
@given(hnp.arrays(np.float64, st.integers(1, 8), elements=_weights), st.data())
def test_divergence_of_random_rows_meets_the_documented_bound(w, data):
    p = w / w.sum()
    v = data.draw(hnp.arrays(np.float64, w.size, elements=_weights))
    q = v / v.sum()
    reference = _mp_kl(p, q)
    value = kl_divergence(p, q)
    # The documented bound: (K + 30) eps relative, plus eps ||p - q||_1^2 absolute, which matters
    # only where rows that differ as given are equal after exact normalisation (reference 0).
    bound = (p.size + 30) * EPS * reference + EPS * mpmath.mpf(float(np.abs(p - q).sum())) ** 2
    assert abs(mpmath.mpf(float(value)) - reference) <= bound, (value, reference)


@settings(max_examples=60, deadline=None)
@given(hnp.arrays(np.float64, st.integers(2, 8), elements=st.floats(-20, 20)),
       st.sampled_from([1e-14, 1e-10, 1e-6, 1e-2, 1.0]), st.integers(0, 2**32 - 1))
def test_divergence_from_logits_keeps_its_relative_accuracy_for_close_logits(zp, scale, seed):
    zq = zp + scale * np.random.default_rng(seed).standard_normal(zp.size)
    reference = _mp_kl_logits(zp, zq)
    value = kl_divergence_from_logits(zp, zq)
    if reference == 0:
        assert value == 0.0
    else:
        # One more eps per outcome than for probabilities: the log-softmax rounds each logit.
        assert _relative_error(value, reference) <= (2 * zp.size + 40) * EPS


@pytest.mark.parametrize(
    "x, y, expected",
    [
        # SciPy's test_rel_entr_gh_20710_near_zero: x * log(x / y) by mpmath at 30 digits.
        (0.9456657713430001, 0.9456657713430094, -9.325873406851269e-15),
        (0.48066098564791515, 0.48066098564794774, -3.258504577274724e-14),
        (0.786048657854401, 0.7860486578542367, 1.6431300764454033e-13),
    ],
)
def test_log_likelihood_ratio_near_one_matches_scipy_gh_20710_to_1e_13(x, y, expected):
    assert x * log_likelihood_ratio(x, y) == pytest.approx(expected, rel=1e-13, abs=0)
    assert x * log_likelihood_ratio([x], [y])[0] == pytest.approx(expected, rel=1e-13, abs=0)


@settings(max_examples=80, deadline=None)
@given(st.floats(1e-300, 1e300), st.floats(-1e-3, 1e-3).filter(lambda e: e != 0))
def test_log_likelihood_ratio_of_close_values_has_relative_accuracy(y, rel):
    x = y * (1 + rel)
    reference = mpmath.log(mpmath.mpf(x) / mpmath.mpf(y))
    if reference != 0:
        assert _relative_error(log_likelihood_ratio(x, y), reference) <= 4 * EPS


@pytest.mark.parametrize("log_r", [1e-15, -3e-12, 1e-8, -1e-4, 0.05, -0.1, 0.12])
def test_k3_terms_keep_their_relative_accuracy_near_r_equal_one(log_r):
    # k3 = r - 1 - ln r = expm1(l) - l; taken directly it loses about log2(2 / |l|) bits.
    reference = mpmath.expm1(mpmath.mpf(log_r)) - mpmath.mpf(log_r)
    value = kl_estimator_terms(np.zeros(1), np.array([log_r]), estimator="k3")[0]
    assert _relative_error(value, reference) <= 4 * EPS
