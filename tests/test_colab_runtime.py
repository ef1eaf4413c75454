"""Every chapter runs top to bottom on Google Colab's package versions.

Students run the chapters in Colab, whose packages are not the course's pinned ones
(requirements.txt). This test builds a virtual environment from Colab's versions, kept in one file,
tests/colab_runtime.txt (its header names the source and date; edit it to follow Colab), and runs
every chapter listed in _toc.yml in it, top to bottom, as a student would:

- in a kernel started from that environment's Python, with ``google.colab`` importable and
  imported at start-up (a stand-in package: Colab's own is not on PyPI), so the chapter's first
  code cell, the Colab setup cell, takes its Colab branch;
- with ``kldiv`` NOT preinstalled: the setup cell installs it, whatever that cell says, with its
  KLDIV_SOURCE override pointed at a wheel built from this checkout (the test never reaches the
  course's repository or a package index for kldiv);
- in an empty working folder, as Colab's /content, so a chapter cannot lean on the repository;
- the lab (chapters/10_cifar10_lab.ipynb) in its `smoke` configuration, with the CIFAR-10 copy
  named by KLDIV_CIFAR10, or the generated stand-in that chapters/conftest.py makes without it.

A chapter passes if every cell runs without an error; outputs are not compared (the versions
differ from those the stored outputs were made with). A failure shows the failing cell and the
end of its traceback.

Differences from Colab that remain: Colab runs Python 3.13 and this runs the Python of the course's
environment (3.11, the only one on the test machines), and TensorFlow runs on the CPU.

The environment is built once into .venv-colab/ (about 2 minutes and 2.6 GB) and reused while
tests/colab_runtime.txt and the Python version are unchanged; a stamp file holds their hash.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

import book_toc  # tools/book_toc.py, importable through tests/conftest.py

ROOT = Path(__file__).resolve().parents[1]
REQUIREMENTS = ROOT / "tests" / "colab_runtime.txt"
VENV = ROOT / ".venv-colab"
STAMP = VENV / ".colab_runtime.sha256"
KERNEL_NAME = "kldiv-colab-runtime"
CELL_TIMEOUT_S = 600

# The stand-in for Colab's `google.colab` package. The setup cell only asks whether it has been
# imported (`"google.colab" in sys.modules`), which Colab's kernel does at start-up.
FAKE_GOOGLE_COLAB = '"""Stand-in for Google Colab\'s google.colab (tests/test_colab_runtime.py)."""\n'


CHAPTERS = book_toc.notebooks()


def pins(path: Path = REQUIREMENTS) -> dict[str, str]:
    """name -> version for every `name==version` line (names normalised as PyPI does)."""
    found = {}
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if not line:
            continue
        name, sep, version = line.partition("==")
        if not sep:
            raise ValueError(f"{path.name}: {line!r} is not pinned with == (Colab's exact version)")
        found[re.sub(r"[-_.]+", "-", name).lower()] = version.strip()
    return found


def run(cmd: list[str], timeout: float, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kwargs)
    if result.returncode != 0:
        pytest.fail(f"{' '.join(map(str, cmd))} failed (exit {result.returncode}):\n"
                    f"{(result.stdout + result.stderr)[-4000:]}")
    return result


def pip_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PIP_REQUIRE_VIRTUALENV")}
    return env


@pytest.fixture(scope="session")
def colab_python() -> Path:
    """The Python of the Colab-versions environment, built or reused (see the module docstring)."""
    digest = hashlib.sha256(REQUIREMENTS.read_bytes() + sys.version.encode()).hexdigest()
    python = VENV / "bin" / "python"
    if python.is_file() and STAMP.is_file() and STAMP.read_text().strip() == digest:
        return python
    # A stale or half-built environment is removed; the stamp is written only once it is complete.
    shutil.rmtree(VENV, ignore_errors=True)
    run([sys.executable, "-m", "venv", str(VENV)], timeout=300)
    run([str(python), "-m", "pip", "install", "--quiet", "-r", str(REQUIREMENTS)], timeout=1800,
        env=pip_env())
    purelib = run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                  timeout=60).stdout.strip()
    package = Path(purelib) / "google" / "colab"
    package.mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text(FAKE_GOOGLE_COLAB)
    STAMP.write_text(digest + "\n")
    return python


@pytest.fixture(scope="session")
def kldiv_wheel(colab_python: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wheel of this checkout's kldiv, built from a copy (no build/ or egg-info left here) by
    the Colab environment's pip, with the build backend pyproject.toml asks for."""
    base = tmp_path_factory.mktemp("kldiv-wheel")
    source = base / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "src", source / "src",
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    run([str(colab_python), "-m", "pip", "wheel", "--quiet", "--no-deps",
         "-w", str(base / "dist"), str(source)], timeout=600, env=pip_env())
    (wheel,) = (base / "dist").glob("kldiv-*.whl")
    return wheel


@pytest.fixture(scope="session")
def colab_kernel(colab_python: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Jupyter data folder holding a kernel spec that starts the Colab environment's Python
    with `google.colab` imported, as Colab's kernel does."""
    data = tmp_path_factory.mktemp("jupyter-data")
    spec = data / "kernels" / KERNEL_NAME
    spec.mkdir(parents=True)
    argv = [str(colab_python), "-m", "ipykernel_launcher", "-f", "{connection_file}",
            "--IPKernelApp.exec_lines=import google.colab"]
    (spec / "kernel.json").write_text(json.dumps(
        {"argv": argv, "display_name": "Colab's versions (test)", "language": "python"}))
    return data


@pytest.fixture(scope="session")
def lab_data(tmp_path_factory: pytest.TempPathFactory) -> str:
    """KLDIV_CIFAR10 if it exists, else the stand-in chapters/conftest.py generates."""
    source = os.environ.get("KLDIV_CIFAR10", "")
    if source and os.path.exists(source):
        return source
    spec = importlib.util.spec_from_file_location("chapters_conftest", ROOT / "chapters" / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module._stand_in_cifar10(tmp_path_factory.mktemp("cifar10-stand-in"))


def installed_version(python: Path, name: str) -> str | None:
    code = (f"from importlib import metadata\ntry: print(metadata.version({name!r}))\n"
            "except metadata.PackageNotFoundError: print('')")
    out = run([str(python), "-c", code], timeout=60, env=pip_env(), cwd="/").stdout.strip()
    return out or None


def test_the_toc_lists_every_chapter_notebook() -> None:
    # The parametrised test below runs what _toc.yml lists; a notebook missing from it would
    # silently not be run on Colab's versions.
    assert len(CHAPTERS) >= 8
    assert set(CHAPTERS) == set((ROOT / "chapters").glob("*.ipynb"))


def test_the_environment_has_colabs_versions(colab_python: Path) -> None:
    wanted = pins()
    # The versions the issue quotes for Colab's runtime; a typo in the file must not pass.
    for name in ("tensorflow", "keras", "numpy", "scipy", "matplotlib", "tensorflow-probability",
                 "tf-keras", "pillow", "scikit-learn", "ipykernel"):
        assert name in wanted, f"{name} is not pinned in {REQUIREMENTS.name}"
    out = run([str(colab_python), "-m", "pip", "list", "--format=json"], timeout=120,
              env=pip_env()).stdout
    have = {re.sub(r"[-_.]+", "-", p["name"]).lower(): p["version"] for p in json.loads(out)}
    wrong = {name: (version, have.get(name)) for name, version in wanted.items()
             if have.get(name) != version}
    assert not wrong, f"pinned vs installed: {wrong}"


def cell_failure(nb: nbformat.NotebookNode, chapter: Path, error: Exception) -> str:
    """The failing cell's index, id and source, and the end of its traceback, without colours."""
    failed = [(i, cell) for i, cell in enumerate(nb.cells) if cell.cell_type == "code"
              and any(out.get("output_type") == "error" for out in cell.get("outputs", []))]
    traceback = re.sub(r"\x1b\[[0-9;]*m", "", str(error))
    if not failed:
        return f"{chapter.name}: {type(error).__name__}:\n{traceback[-4000:]}"
    index, cell = failed[-1]
    return (f"{chapter.name}: cell {index} (id {cell.get('id')}) failed on Colab's versions:\n"
            f"{cell.source}\n--- traceback (end) ---\n{traceback[-3000:]}")


def pip_freeze(python: Path) -> set[str]:
    out = run([str(python), "-m", "pip", "list", "--format=json"], timeout=120, env=pip_env()).stdout
    return {f"{re.sub(r'[-_.]+', '-', p['name']).lower()}=={p['version']}" for p in json.loads(out)}


def test_the_setup_cell_adds_kldiv_and_changes_nothing_colab_has(
        colab_python: Path, kldiv_wheel: Path) -> None:
    """The setup cell installs with --no-deps: in Colab's environment it must add kldiv and leave
    every package Colab ships as it was, in seconds."""
    import kldiv

    run([str(colab_python), "-m", "pip", "uninstall", "--quiet", "--yes", "kldiv"], timeout=120,
        env=pip_env())
    before = pip_freeze(colab_python)
    cell = next(c for c in nbformat.read(CHAPTERS[0], as_version=4).cells if c.cell_type == "code")
    runner = "import google.colab, sys; exec(compile(sys.stdin.read(), '<setup cell>', 'exec'))"
    start = time.perf_counter()
    run([str(colab_python), "-c", runner], timeout=600, input=cell.source, cwd="/",
        env={**pip_env(), "KLDIV_SOURCE": str(kldiv_wheel)})
    seconds = time.perf_counter() - start
    after = pip_freeze(colab_python)
    assert after - before == {f"kldiv=={kldiv.__version__}"}
    assert before - after == set(), "the setup cell changed a package Colab already has"
    assert seconds < 120, f"the setup cell took {seconds:.0f} s"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_runs_top_to_bottom_on_colabs_versions(
        chapter: Path, colab_python: Path, colab_kernel: Path, kldiv_wheel: Path, lab_data: str,
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    import kldiv

    # Each chapter starts from a fresh Colab runtime: kldiv is installed only by its setup cell.
    run([str(colab_python), "-m", "pip", "uninstall", "--quiet", "--yes", "kldiv"], timeout=120,
        env=pip_env())
    assert installed_version(colab_python, "kldiv") is None

    nb = nbformat.read(chapter, as_version=4)
    setup = next(cell for cell in nb.cells if cell.cell_type == "code")
    assert '"google.colab" in sys.modules' in setup.source, "the first code cell is not the setup cell"
    assert "KLDIV_SOURCE" in setup.source, "the setup cell lost its KLDIV_SOURCE override"

    for name in ("PYTHONPATH", "VIRTUAL_ENV", "PIP_REQUIRE_VIRTUALENV"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("JUPYTER_PATH", str(colab_kernel))
    monkeypatch.setenv("KLDIV_SOURCE", str(kldiv_wheel))
    monkeypatch.setenv("KLDIV_LAB_CONFIG", "smoke")
    monkeypatch.setenv("KLDIV_CIFAR10", lab_data)
    workdir = tmp_path / "content"  # Colab's working folder; nothing of the repository in it
    workdir.mkdir()
    client = NotebookClient(nb, kernel_name=KERNEL_NAME, timeout=CELL_TIMEOUT_S,
                            resources={"metadata": {"path": str(workdir)}})
    start = time.perf_counter()
    try:
        client.execute()
    except CellExecutionError as error:
        pytest.fail(cell_failure(nb, chapter, error), pytrace=False)
    seconds = time.perf_counter() - start
    print(f"{chapter.name}: ran on Colab's versions in {seconds:.0f} s")

    # The setup cell, not anything else, put this checkout's kldiv into the environment.
    assert installed_version(colab_python, "kldiv") == kldiv.__version__
