"""The Colab setup cell that opens every chapter: present and current in every chapter, silent
outside Colab, and in a (simulated) Colab it installs the course package and nothing else: the PyPI
release of the book's version, else the repository's git tag, unless KLDIV_SOURCE names another copy."""

from __future__ import annotations

import subprocess
import sys
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


def test_the_cell_installs_the_book_version_from_pypi_or_the_configured_repository() -> None:
    import kldiv

    url = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]
    assert f'"kldiv=={kldiv.__version__}"' in SOURCE
    assert f'"git+{url}@v{kldiv.__version__}"' in SOURCE
    assert "--no-deps" in SOURCE


def test_the_package_reports_the_version_pyproject_gives_the_cell() -> None:
    """The cell pins pyproject.toml's version; kldiv.__version__ is a second copy of it."""
    import kldiv

    assert tool.book_version() == kldiv.__version__


def test_the_cell_reads_easily_in_a_notebook() -> None:
    """Every chapter keeps code lines to 88 characters; the first cell a student meets does too."""
    assert max(len(line) for line in SOURCE.splitlines()) <= 88, SOURCE


def run_cell(monkeypatch, colab: bool, *, fail: tuple[str, ...] = (), source: str | None = None
             ) -> list[list[str]]:
    """Run the cell with subprocess.run recorded instead of run; a pip call whose last argument is
    in `fail` returns exit status 1 (as pip does when PyPI has no such release)."""
    calls: list[list[str]] = []

    def fake_run(args, **kwargs):
        calls.append(list(args))
        status = 1 if args[-1] in fail else 0
        if status and kwargs.get("check"):
            raise subprocess.CalledProcessError(status, args)
        return subprocess.CompletedProcess(args, status)

    monkeypatch.setattr(subprocess, "run", fake_run)
    if source is None:
        monkeypatch.delenv("KLDIV_SOURCE", raising=False)
    else:
        monkeypatch.setenv("KLDIV_SOURCE", source)
    if colab:
        monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    else:
        monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    exec(compile(SOURCE, "<setup cell>", "exec"), {})
    return calls


PIP = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps"]


def release_and_tag() -> tuple[str, str]:
    import kldiv

    url = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]
    return f"kldiv=={kldiv.__version__}", f"git+{url}@v{kldiv.__version__}"


def test_outside_colab_the_cell_does_nothing(monkeypatch) -> None:
    assert run_cell(monkeypatch, colab=False) == []
    assert run_cell(monkeypatch, colab=False, source="/anywhere") == []


def test_in_colab_the_cell_installs_the_pypi_release_without_dependencies(monkeypatch) -> None:
    release, _ = release_and_tag()
    assert run_cell(monkeypatch, colab=True) == [[*PIP, release]]


def test_in_colab_the_cell_falls_back_to_the_git_tag_when_pypi_has_no_release(monkeypatch) -> None:
    release, tag = release_and_tag()
    assert run_cell(monkeypatch, colab=True, fail=(release,)) == [[*PIP, release], [*PIP, tag]]


def test_in_colab_the_cell_stops_with_an_error_when_neither_source_installs(monkeypatch) -> None:
    release, tag = release_and_tag()
    with pytest.raises(subprocess.CalledProcessError):
        run_cell(monkeypatch, colab=True, fail=(release, tag))


def test_in_colab_kldiv_source_overrides_pypi_and_the_git_tag(monkeypatch) -> None:
    assert run_cell(monkeypatch, colab=True, source="/tmp/kldiv-copy") == [[*PIP, "/tmp/kldiv-copy"]]


def run_tool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "tools" / "colab_setup.py"), *args],
                          capture_output=True, text=True, timeout=60)


def test_expect_repository_passes_for_the_configured_repository_and_branch() -> None:
    config = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]
    scheme, address = config["url"].split("://")
    # GitHub's owner and repository names ignore case, as the check does.
    result = run_tool("--expect-repository", f"{scheme}://{address.upper()}", "--expect-branch", config["branch"])
    assert result.returncode == 0, result.stderr


def test_expect_repository_fails_for_another_repository_or_branch_and_says_what_to_do() -> None:
    config = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]
    result = run_tool("--expect-repository", "https://github.com/someone/a-fork")
    assert result.returncode == 1
    assert "'https://github.com/someone/a-fork'" in result.stderr and "--write" in result.stderr
    result = run_tool("--expect-repository", config["url"], "--expect-branch", "not-" + config["branch"])
    assert result.returncode == 1 and "repository.branch" in result.stderr


@pytest.mark.parametrize("args, message", [
    (["--expect-repository", "someone/a-fork"], "--expect-repository must be a URL"),
    (["--expect-branch", "main", "--check", "x.ipynb"], "--expect-branch goes with --expect-repository"),
    (["--check"], "--write and --check need notebooks"),
])
def test_the_tool_rejects_bad_arguments_naming_them(args, message) -> None:
    result = run_tool(*args)
    assert result.returncode == 2 and message in result.stderr


# That the cell, run in an environment with Colab's packages, adds kldiv and changes nothing Colab
# has is tested in tests/test_colab_runtime.py, which builds that environment anyway.
