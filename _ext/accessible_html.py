"""Accessibility fixes to the HTML the book's extensions write (issue 10, item 4).

tests/test_website.py runs axe-core (WCAG 2.1 A/AA) on every page in light and dark mode; these are
the fixes it needed that cannot be made in CSS (``_static/custom.css`` has the colour fixes). Each
one says which rule failed and why the change is right. The built pages are edited with a real HTML
parser (BeautifulSoup, a Jupyter Book dependency) once the build has finished, because the markup
comes from other packages' Python code (myst-nb, sphinx-exercise, sphinx-proof, docutils):

- the "Show code cell source" toggles of myst-nb (``<summary aria-label="Toggle hidden content">``)
  lose the aria-label, so their name is their visible text. The label named every toggle alike and
  did not contain the visible words (WCAG 2.5.3 Label in Name; axe label-content-name-mismatch).
- an id repeated on a page (sphinx-exercise writes ``exercise-content``/``solution-content`` for
  every exercise, sphinx-proof ``proof``/``proof-content`` for every proof) is made unique by a
  numeric suffix on its second and later uses: a repeated id breaks ``aria-*`` references and
  fragment links (WCAG 4.1.1 in 2.1). The first use keeps the id, so a link to it still works.
- the bibliography (sphinxcontrib-bibtex via docutils) marks its entries ``role="doc-biblioentry"``
  inside ``role="list"``; that role is deprecated in DPUB-ARIA 1.1 (axe aria-deprecated-role), and a
  list must own list items (axe aria-required-children, critical). They become ``role="listitem"``.

Two more fixes live beside this file: ``templates/search-button-field.html`` (the
navbar search button's name) and ``_static/accessible-toggles.js`` (the solution buttons' names).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from bs4 import BeautifulSoup

GENERIC_TOGGLE_LABEL = "Toggle hidden content"


def name_toggles_by_their_text(soup: BeautifulSoup) -> None:
    for summary in soup.find_all("summary", attrs={"aria-label": GENERIC_TOGGLE_LABEL}):
        if summary.get_text(strip=True):  # the visible text becomes the name
            del summary["aria-label"]


def make_ids_unique(soup: BeautifulSoup) -> None:
    counts = Counter(tag["id"] for tag in soup.find_all(id=True))
    taken = set(counts)
    seen: Counter[str] = Counter()
    for tag in soup.find_all(id=True):
        old = tag["id"]
        if counts[old] < 2:
            continue
        seen[old] += 1
        if seen[old] == 1:
            continue
        n = seen[old]
        while f"{old}-{n}" in taken:
            n += 1
        tag["id"] = f"{old}-{n}"
        taken.add(tag["id"])


def bibliography_entries_are_list_items(soup: BeautifulSoup) -> None:
    for entry in soup.find_all(attrs={"role": "doc-biblioentry"}):
        entry["role"] = "listitem"


FIXES = (name_toggles_by_their_text, make_ids_unique, bibliography_entries_are_list_items)


def fix_page(text: str) -> str:
    soup = BeautifulSoup(text, "html.parser")
    for fix in FIXES:
        fix(soup)
    return str(soup)


def _finish(app, exc) -> None:  # noqa: ANN001 - Sphinx's (app, exception)
    if exc is not None or app.builder.format != "html":
        return
    outdir = Path(app.outdir)
    for page in sorted(outdir.rglob("*.html")):
        if page.relative_to(outdir).as_posix().startswith(("_static/", "_sources/")):
            continue
        text = page.read_text(encoding="utf-8")
        fixed = fix_page(text)
        if fixed != text:
            page.write_text(fixed, encoding="utf-8")


def _add_templates(app, config) -> None:  # noqa: ANN001
    # Our component templates take precedence over the theme's (templates_path is searched first).
    config.templates_path = [str(Path(__file__).parent / "templates"), *config.templates_path]


def setup(app):  # noqa: ANN001, ANN201 - the Sphinx extension entry point
    app.connect("config-inited", _add_templates)
    app.connect("build-finished", _finish)
    # _static/accessible-toggles.js needs no add_js_file: Jupyter Book links every script in _static
    # through html_js_files, which Sphinx places after the extensions' scripts (togglebutton.js).
    return {"parallel_read_safe": True, "parallel_write_safe": True}
