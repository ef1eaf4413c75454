r"""Calibration of a classifier's probabilities: temperature scaling and the expected calibration error.

A classifier is *calibrated* when, among the inputs to which it gives confidence :math:`c` (its
largest probability), a fraction :math:`c` is classified correctly. Guo et al. (2017) found that
modern networks are over-confident and that one scalar fixes most of it:

* :func:`fit_temperature`: the temperature :math:`T` that minimises the mean negative
  log-likelihood of :math:`\operatorname{softmax}(z / T)` on *held-out* data. The NLL of the true
  class is the KL divergence from the one-hot label to the prediction (:math:`H(y) = 0`), so this is
  the temperature that brings the model closest, in KL, to the labels it did not train on.
* :func:`nll`: that mean negative log-likelihood, at any temperature.
* :func:`reliability_diagram`: accuracy and mean confidence in equal-width bins of confidence.
* :func:`expected_calibration_error`: the bins' gaps :math:`|\mathrm{acc} - \mathrm{conf}|`,
  weighted by the share of inputs in each bin.

NumPy only; nothing here imports Keras.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "ReliabilityDiagram",
    "expected_calibration_error",
    "fit_temperature",
    "nll",
    "reliability_diagram",
]


def _check_logits_and_labels(logits: ArrayLike, labels: ArrayLike, name: str = "logits"):
    z = np.asarray(logits, dtype=np.float64)
    if z.ndim != 2 or z.shape[0] < 1 or z.shape[1] < 2:
        raise ValueError(f"{name} must be a 2-D array (examples, classes) with at least 2 classes; "
                         f"got shape {z.shape}")
    if not np.all(np.isfinite(z)):
        raise ValueError(f"{name} must be finite; got {np.sum(~np.isfinite(z))} non-finite entries")
    y = np.asarray(labels)
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"labels must be a 1-D array of integers; got dtype {y.dtype}, shape {y.shape}")
    if len(y) != len(z):
        raise ValueError(f"labels must have one entry per row of {name}; got {len(y)} labels for "
                         f"{len(z)} rows")
    if y.min() < 0 or y.max() >= z.shape[1]:
        raise ValueError(f"labels must lie in [0, {z.shape[1]}); got values in [{y.min()}, {y.max()}]")
    return z, y


def _check_temperature(temperature: Any) -> float:
    if (isinstance(temperature, bool) or not isinstance(temperature, (int, float, np.floating))
            or not np.isfinite(temperature) or not temperature > 0):
        raise ValueError(f"temperature must be a finite number > 0; got {temperature!r}")
    return float(temperature)


def _mean_nll_and_slope(z: NDArray, y: NDArray, beta: float) -> tuple[float, float]:
    """Mean NLL of softmax(beta z) and its derivative in beta, E_q[z] - z_y averaged over rows."""
    s = beta * z
    s_max = s.max(axis=1, keepdims=True)
    e = np.exp(s - s_max)
    total = e.sum(axis=1, keepdims=True)
    log_norm = (s_max + np.log(total))[:, 0]
    z_true = z[np.arange(len(y)), y]
    q = e / total
    return float(np.mean(log_norm - beta * z_true)), float(np.mean((q * z).sum(axis=1) - z_true))


def nll(logits: ArrayLike, labels: ArrayLike, *, temperature: float = 1.0) -> float:
    r"""Mean negative log-likelihood, in nats, of the true classes under :math:`\operatorname{softmax}(z/T)`.

    .. math::

        \mathrm{NLL}(T) = \frac1n \sum_{i=1}^n -\log \operatorname{softmax}(z_i / T)_{y_i}
        = \frac1n \sum_{i=1}^n D\bigl(\mathrm{onehot}(y_i) \,\|\, \operatorname{softmax}(z_i / T)\bigr).

    >>> round(nll([[0.0, 0.0]], [1]), 4)  # log 2
    0.6931
    """
    z, y = _check_logits_and_labels(logits, labels)
    return _mean_nll_and_slope(z, y, 1.0 / _check_temperature(temperature))[0]


def fit_temperature(logits: ArrayLike, labels: ArrayLike, *, rtol: float = 1e-10) -> float:
    r"""The temperature :math:`T > 0` that minimises :func:`nll` on held-out ``logits`` and ``labels``.

    Fit it on data the network did not train on (a validation split), never on the test set that
    will judge the calibration. Dividing the logits by :math:`T` changes no prediction (the argmax is
    the same), only the confidence: :math:`T > 1` softens an over-confident model, :math:`T < 1`
    sharpens an under-confident one (Guo et al., 2017).

    In :math:`\beta = 1/T` the NLL is convex: its derivative :math:`\frac1n \sum_i
    (\mathbb{E}_{q_\beta}[z_i] - z_{i, y_i})` increases with :math:`\beta` (the second derivative is
    the mean variance of :math:`z_i` under :math:`q_\beta`). So the minimiser is unique where it
    exists, and is found by bisection on the derivative to a relative tolerance ``rtol`` in
    :math:`\beta`.

    Raises ``ValueError`` when no positive temperature minimises the NLL: when the true logits are
    below the row means on average (the NLL falls as :math:`T \to -\infty`; the model is worse than
    uniform guessing), or when the NLL keeps falling as :math:`T \to 0` (the held-out examples are
    classified with too few mistakes to tell, e.g. all correct).

    >>> logits = [[2.0, 0.0], [2.0, 0.0], [2.0, 0.0], [0.0, 2.0]]
    >>> labels = [0, 0, 1, 1]  # 3 of 4 right, at confidence 0.88: over-confident
    >>> round(fit_temperature(logits, labels), 4)  # softmax(2 / T) = 3/4 at T = 2 / log 3
    1.8205
    """
    z, y = _check_logits_and_labels(logits, labels)
    if isinstance(rtol, bool) or not isinstance(rtol, (int, float)) or not 0 < rtol < 1:
        raise ValueError(f"rtol must be a number in (0, 1); got {rtol!r}")
    slope_at_0 = _mean_nll_and_slope(z, y, 0.0)[1]
    if slope_at_0 >= 0:
        raise ValueError(
            "logits: the true classes' logits are not above the row means on average (mean of "
            f"E[z] - z_y at T = inf is {slope_at_0:.3g} >= 0), so no positive temperature minimises "
            "the NLL; is the model trained, and do the labels match the logits?"
        )
    lo, hi = 0.0, 1.0
    # Grow the bracket until the slope turns positive; 2**60 is a temperature below 1e-18.
    for _ in range(60):
        if _mean_nll_and_slope(z, y, hi)[1] > 0:
            break
        lo, hi = hi, 2.0 * hi
    else:
        raise ValueError(
            f"logits: the NLL still falls at T = {1 / hi:.3g}, so it has no minimum at a positive "
            f"temperature; the {len(y)} held-out examples are (almost) all classified correctly. "
            "Fit the temperature on more held-out data."
        )
    while hi - lo > rtol * hi:
        mid = 0.5 * (lo + hi)
        if _mean_nll_and_slope(z, y, mid)[1] > 0:
            hi = mid
        else:
            lo = mid
    return float(2.0 / (lo + hi))


@dataclass(frozen=True)
class ReliabilityDiagram:
    r"""Accuracy against confidence in ``bins`` equal-width bins of :math:`(0, 1]`.

    Bin :math:`m = 1, \dots, M` holds the examples whose confidence lies in :math:`((m - 1)/M, m/M]`
    (Guo et al.'s binning). ``counts[m]`` is their number; ``confidence[m]`` and ``accuracy[m]`` are
    their mean confidence and their share classified correctly, NaN for an empty bin.
    """

    edges: NDArray[np.float64]
    counts: NDArray[np.int64]
    confidence: NDArray[np.float64]
    accuracy: NDArray[np.float64]

    @property
    def ece(self) -> float:
        r""":math:`\sum_m \frac{n_m}{n} \lvert \mathrm{acc}_m - \mathrm{conf}_m \rvert`, empty bins left out."""
        full = self.counts > 0
        weights = self.counts[full] / self.counts.sum()
        return float(np.sum(weights * np.abs(self.accuracy[full] - self.confidence[full])))


def reliability_diagram(probs: ArrayLike, labels: ArrayLike, *, bins: int = 15) -> ReliabilityDiagram:
    """Bin the examples by confidence (the largest probability of each row of ``probs``).

    ``probs`` holds one probability row per example (each row non-negative and summing to 1 within
    1e-4, so float32 softmax outputs pass); ``labels`` the true classes.

    >>> d = reliability_diagram([[0.9, 0.1], [0.8, 0.2], [0.4, 0.6]], [0, 1, 1], bins=2)
    >>> d.counts.tolist(), d.accuracy.tolist()
    ([0, 3], [nan, 0.6666666666666666])
    >>> round(d.ece, 4)  # |2/3 - 0.7667|
    0.1
    """
    q = np.asarray(probs, dtype=np.float64)
    if q.ndim != 2 or q.shape[0] < 1 or q.shape[1] < 2:
        raise ValueError(f"probs must be a 2-D array (examples, classes) with at least 2 classes; "
                         f"got shape {q.shape}")
    if not np.all(np.isfinite(q)) or q.min() < 0:
        raise ValueError(f"probs must be finite and non-negative; got values in [{np.nanmin(q):.3g}, "
                         f"{np.nanmax(q):.3g}]")
    sums = q.sum(axis=1)
    if np.max(np.abs(sums - 1.0)) > 1e-4:
        raise ValueError(f"probs rows must sum to 1 (within 1e-4); got sums in [{sums.min():.6g}, "
                         f"{sums.max():.6g}]. Pass softmax probabilities, not logits.")
    _, y = _check_logits_and_labels(q, labels, name="probs")
    if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or bins < 1:
        raise ValueError(f"bins must be a positive integer; got {bins!r}")
    confidence = q.max(axis=1)
    correct = q.argmax(axis=1) == y
    # Right-closed bins ((m - 1)/M, m/M], found against the stored edges (not ceil(c M) - 1, which
    # puts c = 0.7 in (0.7, 0.8] because 0.7 * 10 rounds to 7.000000000000001). c >= 1/K > 0.
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, bins - 1)
    counts = np.bincount(which, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_confidence = np.bincount(which, confidence, minlength=bins) / counts
        accuracy = np.bincount(which, correct.astype(np.float64), minlength=bins) / counts
    return ReliabilityDiagram(edges, counts, mean_confidence, accuracy)


def expected_calibration_error(probs: ArrayLike, labels: ArrayLike, *, bins: int = 15) -> float:
    r"""Expected calibration error over ``bins`` equal-width confidence bins (15, as Guo et al.).

    .. math::

        \mathrm{ECE} = \sum_{m=1}^{M} \frac{n_m}{n} \bigl\lvert \mathrm{acc}_m - \mathrm{conf}_m \bigr\rvert ,

    with bin :math:`m` the confidences in :math:`((m - 1)/M, m/M]`. It depends on the binning (more
    bins, fewer examples per bin, more noise), so state ``bins`` with the number.
    See :func:`reliability_diagram` for the bins themselves.

    >>> round(expected_calibration_error([[0.9, 0.1], [0.3, 0.7]], [0, 0], bins=10), 4)
    0.4
    """
    return reliability_diagram(probs, labels, bins=bins).ece
