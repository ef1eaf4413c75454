"""kldiv.calibration: temperature scaling by held-out NLL, reliability diagrams and the ECE, checked
against closed forms, SciPy's scalar minimiser and data drawn from a known temperature."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax, softmax

from kldiv import kl_divergence
from kldiv.calibration import (
    expected_calibration_error,
    fit_temperature,
    nll,
    reliability_diagram,
)

rng = np.random.default_rng(14)


def sample_labels(logits: np.ndarray, temperature: float, rng: np.random.Generator) -> np.ndarray:
    """Labels drawn from softmax(logits / temperature): a model that is calibrated at that T."""
    probs = softmax(logits / temperature, axis=1)
    return (probs.cumsum(axis=1) > rng.random((len(logits), 1))).argmax(axis=1)


def test_nll_is_the_kl_from_the_one_hot_labels() -> None:
    z = rng.normal(scale=2.0, size=(50, 4))
    y = rng.integers(0, 4, size=50)
    for t in (0.5, 1.0, 3.0):
        expected = np.mean(kl_divergence(np.eye(4)[y], softmax(z / t, axis=1)))
        assert nll(z, y, temperature=t) == pytest.approx(expected, rel=1e-10)
        assert nll(z, y, temperature=t) == pytest.approx(-np.mean(log_softmax(z / t, axis=1)[np.arange(50), y]))


def test_fitted_temperature_is_scipys_minimiser() -> None:
    z = rng.normal(scale=3.0, size=(400, 10))
    y = sample_labels(z, 2.0, rng)
    t = fit_temperature(z, y)
    reference = minimize_scalar(lambda log_t: nll(z, y, temperature=float(np.exp(log_t))),
                                bounds=(-5, 5), method="bounded", options={"xatol": 1e-10}).x
    assert t == pytest.approx(np.exp(reference), rel=1e-5)
    for nearby in (t * 0.99, t * 1.01):
        assert nll(z, y, temperature=t) < nll(z, y, temperature=nearby)


@pytest.mark.parametrize("true_t", [0.5, 1.0, 4.0])
def test_recovers_the_temperature_the_labels_were_drawn_at(true_t: float) -> None:
    # 20,000 examples: the fitted T's standard error is about 1-2 %; 10 % is over 5 of them.
    z = rng.normal(scale=3.0, size=(20_000, 10))
    y = sample_labels(z, true_t, rng)
    assert fit_temperature(z, y) == pytest.approx(true_t, rel=0.1)


def test_closed_form_for_one_confidence_level() -> None:
    # Every row has confidence softmax(a / T) for the logit gap a; a fraction r right -> T = a / logit(r).
    a, right, n = 3.0, 0.8, 500
    z = np.tile([a, 0.0], (n, 1))
    y = np.r_[np.zeros(int(right * n), int), np.ones(n - int(right * n), int)]
    assert fit_temperature(z, y) == pytest.approx(a / np.log(right / (1 - right)), rel=1e-8)


def test_temperature_does_not_change_predictions_only_confidence() -> None:
    z = rng.normal(scale=4.0, size=(300, 10))
    y = sample_labels(z, 3.0, rng)  # labels noisier than the logits say: over-confident
    t = fit_temperature(z, y)
    assert t > 1
    before, after = softmax(z, axis=1), softmax(z / t, axis=1)
    np.testing.assert_array_equal(before.argmax(1), after.argmax(1))
    assert after.max(1).mean() < before.max(1).mean()
    assert expected_calibration_error(after, y) < expected_calibration_error(before, y)


@pytest.mark.parametrize("z, y, match", [
    (np.array([[0.0, 3.0], [0.0, 2.0]]), [0, 0], "not above the row means"),
    (np.array([[0.0, 0.0], [1.0, 1.0]]), [0, 1], "not above the row means"),  # no signal at all
    (np.array([[3.0, 0.0], [0.0, 1.0]]), [0, 1], "still falls at T = .*all classified correctly"),
    (np.zeros((3, 1)), [0, 0, 0], r"at least 2 classes; got shape \(3, 1\)"),
    (np.zeros(4), [0], r"2-D array .* got shape \(4,\)"),
    (np.array([[0.0, np.nan]]), [0], "logits must be finite; got 1 non-finite"),
    (np.zeros((2, 3)), [0], "one entry per row of logits; got 1 labels for 2 rows"),
    (np.zeros((2, 3)), [0, 3], r"labels must lie in \[0, 3\); got values in \[0, 3\]"),
    (np.zeros((2, 3)), [0.0, 1.0], "labels must be a 1-D array of integers; got dtype float64"),
])
def test_fit_temperature_refuses_what_has_no_minimiser_or_is_malformed(z, y, match) -> None:
    with pytest.raises(ValueError, match=match):
        fit_temperature(z, y)


@pytest.mark.parametrize("bad", [0, -1.0, float("inf"), float("nan"), True, "2"])
def test_nll_refuses_a_bad_temperature(bad) -> None:
    with pytest.raises(ValueError, match="temperature must be a finite number > 0; got"):
        nll([[0.0, 1.0]], [0], temperature=bad)


def test_fit_temperature_refuses_a_bad_rtol() -> None:
    with pytest.raises(ValueError, match=r"rtol must be a number in \(0, 1\); got 0"):
        fit_temperature([[1.0, 0.0], [1.0, 0.0]], [0, 1], rtol=0)


def test_ece_by_hand_and_guo_binning_is_right_closed() -> None:
    # Bins of width 0.5: (0, 0.5] and (0.5, 1]. A confidence of exactly 0.5 belongs to the first.
    probs = np.array([[0.5, 0.5], [0.9, 0.1], [0.6, 0.4], [0.2, 0.8]])
    labels = np.array([1, 0, 1, 1])  # argmax picks class 0 for the tie: wrong
    d = reliability_diagram(probs, labels, bins=2)
    np.testing.assert_array_equal(d.counts, [1, 3])
    np.testing.assert_allclose(d.confidence, [0.5, (0.9 + 0.6 + 0.8) / 3])
    np.testing.assert_allclose(d.accuracy, [0.0, 2 / 3])
    expected = 0.25 * 0.5 + 0.75 * abs(2 / 3 - 2.3 / 3)
    assert expected_calibration_error(probs, labels, bins=2) == pytest.approx(expected)
    # Edges are stored and found as stored: 0.7 lies in (0.6, 0.7], not (0.7, 0.8].
    assert reliability_diagram([[0.7, 0.3]], [0], bins=10).counts[6] == 1


def test_calibrated_model_has_small_ece_and_empty_bins_are_nan() -> None:
    z = rng.normal(scale=2.0, size=(50_000, 10))
    y = sample_labels(z, 1.0, rng)
    probs = softmax(z, axis=1)
    d = reliability_diagram(probs, y, bins=15)
    assert d.counts.sum() == 50_000 and d.counts[0] == 0  # confidence >= 1/10: bin (0, 1/15] is empty
    assert np.isnan(d.accuracy[0]) and np.isnan(d.confidence[0])
    # Each bin's accuracy is a binomial proportion; with this many examples the ECE is below 0.01.
    assert d.ece < 0.01
    assert expected_calibration_error(softmax(3 * z, axis=1), y) > 0.1  # over-confident


@pytest.mark.parametrize("probs, labels, bins, match", [
    ([[0.5, 0.6]], [0], 15, r"rows must sum to 1 \(within 1e-4\); got sums in \[1.1"),
    ([[1.5, -0.5]], [0], 15, "finite and non-negative"),
    ([[0.5, 0.5]], [2], 15, r"labels must lie in \[0, 2\)"),
    ([[0.5, 0.5]], [0], 0, "bins must be a positive integer; got 0"),
    ([[0.5, 0.5]], [0], 2.5, "bins must be a positive integer; got 2.5"),
    ([0.5, 0.5], [0], 15, r"probs must be a 2-D array .* got shape \(2,\)"),
])
def test_reliability_diagram_refuses_bad_input(probs, labels, bins, match) -> None:
    with pytest.raises(ValueError, match=match):
        reliability_diagram(probs, labels, bins=bins)
