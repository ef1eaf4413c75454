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
``k2``    :math:`\tfrac12 (\ln r)^2`      yes         always :math:`\ge 0`; low variance; its mean
                                                      is a second-order (f-divergence) approximation,
                                                      nearly unbiased only when ``p ≈ q``
``k3``    :math:`(r - 1) - \ln r`         none        always :math:`\ge 0` (since
                                                      :math:`\ln r \le r - 1`) and usually the
                                                      lowest variance; but its variance involves
                                                      :math:`\mathbb{E}_p[r^2]`, which is infinite
                                                      when ``q`` has much heavier tails than ``p``
========  ==============================  ==========  ===========================================
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from kldiv._validation import as_real_array, check_axis, check_base

__all__ = ["ESTIMATORS", "kl_estimator_terms", "monte_carlo_kl"]

#: The estimator names :func:`monte_carlo_kl` accepts.
ESTIMATORS = ("k1", "k2", "k3")


def kl_estimator_terms(
    log_p: ArrayLike, log_q: ArrayLike, *, estimator: str = "k3"
) -> NDArray[np.float64]:
    r"""Per-sample values of a Monte Carlo KL estimator, from log-densities of samples of ``p``.

    Parameters
    ----------
    log_p, log_q : array_like
        :math:`\ln p(x_n)` and :math:`\ln q(x_n)` for samples :math:`x_n \sim p`; they broadcast.
        ``log_q`` may be ``-inf`` (a sample that ``q`` rules out, so the divergence is infinite);
        ``log_p`` must be finite, since a sample of ``p`` cannot have probability 0 under ``p``.
    estimator : {"k1", "k2", "k3"}
        See the module docstring for bias and variance.

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
    with np.errstate(over="ignore"):
        # expm1 keeps (r - 1) - ln r accurate, and >= 0 after rounding, when r is close to 1.
        return np.asarray(np.expm1(log_r) - log_r)


def monte_carlo_kl(
    log_p: ArrayLike,
    log_q: ArrayLike,
    *,
    estimator: str = "k3",
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
    estimator : {"k1", "k2", "k3"}, default "k3"
        ``k1`` (:math:`-\ln r`, unbiased, high variance), ``k2`` (:math:`\tfrac12(\ln r)^2`, biased,
        low variance) or ``k3`` (:math:`r - 1 - \ln r`, unbiased and non-negative).
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
