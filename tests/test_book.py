"""The book builds into a static website with zero warnings.

Warnings are errors (``-W``), cross-references are checked (``-n``) and the build reports every
problem before failing (``--keep-going``), exactly as ``make book`` builds it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def toc_files() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]
    for entry in toc.get("chapters", []):
        files.append(entry["file"])
    return files


def test_book_builds_without_warnings(tmp_path: Path) -> None:
    jb = Path(sys.executable).with_name("jupyter-book")
    cmd = [str(jb), "build", str(ROOT), "--path-output", str(tmp_path),
           "--warningiserror", "--nitpick", "--keep-going"]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    log = result.stdout + result.stderr
    assert result.returncode == 0, f"jupyter-book build failed:\n{log[-6000:]}"
    assert "WARNING" not in log, log[-6000:]
    html = tmp_path / "_build" / "html"
    for page in toc_files():
        assert (html / f"{page}.html").is_file(), f"{page}.html was not built"
