"""The lab's Keras code runs on a backend other than TensorFlow.

The course's own environment is TensorFlow's, but the lab promises to run wherever Keras 3 runs
(the GPU figures come from JAX or PyTorch). This test builds a fresh virtual environment with JAX
and Keras and no TensorFlow, and runs there, with KERAS_BACKEND=jax, the tests of tests/test_lab.py
and tests/test_gpu_check.py marked ``backend``: those that exercise Keras computation (augmentation,
schedule, distillation loss, gradients, training, warm-up, EMA, precision) and the GPU check's
CPU rehearsal, since the GPU machine runs that check on JAX. The unmarked tests check NumPy
arithmetic, arguments and model structure, which do not depend on the backend. (PyTorch was
checked the same way by hand; its wheel on PyPI brings several GB of CUDA libraries, too much for CI.)

The environment is built once into .venv-jax/ (about 1.5 minutes) and reused while its pins and the
Python version are unchanged; a stamp file holds their hash, as tests/test_colab_runtime.py does.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / ".venv-jax"
STAMP = VENV / ".pins.sha256"
JAX = ("jax==0.10.2", "jaxlib==0.10.2")
# The rest at the versions the course pins, so the two environments differ only in the backend.
FROM_REQUIREMENTS = ("keras", "numpy", "scipy", "pillow", "pytest", "hypothesis")


def pins() -> list[str]:
    lines = [line.split("#")[0].strip() for line in (ROOT / "requirements.txt").read_text().splitlines()]
    found = [line for line in lines if line.split("==")[0] in FROM_REQUIREMENTS]
    assert len(found) == len(FROM_REQUIREMENTS), found
    return found


def jax_python() -> str:
    """The JAX environment's Python, built or reused (see the module docstring)."""
    wanted = [*JAX, *pins()]
    digest = hashlib.sha256("\n".join([*wanted, sys.version]).encode()).hexdigest()
    python = VENV / "bin" / "python"
    if python.is_file() and STAMP.is_file() and STAMP.read_text().strip() == digest:
        return str(python)
    # A stale or half-built environment is removed; the stamp is written only once it is complete.
    shutil.rmtree(VENV, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", *wanted], check=True, timeout=1200)
    STAMP.write_text(digest + "\n")
    return str(python)


# The marker's registration, for a run that reads no configuration file (-c os.devnull).
MARKER = "markers=backend: exercises Keras computation; tests/test_backends.py reruns it on JAX"


def test_lab_code_passes_its_tests_on_jax_without_tensorflow(tmp_path: Path) -> None:
    python = jax_python()
    # kldiv from this checkout's src/, as an editable install would give it.
    env = {**os.environ, "KERAS_BACKEND": "jax", "PYTHONPATH": str(ROOT / "src")}
    probe = subprocess.run([python, "-c", "import importlib.util as u; print(u.find_spec('tensorflow'))"],
                           env=env, capture_output=True, text=True, check=True)
    assert probe.stdout.strip() == "None", "the JAX environment must not hold TensorFlow"
    # XLA's CPU backend compiles without LLVM optimisation: these tiny models spend far more time
    # compiling than running (measured, this whole file: 95 CPU-seconds with it, 157 without).
    flags = " ".join([env.get("XLA_FLAGS", ""), "--xla_backend_optimization_level=0"]).strip()
    result = subprocess.run(
        [python, "-m", "pytest", str(ROOT / "tests" / "test_lab.py"),
         str(ROOT / "tests" / "test_gpu_check.py"),
         "-m", "backend", "-o", MARKER, "--strict-markers", "-q", "-rA", "-p", "no:cacheprovider",
         "--import-mode=importlib", "-c", os.devnull, "--rootdir", str(tmp_path),
         "-W", "ignore::DeprecationWarning"],
        env={**env, "XLA_FLAGS": flags}, cwd=tmp_path, capture_output=True, text=True, timeout=900)
    tail = (result.stdout + result.stderr)[-4000:]
    assert result.returncode == 0, tail
    assert " passed" in tail and "failed" not in tail and "skipped" not in tail, tail
    # The GPU check's rehearsal and the training tests were among those run (-rA lists them).
    passed = {line.split("::")[-1] for line in result.stdout.splitlines() if line.startswith("PASSED ")}
    assert {"test_the_rehearsal_writes_every_figure_of_the_gpu_run",
            "test_the_warm_up_changes_nothing_but_the_clock",
            "test_ema_is_evaluated_every_epoch_without_disturbing_training"} <= passed, tail


# Issue 11: the losses' shape check and Keras' numbers on the JAX backend (checked under jax.jit,
# where shapes are static and values are tracers: the error must come at trace time).
LOSS_CHECK = r"""
import jax, numpy as np, keras
from kldiv.losses import CategoricalCrossentropy, KLDivergence
assert keras.backend.backend() == "jax"
y_true = np.array([[0.5, 0.8, 0.12], [0.7, 0.43, 0.8]])
y_pred = np.array([[0.4, 0.9, 0.12], [0.36, 0.3, 0.4]], np.float32)
assert round(float(KLDivergence()(y_true, y_pred)), 3) == 0.596
assert abs(float(KLDivergence()(y_true, y_pred)) - float(keras.losses.KLDivergence()(y_true, y_pred))) < 1e-6
ce = float(CategoricalCrossentropy()(y_true, y_pred))
assert abs(ce - float(keras.losses.CategoricalCrossentropy()(y_true, y_pred))) < 1e-5
for cls in (KLDivergence, CategoricalCrossentropy):
    fn = jax.jit(lambda t, p: cls()(t, p))
    try:
        fn(np.array([[0.0], [1.0], [2.0]]), np.full((3, 3), 1 / 3, np.float32))
    except ValueError as exc:
        assert "y_true.shape=(3, 1) and y_pred.shape=(3, 3)" in str(exc), exc
    else:
        raise AssertionError(f"{cls.__name__} broadcast a (3, 1) y_true against a (3, 3) y_pred")
print("losses ok on jax")
"""


def test_losses_check_shapes_and_give_keras_numbers_on_jax() -> None:
    python = jax_python()
    env = {**os.environ, "KERAS_BACKEND": "jax", "PYTHONPATH": str(ROOT / "src")}
    result = subprocess.run([python, "-c", LOSS_CHECK], env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    assert "losses ok on jax" in result.stdout
