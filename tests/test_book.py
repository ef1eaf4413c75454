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
    files = [toc["root"]]
    for entry in toc.get("chapters", []):
        files.append(entry["file"])
    return files


def test_book_builds_without_warnings(built_site: Path) -> None:
    for page in toc_files():
        assert (built_site / f"{page}.html").is_file(), f"{page}.html was not built"
