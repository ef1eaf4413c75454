"""The book builds into a static website with zero warnings.

Warnings are errors (``-W``), cross-references are checked (``-n``) and the build reports every
problem before failing (``--keep-going``), exactly as ``make book`` builds it. The build itself is
the session fixture ``built_site`` (tests/conftest.py): it runs once, fails on any warning, and the
browser tests in tests/test_website.py open the same HTML.
"""

from __future__ import annotations

from pathlib import Path

import book_toc  # tools/book_toc.py, importable through tests/conftest.py
import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_the_toc_lists_every_chapter_file() -> None:
    on_disk = {f"chapters/{p.stem}" for p in (ROOT / "chapters").glob("*") if p.suffix in {".md", ".ipynb"}}
    assert on_disk == set(book_toc.pages()), "every chapter page is in _toc.yml, and nothing else"


def test_the_toc_reader_follows_parts_chapters_and_sections_in_reading_order(tmp_path: Path) -> None:
    # tools/book_toc.py is the one reader of _toc.yml (PDF, notebook runner, website and Colab tests).
    (tmp_path / "_toc.yml").write_text(
        "format: jb-book\nroot: intro.md\nparts:\n"
        "  - caption: A\n    chapters:\n      - file: a/one\n        sections:\n          - file: a/one_1\n"
        "      - file: a/two.ipynb\n"
        "  - caption: B\n    chapters:\n      - file: b/notes\n", encoding="utf-8")
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "two.ipynb").write_text("{}", encoding="utf-8")
    assert book_toc.pages(tmp_path) == ["intro", "a/one", "a/one_1", "a/two", "b/notes"]
    assert book_toc.notebooks(tmp_path) == [tmp_path / "a" / "two.ipynb"]


def test_the_toc_reader_rejects_a_toc_without_a_root(tmp_path: Path) -> None:
    (tmp_path / "_toc.yml").write_text("format: jb-book\nchapters:\n  - file: a\n", encoding="utf-8")
    with pytest.raises(ValueError, match="has no 'root:' page"):
        book_toc.pages(tmp_path)


def test_book_builds_without_warnings(built_site: Path) -> None:
    for page in book_toc.pages():
        assert (built_site / f"{page}.html").is_file(), f"{page}.html was not built"
