"""Words, visible code lines and visible assertion lines of the chapters (issue 12's measures).

    python tools/chapter_stats.py [chapters/NN_x.ipynb ...]     (default: every notebook of _toc.yml)

"Visible" means what a reader meets: code cells not tagged ``remove-cell`` (the hidden
``# @title Checks`` cells are left out), without blank and comment-only lines. An assertion line is
one with ``assert``, ``assert_allclose``, ``assert_array…`` or ``np.testing``.
tests/test_stored_notebooks.py holds every chapter to at most 15 % visible assertion lines with the
same definitions.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat

import book_toc  # tools/book_toc.py

ASSERTION = re.compile(r"\bassert\b|assert_allclose|assert_array|np\.testing")


def visible_code_lines(path: Path) -> list[str]:
    nb = nbformat.read(path, as_version=4)
    return [line for cell in nb.cells
            if cell.cell_type == "code" and "remove-cell" not in cell.get("metadata", {}).get("tags", [])
            for line in cell.source.splitlines() if line.strip() and not line.strip().startswith("#")]


def stats(path: Path) -> tuple[int, int, int]:
    nb = nbformat.read(path, as_version=4)
    words = sum(len(cell.source.split()) for cell in nb.cells if cell.cell_type == "markdown")
    lines = visible_code_lines(path)
    return words, len(lines), sum(1 for line in lines if ASSERTION.search(line))


def main(argv: list[str]) -> int:
    paths = [Path(a) for a in argv] or book_toc.notebooks()
    print(f"{'chapter':40s} {'words':>6s} {'code':>5s} {'asserts':>8s}")
    for path in paths:
        words, code, asserts = stats(path)
        print(f"{path.name:40s} {words:6d} {code:5d} {asserts:5d} ({asserts / max(1, code):.0%})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
