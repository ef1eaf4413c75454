"""Facts about the course's pinned Keras that chapter 6 explains, checked against its source.

Chapter 6 (KL divergence and cross-entropy) measures Keras' clipping from its outputs, so that it
runs, and says what it shows, on whatever Keras a reader has (Colab's included; see
tests/test_colab_runtime.py). Its stored outputs and its explanation of *why* Keras behaves so were
made with the Keras pinned in requirements.txt. This file checks that explanation against that
Keras' own code and private details, which the chapter no longer touches: when a new Keras is
pinned and one of these fails, re-read the chapter's section "What Keras' clipping does to the
value" against the new release before updating the check.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

ROOT = Path(__file__).resolve().parents[1]


def pinned(name: str) -> str:
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        match = re.match(rf"{re.escape(name)}==([^\s#]+)", line.strip())
        if match:
            return match.group(1)
    raise AssertionError(f"{name} is not pinned in requirements.txt")


def squeezed_source(function) -> str:
    """The function's source without whitespace, so that reformatting does not matter."""
    return "".join(inspect.getsource(function).split())


def test_the_installed_keras_is_the_pinned_one() -> None:
    # Everything below describes this version; the chapter's stored outputs were made with it.
    assert keras.__version__ == pinned("keras")


def test_the_default_fuzz_factor_is_1e_minus_7() -> None:
    assert keras.config.epsilon() == 1e-7


def test_kl_divergence_clips_target_and_prediction_to_epsilon_and_one() -> None:
    # The chapter's equation eq-6-keras-kl, as Keras writes it.
    source = squeezed_source(keras.losses.kl_divergence)
    assert "y_true=ops.clip(y_true,backend.epsilon(),1)" in source
    assert "y_pred=ops.clip(y_pred,backend.epsilon(),1)" in source
    assert "ops.sum(y_true*ops.log(y_true/y_pred),axis=-1)" in source


def test_tensorflow_cross_entropy_clips_probabilities_but_not_logits() -> None:
    from keras.src.backend.tensorflow import nn

    source = squeezed_source(nn.categorical_crossentropy)
    # from_logits=False: rescaled to sum to one, then clipped to [c, 1 - c] (no gradient there)
    assert "tf.clip_by_value(output,backend.epsilon(),1.0-backend.epsilon())" in source
    # from_logits=True: TensorFlow's fused log-softmax cross-entropy, no clipping
    assert "tf.nn.softmax_cross_entropy_with_logits(" in source


def test_keras_softmax_outputs_carry_their_logits_and_the_cross_entropy_uses_them() -> None:
    # The chapter's "one trap": keras.ops.softmax and the softmax activation attach the logits
    # (private attribute _keras_logits), and CategoricalCrossentropy(from_logits=False) scores
    # from them, so a confidently wrong prediction gets the exact 25 nats instead of 16.1181.
    z = tf.constant([[0.0, 25.0]], dtype=tf.float64)
    assert hasattr(keras.ops.softmax(z), "_keras_logits")
    assert hasattr(keras.activations.softmax(z), "_keras_logits")
    assert not hasattr(tf.nn.softmax(z), "_keras_logits")
    ce = keras.losses.CategoricalCrossentropy(reduction=None, dtype="float64")
    p = np.array([[1.0, 0.0]])
    np.testing.assert_allclose(ce(p, keras.ops.softmax(z)), np.log1p(np.exp(25.0)), rtol=1e-14)
    np.testing.assert_allclose(ce(p, tf.nn.softmax(z)), -np.log(1e-7), rtol=1e-6)
