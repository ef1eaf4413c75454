"""Typeset the website's math at build time: pages carry no MathJax JavaScript (issue 10, item 5).

Until now every page with math loaded MathJax 3.2.2 (761 kB of JavaScript) and typeset its TeX in
the reader's browser: 6.4 s for chapter 7's 485 equations on a phone. At the end of the HTML build
this extension runs ``tools/prerender_math.mjs`` in Node.js, which typesets every page in place
with the same MathJax (the npm package ``mathjax-full``, fetched by ``make`` into ``.mathjax/``):
TeX input as the pages configured it, CHTML output and the assistive MathML that screen readers
read. The pages then link one shared stylesheet (``_static/mathjax/mathjax-chtml.css``, the CSS for
the characters the site uses) and the CHTML woff fonts that ``lean_assets`` keeps under
``_static/mathjax``; the MathJax loader and its configuration are removed from them.

A missing Node.js or MathJax, or TeX that MathJax cannot typeset, fails the build with the reason.
Where the MathJax package is: ``$KLDIV_MATHJAX`` (the Makefile sets it), else
``.mathjax/mathjax-full-<version>`` next to this book's ``_config.yml``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from sphinx.errors import ExtensionError
from sphinx.util import logging

logger = logging.getLogger(__name__)

MATHJAX_VERSION = "3.2.2"  # the Makefile's MATHJAX_VERSION
SCRIPT = Path(__file__).resolve().parents[1] / "tools" / "prerender_math.mjs"
STYLESHEET = "_static/mathjax/mathjax-chtml.css"
# The CHTML woff fonts (lean_assets.MATHJAX_FONTS), relative to the stylesheet.
FONT_URL = "output/chtml/fonts/woff-v2"


def mathjax_package(srcdir: Path) -> Path:
    folder = Path(os.environ.get("KLDIV_MATHJAX") or srcdir / ".mathjax" / f"mathjax-full-{MATHJAX_VERSION}")
    manifest = folder / "package.json"
    if not manifest.is_file():
        raise ExtensionError(f"prerender_math: no MathJax at {folder} (KLDIV_MATHJAX): run `make book` or "
                             f"`make {srcdir / '.mathjax' / f'mathjax-full-{MATHJAX_VERSION}' / 'package.json'}`, "
                             f"which fetch the npm package mathjax-full@{MATHJAX_VERSION}")
    found = json.loads(manifest.read_text(encoding="utf-8")).get("version")
    if found != MATHJAX_VERSION:
        raise ExtensionError(f"prerender_math: {folder} holds mathjax-full {found}, not {MATHJAX_VERSION}")
    return folder


def _typeset(app, exc) -> None:  # noqa: ANN001 - Sphinx's (app, exception)
    if exc is not None or app.builder.format != "html":
        return
    node = shutil.which("node")
    if node is None:
        raise ExtensionError("prerender_math: the build typesets the math with Node.js, which is not on PATH: "
                             "install it (Debian: apt-get install nodejs)")
    outdir = Path(app.outdir)
    pages = [str(p) for p in sorted(outdir.rglob("*.html"))
             if not p.relative_to(outdir).as_posix().startswith(("_static/", "_sources/"))]
    run = subprocess.run([node, str(SCRIPT), str(mathjax_package(Path(app.srcdir))), str(outdir),
                          str(outdir / STYLESHEET), FONT_URL, *pages],
                         capture_output=True, text=True, check=False)
    if run.returncode != 0:
        raise ExtensionError(f"prerender_math: {SCRIPT.name} failed ({run.returncode}):\n{run.stderr.strip()}")
    logger.info(run.stdout.strip())


def _local_mathjax_path(app, config) -> None:  # noqa: ANN001
    # sphinx.ext.mathjax still writes a loader <script> into each page with math (its default is a
    # CDN address); tools/prerender_math.mjs removes it with the configuration, and a local name
    # keeps any page it would miss from reaching the network.
    config.mathjax_path = "mathjax/tex-chtml.js"


def setup(app):  # noqa: ANN001, ANN201 - the Sphinx extension entry point
    app.connect("config-inited", _local_mathjax_path)
    # After lean_assets (priority 800), which copies the fonts into _static/mathjax.
    app.connect("build-finished", _typeset, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
