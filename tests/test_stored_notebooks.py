"""Static checks of the notebooks' stored outputs, the reference that nbval compares against.

nbval proves that outputs reproduce; these tests make sure what is stored is worth reproducing:
Restart & Run All order, no errors, no machine-specific noise, and no cell excused from running.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from chapter_stats import ASSERTION, visible_code_lines  # tools/, importable through conftest.py

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "chapters").glob("*.ipynb"))
NATIVE_LOG = re.compile(r"^[IWEF]\d{4} \d\d:\d\d:\d\d|absl::InitializeLog", re.M)
ADDRESS = re.compile(r"\bat 0x[0-9a-fA-F]{6,}")


def code_cells(path: Path) -> list[nbformat.NotebookNode]:
    nb = nbformat.read(path, as_version=4)
    return [c for c in nb.cells if c.cell_type == "code" and c.source.strip()]


def output_text(output: nbformat.NotebookNode) -> str:
    if output.output_type == "stream":
        return output.text
    return "".join(str(v) for k, v in output.get("data", {}).items() if k.startswith("text/"))


def test_there_are_notebooks() -> None:
    assert NOTEBOOKS, "no chapters/*.ipynb found"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_execution_counts_read_one_to_n(path: Path) -> None:
    counts = [c.execution_count for c in code_cells(path)]
    assert counts == list(range(1, len(counts) + 1)), f"Restart & Run All, then save: {counts}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_stored_outputs_are_clean(path: Path) -> None:
    for i, cell in enumerate(code_cells(path), start=1):
        for output in cell.outputs:
            assert output.output_type != "error", f"cell {i} stored an error"
            if output.output_type == "stream":
                assert output.name != "stderr", f"cell {i} stored stderr: {output.text[:300]!r}"
            text = output_text(output)
            assert not NATIVE_LOG.search(text), f"cell {i} stored TensorFlow's native log lines"
            assert not ADDRESS.search(text), f"cell {i} stored a memory address: {text[:200]!r}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_cell_is_excused_from_running(path: Path) -> None:
    # Cells whose output varies are tagged nbval-ignore-output: they still run, only their output is
    # not compared. Skipping a cell (nbval-skip / NBVAL_SKIP) would hide a failure, so it is not used.
    for i, cell in enumerate(code_cells(path), start=1):
        assert "nbval-skip" not in cell.metadata.get("tags", []), f"cell {i} is skipped"
        assert "NBVAL_SKIP" not in cell.source, f"cell {i} is skipped"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_stored_figures_are_2x_pngs(path: Path) -> None:
    # kldiv.notebook.figure_style() selects the inline backend's "retina" format: the PNG has twice
    # the pixels and its output metadata the size to show it at, so figures stay sharp on phones and
    # projectors. A 1x PNG has no width/height metadata (or one equal to its pixel size).
    import base64
    import struct

    for i, cell in enumerate(code_cells(path), start=1):
        for output in cell.outputs:
            if "image/png" not in output.get("data", {}):
                continue
            png = base64.b64decode(output.data["image/png"])
            width, height = struct.unpack(">II", png[16:24])  # the PNG's IHDR chunk
            shown = output.get("metadata", {}).get("image/png", {})
            assert (shown.get("width"), shown.get("height")) == (width // 2, height // 2), (
                f"{path.name} cell {i}: a {width}x{height} PNG shown at "
                f"{shown.get('width')}x{shown.get('height')}, not 2x: call "
                f"kldiv.notebook.figure_style() in the imports cell and re-run the chapter"
            )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_code_lines_fit_88_characters(path: Path) -> None:
    # The website's code blocks show about 88 characters at laptop widths; longer lines scroll
    # sideways. 88 is black's default line length.
    long = [
        f"{path.name} cell {i} line {n} ({len(line)} chars): {line.strip()[:60]}"
        for i, cell in enumerate(code_cells(path), start=1)
        for n, line in enumerate(cell.source.splitlines(), start=1)
        if len(line) > 88
    ]
    assert not long, "\n".join(long)


# --- Checks that don't get in a reader's way (issue 12) ----------------------------------------
# Every number a chapter states is checked in a cell, but the reader should meet about one check
# per idea. Regression checks that pin printed decimals live in cells hidden on the website
# (`remove-cell`) and collapsed in Colab (a `# @title` first line with `cellView: form`); nbval
# still runs them. `python tools/chapter_stats.py` prints the same measures for every chapter.
VISIBLE_ASSERTION_SHARE = 0.15


def _tags(cell: nbformat.NotebookNode) -> list[str]:
    return cell.get("metadata", {}).get("tags", [])


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_visible_code_is_mostly_not_assertions(path: Path) -> None:
    lines = visible_code_lines(path)
    asserts = [line for line in lines if ASSERTION.search(line)]
    share = len(asserts) / max(1, len(lines))
    assert share <= VISIBLE_ASSERTION_SHARE, (
        f"{path.name}: {len(asserts)} of {len(lines)} visible code lines ({share:.0%}) are assertions; "
        f"move regression checks into a '# @title Checks' cell tagged remove-cell")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_hidden_check_cells_are_collapsed_in_colab(path: Path) -> None:
    # A hidden cell on the website should not be a wall of asserts in Colab either: Colab collapses
    # a cell whose first line is `# @title ...` when its metadata says cellView: form.
    bad = [
        f"{path.name} cell {i}: {cell.source.splitlines()[0][:60]!r}"
        for i, cell in enumerate(code_cells(path), start=1)
        if "remove-cell" in _tags(cell) and ASSERTION.search(cell.source)
        and not (cell.source.startswith("# @title") and cell.metadata.get("cellView") == "form")
    ]
    assert not bad, "hidden check cells without '# @title' and cellView: form:\n" + "\n".join(bad)
