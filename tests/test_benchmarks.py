"""The lab's benchmark script runs end to end and prints the table the README quotes (on a tiny
image folder, so the figures mean nothing here; the real ones come from a GPU)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def load_script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_folder(root: Path, per_class: dict[str, int]) -> Path:
    import numpy as np
    from PIL import Image

    from kldiv.cifar10 import CLASSES

    rng = np.random.default_rng(0)
    for split, n in per_class.items():
        for cls in CLASSES:
            (root / split / cls).mkdir(parents=True)
            for i in range(n):
                image = rng.integers(0, 256, size=(32, 32, 3), dtype=np.uint8)
                Image.fromarray(image).save(root / split / cls / f"{i:04d}.png")
    return root


def test_cifar10_recipes_prints_the_comparison(tmp_path, capsys) -> None:
    data = make_folder(tmp_path / "images", per_class={"train": 4, "test": 2})
    script = load_script("cifar10_recipes")
    assert script.main(["--data", str(data), "--classic-epochs", "2", "--fast-epochs", "2", "--allow-cpu",
                        "--fast-batch", "20", "--widths", "4", "4", "4", "4"]) == 0
    out = capsys.readouterr().out
    assert "40 training and 20 test images" in out
    assert "images/s" in out and "compile s" in out and "s to classic final" in out and "s to 90 %" in out
    assert "(with / without compile)" in out
    for name in ("classic", "fast"):
        line = next(line for line in out.splitlines() if line.startswith(f"{name} test accuracy by epoch:"))
        assert len(line.split(":")[1].split()) == 2


def test_cifar10_recipes_refuses_a_bad_epoch_count(capsys) -> None:
    script = load_script("cifar10_recipes")
    with pytest.raises(SystemExit):
        script.main(["--classic-epochs", "0"])
    assert "must be a positive integer; got 0" in capsys.readouterr().err


def test_cifar10_recipes_refuses_a_cpu_without_allow_cpu(tmp_path, capsys, monkeypatch) -> None:
    from kldiv import lab

    monkeypatch.setattr(lab, "accelerator", lambda: "cpu")
    assert load_script("cifar10_recipes").main(["--data", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "The GPU benchmark needs a GPU" in err and "--allow-cpu" in err
