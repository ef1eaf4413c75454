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
    from kldiv.losses import KLDivergence


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

    call = ast.parse(textwrap.dedent(inspect.getsource(KLDivergence.call)))
    called = [node.func for node in ast.walk(call) if isinstance(node, ast.Call)]
    assert called, "call() makes no calls?"
    for func in called:
        assert isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name), ast.dump(func)
        assert func.value.id == "ops", f"{func.value.id}.{func.attr} is not a keras.ops function"
        assert hasattr(keras.ops, func.attr), func.attr


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


def test_loss_is_never_negative_for_nearly_identical_float32_distributions():
    rng = np.random.default_rng(55)
    p = _soft_targets(rng, 500, 20)
    q = (p * (1 + 1e-4 * rng.standard_normal(p.shape))).astype(np.float32)
    q /= q.sum(axis=1, keepdims=True)
    values = _per_example({}, p, q)
    assert (values >= 0).all()
    np.testing.assert_allclose(values, _reference(p, q), rtol=1e-2, atol=1e-9)
    # The definition evaluated in float32 goes negative for some of these rows.
    naive = np.sum(p * (np.log(p) - np.log(q)), axis=1, dtype=np.float32)
    assert (naive < 0).any()


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
