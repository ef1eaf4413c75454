"""Write (or check) the Colab setup cell that opens every chapter.

    python tools/colab_setup.py --write chapters/*.ipynb    # insert or update the cell
    python tools/colab_setup.py --check chapters/*.ipynb    # exit 1 if a chapter's cell is stale
    python tools/colab_setup.py --expect-repository https://github.com/OWNER/NAME [--expect-branch main]
                                                            # exit 1 if _config.yml names another

In Google Colab the cell installs the course package, ``kldiv``, at the book's version (the version
in ``pyproject.toml``) with ``--no-deps``: Colab already ships TensorFlow, TensorFlow Probability,
Keras, NumPy, SciPy and Matplotlib, and ``kldiv`` needs only NumPy, so nothing Colab has is
reinstalled and the cell takes seconds. It installs the release ``kldiv==<version>`` from PyPI (the
release workflow, ``.github/workflows/release.yml``, publishes it when the tag ``v<version>`` is
pushed) and, if PyPI has no such release, the course repository's git tag ``v<version>``. The
environment variable ``KLDIV_SOURCE`` (any pip requirement or path) overrides both; the tests use it
to install from a local copy. Anywhere else the cell does nothing.

The repository URL comes from ``_config.yml``, the one place that holds the course's identity; after
editing it, run ``--write`` and re-execute the chapters. The publishing workflows run
``--expect-repository`` with the repository they run in, so a fork that has not made that edit
fails before it publishes a site or a release whose links point at someone else's repository.
"""

from __future__ import annotations

import argparse
import sys
import tomllib
from pathlib import Path

import yaml

# nbformat is imported where notebooks are read or written, not here: --expect-repository then needs
# only PyYAML, and the release workflow runs it before it installs the course's environment.

ROOT = Path(__file__).resolve().parents[1]
CELL_ID = "colab-setup"
TAGS = ["remove-cell"]  # the website needs no install step; the notebook a student opens has it

# The first cell of every chapter, so it is written for a student to read (lines of at most 88
# characters, as in every chapter), with one pip call in the common case. The PyPI attempt's output
# is captured because its one expected failure, "no such release", would be noise before the
# fallback; the git attempt shows its errors and stops the cell if it fails.
TEMPLATE = '''\
# Google Colab only: install this course's package, kldiv {version}, from PyPI (or,
# if PyPI has no such release, from the course's repository). Colab already has
# TensorFlow, Keras, NumPy and Matplotlib, and kldiv needs nothing else (--no-deps).
# Elsewhere this cell does nothing.
import sys

if "google.colab" in sys.modules:
    import os
    import subprocess

    pip_install = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps"]
    release = "kldiv=={version}"
    git_tag = "git+{url}@v{version}"
    if os.environ.get("KLDIV_SOURCE"):  # another copy of kldiv, e.g. a local folder
        subprocess.run([*pip_install, os.environ["KLDIV_SOURCE"]], check=True)
    elif subprocess.run([*pip_install, release], capture_output=True).returncode:
        subprocess.run([*pip_install, git_tag], check=True)  # not on PyPI: the git tag'''


def load_config(root: Path = ROOT) -> dict:
    return yaml.safe_load((root / "_config.yml").read_text())


def repository_url(root: Path = ROOT) -> str:
    """The course's repository as ``_config.yml`` names it, without a trailing slash."""
    return load_config(root)["repository"]["url"].rstrip("/")


def book_version(root: Path = ROOT) -> str:
    return tomllib.loads((root / "pyproject.toml").read_text())["project"]["version"]


def setup_source(root: Path = ROOT) -> str:
    return TEMPLATE.format(url=repository_url(root), version=book_version(root))


def repository_mismatches(expected_url: str, expected_branch: str | None = None, root: Path = ROOT) -> list[str]:
    """What in ``_config.yml`` differs from the repository (and branch) a workflow runs in; [] if nothing."""
    config = load_config(root)["repository"]
    problems = []
    if repository_url(root).lower() != expected_url.rstrip("/").lower():  # GitHub's names ignore case
        problems.append(f"repository.url is {repository_url(root)!r}, but this is {expected_url!r}")
    if expected_branch is not None and config.get("branch") != expected_branch:
        problems.append(f"repository.branch is {config.get('branch')!r}, but this is {expected_branch!r}")
    return problems


def first_code_cell(nb):
    return next((cell for cell in nb.cells if cell.cell_type == "code"), None)


def is_current(nb, source: str) -> bool:
    cell = first_code_cell(nb)
    return cell is not None and cell.source == source and cell.metadata.get("tags") == TAGS


def write(path: Path, source: str) -> bool:
    """Insert the cell before the first code cell (or update it there); True if the file changed."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    if is_current(nb, source):
        return False
    cell = first_code_cell(nb)
    if cell is not None and cell.get("id") == CELL_ID:
        cell.source, cell.metadata["tags"] = source, list(TAGS)
    else:
        new = nbformat.v4.new_code_cell(source, metadata={"tags": list(TAGS)})
        new.id = CELL_ID
        index = nb.cells.index(cell) if cell is not None else len(nb.cells)
        nb.cells.insert(index, new)
    nbformat.validate(nb)
    nbformat.write(nb, path)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help="insert or update the cell")
    mode.add_argument("--check", action="store_true", help="fail if a notebook's cell is stale")
    mode.add_argument("--expect-repository", metavar="URL",
                      help="fail unless _config.yml's repository.url is URL")
    parser.add_argument("--expect-branch", metavar="NAME",
                        help="with --expect-repository: fail unless repository.branch is NAME")
    parser.add_argument("notebooks", nargs="*", type=Path)
    args = parser.parse_args(argv)
    if args.expect_repository is not None:
        if args.notebooks:
            parser.error(f"--expect-repository takes no notebooks; got {[str(p) for p in args.notebooks]}")
        if not args.expect_repository.startswith(("https://", "http://")):
            parser.error(f"--expect-repository must be a URL such as https://github.com/OWNER/NAME; "
                         f"got {args.expect_repository!r}")
        problems = repository_mismatches(args.expect_repository, args.expect_branch)
        for problem in problems:
            print(f"_config.yml: {problem}. Set the repository in _config.yml, then run "
                  "`python tools/colab_setup.py --write chapters/*.ipynb` and `make notebooks` "
                  "(README, section Publishing).", file=sys.stderr)
        return 1 if problems else 0
    if args.expect_branch is not None:
        parser.error("--expect-branch goes with --expect-repository")
    if not args.notebooks:
        parser.error("--write and --check need notebooks, e.g. chapters/*.ipynb")
    import nbformat

    source = setup_source()
    if args.write:
        for path in args.notebooks:
            if write(path, source):
                print(f"{path}: setup cell written; re-execute it (make notebooks)")
        return 0
    stale = [str(p) for p in args.notebooks if not is_current(nbformat.read(p, as_version=4), source)]
    for path in stale:
        print(f"{path}: the first code cell is not the current Colab setup cell", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
