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
* :class:`EpochTimer`: wall-clock per epoch and test accuracy after each epoch, for the benchmark.

Importing this module imports Keras (and so the backend).
"""

from __future__ import annotations

import platform
import sys
import time
from dataclasses import dataclass
from collections.abc import Callable, Sequence
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
    "classic_cnn",
    "fast_resnet",
    "gradient",
    "one_hot",
    "run_record",
    "smoothed_targets",
    "softmax",
    "train_classic",
    "train_fast",
]

NUM_CLASSES = 10
INPUT_SHAPE = (32, 32, 3)
# Per-channel mean and standard deviation of CIFAR-10's training images, on the 0..255 scale.
CIFAR10_MEAN = (125.3, 123.0, 113.9)
CIFAR10_STD = (63.0, 62.1, 66.7)


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


def _conv_bn(x: Any, filters: int, dtype: Any) -> Any:
    x = layers.Conv2D(filters, 3, padding="same", use_bias=False, dtype=dtype)(x)
    # Momentum 0.9, not Keras' 0.99: a run of a few hundred steps must not lag on stale statistics.
    x = layers.BatchNormalization(momentum=0.9, dtype=dtype)(x)
    return layers.Activation("relu", dtype=dtype)(x)


def fast_resnet(
    *,
    widths: Sequence[int] = (64, 128, 256, 512),
    mixed_precision: bool = False,
    augment: bool = True,
    seed: int | None = None,
    name: str = "fast_resnet",
) -> keras.Model:
    """A ResNet-9-style classifier (after Myrtle.ai's DAWNBench entry) that outputs logits.

    Input: ``uint8`` images (scaling and normalisation happen on the device, so the host sends a
    quarter of the bytes). Layout: prep conv → [conv, pool, residual pair] → [conv, pool] →
    [conv, pool, residual pair] → global max-pool → dense, with batch norm after every
    convolution. ``mixed_precision=True`` computes in bfloat16 with float32 weights; the logits
    are always float32, so the loss is computed in float32.
    """
    if len(widths) != 4 or any(isinstance(w, bool) or not isinstance(w, int) or w < 1 for w in widths):
        raise ValueError(f"widths must be four positive integers; got {widths!r}")
    dtype = "mixed_bfloat16" if mixed_precision else None
    w0, w1, w2, w3 = widths
    inputs = keras.Input(INPUT_SHAPE, dtype="uint8")
    x = layers.Normalization(
        mean=CIFAR10_MEAN, variance=[s**2 for s in CIFAR10_STD], dtype=dtype
    )(inputs)
    if augment:
        x = RandomCropFlip(padding=4, seed=seed, dtype=dtype)(x)
    x = _conv_bn(x, w0, dtype)
    for filters, residual in ((w1, True), (w2, False), (w3, True)):
        x = _conv_bn(x, filters, dtype)
        x = layers.MaxPooling2D(2, dtype=dtype)(x)
        if residual:
            y = _conv_bn(_conv_bn(x, filters, dtype), filters, dtype)
            x = layers.Add(dtype=dtype)([x, y])
    x = layers.GlobalMaxPooling2D(dtype=dtype)(x)
    # Scaling the logits down (Myrtle.ai used 1/8) keeps the initial softmax near uniform.
    x = layers.Dense(NUM_CLASSES, dtype=dtype)(x)
    outputs = layers.Rescaling(0.125, dtype="float32")(x)
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


class EpochTimer(keras.callbacks.Callback):
    """Records the training wall-clock time of every epoch and, if test data are given, the test
    accuracy after it (evaluation time is not counted as training time).

    Attributes after ``fit``: ``seconds`` and ``test_accuracy``, one entry per epoch.
    """

    def __init__(self, x_test: Any = None, y_test: Any = None, batch_size: int = 1000) -> None:
        super().__init__()
        self.x_test, self.y_test, self.batch_size = x_test, y_test, batch_size
        self.seconds: list[float] = []
        self.test_accuracy: list[float] = []
        self._start = 0.0

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        # Keras has turned the logs into numbers by now, so the device has finished the epoch.
        self.seconds.append(time.perf_counter() - self._start)
        if self.x_test is not None:
            logits = self.model.predict(self.x_test, batch_size=self.batch_size, verbose=0)
            self.test_accuracy.append(float(np.mean(np.argmax(logits, -1) == self.y_test)))


@dataclass
class Run:
    """One training run: the model, Keras' history and the :class:`EpochTimer`'s measurements."""

    name: str
    model: keras.Model
    history: dict[str, list[float]]
    seconds: list[float]
    test_accuracy: list[float]
    images_per_epoch: int

    @property
    def train_seconds(self) -> float:
        return float(sum(self.seconds))

    def images_per_second(self) -> float:
        """Throughput after the first epoch (which includes compilation), or over the one epoch."""
        steady = self.seconds[1:] or self.seconds
        return self.images_per_epoch * len(steady) / sum(steady)

    def time_to_accuracy(self, target: float) -> float | None:
        """Training seconds (compilation included, evaluation not) until the test accuracy first
        reached ``target``, or None if it never did."""
        elapsed = 0.0
        for seconds, accuracy in zip(self.seconds, self.test_accuracy):
            elapsed += seconds
            if accuracy >= target:
                return elapsed
        return None


def _fit(name: str, model: keras.Model, x: Any, targets: Any, x_test: Any, y_test: Any, *,
         epochs: int, batch_size: int, validation_split: float) -> Run:
    timer = EpochTimer(x_test, y_test)
    history = model.fit(
        x, targets, batch_size=batch_size, epochs=epochs, validation_split=validation_split,
        verbose=0, callbacks=[timer],
    )
    images = int(round(len(x) * (1 - validation_split)))
    return Run(name, model, history.history, timer.seconds, timer.test_accuracy, images)


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
    name: str = "classic",
) -> Run:
    """The classic recipe: :func:`classic_cnn`, Adam (learning rate 1e-3), batch 250, 25 epochs,
    the last 20 % of the training arrays held out for validation, pixels scaled to [0, 1].

    ``targets`` defaults to the one-hot labels (distillation passes labels and teacher logits);
    ``logits=True`` builds the network without its softmax, for losses that take logits.
    """
    keras.utils.set_random_seed(seed)
    model = classic_cnn(logits=logits)
    metrics = [] if targets is not None else ["accuracy"]
    model.compile(keras.optimizers.Adam(1e-3), loss, metrics=metrics)
    targets = one_hot(y_train) if targets is None else targets
    return _fit(name, model, x_train.astype(np.float32) / 255.0, targets, x_test.astype(np.float32) / 255.0,
                y_test, epochs=epochs, batch_size=batch_size, validation_split=validation_split)


def train_fast(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    *,
    seed: int,
    epochs: int = 12,
    batch_size: int = 512,
    widths: Sequence[int] = (64, 128, 256, 512),
    mixed_precision: bool = False,
    peak_learning_rate: float = 0.2,
    weight_decay: float = 5e-4,
    targets: np.ndarray | None = None,
    name: str = "fast",
) -> Run:
    """The fast recipe: :func:`fast_resnet` on ``uint8`` images with per-image crop and flip,
    SGD with Nesterov momentum 0.9 and decoupled weight decay, a one-cycle learning rate, and the
    exact KL loss from logits (:class:`kldiv.losses.KLDivergence`) against one-hot labels or the
    given ``targets`` (label smoothing passes smoothed ones). All training images are used."""
    keras.utils.set_random_seed(seed)
    model = fast_resnet(widths=widths, mixed_precision=mixed_precision, seed=seed)
    steps = epochs * -(-len(x_train) // batch_size)
    optimizer = keras.optimizers.SGD(
        OneCycle(peak_learning_rate, steps), momentum=0.9, nesterov=True, weight_decay=weight_decay
    )
    model.compile(optimizer, KLDivergence(from_logits=True), metrics=["categorical_accuracy"])
    targets = one_hot(y_train) if targets is None else targets
    return _fit(name, model, x_train, targets, x_test, y_test, epochs=epochs,
                batch_size=batch_size, validation_split=0.0)


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
