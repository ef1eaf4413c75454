"""The run-record page says, for every chapter, when and on what its stored outputs were produced,
and it is the page `tools/run_notebooks.py` would write from the notebooks now (never stale)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import nbformat
import book_toc  # tools/book_toc.py, importable through tests/conftest.py
import pytest

ROOT = Path(__file__).resolve().parents[1]


def load_tool():
    spec = importlib.util.spec_from_file_location("run_notebooks", ROOT / "tools" / "run_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


tool = load_tool()
CHAPTERS = book_toc.notebooks()


def test_every_notebook_chapter_in_the_toc_is_recorded() -> None:
    names = {p.name for p in CHAPTERS}
    assert names == {p.name for p in (ROOT / "chapters").glob("*.ipynb")}


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_each_chapter_records_its_run(path: Path) -> None:
    run = nbformat.read(path, as_version=4).metadata.get("kldiv", {}).get("run")
    assert run is not None, f"run: python tools/run_notebooks.py {path.relative_to(ROOT)}"
    assert set(run) == {"date", "seconds", "device", "python", "packages", "settings"}
    assert run["device"].startswith(("CPU: ", "GPU: ")) and run["seconds"] > 0
    assert {"numpy", "kldiv"} <= set(run["packages"])


def test_the_page_matches_the_notebooks() -> None:
    page = (ROOT / "chapters" / "run_record.md").read_text()
    assert page == tool.record_page(), "run tools/run_notebooks.py (make notebooks) to refresh it"
    for path in CHAPTERS:
        assert f"]({path.name})" in page
