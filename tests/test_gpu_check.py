"""The lab's one-shot GPU check (benchmarks/gpu_check.py): refused on a CPU, and rehearsed end to end
on one (tiny image folder, tiny networks, two epochs), writing the results file a GPU run writes.

The tests marked ``backend`` run again on JAX in tests/test_backends.py: the GPU machine runs the
check with JAX, so the rehearsal on JAX is what proves the one-shot command."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
backend = pytest.mark.backend


def make_folder(root: Path, per_class: dict[str, int]) -> Path:
    """A tiny CIFAR-10 image folder of random PNGs (as in test_benchmarks.py)."""
    from PIL import Image

    from kldiv.cifar10 import CLASSES

    rng = np.random.default_rng(0)
    for split, n in per_class.items():
        for cls in CLASSES:
            (root / split / cls).mkdir(parents=True)
            for i in range(n):
                Image.fromarray(rng.integers(0, 256, size=(32, 32, 3), dtype=np.uint8)).save(
                    root / split / cls / f"{i:04d}.png")
    return root


def load_script():
    spec = importlib.util.spec_from_file_location("gpu_check", ROOT / "benchmarks" / "gpu_check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


RECIPES = {"classic_kl", "classic_ce", "fast", "airbench"}
RECIPE_KEYS = {"config", "images_per_epoch", "compile_seconds", "epoch_seconds", "validation_seconds",
               "images_per_second", "train_seconds", "train_seconds_with_compile", "test_accuracy",
               "final_accuracy", "loss", "time_to", "wall_seconds"}


def numbers(value):
    if isinstance(value, dict):
        for v in value.values():
            yield from numbers(v)
    elif isinstance(value, list):
        for v in value:
            yield from numbers(v)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        yield value


@backend
def test_the_gpu_check_refuses_a_cpu(tmp_path, capsys, monkeypatch) -> None:
    from kldiv import lab

    monkeypatch.setattr(lab, "accelerator", lambda: "cpu")
    out = tmp_path / "results.json"
    assert load_script().main(["--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "The GPU check needs a GPU, but Keras'" in err and "--rehearse" in err
    assert not out.exists()


@backend
def test_the_rehearsal_writes_every_figure_of_the_gpu_run(tmp_path, capsys) -> None:
    data = make_folder(tmp_path / "images", per_class={"train": 20, "test": 10})
    out = tmp_path / "check" / "results.json"
    assert load_script().main(["--rehearse", "--data", str(data), "--out", str(out)]) == 0
    results = json.loads(out.read_text())
    assert results["schema"] == "kldiv-gpu-check/1" and results["mode"] == "rehearsal"
    assert results["complete"] and results["skipped"] == []
    assert results["data"]["train"] == 200 and results["data"]["test"] == 100
    record = results["record"]
    assert {"device", "backend", "keras", "compute_capability", "precision", "nvidia_smi"} <= set(record)
    assert set(results["recipes"]) == RECIPES
    for name, recipe in results["recipes"].items():
        assert set(recipe) == RECIPE_KEYS, name
        assert len(recipe["test_accuracy"]) == len(recipe["epoch_seconds"]) == 2
        assert recipe["compile_seconds"] > 0 and recipe["images_per_second"] > 0
        assert set(recipe["time_to"]) == {"0.90", "0.93", "0.94"}
        for times in recipe["time_to"].values():
            assert set(times) == {"with_compile", "without_compile"}
            if times["with_compile"] is not None:
                assert times["with_compile"] >= times["without_compile"]
    assert results["recipes"]["airbench"]["config"] | {"whiten": True, "label_smoothing": 0.2,
                                                       "flip_tta": True} == results["recipes"]["airbench"]["config"]
    assert set(results["speedup_vs_classic"]) == {"fast", "airbench"}
    for ratio in results["speedup_vs_classic"].values():
        assert {"target", "with_compile", "without_compile"} <= set(ratio)
    assert set(results["kl_ce_parity"]) == {"kl_final_accuracy", "ce_final_accuracy",
                                            "final_accuracy_difference",
                                            "max_epoch_accuracy_difference", "max_epoch_loss_difference"}
    assert all(math.isfinite(x) for x in numbers(results))
    summary = out.with_suffix(".md").read_text()
    assert summary.startswith("# Lab GPU check (rehearsal)") and "| airbench |" in summary
    assert "s to 90% (with / without compile)" in summary


def test_finite_numbers_finds_a_nan() -> None:
    script = load_script()
    assert script.finite_numbers({"a": [1.0, None, {"b": 2}]})
    assert not script.finite_numbers({"a": [1.0, {"b": float("nan")}]})


@pytest.mark.parametrize("argv", [["--budget", "x"]])
def test_the_gpu_check_refuses_bad_arguments(argv, capsys) -> None:
    with pytest.raises(SystemExit):
        load_script().main(argv)
    assert "invalid float value" in capsys.readouterr().err
