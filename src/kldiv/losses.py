r"""An exact KL-divergence loss for Keras 3, on any backend (TensorFlow, JAX or PyTorch).

Keras' own :class:`keras.losses.KLDivergence` clips both arguments to ``[1e-7, 1]`` before taking
logs. That keeps it finite, but it makes the value wrong for soft targets with tiny probabilities
(a target of 1e-9 counts as 1e-7) and hides a model that gives zero probability to a possible
class. This loss uses only ``keras.ops``, follows the conventions of :func:`kldiv.kl_divergence`
(:math:`0 \log 0 = 0`; ``+inf`` where the target is positive and the prediction is 0) and, with
``from_logits=True``, works from a stable log-softmax, which is what a classifier should train with.

Importing this module imports Keras; ``import kldiv`` alone does not.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

__all__ = ["KLDivergence"]


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
    The gradient with respect to the logits is :math:`\operatorname{softmax}(z) - p`, the same as
    for the cross-entropy: the two losses differ by :math:`H(p)`, which does not depend on the model.

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
        if not isinstance(from_logits, bool):
            raise TypeError(f"from_logits must be True or False; got {from_logits!r}")
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.from_logits = from_logits

    def call(self, y_true: Any, y_pred: Any) -> Any:
        y_pred = ops.convert_to_tensor(y_pred)
        y_true = ops.cast(y_true, y_pred.dtype)
        log_q = ops.log_softmax(y_pred, axis=-1) if self.from_logits else ops.log(y_pred)
        positive = y_true > 0
        # Where p = 0 the term is 0 by convention. Both logs are replaced there by log 1 = 0 before
        # any arithmetic, so that neither the value nor the gradient ever sees 0 * inf (a where()
        # passes 0 * the unselected branch's gradient, which is nan if that branch is infinite).
        log_p = ops.log(ops.where(positive, y_true, ops.ones_like(y_true)))
        delta = ops.where(positive, log_q, ops.zeros_like(log_q)) - log_p
        # p (r - 1 - ln r) with ln r = delta: each term is >= 0 and they sum to KL when both rows
        # sum to one, so float32 rounding cannot make the loss negative. r = 0 (q = 0 < p) gives +inf.
        terms = ops.where(positive, y_true * (ops.expm1(delta) - delta), ops.zeros_like(y_true))
        return ops.sum(terms, axis=-1)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "from_logits": self.from_logits}
