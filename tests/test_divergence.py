"""Tests for kldiv.divergence: entropy, cross-entropy, KL divergence (probabilities and logits),
log-likelihood ratio and expected value.

References used instead of restating the implementation: closed forms (computed with ``math.log``),
SciPy (``scipy.special.rel_entr``, ``scipy.stats.entropy``, ``scipy.special.softmax``),
TensorFlow Probability's categorical KL, ``math.fsum`` and the ``decimal`` module at 60 digits.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, localcontext

import numpy as np
import pytest
import scipy.special
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import kldiv
from kldiv import (
    cross_entropy,
    entropy,
    expected_value,
    kl_divergence,
    kl_divergence_from_logits,
    log_likelihood_ratio,
)
from kldiv import _blocks
from kldiv.notebook import quiet_native_logs

with quiet_native_logs():
    import tensorflow as tf
    import tensorflow_probability as tfp

tfd = tfp.distributions

INF = math.inf

# --------------------------------------------------------------------------------------------------
# Strategies
# --------------------------------------------------------------------------------------------------

# Weights: exact zeros, or anything from 1e-300 to 1. Subnormal weights are left out on purpose:
# a ratio q/p in the subnormal range has only a few significant bits (see the report on
# kl_divergence([1/3, 2/3], [1, 5e-324])), which is not what these properties are about.
_weights = st.one_of(st.just(0.0), st.floats(min_value=1e-300, max_value=1.0))


@st.composite
def distributions(draw, k=None, *, min_k=1, max_k=8, positive=False):
    """A probability vector: non-negative weights (sometimes zeros) normalised in float64."""
    if k is None:
        k = draw(st.integers(min_k, max_k))
    elements = st.floats(min_value=1e-3, max_value=1.0) if positive else _weights
    w = draw(hnp.arrays(np.float64, k, elements=elements).filter(lambda a: a.sum() > 0))
    return w / w.sum()


@st.composite
def distribution_pairs(draw, *, min_k=1, max_k=8, positive=False):
    k = draw(st.integers(min_k, max_k))
    return draw(distributions(k, positive=positive)), draw(distributions(k, positive=positive))


@st.composite
def logit_pairs(draw, *, max_k=8):
    k = draw(st.integers(1, max_k))
    logits = hnp.arrays(np.float64, k, elements=st.floats(min_value=-50.0, max_value=50.0))
    return draw(logits), draw(logits)


# --------------------------------------------------------------------------------------------------
# Known values
# --------------------------------------------------------------------------------------------------


def test_cats_and_dogs_divergences_in_bits_match_closed_forms():
    # Reality is "dog" = (1, 0); D((1, 0) || q) = log2(1 / q_dog).
    assert kl_divergence([1, 0], [0.8, 0.2], base=2) == pytest.approx(math.log2(1.25), rel=1e-14)
    assert kl_divergence([1, 0], [0.2, 0.8], base=2) == pytest.approx(math.log2(5.0), rel=1e-14)
    assert kl_divergence([1, 0], [1, 0], base=2) == 0.0
    assert round(float(kl_divergence([1, 0], [0.8, 0.2], base=2)), 4) == 0.3219
    assert round(float(kl_divergence([1, 0], [0.2, 0.8], base=2)), 4) == 2.3219


def test_fair_coin_against_unfair_coin_matches_closed_form():
    # D((1/2, 1/2) || (0.99, 0.01)) = 1/2 ln(0.5/0.99) + 1/2 ln(0.5/0.01) = 1/2 ln(25/0.99)
    expected = 0.5 * math.log(25 / 0.99)
    assert kl_divergence([0.5, 0.5], [0.99, 0.01]) == pytest.approx(expected, rel=1e-14)
    assert round(float(kl_divergence([0.5, 0.5], [0.99, 0.01])), 7) == 1.6144631


def test_fair_coin_has_one_bit_of_entropy():
    assert entropy([0.5, 0.5], base=2) == pytest.approx(1.0, rel=1e-15)


def test_fair_die_has_entropy_log_six():
    assert entropy(np.full(6, 1 / 6)) == pytest.approx(math.log(6), rel=1e-15)


def test_certain_outcome_has_zero_entropy_without_negative_zero():
    for p in ([1.0], [0.0, 1.0, 0.0]):
        h = entropy(p)
        assert h == 0.0 and math.copysign(1.0, h) == 1.0
    assert math.copysign(1.0, cross_entropy([1.0, 0.0], [1.0, 0.0])) == 1.0


def test_cross_entropy_with_one_hot_target_is_surprise_of_true_class():
    assert cross_entropy([0, 1, 0], [0.2, 0.5, 0.3]) == pytest.approx(-math.log(0.5), rel=1e-15)


def test_divergence_is_not_symmetric():
    p, q = [0.5, 0.5], [0.9, 0.1]
    forward = 0.5 * math.log(0.5 / 0.9) + 0.5 * math.log(0.5 / 0.1)  # 0.5108
    reverse = 0.9 * math.log(0.9 / 0.5) + 0.1 * math.log(0.1 / 0.5)  # 0.3681
    assert kl_divergence(p, q) == pytest.approx(forward, rel=1e-14)
    assert kl_divergence(q, p) == pytest.approx(reverse, rel=1e-14)
    assert abs(kl_divergence(p, q) - kl_divergence(q, p)) > 0.1


# --------------------------------------------------------------------------------------------------
# Conventions: 0 log 0, infinities, base, axis, broadcasting, return types
# --------------------------------------------------------------------------------------------------


def test_outcomes_ruled_out_by_p_contribute_nothing_even_where_q_is_zero():
    # The third outcome has p = q = 0 (0 log 0/0 = 0); the second has p = 0 < q.
    p, q = [0.5, 0.0, 0.0, 0.5], [0.25, 0.5, 0.0, 0.25]
    assert kl_divergence(p, q) == pytest.approx(math.log(2.0), rel=1e-15)
    assert cross_entropy(p, q) == pytest.approx(math.log(4.0), rel=1e-15)
    assert entropy(p) == pytest.approx(math.log(2.0), rel=1e-15)


@pytest.mark.parametrize("func", [kl_divergence, cross_entropy])
def test_positive_p_where_q_is_zero_gives_exactly_infinity(func):
    value = func([0.5, 0.5], [1.0, 0.0])
    assert np.isinf(value) and value > 0
    rows = func([[0.5, 0.5], [0.5, 0.5]], [[1.0, 0.0], [0.5, 0.5]])
    assert np.isinf(rows[0]) and np.isfinite(rows[1])


@pytest.mark.parametrize("func", [entropy, cross_entropy, kl_divergence])
def test_base_two_gives_bits(func):
    rng = np.random.default_rng(11)
    p, q = rng.dirichlet(np.ones(5)), rng.dirichlet(np.ones(5))
    args = (p,) if func is entropy else (p, q)
    assert func(*args, base=2) == pytest.approx(func(*args) / math.log(2), rel=1e-15)


@pytest.mark.parametrize("func", [entropy, cross_entropy, kl_divergence])
def test_explicit_axis_on_transposed_batch_equals_last_axis(func):
    rng = np.random.default_rng(12)
    p, q = rng.dirichlet(np.ones(4), size=3), rng.dirichlet(np.ones(4), size=3)
    args = (p,) if func is entropy else (p, q)
    along_rows = func(*args)
    along_columns = func(*(a.T for a in args), axis=0)
    np.testing.assert_array_equal(along_columns, along_rows)


def test_event_axis_in_the_middle_of_three_dimensions():
    rng = np.random.default_rng(13)
    p = rng.dirichlet(np.ones(5), size=(2, 3))  # (2, 3, 5)
    q = rng.dirichlet(np.ones(5), size=(2, 3))
    moved = kl_divergence(np.moveaxis(p, -1, 1), np.moveaxis(q, -1, 1), axis=1)
    assert moved.shape == (2, 3)
    np.testing.assert_array_equal(moved, kl_divergence(p, q))


def test_batch_of_p_broadcasts_against_single_q():
    rng = np.random.default_rng(14)
    ps, q = rng.dirichlet(np.ones(6), size=4), rng.dirichlet(np.ones(6))
    batch = kl_divergence(ps, q)
    assert batch.shape == (4,)
    np.testing.assert_allclose(batch, [kl_divergence(p, q) for p in ps], rtol=1e-15)
    # Batch axes broadcast by NumPy's rules: (4, 1, K) against (3, K) gives (4, 3).
    qs = rng.dirichlet(np.ones(6), size=3)
    grid = kl_divergence(ps[:, None, :], qs)
    assert grid.shape == (4, 3)
    np.testing.assert_allclose(grid[2, 1], kl_divergence(ps[2], qs[1]), rtol=1e-15)


@pytest.mark.parametrize("func", [entropy, cross_entropy, kl_divergence])
def test_one_dimensional_input_returns_numpy_scalar_and_batch_returns_array(func):
    p = np.array([0.25, 0.75])
    single = func(p) if func is entropy else func(p, p[::-1])
    assert isinstance(single, np.float64) and np.ndim(single) == 0
    batch = func(np.stack([p, p, p])) if func is entropy else func(np.stack([p, p, p]), p[::-1])
    assert isinstance(batch, np.ndarray) and batch.shape == (3,) and batch.dtype == np.float64


def test_float32_input_gives_float64_result():
    p = np.array([0.25, 0.75], dtype=np.float32)
    assert kl_divergence(p, p[::-1]).dtype == np.float64
    assert entropy(p).dtype == np.float64


def test_integer_and_boolean_inputs_are_distributions():
    assert kl_divergence([1, 0], [True, False]) == 0.0
    assert entropy(np.array([0, 1], dtype=np.int8)) == 0.0


def test_normalize_accepts_unnormalised_rows_and_equals_normalised_result():
    counts, model = np.array([3.0, 1.0, 0.0, 4.0]), np.array([1.0, 1.0, 1.0, 1.0])
    p, q = counts / counts.sum(), model / model.sum()
    assert kl_divergence(counts, model, normalize=True) == pytest.approx(kl_divergence(p, q), rel=1e-15)
    assert entropy(counts, normalize=True) == pytest.approx(entropy(p), rel=1e-15)
    assert cross_entropy(counts, model, normalize=True) == pytest.approx(cross_entropy(p, q), rel=1e-15)


def test_atol_loosens_or_tightens_the_row_sum_check():
    p = np.array([0.5, 0.5 + 1e-6])
    with pytest.raises(ValueError, match=r"sums to 1\.000001"):
        entropy(p)
    assert entropy(p, atol=1e-5) == pytest.approx(math.log(2), rel=1e-6)
    # float32 rows get the float32 tolerance sqrt(eps32) = 3.5e-4 by default.
    assert np.isfinite(entropy(np.array([0.5, 0.5001], dtype=np.float32)))
    with pytest.raises(ValueError, match=r"atol=1e-08"):
        entropy(np.array([0.5, 0.5001], dtype=np.float32), atol=1e-8)


# --------------------------------------------------------------------------------------------------
# Precision
# --------------------------------------------------------------------------------------------------


def _kl_reference_fsum(a32: np.ndarray, b32: np.ndarray) -> float:
    """KL of the exact normalised float32 rows a / sum(a), b / sum(b), accurate for nearly equal rows.

    Naively summing p ln(p / q) in float64 leaves an absolute error of ~1e-16 (from normalising each
    row and from log(p / q) near 1) against a divergence of ~1e-13: three digits at best. Instead, with
    A = sum a and B = sum b (exact in float64, and fsum is correctly rounded):

        D = sum (a/A) ln((a/A) / (b/B)) = (1/A) sum a ln(a/b) + ln(B/A)
          = -(1/A) sum a log1p((b - a)/a) + log1p((B - A)/A).

    b - a is exact in float64 for float32 inputs, log1p keeps relative accuracy, and math.fsum adds
    the terms without rounding error, so the two remaining terms (each ~1e-7) carry absolute errors
    ~1e-23 and their sum ~1e-13 is accurate to about 10 digits.
    """
    a, b = a32.astype(np.float64), b32.astype(np.float64)
    total_a = math.fsum(a)
    total_diff = math.fsum(b - a)
    s = math.fsum(-a * np.log1p((b - a) / a))
    return s / total_a + math.log1p(total_diff / total_a)


def _kl_reference_decimal(p: np.ndarray, q: np.ndarray) -> float:
    """KL of p / sum(p) and q / sum(q) evaluated with 60 significant digits (decimal module)."""
    with localcontext() as ctx:
        ctx.prec = 60
        xs, ys = [Decimal(float(v)) for v in p], [Decimal(float(v)) for v in q]
        sx, sy = sum(xs), sum(ys)
        total = Decimal(0)
        for x, y in zip(xs, ys):
            if x > 0:
                x, y = x / sx, y / sy
                total += x * (x / y).ln()
        return float(total)


def test_nearly_identical_float32_distributions_have_small_positive_accurate_divergence():
    rng = np.random.default_rng(2021)
    p = (rng.random(1000) + 0.01).astype(np.float32)
    p /= p.sum()
    q = (p * (1 + 1e-6 * rng.standard_normal(1000))).astype(np.float32)
    q /= q.sum()
    assert p.dtype == q.dtype == np.float32
    d = kl_divergence(p, q)
    reference = _kl_reference_fsum(p, q)
    assert 1e-14 < reference < 1e-11  # the regime where naive formulas lose most digits
    assert d > 0
    np.testing.assert_allclose(d, reference, rtol=1e-8)
    # The fsum reference itself agrees with a 60-digit evaluation.
    np.testing.assert_allclose(reference, _kl_reference_decimal(p, q), rtol=1e-8)


def test_nearly_identical_float32_batch_is_never_negative():
    rng = np.random.default_rng(2022)
    p = rng.dirichlet(np.ones(50), size=200).astype(np.float32)
    p /= p.sum(axis=1, keepdims=True)
    q = (p * (1 + 1e-7 * rng.standard_normal(p.shape))).astype(np.float32)
    q /= q.sum(axis=1, keepdims=True)
    d = kl_divergence(p, q)
    assert (d >= 0).all()
    references = [_kl_reference_fsum(a, b) for a, b in zip(p, q)]
    np.testing.assert_allclose(d, references, rtol=1e-6, atol=1e-22)


def test_nearly_identical_float64_distributions_match_high_precision_reference():
    rng = np.random.default_rng(2023)
    p = rng.random(1000) + 0.01
    p /= p.sum()
    q = p * (1 + 1e-9 * rng.standard_normal(1000))
    q /= q.sum()
    d = kl_divergence(p, q)
    reference = _kl_reference_decimal(p, q)  # ~5e-19
    assert d > 0
    # Relative error ~ eps / 1e-9 from rounding q / p; a naive sum of p ln(p/q) is off by ~100x.
    np.testing.assert_allclose(d, reference, rtol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_identical_distributions_have_exactly_zero_divergence(dtype):
    rng = np.random.default_rng(15)
    p = rng.dirichlet(np.full(100, 0.3), size=20).astype(dtype)
    p[:, :5] = 0  # zeros too
    p /= p.sum(axis=1, keepdims=True)
    d = kl_divergence(p, p.copy())
    assert np.array_equal(d, np.zeros(20))


# --------------------------------------------------------------------------------------------------
# Large batches: block-wise and multi-threaded evaluation
# --------------------------------------------------------------------------------------------------


def test_large_batch_equals_row_by_row_computation():
    assert 3000 * 1000 >= _blocks.THREAD_MIN_ELEMENTS  # the multi-threaded path
    rng = np.random.default_rng(16)
    p = rng.dirichlet(np.ones(1000), size=3000)
    q = rng.dirichlet(np.ones(1000), size=3000)
    q[7, 3] = 0.0  # one infinite row, far from the first block
    q[7] /= q[7].sum()
    p[2500, :10] = 0.0  # and a row with zeros in p
    p[2500] /= p[2500].sum()
    batch = kl_divergence(p, q)
    rows = np.array([kl_divergence(a, b) for a, b in zip(p, q)])
    np.testing.assert_allclose(batch, rows, rtol=1e-13)
    assert np.isinf(batch[7]) and np.isfinite(np.delete(batch, 7)).all()
    np.testing.assert_allclose(batch[:50], scipy.special.rel_entr(p[:50], q[:50]).sum(axis=1), rtol=1e-9)


@pytest.fixture
def many_small_blocks(monkeypatch):
    """Blocks of 64 elements, threaded from 256 elements on: small inputs take the parallel path."""
    monkeypatch.setattr(_blocks, "BLOCK_ELEMENTS", 64)
    monkeypatch.setattr(_blocks, "THREAD_MIN_ELEMENTS", 256)
    monkeypatch.setattr(_blocks, "_workers", lambda: 4)


@pytest.mark.parametrize("func", [entropy, cross_entropy, kl_divergence, expected_value])
def test_results_do_not_depend_on_the_number_of_threads(func, monkeypatch):
    rng = np.random.default_rng(17)
    p = rng.dirichlet(np.full(10, 0.5), size=(31, 7))  # 2170 elements, rows of 10
    q = rng.dirichlet(np.full(10, 0.5), size=(31, 7))
    p[3, 4, :2] = 0.0
    p[3, 4] /= p[3, 4].sum()
    args = (p,) if func is entropy else (p, q)
    default_blocks = func(*args)
    monkeypatch.setattr(_blocks, "BLOCK_ELEMENTS", 64)  # 6 rows per block: 37 blocks
    serial = func(*args)
    monkeypatch.setattr(_blocks, "THREAD_MIN_ELEMENTS", 256)
    monkeypatch.setattr(_blocks, "_workers", lambda: 4)
    threaded = func(*args)
    assert threaded.shape == (31, 7)
    # Same blocks, any number of threads: bit for bit the same numbers.
    np.testing.assert_array_equal(threaded, serial)
    # Other block sizes: the same up to rounding.
    np.testing.assert_allclose(threaded, default_blocks, rtol=1e-14)


def test_threaded_error_names_the_first_bad_row(many_small_blocks):
    p = np.full((100, 10), 0.1)
    q = p.copy()
    q[60, 2] = -0.5  # a later block
    q[13, 9] = np.nan  # the first bad block: reported whichever thread finishes first
    with pytest.raises(ValueError, match=re.escape("q must contain non-negative, finite probabilities; got np.float64(nan) at index (13, 9)")):
        kl_divergence(p, q)


# --------------------------------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------------------------------


@settings(max_examples=60)
@given(distributions())
def test_divergence_of_a_distribution_from_itself_is_zero(p):
    assert kl_divergence(p, p) == 0.0


@settings(max_examples=60)
@given(distribution_pairs())
def test_divergence_is_non_negative(pq):
    p, q = pq
    assert kl_divergence(p, q) >= 0.0


@settings(max_examples=60)
@given(distribution_pairs())
def test_cross_entropy_is_entropy_plus_divergence(pq):
    p, q = pq
    np.testing.assert_allclose(
        cross_entropy(p, q), entropy(p) + kl_divergence(p, q), rtol=1e-9, atol=1e-12
    )


@settings(max_examples=40)
@given(distribution_pairs(), st.floats(min_value=1.01, max_value=100.0))
def test_result_in_base_b_times_ln_b_is_result_in_nats(pq, b):
    p, q = pq
    for value, nats in (
        (kl_divergence(p, q, base=b), kl_divergence(p, q)),
        (cross_entropy(p, q, base=b), cross_entropy(p, q)),
        (entropy(p, base=b), entropy(p)),
    ):
        np.testing.assert_allclose(value * math.log(b), nats, rtol=1e-13, atol=1e-300)


@settings(max_examples=60)
@given(distribution_pairs())
def test_divergence_agrees_with_scipy_rel_entr(pq):
    p, q = pq
    expected = scipy.special.rel_entr(p, q).sum()
    np.testing.assert_allclose(kl_divergence(p, q), expected, rtol=1e-9, atol=1e-14)
    np.testing.assert_allclose(kl_divergence(p, q, base=2), scipy.stats.entropy(p, q, base=2), rtol=1e-9, atol=1e-14)


@settings(max_examples=60)
@given(distributions())
def test_entropy_agrees_with_scipy_stats_entropy(p):
    np.testing.assert_allclose(entropy(p), scipy.stats.entropy(p), rtol=1e-9, atol=1e-14)
    np.testing.assert_allclose(entropy(p, base=2), scipy.stats.entropy(p, base=2), rtol=1e-9, atol=1e-14)


@settings(max_examples=60)
@given(logit_pairs())
def test_divergence_from_logits_equals_divergence_of_softmax(ab):
    a, b = ab
    expected = kl_divergence(scipy.special.softmax(a), scipy.special.softmax(b))
    np.testing.assert_allclose(kl_divergence_from_logits(a, b), expected, rtol=1e-8, atol=1e-12)


@settings(max_examples=40)
@given(logit_pairs(), st.floats(-100, 100), st.floats(-100, 100))
def test_logits_shifted_by_a_constant_give_the_same_divergence(ab, c, d):
    a, b = ab
    np.testing.assert_allclose(
        kl_divergence_from_logits(a + c, b + d), kl_divergence_from_logits(a, b), rtol=1e-9, atol=1e-11
    )


def test_large_logits_neither_overflow_nor_lose_small_probabilities():
    a, b = np.array([1000.0, 990.0, 0.0]), np.array([-1000.0, -1010.0, -2000.0])
    # Both rows are softmax((0, -10, -1000)) and softmax((0, -10, -1000)): the same distribution.
    assert kl_divergence_from_logits(a, b) == pytest.approx(0.0, abs=1e-15)
    a2 = np.array([0.0, -800.0])  # p = (1, e^-800): the second probability underflows
    b2 = np.array([-800.0, 0.0])
    assert kl_divergence_from_logits(a2, b2) == pytest.approx(800.0, rel=1e-12)


def test_divergence_from_logits_matches_closed_form_in_bits():
    # softmax(0, 0) = (1/2, 1/2); softmax(1, -1) = (e, e^-1) / (e + e^-1).
    qs = np.exp([1.0, -1.0]) / np.exp([1.0, -1.0]).sum()
    expected = 0.5 * math.log(0.5 / qs[0]) + 0.5 * math.log(0.5 / qs[1])
    assert kl_divergence_from_logits([0.0, 0.0], [1.0, -1.0]) == pytest.approx(expected, rel=1e-14)
    assert kl_divergence_from_logits([0.0, 0.0], [1.0, -1.0], base=2) == pytest.approx(expected / math.log(2), rel=1e-14)


def test_divergence_from_logits_batch_and_axis():
    rng = np.random.default_rng(18)
    a, b = rng.normal(size=(4, 6)), rng.normal(size=(4, 6))
    rows = kl_divergence_from_logits(a, b)
    assert rows.shape == (4,)
    np.testing.assert_allclose(kl_divergence_from_logits(a.T, b.T, axis=0), rows, rtol=1e-15)
    np.testing.assert_allclose(kl_divergence_from_logits(a, b[0]), [kl_divergence_from_logits(x, b[0]) for x in a], rtol=1e-15)
    assert isinstance(kl_divergence_from_logits(a[0], b[0]), np.float64)


def test_minus_infinity_logit_marks_an_impossible_class():
    both = kl_divergence_from_logits([0.0, 1.0, -INF], [1.0, 0.0, -INF])
    expected = kl_divergence(scipy.special.softmax([0.0, 1.0]), scipy.special.softmax([1.0, 0.0]))
    assert both == pytest.approx(expected, rel=1e-13)
    # Only q rules out a class that p allows: infinite.
    assert np.isinf(kl_divergence_from_logits([0.0, 0.0, 0.0], [0.0, 0.0, -INF]))
    # Only p rules it out: finite, and the same as with probabilities (1/2, 1/2, 0) vs uniform.
    only_p = kl_divergence_from_logits([0.0, 0.0, -INF], [0.0, 0.0, 0.0])
    assert only_p == pytest.approx(math.log(1.5), rel=1e-14)


# --------------------------------------------------------------------------------------------------
# Agreement with TensorFlow Probability
# --------------------------------------------------------------------------------------------------


def test_divergence_agrees_with_tensorflow_probability_categorical():
    rng = np.random.default_rng(19)
    for k in (2, 3, 10, 100):
        p = rng.dirichlet(np.full(k, 0.7), size=5)
        q = rng.dirichlet(np.full(k, 0.7), size=5)
        expected = tfd.kl_divergence(
            tfd.Categorical(probs=tf.constant(p, dtype=tf.float64)),
            tfd.Categorical(probs=tf.constant(q, dtype=tf.float64)),
        ).numpy()
        np.testing.assert_allclose(kl_divergence(p, q), expected, rtol=1e-6)


def test_divergence_from_logits_agrees_with_tensorflow_probability_categorical():
    rng = np.random.default_rng(20)
    a, b = 3 * rng.normal(size=(6, 5)), 3 * rng.normal(size=(6, 5))
    expected = tfd.kl_divergence(
        tfd.Categorical(logits=tf.constant(a, dtype=tf.float64)),
        tfd.Categorical(logits=tf.constant(b, dtype=tf.float64)),
    ).numpy()
    np.testing.assert_allclose(kl_divergence_from_logits(a, b), expected, rtol=1e-6)


# --------------------------------------------------------------------------------------------------
# Validation: one pytest.raises per branch, matching the argument and the value
# --------------------------------------------------------------------------------------------------

# (call, name of its probability argument): each call takes the probabilities under test first.
PROB_FUNCS = [
    pytest.param(lambda p, **kw: entropy(p, **kw), "p", id="entropy"),
    pytest.param(lambda p, **kw: cross_entropy(p, [0.5, 0.5], **kw), "p", id="cross_entropy"),
    pytest.param(lambda p, **kw: kl_divergence(p, [0.5, 0.5], **kw), "p", id="kl_divergence"),
    pytest.param(lambda q, **kw: kl_divergence([0.5, 0.5], q, **kw), "q", id="kl_divergence_q"),
    pytest.param(lambda p, **kw: expected_value([1.0, 2.0], p, **kw), "probs", id="expected_value"),
]


@pytest.mark.parametrize("func, name", PROB_FUNCS)
def test_negative_probability_is_rejected_with_name_and_index(func, name):
    with pytest.raises(ValueError, match=re.escape(f"{name} must contain non-negative, finite probabilities; got np.float64(-0.25) at index (1,)")):
        func([1.25, -0.25])


@pytest.mark.parametrize("func, name", PROB_FUNCS)
def test_nan_probability_is_rejected_with_name_and_index(func, name):
    with pytest.raises(ValueError, match=re.escape(f"{name} must contain non-negative, finite probabilities; got np.float64(nan) at index (1, 0)")):
        func(np.array([[0.5, 0.5], [np.nan, 0.5]]))


@pytest.mark.parametrize("func, name", PROB_FUNCS)
def test_infinite_probability_is_rejected_with_name_and_index(func, name):
    with pytest.raises(ValueError, match=re.escape(f"{name} must contain non-negative, finite probabilities; got np.float64(inf) at index (0,)")):
        func([np.inf, 0.0])


@pytest.mark.parametrize("func, name", PROB_FUNCS)
def test_row_not_summing_to_one_is_rejected_with_its_sum(func, name):
    message = f"{name} must sum to 1 along axis -1 (within atol=1.5e-08); the row at batch index (1,) sums to 0.9"
    with pytest.raises(ValueError, match=re.escape(message)):
        func([[0.5, 0.5], [0.5, 0.4]])
    assert np.isfinite(func([[0.5, 0.5], [0.5, 0.4]], normalize=True)).all()


@pytest.mark.parametrize("func, name", PROB_FUNCS)
def test_row_of_zeros_cannot_be_normalised(func, name):
    with pytest.raises(ValueError, match=re.escape(f"{name} has a row of zeros at batch index (1,)")):
        func([[0.5, 0.5], [0.0, 0.0]], normalize=True)


def test_q_is_checked_and_named_too():
    with pytest.raises(ValueError, match=re.escape("q must contain non-negative, finite probabilities; got np.float64(-0.5) at index (0,)")):
        kl_divergence([0.5, 0.5], [-0.5, 1.5])
    with pytest.raises(ValueError, match=re.escape("q must sum to 1 along axis -1")):
        cross_entropy([0.5, 0.5], [0.5, 0.6])


def test_bad_entry_index_refers_to_the_input_with_explicit_axis():
    p = np.full((3, 2), 1 / 3)
    p[2, 1] = -1.0
    with pytest.raises(ValueError, match=re.escape("p must contain non-negative, finite probabilities; got np.float64(-1.0) at index (2, 1)")):
        kl_divergence(p, np.full((3, 2), 1 / 3), axis=0)


@pytest.mark.parametrize("func", [cross_entropy, kl_divergence])
def test_mismatched_event_lengths_are_rejected(func):
    with pytest.raises(ValueError, match=re.escape("must have the same length in each input; p has 2 and q has 3")):
        func([0.5, 0.5], [0.2, 0.3, 0.5])


def test_mismatched_logit_lengths_are_rejected():
    with pytest.raises(ValueError, match=re.escape("logits_p has 2 and logits_q has 3")):
        kl_divergence_from_logits([0.0, 0.0], [0.0, 0.0, 0.0])


@pytest.mark.parametrize("func", [cross_entropy, kl_divergence])
def test_batch_shapes_that_do_not_broadcast_are_rejected(func):
    with pytest.raises(ValueError, match=re.escape("batch shapes do not broadcast: p has shape (2, 3), q has shape (4, 3)")):
        func(np.full((2, 3), 1 / 3), np.full((4, 3), 1 / 3))


@pytest.mark.parametrize("func", [entropy, kl_divergence])
def test_axis_out_of_range_is_rejected(func):
    args = ([[0.5, 0.5]],) if func is entropy else ([[0.5, 0.5]], [[0.5, 0.5]])
    with pytest.raises(ValueError, match=re.escape("axis 2 is out of range for p with 2 dimension(s)")):
        func(*args, axis=2)
    with pytest.raises(ValueError, match=re.escape("axis -3 is out of range for p with 2 dimension(s)")):
        func(*args, axis=-3)


@pytest.mark.parametrize("axis", [1.0, True, "0", None])
def test_non_integer_axis_is_rejected(axis):
    with pytest.raises(TypeError, match=re.escape(f"axis must be an integer; got {axis!r}")):
        kl_divergence([0.5, 0.5], [0.5, 0.5], axis=axis)


@pytest.mark.parametrize("func", [entropy, kl_divergence, kl_divergence_from_logits])
def test_empty_input_is_rejected(func):
    args = ([],) if func is entropy else ([], [])
    name = "logits_p" if func is kl_divergence_from_logits else "p"
    with pytest.raises(ValueError, match=re.escape(f"{name} is empty (shape (0,))")):
        func(*args)


@pytest.mark.parametrize("func", [entropy, kl_divergence, kl_divergence_from_logits])
def test_scalar_input_without_event_axis_is_rejected(func):
    args = (1.0,) if func is entropy else (1.0, 1.0)
    name = "logits_p" if func is kl_divergence_from_logits else "p"
    with pytest.raises(ValueError, match=re.escape(f"{name} must have at least 1 dimension(s) (an event axis); got a 0-d value 1.0")):
        func(*args)


@pytest.mark.parametrize("base", [0, -2.0, 1, 1.0, math.inf, math.nan])
def test_invalid_base_is_rejected(base):
    for call in (
        lambda: entropy([0.5, 0.5], base=base),
        lambda: kl_divergence([0.5, 0.5], [0.5, 0.5], base=base),
        lambda: kl_divergence_from_logits([0.0, 0.0], [0.0, 0.0], base=base),
        lambda: log_likelihood_ratio([0.5], [0.5], base=base),
    ):
        with pytest.raises(ValueError, match=re.escape(f"base must be positive, finite and not 1; got {base!r}")):
            call()


@pytest.mark.parametrize("base", ["2", True, 2 + 0j])
def test_non_real_base_is_rejected(base):
    with pytest.raises(TypeError, match=re.escape(f"base must be a real number or None; got {base!r}")):
        kl_divergence([0.5, 0.5], [0.5, 0.5], base=base)


@pytest.mark.parametrize(
    "bad, dtype",
    [(["a", "b"], "<U1"), (np.array([0.5 + 0j, 0.5]), "complex128"), (np.array([None, None]), "object")],
)
def test_non_real_dtype_is_rejected(bad, dtype):
    with pytest.raises(TypeError, match=re.escape(f"p must contain real numbers; got dtype {dtype}")):
        kl_divergence(bad, [0.5, 0.5])
    with pytest.raises(TypeError, match=re.escape(f"q must contain real numbers; got dtype {dtype}")):
        cross_entropy([0.5, 0.5], bad)


def test_ragged_input_is_rejected():
    with pytest.raises(TypeError, match=re.escape("p must be an array of real numbers; got [[0.5, 0.5], [1.0]]")):
        entropy([[0.5, 0.5], [1.0]])


@pytest.mark.parametrize("atol", [-1e-3, math.inf, math.nan])
def test_invalid_atol_value_is_rejected(atol):
    with pytest.raises(ValueError, match=re.escape(f"atol must be finite and non-negative; got {atol!r}")):
        kl_divergence([0.5, 0.5], [0.5, 0.5], atol=atol)


@pytest.mark.parametrize("atol", ["1e-3", True])
def test_non_real_atol_is_rejected(atol):
    with pytest.raises(TypeError, match=re.escape(f"atol must be a real number or None; got {atol!r}")):
        entropy([0.5, 0.5], atol=atol)


@pytest.mark.parametrize("normalize", [1, "yes", None])
def test_normalize_must_be_a_bool(normalize):
    with pytest.raises(TypeError, match=re.escape(f"normalize must be True or False; got {normalize!r}")):
        kl_divergence([0.5, 0.5], [0.5, 0.5], normalize=normalize)
    assert kl_divergence([1.0, 1.0], [1.0, 1.0], normalize=np.bool_(True)) == 0.0


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_or_positive_infinite_logit_is_rejected(bad):
    with pytest.raises(ValueError, match=re.escape(f"logits_q must be finite (or -inf for an impossible class); got np.float64({bad!r}) at index (1, 0)")):
        kl_divergence_from_logits(np.zeros((2, 2)), np.array([[0.0, 0.0], [bad, 0.0]]))


def test_row_of_minus_infinite_logits_is_rejected():
    with pytest.raises(ValueError, match=re.escape("logits_p has a row where every logit is -inf")):
        kl_divergence_from_logits([[0.0, 1.0], [-INF, -INF]], [0.0, 0.0])


# --------------------------------------------------------------------------------------------------
# log_likelihood_ratio
# --------------------------------------------------------------------------------------------------


def test_log_likelihood_ratio_in_bits():
    np.testing.assert_allclose(log_likelihood_ratio([0.8, 0.2], [0.2, 0.8], base=2), [2.0, -2.0], rtol=1e-15)


def test_log_likelihood_ratio_is_infinite_where_one_model_rules_out_the_observation():
    llr = log_likelihood_ratio([0.5, 0.0, 0.3], [0.0, 0.5, 0.3])
    assert llr[0] == INF and llr[1] == -INF and llr[2] == 0.0


def test_extreme_but_positive_ratios_are_finite_and_correct():
    p, q = np.array([1e-300, 1e300, 1e-200]), np.array([1e300, 1e-300, 1e200])
    expected = [math.log(a) - math.log(b) for a, b in zip(p, q)]
    llr = log_likelihood_ratio(p, q)
    assert np.isfinite(llr).all()
    np.testing.assert_allclose(llr, expected, rtol=1e-14)


def test_log_likelihood_ratio_broadcasts_and_returns_scalar_for_scalars():
    llr = log_likelihood_ratio([[0.5], [0.25]], [0.5, 0.25])
    assert llr.shape == (2, 2)
    np.testing.assert_allclose(llr, np.log([[1.0, 2.0], [0.5, 1.0]]), rtol=1e-15)
    single = log_likelihood_ratio(0.5, 0.25)
    assert isinstance(single, np.float64) and single == pytest.approx(math.log(2), rel=1e-15)


def test_mean_log_likelihood_ratio_under_p_is_the_divergence():
    rng = np.random.default_rng(21)
    p, q = rng.dirichlet(np.ones(7)), rng.dirichlet(np.ones(7))
    assert expected_value(log_likelihood_ratio(p, q), p) == pytest.approx(kl_divergence(p, q), rel=1e-12)


def test_log_likelihood_ratio_undefined_where_both_are_zero():
    with pytest.raises(ValueError, match=re.escape("p and q are both 0 at index (1,)")):
        log_likelihood_ratio([0.5, 0.0], [0.5, 0.0])


@pytest.mark.parametrize("name, p, q, shown", [("p", [-0.5, 1.0], [0.5, 0.5], "-0.5"), ("q", [0.5, 0.5], [0.5, np.nan], "nan"), ("q", [0.5, 0.5], [np.inf, 0.5], "inf")])
def test_log_likelihood_ratio_rejects_negative_or_non_finite_values(name, p, q, shown):
    with pytest.raises(ValueError, match=rf"{name} must contain non-negative, finite values; got np\.float64\({shown}\) at index \(\d,\)"):
        log_likelihood_ratio(p, q)


def test_log_likelihood_ratio_rejects_shapes_that_do_not_broadcast():
    with pytest.raises(ValueError, match=re.escape("p and q must broadcast together; got shapes (2,) and (3,)")):
        log_likelihood_ratio([0.5, 0.5], [0.2, 0.3, 0.5])


# --------------------------------------------------------------------------------------------------
# expected_value
# --------------------------------------------------------------------------------------------------


def test_expected_pips_of_a_fair_die_is_three_and_a_half():
    assert expected_value([1, 2, 3, 4, 5, 6], np.full(6, 1 / 6)) == pytest.approx(3.5, rel=1e-15)


def test_infinite_value_with_zero_probability_contributes_nothing():
    assert expected_value([1.0, np.inf, -np.inf], [1.0, 0.0, 0.0]) == 1.0
    assert expected_value([1.0, np.inf], [0.5, 0.5]) == INF


def test_expected_value_broadcasts_values_over_a_batch_of_probabilities():
    rng = np.random.default_rng(22)
    probs, values = rng.dirichlet(np.ones(5), size=4), rng.normal(size=5)
    ev = expected_value(values, probs)
    assert ev.shape == (4,)
    np.testing.assert_allclose(ev, [math.fsum(values * w) for w in probs], rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(expected_value(values[:, None], probs.T, axis=0), ev, rtol=1e-15)


def test_expected_value_rejects_nan_values():
    with pytest.raises(ValueError, match=re.escape("values must not be NaN; got nan at index (1,)")):
        expected_value([1.0, np.nan], [0.5, 0.5])


# No RuntimeWarning may precede the ValueError: the project's filterwarnings=error would turn it
# into the exception instead.
def test_expected_value_of_plus_and_minus_infinity_is_undefined():
    with pytest.raises(ValueError, match=re.escape("values holds both +inf and -inf with positive probability in the row at batch index (1,)")):
        expected_value([np.inf, -np.inf], [[1.0, 0.0], [0.5, 0.5]])



# --------------------------------------------------------------------------------------------------
# Element-wise terms, logits and Bernoulli conveniences (issue 11)
# --------------------------------------------------------------------------------------------------


@settings(max_examples=60)
@given(distribution_pairs())
def test_rel_entr_terms_agree_with_scipy_and_sum_to_the_divergence(pq):
    p, q = pq
    np.testing.assert_allclose(kldiv.rel_entr(p, q), scipy.special.rel_entr(p, q), rtol=1e-12, atol=1e-300)
    total = kldiv.rel_entr(p, q).sum()
    if np.isfinite(total):
        assert total == pytest.approx(float(kl_divergence(p, q)), rel=1e-9, abs=1e-14)


def test_rel_entr_follows_scipy_conventions_at_zero_and_broadcasts():
    np.testing.assert_array_equal(kldiv.rel_entr([0.0, 0.0, 0.5], [0.0, 0.3, 0.0]), [0.0, 0.0, np.inf])
    assert kldiv.rel_entr([[0.5], [0.25]], [0.5, 0.25]).shape == (2, 2)
    assert isinstance(kldiv.rel_entr(0.5, 0.25), np.float64)
    with pytest.raises(ValueError, match=re.escape("q must contain non-negative, finite values; got np.float64(-0.1) at index (1,)")):
        kldiv.rel_entr([0.5, 0.5], [0.2, -0.1])


@settings(max_examples=60)
@given(logit_pairs())
def test_entropy_and_cross_entropy_from_logits_equal_those_of_the_softmax(ab):
    a, b = ab
    p, q = scipy.special.softmax(a), scipy.special.softmax(b)
    assert kldiv.entropy_from_logits(a) == pytest.approx(float(entropy(p)), rel=1e-10, abs=1e-13)
    assert kldiv.cross_entropy_from_logits(p, b) == pytest.approx(-(p * scipy.special.log_softmax(b)).sum(), rel=1e-12, abs=1e-13)


def test_logit_conveniences_reject_bad_logits_by_name():
    with pytest.raises(ValueError, match=re.escape("logits must be finite (or -inf for an impossible class); got np.float64(nan) at index (1,)")):
        kldiv.entropy_from_logits([0.0, np.nan])
    with pytest.raises(ValueError, match=re.escape("logits_q must be finite (or -inf for an impossible class); got np.float64(inf)")):
        kldiv.cross_entropy_from_logits([0.5, 0.5], [0.0, np.inf])
    assert kldiv.cross_entropy_from_logits([0.5, 0.5], [0.0, -np.inf]) == np.inf
    assert kldiv.cross_entropy_from_logits([1.0, 0.0], [0.0, -np.inf]) == 0.0


def test_bernoulli_divergence_matches_closed_form_and_tensorflow_probability():
    p, q = np.array([0.5, 0.1, 0.999, 0.0, 1.0]), np.array([0.9, 0.2, 0.5, 0.3, 0.7])
    expected = scipy.special.rel_entr(p, q) + scipy.special.rel_entr(1 - p, 1 - q)
    np.testing.assert_allclose(kldiv.kl_bernoulli(p, q), expected, rtol=1e-13)
    tfp_kl = tfd.kl_divergence(tfd.Bernoulli(probs=p[:3]), tfd.Bernoulli(probs=q[:3])).numpy()
    np.testing.assert_allclose(kldiv.kl_bernoulli(p[:3], q[:3]), tfp_kl, rtol=1e-6)
    with pytest.raises(ValueError, match=re.escape("q must be a probability in [0, 1]; got np.float64(1.5) at index (1,)")):
        kldiv.kl_bernoulli([0.5, 0.5], [0.5, 1.5])
