"""Models, targets, losses and measurements for the CIFAR-10 lab, in backend-agnostic Keras 3.

Everything on the training path uses ``keras`` and ``keras.ops`` only, so the lab runs on
TensorFlow (Colab's default), JAX or PyTorch: set ``KERAS_BACKEND`` before Keras is imported.
The two helpers that must ask a backend something Keras does not expose, :func:`accelerator` and
:func:`gradient`, dispatch on :func:`keras.backend.backend`.

* :func:`classic_cnn`: the widely copied Keras recipe (two convolutions, dropout, one dense layer).
* :func:`fast_resnet`: a ResNet-9-style network with batch norm, on-device augmentation
  (:class:`RandomCropFlip`) and optional bfloat16 mixed precision, trained with a one-cycle
  learning rate (:class:`OneCycle`).
* :func:`one_hot`, :func:`smoothed_targets`, :func:`softmax`: the targets a KL loss is taken against.
* :class:`DistillationLoss`: Hinton et al.'s loss, written as two KL divergences.
* :class:`EpochTimer`: wall-clock per epoch (validation excluded) and test accuracy after each
  epoch; :func:`warm_up` compiles a model's training step before the clock starts, so that
  :class:`Run` reports compilation apart from steady-state training.
* airbench's levers that fit Keras 3 (Jordan, "94% on CIFAR-10 in 3.29 seconds on a single GPU",
  2024, arXiv:2404.00498): a frozen 2x2 patch-whitening first convolution
  (:func:`patch_whitening_kernel`), label smoothing, flip test-time augmentation
  (:func:`predict_logits`), EMA weights evaluated every epoch, batch norm without scale,
  ``steps_per_execution`` and a smaller network (:func:`airbench_net`). benchmarks/README.md
  records each choice with its cited effect; none of them has been measured on a GPU here.
* :func:`precision_policy`: bfloat16 only where the GPU computes it fast (compute capability 8.0
  or more); :func:`require_accelerator` refuses a GPU-sized run on a CPU.

Importing this module imports Keras (and so the backend).
"""

from __future__ import annotations

import platform
import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np
from keras import layers, ops

from kldiv.losses import KLDivergence

__all__ = [
    "DistillationLoss",
    "EpochTimer",
    "OneCycle",
    "RandomCropFlip",
    "Run",
    "accelerator",
    "airbench_net",
    "classic_cnn",
    "compute_capability",
    "fast_resnet",
    "gradient",
    "one_hot",
    "patch_whitening_kernel",
    "precision_policy",
    "predict_logits",
    "require_accelerator",
    "run_record",
    "smoothed_targets",
    "softmax",
    "train_classic",
    "train_fast",
    "warm_up",
]

NUM_CLASSES = 10
INPUT_SHAPE = (32, 32, 3)
# Per-channel mean and standard deviation of CIFAR-10's training images, on the 0..255 scale.
CIFAR10_MEAN = (125.3, 123.0, 113.9)
CIFAR10_STD = (63.0, 62.1, 66.7)

# The fast recipe's batch: 500 divides CIFAR-10's 50,000 training images, so every step has the
# same shape and XLA compiles the training step once. (512 left a last batch of 336 and a second
# compile inside the timed first epoch: 8.5 s on a CPU with JAX, per the lab review.)
FAST_BATCH = 500

# Decoupled weight decay for the fast recipe. Keras 3 applies `weight_decay` as
# w <- w - lr * wd * w after the gradient step, outside the momentum buffer; PyTorch's SGD adds
# wd * w to the gradient, where momentum 0.9 amplifies it by 1 / (1 - 0.9) = 10. The recipes the
# fast one follows (Myrtle.ai's ResNet-9, PyTorch, wd 5e-4, momentum 0.9) therefore decay like
# Keras with wd = 5e-4 / (1 - 0.9) = 5e-3. Over a one-cycle schedule the weights shrink by
# exp(-wd * sum(lr)) = exp(-wd * peak * steps / 2): 12 epochs of 100 steps at peak 0.2 give
# exp(-5e-3 * 120) = 0.55 (PyTorch's coupled 5e-4: 0.55), where the old 5e-4 gave 0.94.
# tests/test_lab.py checks both numbers against the optimizers.
FAST_WEIGHT_DECAY = 5e-3

# airbench's network (arXiv:2404.00498, section 3): three blocks, 64, 256 and 256 channels.
AIRBENCH_WIDTHS = (64, 256, 256)

PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")


# --- Targets -----------------------------------------------------------------------------------


def one_hot(labels: Any, num_classes: int = NUM_CLASSES) -> np.ndarray:
    """One-hot rows (float32) for integer ``labels`` in ``[0, num_classes)``.

    >>> one_hot([2, 0], num_classes=3)
    array([[0., 0., 1.],
           [1., 0., 0.]], dtype=float32)
    """
    labels = np.asarray(labels)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(
            f"labels must be a 1-D array of integers; got dtype {labels.dtype}, shape {labels.shape}"
        )
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(
            f"labels must lie in [0, {num_classes}); got values in [{labels.min()}, {labels.max()}]"
        )
    return np.eye(num_classes, dtype=np.float32)[labels]


def smoothed_targets(labels: Any, epsilon: float, num_classes: int = NUM_CLASSES) -> np.ndarray:
    r"""Label-smoothed targets :math:`(1 - \varepsilon)\,\mathrm{onehot}(y) + \varepsilon / K`.

    Training with a KL loss against these rows is label smoothing (Szegedy et al., 2016): it
    differs from Keras' ``CategoricalCrossentropy(label_smoothing=epsilon)`` by the entropy of the
    smoothed target, a constant, so the gradients are the same.

    >>> smoothed_targets([1], 0.1, num_classes=4).round(3)
    array([[0.025, 0.925, 0.025, 0.025]], dtype=float32)
    """
    if not isinstance(epsilon, (int, float)) or isinstance(epsilon, bool) or not 0 <= epsilon < 1:
        raise ValueError(f"epsilon must be a number in [0, 1); got {epsilon!r}")
    return (one_hot(labels, num_classes) * (1.0 - epsilon) + epsilon / num_classes).astype(np.float32)


def softmax(logits: Any, temperature: float = 1.0) -> np.ndarray:
    r"""Row-wise :math:`\operatorname{softmax}(z / T)` in float64 (NumPy), stable for large logits.

    >>> softmax([[0.0, np.log(3.0)]]).round(4)
    array([[0.25, 0.75]])
    """
    if not isinstance(temperature, (int, float)) or isinstance(temperature, bool) or not temperature > 0:
        raise ValueError(f"temperature must be a positive number; got {temperature!r}")
    z = np.asarray(logits, dtype=np.float64) / temperature
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


# --- Models ------------------------------------------------------------------------------------


def classic_cnn(*, logits: bool = False, name: str = "classic_cnn") -> keras.Model:
    """The widely copied Keras CIFAR-10 recipe, for inputs already scaled to [0, 1].

    Conv2D(32, 3×3, relu) → MaxPool(2) → Dropout(0.5) → Conv2D(64, 3×3, relu) → MaxPool(2) →
    Dropout(0.5) → Flatten → Dense(256, relu) → Dense(10, softmax). With ``logits=True`` the last
    layer has no softmax (the loss applies it), which a distillation loss needs.
    """
    return keras.Sequential(
        [
            keras.Input(INPUT_SHAPE),
            layers.Conv2D(32, 3, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Dropout(0.5),
            layers.Conv2D(64, 3, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Dropout(0.5),
            layers.Flatten(),
            layers.Dense(256, activation="relu"),
            layers.Dense(NUM_CLASSES, activation=None if logits else "softmax"),
        ],
        name=name,
    )


@keras.saving.register_keras_serializable(package="kldiv")
class RandomCropFlip(layers.Layer):
    """Training-time augmentation on the device: a random crop of the image padded by ``padding``
    pixels (reflected) and a random horizontal flip, drawn independently for every image.

    Keras' own ``RandomCrop`` draws one offset per batch; this layer draws one per image, with
    ``keras.ops`` only. At inference it returns its input unchanged.
    """

    def __init__(self, padding: int = 4, seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if isinstance(padding, bool) or not isinstance(padding, int) or padding < 0:
            raise ValueError(f"padding must be a non-negative integer; got {padding!r}")
        self.padding = padding
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, images: Any, training: bool | None = None) -> Any:
        if not training:
            return images
        shape = ops.shape(images)
        batch, height, width = shape[0], shape[1], shape[2]
        pad = self.padding
        flip = keras.random.uniform((batch, 1, 1, 1), seed=self.seed_generator) < 0.5
        images = ops.where(flip, ops.flip(images, axis=2), images)
        if pad == 0:
            return images
        padded = ops.pad(images, [[0, 0], [pad, pad], [pad, pad], [0, 0]], mode="reflect")
        # int32 throughout: TensorFlow's oneDNN logs natively about int64 on CPUs without AVX-512.
        offsets = keras.random.randint(
            (batch, 2), 0, 2 * pad + 1, dtype="int32", seed=self.seed_generator
        )
        rows = offsets[:, :1] + ops.arange(height, dtype="int32")[None, :]  # (batch, height)
        cols = offsets[:, 1:] + ops.arange(width, dtype="int32")[None, :]  # (batch, width)
        # Crop by multiplying with one-hot selection matrices rather than gathering: exact (one 1
        # per row), cheap next to a convolution, and free of TensorFlow's native warnings about
        # int64 gathers on CPUs without AVX-512.
        select_rows = ops.one_hot(rows, height + 2 * pad, dtype=padded.dtype)  # (b, h, h + 2p)
        select_cols = ops.one_hot(cols, width + 2 * pad, dtype=padded.dtype)  # (b, w, w + 2p)
        cropped = ops.einsum("bij,bjkc->bikc", select_rows, padded)
        return ops.einsum("bwk,bikc->biwc", select_cols, cropped)

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "padding": self.padding, "seed": self.seed}


def precision_policy(capability: tuple[int, int] | None) -> str:
    """The Keras dtype policy for the fast recipe on a GPU of this compute capability.

    ``'mixed_bfloat16'`` from capability 8.0 (A100, L4, H100/H200: bfloat16 tensor cores) and
    ``'float32'`` below it (Colab's T4 is 7.5: no bfloat16 tensor cores, so bfloat16 would be
    emulated and gain nothing) and on a CPU (``capability=None``). A T4 can run
    ``'mixed_float16'``, which :func:`train_fast` pairs with a loss-scale optimizer, but only if
    asked: that is a choice a measurement should make.

    >>> precision_policy((7, 5)), precision_policy((9, 0)), precision_policy(None)
    ('float32', 'mixed_bfloat16', 'float32')
    """
    if capability is None:
        return "float32"
    if (not isinstance(capability, tuple) or len(capability) != 2
            or not all(isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in capability)):
        raise ValueError(f"capability must be None or a (major, minor) pair of integers; got {capability!r}")
    return "mixed_bfloat16" if capability >= (8, 0) else "float32"


def _policy(precision: str | None, mixed_precision: bool) -> str | None:
    """The per-layer dtype for ``precision`` (``None``: the old ``mixed_precision`` switch)."""
    if precision is None:
        return "mixed_bfloat16" if mixed_precision else None
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS} or None; got {precision!r}")
    return None if precision == "float32" else precision


def patch_whitening_kernel(
    images: np.ndarray, *, patch: int = 2, epsilon: float = 5e-4, max_images: int = 5000
) -> np.ndarray:
    r"""The kernel of airbench's frozen first convolution: PCA whitening of ``patch``×``patch``
    patches of the normalised ``images``.

    With :math:`C = E[v v^\top]` the second-moment matrix of the flattened patches ``v`` (of
    ``d = patch² · 3`` values, in Keras' kernel order: row, column, channel) and
    :math:`C = \sum_k \lambda_k u_k u_k^\top`, filter ``k`` is :math:`u_k / \sqrt{\lambda_k + \epsilon}`
    and filter ``d + k`` its negative (Jordan 2024, arXiv:2404.00498, section 3.2: the negated copy
    lets a ReLU/GELU keep both signs). The outputs' second moments are :math:`\lambda_k / (\lambda_k
    + \epsilon)`, about 1, and uncorrelated. Only the first ``max_images`` images are used (airbench
    uses 5,000). Returns float32 of shape ``(patch, patch, 3, 2 d)``.
    """
    x = np.asarray(images)
    if x.ndim != 4 or x.shape[-1] != 3 or x.shape[1] < patch or x.shape[2] < patch:
        raise ValueError(f"images must have shape (n, height, width, 3); got {x.shape}")
    if isinstance(patch, bool) or not isinstance(patch, int) or patch < 1:
        raise ValueError(f"patch must be a positive integer; got {patch!r}")
    if not epsilon > 0:
        raise ValueError(f"epsilon must be positive; got {epsilon!r}")
    x = x[:max_images]
    d = patch * patch * 3
    second = np.zeros((d, d))
    count = 0
    # In chunks: 5,000 images give 4.8 M patches, 460 MB at once in float64.
    for chunk in np.array_split(x, max(1, len(x) // 500)):
        z = (chunk.astype(np.float64) - CIFAR10_MEAN) / CIFAR10_STD
        windows = np.lib.stride_tricks.sliding_window_view(z, (patch, patch), axis=(1, 2))
        v = windows.transpose(0, 1, 2, 4, 5, 3).reshape(-1, d)  # (.., row, col, channel)
        second += v.T @ v
        count += len(v)
    eigenvalues, eigenvectors = np.linalg.eigh(second / count)
    order = np.argsort(eigenvalues)[::-1]
    filters = eigenvectors[:, order] / np.sqrt(eigenvalues[order] + epsilon)
    kernel = np.concatenate([filters, -filters], axis=1).reshape(patch, patch, 3, 2 * d)
    return kernel.astype(np.float32)


def _whitening(x: Any, kernel: np.ndarray, dtype: Any) -> Any:
    layer = layers.Conv2D(kernel.shape[-1], kernel.shape[:2], padding="valid", use_bias=False,
                          trainable=False, dtype=dtype, name="whitening")
    x = layer(x)
    layer.kernel.assign(kernel)
    return x


def _conv_bn(x: Any, filters: int, dtype: Any, scale: bool = True) -> Any:
    x = layers.Conv2D(filters, 3, padding="same", use_bias=False, dtype=dtype)(x)
    # Momentum 0.9, not Keras' 0.99: a run of a few hundred steps must not lag on stale statistics.
    x = layers.BatchNormalization(momentum=0.9, scale=scale, dtype=dtype)(x)
    return layers.Activation("relu", dtype=dtype)(x)


def _check_widths(widths: Any, n: int) -> None:
    if len(widths) != n or any(isinstance(w, bool) or not isinstance(w, int) or w < 1 for w in widths):
        words = {3: "three", 4: "four"}[n]
        raise ValueError(f"widths must be {words} positive integers; got {widths!r}")


def _prepare(inputs: Any, dtype: Any, augment: bool, padding: int, seed: int | None,
             whitening: np.ndarray | None) -> Any:
    x = layers.Normalization(
        mean=CIFAR10_MEAN, variance=[s**2 for s in CIFAR10_STD], dtype=dtype
    )(inputs)
    if augment:
        x = RandomCropFlip(padding=padding, seed=seed, dtype=dtype)(x)
    if whitening is not None:
        x = _whitening(x, np.asarray(whitening, dtype=np.float32), dtype)
    return x


def fast_resnet(
    *,
    widths: Sequence[int] = (64, 128, 256, 512),
    mixed_precision: bool = False,
    augment: bool = True,
    seed: int | None = None,
    precision: str | None = None,
    whitening: np.ndarray | None = None,
    bn_scale: bool = True,
    name: str = "fast_resnet",
) -> keras.Model:
    """A ResNet-9-style classifier (after Myrtle.ai's DAWNBench entry) that outputs logits.

    Input: ``uint8`` images (scaling and normalisation happen on the device, so the host sends a
    quarter of the bytes). Layout: prep conv → [conv, pool, residual pair] → [conv, pool] →
    [conv, pool, residual pair] → global max-pool → dense, with batch norm after every
    convolution. ``mixed_precision=True`` computes in bfloat16 with float32 weights (as does
    ``precision='mixed_bfloat16'``; ``precision`` wins when given, see :data:`PRECISIONS`); the
    logits are always float32, so the loss is computed in float32. ``whitening`` (a kernel from
    :func:`patch_whitening_kernel`) puts a frozen patch-whitening convolution before the prep
    conv; ``bn_scale=False`` drops batch norm's learned scale (airbench's choice).
    """
    _check_widths(widths, 4)
    dtype = _policy(precision, mixed_precision)
    w0, w1, w2, w3 = widths
    inputs = keras.Input(INPUT_SHAPE, dtype="uint8")
    x = _prepare(inputs, dtype, augment, 4, seed, whitening)
    x = _conv_bn(x, w0, dtype, bn_scale)
    for filters, residual in ((w1, True), (w2, False), (w3, True)):
        x = _conv_bn(x, filters, dtype, bn_scale)
        x = layers.MaxPooling2D(2, dtype=dtype)(x)
        if residual:
            y = _conv_bn(_conv_bn(x, filters, dtype, bn_scale), filters, dtype, bn_scale)
            x = layers.Add(dtype=dtype)([x, y])
    x = layers.GlobalMaxPooling2D(dtype=dtype)(x)
    # Scaling the logits down (Myrtle.ai used 1/8) keeps the initial softmax near uniform.
    x = layers.Dense(NUM_CLASSES, dtype=dtype)(x)
    outputs = layers.Rescaling(0.125, dtype="float32")(x)
    return keras.Model(inputs, outputs, name=name)


def airbench_net(
    *,
    widths: Sequence[int] = AIRBENCH_WIDTHS,
    whitening: np.ndarray | None = None,
    precision: str | None = None,
    augment: bool = True,
    bn_scale: bool = False,
    seed: int | None = None,
    name: str = "airbench_net",
) -> keras.Model:
    """airbench's smaller network (Jordan 2024, arXiv:2404.00498), in Keras: about a third of the
    ResNet-9's multiply-adds per image (118 M against 379 M at the default widths).

    ``uint8`` input → normalise → crop (2 px) and flip → 2×2 patch-whitening convolution (frozen,
    24 channels, from ``whitening``; a trainable 2×2 convolution when it is None) → GELU → three
    blocks of [conv 3×3, max-pool 2, batch norm, GELU, conv 3×3, batch norm, GELU] → global
    max-pool → dense → logits scaled by 1/9, as airbench does. Batch norm has no learned scale by
    default (``bn_scale``), like airbench's. No residual connections.
    """
    _check_widths(widths, 3)
    dtype = _policy(precision, False)
    inputs = keras.Input(INPUT_SHAPE, dtype="uint8")
    x = _prepare(inputs, dtype, augment, 2, seed, whitening)
    if whitening is None:
        x = layers.Conv2D(24, 2, padding="valid", use_bias=False, dtype=dtype)(x)
    x = layers.Activation("gelu", dtype=dtype)(x)
    for filters in widths:
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False, dtype=dtype)(x)
        x = layers.MaxPooling2D(2, dtype=dtype)(x)
        for second in (False, True):
            if second:
                x = layers.Conv2D(filters, 3, padding="same", use_bias=False, dtype=dtype)(x)
            x = layers.BatchNormalization(momentum=0.9, scale=bn_scale, dtype=dtype)(x)
            x = layers.Activation("gelu", dtype=dtype)(x)
    x = layers.GlobalMaxPooling2D(dtype=dtype)(x)
    x = layers.Dense(NUM_CLASSES, use_bias=False, dtype=dtype)(x)
    outputs = layers.Rescaling(1 / 9, dtype="float32")(x)
    return keras.Model(inputs, outputs, name=name)


@keras.saving.register_keras_serializable(package="kldiv")
class OneCycle(keras.optimizers.schedules.LearningRateSchedule):
    """Learning rate rising linearly from 0 to ``peak`` over ``warmup`` of ``total_steps``, then
    falling linearly to 0 (Smith's one-cycle policy, as in Myrtle.ai's ResNet-9 runs)."""

    def __init__(self, peak: float, total_steps: int, warmup: float = 0.25) -> None:
        if not peak > 0:
            raise ValueError(f"peak must be positive; got {peak!r}")
        if isinstance(total_steps, bool) or not isinstance(total_steps, int) or total_steps < 1:
            raise ValueError(f"total_steps must be a positive integer; got {total_steps!r}")
        if not 0 < warmup < 1:
            raise ValueError(f"warmup must be a fraction in (0, 1); got {warmup!r}")
        self.peak, self.total_steps, self.warmup = float(peak), total_steps, float(warmup)

    def __call__(self, step: Any) -> Any:
        step = ops.cast(step, "float32")
        rise = self.warmup * self.total_steps
        up = step / rise
        down = (self.total_steps - step) / (self.total_steps - rise)
        return self.peak * ops.clip(ops.minimum(up, down), 0.0, 1.0)

    def get_config(self) -> dict[str, Any]:
        return {"peak": self.peak, "total_steps": self.total_steps, "warmup": self.warmup}


# --- Losses ------------------------------------------------------------------------------------


@keras.saving.register_keras_serializable(package="kldiv")
class DistillationLoss(keras.losses.Loss):
    r"""Knowledge distillation (Hinton et al., 2015) as two KL divergences, from logits.

    ``y_true`` is the one-hot label and the teacher's logits side by side (shape ``(n, 2K)``);
    ``y_pred`` is the student's logits ``z`` (shape ``(n, K)``). With teacher logits ``t``:

    .. math::

        L = \alpha\, T^2\, D\bigl(\operatorname{softmax}(t/T) \,\|\, \operatorname{softmax}(z/T)\bigr)
            + (1 - \alpha)\, D\bigl(y \,\|\, \operatorname{softmax}(z)\bigr).

    The gradient of the first term with respect to ``z`` is
    :math:`(\operatorname{softmax}(z/T) - \operatorname{softmax}(t/T)) / T`, and for large ``T`` it
    shrinks like :math:`1/T^2` (Hinton et al., section 2.1); the factor :math:`T^2` keeps the soft
    term's share of the gradient the same whatever the temperature.
    """

    def __init__(
        self,
        temperature: float = 4.0,
        alpha: float = 0.9,
        reduction: str | None = "sum_over_batch_size",
        name: str = "distillation",
        dtype: Any = None,
    ) -> None:
        if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not temperature > 0:
            raise ValueError(f"temperature must be a positive number; got {temperature!r}")
        if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 <= alpha <= 1:
            raise ValueError(f"alpha must be a number in [0, 1]; got {alpha!r}")
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.temperature, self.alpha = float(temperature), float(alpha)
        self._kl = KLDivergence(from_logits=True, reduction=None)

    def call(self, y_true: Any, y_pred: Any) -> Any:
        k = y_pred.shape[-1]
        if y_true.shape[-1] != 2 * k:
            raise ValueError(
                f"y_true must hold the one-hot label and the teacher's logits ({2 * k} columns for "
                f"{k} classes); got {y_true.shape[-1]} columns"
            )
        labels, teacher_logits = y_true[..., :k], y_true[..., k:]
        t = self.temperature
        soft_target = ops.softmax(teacher_logits / t, axis=-1)
        soft = self._kl.call(soft_target, y_pred / t)
        hard = self._kl.call(labels, y_pred)
        return self.alpha * t * t * soft + (1.0 - self.alpha) * hard

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "temperature": self.temperature, "alpha": self.alpha}


# --- Measurements ------------------------------------------------------------------------------


def predict_logits(model: keras.Model, x: Any, *, flip_tta: bool = False,
                   batch_size: int = 1000) -> np.ndarray:
    """The model's outputs for ``x`` (NumPy). With ``flip_tta=True``, the mean of the outputs for
    ``x`` and for ``x`` flipped left to right: flip test-time augmentation, which airbench reports
    worth about 0.3 to 0.5 points of CIFAR-10 accuracy (arXiv:2404.00498, section 3.6). It costs a
    second forward pass."""
    outputs = model.predict(x, batch_size=batch_size, verbose=0)
    if flip_tta:
        outputs = (outputs + model.predict(np.asarray(x)[:, :, ::-1], batch_size=batch_size,
                                           verbose=0)) / 2
    return np.asarray(outputs)


def _ema_averages(optimizer: Any) -> list[Any] | None:
    """The optimizer's moving averages of the trainable variables, or None without EMA."""
    inner = getattr(optimizer, "inner_optimizer", optimizer)  # LossScaleOptimizer wraps one
    if not getattr(inner, "use_ema", False):
        return None
    # Keras keeps them in a private list (keras 3.15: base_optimizer.py); tests/test_lab.py pins it.
    return inner._model_variables_moving_average


class EpochTimer(keras.callbacks.Callback):
    """Records the training wall-clock time of every epoch and, if test data are given, the test
    accuracy after it.

    Keras runs the validation pass (``validation_split``) *before* ``on_epoch_end``, so the time
    between ``on_test_begin`` and ``on_test_end`` is subtracted: ``seconds`` is training alone,
    and ``validation_seconds`` holds what was taken out. The test accuracy is measured after the
    clock stops, with flip test-time augmentation if ``flip_tta``; if the optimizer keeps EMA
    weights (``use_ema=True``), they are swapped in for that measurement and swapped back, so
    training continues from the raw weights (Keras itself swaps them in only at the end of fit).

    Attributes after ``fit``: ``seconds``, ``validation_seconds`` and ``test_accuracy``, one entry
    per epoch.
    """

    def __init__(self, x_test: Any = None, y_test: Any = None, batch_size: int = 1000, *,
                 flip_tta: bool = False, clock: Callable[[], float] = time.perf_counter) -> None:
        super().__init__()
        self.x_test, self.y_test, self.batch_size = x_test, y_test, batch_size
        self.flip_tta, self.clock = flip_tta, clock
        self.seconds: list[float] = []
        self.validation_seconds: list[float] = []
        self.test_accuracy: list[float] = []
        self._start = self._test_start = self._validation = 0.0

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._validation = 0.0
        self._start = self.clock()

    def on_test_begin(self, logs: dict | None = None) -> None:
        self._test_start = self.clock()

    def on_test_end(self, logs: dict | None = None) -> None:
        self._validation += self.clock() - self._test_start

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        # Keras has turned the logs into numbers by now, so the device has finished the epoch.
        self.seconds.append(self.clock() - self._start - self._validation)
        self.validation_seconds.append(self._validation)
        if self.x_test is not None:
            self.test_accuracy.append(self.accuracy())

    def accuracy(self) -> float:
        """Test accuracy of the model now (of its EMA weights, if the optimizer keeps them)."""
        averages = _ema_averages(getattr(self.model, "optimizer", None))
        if averages is None:
            return self._accuracy()
        variables = self.model.trainable_variables
        raw = [ops.convert_to_numpy(v) for v in variables]
        for variable, average in zip(variables, averages):
            # A copy: on JAX, sharing the average's buffer would let the next training step
            # donate (delete) it.
            variable.assign(ops.convert_to_numpy(average))
        try:
            return self._accuracy()
        finally:
            for variable, value in zip(variables, raw):
                variable.assign(value)

    def _accuracy(self) -> float:
        logits = predict_logits(self.model, self.x_test, flip_tta=self.flip_tta,
                                batch_size=self.batch_size)
        return float(np.mean(np.argmax(logits, -1) == np.asarray(self.y_test)))


@dataclass
class Run:
    """One training run: the model, Keras' history and the :class:`EpochTimer`'s measurements.

    ``seconds`` is steady-state training time per epoch (validation excluded; compilation too
    when the run was warmed up, see :func:`warm_up`); ``compile_seconds`` is the warm-up's time,
    the one-off cost of compiling the training step (0 if there was no warm-up). ``config`` holds
    the options the run was trained with.
    """

    name: str
    model: keras.Model
    history: dict[str, list[float]]
    seconds: list[float]
    test_accuracy: list[float]
    images_per_epoch: int
    compile_seconds: float = 0.0
    validation_seconds: list[float] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def train_seconds(self) -> float:
        """Training seconds over all epochs, compilation not included."""
        return float(sum(self.seconds))

    def images_per_second(self) -> float:
        """Throughput after the first epoch (which may still hold one-off costs), or over the one
        epoch."""
        steady = self.seconds[1:] or self.seconds
        return self.images_per_epoch * len(steady) / sum(steady)

    def time_to_accuracy(self, target: float, *, include_compile: bool = True) -> float | None:
        """Training seconds until the test accuracy first reached ``target``, or None if it never
        did; with ``include_compile`` (the default) the warm-up's ``compile_seconds`` is added.
        Evaluation and validation time are never counted."""
        elapsed = self.compile_seconds if include_compile else 0.0
        for seconds, accuracy in zip(self.seconds, self.test_accuracy):
            elapsed += seconds
            if accuracy >= target:
                return elapsed
        return None


def warm_up(model: keras.Model, x: Any, targets: Any, *, batch_size: int,
            steps_per_execution: int = 1) -> float:
    """Compile ``model``'s training step before it is timed, and return the seconds it took.

    Trains on the first ``batch_size`` rows (plus the ``len(x) % batch_size`` rows of a partial
    last batch, if there is one, so that its shape is compiled too), then puts every model and
    optimizer variable back, random-seed states included: the run that follows starts exactly
    where it would have without the warm-up (tests/test_lab.py checks this). airbench does the
    same with a throw-away warm-up run (arXiv:2404.00498, section 4).
    """
    optimizer = model.optimizer
    optimizer.build(model.trainable_variables)
    variables = list(model.variables) + list(optimizer.variables)
    saved = [ops.convert_to_numpy(v) for v in variables]
    rows = batch_size * steps_per_execution + len(x) % batch_size
    rows = min(len(x), rows)
    start = time.perf_counter()
    model.fit(x[:rows], targets[:rows], batch_size=batch_size, epochs=1, shuffle=True, verbose=0)
    seconds = time.perf_counter() - start
    for variable, value in zip(variables, saved):
        variable.assign(value)
    return seconds


def _fit(name: str, model: keras.Model, x: Any, targets: Any, x_test: Any, y_test: Any, *,
         epochs: int, batch_size: int, validation_split: float, seed: int, warmup: bool = True,
         flip_tta: bool = False, steps_per_execution: int = 1,
         config: dict[str, Any] | None = None) -> Run:
    # Build the loss and metrics from one batch's shapes (symbolically: nothing is computed) before
    # any state is saved. Left to fit(), JAX's and PyTorch's trainers do it by iterating the data,
    # which draws a shuffle from NumPy's global generator once per model: the warm-up would take
    # that draw, so a warmed-up run would shuffle its epochs unlike a cold one (issue 14; keras
    # 3.15, trainers/trainer.py; tests/test_lab.py checks warm == cold on every backend).
    model._symbolic_build(data_batch=(x[:batch_size], targets[:batch_size]))
    compile_seconds = 0.0
    if warmup:
        train_rows = len(x) - int(len(x) * validation_split)  # Keras' validation_split arithmetic
        states = random.getstate(), np.random.get_state()
        compile_seconds = warm_up(model, x[:train_rows], targets[:train_rows], batch_size=batch_size,
                                  steps_per_execution=steps_per_execution)
        # Shuffling as if there had been no warm-up: TensorFlow's op seeds start again from `seed`,
        # and Python's and NumPy's generators (JAX's shuffle) go back to where they were.
        keras.utils.set_random_seed(seed)
        random.setstate(states[0])
        np.random.set_state(states[1])
    timer = EpochTimer(x_test, y_test, flip_tta=flip_tta)
    history = model.fit(
        x, targets, batch_size=batch_size, epochs=epochs, validation_split=validation_split,
        verbose=0, callbacks=[timer],
    )
    images = int(round(len(x) * (1 - validation_split)))
    return Run(name, model, history.history, timer.seconds, timer.test_accuracy, images,
               compile_seconds=compile_seconds, validation_seconds=timer.validation_seconds,
               config=dict(config or {}))


def train_classic(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    *,
    loss: keras.losses.Loss,
    seed: int,
    epochs: int = 25,
    batch_size: int = 250,
    validation_split: float = 0.2,
    targets: np.ndarray | None = None,
    logits: bool = False,
    warmup: bool = True,
    name: str = "classic",
) -> Run:
    """The classic recipe: :func:`classic_cnn`, Adam (learning rate 1e-3), batch 250, 25 epochs,
    the last 20 % of the training arrays held out for validation, pixels scaled to [0, 1].

    ``targets`` defaults to the one-hot labels (distillation passes labels and teacher logits);
    ``logits=True`` builds the network without its softmax, for losses that take logits.
    ``warmup`` compiles the training step before the clock starts (:func:`warm_up`).
    """
    keras.utils.set_random_seed(seed)
    model = classic_cnn(logits=logits)
    metrics = [] if targets is not None else ["accuracy"]
    model.compile(keras.optimizers.Adam(1e-3), loss, metrics=metrics)
    targets = one_hot(y_train) if targets is None else targets
    config = {"recipe": "classic", "epochs": epochs, "batch_size": batch_size,
              "validation_split": validation_split, "precision": "float32"}
    return _fit(name, model, x_train.astype(np.float32) / 255.0, targets,
                x_test.astype(np.float32) / 255.0, y_test, epochs=epochs, batch_size=batch_size,
                validation_split=validation_split, seed=seed, warmup=warmup, config=config)


NETWORKS = ("resnet9", "airbench")


def train_fast(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    *,
    seed: int,
    epochs: int = 12,
    batch_size: int = FAST_BATCH,
    widths: Sequence[int] | None = None,
    mixed_precision: bool = False,
    precision: str | None = None,
    peak_learning_rate: float = 0.2,
    weight_decay: float = FAST_WEIGHT_DECAY,
    targets: np.ndarray | None = None,
    label_smoothing: float = 0.0,
    network: str = "resnet9",
    whiten: bool = False,
    bn_scale: bool = True,
    ema_momentum: float | None = None,
    flip_tta: bool = False,
    steps_per_execution: int = 1,
    warmup: bool = True,
    name: str = "fast",
) -> Run:
    """The fast recipe: :func:`fast_resnet` on ``uint8`` images with per-image crop and flip,
    SGD with Nesterov momentum 0.9 and decoupled weight decay (:data:`FAST_WEIGHT_DECAY`, whose
    comment gives the arithmetic), a one-cycle learning rate, and the exact KL loss from logits
    (:class:`kldiv.losses.KLDivergence`) against one-hot labels or the given ``targets``.

    Every step has ``batch_size`` images: if it does not divide the training set, the last
    ``len(x_train) % batch_size`` images (a fixed, random subset, since the arrays come shuffled)
    are left out, because a partial last batch would be compiled a second time inside the timed
    first epoch. ``Run.images_per_epoch`` counts the images used.

    Options (airbench's levers; benchmarks/README.md gives their cited effects):

    * ``precision``: a Keras dtype policy from :data:`PRECISIONS` (default: float32, or bfloat16
      if ``mixed_precision``); ``'mixed_float16'`` wraps the optimizer in a loss-scale optimizer.
    * ``label_smoothing``: train against :func:`smoothed_targets` with this ε (airbench: 0.2).
    * ``network``: ``'resnet9'`` (:func:`fast_resnet`, ``widths`` of four) or ``'airbench'``
      (:func:`airbench_net`, ``widths`` of three).
    * ``whiten``: a frozen patch-whitening first convolution, from :func:`patch_whitening_kernel`
      of the training images.
    * ``bn_scale=False``: batch norm without its learned scale.
    * ``ema_momentum``: keep an exponential moving average of the weights (Keras' ``use_ema``),
      evaluated after every epoch and swapped in at the end.
    * ``flip_tta``: measure test accuracy with flip test-time augmentation.
    * ``steps_per_execution``: training steps per compiled call (fewer host round trips).
    * ``warmup``: compile before the clock starts (:func:`warm_up`), reported as
      ``Run.compile_seconds``.
    """
    if network not in NETWORKS:
        raise ValueError(f"network must be one of {NETWORKS}; got {network!r}")
    if targets is not None and label_smoothing:
        raise ValueError("give targets or label_smoothing, not both; got both")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or not 1 <= batch_size <= len(x_train):
        raise ValueError(f"batch_size must be an integer in [1, {len(x_train)}]; got {batch_size!r}")
    if (isinstance(steps_per_execution, bool) or not isinstance(steps_per_execution, int)
            or steps_per_execution < 1):
        raise ValueError(f"steps_per_execution must be a positive integer; got {steps_per_execution!r}")
    if ema_momentum is not None and not 0 < ema_momentum < 1:
        raise ValueError(f"ema_momentum must be None or in (0, 1); got {ema_momentum!r}")
    if label_smoothing:
        targets = smoothed_targets(y_train, label_smoothing)
    keras.utils.set_random_seed(seed)
    kept = len(x_train) - len(x_train) % batch_size
    x_train = x_train[:kept]
    targets = one_hot(y_train[:kept]) if targets is None else targets[:kept]
    whitening = patch_whitening_kernel(x_train) if whiten else None
    policy = _policy(precision, mixed_precision) or "float32"
    if widths is None:
        widths = (64, 128, 256, 512) if network == "resnet9" else AIRBENCH_WIDTHS
    build = fast_resnet if network == "resnet9" else airbench_net
    model = build(widths=tuple(widths), precision=policy, seed=seed, whitening=whitening,
                  bn_scale=bn_scale)
    steps = epochs * (kept // batch_size)
    optimizer = keras.optimizers.SGD(
        OneCycle(peak_learning_rate, steps), momentum=0.9, nesterov=True, weight_decay=weight_decay,
        use_ema=ema_momentum is not None, ema_momentum=ema_momentum or 0.99,
    )
    if policy == "mixed_float16":
        # Keras adds a loss-scale optimizer by itself only for a *model* policy of mixed_float16;
        # these policies are per layer, so it is added here.
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    model.compile(optimizer, KLDivergence(from_logits=True), metrics=["categorical_accuracy"],
                  steps_per_execution=steps_per_execution)
    config = {"recipe": "fast", "network": network, "widths": list(widths),
              "epochs": epochs, "batch_size": batch_size, "precision": policy,
              "peak_learning_rate": peak_learning_rate, "weight_decay": weight_decay,
              "label_smoothing": label_smoothing, "whiten": whiten, "bn_scale": bn_scale,
              "ema_momentum": ema_momentum, "flip_tta": flip_tta,
              "steps_per_execution": steps_per_execution, "dropped_images": len(y_train) - kept}
    return _fit(name, model, x_train, targets, x_test, y_test, epochs=epochs,
                batch_size=batch_size, validation_split=0.0, seed=seed, warmup=warmup,
                flip_tta=flip_tta, steps_per_execution=steps_per_execution, config=config)


def accelerator() -> str:
    """The device Keras' backend computes on, e.g. ``'gpu: NVIDIA H100 80GB HBM3'`` or ``'cpu'``."""
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        device = jax.devices()[0]
        return "cpu" if device.platform == "cpu" else f"gpu: {device.device_kind}"
    if backend == "torch":
        import torch

        return f"gpu: {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else "cpu"
    if backend == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        if not gpus:
            return "cpu"
        details = tf.config.experimental.get_device_details(gpus[0])
        return f"gpu: {details.get('device_name', gpus[0].name)}"
    return "cpu"


def compute_capability() -> tuple[int, int] | None:
    """The first GPU's CUDA compute capability as ``(major, minor)``, e.g. ``(9, 0)`` for an
    H100/H200 and ``(7, 5)`` for a T4; None on a CPU (or where the backend does not say)."""
    backend = keras.backend.backend()
    if accelerator() == "cpu":
        return None
    text = None
    if backend == "jax":
        import jax

        text = getattr(jax.devices()[0], "compute_capability", None)  # e.g. "9.0"
    elif backend == "torch":
        import torch

        return tuple(torch.cuda.get_device_capability(0))
    elif backend == "tensorflow":
        import tensorflow as tf

        details = tf.config.experimental.get_device_details(tf.config.list_physical_devices("GPU")[0])
        capability = details.get("compute_capability")
        return tuple(int(c) for c in capability) if capability else None
    if not text:
        return None
    major, minor = str(text).split(".")[:2]
    return int(major), int(minor)


def require_accelerator(what: str, *, allow_cpu: bool = False) -> str:
    """The device (as :func:`accelerator` names it), or a RuntimeError if it is the CPU and
    ``allow_cpu`` is false: a GPU-sized run on a CPU takes hours instead of minutes, and should
    stop at once with a message rather than run silently."""
    device = accelerator()
    if device == "cpu" and not allow_cpu:
        raise RuntimeError(
            f"{what} needs a GPU, but Keras' {keras.backend.backend()} backend sees only the CPU. "
            "Install a GPU build of the backend (for JAX: pip install 'jax[cuda12]'; for "
            "TensorFlow: pip install 'tensorflow[and-cuda]'), or rehearse on the CPU with the "
            "explicit override (the smoke or cpu configuration, or --rehearse / --allow-cpu)."
        )
    return device


def run_record() -> dict[str, str]:
    """What a run was made on: device, Keras backend and the versions that decide the numbers."""
    backend = keras.backend.backend()
    module = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}.get(backend)
    backend_version = sys.modules[module].__version__ if module in sys.modules else "?"
    return {
        "device": accelerator(),
        "backend": f"{backend} {backend_version}",
        "keras": keras.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "machine": f"{platform.system()} {platform.machine()}",
    }


def gradient(loss_fn: Callable[[Any], Any], x: Any) -> np.ndarray:
    """The gradient of the scalar ``loss_fn(x)`` with respect to the array ``x``, on any backend.

    Keras 3 has no backend-neutral autodiff call, so this dispatches to ``tf.GradientTape``,
    ``jax.grad`` or ``torch.autograd``. For checking losses, not for training.
    """
    backend = keras.backend.backend()
    x = np.asarray(x, dtype=np.float32)
    if backend == "tensorflow":
        import tensorflow as tf

        variable = tf.Variable(x)
        with tf.GradientTape() as tape:
            value = loss_fn(variable)
        return np.asarray(tape.gradient(value, variable))
    if backend == "jax":
        import jax

        return np.asarray(jax.grad(loss_fn)(x))
    if backend == "torch":
        import torch

        tensor = ops.convert_to_tensor(x).detach().clone().requires_grad_(True)  # on Keras' device
        loss_fn(tensor).backward()
        return tensor.grad.detach().cpu().numpy()
    raise NotImplementedError(f"gradient() supports tensorflow, jax and torch; got backend {backend!r}")
