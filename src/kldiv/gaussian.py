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

__all__ = ["kl_normal", "kl_diag_normal", "kl_mvn_normal"]


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


def _cholesky(cov: NDArray[np.float64], name: str) -> NDArray[np.float64]:
    if not np.isfinite(cov).all():
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(cov))[0])
        raise ValueError(f"{name} must be finite; got {cov[bad]!r} at index {bad}")
    asym = np.abs(cov - np.swapaxes(cov, -1, -2))
    tol = 1e-12 * np.maximum(np.abs(cov), np.abs(np.swapaxes(cov, -1, -2)))
    if (asym > tol).any():
        bad = tuple(int(i) for i in np.argwhere(asym > tol)[0])
        raise ValueError(f"{name} must be symmetric; {name}{list(bad)} differs from its transpose by {asym[bad]:.3g}")
    try:
        return np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        eig = np.linalg.eigvalsh(cov).min()
        raise ValueError(f"{name} must be positive definite (a covariance matrix); its smallest eigenvalue is {eig:.3g}") from None


def kl_mvn_normal(
    mu_p: ArrayLike,
    cov_p: ArrayLike,
    mu_q: ArrayLike,
    cov_q: ArrayLike,
    *,
    base: float | None = None,
) -> np.float64 | NDArray[np.float64]:
    r"""KL divergence between multivariate normals with full covariance matrices, in closed form.

    .. math::

        D_{\mathrm{KL}}(\mathcal N(\mu_p, \Sigma_p) \,\|\, \mathcal N(\mu_q, \Sigma_q))
        = \tfrac12\left[\operatorname{tr}(\Sigma_q^{-1}\Sigma_p)
        + (\mu_q - \mu_p)^\top \Sigma_q^{-1}(\mu_q - \mu_p) - d
        + \ln\frac{\det\Sigma_q}{\det\Sigma_p}\right].

    Evaluated with Cholesky factors :math:`\Sigma = L L^\top` (as TensorFlow Probability's
    ``MultivariateNormalTriL``): :math:`M = L_q^{-1} L_p` by a triangular solve, the trace as
    :math:`\|M\|_F^2`, the log-determinant ratio as :math:`2 \sum \ln \operatorname{diag}(L_q)
    - 2 \sum \ln \operatorname{diag}(L_p)`. Batch axes broadcast.

    Parameters
    ----------
    mu_p, mu_q : array_like
        Means, shape ``(..., d)``.
    cov_p, cov_q : array_like
        Covariance matrices (symmetric positive definite), shape ``(..., d, d)``.
    base : float, optional
        None for nats, 2 for bits.

    Raises
    ------
    ValueError
        A covariance that is not finite, symmetric or positive definite (named, with the reason);
        shapes that do not fit together.

    See Also
    --------
    kl_diag_normal, tensorflow_probability.distributions.MultivariateNormalTriL

    Examples
    --------
    Correlated coordinates against independent ones with the same variances:

    >>> import numpy as np
    >>> from kldiv import kl_mvn_normal
    >>> cov = np.array([[1.0, 0.8], [0.8, 1.0]])
    >>> print(f"{kl_mvn_normal([0, 0], cov, [0, 0], np.eye(2)):.4f}")   # -ln(1 - 0.8^2) / 2
    0.5108
    """
    scale = check_base(base)
    mp = as_real_array(mu_p, "mu_p").astype(np.float64, copy=False)
    mq = as_real_array(mu_q, "mu_q").astype(np.float64, copy=False)
    cp = as_real_array(cov_p, "cov_p").astype(np.float64, copy=False)
    cq = as_real_array(cov_q, "cov_q").astype(np.float64, copy=False)
    for name, arr in (("mu_p", mp), ("mu_q", mq)):
        if arr.ndim < 1:
            raise ValueError(f"{name} must be a vector (shape (..., d)); got the scalar {arr!r} (use kl_normal)")
        if not np.isfinite(arr).all():
            bad = tuple(int(i) for i in np.argwhere(~np.isfinite(arr))[0])
            raise ValueError(f"{name} must be finite; got {arr[bad]!r} at index {bad}")
    d = mp.shape[-1]
    for name, arr in (("mu_q", mq), ("cov_p", cp), ("cov_q", cq)):
        want = (d, d) if name.startswith("cov") else (d,)
        if arr.shape[-len(want):] != want or arr.ndim < len(want):
            raise ValueError(f"{name} must have shape (..., {', '.join(map(str, want))}) to match mu_p's d = {d}; got shape {arr.shape}")
    lp, lq = _cholesky(cp, "cov_p"), _cholesky(cq, "cov_q")
    try:
        batch = np.broadcast_shapes(mp.shape[:-1], mq.shape[:-1], cp.shape[:-2], cq.shape[:-2])
    except ValueError:
        raise ValueError(
            f"the batch shapes do not broadcast: mu_p {mp.shape}, cov_p {cp.shape}, mu_q {mq.shape}, cov_q {cq.shape}"
        ) from None
    lp = np.broadcast_to(lp, batch + (d, d))
    lq = np.broadcast_to(lq, batch + (d, d))
    diff = np.broadcast_to(mq - mp if mq.shape == mp.shape else np.subtract(*np.broadcast_arrays(mq, mp)), batch + (d,))
    m = np.linalg.solve(lq, lp)  # L_q^{-1} L_p (a general solve: NumPy has no batched triangular one)
    z = np.linalg.solve(lq, diff[..., None])[..., 0]
    trace = np.einsum("...ij,...ij->...", m, m)
    # ln det(S_q) / det(S_p) from the factors' diagonals. (For nearly equal covariances trace - d +
    # log_det cancels: the result then has an absolute, not a relative, error of a few d eps.)
    log_det = 2.0 * (np.log(np.diagonal(lq, axis1=-2, axis2=-1)).sum(-1) - np.log(np.diagonal(lp, axis1=-2, axis2=-1)).sum(-1))
    out = 0.5 * (trace - d + log_det + np.einsum("...i,...i->...", z, z))
    out = out / scale
    return out[()] if np.ndim(out) == 0 else out
