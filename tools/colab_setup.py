"""Write (or check) the Colab setup cell that opens every chapter.

    python tools/colab_setup.py --write chapters/*.ipynb    # insert or update the cell
    python tools/colab_setup.py --check chapters/*.ipynb    # exit 1 if a chapter's cell is stale

In Google Colab the cell installs the course package, ``kldiv``, from the course's repository at the
tag of the book's version (``v`` + the version in ``pyproject.toml``) with ``--no-deps``: Colab
already ships TensorFlow, TensorFlow Probability, Keras, NumPy, SciPy and Matplotlib, and
``kldiv`` needs only NumPy, so nothing Colab has is reinstalled and the cell takes seconds.
Anywhere else it does nothing. The repository URL comes from ``_config.yml``, the one place that
holds the course's identity; after editing it, run ``--write`` and re-execute the chapters.
"""

from __future__ import annotations

import argparse
import sys
import tomllib
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parents[1]
CELL_ID = "colab-setup"
TAGS = ["remove-cell"]  # the website needs no install step; the notebook a student opens has it

TEMPLATE = '''\
# Google Colab only: install this course's package, kldiv, at the book's version ({version}).
# Colab already has TensorFlow, Keras, NumPy and Matplotlib, and kldiv needs nothing else, so
# nothing more is installed (--no-deps). Elsewhere this cell does nothing: see the README.
import sys

if "google.colab" in sys.modules:
    import os
    import subprocess

    source = os.environ.get("KLDIV_SOURCE", "git+{url}@v{version}")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", source], check=True)'''


def setup_source(root: Path = ROOT) -> str:
    config = yaml.safe_load((root / "_config.yml").read_text())
    url = config["repository"]["url"].rstrip("/")
    version = tomllib.loads((root / "pyproject.toml").read_text())["project"]["version"]
    return TEMPLATE.format(url=url, version=version)


def first_code_cell(nb: nbformat.NotebookNode) -> nbformat.NotebookNode | None:
    return next((cell for cell in nb.cells if cell.cell_type == "code"), None)


def is_current(nb: nbformat.NotebookNode, source: str) -> bool:
    cell = first_code_cell(nb)
    return cell is not None and cell.source == source and cell.metadata.get("tags") == TAGS


def write(path: Path, source: str) -> bool:
    """Insert the cell before the first code cell (or update it there); True if the file changed."""
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help="insert or update the cell")
    mode.add_argument("--check", action="store_true", help="fail if a notebook's cell is stale")
    parser.add_argument("notebooks", nargs="+", type=Path)
    args = parser.parse_args()
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
