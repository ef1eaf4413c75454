r"""Monte Carlo estimates of :math:`D_{\mathrm{KL}}(p \,\|\, q)` from samples :math:`x \sim p`.

With :math:`r(x) = q(x) / p(x)` and :math:`\mathbb{E}_p[r] = 1`, three per-sample estimators are in
common use (J. Schulman, "Approximating KL divergence", 2020):

========  ==============================  ==========  ===========================================
name      per-sample value                bias        notes
========  ==============================  ==========  ===========================================
``k1``    :math:`-\ln r`                  none        can be negative; variance is
                                                      :math:`\operatorname{Var}_p[\ln r]`, large
                                                      when ``p`` and ``q`` are close relative to
                                                      the divergence itself
``k2``    :math:`\tfrac12 (\ln r)^2`      yes         always :math:`\ge 0`; low variance *for
                                                      nearby p and q*; its mean is a second-order
                                                      (f-divergence) approximation, nearly
                                                      unbiased only when ``p ≈ q``
``k3``    :math:`(r - 1) - \ln r`         none        always :math:`\ge 0` (since
                                                      :math:`\ln r \le r - 1`); *for nearby p and
                                                      q* usually the lowest variance, but its
                                                      variance involves :math:`\mathbb{E}_p[r^2]`,
                                                      which is infinite when ``q`` has much
                                                      heavier tails than ``p``
========  ==============================  ==========  ===========================================

No estimator is best everywhere, so :func:`monte_carlo_kl` and :func:`kl_estimator_terms` have no
default: the caller names one (issue 11). The course's advice: ``k1`` when nothing is known about
how close ``p`` and ``q`` are (its variance :math:`\operatorname{Var}_p[\ln r]` is finite whenever
the log-ratio has a second moment, which covers every pair of normals, and it is unbiased); ``k3``
for nearby ``p`` and ``q`` (policies a few optimisation steps apart), where its variance is far
below k1's; ``k2`` only where a biased, non-negative penalty is wanted. On TensorFlow Probability's
heavy-tailed large-sample check k3 is off by 30 % where k1 passes.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from kldiv._validation import as_real_array, check_axis, check_base
from kldiv.divergence import _expm1_minus

__all__ = [
    "ESTIMATORS",
    "kl_estimator_logit_gradients",
    "kl_estimator_terms",
    "kl_regularized_policy",
    "monte_carlo_kl",
]

#: The estimator names :func:`monte_carlo_kl` accepts.
ESTIMATORS = ("k1", "k2", "k3")


def kl_estimator_terms(log_p: ArrayLike, log_q: ArrayLike, *, estimator: str) -> NDArray[np.float64]:
    r"""Per-sample values of a Monte Carlo KL estimator, from log-densities of samples of ``p``.

    Parameters
    ----------
    log_p, log_q : array_like
        :math:`\ln p(x_n)` and :math:`\ln q(x_n)` for samples :math:`x_n \sim p`; they broadcast.
        ``log_q`` may be ``-inf`` (a sample that ``q`` rules out, so the divergence is infinite);
        ``log_p`` must be finite, since a sample of ``p`` cannot have probability 0 under ``p``.
    estimator : {"k1", "k2", "k3"}
        Required. See the module docstring for bias, variance and which one to choose.

    Returns
    -------
    numpy.ndarray
        One value per sample, float64; their mean estimates the divergence in nats.

    Examples
    --------
    >>> from kldiv import kl_estimator_terms
    >>> kl_estimator_terms([0.0, 0.0], [0.0, -1.0], estimator="k1")
    array([0., 1.])
    """
    if not isinstance(estimator, str) or estimator not in ESTIMATORS:
        raise ValueError(f"estimator must be one of {', '.join(map(repr, ESTIMATORS))}; got {estimator!r}")
    lp = as_real_array(log_p, "log_p").astype(np.float64, copy=False)
    lq = as_real_array(log_q, "log_q").astype(np.float64, copy=False)
    if not np.isfinite(lp).all():
        bad = np.argwhere(~np.isfinite(lp))[0] if lp.ndim else ()
        raise ValueError(
            f"log_p must be finite (samples are drawn from p); got {lp[tuple(bad)]!r}"
            + (f" at index {tuple(int(i) for i in bad)}" if lp.ndim else "")
        )
    if np.isnan(lq).any() or (lq == np.inf).any():
        bad = np.argwhere(np.isnan(lq) | (lq == np.inf))[0] if lq.ndim else ()
        raise ValueError(
            f"log_q must be finite or -inf; got {lq[tuple(bad)]!r}"
            + (f" at index {tuple(int(i) for i in bad)}" if lq.ndim else "")
        )
    try:
        lp, lq = np.broadcast_arrays(lp, lq)
    except ValueError:
        raise ValueError(f"log_p and log_q must broadcast together; got shapes {lp.shape} and {lq.shape}") from None
    log_r = lq - lp
    if estimator == "k1":
        return np.asarray(lp - lq)
    if estimator == "k2":
        return np.asarray(0.5 * log_r * log_r)
    # (r - 1) - ln r = expm1(l) - l, summed as a series for small |l| (taken directly it loses
    # about log2(2 / |l|) bits: a relative error of 0.2 at l = 1e-15); >= 0 after rounding.
    out = _expm1_minus(np.atleast_1d(log_r).astype(np.float64))
    return np.asarray(out.reshape(log_r.shape))


def monte_carlo_kl(
    log_p: ArrayLike,
    log_q: ArrayLike,
    *,
    estimator: str,
    axis: int = -1,
    base: float | None = None,
) -> np.float64 | NDArray[np.float64]:
    r"""Monte Carlo estimate of :math:`D_{\mathrm{KL}}(p \,\|\, q)`: the mean of an estimator over samples.

    .. math::

        \hat D = \frac1N \sum_{n=1}^{N} k(x_n), \qquad x_n \sim p .

    Parameters
    ----------
    log_p, log_q : array_like
        Log-densities of the samples under ``p`` and ``q``; samples lie along ``axis``.
    estimator : {"k1", "k2", "k3"}
        Required (no default: none is best everywhere). ``k1`` (:math:`-\ln r`, unbiased; the
        safe choice when ``p`` and ``q`` may be far apart or ``q`` heavy-tailed),
        ``k2`` (:math:`\tfrac12(\ln r)^2`, biased; low variance for nearby ``p`` and ``q``) or
        ``k3`` (:math:`r - 1 - \ln r`, unbiased and non-negative; the lowest variance for nearby
        ``p`` and ``q``, infinite variance when ``q`` has much heavier tails than ``p``).
    axis : int, default -1
        The sample axis averaged over.
    base : float, optional
        None for nats, 2 for bits.

    See Also
    --------
    kl_estimator_terms, kl_normal

    Examples
    --------
    >>> import numpy as np
    >>> from kldiv import monte_carlo_kl, kl_normal
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(2.0, 0.5, size=200_000)
    >>> log_p = -0.5 * ((x - 2.0) / 0.5) ** 2 - np.log(0.5 * np.sqrt(2 * np.pi))
    >>> log_q = -0.5 * (x - 1.0) ** 2 - np.log(np.sqrt(2 * np.pi))
    >>> print(f"{monte_carlo_kl(log_p, log_q, estimator='k1'):.2f} vs {kl_normal(2.0, 0.5, 1.0, 1.0):.2f}")
    0.82 vs 0.82

    Here ``k3`` would be a poor choice: ``q`` has heavier tails than ``p``, so
    :math:`\mathbb{E}_p[r^2] = \int q^2 / p` diverges and the k3 terms have infinite variance.
    """
    scale = check_base(base)
    terms = kl_estimator_terms(log_p, log_q, estimator=estimator)
    if terms.ndim == 0:
        raise ValueError("monte_carlo_kl needs an axis of samples; got scalar log-densities")
    ax = check_axis(axis, terms.ndim, "the samples")
    out = terms.mean(axis=ax) / scale
    return out[()] if out.ndim == 0 else out


def _check_logits(z: ArrayLike, name: str) -> NDArray[np.float64]:
    arr = as_real_array(z, name).astype(np.float64, copy=False)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-d vector of logits (one per outcome); got shape {arr.shape}")
    if not np.isfinite(arr).all():
        i = int(np.argwhere(~np.isfinite(arr))[0, 0])
        raise ValueError(f"{name} must be finite; got {float(arr[i])!r} at index {i}")
    return arr


def _log_softmax(z: NDArray[np.float64]) -> NDArray[np.float64]:
    shifted = z - z.max()
    return shifted - np.log(np.exp(shifted).sum())


def kl_estimator_logit_gradients(
    logits: ArrayLike,
    ref_logits: ArrayLike,
    samples: ArrayLike,
    *,
    estimator: str,
    score_function: bool = False,
) -> NDArray[np.float64]:
    r"""Per-sample gradients, with respect to a categorical policy's logits, of a KL estimator.

    The policy is :math:`\pi_\theta = \operatorname{softmax}(\theta)`, the reference
    :math:`\pi_{\mathrm{ref}} = \operatorname{softmax}(\theta_{\mathrm{ref}})`, and the samples
    :math:`y_n \sim \pi_\theta` estimate :math:`D_{\mathrm{KL}}(\pi_\theta \,\|\,
    \pi_{\mathrm{ref}})` through :func:`kl_estimator_terms` with ``log_p`` :math:`= \log
    \pi_\theta(y_n)` and ``log_q`` :math:`= \log \pi_{\mathrm{ref}}(y_n)`. With
    :math:`\rho = \pi_{\mathrm{ref}}(y) / \pi_\theta(y)` and :math:`\nabla_\theta \log
    \pi_\theta(y) = e_y - \pi_\theta`, differentiating the estimator with the sample held fixed
    (what automatic differentiation does to a loss) gives

    .. math::

        \nabla k_1 = e_y - \pi_\theta, \qquad
        \nabla k_2 = -\log\rho\,(e_y - \pi_\theta), \qquad
        \nabla k_3 = (1 - \rho)\,(e_y - \pi_\theta) .

    Their expectations under :math:`\pi_\theta` are :math:`0`, :math:`\nabla D_{\mathrm{KL}}(\pi_\theta
    \,\|\, \pi_{\mathrm{ref}})` and :math:`\nabla D_{\mathrm{KL}}(\pi_{\mathrm{ref}} \,\|\,
    \pi_\theta)` (the *forward* direction). With ``score_function=True`` the score-function term
    :math:`k(y)\,(e_y - \pi_\theta)` is added, which accounts for the samples' dependence on
    :math:`\theta`: the mean is then unbiased for :math:`\nabla \mathbb{E}_{\pi_\theta}[k]`, the
    reverse divergence's gradient for ``k1`` and ``k3``.

    Parameters
    ----------
    logits, ref_logits : array_like
        1-d, finite, one per outcome: :math:`\theta` and :math:`\theta_{\mathrm{ref}}`.
    samples : array_like of int
        Outcomes :math:`y_n \in \{0, \dots, K-1\}`, any shape.
    estimator : {"k1", "k2", "k3"}
        Required, as in :func:`kl_estimator_terms`.
    score_function : bool, default False
        Add the score-function (REINFORCE) term.

    Returns
    -------
    numpy.ndarray
        Shape ``samples.shape + (K,)``: one gradient per sample.

    See Also
    --------
    kl_estimator_terms, kl_regularized_policy

    Examples
    --------
    >>> import numpy as np
    >>> from kldiv import kl_estimator_logit_gradients
    >>> g = kl_estimator_logit_gradients([0.0, 0.0], [0.0, np.log(3)], [0, 1], estimator="k3")
    >>> g.round(4)  # the mean is pi - pi_ref = grad KL(pi_ref || pi), the forward direction
    array([[ 0.25, -0.25],
           [ 0.25, -0.25]])
    """
    if not isinstance(estimator, str) or estimator not in ESTIMATORS:
        raise ValueError(f"estimator must be one of {', '.join(map(repr, ESTIMATORS))}; got {estimator!r}")
    if not isinstance(score_function, (bool, np.bool_)):
        raise TypeError(f"score_function must be True or False; got {score_function!r}")
    z = _check_logits(logits, "logits")
    z_ref = _check_logits(ref_logits, "ref_logits")
    if z.shape != z_ref.shape:
        raise ValueError(f"logits and ref_logits must have the same length; got {z.size} and {z_ref.size}")
    y = np.asarray(samples)
    if y.dtype.kind not in "iu":
        raise TypeError(f"samples must be integer outcomes; got dtype {y.dtype}")
    if y.size and (y.min() < 0 or y.max() >= z.size):
        bad = y.min() if y.min() < 0 else y.max()
        raise ValueError(f"samples must lie in 0..{z.size - 1} (one per logit); got {int(bad)}")
    log_pi, log_ref = _log_softmax(z), _log_softmax(z_ref)
    score = np.eye(z.size)[y] - np.exp(log_pi)  # grad of log pi(y): e_y - pi
    log_rho = (log_ref - log_pi)[y]
    factor = {"k1": np.ones_like(log_rho), "k2": -log_rho, "k3": -np.expm1(log_rho)}[estimator]
    if score_function:
        factor = factor + kl_estimator_terms(log_pi[y], log_ref[y], estimator=estimator)
    return np.asarray(factor[..., None] * score)


def kl_regularized_policy(ref_logits: ArrayLike, reward: ArrayLike, *, beta: float) -> NDArray[np.float64]:
    r"""The maximiser of :math:`\mathbb{E}_{\pi}[r] - \beta\, D_{\mathrm{KL}}(\pi \,\|\, \pi_{\mathrm{ref}})`.

    .. math::

        \pi^*(y) = \frac{\pi_{\mathrm{ref}}(y)\, e^{r(y)/\beta}}
                         {\sum_{y'} \pi_{\mathrm{ref}}(y')\, e^{r(y')/\beta}} ,
        \qquad \pi_{\mathrm{ref}} = \operatorname{softmax}(\theta_{\mathrm{ref}}) ,

    computed as :math:`\operatorname{softmax}(\theta_{\mathrm{ref}} + r/\beta)` (no overflow for
    large :math:`r/\beta`).

    Parameters
    ----------
    ref_logits, reward : array_like
        1-d, finite, the same length: the reference policy's logits and the reward per outcome.
    beta : float
        The penalty's weight, positive and finite. As ``beta`` grows :math:`\pi^* \to
        \pi_{\mathrm{ref}}`; as it shrinks :math:`\pi^*` concentrates on the best outcomes.

    Returns
    -------
    numpy.ndarray
        The probabilities :math:`\pi^*`, float64, summing to 1.

    Examples
    --------
    >>> import numpy as np
    >>> from kldiv import kl_regularized_policy
    >>> kl_regularized_policy([0.0, 0.0], [0.0, np.log(3)], beta=1.0).round(4)
    array([0.25, 0.75])
    """
    z_ref = _check_logits(ref_logits, "ref_logits")
    r = _check_logits(reward, "reward")
    if z_ref.shape != r.shape:
        raise ValueError(f"ref_logits and reward must have the same length; got {z_ref.size} and {r.size}")
    if isinstance(beta, bool) or not isinstance(beta, (int, float, np.integer, np.floating)):
        raise TypeError(f"beta must be a real number; got {beta!r}")
    if not (np.isfinite(beta) and beta > 0):
        raise ValueError(f"beta must be positive and finite; got {float(beta)!r}")
    return np.exp(_log_softmax(z_ref + r / float(beta)))
