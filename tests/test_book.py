"""The book builds into a static website with zero warnings.

Warnings are errors (``-W``), cross-references are checked (``-n``) and the build reports every
problem before failing (``--keep-going``), exactly as ``make book`` builds it. The build itself is
the session fixture ``built_site`` (tests/conftest.py): it runs once, fails on any warning, and the
browser tests in tests/test_website.py open the same HTML.
"""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def toc_files() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    # Chapters sit at the top level or, with `parts:` (captioned groups), one level down.
    entries = [*toc.get("chapters", []), *(c for part in toc.get("parts", []) for c in part.get("chapters", []))]
    return [toc["root"], *(entry["file"] for entry in entries)]


def test_the_toc_lists_every_chapter_file() -> None:
    on_disk = {f"chapters/{p.stem}" for p in (ROOT / "chapters").glob("*") if p.suffix in {".md", ".ipynb"}}
    assert on_disk == set(toc_files()), "every chapter page is in _toc.yml, and nothing else"


def test_book_builds_without_warnings(built_site: Path) -> None:
    for page in toc_files():
        assert (built_site / f"{page}.html").is_file(), f"{page}.html was not built"
