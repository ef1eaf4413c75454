"""Numerics for the course *Kullback-Leibler divergence for deep learning*.

Plain NumPy functions, each documented with its definition and conventions:

* :func:`entropy`, :func:`cross_entropy`, :func:`kl_divergence`, their ``*_from_logits``
  versions, the element-wise terms :func:`rel_entr` and :func:`kl_bernoulli` for discrete
  distributions;
* :func:`log_likelihood_ratio` and :func:`expected_value`, the two ideas KL is built from;
* :func:`kl_normal`, :func:`kl_diag_normal` and :func:`kl_mvn_normal` (full covariances), closed
  forms for normal distributions;
* :func:`monte_carlo_kl` and :func:`kl_estimator_terms`, sample estimates (k1, k2, k3), with
  :func:`kl_estimator_logit_gradients` (their gradients for a categorical policy, as RLHF uses
  them) and :func:`kl_regularized_policy` (the optimum of a KL-penalised reward).

``kldiv.KLDivergenceLoss`` (the same as :class:`kldiv.losses.KLDivergence`) is an exact Keras 3
loss (with :class:`kldiv.losses.CategoricalCrossentropy`, its cross-entropy counterpart); Keras is imported only when it is first used. The CIFAR-10 lab's pieces are submodules that
``import kldiv`` does not load: :mod:`kldiv.cifar10` (data, online or from an offline image folder)
and :mod:`kldiv.lab` (Keras models, targets, the distillation loss, measurements).
"""

from __future__ import annotations

from typing import Any

from kldiv.divergence import (
    cross_entropy,
    cross_entropy_from_logits,
    entropy,
    entropy_from_logits,
    expected_value,
    kl_bernoulli,
    kl_divergence,
    kl_divergence_from_logits,
    log_likelihood_ratio,
    rel_entr,
)
from kldiv.gaussian import kl_diag_normal, kl_mvn_normal, kl_normal
from kldiv.montecarlo import (
    ESTIMATORS,
    kl_estimator_logit_gradients,
    kl_estimator_terms,
    kl_regularized_policy,
    monte_carlo_kl,
)

__version__ = "0.2.0"

# KLDivergenceLoss is left out of __all__ on purpose: `from kldiv import *` must not import Keras.
__all__ = [
    "ESTIMATORS",
    "cross_entropy",
    "cross_entropy_from_logits",
    "entropy",
    "entropy_from_logits",
    "expected_value",
    "kl_bernoulli",
    "kl_diag_normal",
    "kl_divergence",
    "kl_divergence_from_logits",
    "kl_estimator_logit_gradients",
    "kl_estimator_terms",
    "kl_mvn_normal",
    "kl_normal",
    "kl_regularized_policy",
    "log_likelihood_ratio",
    "monte_carlo_kl",
    "rel_entr",
]


def __getattr__(name: str) -> Any:
    # Lazy, so that the NumPy functions work (and import fast) without Keras installed.
    if name == "KLDivergenceLoss":
        from kldiv.losses import KLDivergence

        return KLDivergence
    raise AttributeError(f"module 'kldiv' has no attribute {name!r}")
