r"""Entropy, cross-entropy and Kullback-Leibler divergence of discrete distributions.

Conventions shared by every function here:

* The **event axis** (``axis``, default the last) holds the outcomes of one distribution; every
  other axis is a batch axis, and results are per row. Batch axes broadcast by NumPy's rules; the
  event axis never does, so both inputs must list the same number of outcomes.
* :math:`0 \log 0 = 0` and :math:`0 \log(0/q) = 0`: an outcome that ``p`` rules out contributes
  nothing. Where ``p > 0`` but ``q = 0`` the divergence and the cross-entropy are ``+inf``, never
  a large finite number.
* Rows must sum to one within ``atol`` (default: the square root of the input dtype's epsilon,
  1.5e-8 for float64 and 3.5e-4 for float32). ``normalize=True`` accepts any non-negative row with a
  positive sum. Either way each row is divided by its float64 sum before logarithms are taken.
* Results are in nats by default; ``base=2`` gives bits (the result is divided by :math:`\ln 2`).
* Everything is accumulated in float64, and the divergence is summed as the non-negative terms
  :math:`p\,(r - 1 - \ln r)` with :math:`r = q/p` (they add up to :math:`\sum p \ln(p/q)` because
  both rows sum to one), so nearly identical float32 inputs give a small positive divergence,
  never a negative one, and :math:`D(p \,\|\, p) = 0` exactly.
* Log-ratios near 1 are taken in the ``log1p`` form (SciPy gh-20710): ``log1p((x - y) / y)`` for
  :func:`log_likelihood_ratio`; for :func:`kl_divergence`, a series in ``u = q/p - 1``, taken
  from exact differences, for the terms whose ratio is within about 1/8 of 1; and a log-sum-exp of logit differences for
  :func:`kl_divergence_from_logits`; see each function's *Accuracy* note.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from kldiv import _blocks
from kldiv._validation import (
    as_real_array,
    check_atol,
    check_base,
    default_atol,
    event_layout,
    format_index,
)

__all__ = [
    "cross_entropy",
    "cross_entropy_from_logits",
    "entropy",
    "entropy_from_logits",
    "expected_value",
    "kl_bernoulli",
    "kl_divergence",
    "kl_divergence_from_logits",
    "log_likelihood_ratio",
    "rel_entr",
]

Float = np.float64 | NDArray[np.float64]

_TINY = np.finfo(np.float64).tiny  # the smallest normal float64
# Reductions as ufunc methods: the ndarray methods (.min(), .sum(), .any()) add a Python wrapper
# that costs about a microsecond per call, which a small call notices.
_MIN, _MAX, _SUM, _FMIN = np.minimum.reduce, np.maximum.reduce, np.add.reduce, np.fmin.reduce

# u - log1p(u) for |u| < _SERIES_U and expm1(d) - d for |d| < _SERIES_D are summed as series: both
# differences lose about log2(2 / |u|) bits to cancellation when taken directly (a relative error of
# 2e-2 at u = 1e-14, SciPy gh-20710's pairs), and keep a relative error below 4e-15 beyond those
# bounds.
_SERIES_U = 0.25
_SERIES_D = 0.125
# Coefficients 1/3, 1/5, ..., 1/23 of u - log1p(u) = t u - 2 t^3 (1/3 + t^2/5 + t^4/7 + ...) with
# t = u / (2 + u) (from log1p(u) = 2 atanh(t) and u - 2 t = t u): |t| <= 1/7 here, so 11 terms reach
# 2e-19 and t u - 2 t^3 (...) cancels at most one part in 20.
_ATANH = np.array([1.0 / n for n in range(23, 1, -2)])
# 1/n! for n = 12, 11, ..., 2: expm1(d) - d = d^2 (1/2 + d/6 + d^2/24 + ...), 11 terms to 4e-18.
_EXP = np.array([1.0 / math.factorial(n) for n in range(12, 1, -1)])
_POWERS = np.arange(12, dtype=np.float64)


def _x_minus_log1p(u: NDArray[np.float64]) -> NDArray[np.float64]:
    """``u - log1p(u)`` (that is ``r - 1 - ln r`` for ``r = 1 + u``) to a few ulps, element-wise.

    Non-negative for every ``u >= -1`` after rounding; ``+inf`` at ``u = -1``. Call it under
    ``np.errstate(divide="ignore", invalid="ignore")``.
    """
    # The caller ignores floating-point errors: -inf, inf and nan are handled. Block-sized results go
    # to the thread's scratch buffers: a fresh 2 MB array per block costs page faults (see _blocks).
    big = u.size > _SMALL
    f = np.log1p(u, out=_blocks.scratch(3, u.shape) if big else None)
    np.subtract(u, f, out=f)
    a = np.abs(u, out=_blocks.scratch(4, u.shape) if big else None)
    # Flat indices with take/put: about twice as fast as boolean-mask indexing on a block.
    idx = np.flatnonzero(a < _SERIES_U)
    if idx.size:
        f.reshape(-1).put(idx, _series_x_minus_log1p(u.reshape(-1).take(idx)))
    return f


def _series_x_minus_log1p(u: NDArray[np.float64]) -> NDArray[np.float64]:
    t = u / (2.0 + u)
    t2 = t * t
    # Only as many terms as the largest t^2 needs to reach 1e-17 (one for u ~ 1e-8).
    s = _poly(t2, _ATANH[-_terms_needed(float(t2.max()), len(_ATANH)) :])
    t2 *= s
    t2 *= -2.0
    t2 += u
    return t * t2  # t u - 2 t^3 s


def _poly(x: NDArray[np.float64], coeffs: NDArray[np.float64]) -> NDArray[np.float64]:
    """The polynomial with ``coeffs`` (highest power first) at ``x``: Horner's rule, or for a few
    points one matrix product (each in-place NumPy operation costs a microsecond on tiny arrays)."""
    n = len(coeffs)
    if x.size <= 512:
        return (x[:, None] ** _POWERS[n - 1 :: -1]) @ coeffs if n > 1 else np.full_like(x, coeffs[0])
    s = np.full_like(x, coeffs[0])
    for c in coeffs[1:]:
        s *= x
        s += c
    return s


def _terms_needed(x: float, most: int) -> int:
    """How many terms of a series in powers of ``x`` (each term about ``x`` times the last) reach 1e-17."""
    if x <= 1e-17:
        return 1
    return min(most, math.ceil(-17.0 / math.log10(x)) + 1)


def _expm1_minus(d: NDArray[np.float64]) -> NDArray[np.float64]:
    """``expm1(d) - d`` (that is ``r - 1 - ln r`` for ``ln r = d``) to a few ulps, element-wise."""
    with np.errstate(over="ignore", invalid="ignore"):
        f = np.expm1(d) - d
        small = np.abs(d) < _SERIES_D
    if small.any():
        x = d[small]
        s = _poly(x, _EXP[-_terms_needed(float(np.abs(x).max()), len(_EXP)) :])
        f[small] = x * x * s
    return f


class _Rows:
    """Validates and normalises one block of rows of a named probability input."""

    def __init__(
        self, name: str, atol: float, normalize: bool, batch: tuple[int, ...], axis: int
    ) -> None:
        self.name, self.atol, self.normalize = name, atol, normalize
        self.batch, self.axis, self.ndim = batch, axis, len(batch) + 1

    def where(self, row: int, col: int) -> tuple[int, ...]:
        return format_index(row, col, self.batch, self.axis, self.ndim)

    def __call__(
        self, start: int, block: NDArray[Any], slot: int, *, scale: bool = True
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Check a block of rows; return it as float64 (in scratch ``slot``) and its row sums.

        With ``scale`` the rows are divided by their sums in place, so they sum to one.
        """
        x = _blocks.scratch(slot, block.shape)
        np.copyto(x, block)  # a float64 work copy
        lowest = block.min()
        if not lowest >= 0:  # catches negatives and NaN (NaN compares False)
            self.raise_for_entries(start, x)
        with np.errstate(over="ignore"):  # an overflowing sum is reported below, by name
            sums = x.sum(axis=1)
        if not np.isfinite(sums).all():
            self.raise_for_entries(start, x)
            row = int(np.argmin(np.isfinite(sums)))
            raise ValueError(
                f"{self.name} has a row whose sum overflows float64 (batch index {self._row(start + row)}); "
                "rescale it before normalising"
            )
        if self.normalize:
            if not (sums > 0).all():
                row = int(np.argmin(sums > 0))
                raise ValueError(
                    f"{self.name} has a row of zeros at batch index {self._row(start + row)}; "
                    "it cannot be normalised to a distribution"
                )
        else:
            off = np.abs(sums - 1.0)
            if not (off <= self.atol).all():
                row = int(np.argmax(off))
                raise ValueError(
                    f"{self.name} must sum to 1 along axis {self.axis} (within atol={self.atol:.2g}); "
                    f"the row at batch index {self._row(start + row)} sums to {sums[row]:.10g}. "
                    "Pass normalize=True to rescale rows that are proportional to a distribution."
                )
        if scale:
            x *= (1.0 / sums)[:, None]
        return x, sums

    def raise_for_entries(self, start: int, x: NDArray[np.float64]) -> None:
        """Raise for the first negative, NaN or infinite entry of a block, if there is one."""
        ok = (x >= 0) & (x < np.inf)
        if not ok.all():
            bad = np.argwhere(~ok)[0]
            raise ValueError(
                f"{self.name} must contain non-negative, finite probabilities; got {x[tuple(bad)]!r} "
                f"at index {self.where(start + int(bad[0]), int(bad[1]))}"
            )

    def _row(self, row: int) -> tuple[int, ...]:
        return tuple(int(i) for i in np.unravel_index(row, self.batch)) if self.batch else ()


#: Inputs up to this many elements per argument may take the short path of :func:`_small_call`.
_SMALL = 4096


def _small_call(
    p: ArrayLike, q: ArrayLike, axis: Any, atol: Any, normalize: Any
) -> tuple[Any, ...] | None:
    """The checked float64 rows ``(x, y, sums of x, sums of y, batch shape)`` of a small call, or None.

    One call on a few outcomes should cost microseconds, not the ~100 us of the general path's
    layout, blocks and per-block checks (issue 11). This path takes only 1-d or 2-d real arrays of
    the same shape with the event axis last and ``normalize=False``; it makes the same checks as the
    general path, and anything unusual (including any bad input, so that the error message is the
    general path's) returns None and goes the long way.
    """
    if normalize is not False or not (axis == -1 or axis is None) or isinstance(axis, bool) or axis is None:
        return None
    if not (isinstance(atol, float) or atol is None):
        return None
    try:
        x, y = np.asarray(p), np.asarray(q)
    except (ValueError, TypeError):
        return None
    if (x.shape != y.shape or not 1 <= x.ndim <= 2 or x.size > _SMALL or x.size == 0
            or x.dtype.kind != "f" or y.dtype.kind != "f" or x.dtype != y.dtype):
        return None
    tol = atol if atol is not None else default_atol(x.dtype)
    if not (math.isfinite(tol) and tol >= 0):
        return None
    batch = x.shape[:-1]
    # float64 work copies, as rows (one row for 1-d input)
    xy = np.empty((2, x.shape[0] if x.ndim == 2 else 1, x.shape[-1]))
    xy[0], xy[1] = x, y
    if not _MIN(xy, axis=None) >= 0:  # also catches nan
        return None
    sums = _SUM(xy, axis=-1)
    # Finite sums of non-negative entries mean finite entries; both within tol of 1.
    if not _MAX(np.abs(sums - 1.0), axis=None) <= tol:
        return None
    return xy[0], xy[1], sums[0], sums[1], batch


def _finish(result: NDArray[np.float64], batch: tuple[int, ...], scale: float) -> Float:
    out = result.reshape(batch)
    if scale != 1.0:
        out = out / scale
    return out[()] if out.ndim == 0 else out


def _prob_inputs(
    named: dict[str, ArrayLike],
    axis: int,
    atol: float | None,
    normalize: bool,
    *,
    plain: dict[str, ArrayLike] | None = None,
) -> tuple[list[NDArray[Any]], list[_Rows], tuple[int, ...]]:
    """Lay out probability inputs (``named``) and other per-outcome inputs (``plain``) as rows.

    Returns the 2-d views (``plain`` first, then ``named``), one row checker per probability input,
    and the batch shape.
    """
    if not isinstance(normalize, (bool, np.bool_)):
        raise TypeError(f"normalize must be True or False; got {normalize!r}")
    arrays = {name: as_real_array(x, name, min_ndim=1) for name, x in (plain or {}).items()}
    probs = {name: as_real_array(x, name, min_ndim=1) for name, x in named.items()}
    flat, batch, _ = event_layout({**arrays, **probs}, axis)
    checkers = [
        _Rows(name, check_atol(atol, arr.dtype), bool(normalize), batch, axis)
        for name, arr in probs.items()
    ]
    return flat, checkers, batch


def entropy(
    p: ArrayLike,
    *,
    base: float | None = None,
    axis: int = -1,
    normalize: bool = False,
    atol: float | None = None,
) -> Float:
    r"""Shannon entropy of a discrete distribution: the expected surprise.

    .. math::

        H(p) = \mathbb{E}_{x \sim p}[-\log p(x)] = -\sum_i p_i \log p_i,
        \qquad 0 \log 0 = 0.

    Parameters
    ----------
    p : array_like
        Probabilities along ``axis``; every other axis is a batch axis.
    base : float, optional
        Logarithm base: None for nats (natural log), 2 for bits.
    axis : int, default -1
        The event axis.
    normalize : bool, default False
        Rescale rows that do not sum to one instead of rejecting them.
    atol : float, optional
        Tolerance on each row sum (default: square root of the dtype's epsilon).

    Returns
    -------
    numpy.float64 or numpy.ndarray
        :math:`H(p) \ge 0`, one value per row.

    Raises
    ------
    ValueError
        Negative, NaN or infinite entries, a row that does not sum to one, an empty input, a bad
        ``axis`` or ``base``.

    See Also
    --------
    cross_entropy, kl_divergence, scipy.stats.entropy

    Examples
    --------
    A fair coin carries one bit of surprise per toss:

    >>> from kldiv import entropy
    >>> print(f"{entropy([0.5, 0.5], base=2):.4f}")
    1.0000
    >>> entropy([[1.0, 0.0], [0.25, 0.75]], base=2).round(4)
    array([0.    , 0.8113])
    """
    scale = check_base(base)
    flat, (rows,), batch = _prob_inputs({"p": p}, axis, atol, normalize)

    def kernel(start: int, pb: NDArray[Any]) -> NDArray[np.float64]:
        x, _ = rows(start, pb, 0)
        t = _blocks.scratch(1, x.shape)
        with np.errstate(divide="ignore", invalid="ignore"):
            np.log(x, out=t)
            t *= x  # 0 * -inf = nan where p = 0: fixed below to the convention 0 log 0 = 0
        h = 0.0 - t.sum(axis=1)  # 0.0 - s, not -s: no negative zero for a certain outcome
        if np.isnan(h).any():
            t[x == 0] = 0.0
            h = 0.0 - t.sum(axis=1)
        return h

    return _finish(_blocks.rowwise(kernel, flat), batch, scale)


def cross_entropy(
    p: ArrayLike,
    q: ArrayLike,
    *,
    base: float | None = None,
    axis: int = -1,
    normalize: bool = False,
    atol: float | None = None,
) -> Float:
    r"""Cross-entropy of ``q`` relative to ``p``: the expected surprise under ``q`` of outcomes drawn from ``p``.

    .. math::

        H(p, q) = -\sum_i p_i \log q_i = H(p) + D_{\mathrm{KL}}(p \,\|\, q).

    Terms with :math:`p_i = 0` contribute 0 (even where :math:`q_i = 0`); a term with
    :math:`p_i > 0 = q_i` makes the result ``+inf``.

    Parameters
    ----------
    p, q : array_like
        Probabilities along ``axis``: ``p`` the reference (the labels), ``q`` the model.
    base, axis, normalize, atol
        As in :func:`entropy`.

    Returns
    -------
    numpy.float64 or numpy.ndarray
        :math:`H(p, q) \ge H(p)`, one value per row.

    See Also
    --------
    entropy, kl_divergence

    Examples
    --------
    With a one-hot target the cross-entropy is the surprise of the true class:

    >>> from kldiv import cross_entropy
    >>> print(f"{cross_entropy([1, 0], [0.8, 0.2], base=2):.4f}")
    0.3219
    """
    scale = check_base(base)
    flat, (rows_p, rows_q), batch = _prob_inputs({"p": p, "q": q}, axis, atol, normalize)

    def kernel(start: int, pb: NDArray[Any], qb: NDArray[Any]) -> NDArray[np.float64]:
        (x, _), (y, _) = rows_p(start, pb, 0), rows_q(start, qb, 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.log(y, out=y)
            t *= x  # nan where p = 0 = q: fixed below to the convention 0 log 0 = 0
        h = 0.0 - t.sum(axis=1)
        if np.isnan(h).any():
            t[x == 0] = 0.0
            h = 0.0 - t.sum(axis=1)
        return h

    return _finish(_blocks.rowwise(kernel, flat), batch, scale)


def kl_divergence(
    p: ArrayLike,
    q: ArrayLike,
    *,
    base: float | None = None,
    axis: int = -1,
    normalize: bool = False,
    atol: float | None = None,
) -> Float:
    r"""Kullback-Leibler divergence :math:`D_{\mathrm{KL}}(p \,\|\, q)` between discrete distributions.

    .. math::

        D_{\mathrm{KL}}(p \,\|\, q) = \sum_i p_i \log \frac{p_i}{q_i}
        = \mathbb{E}_{x \sim p}\left[\log \frac{p(x)}{q(x)}\right] \ge 0.

    It is the expected log-likelihood ratio under ``p``, zero exactly when ``p = q`` (Gibbs'
    inequality), and not symmetric in its arguments. Terms with :math:`p_i = 0` contribute 0; a term
    with :math:`p_i > 0 = q_i` makes it ``+inf``.

    The sum is evaluated as :math:`\sum_i p_i (r_i - 1 - \ln r_i)` with :math:`r_i = q_i / p_i`,
    whose terms are each non-negative (:math:`\ln r \le r - 1`) and which equals the definition
    when both rows sum to one, so the result cannot round to a negative number. Where :math:`r` is
    within about 1/8 of 1, :math:`(r - 1) - \ln r` would cancel most of its digits, so those terms
    are summed as a series in :math:`u = r - 1` computed from the exact differences
    :math:`q_i - p_i`: the result keeps its relative accuracy also when ``p`` and ``q`` agree in
    most of their digits.

    **Accuracy.** For float64 rows that sum to one within rounding, the error is at most about
    :math:`(K + 30)\,\epsilon\,D + \epsilon\,\lVert p - q \rVert_1^2` for ``K`` outcomes
    (:math:`\epsilon = 2.2 \times 10^{-16}`): a relative error below :math:`10^{-13}` for up to a
    few hundred outcomes, whatever the size of the divergence. The second term matters only for rows
    that differ as given but are equal once each is divided by its exact sum (the exact divergence
    is 0; the result may then be of order :math:`10^{-60}`). The tests check the bound against
    60-digit arithmetic (mpmath) on random rows and on rows that agree to 1-14 digits, where the
    textbook sum :math:`\sum p \ln(p/q)` and ``scipy.special.rel_entr(p, q).sum()`` keep only an
    absolute error of about :math:`\epsilon` (relative errors of :math:`10^{-3}` and more). The
    reference is the divergence of the rows each divided by its exact sum. Float32 input is exact in
    float64, so the same holds for it. With ``normalize=True`` and row sums :math:`s_p \ne s_q` the
    scaling adds an absolute error of about :math:`\epsilon\,|s_p/s_q - 1|\,\sqrt{D}`.

    Parameters
    ----------
    p, q : array_like
        Probabilities along ``axis``.
    base : float, optional
        None for nats, 2 for bits.
    axis : int, default -1
        The event axis; every other axis is a batch axis (broadcast between ``p`` and ``q``).
    normalize : bool, default False
        Rescale rows that do not sum to one instead of rejecting them.
    atol : float, optional
        Tolerance on each row sum (default: square root of the dtype's epsilon).

    Returns
    -------
    numpy.float64 or numpy.ndarray
        One value per row, in ``[0, inf]``.

    Raises
    ------
    ValueError
        Negative, NaN or infinite entries; rows that do not sum to one; shapes that disagree; an
        empty input; a bad ``axis`` or ``base``.
    TypeError
        Non-numeric input.

    See Also
    --------
    kl_divergence_from_logits, cross_entropy, scipy.special.rel_entr

    Examples
    --------
    Reality says "dog" (1, 0); a decent model says (0.8, 0.2), an adversarial one (0.2, 0.8):

    >>> from kldiv import kl_divergence
    >>> print(f"{kl_divergence([1, 0], [0.8, 0.2], base=2):.4f}")
    0.3219
    >>> print(f"{kl_divergence([1, 0], [0.2, 0.8], base=2):.4f}")
    2.3219
    >>> kl_divergence([0.5, 0.5], [1.0, 0.0])
    np.float64(inf)
    """
    scale = check_base(base)
    small = _small_call(p, q, axis, atol, normalize)
    if small is not None:
        x, y, sp, sq, batch = small
        d = _kl_rows_small(x, y, sp, sq)
        if d is None:  # zeros in q, subnormal ratios, or a tiny divergence: the general kernel
            d = _kl_rows(x, y.copy(), sp, sq, y)
        return _finish(d, batch, scale)
    flat, (rows_p, rows_q), batch = _prob_inputs({"p": p, "q": q}, axis, atol, normalize)

    def kernel(start: int, pb: NDArray[Any], qb: NDArray[Any]) -> NDArray[np.float64]:
        (x, sp), (y, sq) = rows_p(start, pb, 0, scale=False), rows_q(start, qb, 1, scale=False)
        return _kl_rows(x, y, sp, sq, qb)

    return _finish(_blocks.rowwise(kernel, flat), batch, scale)


# Where the ratio r = q / p is within about 1/8 of 1 (f(u) = u - log1p(u) below f(1/8), so u in
# (-0.115, 0.125)), _kl_rows sums the term as a series in the exactly computed u = r - 1. Beyond it,
# (r - 1) - ln r from the rounded ratio has a relative error of at most about 3 eps / |u| < 27 eps.
_SERIES_F = 0.125 - math.log1p(0.125)
# Rows whose divergence is below this take _kl_rows_exact (see _kl_rows).
_TINY_D = 1e-12


def _kl_rows(
    x: NDArray[np.float64], y: NDArray[np.float64], sp: NDArray[np.float64], sq: NDArray[np.float64],
    q_in: NDArray[Any],
) -> NDArray[np.float64]:
    r"""Row-wise :math:`D(p \,\|\, q)` from unscaled rows ``x = s_p p`` and ``y = s_q q`` (float64).

    The fast path, five passes over a block as before issue 11: :math:`r = c\,y / x` with
    :math:`c = s_p / s_q`, then the non-negative terms :math:`x\,((r - 1) - \ln r)` in one fused
    sum. Where :math:`r` is near 1 that difference has cancelled most of its digits (SciPy
    gh-20710), so those few terms are replaced by a series in :math:`u = r - 1` taken from the exact
    difference :math:`y - x` (Sterbenz). The rounded :math:`c` adds :math:`(a - 1)^2 / 2` to the row,
    with :math:`a - 1` the relative rounding of the row sums (a few eps): invisible unless the
    divergence itself is tiny, so rows below ``_TINY_D`` are summed again by
    :func:`_kl_rows_exact`, which takes :math:`c - 1` from the exact differences. ``y`` is
    overwritten; ``q_in`` holds its original values.
    """
    n_cols = x.shape[1]
    c = sp / sq
    r = y
    t = _blocks.scratch(2, x.shape) if x.size > _SMALL else np.empty_like(x)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        r *= c[:, None]
        r /= x  # inf where p = 0 < q, nan where p = q = 0
        np.log(r, out=t)  # -inf where q = 0 < p
        if _MIN(r, axis=None) < _TINY:
            # A ratio below the normal range lost digits in the division (or is 0 because q = 0):
            # take its log as a difference of logs instead.
            far = np.flatnonzero(r < _TINY)
            yf = np.asarray(q_in).reshape(-1).take(far).astype(np.float64)
            t.reshape(-1).put(far, np.log(yf) - np.log(x.reshape(-1).take(far))
                              + np.log(c[far // n_cols]))
        r -= 1.0
        r -= t  # (r - 1) - ln r >= 0, also after rounding (a faithful log never exceeds r - 1)
        near = (r < _SERIES_F).ravel().nonzero()[0]  # nan (p = q = 0) compares false
        if near.size:
            xs = x.reshape(-1).take(near)
            ys = np.asarray(q_in).reshape(-1).take(near).astype(np.float64)
            gamma = ((sp - sq) / sq)[near // n_cols]  # c - 1
            r.reshape(-1).put(near, _series_x_minus_log1p(((ys - xs) + gamma * ys) / xs))
        d = np.vecdot(r, x)  # one fused multiply-and-sum pass over non-negative terms
        total = _SUM(d, axis=None)
        if total != total:
            # Inputs are checked, so nan comes only from p = 0 (or a p so tiny that q / p
            # overflowed), where the exact term p (r - 1 - ln r) = q - p + p ln(p / q) tends to q.
            bad = np.isnan(r)
            r *= x
            r[bad] = (np.asarray(q_in, dtype=np.float64) * c[:, None])[bad]
            d = r.sum(axis=1)
    d /= sp
    if _MIN(d, axis=None) < _TINY_D:
        tiny = (d < _TINY_D).nonzero()[0]
        qt = np.asarray(q_in, dtype=np.float64)[tiny]
        d[tiny] = _kl_rows_exact(x[tiny], qt.copy(), sp[tiny], sq[tiny], qt)
    return d


# _kl_rows_small's series: u - log1p(u) for |u| < 1/8 (t^2 < 0.0036) to 1e-19 with 8 terms.
_ATANH8 = _ATANH[-8:].copy()
_POWERS8 = np.arange(7.0, -1.0, -1.0)


def _kl_rows_small(
    x: NDArray[np.float64], y: NDArray[np.float64], sp: NDArray[np.float64], sq: NDArray[np.float64],
) -> NDArray[np.float64] | None:
    """:func:`_kl_rows` for a small call in as few NumPy operations as it takes (each costs about a
    microsecond at this size; issue 11 asks for 30 us a call), or None where ``q`` has a zero or a
    ratio leaves the normal range, or a row's divergence is below ``_TINY_D``: those go to
    :func:`_kl_rows`. Zeros of ``p`` are handled here: their terms tend to ``q`` (times ``c``).
    Neither input is modified.
    """
    c = sp / sq
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        r = y / x  # inf where p = 0 < q, nan where p = q = 0
        r *= c[:, None]
        if not _MIN(r, axis=None) >= _TINY and (r < _TINY).any():  # q = 0 < p, or subnormal
            return None
        t = np.log(r)
        r -= 1.0
        r -= t  # (r - 1) - ln r, as in _kl_rows
        near = r < _SERIES_F
        if near.any():
            ys, xs = y[near], x[near]
            # c - 1, per row (a Python float for one row: cheaper than indexing an array)
            g = float((sp[0] - sq[0]) / sq[0]) if len(sp) == 1 else ((sp - sq) / sq)[near.nonzero()[0]]
            u = ys - xs
            u += g * ys  # (y - x) + (c - 1) y, with y - x exact (Sterbenz)
            u /= xs
            t = u / (2.0 + u)
            t2 = t * t
            w = (t2[:, None] ** _POWERS8) @ _ATANH8
            w *= t2
            w *= -2.0
            w += u
            w *= t  # t u - 2 t^3 (1/3 + t^2/5 + ...) = u - log1p(u)
            r[near] = w
        d = np.vecdot(r, x)
        total = _SUM(d, axis=None)
        if total != total:  # nan: p = 0 (the term p (r - 1 - ln r) tends to c q there)
            zeros = x == 0
            r[zeros] = 0.0
            d = np.vecdot(r, x)
            d += c * np.vecdot(zeros, y)
    d /= sp
    return d if _MIN(d, axis=None) >= _TINY_D else None


def _kl_rows_exact(
    x: NDArray[np.float64], y: NDArray[np.float64], sp: NDArray[np.float64], sq: NDArray[np.float64],
    q_in: NDArray[Any],
) -> NDArray[np.float64]:
    r"""Row-wise :math:`D(p \,\|\, q)` from unscaled rows ``x = s_p p`` and ``y = s_q q`` (float64).

    The terms are :math:`p (r - 1 - \ln r)` with :math:`r = q / p = (y / x)(s_p / s_q)`, taken as
    ``u - log1p(u)`` with ``u = r - 1`` computed without forming ``r``:
    :math:`c y - x = (y - x) + (c - 1) y` with :math:`c = s_p / s_q`, where ``y - x`` is exact when
    the two entries are within a factor 2 (Sterbenz) and :math:`c - 1 = -\sum (y - x) / s_q` comes
    from those exact differences rather than from two rounded sums. So ``u`` keeps its relative
    accuracy when ``p`` and ``q`` agree in most of their digits (SciPy gh-20710; issue 11), where
    ``log(q / p)`` would first round the ratio. ``y`` is overwritten; ``q_in`` is ``y``'s original.
    """
    d = np.subtract(y, x, out=_blocks.scratch(2, x.shape) if x.size > _SMALL else None)  # y - x
    k = _SUM(d, axis=1)
    k /= sq  # -(c - 1)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        u = y
        u *= -k[:, None]
        u += d
        u /= x  # r - 1: inf where p = 0 < q, nan where p = q = 0
        lo = _FMIN(u, axis=None)  # fmin: the smallest u also where another is nan (p = 0)
        f = _x_minus_log1p(u)
        if lo < -0.984375:
            # r < 1/64: u = r - 1 has kept r only to an absolute eps, so take ln r from the ratio
            # itself (or from logs, below the normal range); -inf where q = 0 < p.
            far = np.flatnonzero(u < -0.984375)
            c = (sp / sq)[far // x.shape[1]]
            yf = np.asarray(q_in).reshape(-1).take(far).astype(np.float64)
            xf = x.reshape(-1).take(far)
            r = yf * c / xf
            log_r = np.log(r)
            sub = (r < _TINY) & (yf > 0)
            if sub.any():
                log_r[sub] = np.log(yf[sub]) - np.log(xf[sub]) + np.log(c[sub])
            f.reshape(-1).put(far, (r - 1.0) - log_r)
        d_rows = np.vecdot(f, x)  # one fused multiply-and-sum pass over non-negative terms
        total = _SUM(d_rows, axis=None)
        if total != total:  # nan in some row (inf, from q = 0 < p, is a valid result)
            # Inputs are checked, so nan comes only from p = 0 (or a p so tiny that u overflowed),
            # where the exact term p (r - 1 - ln r) = q - p + p ln(p / q) tends to q.
            bad = np.isnan(f) | (np.isinf(f) & (x > 0) & (x < _TINY))
            rows_idx = np.nonzero(bad)[0]
            c = (sp / sq)[rows_idx]
            yb, xb = np.asarray(q_in, dtype=np.float64)[bad], x[bad]
            t = f * x
            with np.errstate(divide="ignore"):
                exact = yb * c - xb - xb * (np.log(yb) - np.log(xb) + np.log(c))
            t[bad] = np.where(xb > 0, exact, yb * c)
            d_rows = t.sum(axis=1)
    return d_rows / sp


def _log_softmax_rows(z: NDArray[np.float64], name: str, start: int, where: Any) -> NDArray[np.float64]:
    """Stable log-softmax of each row of float64 logits; -inf logits stand for impossible classes."""
    if np.isnan(z).any() or (z == np.inf).any():
        bad = np.argwhere(np.isnan(z) | (z == np.inf))[0]
        raise ValueError(
            f"{name} must be finite (or -inf for an impossible class); got {z[tuple(bad)]!r} "
            f"at index {where(start + int(bad[0]), int(bad[1]))}"
        )
    top = z.max(axis=1, keepdims=True)
    if not np.isfinite(top).all():
        row = int(np.argmin(np.isfinite(top[:, 0])))
        index = where(start + row, 0)  # an index of the row's first logit; drop its event position
        raise ValueError(
            f"{name} has a row where every logit is -inf (the row holding index {index}); no class is possible"
        )
    z = z - top
    with np.errstate(divide="ignore"):
        z -= np.log(np.exp(z).sum(axis=1, keepdims=True))
    return z


def kl_divergence_from_logits(
    logits_p: ArrayLike,
    logits_q: ArrayLike,
    *,
    base: float | None = None,
    axis: int = -1,
) -> Float:
    r"""KL divergence between the categorical distributions ``softmax(logits_p)`` and ``softmax(logits_q)``.

    .. math::

        D_{\mathrm{KL}}(p \,\|\, q) = \sum_i p_i (\ell^p_i - \ell^q_i), \qquad
        \ell = z - \log \sum_j e^{z_j}, \quad p = e^{\ell^p}.

    Log-probabilities come from a max-shifted log-sum-exp in float64, so large logits neither
    overflow nor lose the small probabilities; the terms are summed in the non-negative form
    :math:`p_i(\operatorname{expm1}(\delta_i) - \delta_i)`, :math:`\delta = \ell^q - \ell^p`.
    A logit of ``-inf`` marks an impossible class.

    Parameters
    ----------
    logits_p, logits_q : array_like
        Unnormalised log-probabilities along ``axis``.
    base, axis
        As in :func:`kl_divergence`.

    Returns
    -------
    numpy.float64 or numpy.ndarray
        One value per row, in ``[0, inf]``.

    See Also
    --------
    kl_divergence

    Examples
    --------
    Logits that differ by a constant describe the same distribution:

    >>> from kldiv import kl_divergence_from_logits
    >>> print(f"{kl_divergence_from_logits([2.0, 1.0, 0.0], [12.0, 11.0, 10.0]):.4f}")
    0.0000
    >>> print(f"{kl_divergence_from_logits([0.0, 0.0], [1.0, -1.0]):.4f}")
    0.4338
    """
    scale = check_base(base)
    arrays = {n: as_real_array(x, n, min_ndim=1) for n, x in (("logits_p", logits_p), ("logits_q", logits_q))}
    flat, batch, _ = event_layout(arrays, axis)

    def where(row: int, col: int) -> tuple[int, ...]:
        return format_index(row, col, batch, axis, len(batch) + 1)

    def kernel(start: int, ab: NDArray[Any], bb: NDArray[Any]) -> NDArray[np.float64]:
        za, zb = np.asarray(ab, dtype=np.float64), np.asarray(bb, dtype=np.float64)
        lp = _log_softmax_rows(za, "logits_p", start, where)
        lq = _log_softmax_rows(zb, "logits_q", start, where)
        # delta = log q - log p = dz - log(sum_j p_j e^{dz_j}) with dz = z_q - z_p, the log1p form
        # of a log-ratio (issue 11): dz is exact where the logits are close, and the normaliser
        # log1p(sum_j p_j expm1(dz_j)) keeps its relative accuracy, whereas the difference of two
        # log-softmaxes keeps only an absolute eps times the logits' size.
        with np.errstate(invalid="ignore", over="ignore"):
            dz = zb - za
            p = np.exp(lp)
            s = np.vecdot(p, np.expm1(dz))
            # Only where the normalisers differ by less than a factor 2 (|s| <= 1/2): near s = -1,
            # 1 + s keeps only an absolute eps, and the difference of log-softmaxes is better.
            near = np.abs(s) <= 0.5
            if np.isfinite(dz).all() and near.any():
                delta = np.where(near[:, None], dz - np.log1p(np.where(near, s, 0.0))[:, None], lq - lp)
                terms = _expm1_minus(delta)
                terms *= p
                if np.isfinite(terms).all():
                    return terms.sum(axis=1)
        return _expm1_terms(lp, lq).sum(axis=1)

    return _finish(_blocks.rowwise(kernel, flat), batch, scale)


def _expm1_terms(log_p: NDArray[np.float64], log_q: NDArray[np.float64]) -> NDArray[np.float64]:
    """Per-outcome p (r - 1 - ln r) with ln r = log_q - log_p, from log-probabilities."""
    p = np.exp(log_p)
    with np.errstate(invalid="ignore", over="ignore"):
        delta = log_q - log_p
        t = _expm1_minus(delta)
        t *= p
    bad = ~np.isfinite(t) & np.isfinite(log_q)
    if bad.any():
        # p = 0 (delta = +inf) or q / p beyond float range: the term is q - p - p * delta.
        q = np.exp(log_q[bad])
        pb, db = p[bad], delta[bad]
        with np.errstate(invalid="ignore"):
            t[bad] = np.where(pb > 0, q - pb - pb * db, q)
    t[np.isnan(t)] = 0.0  # both impossible (-inf - -inf): 0 log(0/0) = 0 by convention
    return t


def _log_ratio(x: NDArray[np.float64], y: NDArray[np.float64]) -> NDArray[np.float64]:
    """``log(x / y)`` element-wise for checked non-negative float64 arrays (not both 0)."""
    with np.errstate(divide="ignore", over="ignore", under="ignore", invalid="ignore"):
        ratio = x / y
        out = np.log(ratio)
        # Near x = y, log(x / y) first rounds the ratio, which keeps only an absolute eps of
        # log(x / y) (a relative error of 2e-3 on SciPy gh-20710's pairs). There x - y is exact
        # (Sterbenz: x and y within a factor 2) and log1p((x - y) / y) keeps the relative accuracy.
        near = (ratio >= 0.5) & (ratio <= 2.0)
        if near.any():
            xn, yn = x[near], y[near]
            out[near] = np.log1p((xn - yn) / yn)
        # For extreme but positive pairs x / y overflows, or falls below the normal range where it
        # keeps fewer digits; then subtract logs instead.
        redo = (x > 0) & (y > 0) & ((ratio < _TINY) | (ratio == np.inf))
        if redo.any():
            out[redo] = np.log(x[redo]) - np.log(y[redo])
    return out


def log_likelihood_ratio(p: ArrayLike, q: ArrayLike, *, base: float | None = None) -> Float:
    r"""Element-wise log-likelihood ratio :math:`\log p(x) / q(x)` of observations.

    ``p`` and ``q`` are the probabilities (or densities) that two models give to the same
    observations; positive values mean the observation favours ``p``. Nothing is summed, so the
    inputs need not sum to one; they broadcast by NumPy's rules.

    .. math::

        \lambda(x) = \log \frac{p(x)}{q(x)} = \log p(x) - \log q(x),
        \qquad D_{\mathrm{KL}}(p \,\|\, q) = \mathbb{E}_{x \sim p}[\lambda(x)].

    Where ``q(x) = 0 < p(x)`` the ratio is ``+inf``; where ``p(x) = 0 < q(x)`` it is ``-inf``;
    where both are 0 it is undefined and a ``ValueError`` is raised.

    Examples
    --------
    >>> from kldiv import log_likelihood_ratio
    >>> log_likelihood_ratio([0.8, 0.2], [0.2, 0.8], base=2)
    array([ 2., -2.])
    """
    scale = check_base(base)
    x = as_real_array(p, "p").astype(np.float64, copy=False)
    y = as_real_array(q, "q").astype(np.float64, copy=False)
    try:
        x, y = np.broadcast_arrays(x, y)
    except ValueError:
        raise ValueError(f"p and q must broadcast together; got shapes {x.shape} and {y.shape}") from None
    for name, arr in (("p", x), ("q", y)):
        if not (arr >= 0).all() or not np.isfinite(arr).all():
            bad = np.argwhere(~((arr >= 0) & np.isfinite(arr)))[0]
            raise ValueError(
                f"{name} must contain non-negative, finite values; got {arr[tuple(bad)]!r} at index {tuple(int(i) for i in bad)}"
            )
    shape = x.shape
    both = (x == 0) & (y == 0)
    if both.any():
        bad = tuple(int(i) for i in np.argwhere(both)[0])
        raise ValueError(f"p and q are both 0 at index {bad}: the log-likelihood ratio is undefined there")
    x, y = np.atleast_1d(x), np.atleast_1d(y)
    out = _log_ratio(x, y).reshape(shape)
    if scale != 1.0:
        out = out / scale
    return out[()] if out.ndim == 0 else out


def expected_value(
    values: ArrayLike,
    probs: ArrayLike,
    *,
    axis: int = -1,
    normalize: bool = False,
    atol: float | None = None,
) -> Float:
    r"""Expected value :math:`\mathbb{E}_p[h(X)] = \sum_i h(x_i)\, p(x_i)` of a discrete random variable.

    Parameters
    ----------
    values : array_like
        The values :math:`h(x_i)`; ``+inf`` or ``-inf`` are allowed, and an infinite value with
        probability 0 contributes 0 (the same convention as :math:`0 \log 0 = 0`).
    probs : array_like
        The probabilities :math:`p(x_i)` along ``axis``, summing to one (see :func:`entropy`).
    axis, normalize, atol
        As in :func:`entropy`.

    Returns
    -------
    numpy.float64 or numpy.ndarray
        The probability-weighted average, one per row, accumulated in float64.

    Raises
    ------
    ValueError
        NaN values; ``+inf`` and ``-inf`` both with positive probability (the sum is undefined);
        invalid probabilities.

    Examples
    --------
    The expected number of pips on a fair die:

    >>> from kldiv import expected_value
    >>> print(f"{expected_value([1, 2, 3, 4, 5, 6], [1/6] * 6):.4f}")
    3.5000
    """
    vals = as_real_array(values, "values", min_ndim=1)
    if np.isnan(vals).any():
        bad = tuple(int(i) for i in np.argwhere(np.isnan(vals))[0])
        raise ValueError(f"values must not be NaN; got nan at index {bad}")
    flat, (rows,), batch = _prob_inputs({"probs": probs}, axis, atol, normalize, plain={"values": vals})

    def kernel(start: int, vb: NDArray[Any], pb: NDArray[Any]) -> NDArray[np.float64]:
        w, _ = rows(start, pb, 0)
        t = _blocks.scratch(1, w.shape)
        with np.errstate(invalid="ignore"):
            np.multiply(vb, w, out=t)
        if not np.isfinite(t).all():
            t[w == 0] = 0.0  # an infinite value that cannot happen contributes nothing
        with np.errstate(invalid="ignore"):  # inf - inf is reported below, by name
            s = t.sum(axis=1)
        if np.isnan(s).any():
            row = int(np.argmax(np.isnan(s)))
            raise ValueError(
                "the expected value is undefined: values holds both +inf and -inf with positive "
                f"probability in the row at batch index {rows._row(start + row)}"
            )
        return s

    return _finish(_blocks.rowwise(kernel, flat), batch, 1.0)


def rel_entr(p: ArrayLike, q: ArrayLike) -> NDArray[np.float64] | np.float64:
    r"""Element-wise terms of the divergence, :math:`p \log(p / q)`, like ``scipy.special.rel_entr``.

    .. math::

        \operatorname{rel\_entr}(p, q) = \begin{cases} p \log(p / q) & p > 0,\ q > 0 \\
        0 & p = 0,\ q \ge 0 \\ +\infty & p > 0 = q \end{cases}

    Nothing is summed or normalised (the ``reduction='none'`` of the libraries); the inputs
    broadcast. The log-ratio is taken in the log1p form near :math:`p = q` (see
    :func:`log_likelihood_ratio`), so each term keeps its relative accuracy there. Summing these
    terms over a row gives :math:`\sum p \log(p / q)`, which for rows that agree in many digits
    cancels; :func:`kl_divergence` sums non-negative terms instead.

    Parameters
    ----------
    p, q : array_like
        Non-negative, finite values.

    Returns
    -------
    numpy.float64 or numpy.ndarray
        The broadcast terms, float64.

    Raises
    ------
    ValueError
        Negative, NaN or infinite entries (named, with their index); shapes that do not broadcast.

    See Also
    --------
    kl_divergence, scipy.special.rel_entr

    Examples
    --------
    >>> from kldiv import rel_entr
    >>> rel_entr([0.5, 0.5, 0.0], [0.25, 0.75, 0.0]).round(4)
    array([ 0.3466, -0.2027,  0.    ])
    """
    x = as_real_array(p, "p").astype(np.float64, copy=False)
    y = as_real_array(q, "q").astype(np.float64, copy=False)
    try:
        x, y = np.broadcast_arrays(x, y)
    except ValueError:
        raise ValueError(f"p and q must broadcast together; got shapes {x.shape} and {y.shape}") from None
    _check_non_negative({"p": x, "q": y})
    shape = x.shape
    x, y = np.atleast_1d(x), np.atleast_1d(y)
    out = np.zeros(x.shape)
    pos = x > 0
    with np.errstate(divide="ignore"):
        out[pos] = x[pos] * _log_ratio(x[pos], y[pos])
    out = out.reshape(shape)
    return out[()] if out.ndim == 0 else out


def _check_non_negative(arrays: dict[str, NDArray[np.float64]]) -> None:
    for name, arr in arrays.items():
        ok = (arr >= 0) & np.isfinite(arr)
        if not ok.all():
            bad = tuple(int(i) for i in np.argwhere(~ok)[0]) if arr.ndim else ()
            raise ValueError(
                f"{name} must contain non-negative, finite values; got {arr[bad]!r}"
                + (f" at index {bad}" if bad else "")
            )


def entropy_from_logits(logits: ArrayLike, *, base: float | None = None, axis: int = -1) -> Float:
    r"""Entropy :math:`H(\operatorname{softmax}(z))` of the categorical distribution with logits ``z``.

    .. math::

        H = -\sum_i p_i \ell_i, \qquad \ell = z - \log \sum_j e^{z_j},\quad p = e^{\ell}.

    A logit of ``-inf`` marks an impossible class (it contributes 0).

    Parameters
    ----------
    logits : array_like
        Unnormalised log-probabilities along ``axis``.
    base, axis
        As in :func:`entropy`.

    Raises
    ------
    ValueError
        A NaN or ``+inf`` logit, or a row whose logits are all ``-inf``, named with its index.

    Examples
    --------
    >>> from kldiv import entropy_from_logits
    >>> print(f"{entropy_from_logits([3.0, 3.0], base=2):.4f}")
    1.0000
    """
    scale = check_base(base)
    (flat,), batch, _ = event_layout({"logits": as_real_array(logits, "logits", min_ndim=1)}, axis)

    def where(row: int, col: int) -> tuple[int, ...]:
        return format_index(row, col, batch, axis, len(batch) + 1)

    def kernel(start: int, zb: NDArray[Any]) -> NDArray[np.float64]:
        lp = _log_softmax_rows(np.asarray(zb, dtype=np.float64), "logits", start, where)
        p = np.exp(lp)
        t = np.where(p > 0, p * lp, 0.0)
        return 0.0 - t.sum(axis=1)

    return _finish(_blocks.rowwise(kernel, [flat]), batch, scale)


def cross_entropy_from_logits(
    p: ArrayLike,
    logits_q: ArrayLike,
    *,
    base: float | None = None,
    axis: int = -1,
    normalize: bool = False,
    atol: float | None = None,
) -> Float:
    r"""Cross-entropy :math:`H(p, \operatorname{softmax}(z))` of probabilities ``p`` and logits ``z``.

    .. math::

        H(p, q) = -\sum_i p_i \ell_i, \qquad \ell = z - \log \sum_j e^{z_j}.

    What a classifier's loss computes (Keras' ``CategoricalCrossentropy(from_logits=True)``, PyTorch's
    ``cross_entropy`` with probability targets), in float64, unclipped: a class with
    :math:`p_i > 0` and logit ``-inf`` makes it ``+inf``; terms with :math:`p_i = 0` contribute 0.

    Parameters
    ----------
    p : array_like
        Target probabilities along ``axis`` (checked as in :func:`entropy`).
    logits_q : array_like
        The model's logits.
    base, axis, normalize, atol
        As in :func:`entropy`.

    Examples
    --------
    >>> from kldiv import cross_entropy_from_logits
    >>> print(f"{cross_entropy_from_logits([0.0, 1.0], [0.0, 0.0], base=2):.4f}")
    1.0000
    """
    scale = check_base(base)
    flat, (rows_p,), batch = _prob_inputs({"p": p}, axis, atol, normalize, plain={"logits_q": logits_q})

    def where(row: int, col: int) -> tuple[int, ...]:
        return format_index(row, col, batch, axis, len(batch) + 1)

    def kernel(start: int, zb: NDArray[Any], pb: NDArray[Any]) -> NDArray[np.float64]:
        x, _ = rows_p(start, pb, 0)
        lq = _log_softmax_rows(np.asarray(zb, dtype=np.float64), "logits_q", start, where)
        with np.errstate(invalid="ignore"):
            t = np.where(x > 0, x * lq, 0.0)
        return 0.0 - t.sum(axis=1)

    return _finish(_blocks.rowwise(kernel, flat), batch, scale)


def kl_bernoulli(p: ArrayLike, q: ArrayLike, *, base: float | None = None) -> Float:
    r"""KL divergence between Bernoulli distributions with success probabilities ``p`` and ``q``.

    .. math::

        D(\mathrm{Ber}(p) \,\|\, \mathrm{Ber}(q)) = p \log\frac{p}{q} + (1 - p)\log\frac{1 - p}{1 - q}.

    Element-wise over broadcast ``p`` and ``q``: the divergence of the two-outcome rows
    ``(p, 1 - p)`` and ``(q, 1 - q)`` (see :func:`kl_divergence`, whose conventions and accuracy
    it has), as for a sigmoid output against a binary target.

    Raises
    ------
    ValueError
        A value outside ``[0, 1]`` (named, with its index), shapes that do not broadcast.

    Examples
    --------
    >>> from kldiv import kl_bernoulli
    >>> print(f"{kl_bernoulli(0.5, 0.9):.4f}")
    0.5108
    >>> kl_bernoulli([1.0, 0.5], [1.0, 0.0])
    array([ 0., inf])
    """
    x = as_real_array(p, "p").astype(np.float64, copy=False)
    y = as_real_array(q, "q").astype(np.float64, copy=False)
    try:
        x, y = np.broadcast_arrays(x, y)
    except ValueError:
        raise ValueError(f"p and q must broadcast together; got shapes {x.shape} and {y.shape}") from None
    for name, arr in (("p", x), ("q", y)):
        ok = (arr >= 0) & (arr <= 1)
        if not ok.all():
            bad = tuple(int(i) for i in np.argwhere(~ok)[0]) if arr.ndim else ()
            raise ValueError(
                f"{name} must be a probability in [0, 1]; got {arr[bad]!r}" + (f" at index {bad}" if bad else "")
            )
    rows_p = np.stack([x, 1.0 - x], axis=-1)
    rows_q = np.stack([y, 1.0 - y], axis=-1)
    return kl_divergence(rows_p, rows_q, base=base)
