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
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from kldiv import _blocks
from kldiv._validation import (
    as_real_array,
    check_atol,
    check_base,
    event_layout,
    format_index,
)

__all__ = [
    "cross_entropy",
    "entropy",
    "expected_value",
    "kl_divergence",
    "kl_divergence_from_logits",
    "log_likelihood_ratio",
]

Float = np.float64 | NDArray[np.float64]

_TINY = np.finfo(np.float64).tiny  # the smallest normal float64


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
    when both rows sum to one. Summing non-negative float64 terms has no cancellation, so the result
    is accurate relative to its own size and cannot round to a negative number.

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
    flat, (rows_p, rows_q), batch = _prob_inputs({"p": p, "q": q}, axis, atol, normalize)

    def kernel(start: int, pb: NDArray[Any], qb: NDArray[Any]) -> NDArray[np.float64]:
        # Work with the unscaled rows x = s_p p and y = s_q q, and put the scaling into the ratio:
        # r = q / p = (y / x) (s_p / s_q), and sum_i p_i f(r_i) = (sum_i x_i f(r_i)) / s_p.
        (x, sp), (y, sq) = rows_p(start, pb, 0, scale=False), rows_q(start, qb, 1, scale=False)
        c = (sp / sq)[:, None]
        r, t = y, _blocks.scratch(2, x.shape)  # r overwrites y's work copy (fewer, hotter buffers)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            r *= c
            r /= x  # inf where p = 0 < q, nan where p = q = 0
            np.log(r, out=t)  # -inf where q = 0 < p
            if r.min() < _TINY:
                # A ratio below the normal range lost digits in the division (or is 0 because
                # q = 0): take its log as a difference of logs instead.
                small = r < _TINY
                rows_idx = np.nonzero(small)[0]
                q_small = np.asarray(qb, dtype=np.float64)[small]  # y was overwritten by r
                t[small] = np.log(q_small) - np.log(x[small]) + np.log(c[rows_idx, 0])
            r -= 1.0
            r -= t  # r - 1 - log r >= 0, also after rounding (a faithful log never exceeds r - 1)
            d = np.vecdot(r, x)  # one fused multiply-and-sum pass over non-negative terms
        if np.isnan(d).any():
            # Inputs are checked, so nan comes only from p = 0 (or a p so tiny that q / p
            # overflowed), where the exact term p (r - 1 - log r) = q - p + p log(p / q) tends to q.
            bad = np.isnan(r)
            r *= x
            r[bad] = (qb * c)[bad]
            d = r.sum(axis=1)
        return d / sp

    return _finish(_blocks.rowwise(kernel, flat), batch, scale)


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
        lp = _log_softmax_rows(np.asarray(ab, dtype=np.float64), "logits_p", start, where)
        lq = _log_softmax_rows(np.asarray(bb, dtype=np.float64), "logits_q", start, where)
        return _expm1_terms(lp, lq).sum(axis=1)

    return _finish(_blocks.rowwise(kernel, flat), batch, scale)


def _expm1_terms(log_p: NDArray[np.float64], log_q: NDArray[np.float64]) -> NDArray[np.float64]:
    """Per-outcome p (r - 1 - ln r) with ln r = log_q - log_p, from log-probabilities."""
    p = np.exp(log_p)
    with np.errstate(invalid="ignore", over="ignore"):
        delta = log_q - log_p
        t = np.expm1(delta)
        t -= delta
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
    with np.errstate(divide="ignore", over="ignore", under="ignore"):
        ratio = x / y
        out = np.log(ratio)
        # For extreme but positive pairs x / y overflows, or falls below the normal range where it
        # keeps fewer digits; then subtract logs instead.
        redo = (x > 0) & (y > 0) & ((ratio < _TINY) | (ratio == np.inf))
        if redo.any():
            out[redo] = np.log(x[redo]) - np.log(y[redo])
        out = out.reshape(shape)
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
