"""kldiv.lab: targets, models, augmentation, schedule and distillation loss of the CIFAR-10 lab,
checked against closed forms on the installed Keras backend."""

from __future__ import annotations

import numpy as np
import pytest

from kldiv.notebook import quiet_native_logs

with quiet_native_logs():
    import keras
from keras import ops

from kldiv import entropy, kl_divergence
from kldiv import lab
from kldiv.losses import KLDivergence

rng = np.random.default_rng(7)


def test_one_hot_rows() -> None:
    np.testing.assert_array_equal(lab.one_hot([1, 0, 2], 3), np.eye(3)[[1, 0, 2]])


@pytest.mark.parametrize("labels, match", [([0, 10], r"labels must lie in \[0, 10\); got values in \[0, 10\]"),
                                           ([-1], r"got values in \[-1, -1\]"),
                                           ([0.5], "labels must be a 1-D array of integers; got dtype float64"),
                                           ([[1]], r"shape \(1, 1\)")])
def test_one_hot_refuses_bad_labels(labels, match) -> None:
    with pytest.raises(ValueError, match=match):
        lab.one_hot(labels)


def test_smoothed_targets_are_distributions_with_the_right_peak() -> None:
    t = lab.smoothed_targets([3, 7], 0.1)
    np.testing.assert_allclose(t.sum(-1), 1, rtol=1e-6)
    np.testing.assert_allclose(t[0, 3], 0.91, rtol=1e-6)
    np.testing.assert_allclose(t[0, 0], 0.01, rtol=1e-6)


@pytest.mark.parametrize("eps", [-0.1, 1.0, "0.1", True])
def test_smoothed_targets_refuse_bad_epsilon(eps) -> None:
    with pytest.raises(ValueError, match=f"epsilon must be a number in \\[0, 1\\); got {eps!r}"):
        lab.smoothed_targets([0], eps)


def test_kl_to_smoothed_targets_is_keras_label_smoothing_minus_a_constant() -> None:
    labels, eps = np.array([0, 4, 9, 2]), 0.2
    logits = rng.normal(size=(4, 10)).astype(np.float32)
    target = lab.smoothed_targets(labels, eps)
    ce = keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=eps, reduction=None)
    kl = KLDivergence(from_logits=True, reduction=None)
    ce_values = ops.convert_to_numpy(ce(lab.one_hot(labels), logits))
    kl_values = ops.convert_to_numpy(kl(target, logits))
    np.testing.assert_allclose(ce_values - kl_values, entropy(target), rtol=1e-5)
    g_ce = lab.gradient(lambda z: ops.sum(ce(lab.one_hot(labels), z)), logits)
    g_kl = lab.gradient(lambda z: ops.sum(kl(target, z)), logits)
    np.testing.assert_allclose(g_kl, g_ce, atol=1e-6)
    np.testing.assert_allclose(g_kl, lab.softmax(logits) - target, atol=1e-6)


def test_softmax_with_temperature() -> None:
    z = np.array([[1.0, 2.0, 1000.0]])
    np.testing.assert_allclose(lab.softmax(z)[0], [0, 0, 1], atol=1e-300)
    np.testing.assert_allclose(lab.softmax([[0.0, 4.0]], 4.0), lab.softmax([[0.0, 1.0]]))


@pytest.mark.parametrize("t", [0, -1.0, "2", False])
def test_softmax_refuses_bad_temperature(t) -> None:
    with pytest.raises(ValueError, match=f"temperature must be a positive number; got {t!r}"):
        lab.softmax([[0.0]], t)


def test_classic_cnn_is_the_published_recipe() -> None:
    model = lab.classic_cnn()
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds == ["Conv2D", "MaxPooling2D", "Dropout", "Conv2D", "MaxPooling2D", "Dropout",
                     "Flatten", "Dense", "Dense"]
    # 896 + 18,496 + (6 * 6 * 64 + 1) * 256 + 257 * 10 trainable parameters.
    assert model.count_params() == 896 + 18_496 + 590_080 + 2_570
    x = rng.uniform(size=(3, 32, 32, 3)).astype(np.float32)
    np.testing.assert_allclose(ops.convert_to_numpy(model(x)).sum(-1), 1, rtol=1e-5)
    logits_model = lab.classic_cnn(logits=True)
    assert logits_model.layers[-1].activation.__name__ == "linear"


@pytest.mark.parametrize("mixed", [False, True])
def test_fast_resnet_returns_float32_logits(mixed: bool) -> None:
    model = lab.fast_resnet(widths=(4, 8, 8, 16), mixed_precision=mixed, seed=1)
    x = rng.integers(0, 256, size=(2, 32, 32, 3)).astype(np.uint8)
    out = model(x, training=False)
    assert tuple(out.shape) == (2, 10) and keras.backend.standardize_dtype(out.dtype) == "float32"
    assert any("bfloat16" in str(layer.dtype_policy.compute_dtype) for layer in model.layers) == mixed


@pytest.mark.parametrize("widths", [(1, 2, 3), (4, 8, 0, 16), (4, 8, 8, 16.0)])
def test_fast_resnet_refuses_bad_widths(widths) -> None:
    with pytest.raises(ValueError, match="widths must be four positive integers"):
        lab.fast_resnet(widths=widths)


def crops_of(image: np.ndarray, pad: int) -> list[np.ndarray]:
    h, w = image.shape[:2]
    padded = np.pad(image, [(pad, pad), (pad, pad), (0, 0)], mode="reflect")
    return [p[i:i + h, j:j + w] for p in (padded, padded[:, ::-1])
            for i in range(2 * pad + 1) for j in range(2 * pad + 1)]


def test_random_crop_flip_returns_a_flipped_or_plain_crop_of_each_image() -> None:
    x = rng.normal(size=(16, 8, 7, 3)).astype(np.float32)
    out = ops.convert_to_numpy(lab.RandomCropFlip(2, seed=3)(x, training=True))
    assert out.shape == x.shape
    for image, result in zip(x, out):
        assert any(np.array_equal(result, c) for c in crops_of(image, 2))
    # Offsets are drawn per image, not per batch (Keras' RandomCrop draws one per batch).
    same = [any(np.array_equal(out[k], c) for c in crops_of(x[k], 2)[:1]) for k in range(16)]
    assert not all(same)
    shifts = {next(i for i, c in enumerate(crops_of(img, 2)) if np.array_equal(res, c))
              for img, res in zip(x, out)}
    assert len(shifts) > 3


def test_random_crop_flip_is_the_identity_at_inference() -> None:
    x = rng.normal(size=(2, 8, 8, 3)).astype(np.float32)
    np.testing.assert_array_equal(ops.convert_to_numpy(lab.RandomCropFlip(4)(x, training=False)), x)


def test_random_crop_flip_refuses_bad_padding() -> None:
    with pytest.raises(ValueError, match="padding must be a non-negative integer; got -1"):
        lab.RandomCropFlip(-1)


def test_one_cycle_rises_to_the_peak_and_falls_to_zero() -> None:
    schedule = lab.OneCycle(0.4, 100, warmup=0.25)
    values = [float(schedule(step)) for step in (0, 25, 50, 100, 150)]
    np.testing.assert_allclose(values, [0.0, 0.4, 0.4 * 50 / 75, 0.0, 0.0], atol=1e-7)
    assert lab.OneCycle.from_config(schedule.get_config()).get_config() == schedule.get_config()


@pytest.mark.parametrize("kwargs, match", [({"peak": 0, "total_steps": 10}, "peak must be positive"),
                                           ({"peak": 1, "total_steps": 0}, "total_steps must be a positive integer; got 0"),
                                           ({"peak": 1, "total_steps": 10, "warmup": 1.0}, r"warmup must be a fraction in \(0, 1\); got 1.0")])
def test_one_cycle_refuses_bad_arguments(kwargs, match) -> None:
    with pytest.raises(ValueError, match=match):
        lab.OneCycle(**kwargs)


def distillation_case(n: int = 5):
    labels = rng.integers(0, 10, size=n)
    teacher = rng.normal(scale=3, size=(n, 10)).astype(np.float32)
    student = rng.normal(size=(n, 10)).astype(np.float32)
    return lab.one_hot(labels), teacher, student


@pytest.mark.parametrize("t, alpha", [(1.0, 0.5), (4.0, 0.9), (10.0, 1.0), (2.0, 0.0)])
def test_distillation_loss_is_two_kl_divergences(t, alpha) -> None:
    y, teacher, student = distillation_case()
    loss = lab.DistillationLoss(temperature=t, alpha=alpha, reduction=None)
    value = ops.convert_to_numpy(loss(np.concatenate([y, teacher], 1), student))
    soft = kl_divergence(lab.softmax(teacher, t), lab.softmax(student, t))
    hard = kl_divergence(y, lab.softmax(student))
    np.testing.assert_allclose(value, alpha * t**2 * soft + (1 - alpha) * hard, rtol=2e-4, atol=1e-6)


@pytest.mark.parametrize("t", [1.0, 3.0, 20.0])
def test_distillation_gradient_and_the_t_squared_factor(t) -> None:
    y, teacher, student = distillation_case()
    alpha = 0.7
    loss = lab.DistillationLoss(temperature=t, alpha=alpha, reduction="sum")
    y_true = np.concatenate([y, teacher], 1)
    grad = lab.gradient(lambda z: loss(y_true, z), student)
    expected = (alpha * t * (lab.softmax(student, t) - lab.softmax(teacher, t))
                + (1 - alpha) * (lab.softmax(student) - y))
    np.testing.assert_allclose(grad, expected, atol=2e-5)


def test_without_t_squared_the_soft_gradient_shrinks_like_one_over_t_squared() -> None:
    # Hinton et al. 2015, section 2.1: for large T the soft gradient is about (z - t) / (K T^2).
    _, teacher, student = distillation_case()
    for t in (10.0, 100.0):
        g = (lab.softmax(student, t) - lab.softmax(teacher, t)) / t
        centred = (student - student.mean(1, keepdims=True)) - (teacher - teacher.mean(1, keepdims=True))
        np.testing.assert_allclose(g * t**2, centred / 10, rtol=0.25, atol=0.3 / t)


@pytest.mark.parametrize("kwargs, match", [({"temperature": 0}, "temperature must be a positive number; got 0"),
                                           ({"alpha": 1.5}, r"alpha must be a number in \[0, 1\]; got 1.5")])
def test_distillation_refuses_bad_arguments(kwargs, match) -> None:
    with pytest.raises(ValueError, match=match):
        lab.DistillationLoss(**kwargs)


def test_distillation_refuses_targets_without_teacher_logits() -> None:
    y, _, student = distillation_case()
    with pytest.raises(ValueError, match="20 columns for 10 classes\\); got 10 columns"):
        lab.DistillationLoss()(y, student)


def test_distillation_loss_round_trips_through_its_config() -> None:
    loss = lab.DistillationLoss(temperature=3.0, alpha=0.25)
    again = keras.losses.deserialize(keras.losses.serialize(loss))
    assert (again.temperature, again.alpha) == (3.0, 0.25)


def test_run_time_to_accuracy_and_throughput() -> None:
    run = lab.Run("r", None, {}, seconds=[5.0, 1.0, 1.0], test_accuracy=[0.5, 0.7, 0.9],
                  images_per_epoch=100)
    assert run.time_to_accuracy(0.7) == 6.0
    assert run.time_to_accuracy(0.95) is None
    assert run.train_seconds == 7.0
    assert run.images_per_second() == 100.0  # the first epoch (compilation) is left out


def test_a_tiny_fit_records_epochs_and_learns() -> None:
    keras.utils.set_random_seed(0)
    x = rng.integers(0, 256, size=(64, 32, 32, 3)).astype(np.uint8)
    labels = (x.mean(axis=(1, 2, 3)) > 127.5).astype(np.int64)
    model = lab.fast_resnet(widths=(4, 8, 8, 8), seed=0)
    model.compile(keras.optimizers.Adam(1e-2), KLDivergence(from_logits=True))
    timer = lab.EpochTimer(x, labels)
    history = model.fit(x, lab.one_hot(labels), batch_size=32, epochs=3, verbose=0, callbacks=[timer])
    assert len(timer.seconds) == len(timer.test_accuracy) == 3
    assert all(s > 0 for s in timer.seconds) and all(0 <= a <= 1 for a in timer.test_accuracy)
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_train_classic_and_fast_on_a_tiny_problem() -> None:
    x = rng.integers(0, 256, size=(40, 32, 32, 3)).astype(np.uint8)
    y = np.arange(40) % 10
    classic = lab.train_classic(x, y, x[:10], y[:10], loss=keras.losses.KLDivergence(), seed=1,
                                epochs=2, batch_size=8)
    assert classic.images_per_epoch == 32 and len(classic.history["val_loss"]) == 2
    assert set(classic.history) >= {"loss", "accuracy", "val_loss", "val_accuracy"}
    fast = lab.train_fast(x, y, x[:10], y[:10], seed=1, epochs=2, batch_size=16, widths=(4, 4, 4, 4))
    assert fast.images_per_epoch == 40 and len(fast.test_accuracy) == 2
    again = lab.train_fast(x, y, x[:10], y[:10], seed=1, epochs=2, batch_size=16, widths=(4, 4, 4, 4))
    np.testing.assert_allclose(again.history["loss"], fast.history["loss"], rtol=1e-5)


def test_run_record_names_device_backend_and_versions() -> None:
    record = lab.run_record()
    assert set(record) == {"device", "backend", "keras", "numpy", "python", "machine"}
    assert record["backend"].startswith(keras.backend.backend())
    assert record["keras"] == keras.__version__
    assert record["device"] == "cpu" or record["device"].startswith("gpu: ")


def test_gradient_of_a_quadratic() -> None:
    x = np.array([1.0, -2.0, 3.0])
    np.testing.assert_allclose(lab.gradient(lambda v: ops.sum(v * v), x), 2 * x)


def test_training_path_uses_keras_ops_only() -> None:
    import inspect

    source = inspect.getsource(lab)
    training_path = source.split("def accelerator")[0]
    assert "tensorflow" not in training_path and "tf." not in training_path
    assert "import jax" not in training_path and "import torch" not in training_path
