"""The book's pages in reading order, read from ``_toc.yml``: the one reader every tool and test uses.

``_toc.yml`` (Jupyter Book's ``jb-book`` format) has a ``root`` page and then either ``chapters`` or
captioned ``parts`` of chapters, each of which may have nested ``sections``. The PDF printer, the
notebook runner, the website tests, the Colab-runtime test and the book test all need the same list.

    >>> pages()[0]
    'chapters/00_introduction'
    >>> all(path.suffix == ".ipynb" for path in notebooks())
    True
"""

from __future__ import annotations

import posixpath
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def pages(root: Path = ROOT) -> list[str]:
    """Every document of ``_toc.yml``, root first, in reading order, without its extension."""
    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    if not isinstance(toc, dict) or "root" not in toc:
        raise ValueError(f"{root / '_toc.yml'} has no 'root:' page (toc={toc!r})")
    found = [posixpath.splitext(toc["root"])[0]]

    def walk(entries: list[dict] | None) -> None:
        for entry in entries or []:
            if "file" in entry:
                found.append(posixpath.splitext(entry["file"])[0])
            walk(entry.get("sections"))
            walk(entry.get("chapters"))
            for part in entry.get("parts") or []:
                walk(part.get("chapters"))

    walk(toc.get("chapters"))
    for part in toc.get("parts") or []:
        walk(part.get("chapters"))
    return found


def notebooks(root: Path = ROOT) -> list[Path]:
    """The pages of ``_toc.yml`` that are notebooks (Markdown pages have nothing to run), in order."""
    return [root / f"{page}.ipynb" for page in pages(root) if (root / f"{page}.ipynb").is_file()]
