"""_ext/purge_css.py keeps every rule a page or script can use and drops the rest.

The website tests check the result in a browser (weight, axe's contrast rules, screenshots); these
check the selector logic on small stylesheets, where a wrong drop is visible in one line.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("purge_css", ROOT / "_ext" / "purge_css.py")
purge_css = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(purge_css)

USED = {"navbar", "show", "btn", "active"}


def kept(css: str, used: set[str] = USED, prefixes: tuple[str, ...] = ()) -> str:
    return purge_css.purge(css, used, prefixes)


def test_a_rule_for_an_unused_class_goes_and_a_used_one_stays() -> None:
    out = kept(".navbar{color:red}.carousel{color:blue}")
    assert ".navbar{color:red}" in out
    assert "carousel" not in out


def test_a_selector_list_keeps_only_its_matching_selectors() -> None:
    assert kept(".carousel .x,.navbar .btn,h1{margin:0}") == ".navbar .btn,h1{margin:0}"


def test_compound_selectors_need_every_class() -> None:
    assert kept(".btn.show{a:b}") == ".btn.show{a:b}"
    assert kept(".btn.carousel{a:b}") == ""


@pytest.mark.parametrize("selector", [".btn:not(.carousel)", ":is(.carousel, .x) p", "p:has(.unused)",
                                      ":where(.nope)"])
def test_classes_inside_functional_pseudo_classes_are_not_required(selector: str) -> None:
    # :not(.carousel) matches *more* elements when .carousel is unused; dropping it would be wrong.
    assert kept(selector + "{a:b}") == selector + "{a:b}"


def test_element_id_and_attribute_selectors_are_kept() -> None:
    css = 'html{a:b}#main{c:d}[data-theme=dark] a[href$=".pdf"]{e:f}'
    assert kept(css) == 'html{a:b}\n#main{c:d}\n[data-theme=dark] a[href$=".pdf"]{e:f}'


def test_media_blocks_are_purged_inside_and_dropped_when_empty() -> None:
    out = kept("@media (min-width:960px){.navbar{a:b}.carousel{c:d}}@media print{.carousel{e:f}}")
    assert out == "@media (min-width:960px){.navbar{a:b}}"


def test_font_faces_keyframes_and_custom_properties_are_kept_whole() -> None:
    css = "@font-face{font-family:X;src:url(x.woff2)}@keyframes spin{0%{a:b}to{c:d}}:root{--bs-x:1px}"
    out = kept(css)
    assert "@font-face" in out and "@keyframes spin" in out and ":root{--bs-x:1px}" in out


def test_a_class_named_by_a_script_or_built_from_a_prefix_it_names_is_used(tmp_path: Path) -> None:
    page = tmp_path / "index.html"
    page.write_text('<div class="navbar  btn-primary"></div>', encoding="utf-8")
    script = tmp_path / "theme.js"
    script.write_text('el.classList.add("collapsing"); tip.classList.add(`bs-tooltip-${place}`)',
                      encoding="utf-8")
    used, prefixes = purge_css.used_classes([page], [script])
    assert {"navbar", "btn-primary", "collapsing"} <= used
    css = ".collapsing{a:b}.bs-tooltip-top{c:d}.carousel{e:f}"
    assert kept(css, used, prefixes) == ".collapsing{a:b}\n.bs-tooltip-top{c:d}"


def _site(root: Path, classes: str) -> Path:
    (root / "_static" / "styles").mkdir(parents=True, exist_ok=True)
    (root / "index.html").write_text(f'<p class="{classes}">x</p>', encoding="utf-8")
    return root


def test_a_rebuild_purges_the_theme_original_not_the_purged_copy(tmp_path: Path) -> None:
    """Sphinx does not copy a theme's stylesheet again into an existing build; a page that starts
    using a class on a rebuild must still get its rule."""
    site, originals = _site(tmp_path / "html", "navbar"), tmp_path / "originals"
    sheet = site / "_static" / "styles" / "bootstrap.css"
    sheet.write_text(".navbar{a:b}.carousel{c:d}", encoding="utf-8")
    sizes = purge_css.purge_site(site, originals)
    assert "carousel" not in sheet.read_text(encoding="utf-8")
    before, after = sizes["_static/styles/bootstrap.css"]
    assert before == len(".navbar{a:b}.carousel{c:d}") and after == len(sheet.read_bytes())

    _site(site, "navbar carousel")  # a page now uses .carousel; the stylesheet is the purged one
    purge_css.purge_site(site, originals)
    assert ".carousel{c:d}" in sheet.read_text(encoding="utf-8")


def test_only_the_theme_stylesheets_are_rewritten(tmp_path: Path) -> None:
    site = _site(tmp_path / "html", "navbar")
    own = site / "_static" / "custom.css"
    own.write_text(".carousel{c:d}", encoding="utf-8")
    purge_css.purge_site(site, tmp_path / "originals")
    assert own.read_text(encoding="utf-8") == ".carousel{c:d}"
