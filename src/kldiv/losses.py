r"""Exact KL-divergence and cross-entropy losses for Keras 3, on any backend (TensorFlow, JAX or PyTorch).

Keras' own :class:`keras.losses.KLDivergence` clips both arguments to ``[1e-7, 1]`` before taking
logs, and :class:`keras.losses.CategoricalCrossentropy` clips the prediction to
``[1e-7, 1 - 1e-7]``. That keeps them finite, but it makes the value wrong for soft targets with tiny
probabilities (a target of 1e-9 counts as 1e-7) and hides a model that gives zero probability to a
possible class. These losses use only ``keras.ops``, follow the conventions of
:func:`kldiv.kl_divergence` (:math:`0 \log 0 = 0`; ``+inf`` where the target is positive and the
prediction is 0) and, with ``from_logits=True``, work from a stable log-softmax, which is what a
classifier should train with.

**Drop-in for Keras.** Wherever Keras does not clip (every entry in ``[1e-7, 1]``), each loss returns
Keras' number for the same call, sample weights and reduction included, also on rows that do not
sum to one: :class:`KLDivergence` is :math:`\sum_i p_i \log(p_i / q_i)` of the rows as given
(Keras' definition; it is the divergence when both rows sum to one), and
:class:`CategoricalCrossentropy` divides ``y_pred`` by its row sum first, as Keras does. Shapes whose
last axes differ (class indices passed as ``y_true``, say) raise a ``ValueError`` naming both shapes
when the loss is traced, on every backend, where broadcasting would return a number.

Importing this module imports Keras; ``import kldiv`` alone does not.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

__all__ = ["CategoricalCrossentropy", "KLDivergence"]


def _check_shapes(y_true: Any, y_pred: Any, loss: str) -> None:
    """Raise, at trace time, where the class axes differ or the ranks do (static shapes only)."""
    t, p = tuple(y_true.shape), tuple(y_pred.shape)
    if len(t) != len(p) or (t and t[-1] is not None and p[-1] is not None and t[-1] != p[-1]):
        raise ValueError(
            f"{loss}: y_true and y_pred must have the same rank and the same last (class) axis; got "
            f"y_true.shape={t} and y_pred.shape={p}. Class indices need one-hot encoding first "
            "(keras.ops.one_hot)."
        )


def _check_from_logits(from_logits: Any) -> None:
    if not isinstance(from_logits, bool):
        raise TypeError(f"from_logits must be True or False; got {from_logits!r}")


@keras.saving.register_keras_serializable(package="kldiv")
class KLDivergence(keras.losses.Loss):
    r"""Per-example :math:`D_{\mathrm{KL}}(y_{\mathrm{true}} \,\|\, y_{\mathrm{pred}})` over the last axis.

    .. math::

        L(p, q) = \sum_i p_i (\log p_i - \log q_i), \qquad 0 \log 0 = 0 .

    Parameters
    ----------
    from_logits : bool, default False
        Whether ``y_pred`` holds logits (recommended for training: the log-softmax is exact and
        stable) or probabilities.
    reduction, name, dtype
        As for any :class:`keras.losses.Loss`.

    Notes
    -----
    The value is :math:`\sum_{i: p_i > 0} p_i \log(p_i / q_i)`, Keras' definition without its
    clipping: on rows that do not sum to one it is Keras' number, not the divergence of the
    normalised rows (:func:`kldiv.kl_divergence` with ``normalize=True`` gives that). It is computed
    as the non-negative terms :math:`p_i (r_i - 1 - \ln r_i)` plus :math:`\sum_i (p_i - q_i)` (a sum of
    exact differences), which is more accurate than the definition for nearby rows; rows that sum to
    one only to float32 rounding can therefore give a value below zero by up to
    :math:`|\sum_i p_i - \sum_i q_i|`, as the definition does.

    The gradient with respect to the logits is :math:`\operatorname{softmax}(z) - p` for targets that
    sum to one, the same as for the cross-entropy: the two losses differ by :math:`H(p)`, which does
    not depend on the model.

    Examples
    --------
    A model that gives a possible class probability 1e-9, against Keras' clipped loss:

    >>> import keras
    >>> from kldiv import kl_divergence
    >>> from kldiv.losses import KLDivergence
    >>> p, q = [[0.5, 0.5]], [[1e-9, 1.0 - 1e-9]]
    >>> print(f"{float(KLDivergence()(p, q)):.4f}")
    9.6685
    >>> print(f"{kl_divergence(p, q)[0]:.4f}")
    9.6685
    >>> print(f"{float(keras.losses.KLDivergence()(p, q)):.4f}")
    7.3659
    """

    def __init__(
        self,
        from_logits: bool = False,
        reduction: str | None = "sum_over_batch_size",
        name: str = "kl_divergence",
        dtype: Any = None,
    ) -> None:
        _check_from_logits(from_logits)
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.from_logits = from_logits

    def call(self, y_true: Any, y_pred: Any) -> Any:
        y_pred = ops.convert_to_tensor(y_pred)
        y_true = ops.cast(y_true, y_pred.dtype)
        _check_shapes(y_true, y_pred, "KLDivergence")
        positive = y_true > 0
        ones, zeros = ops.ones_like(y_true), ops.zeros_like(y_true)
        # Logs are taken of 1 wherever p = 0, so that neither the value nor the gradient ever meets
        # 0 * inf (where() passes 0 times the unselected branch's gradient, nan if that is inf).
        log_p = ops.log(ops.where(positive, y_true, ones))
        if self.from_logits:
            log_q = ops.log_softmax(y_pred, axis=-1)
            q = ops.exp(log_q)
        else:
            q = y_pred
            log_q = ops.log(ops.where(positive, y_pred, ones))
        delta = ops.where(positive, log_q, zeros) - log_p
        # Summed as the non-negative terms p (r - 1 - ln r), r = q / p, with ln r = delta, and their
        # limit q where p = 0, plus sum (p - q): together sum_{p > 0} p log(p / q), Keras' value,
        # also for rows that do not sum to one (issue 11). For nearby rows the differences p - q are
        # exact and small, so this keeps digits that the definition's sum of p log(p / q) loses.
        # q = 0 < p gives +inf. The gradient with respect to log q is q - p for every class.
        terms = ops.where(positive, y_true * (ops.expm1(delta) - delta), q)
        return ops.sum(terms, axis=-1) + ops.sum(y_true - q, axis=-1)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "from_logits": self.from_logits}


@keras.saving.register_keras_serializable(package="kldiv")
class CategoricalCrossentropy(keras.losses.Loss):
    r"""Per-example cross-entropy :math:`H(y_{\mathrm{true}}, y_{\mathrm{pred}})` over the last axis, unclipped.

    .. math::

        L(p, q) = -\sum_i p_i \log \frac{q_i}{\sum_j q_j}, \qquad 0 \log 0 = 0 .

    The counterpart of :class:`KLDivergence` (the two differ by :math:`H(p)`, for targets that sum
    to one) and a drop-in for :class:`keras.losses.CategoricalCrossentropy`: the same arguments and,
    wherever Keras does not clip (predictions in ``[1e-7, 1 - 1e-7]`` after Keras divides them by
    their row sum), the same numbers. A class with :math:`p_i > 0 = q_i` gives ``+inf``; Keras gives
    :math:`-p_i \log 10^{-7}`.

    Parameters
    ----------
    from_logits : bool, default False
        Whether ``y_pred`` holds logits (a stable log-softmax is used) or probabilities (divided by
        their row sum, as Keras does).
    label_smoothing : float, default 0.0
        In ``[0, 1]``: the targets become :math:`(1 - \varepsilon)\,p + \varepsilon / K`, as in Keras.
    reduction, name, dtype
        As for any :class:`keras.losses.Loss`.

    Examples
    --------
    >>> import keras
    >>> from kldiv.losses import CategoricalCrossentropy
    >>> y_true, y_pred = [[0.0, 1.0, 0.0]], [[0.05, 0.95, 0.0]]
    >>> print(f"{float(CategoricalCrossentropy()(y_true, y_pred)):.4f}")
    0.0513
    >>> print(f"{float(keras.losses.CategoricalCrossentropy()(y_true, y_pred)):.4f}")
    0.0513
    """

    def __init__(
        self,
        from_logits: bool = False,
        label_smoothing: float = 0.0,
        reduction: str | None = "sum_over_batch_size",
        name: str = "categorical_crossentropy",
        dtype: Any = None,
    ) -> None:
        _check_from_logits(from_logits)
        if isinstance(label_smoothing, bool) or not isinstance(label_smoothing, (int, float)) or not (
            0.0 <= label_smoothing <= 1.0
        ):
            raise ValueError(f"label_smoothing must be a number in [0, 1]; got {label_smoothing!r}")
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.from_logits = from_logits
        self.label_smoothing = float(label_smoothing)

    def call(self, y_true: Any, y_pred: Any) -> Any:
        y_pred = ops.convert_to_tensor(y_pred)
        y_true = ops.cast(y_true, y_pred.dtype)
        _check_shapes(y_true, y_pred, "CategoricalCrossentropy")
        if self.label_smoothing:
            k = ops.cast(ops.shape(y_true)[-1], y_pred.dtype)
            y_true = y_true * (1.0 - self.label_smoothing) + self.label_smoothing / k
        positive = y_true > 0
        if self.from_logits:
            log_q = ops.log_softmax(y_pred, axis=-1)
        else:
            q = y_pred / ops.sum(y_pred, axis=-1, keepdims=True)
            # log of 1 where p = 0, so that 0 * log 0 never meets the value or the gradient.
            log_q = ops.log(ops.where(positive, q, ops.ones_like(q)))
        return -ops.sum(ops.where(positive, y_true * log_q, ops.zeros_like(y_true)), axis=-1)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "from_logits": self.from_logits, "label_smoothing": self.label_smoothing}
