r"""Closed-form KL divergence between normal distributions.

For univariate normals (Bishop, *PRML*, eq. 1.113 and exercise 1.30; Kullback 1959):

.. math::

    D_{\mathrm{KL}}\big(\mathcal N(\mu_p, \sigma_p^2) \,\|\, \mathcal N(\mu_q, \sigma_q^2)\big)
    = \ln\frac{\sigma_q}{\sigma_p} + \frac{\sigma_p^2 + (\mu_p - \mu_q)^2}{2\sigma_q^2} - \frac12 .

Written with :math:`\ell = 2 \ln(\sigma_p / \sigma_q)` it is
:math:`\tfrac12\big[(e^{\ell} - 1 - \ell) + (\mu_p - \mu_q)^2 / \sigma_q^2\big]`, and
``expm1(l) - l`` keeps a relative error of about :math:`2\epsilon/|l|` when the two scales are almost
equal (1.6e-8 at a scale ratio of 1 + 1e-9), where the textbook form subtracts numbers that agree in
most of their digits and keeps none.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from kldiv._validation import as_real_array, check_axis, check_base

__all__ = ["kl_normal", "kl_diag_normal"]


def _params(
    mu_p: ArrayLike, sigma_p: ArrayLike, mu_q: ArrayLike, sigma_q: ArrayLike
) -> list[NDArray[np.float64]]:
    named = {"mu_p": mu_p, "sigma_p": sigma_p, "mu_q": mu_q, "sigma_q": sigma_q}
    arrays = {n: as_real_array(v, n).astype(np.float64, copy=False) for n, v in named.items()}
    for name, arr in arrays.items():
        finite = np.isfinite(arr)
        ok = finite & (arr > 0) if name.startswith("sigma") else finite
        if not ok.all():
            bad = tuple(int(i) for i in np.argwhere(~ok)[0]) if arr.ndim else ()
            value = arr[bad] if arr.ndim else arr[()]
            what = "positive and finite (a standard deviation)" if name.startswith("sigma") else "finite"
            raise ValueError(f"{name} must be {what}; got {value!r}" + (f" at index {bad}" if bad else ""))
    try:
        return list(np.broadcast_arrays(*arrays.values()))
    except ValueError:
        shapes = ", ".join(f"{n} {a.shape}" for n, a in arrays.items())
        raise ValueError(f"the parameters must broadcast together; got shapes {shapes}") from None


def _terms(mp: Any, sp: Any, mq: Any, sq: Any) -> NDArray[np.float64]:
    # l = 2 ln(sp / sq). For close scales (ratio in [1/2, 2]) sp - sq is exact (Sterbenz) and
    # 2 log1p((sp - sq) / sq) keeps l's relative accuracy; otherwise a difference of logs never
    # overflows or underflows. expm1(l) - l >= 0 holds after rounding either way.
    near = (sp <= 2.0 * sq) & (sq <= 2.0 * sp)
    with np.errstate(over="ignore"):
        ell = np.where(near, 2.0 * np.log1p(np.where(near, (sp - sq) / sq, 0.0)), 2.0 * (np.log(sp) - np.log(sq)))
        out = 0.5 * ((np.expm1(ell) - ell) + ((mp - mq) / sq) ** 2)
    return out



def kl_normal(
    mu_p: ArrayLike,
    sigma_p: ArrayLike,
    mu_q: ArrayLike,
    sigma_q: ArrayLike,
    *,
    base: float | None = None,
) -> np.float64 | NDArray[np.float64]:
    r"""KL divergence between two univariate normal distributions, in closed form.

    .. math::

        D_{\mathrm{KL}}(p \,\|\, q) = \ln\frac{\sigma_q}{\sigma_p}
        + \frac{\sigma_p^2 + (\mu_p - \mu_q)^2}{2\sigma_q^2} - \frac12 .

    Parameters
    ----------
    mu_p, sigma_p : array_like
        Mean and **standard deviation** (not variance) of :math:`p`.
    mu_q, sigma_q : array_like
        Mean and standard deviation of :math:`q`.
    base : float, optional
        None for nats, 2 for bits.

    Returns
    -------
    numpy.float64 or numpy.ndarray
        The divergence, broadcast over the parameters.

    Raises
    ------
    ValueError
        A non-positive or non-finite standard deviation, a non-finite mean, shapes that do not
        broadcast.

    See Also
    --------
    kl_diag_normal, tensorflow_probability.distributions.kl_divergence

    Examples
    --------
    :math:`D(\mathcal N(2, 0.5^2) \,\|\, \mathcal N(1, 1)) = 1/8 + \ln 2`:

    >>> from kldiv import kl_normal
    >>> print(f"{kl_normal(2.0, 0.5, 1.0, 1.0):.7f}")
    0.8181472
    >>> print(f"{kl_normal(1.0, 1.0, 2.0, 0.5):.7f}")
    2.8068528
    """
    scale = check_base(base)
    out = _terms(*_params(mu_p, sigma_p, mu_q, sigma_q)) / scale
    return out[()] if out.ndim == 0 else out


def kl_diag_normal(
    mu_p: ArrayLike,
    sigma_p: ArrayLike,
    mu_q: ArrayLike,
    sigma_q: ArrayLike,
    *,
    axis: int = -1,
    base: float | None = None,
) -> np.float64 | NDArray[np.float64]:
    r"""KL divergence between multivariate normals with diagonal covariances.

    With :math:`\Sigma = \operatorname{diag}(\sigma^2)` the divergence separates into a sum over the
    ``d`` coordinates of univariate divergences:

    .. math::

        D_{\mathrm{KL}}(p \,\|\, q) = \sum_{j=1}^{d} \left[\ln\frac{\sigma_{q,j}}{\sigma_{p,j}}
        + \frac{\sigma_{p,j}^2 + (\mu_{p,j} - \mu_{q,j})^2}{2\sigma_{q,j}^2} - \frac12\right].

    With :math:`q = \mathcal N(0, I)` this is the KL term of a variational autoencoder
    (Kingma & Welling 2014, appendix B).

    Parameters
    ----------
    mu_p, sigma_p, mu_q, sigma_q : array_like
        Means and standard deviations, with the ``d`` coordinates along ``axis``; they broadcast.
    axis : int, default -1
        The coordinate axis that is summed over.
    base : float, optional
        None for nats, 2 for bits.

    Examples
    --------
    A VAE encoder's output against the standard-normal prior:

    >>> from kldiv import kl_diag_normal
    >>> print(f"{kl_diag_normal([0.5, -0.5], [1.0, 0.5], 0.0, 1.0):.4f}")
    0.5681
    """
    scale = check_base(base)
    params = _params(mu_p, sigma_p, mu_q, sigma_q)
    if params[0].ndim == 0:
        raise ValueError("kl_diag_normal needs a coordinate axis; got only scalar parameters (use kl_normal)")
    ax = check_axis(axis, params[0].ndim, "the broadcast parameters")
    out = _terms(*params).sum(axis=ax) / scale
    return out[()] if out.ndim == 0 else out
