"""Tests for kldiv.losses.KLDivergence, the exact Keras 3 KL loss, on the TensorFlow backend.

References: kldiv.kl_divergence evaluated in float64 (itself checked against SciPy and TFP in
test_divergence.py), SciPy's softmax, and Keras' own KLDivergence and CategoricalCrossentropy.
"""

from __future__ import annotations

import ast
import inspect
import math
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import scipy.special

import kldiv
from kldiv import kl_divergence
from kldiv.notebook import quiet_native_logs

with quiet_native_logs():
    import keras
    import tensorflow as tf

    from kldiv import losses
    from kldiv.losses import CategoricalCrossentropy, KLDivergence


def _soft_targets(rng, n, k, dtype=np.float32):
    """Strictly positive soft targets (as from label smoothing or a teacher), rows summing to 1."""
    p = rng.dirichlet(np.full(k, 2.0), size=n).astype(dtype)
    return p / p.sum(axis=1, keepdims=True)


def _per_example(loss_kwargs, y_true, y_pred):
    return KLDivergence(reduction=None, **loss_kwargs)(y_true, y_pred).numpy()


def _reference(p, q):
    """The divergence of the same (float32) rows, accumulated in float64."""
    return kl_divergence(np.asarray(p), np.asarray(q))


def test_importing_kldiv_does_not_import_keras_or_tensorflow():
    code = "import kldiv, sys; assert 'keras' not in sys.modules and 'tensorflow' not in sys.modules, sorted(sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_package_attribute_is_the_loss_class_imported_lazily():
    assert kldiv.KLDivergenceLoss is KLDivergence
    with pytest.raises(AttributeError, match=re.escape("module 'kldiv' has no attribute 'KLDivergenceLos'")):
        kldiv.KLDivergenceLos  # noqa: B018


def test_loss_runs_on_the_tensorflow_backend():
    assert keras.backend.backend() == "tensorflow"
    assert isinstance(KLDivergence()([[0.5, 0.5]], [[0.25, 0.75]]), tf.Tensor)


def test_loss_uses_only_backend_agnostic_keras_ops():
    # JAX and PyTorch are not installed in this environment, and Keras' NumPy backend imports JAX,
    # so the loss cannot be run on another backend here. Instead check the property that makes it
    # portable: the module imports no array library but Keras, and every call in call() is a
    # keras.ops function.
    tree = ast.parse(inspect.getsource(losses))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module.split(".")[0])
    assert imported <= {"__future__", "typing", "keras"}, imported

    for cls in (KLDivergence, CategoricalCrossentropy):
        call = ast.parse(textwrap.dedent(inspect.getsource(cls.call)))
        called = [node.func for node in ast.walk(call) if isinstance(node, ast.Call)]
        assert called, "call() makes no calls?"
        for func in called:
            # The one exception: the shape check, which reads static shapes and calls no array op.
            if isinstance(func, ast.Name) and func.id == "_check_shapes":
                continue
            assert isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name), ast.dump(func)
            assert func.value.id == "ops", f"{func.value.id}.{func.attr} is not a keras.ops function"
            assert hasattr(keras.ops, func.attr), func.attr
    check = ast.parse(inspect.getsource(losses._check_shapes))
    assert not [n for n in ast.walk(check) if isinstance(n, ast.Attribute) and getattr(n.value, "id", "") == "ops"]


# --------------------------------------------------------------------------------------------------
# Values
# --------------------------------------------------------------------------------------------------


def test_per_example_values_equal_kl_divergence_for_soft_targets():
    rng = np.random.default_rng(51)
    p, q = _soft_targets(rng, 64, 10), _soft_targets(rng, 64, 10)
    values = _per_example({}, p, q)
    assert values.dtype == np.float32 and values.shape == (64,)
    np.testing.assert_allclose(values, _reference(p, q), rtol=1e-5, atol=1e-6)


def test_default_reduction_is_the_mean_over_the_batch():
    rng = np.random.default_rng(52)
    p, q = _soft_targets(rng, 16, 5), _soft_targets(rng, 16, 5)
    assert float(KLDivergence()(p, q)) == pytest.approx(_reference(p, q).mean(), rel=1e-5)
    assert float(KLDivergence(reduction="sum")(p, q)) == pytest.approx(_reference(p, q).sum(), rel=1e-5)


def test_float64_loss_agrees_with_kl_divergence_to_double_precision():
    rng = np.random.default_rng(53)
    p, q = _soft_targets(rng, 8, 6, np.float64), _soft_targets(rng, 8, 6, np.float64)
    values = _per_example({"dtype": "float64"}, p, q)
    assert values.dtype == np.float64
    np.testing.assert_allclose(values, kl_divergence(p, q), rtol=1e-12)


def test_tiny_predicted_probability_is_exact_where_keras_clips_it():
    # Keras clips y_pred to [1e-7, 1]: a prediction of 1e-9 counts as 1e-7, 2.3 nats too little.
    p, q = np.array([[0.5, 0.5]], np.float32), np.array([[1e-9, 1 - 1e-9]], np.float32)
    exact = _reference(p, q)[0]  # 1/2 ln(0.5 / 1e-9) + 1/2 ln 0.5 = 9.6685
    assert exact == pytest.approx(0.5 * math.log(0.5 / 1e-9) + 0.5 * math.log(0.5), rel=1e-7)
    ours, theirs = float(KLDivergence()(p, q)), float(keras.losses.KLDivergence()(p, q))
    assert ours == pytest.approx(exact, rel=1e-4)
    assert abs(theirs - exact) > 1e-3


def test_tiny_target_probabilities_are_exact_where_keras_clips_them():
    # 999 classes with target 1e-9 (clipped by Keras to 1e-7) against a uniform prediction: each
    # contributes p ln(p / q) ~ -1.4e-8 exactly, but ~ -9.2e-7 in Keras: 9.2e-4 in total.
    k = 1000
    p = np.full((1, k), 1e-9, np.float32)
    p[0, 0] = 1 - (k - 1) * 1e-9
    q = np.full((1, k), 1 / k, np.float32)
    exact = _reference(p, q)[0]
    ours, theirs = float(KLDivergence()(p, q)), float(keras.losses.KLDivergence()(p, q))
    assert ours == pytest.approx(exact, rel=1e-4)
    assert abs(theirs - exact) > 5e-4


def test_from_logits_equals_loss_on_softmax_probabilities():
    rng = np.random.default_rng(54)
    p = _soft_targets(rng, 32, 7)
    z = (4 * rng.normal(size=(32, 7))).astype(np.float32)
    from_logits = _per_example({"from_logits": True}, p, z)
    np.testing.assert_allclose(from_logits, _reference(p, scipy.special.softmax(z.astype(np.float64), axis=1)), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(from_logits, _per_example({}, p, tf.nn.softmax(z)), rtol=1e-4, atol=1e-6)


def test_zero_prediction_where_target_is_positive_gives_infinity():
    values = _per_example({}, [[0.5, 0.5], [0.5, 0.5]], [[1.0, 0.0], [0.5, 0.5]])
    assert values[0] == np.inf and values[1] == 0.0
    assert _per_example({"from_logits": True}, [[0.5, 0.5]], [[0.0, -np.inf]])[0] == np.inf


def test_loss_on_nearly_identical_float32_rows_is_closer_to_the_definition_than_float32_keras():
    # Keras' definition sum p log(p / q) of these float32 rows (exact in float64) can be slightly
    # negative: they sum to one only to float32 rounding. The loss keeps its digits (non-negative
    # terms plus a sum of exact differences); the definition evaluated in float32 does not.
    rng = np.random.default_rng(55)
    p = _soft_targets(rng, 500, 20)
    q = (p * (1 + 1e-4 * rng.standard_normal(p.shape))).astype(np.float32)
    q /= q.sum(axis=1, keepdims=True)
    p64, q64 = p.astype(np.float64), q.astype(np.float64)
    definition = np.sum(p64 * np.log(p64 / q64), axis=1)  # float64: error ~1e-16 absolute
    values = _per_example({}, p, q)
    ours = np.abs(values - definition).max()
    naive = np.sum(p * (np.log(p) - np.log(q)), axis=1, dtype=np.float32)
    assert ours < 2e-8 and np.abs(naive - definition).max() > 5 * ours
    # As documented: never below zero by more than the difference of the rows' sums.
    gap = np.abs(p64.sum(axis=1) - q64.sum(axis=1))
    assert (values >= -gap - 1e-9).all()


# --------------------------------------------------------------------------------------------------
# Gradients
# --------------------------------------------------------------------------------------------------


def test_gradient_with_respect_to_logits_is_softmax_minus_target():
    rng = np.random.default_rng(56)
    p = _soft_targets(rng, 8, 5)
    z = tf.Variable((2 * rng.normal(size=(8, 5))).astype(np.float32))
    with tf.GradientTape(persistent=True) as tape:
        ours = KLDivergence(from_logits=True, reduction="sum")(p, z)
        cce = keras.losses.CategoricalCrossentropy(from_logits=True, reduction="sum")(p, z)
    grad = tape.gradient(ours, z).numpy()
    expected = scipy.special.softmax(z.numpy().astype(np.float64), axis=1) - p
    np.testing.assert_allclose(grad, expected, atol=1e-6)
    # Cross-entropy differs from KL by H(p), which does not depend on the logits.
    np.testing.assert_allclose(grad, tape.gradient(cce, z).numpy(), atol=1e-6)


def test_zero_targets_give_finite_gradients():
    targets = np.array([[1.0, 0.0, 0.0], [0.0, 0.7, 0.3]], np.float32)
    z = tf.Variable([[2.0, -1.0, 0.5], [30.0, -30.0, 0.0]])
    with tf.GradientTape() as tape:
        loss = KLDivergence(from_logits=True)(targets, z)
    assert np.isfinite(float(loss))
    assert np.isfinite(tape.gradient(loss, z).numpy()).all()
    q = tf.Variable([[0.7, 0.2, 0.1], [0.1, 0.6, 0.3]])
    with tf.GradientTape() as tape:
        loss = KLDivergence()(targets, q)
    assert np.isfinite(tape.gradient(loss, q).numpy()).all()


# --------------------------------------------------------------------------------------------------
# Configuration and serialisation
# --------------------------------------------------------------------------------------------------


def test_config_round_trip_keeps_from_logits_reduction_and_name():
    loss = KLDivergence(from_logits=True, reduction="sum", name="kl")
    config = loss.get_config()
    assert config["from_logits"] is True
    clone = KLDivergence.from_config(config)
    assert (clone.from_logits, clone.reduction, clone.name) == (True, "sum", "kl")
    assert clone.get_config() == config


def test_serialisation_round_trip_through_keras_registry():
    assert keras.saving.get_registered_name(KLDivergence) == "kldiv>KLDivergence"
    loss = KLDivergence(from_logits=True)
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(loss))
    assert type(restored) is KLDivergence and restored.from_logits is True
    restored = keras.losses.deserialize(keras.losses.serialize(KLDivergence(reduction=None)))
    assert type(restored) is KLDivergence and restored.from_logits is False and restored.reduction is None
    p, z = [[0.2, 0.8]], [[1.0, -1.0]]
    assert restored(p, tf.nn.softmax(z)).numpy()[0] == pytest.approx(float(loss(p, z)), rel=1e-6)


def test_compiled_model_saves_and_loads_with_the_loss(tmp_path):
    model = keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(2)])
    model.compile(optimizer="sgd", loss=KLDivergence(from_logits=True))
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded.loss) is KLDivergence and loaded.loss.from_logits is True


@pytest.mark.parametrize("from_logits", [1, 0, "True", None, np.bool_(True)])
def test_from_logits_must_be_a_bool(from_logits):
    with pytest.raises(TypeError, match=re.escape(f"from_logits must be True or False; got {from_logits!r}")):
        KLDivergence(from_logits=from_logits)



# --------------------------------------------------------------------------------------------------
# Keras' numbers (issue 11): the same call gives the same value wherever Keras does not clip
# --------------------------------------------------------------------------------------------------

# Keras' own test data (keras/losses/losses_test.py, KLDivergenceTest): rows that do not sum to one.
KERAS_Y_TRUE = np.array([[0.5, 0.8, 0.12], [0.7, 0.43, 0.8]])
KERAS_Y_PRED = np.array([[0.4, 0.9, 0.12], [0.36, 0.3, 0.4]], np.float32)


@pytest.mark.parametrize(
    "reshape, sample_weight, expected",
    [
        (None, None, 0.596),  # test_unweighted
        (None, 2.3, 1.371),  # test_scalar_weighted
        (None, np.array([[1.2], [3.4]]), 2.008),  # test_sample_weighted
        ((2, 3, 1), np.array([[3, 6, 5], [0, 4, 2]]), 0.250),  # test_timestep_weighted
    ],
)
def test_unnormalised_rows_give_keras_numbers_on_keras_test_data(reshape, sample_weight, expected):
    # Before issue 11 the loss added sum(q) - sum(p) per row: 0.161 / 0.370 / 0.529 / 0.080.
    y_true, y_pred = KERAS_Y_TRUE, KERAS_Y_PRED
    if reshape:
        y_true, y_pred = y_true.reshape(reshape), y_pred.reshape(reshape)
    ours = float(KLDivergence()(y_true, y_pred, sample_weight=sample_weight))
    theirs = float(keras.losses.KLDivergence()(y_true, y_pred, sample_weight=sample_weight))
    assert round(ours, 3) == expected
    assert ours == pytest.approx(theirs, rel=1e-6)


@pytest.mark.parametrize("reduction", ["sum_over_batch_size", "sum", None])
def test_kl_loss_equals_keras_on_random_unclipped_unnormalised_rows(reduction):
    rng = np.random.default_rng(57)
    y_true = rng.uniform(1e-6, 1.0, size=(64, 7)).astype(np.float32)
    y_pred = rng.uniform(1e-6, 1.0, size=(64, 7)).astype(np.float32)
    weights = rng.uniform(0, 2, size=(64,)).astype(np.float32)
    ours = KLDivergence(reduction=reduction)(y_true, y_pred, sample_weight=weights)
    theirs = keras.losses.KLDivergence(reduction=reduction)(y_true, y_pred, sample_weight=weights)
    np.testing.assert_allclose(np.asarray(ours), np.asarray(theirs), rtol=2e-5, atol=2e-6)


@pytest.mark.parametrize("from_logits", [False, True])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.1])
def test_cross_entropy_loss_equals_keras_on_random_unclipped_rows(from_logits, label_smoothing):
    rng = np.random.default_rng(58)
    y_true = rng.uniform(0.0, 1.0, size=(64, 6)).astype(np.float32)  # not normalised either
    y_pred = (rng.normal(size=(64, 6)) if from_logits else rng.uniform(0.05, 1.0, size=(64, 6))).astype(np.float32)
    kwargs = {"from_logits": from_logits, "label_smoothing": label_smoothing, "reduction": None}
    ours = CategoricalCrossentropy(**kwargs)(y_true, y_pred).numpy()
    theirs = keras.losses.CategoricalCrossentropy(**kwargs)(y_true, y_pred).numpy()
    np.testing.assert_allclose(ours, theirs, rtol=2e-5, atol=2e-6)


def test_cross_entropy_minus_kl_is_the_entropy_of_the_target():
    rng = np.random.default_rng(59)
    p, z = _soft_targets(rng, 16, 5, np.float64), rng.normal(size=(16, 5))
    ce = CategoricalCrossentropy(from_logits=True, reduction=None, dtype="float64")(p, z).numpy()
    kl = _per_example({"from_logits": True, "dtype": "float64"}, p, z)
    np.testing.assert_allclose(ce - kl, kldiv.entropy(p), rtol=1e-12)


def test_cross_entropy_is_infinite_where_keras_clips_a_zero_prediction():
    ours = CategoricalCrossentropy(reduction=None)([[0.5, 0.5], [1.0, 0.0]], [[1.0, 0.0], [1.0, 0.0]]).numpy()
    assert ours[0] == np.inf and ours[1] == 0.0
    assert np.isfinite(keras.losses.CategoricalCrossentropy(reduction=None)([[0.5, 0.5]], [[1.0, 0.0]]).numpy()).all()


@pytest.mark.parametrize("loss_class", [KLDivergence, CategoricalCrossentropy])
@pytest.mark.parametrize("from_logits", [False, True])
def test_class_indices_instead_of_one_hot_raise_naming_both_shapes(loss_class, from_logits):
    # Issue 11: y_true = [[0], [1], [2]] broadcast against a (3, 3) y_pred and gave 5.265.
    y_true, y_pred = np.array([[0.0], [1.0], [2.0]]), np.full((3, 3), 1 / 3, np.float32)
    message = re.escape("got y_true.shape=(3, 1) and y_pred.shape=(3, 3)")
    with pytest.raises(ValueError, match=message):
        loss_class(from_logits=from_logits)(y_true, y_pred)


@pytest.mark.parametrize("loss_class", [KLDivergence, CategoricalCrossentropy])
def test_shape_mismatch_raises_when_the_loss_is_traced_not_when_it_runs(loss_class):
    # tf.function traces with symbolic tensors: the check must use the static shapes.
    fn = tf.function(lambda t, p: loss_class(reduction=None)(t, p))
    with pytest.raises(ValueError, match=re.escape("y_true.shape=(None, 1) and y_pred.shape=(None, 3)")):
        fn.get_concrete_function(tf.TensorSpec((None, 1)), tf.TensorSpec((None, 3)))
    with pytest.raises(ValueError, match=re.escape("y_true.shape=(3,) and y_pred.shape=(1, 3)")):
        loss_class()(np.full(3, 1 / 3), np.full((1, 3), 1 / 3))
    # A batch axis unknown at trace time is fine.
    fn.get_concrete_function(tf.TensorSpec((None, 3)), tf.TensorSpec((None, 3)))


def test_cross_entropy_config_round_trip_and_registry():
    loss = CategoricalCrossentropy(from_logits=True, label_smoothing=0.1, reduction="sum", name="ce")
    clone = CategoricalCrossentropy.from_config(loss.get_config())
    assert (clone.from_logits, clone.label_smoothing, clone.reduction, clone.name) == (True, 0.1, "sum", "ce")
    assert keras.saving.get_registered_name(CategoricalCrossentropy) == "kldiv>CategoricalCrossentropy"


@pytest.mark.parametrize("label_smoothing", [-0.1, 1.5, "0.1", True, None])
def test_label_smoothing_outside_zero_one_is_rejected(label_smoothing):
    with pytest.raises(ValueError, match=re.escape(f"label_smoothing must be a number in [0, 1]; got {label_smoothing!r}")):
        CategoricalCrossentropy(label_smoothing=label_smoothing)
