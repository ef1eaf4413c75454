"""kldiv.lab: targets, models, augmentation, schedule and distillation loss of the CIFAR-10 lab,
checked against closed forms on the installed Keras backend.

Tests marked ``backend`` exercise Keras computation (ops, gradients, training, warm-up, EMA,
precision): tests/test_backends.py runs them again on JAX (``-m backend``), the GPU's backend. The
others check NumPy arithmetic, argument checks or model structure, the same on every backend. The
training tests share a few tiny runs (the ``fast_runs`` fixture) to keep the file fast.
"""

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
backend = pytest.mark.backend


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


@backend
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


@backend
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


@backend
def test_random_crop_flip_is_the_identity_at_inference() -> None:
    x = rng.normal(size=(2, 8, 8, 3)).astype(np.float32)
    np.testing.assert_array_equal(ops.convert_to_numpy(lab.RandomCropFlip(4)(x, training=False)), x)


def test_random_crop_flip_refuses_bad_padding() -> None:
    with pytest.raises(ValueError, match="padding must be a non-negative integer; got -1"):
        lab.RandomCropFlip(-1)


@backend
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


@backend
@pytest.mark.parametrize("t, alpha", [(1.0, 0.5), (4.0, 0.9), (10.0, 1.0), (2.0, 0.0)])
def test_distillation_loss_is_two_kl_divergences(t, alpha) -> None:
    y, teacher, student = distillation_case()
    loss = lab.DistillationLoss(temperature=t, alpha=alpha, reduction=None)
    value = ops.convert_to_numpy(loss(np.concatenate([y, teacher], 1), student))
    soft = kl_divergence(lab.softmax(teacher, t), lab.softmax(student, t))
    hard = kl_divergence(y, lab.softmax(student))
    np.testing.assert_allclose(value, alpha * t**2 * soft + (1 - alpha) * hard, rtol=2e-4, atol=1e-6)


@backend
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
                  images_per_epoch=100, compile_seconds=20.0)
    assert run.time_to_accuracy(0.7) == 26.0
    assert run.time_to_accuracy(0.7, include_compile=False) == 6.0
    assert run.time_to_accuracy(0.95) is None
    assert run.train_seconds == 7.0
    assert run.images_per_second() == 100.0  # the first epoch (one-off costs) is left out


@backend
def test_train_classic_on_a_tiny_problem() -> None:
    x = rng.integers(0, 256, size=(40, 32, 32, 3)).astype(np.uint8)
    y = (x.mean(axis=(1, 2, 3)) > 127.5).astype(np.int64)  # learnable: bright or dark
    classic = lab.train_classic(x, y, x[:10], y[:10], loss=keras.losses.KLDivergence(), seed=1,
                                epochs=2, batch_size=8)
    assert classic.history["loss"][-1] < classic.history["loss"][0]
    assert len(classic.seconds) == len(classic.test_accuracy) == 2 and all(s > 0 for s in classic.seconds)
    assert classic.images_per_epoch == 32 and len(classic.history["val_loss"]) == 2
    assert set(classic.history) >= {"loss", "accuracy", "val_loss", "val_accuracy"}
    # The validation pass ran inside each epoch and was taken out of its time.
    assert len(classic.validation_seconds) == 2 and all(v > 0 for v in classic.validation_seconds)
    assert classic.compile_seconds > 0
    # The warm-up compiles, then restores every variable (dropout's seed state too).
    cold = lab.train_classic(x, y, x[:10], y[:10], loss=keras.losses.KLDivergence(), seed=1,
                             epochs=2, batch_size=8, warmup=False)
    assert cold.compile_seconds == 0.0
    np.testing.assert_allclose(cold.history["loss"], classic.history["loss"], rtol=1e-5)
    assert cold.test_accuracy == classic.test_accuracy


@backend
def test_a_batch_size_that_does_not_divide_the_data_drops_the_remainder(fast_runs) -> None:
    run = fast_runs["plain"]
    # 40 images in batches of 16: 2 full steps an epoch, never a partial one of 8.
    assert run.images_per_epoch == 32 and run.config["dropped_images"] == 8
    assert int(run.model.optimizer.iterations) == 2 * 2  # the warm-up's steps were rolled back


@backend
def test_the_warm_up_changes_nothing_but_the_clock(fast_runs) -> None:
    # On every backend: on JAX this needs lab._fit's symbolic build (a first fit's shuffle draw).
    warm, cold = fast_runs["plain"], fast_runs["cold"]
    assert warm.compile_seconds > 0 and cold.compile_seconds == 0.0
    np.testing.assert_allclose(cold.history["loss"], warm.history["loss"], rtol=1e-5)
    assert cold.test_accuracy == warm.test_accuracy


def test_label_smoothing_option_trains_against_smoothed_targets(monkeypatch) -> None:
    # What train_fast hands to the training loop (which the runs in fast_runs exercise).
    seen = {}
    monkeypatch.setattr(lab, "_fit", lambda name, model, x, targets, *args, **kwargs:
                        seen.update(x=x, targets=targets, config=kwargs["config"]))
    x = rng.integers(0, 256, size=(20, 32, 32, 3)).astype(np.uint8)
    y = np.arange(20) % 10
    lab.train_fast(x, y, x, y, seed=0, epochs=1, batch_size=8, widths=(4, 4, 4, 4), label_smoothing=0.2)
    # 20 images in batches of 8: the last 4 are dropped, from the images and their targets alike.
    np.testing.assert_array_equal(seen["x"], x[:16])
    np.testing.assert_array_equal(seen["targets"], lab.smoothed_targets(y[:16], 0.2))
    assert seen["config"]["label_smoothing"] == 0.2 and seen["config"]["dropped_images"] == 4
    lab.train_fast(x, y, x, y, seed=0, epochs=1, batch_size=10, widths=(4, 4, 4, 4))
    np.testing.assert_array_equal(seen["targets"], lab.one_hot(y))


@backend
def test_ema_is_evaluated_every_epoch_without_disturbing_training(fast_runs) -> None:
    ema, plain = fast_runs["ema_steps2"], fast_runs["plain"]
    assert ema.config["ema_momentum"] == 0.5
    # The raw weights train exactly as without EMA: the evaluation swapped them back.
    np.testing.assert_allclose(ema.history["loss"], plain.history["loss"], rtol=1e-5)
    # At the end Keras leaves the averages in the model; the last accuracy was measured on them.
    averages = lab._ema_averages(ema.model.optimizer)
    for variable, average in zip(ema.model.trainable_variables, averages):
        np.testing.assert_array_equal(ops.convert_to_numpy(variable), ops.convert_to_numpy(average))
    x_test, y_test = fast_runs["test"]
    final = np.mean(np.argmax(lab.predict_logits(ema.model, x_test), -1) == y_test)
    assert ema.test_accuracy[-1] == final


@backend
def test_steps_per_execution_gives_the_same_training(fast_runs) -> None:
    # The EMA run also ran two steps per execution: its raw weights train as the plain run's.
    run = fast_runs["ema_steps2"]
    assert run.config["steps_per_execution"] == 2 and run.model.steps_per_execution == 2
    np.testing.assert_allclose(run.history["loss"], fast_runs["plain"].history["loss"], rtol=1e-5)


@backend
def test_airbench_options_train_and_are_recorded(fast_runs) -> None:
    run = fast_runs["airbench"]
    assert run.config | {"network": "airbench", "whiten": True, "bn_scale": False, "flip_tta": True,
                         "label_smoothing": 0.2, "ema_momentum": 0.9} == run.config
    assert len(run.test_accuracy) == 2 and np.all(np.isfinite(run.history["loss"]))
    whitening = run.model.get_layer("whitening")
    assert not whitening.trainable and not whitening.trainable_weights


def test_train_fast_refuses_bad_options() -> None:
    x = np.zeros((20, 32, 32, 3), np.uint8)
    y = np.arange(20) % 10
    cases = [({"network": "vgg"}, r"network must be one of \('resnet9', 'airbench'\); got 'vgg'"),
             ({"batch_size": 21}, r"batch_size must be an integer in \[1, 20\]; got 21"),
             ({"steps_per_execution": 0}, "steps_per_execution must be a positive integer; got 0"),
             ({"ema_momentum": 1.0}, r"ema_momentum must be None or in \(0, 1\); got 1.0"),
             ({"label_smoothing": 0.1, "targets": lab.one_hot(y)}, "give targets or label_smoothing"),
             ({"precision": "float16"}, "precision must be one of")]
    for kwargs, match in cases:
        with pytest.raises(ValueError, match=match):
            lab.train_fast(x, y, x, y, seed=0, epochs=1, **{"batch_size": 10, **kwargs})


@backend
def test_run_record_names_device_backend_and_versions() -> None:
    record = lab.run_record()
    assert set(record) == {"device", "backend", "keras", "numpy", "python", "machine"}
    assert record["backend"].startswith(keras.backend.backend())
    assert record["keras"] == keras.__version__
    assert record["device"] == "cpu" or record["device"].startswith("gpu: ")


@backend
def test_gradient_of_a_quadratic() -> None:
    x = np.array([1.0, -2.0, 3.0])
    np.testing.assert_allclose(lab.gradient(lambda v: ops.sum(v * v), x), 2 * x)


def test_training_path_uses_keras_ops_only() -> None:
    import inspect

    source = inspect.getsource(lab)
    training_path = source.split("def accelerator")[0]
    assert "tensorflow" not in training_path and "tf." not in training_path
    assert "import jax" not in training_path and "import torch" not in training_path


# --- Issue 14: correct training, honest timing, airbench's levers ------------------------------


@pytest.fixture(scope="module")
def fast_runs() -> dict:
    """Tiny fast-recipe runs (40 images, batch 16, 2 epochs), shared by the tests below: a run, the
    same run cold (no warm-up), the same run with EMA weights and two steps per execution (neither
    may change how the raw weights train), and airbench's levers (the GPU check's set) together."""
    data = np.random.default_rng(14)
    x = data.integers(0, 256, size=(40, 32, 32, 3)).astype(np.uint8)
    y = np.arange(40) % 10
    x_test, y_test = x[:10], y[:10]

    def fast(**kwargs):
        options = {"seed": 1, "epochs": 2, "batch_size": 16, "widths": (4, 4, 4, 4), **kwargs}
        return lab.train_fast(x, y, x_test, y_test, **options)

    return {
        "test": (x_test, y_test),
        "plain": fast(),
        "cold": fast(warmup=False),
        "ema_steps2": fast(ema_momentum=0.5, steps_per_execution=2),
        "airbench": fast(network="airbench", widths=(4, 8, 8), whiten=True, bn_scale=False,
                         flip_tta=True, label_smoothing=0.2, ema_momentum=0.9),
    }


def one_cycle(peak: float, steps: int) -> np.ndarray:
    schedule = lab.OneCycle(peak, steps)
    return np.array([float(schedule(t)) for t in range(steps)])


@backend
def test_keras_weight_decay_is_decoupled_and_bypasses_momentum() -> None:
    # With a zero gradient, Keras' SGD only decays: w <- w - lr * wd * w, momentum untouched.
    variable = keras.Variable(np.ones(3, np.float32))
    optimizer = keras.optimizers.SGD(0.1, momentum=0.9, nesterov=True, weight_decay=0.01)
    for _ in range(5):
        optimizer.apply_gradients([(np.zeros(3, np.float32), variable)])
    np.testing.assert_allclose(ops.convert_to_numpy(variable), (1 - 0.1 * 0.01) ** 5, rtol=1e-6)


def test_fast_weight_decay_matches_pytorch_coupled_decay_under_momentum() -> None:
    # 12 epochs of 100 steps at peak 0.2 (lab.py's FAST_WEIGHT_DECAY comment). PyTorch's SGD with
    # Nesterov momentum 0.9 and weight_decay 5e-4, on the decay alone (gradient wd * w):
    lrs = one_cycle(0.2, 1200)
    w, buffer = 1.0, 0.0
    for lr in lrs:
        g = 5e-4 * w
        buffer = 0.9 * buffer + g
        w -= lr * (g + 0.9 * buffer)
    keras_shrink = np.prod(1 - lrs * lab.FAST_WEIGHT_DECAY)
    old_shrink = np.prod(1 - lrs * 5e-4)
    assert round(w, 2) == round(float(keras_shrink), 2) == 0.55
    assert round(float(old_shrink), 2) == 0.94  # the old default: ten times too weak in the exponent
    assert lab.FAST_WEIGHT_DECAY == 5e-3


def test_epoch_timer_subtracts_the_validation_pass() -> None:
    ticks = iter([0.0, 5.0, 8.0, 10.0, 10.0, 12.0])  # epoch 0: 10 s with 3 s of validation
    timer = lab.EpochTimer(clock=lambda: next(ticks))
    timer.on_epoch_begin(0)
    timer.on_test_begin()
    timer.on_test_end()
    timer.on_epoch_end(0)
    timer.on_epoch_begin(1)  # epoch 1: no validation
    timer.on_epoch_end(1)
    assert timer.seconds == [7.0, 2.0] and timer.validation_seconds == [3.0, 0.0]


@pytest.mark.parametrize("gpu, capability, policy", [("T4", (7, 5), "float32"),
                                                     ("V100", (7, 0), "float32"),
                                                     ("A100", (8, 0), "mixed_bfloat16"),
                                                     ("L4", (8, 9), "mixed_bfloat16"),
                                                     ("H100", (9, 0), "mixed_bfloat16"),
                                                     ("CPU", None, "float32")])
def test_bfloat16_only_from_compute_capability_8(gpu, capability, policy) -> None:
    assert lab.precision_policy(capability) == policy, gpu


@pytest.mark.parametrize("capability", [(8,), "8.0", (8.0, 0), (True, 0)])
def test_precision_policy_refuses_a_bad_capability(capability) -> None:
    with pytest.raises(ValueError, match="capability must be None or a \\(major, minor\\) pair"):
        lab.precision_policy(capability)


@backend
def test_the_capability_of_this_machine_picks_its_policy(monkeypatch) -> None:
    monkeypatch.setattr(lab, "compute_capability", lambda: (7, 5))  # a mocked T4
    assert lab.precision_policy(lab.compute_capability()) == "float32"
    if lab.accelerator() == "cpu":
        monkeypatch.undo()
        assert lab.compute_capability() is None


def test_gpu_sized_runs_refuse_the_cpu(monkeypatch) -> None:
    monkeypatch.setattr(lab, "accelerator", lambda: "cpu")
    with pytest.raises(RuntimeError, match="The full configuration needs a GPU, but Keras' .* backend "
                                           "sees only the CPU"):
        lab.require_accelerator("The full configuration")
    assert lab.require_accelerator("The full configuration", allow_cpu=True) == "cpu"
    monkeypatch.setattr(lab, "accelerator", lambda: "gpu: NVIDIA H200")
    assert lab.require_accelerator("The full configuration") == "gpu: NVIDIA H200"


@backend
def test_mixed_float16_trains_with_a_loss_scale_optimizer() -> None:
    x = rng.integers(0, 256, size=(16, 32, 32, 3)).astype(np.uint8)
    y = np.arange(16) % 10
    run = lab.train_fast(x, y, x, y, seed=0, epochs=1, batch_size=8, widths=(4, 4, 4, 4),
                         precision="mixed_float16", warmup=False)
    assert isinstance(run.model.optimizer, keras.optimizers.LossScaleOptimizer)
    assert run.config["precision"] == "mixed_float16" and np.isfinite(run.history["loss"]).all()
    assert any("float16" in str(layer.dtype_policy.compute_dtype) for layer in run.model.layers)
    assert run.model.predict(x, verbose=0).dtype == np.float32  # the logits stay float32


def patches(images: np.ndarray) -> np.ndarray:
    z = (images.astype(np.float64) - lab.CIFAR10_MEAN) / lab.CIFAR10_STD
    return np.stack([z[:, i:i + 2, j:j + 2].reshape(len(z), -1)  # row, column, channel
                     for i in range(z.shape[1] - 1) for j in range(z.shape[2] - 1)], 1).reshape(-1, 12)


def test_patch_whitening_kernel_whitens_2x2_patches() -> None:
    # Correlated images (smooth in space and across channels), like real ones.
    base = rng.normal(size=(50, 9, 9, 1)).cumsum(1).cumsum(2)
    images = np.clip(128 + 12 * (base + rng.normal(scale=0.5, size=(50, 9, 9, 3))), 0, 255).astype(np.uint8)
    kernel = lab.patch_whitening_kernel(images, epsilon=1e-6)
    assert kernel.shape == (2, 2, 3, 24) and kernel.dtype == np.float32
    out = patches(images) @ kernel.reshape(12, 24).astype(np.float64)
    np.testing.assert_allclose(out[:, 12:], -out[:, :12])  # the negated copy
    second = out[:, :12].T @ out[:, :12] / len(out)
    np.testing.assert_allclose(second, np.eye(12), atol=1e-3)
    # Without whitening the patch values are strongly correlated.
    raw = patches(images)
    assert np.abs(np.corrcoef(raw.T)[0, 3]) > 0.5


@backend
def test_the_whitening_convolution_is_frozen_and_computes_the_kernel() -> None:
    images = rng.integers(0, 256, size=(4, 32, 32, 3)).astype(np.uint8)
    kernel = lab.patch_whitening_kernel(images)
    model = lab.fast_resnet(widths=(4, 4, 4, 4), whitening=kernel, augment=False)
    layer = model.get_layer("whitening")
    assert not layer.trainable
    assert all(w is not layer.kernel for w in model.trainable_weights)
    head = keras.Model(model.inputs[0], layer.output)
    out = ops.convert_to_numpy(head(images)).reshape(-1, 24)
    np.testing.assert_allclose(out, patches(images) @ kernel.reshape(12, 24), rtol=1e-4, atol=1e-4)


def test_patch_whitening_kernel_refuses_bad_images() -> None:
    with pytest.raises(ValueError, match=r"images must have shape \(n, height, width, 3\); got \(2, 32, 32\)"):
        lab.patch_whitening_kernel(np.zeros((2, 32, 32), np.uint8))


@backend
def test_flip_test_time_augmentation_averages_the_two_views() -> None:
    model = keras.Sequential([keras.Input((4, 5, 3)), keras.layers.Flatten(), keras.layers.Dense(10)])
    x = rng.normal(size=(6, 4, 5, 3)).astype(np.float32)
    plain = lab.predict_logits(model, x)
    flipped = lab.predict_logits(model, x[:, :, ::-1])
    np.testing.assert_allclose(lab.predict_logits(model, x, flip_tta=True), (plain + flipped) / 2,
                               rtol=1e-5, atol=1e-6)
    symmetric = x + x[:, :, ::-1]  # a left-right symmetric image looks the same flipped
    np.testing.assert_allclose(lab.predict_logits(model, symmetric, flip_tta=True),
                               lab.predict_logits(model, symmetric), rtol=1e-5, atol=1e-5)


def multiply_adds(model: keras.Model) -> int:
    """Multiply-adds per image of the convolutions and dense layers."""
    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            _, h, w, c_out = layer.output.shape
            kh, kw, c_in, _ = layer.kernel.shape
            total += h * w * kh * kw * c_in * c_out
        elif isinstance(layer, keras.layers.Dense):
            total += int(np.prod(layer.kernel.shape))
    return total


def test_airbench_net_is_about_a_third_of_the_resnet() -> None:
    resnet, small = multiply_adds(lab.fast_resnet()), multiply_adds(lab.airbench_net())
    assert round(resnet / 1e6) == 379 and round(small / 1e6) == 118  # the figures in the docstring
    assert small < resnet / 3


def test_batch_norm_without_scale_has_no_gamma() -> None:
    for model in (lab.fast_resnet(widths=(4, 4, 4, 4), bn_scale=False), lab.airbench_net(widths=(4, 4, 4))):
        norms = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
        assert norms and all(layer.gamma is None for layer in norms)
    with_scale = lab.fast_resnet(widths=(4, 4, 4, 4))
    assert all(layer.gamma is not None for layer in with_scale.layers
               if isinstance(layer, keras.layers.BatchNormalization))


def test_airbench_net_refuses_bad_widths() -> None:
    with pytest.raises(ValueError, match="widths must be three positive integers; got \\(4, 4, 4, 4\\)"):
        lab.airbench_net(widths=(4, 4, 4, 4))
