"""Tests for the RLHF helpers in kldiv.montecarlo: estimator gradients and the regularised optimum."""

from __future__ import annotations

import numpy as np
import pytest

from kldiv import kl_divergence, kl_estimator_logit_gradients, kl_regularized_policy

RNG_SEED = 20260


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max())
    return e / e.sum()


def _expected(theta, theta_ref, estimator, score_function=False):
    """Exact expectation over y ~ pi_theta, by enumerating the outcomes."""
    pi = _softmax(theta)
    grads = kl_estimator_logit_gradients(
        theta, theta_ref, np.arange(theta.size), estimator=estimator, score_function=score_function
    )
    return pi @ grads


def _numeric_grad(f, theta, h=1e-6):
    out = np.empty_like(theta)
    for j in range(theta.size):
        e = np.zeros_like(theta)
        e[j] = h
        out[j] = (f(theta + e) - f(theta - e)) / (2 * h)
    return out


@pytest.fixture
def pair():
    rng = np.random.default_rng(RNG_SEED)
    return rng.normal(size=6), rng.normal(size=6)


def test_k1_gradient_has_zero_mean_on_policy(pair):
    theta, theta_ref = pair
    np.testing.assert_allclose(_expected(theta, theta_ref, "k1"), 0.0, atol=1e-15)


def test_k2_gradient_has_the_reverse_kl_gradient_as_mean(pair):
    theta, theta_ref = pair
    reverse = _numeric_grad(lambda t: kl_divergence(_softmax(t), _softmax(theta_ref)), theta)
    np.testing.assert_allclose(_expected(theta, theta_ref, "k2"), reverse, atol=1e-8)


def test_k3_gradient_has_the_forward_kl_gradient_as_mean(pair):
    theta, theta_ref = pair
    forward = _numeric_grad(lambda t: kl_divergence(_softmax(theta_ref), _softmax(t)), theta)
    np.testing.assert_allclose(_expected(theta, theta_ref, "k3"), forward, atol=1e-8)
    np.testing.assert_allclose(forward, _softmax(theta) - _softmax(theta_ref), atol=1e-8)


@pytest.mark.parametrize("estimator", ["k1", "k3"])
def test_score_function_gradient_is_unbiased_for_the_reverse_kl(pair, estimator):
    theta, theta_ref = pair
    reverse = _numeric_grad(lambda t: kl_divergence(_softmax(t), _softmax(theta_ref)), theta)
    got = _expected(theta, theta_ref, estimator, score_function=True)
    np.testing.assert_allclose(got, reverse, atol=1e-8)


def test_gradients_have_one_row_per_sample_and_sum_to_zero(pair):
    theta, theta_ref = pair
    samples = np.array([[0, 1, 5], [2, 2, 3]])
    g = kl_estimator_logit_gradients(theta, theta_ref, samples, estimator="k2")
    assert g.shape == (2, 3, 6)
    np.testing.assert_allclose(g.sum(axis=-1), 0.0, atol=1e-12)  # softmax is shift-invariant


def test_regularized_policy_maximises_the_penalised_reward():
    rng = np.random.default_rng(RNG_SEED)
    theta_ref, reward, beta = rng.normal(size=5), rng.normal(size=5), 0.7
    pi_ref = _softmax(theta_ref)
    star = kl_regularized_policy(theta_ref, reward, beta=beta)

    def objective(pi):
        return pi @ reward - beta * kl_divergence(pi, pi_ref)

    assert star.sum() == pytest.approx(1.0)
    best = objective(star)
    np.testing.assert_allclose(best, beta * np.log(pi_ref @ np.exp(reward / beta)), rtol=1e-12)
    for pi in rng.dirichlet(np.ones(5), size=200):
        assert objective(pi) < best


def test_regularized_policy_limits_and_no_overflow():
    theta_ref, reward = np.array([0.0, 1.0, 2.0]), np.array([1.0, 0.0, 0.5])
    np.testing.assert_allclose(kl_regularized_policy(theta_ref, reward, beta=1e9), _softmax(theta_ref))
    np.testing.assert_allclose(kl_regularized_policy(theta_ref, reward, beta=1e-6), [1.0, 0.0, 0.0])


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"estimator": "k4"}, ValueError, "estimator must be one of .*'k4'"),
        ({"estimator": "k1", "score_function": 1}, TypeError, "score_function must be True or False"),
        ({"estimator": "k1", "samples": [0, 3]}, ValueError, r"samples must lie in 0\.\.2.*got 3"),
        ({"estimator": "k1", "samples": [-1]}, ValueError, "got -1"),
        ({"estimator": "k1", "samples": [0.0]}, TypeError, "samples must be integer"),
        ({"estimator": "k1", "logits": [0.0, np.inf, 1.0]}, ValueError, "logits must be finite; got inf at index 1"),
        ({"estimator": "k1", "ref_logits": [0.0, 1.0]}, ValueError, "same length; got 3 and 2"),
        ({"estimator": "k1", "logits": [[0.0, 1.0, 2.0]]}, ValueError, "logits must be a 1-d vector"),
    ],
)
def test_gradient_validation_names_the_argument(kwargs, error, match):
    args = {"logits": [0.0, 1.0, 2.0], "ref_logits": [0.0, 0.0, 0.0], "samples": [0, 1]} | kwargs
    with pytest.raises(error, match=match):
        kl_estimator_logit_gradients(args.pop("logits"), args.pop("ref_logits"), args.pop("samples"), **args)


@pytest.mark.parametrize(
    ("beta", "error", "match"),
    [
        (0.0, ValueError, "beta must be positive and finite; got 0.0"),
        (np.inf, ValueError, "beta must be positive and finite; got inf"),
        (True, TypeError, "beta must be a real number; got True"),
        ("1", TypeError, "beta must be a real number"),
    ],
)
def test_regularized_policy_validates_beta(beta, error, match):
    with pytest.raises(error, match=match):
        kl_regularized_policy([0.0, 1.0], [1.0, 0.0], beta=beta)


def test_regularized_policy_validates_shapes():
    with pytest.raises(ValueError, match="ref_logits and reward must have the same length; got 2 and 3"):
        kl_regularized_policy([0.0, 1.0], [1.0, 0.0, 2.0], beta=1.0)
    with pytest.raises(ValueError, match="reward must be finite; got nan at index 0"):
        kl_regularized_policy([0.0, 1.0], [np.nan, 0.0], beta=1.0)
