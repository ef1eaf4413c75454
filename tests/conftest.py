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
import fcntl  # noqa: E402
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
            try:
                _print_book(html)
            except _BuildFailed as error:
                pytest.fail(str(error))
        return html
    # Under pytest-xdist (`make test` runs two workers) the workers share one build: the first to
    # ask builds it under a lock in the run's common temporary folder, the others wait and reuse it,
    # or fail with the same log if it failed.
    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent
    out, failed = shared / "book", shared / "book-build-failed.txt"
    html = out / "_build" / "html"
    with open(shared / "book.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if failed.is_file():
            pytest.fail(failed.read_text())
        if not (html / BOOK_PDF).is_file():
            try:
                _build_book(out)
            except _BuildFailed as error:
                failed.write_text(str(error))
                pytest.fail(str(error))
    return html


class _BuildFailed(Exception):
    pass


def _build_book(out: Path) -> None:
    jb = Path(sys.executable).with_name("jupyter-book")
    cmd = [str(jb), "build", str(BOOK_ROOT), "--path-output", str(out),
           "--warningiserror", "--nitpick", "--keep-going"]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    log = result.stdout + result.stderr
    if result.returncode != 0:
        raise _BuildFailed(f"jupyter-book build failed (exit {result.returncode}):\n{log[-6000:]}")
    if "WARNING" in log:
        raise _BuildFailed(f"jupyter-book build warned (warnings are errors):\n{log[-6000:]}")
    _print_book(out / "_build" / "html")


BOOK_PDF = "kl-divergence-course.pdf"  # the download menu links it (_ext/pdf_download.py)


def _print_book(html: Path) -> None:
    """Print the book into the site as `make book` does, so the site the tests open is complete."""
    cmd = [sys.executable, str(BOOK_ROOT / "tools" / "build_pdf.py"), "--site", str(html),
           "--output", str(html / BOOK_PDF)]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=900, cwd=BOOK_ROOT)
    if result.returncode != 0:
        raise _BuildFailed(f"tools/build_pdf.py failed (exit {result.returncode}):\n{(result.stdout + result.stderr)[-6000:]}")
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


# ==== Two workers: how `make test` shares the tests out (pytest-xdist) ============================
# `make test` runs `pytest -n 2`: the machines have two cores, and much of the suite waits on a
# browser, a kernel or a subprocess. pytest-xdist hands out *units*; these rules say what one unit is
# and in which order the units go.
# - A unit is a test file, as with `--dist loadscope`: every cell of a notebook must run in one
#   kernel, in order, and a file's module fixtures (the assignment kit, the Colab environment that its
#   tests uninstall and reinstall kldiv in) stay in one worker.
# - The website's tests (the browser pages) are units one by one: they only read the built site,
#   which both workers share (`built_site`).
# - The longest files go first, so that no worker starts a long file when the other is nearly done.
#   The build of the website comes early too: the worker that runs test_book.py builds it while the
#   other runs the Colab environment's chapters.
ONE_TEST_PER_UNIT = {"tests/test_website.py", "tests/test_landing.py", "tests/test_pdf.py"}
LONGEST_FIRST = [
    "tests/test_colab_runtime.py",
    "tests/test_book.py",
    "chapters/10_cifar10_lab.ipynb",
    "tests/test_backends.py",
    "tests/test_assignments.py",
    "chapters/09_kl_directions_in_practice.ipynb",
    "chapters/05_forward_reverse_kl.ipynb",
    "chapters/07_kl_in_deep_learning.ipynb",
    "tests/test_lab.py",
]


def _test_file(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Longest files first (a stable sort: within a file, tests keep their order)."""
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(_test_file(item.nodeid), len(rank)))


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log):  # noqa: ANN001, ANN201 - xdist's hook
    from xdist.scheduler import LoadScopeScheduling

    class Scheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            name = _test_file(nodeid)
            return nodeid if name in ONE_TEST_PER_UNIT else name

    config.option.loadscopereorder = False  # keep the order pytest_collection_modifyitems gave
    return Scheduling(config, log)
