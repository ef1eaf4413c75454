"""Regression tests: one per bug found in src/kldiv while its test suite was written (A-H)."""
import math
import warnings

import numpy as np
import pytest
import scipy.special

from kldiv import entropy, expected_value, kl_divergence, kl_normal, log_likelihood_ratio
from kldiv.notebook import quiet_native_logs

with quiet_native_logs():
    import tensorflow as tf
    from kldiv.losses import KLDivergence


# A: the Keras loss drops the q mass where the target is 0: it returns KL - sum_{p=0} q.
@pytest.mark.parametrize("from_logits", [False, True])
def test_A_loss_with_zero_targets_equals_kl_divergence(from_logits):
    p, q = np.array([[1.0, 0.0]], np.float32), np.array([[0.8, 0.2]], np.float32)
    y_pred = np.log(q) if from_logits else q
    assert float(KLDivergence(from_logits=from_logits)(p, y_pred)) == pytest.approx(math.log(1.25), rel=1e-5)


def test_A_gradient_for_one_hot_targets_is_softmax_minus_target():
    p = np.array([[0.0, 1.0, 0.0]], np.float32)
    z = tf.Variable([[1.0, 0.0, -1.0]])
    with tf.GradientTape() as tape:
        loss = KLDivergence(from_logits=True, reduction="sum")(p, z)
    expected = scipy.special.softmax([[1.0, 0.0, -1.0]], axis=1) - p
    np.testing.assert_allclose(tape.gradient(loss, z).numpy(), expected, atol=1e-6)


# B: NaN gradient where both target and prediction are 0 (probabilities).
def test_B_gradient_is_finite_where_target_and_prediction_are_zero():
    q = tf.Variable([[0.9, 0.1, 0.0]])
    with tf.GradientTape() as tape:
        loss = KLDivergence()([[1.0, 0.0, 0.0]], q)
    assert np.isfinite(tape.gradient(loss, q).numpy()).all()


# C: scalar inputs whose ratio over/underflows hit `out[redo] = ...` on a NumPy scalar.
def test_C_extreme_scalar_ratio():
    assert log_likelihood_ratio(1e-300, 1e300) == pytest.approx(math.log(1e-300) - math.log(1e300), rel=1e-14)


# D: a ratio in the subnormal range is not recomputed from logs.
def test_D_subnormal_ratio_keeps_precision():
    assert log_likelihood_ratio([1e-300], [1e23])[0] == pytest.approx(math.log(1e-300) - math.log(1e23), rel=1e-14)


# E: kl_divergence loses precision when q / p is subnormal.
def test_E_subnormal_q_over_p():
    p, q = [1 / 3, 2 / 3], [1.0, 5e-324]
    assert kl_divergence(p, q) == pytest.approx(scipy.special.rel_entr(p, q).sum(), rel=1e-12)


# F: kl_normal when sigma_p << sigma_q (inf instead of a finite value; digits lost before that),
# and nan instead of inf when sigma_p / sigma_q overflows.
def test_F_tiny_sigma_p():
    assert kl_normal(0.0, 1e-17, 0.0, 1.0) == pytest.approx(math.log(1e17) - 0.5, rel=1e-14)
    assert kl_normal(0.0, 1e-10, 0.0, 1.0) == pytest.approx(math.log(1e10) - 0.5 + 0.5e-20, rel=1e-14)


def test_F_overflowing_ratio_gives_inf():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        assert kl_normal(0.0, 1e300, 0.0, 1e-10) == np.inf


# G: normalize=True with finite rows whose sum overflows gives silently wrong numbers.
def test_G_overflowing_row_sum():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        try:
            h = entropy([1e308, 1e308], normalize=True)
        except ValueError:
            return  # an error naming the row would be fine too
        assert h == pytest.approx(math.log(2), rel=1e-14)


# H: +inf and -inf with positive probability warn before the documented ValueError.
def test_H_no_runtime_warning_before_value_error():
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        with pytest.raises(ValueError, match="both \\+inf and -inf"):
            expected_value([np.inf, -np.inf], [0.5, 0.5])
