"""Shared test configuration.

Hypothesis runs derandomised (its seed is fixed), so every run, on every machine, checks the same
examples and a failure can be replayed; no deadline, because the first call of a NumPy or
TensorFlow function can be slow on a busy two-core CI machine. Another profile can be chosen with
``HYPOTHESIS_PROFILE=<name>``, e.g. Hypothesis' own ``default`` for a randomised exploratory run.
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("kldiv", derandomize=True, deadline=None, database=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "kldiv"))


# ==== The built website, shared by tests/test_book.py and tests/test_website.py ====================
# Appended block: the book is built once per test session, with warnings as errors, and every test
# that needs the HTML asks for `built_site` (the `_build/html` folder). A failed or warning build
# fails every such test with the end of the build log. For quick local iterations on the website
# tests only, KLDIV_BUILT_SITE=<an existing _build/html folder> skips the build (never set in CI).
import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

BOOK_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def built_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    prebuilt = os.environ.get("KLDIV_BUILT_SITE", "")
    if prebuilt:
        html = Path(prebuilt).resolve()
        if not (html / "search.html").is_file():
            pytest.fail(f"KLDIV_BUILT_SITE={prebuilt!r} is not a built site (no search.html in it)")
        return html
    out = tmp_path_factory.mktemp("book")
    jb = Path(sys.executable).with_name("jupyter-book")
    cmd = [str(jb), "build", str(BOOK_ROOT), "--path-output", str(out),
           "--warningiserror", "--nitpick", "--keep-going"]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    log = result.stdout + result.stderr
    if result.returncode != 0:
        pytest.fail(f"jupyter-book build failed (exit {result.returncode}):\n{log[-6000:]}")
    if "WARNING" in log:
        pytest.fail(f"jupyter-book build warned (warnings are errors):\n{log[-6000:]}")
    return out / "_build" / "html"
# ==== end of the built-website block ===============================================================
