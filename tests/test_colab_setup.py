"""The Colab setup cell that opens every chapter: present and current in every chapter, silent
outside Colab, and in a (simulated) Colab it installs the course package and nothing else."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import types
from pathlib import Path

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "chapters").glob("*.ipynb"))


def load_tool():
    import importlib.util

    spec = importlib.util.spec_from_file_location("colab_setup", ROOT / "tools" / "colab_setup.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


tool = load_tool()
SOURCE = tool.setup_source()


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_every_chapter_opens_with_the_current_setup_cell(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    assert tool.is_current(nb, SOURCE), f"run: python tools/colab_setup.py --write {path.relative_to(ROOT)}"
    assert tool.first_code_cell(nb).outputs == [], "the setup cell prints nothing outside Colab"


def test_the_cell_pins_the_configured_repository_at_the_book_version() -> None:
    import kldiv

    url = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]
    assert f'"git+{url}@v{kldiv.__version__}"' in SOURCE
    assert "--no-deps" in SOURCE


def run_cell(monkeypatch, colab: bool) -> list[list[str]]:
    calls: list[list[str]] = []
    monkeypatch.setattr(subprocess, "run", lambda args, **kw: calls.append(list(args)))
    monkeypatch.delenv("KLDIV_SOURCE", raising=False)
    if colab:
        monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    else:
        monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    exec(compile(SOURCE, "<setup cell>", "exec"), {})
    return calls


def test_outside_colab_the_cell_does_nothing(monkeypatch) -> None:
    assert run_cell(monkeypatch, colab=False) == []


def test_in_colab_the_cell_installs_only_kldiv_without_dependencies(monkeypatch) -> None:
    import kldiv

    url = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]
    assert run_cell(monkeypatch, colab=True) == [
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", f"git+{url}@v{kldiv.__version__}"]
    ]


def pip_freeze(python: Path) -> set[str]:
    out = subprocess.run([str(python), "-m", "pip", "list", "--format=json"], check=True,
                         capture_output=True, text=True).stdout
    return {f"{p['name'].lower()}=={p['version']}" for p in json.loads(out)}


def test_in_a_fresh_environment_with_tensorflow_the_cell_adds_only_kldiv(tmp_path: Path) -> None:
    """A stand-in for a Colab runtime: a new virtual environment that already holds TensorFlow
    (and so Keras and NumPy), `google.colab` importable, and the package source taken from this
    checkout (CI cannot reach GitHub; the cell's KLDIV_SOURCE override exists for this)."""
    venv = tmp_path / "colab"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    pins = [line.split("#")[0].strip() for line in (ROOT / "requirements.txt").read_text().splitlines()
            if line.startswith(("tensorflow==", "keras==", "numpy=="))]
    assert len(pins) == 3, pins
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", *pins], check=True, timeout=1200)
    fake = tmp_path / "fake_colab" / "google" / "colab"
    fake.mkdir(parents=True)
    (fake.parent / "__init__.py").write_text("")
    (fake / "__init__.py").write_text("")
    before = pip_freeze(python)

    # A copy of what the repository's tag would hold for the package, so that building it leaves no
    # build/ or egg-info in this checkout.
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    env = {**os.environ, "KLDIV_SOURCE": str(source), "PYTHONPATH": str(tmp_path / "fake_colab")}
    env.pop("PIP_REQUIRE_VIRTUALENV", None)
    runner = "import google.colab, sys; exec(compile(sys.stdin.read(), '<setup cell>', 'exec'))"
    start = time.perf_counter()
    result = subprocess.run([str(python), "-c", runner], input=SOURCE, env=env, capture_output=True,
                            text=True, timeout=600)
    seconds = time.perf_counter() - start
    assert result.returncode == 0, result.stdout + result.stderr

    import kldiv

    assert pip_freeze(python) - before == {f"kldiv=={kldiv.__version__}"}
    assert before - pip_freeze(python) == set(), "something Colab already had was changed"
    assert seconds < 120, f"the setup cell took {seconds:.0f} s"
    check = subprocess.run([str(python), "-c", "import kldiv, kldiv.losses; print(kldiv.__version__)"],
                           env={**env, "PYTHONPATH": ""}, cwd=tmp_path, capture_output=True, text=True)
    assert check.stdout.strip() == kldiv.__version__, check.stderr[-2000:]
