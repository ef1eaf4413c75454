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
        # limit q where p = 0: they add up to sum p log(p / q) when both rows sum to one, and float32
        # rounding cannot make the total negative. q = 0 < p gives +inf. The gradient with respect to
        # log q is q - p for every class, as for the cross-entropy.
        terms = ops.where(positive, y_true * (ops.expm1(delta) - delta), q)
        return ops.sum(terms, axis=-1)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "from_logits": self.from_logits}
