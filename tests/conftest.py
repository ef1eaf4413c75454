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
# The tools (tools/*.py) import each other as scripts do; tests import them the same way.
sys.path.insert(0, str(BOOK_ROOT / "tools"))


@pytest.fixture(scope="session")
def built_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    prebuilt = os.environ.get("KLDIV_BUILT_SITE", "")
    if prebuilt:
        html = Path(prebuilt).resolve()
        if not (html / "search.html").is_file():
            pytest.fail(f"KLDIV_BUILT_SITE={prebuilt!r} is not a built site (no search.html in it)")
        if not (html / BOOK_PDF).is_file():
            _print_book(html)
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
    html = out / "_build" / "html"
    _print_book(html)
    return html


BOOK_PDF = "kl-divergence-course.pdf"  # the download menu links it (_ext/pdf_download.py)


def _print_book(html: Path) -> None:
    """Print the book into the site as `make book` does, so the site the tests open is complete."""
    cmd = [sys.executable, str(BOOK_ROOT / "tools" / "build_pdf.py"), "--site", str(html),
           "--output", str(html / BOOK_PDF)]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=900, cwd=BOOK_ROOT)
    if result.returncode != 0:
        pytest.fail(f"tools/build_pdf.py failed (exit {result.returncode}):\n{(result.stdout + result.stderr)[-6000:]}")
# ==== The served site and the browser, shared by tests/test_website.py and tests/test_landing.py ====
import functools  # noqa: E402
import http.server  # noqa: E402
import threading  # noqa: E402

CHROMIUM = os.environ.get("KLDIV_CHROMIUM", "/usr/bin/chromium")


# --- The local server ------------------------------------------------------------------------------


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base signature
        pass


@pytest.fixture(scope="session")
def site_url(built_site: Path):  # noqa: ANN201 - a generator fixture
    """The built site served over HTTP on 127.0.0.1 (an ephemeral port), stopped at teardown."""
    handler = functools.partial(_QuietHandler, directory=str(built_site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="site-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


# --- The browser -----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser():  # noqa: ANN201 - a generator fixture
    """One headless Chromium for the session: Debian's, or the one KLDIV_CHROMIUM names."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("Python Playwright is missing: `.venv/bin/python -m pip install -r requirements.txt`"
                    " (it pins playwright)")
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"no Chromium at {CHROMIUM}: install Debian's (`apt-get install -y chromium`, "
                    f"as `make test` does) or point KLDIV_CHROMIUM at a Chromium executable. "
                    f"(`playwright install` is not used: it downloads from a CDN.)")
    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            # Belt and braces under the request routing of each context: anything that escapes it
            # (an IP literal, a prefetch) goes to a proxy that does not exist; localhost bypasses it.
            proxy={"server": "http://127.0.0.1:9", "bypass": "127.0.0.1,localhost"},
            args=["--disable-background-networking", "--disable-component-update",
                  "--no-default-browser-check", "--disable-domain-reliability"],
        )
        try:
            yield b
        finally:
            b.close()


# ==== end of the built-website block ===============================================================
