"""tools/prerender_math.mjs, the build step that typesets the website's math (issue 10, item 5).

Small pages written here run through the script as the Sphinx hook runs it (_ext/prerender_math.py):
the math becomes CHTML with assistive MathML, the page loses its MathJax scripts and links the one
shared stylesheet, and TeX that MathJax cannot typeset fails the step with the page and the TeX.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("prerender_math", ROOT / "_ext" / "prerender_math.py")
prerender_math = importlib.util.module_from_spec(_spec)  # the extension is a file, not a package
_spec.loader.exec_module(prerender_math)

CONFIG = '<script>window.MathJax = {"options": {"processHtmlClass": "tex2jax_process|mathjax_process|math|output_area"}}</script>'
LOADER = '<script defer="defer" src="../_static/mathjax/tex-chtml.js"></script>'


def _page(body: str) -> str:
    return (f'<!DOCTYPE html>\n<html><head><meta charset="utf-8">{CONFIG}{LOADER}</head>'
            f'<body><section class="tex2jax_ignore mathjax_ignore">{body}</section></body></html>\n')


def _run(site: Path, *pages: Path) -> subprocess.CompletedProcess:
    node = shutil.which("node")
    assert node, "the book build needs Node.js (Debian: apt-get install nodejs)"
    return subprocess.run([node, str(prerender_math.SCRIPT), str(prerender_math.mathjax_package(ROOT)), str(site),
                           str(site / prerender_math.STYLESHEET), prerender_math.FONT_URL, *map(str, pages)],
                          capture_output=True, text=True, check=False)


def test_math_is_typeset_and_the_page_loads_no_mathjax(tmp_path: Path) -> None:
    page = tmp_path / "chapters" / "a.html"
    page.parent.mkdir()
    page.write_text(_page('<p>Inline <span class="math notranslate nohighlight">\\(D_{\\mathrm{KL}}(p \\,\\|\\, q)\\)</span> '
                          'and \\(x\\) outside a math element.</p>'
                          '<div class="math notranslate nohighlight" id="equation-e"><span class="eqno">(1.1)</span>'
                          '\\[\\begin{aligned} a &= b \\\\ c &= d \\end{aligned}\\]</div>'), encoding="utf-8")
    run = _run(tmp_path, page)
    assert run.returncode == 0, run.stderr
    html = page.read_text(encoding="utf-8")
    assert html.count("<mjx-container") == 2, "one equation per math element, none in mathjax_ignore text"
    assert "\\(x\\)" in html, "TeX outside the processHtmlClass elements is left alone, as in the browser"
    assert html.count("<mjx-assistive-mml") == 2 and "<math" in html, "screen readers get MathML"
    assert 'id="equation-e"' in html and "(1.1)" in html, "equation anchors and numbers stay"
    assert "window.MathJax" not in html and "tex-chtml.js" not in html
    assert '<link rel="stylesheet" href="../_static/mathjax/mathjax-chtml.css">' in html
    css = (tmp_path / prerender_math.STYLESHEET).read_text(encoding="utf-8")
    assert "output/chtml/fonts/woff-v2/MathJax_Main-Regular.woff" in css, "fonts from the site's own _static"
    assert "mjx-assistive-mml" in css and 'mjx-container[jax="CHTML"]{font-size: 119.5%' in css


def test_a_page_without_mathjax_is_left_as_it_was(tmp_path: Path) -> None:
    page = tmp_path / "b.html"
    text = '<!DOCTYPE html>\n<html><head></head><body><p>\\(x\\) &amp; no MathJax here</p></body></html>\n'
    page.write_text(text, encoding="utf-8")
    assert _run(tmp_path, page).returncode == 0
    assert page.read_text(encoding="utf-8") == text


@pytest.mark.parametrize("tex", ["\\(\\notamacro{x}\\)", "\\(\\frac{1}{\\)"])
def test_tex_mathjax_cannot_typeset_fails_with_the_page_and_the_tex(tmp_path: Path, tex: str) -> None:
    page = tmp_path / "c.html"
    page.write_text(_page(f'<p><span class="math notranslate nohighlight">{tex}</span></p>'), encoding="utf-8")
    run = _run(tmp_path, page)
    assert run.returncode == 1
    assert "c.html" in run.stderr and tex[2:-2].split("{")[0] in run.stderr, run.stderr
