"""The landing page and the book-wide details of issue 10, item 6, checked on the built site.

- the hero figure is the one ``tools/hero_figure.py`` computes with ``kldiv`` (regenerated and
  compared), its fits are chapter 5's, and it has alt text that says what it shows;
- the landing page lists every chapter of _toc.yml's "Chapters" part with a blurb, a time computed
  from the notebook and a local "Open in Colab" badge that links where _config.yml says; the back
  matter is a part of its own; a "how we know it's right" note links the run record and names nbval;
- equations are numbered per chapter: every number on chapter N's page, and every {eq} reference to
  it, reads "(N.k)"; the landing page and the back matter have none;
- the Proof Index shows each theorem's number and title, not its bare label;
- "Myrtle.ai's" is text, not a link (linkify without fuzzy links);
- in the browser (Debian's Chromium, network cut to localhost): searching "reverse KL" shows the
  sentence that matched, without raw TeX; the KL explorer's displayed divergences agree with kldiv
  for positions set by the test, and its sliders work from the keyboard.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import posixpath
import re
import sys
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pytest
import yaml
from bs4 import BeautifulSoup
from scipy import stats

from kldiv import kl_divergence_from_logits

ROOT = Path(__file__).resolve().parents[1]
TOC = yaml.safe_load((ROOT / "_toc.yml").read_text())
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())


def _load(name: str, path: Path):  # noqa: ANN202 - a module
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


hero = _load("hero_figure", ROOT / "tools" / "hero_figure.py")
landing = _load("landing_ext", ROOT / "_ext" / "landing.py")


def _part(caption: str) -> list[str]:
    for part in TOC.get("parts", []):
        if part.get("caption") == caption:
            return [entry["file"] for entry in part["chapters"]]
    raise AssertionError(f"_toc.yml has no part with caption {caption!r}; parts: "
                         f"{[p.get('caption') for p in TOC.get('parts', [])]}")


CHAPTERS = _part("Chapters")
BACK_MATTER = _part("Back matter")


@functools.lru_cache(maxsize=None)
def _soup(site: Path, page: str) -> BeautifulSoup:
    # Parsed once per page and shared by the tests, which only read it: a chapter with hundreds of
    # typeset equations takes about a second to parse.
    return BeautifulSoup((site / f"{page}.html").read_text(encoding="utf-8"), "html.parser")


def _article(site: Path, page: str) -> BeautifulSoup:
    article = _soup(site, page).select_one("article.bd-article")
    assert article is not None, f"{page}.html has no <article class='bd-article'>"
    return article


# --- The hero figure ---------------------------------------------------------------------------------


def test_hero_figure_is_regenerated_identically_by_the_course_code() -> None:
    # A hand-edited or stale picture fails here: the committed file must be what the script makes.
    assert hero.OUTPUT.read_bytes() == hero.render(), "stale: run python tools/hero_figure.py"


def test_hero_fits_are_chapter_5s_forward_and_reverse_fits() -> None:
    forward, reverse = hero.fit("forward"), hero.fit("reverse")
    # Forward KL to a normal matches moments (thm-5-moment-matching): mean 0, variance 0.36 + 4.
    np.testing.assert_allclose([forward.mu, forward.sigma], [0.0, np.sqrt(4.36)], atol=1e-4)
    # Chapter 5's stated reverse fit from the start (1, 1) and the values in its summary.
    np.testing.assert_allclose([reverse.mu, reverse.sigma], [1.9971, 0.6049], atol=5e-4)
    np.testing.assert_allclose([reverse.reverse, reverse.forward, forward.reverse], [0.6918, 10.2256, 1.2732],
                               atol=5e-4)
    assert reverse.reverse < np.log(2)  # the bound of thm-5-mode-bound


def test_hero_fit_rejects_an_unknown_direction() -> None:
    with pytest.raises(ValueError, match="direction must be 'forward' or 'reverse'; got 'sideways'"):
        hero.fit("sideways")


def test_landing_page_shows_the_hero_figure_with_descriptive_alt_text(built_site: Path) -> None:
    images = [img for img in _article(built_site, TOC["root"]).select("img")
              if img["src"].endswith("landing_hero.svg")]
    assert len(images) == 1, "the landing page should show _static/landing_hero.svg once"
    alt = images[0].get("alt", "")
    for words in ("two-mode", "forward", "reverse", "D(p‖q)", "D(q‖p)"):
        assert words in alt, f"the hero's alt text should say what it shows ({words!r}): {alt!r}"
    assert (built_site / posixpath.normpath(posixpath.join(posixpath.dirname(TOC["root"]), images[0]["src"]))).is_file()


# --- Chapters, times, Colab badges, back matter --------------------------------------------------------


def _colab(path_in_book: str) -> str:
    """The Colab link of a notebook, derived from _config.yml here independently of the extension."""
    repo = CONFIG["repository"]
    org_repo = "/".join(urlsplit(repo["url"]).path.strip("/").removesuffix(".git").split("/")[-2:])
    in_repo = posixpath.join(str(repo.get("path_to_book", "") or "").strip("/"), path_in_book)
    return f"{CONFIG['launch_buttons']['colab_url'].rstrip('/')}/github/{org_repo}/blob/{repo['branch']}/{in_repo}"


def test_landing_lists_every_chapter_with_a_blurb_a_time_and_a_colab_badge(built_site: Path) -> None:
    article = _article(built_site, TOC["root"])
    items = article.select("ul.landing-chapters > li")
    hrefs = [li.select_one(".landing-chapter-title a")["href"] for li in items]
    # The root is chapters/00_introduction, so chapter links are relative to chapters/.
    root_dir = posixpath.dirname(TOC["root"])
    assert [posixpath.splitext(posixpath.normpath(posixpath.join(root_dir, h)))[0] for h in hrefs] == CHAPTERS
    for n, (li, chapter) in enumerate(zip(items, CHAPTERS), start=1):
        title = li.select_one(".landing-chapter-title").get_text(" ", strip=True)
        assert title.startswith(f"Chapter {n}: "), title
        assert len(li.select_one(".landing-chapter-blurb").get_text(strip=True)) > 20, f"{chapter}: no blurb"
        minutes = landing.minutes(ROOT / f"{chapter}.ipynb")
        assert li.select_one(".landing-minutes").get_text(strip=True) == f"about {minutes} min"
        badge = li.select_one("a.landing-colab")
        assert badge["href"] == _colab(f"{chapter}.ipynb")
        img = badge.select_one("img")
        assert not urlsplit(img["src"]).netloc, f"the badge must be a local image: {img['src']}"
        assert img.get("alt"), "the badge needs alt text"
    note = article.select_one(".landing-time-note").get_text()
    assert f"{landing.WORDS_PER_MINUTE} words a minute" in note, "the page must say how times are estimated"


def test_chapter_time_estimate_follows_the_notebook(tmp_path: Path) -> None:
    # 300 words at 150 a minute, 3 visible code cells (one hidden) and a 120 s run: 2 + 3 + 2 = 7 -> 10.
    cells = [{"cell_type": "markdown", "source": ["word " * 299 + r"$\mathrm{KL}$"]}]
    cells += [{"cell_type": "code", "source": ["1"], "metadata": {}} for _ in range(3)]
    cells += [{"cell_type": "code", "source": ["2"], "metadata": {"tags": ["remove-cell"]}}]
    nb = {"cells": cells, "metadata": {"kldiv": {"run": {"seconds": 120}}}}
    path = tmp_path / "c.ipynb"
    path.write_text(json.dumps(nb))
    assert landing.minutes(path) == 10
    nb["metadata"]["kldiv"]["run"]["seconds"] = 600  # +8 min: 2 + 3 + 10 = 15
    path.write_text(json.dumps(nb))
    assert landing.minutes(path) == 15


def test_landing_has_one_top_colab_badge_for_chapter_1(built_site: Path) -> None:
    badges = _article(built_site, TOC["root"]).select(".landing-badges a.landing-colab")
    assert [a["href"] for a in badges] == [_colab(f"{CHAPTERS[0]}.ipynb")]


def test_back_matter_is_a_part_apart_from_the_chapters(built_site: Path) -> None:
    assert set(CHAPTERS).isdisjoint(BACK_MATTER)
    assert all(posixpath.basename(p)[:2].isdigit() for p in CHAPTERS)
    assert not any(posixpath.basename(p)[:2].isdigit() for p in BACK_MATTER)
    captions = [c.get_text(strip=True) for c in _soup(built_site, TOC["root"]).select(".bd-sidebar-primary p.caption")]
    assert captions == ["Chapters", "Back matter"], captions
    article = _article(built_site, TOC["root"])
    chapter_list = " ".join(a["href"] for a in article.select("ul.landing-chapters a"))
    for page in BACK_MATTER:
        name = posixpath.basename(page)
        assert f"{name}.html" not in chapter_list, f"{page} is listed as a chapter"
        assert article.select(f'a[href="{name}.html"]'), f"the landing page does not link {page}"


def test_how_we_know_its_right_links_the_run_record_and_says_what_nbval_checks(built_site: Path) -> None:
    article = _article(built_site, TOC["root"])
    section = next((s for s in article.select("section") if s.find(["h2"]) and
                    "How we know it" in s.find("h2").get_text()), None)
    assert section is not None, "no 'How we know it's right' section"
    text = section.get_text(" ", strip=True)
    assert "nbval" in text, "the note should name nbval"
    assert "compare" in text and "output" in text, "the note should say what nbval compares"
    assert section.select('a[href="run_record.html"]'), "the note must link the run record"


# --- Equation numbers per chapter ----------------------------------------------------------------------


def _equation_numbers(site: Path, page: str) -> dict[str, str]:
    """id of each numbered display equation on a page -> its number as shown, e.g. '4.2'."""
    numbers = {}
    for eq in _article(site, page).select("div.math[id^=equation-]"):
        no = eq.select_one("span.eqno")
        if no is not None:  # "(4.2)" followed by the permalink "#"
            match = re.match(r"\(([^)]*)\)", no.get_text(strip=True))
            assert match, f"{page}: unreadable equation number {no.get_text()!r}"
            numbers[eq["id"]] = match.group(1)
    return numbers


def test_equation_numbers_on_chapter_n_all_start_with_n(built_site: Path) -> None:
    total = 0
    for n, chapter in enumerate(CHAPTERS, start=1):
        numbers = list(_equation_numbers(built_site, chapter).values())
        total += len(numbers)
        wrong = [x for x in numbers if not re.fullmatch(rf"{n}\.\d+", x)]
        assert not wrong, f"{chapter}: equation numbers not of the form {n}.k: {wrong}"
        # They restart in every chapter: 1, 2, 3, ... in page order.
        assert [int(x.split(".")[1]) for x in numbers] == list(range(1, len(numbers) + 1)), numbers
    assert total > 50, "the chapters have dozens of numbered equations; the parser found too few"


def test_equation_references_show_the_chapter_number_of_their_target(built_site: Path) -> None:
    numbers = {chapter: _equation_numbers(built_site, chapter) for chapter in CHAPTERS}
    checked = 0
    for chapter in CHAPTERS:
        for a in _article(built_site, chapter).select('a.reference[href*="#equation-"]:not(.headerlink)'):
            path, _, anchor = a["href"].partition("#")
            target = posixpath.splitext(posixpath.normpath(posixpath.join(posixpath.dirname(chapter), path)))[0] \
                if path else chapter
            shown = a.get_text(strip=True)
            assert shown == f"({numbers[target][anchor]})", f"{chapter}: reference {a['href']} shows {shown!r}"
            checked += 1
    assert checked > 20


def test_landing_page_and_back_matter_have_no_equation_numbers(built_site: Path) -> None:
    for page in [TOC["root"], *BACK_MATTER]:
        assert not _article(built_site, page).select("span.eqno"), f"{page} has numbered equations"


# --- Proof Index -------------------------------------------------------------------------------------------

PROOF = re.compile(r"```\{prf:(\w+)\}[ \t]*([^\n]*)\n:label:[ \t]*(\S+)")


def _proofs() -> dict[str, tuple[str, str]]:
    """label -> (kind, title) of every labelled sphinx-proof directive in the chapters' sources."""
    found = {}
    for chapter in CHAPTERS:
        cells = json.loads((ROOT / f"{chapter}.ipynb").read_text())["cells"]
        text = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
        for kind, title, label in PROOF.findall(text):
            found[label] = (kind, title.strip())
    return found


def test_proof_index_shows_each_theorems_number_and_title(built_site: Path) -> None:
    proofs = _proofs()
    assert len(proofs) >= 10, "the chapters state many theorems; the source scan found too few"
    table = _soup(built_site, "prf-prf").select_one("table.modindextable")
    entries = {a["href"].partition("#")[2]: a.get_text(" ", strip=True) for a in table.select("a[href*='#']")}
    for label, (kind, title) in proofs.items():
        assert label in entries, f"{label} is missing from the Proof Index"
        shown = entries[label]
        chapter = int(re.match(r"\w+-(\d+)-", label).group(1)) if re.match(r"\w+-\d+-", label) else None
        assert re.fullmatch(rf"{kind.title()} \d+\.\d+ .+", shown), f"{label}: entry {shown!r}"
        if chapter is not None:
            assert shown.startswith(f"{kind.title()} {chapter}."), f"{label}: entry {shown!r}"
        assert shown.endswith(title), f"{label}: entry {shown!r} lacks the title {title!r}"
        assert label not in shown, f"{label}: the bare label is shown"


# --- linkify ----------------------------------------------------------------------------------------------


def test_a_bare_domain_like_myrtle_ai_is_text_not_a_link(built_site: Path) -> None:
    lab = next(c for c in CHAPTERS if "cifar10" in c)
    assert "Myrtle.ai" in (ROOT / f"{lab}.ipynb").read_text(), "the lab no longer mentions Myrtle.ai"
    article = _article(built_site, lab)
    assert "Myrtle.ai" in article.get_text()
    links = [a["href"] for a in article.select("a[href]") if "myrtle.ai" in a["href"].lower()]
    assert not [h for h in links if urlsplit(h).netloc.lower() == "myrtle.ai"], links
    # Real URLs are still links: linkify itself stays on.
    assert CONFIG["sphinx"]["config"]["myst_linkify_fuzzy_links"] is False
    assert "linkify" in CONFIG["parse"]["myst_enable_extensions"]


# --- In the browser -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tab(browser, site_url: str):  # noqa: ANN001, ANN201 - a generator fixture
    """A tab of the session's Chromium (tests/conftest.py) with the network cut to localhost; fails
    the test on a console error."""
    errors: list[str] = []
    external: list[str] = []
    context = browser.new_context(service_workers="block", viewport={"width": 1280, "height": 900})

    def route(r) -> None:  # noqa: ANN001
        if (urlsplit(r.request.url).hostname or "") in ("127.0.0.1", "localhost"):
            r.continue_()
        else:
            external.append(r.request.url)
            r.abort("blockedbyclient")

    context.route("**/*", route)
    page = context.new_page()
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" and "favicon" not in
            (m.location or {}).get("url", "") else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.site = site_url
    try:
        yield page
    finally:
        context.close()
    assert not errors, f"console errors: {errors}"
    assert not external, f"requests left localhost: {external}"


def test_search_for_reverse_kl_shows_the_matching_sentence_without_tex(tab) -> None:  # noqa: ANN001
    tab.goto(tab.site + "search.html?q=reverse+KL")
    tab.wait_for_function("document.querySelectorAll('#search-results li').length > 0 && "
                          "[...document.querySelectorAll('#search-results li')].every(li => li.querySelector('p.context'))",
                          timeout=30_000)
    results = tab.eval_on_selector_all(
        "#search-results li", "lis => lis.map(li => [li.querySelector('a').getAttribute('href'),"
        " li.querySelector('p.context').textContent])")
    assert results, "no search results"
    for href, snippet in results:
        assert "\\(" not in snippet and "\\)" not in snippet and "\\[" not in snippet, f"{href}: raw TeX: {snippet!r}"
        assert ".pdf" not in snippet and not snippet.rstrip(".…").endswith("Contents"), f"{href}: {snippet!r}"
    chapter5 = [s for h, s in results if "05_forward_reverse_kl" in h]
    assert chapter5, f"chapter 5 is not among the results: {[h for h, _ in results]}"
    sentence = chapter5[0]
    # A sentence of the text (ends with a full stop) that says "reverse" and "KL"/"D_KL" itself.
    assert re.search(r"revers", sentence, re.I) and "KL" in sentence and sentence.endswith((".", ":", "…")), sentence
    assert len(sentence) > 60, f"a heading, not a sentence: {sentence!r}"


def _expected_divergences(mu: float, sigma: float) -> tuple[float, float]:
    # kldiv on a fine, wide grid (the explorer uses -30..30 in steps of 0.01; a finer grid here).
    xs = np.linspace(-30.0, 30.0, 12001)
    log_p = hero.log_mixture(xs)
    log_q = stats.norm.logpdf(xs, mu, sigma)
    return float(kl_divergence_from_logits(log_p, log_q)), float(kl_divergence_from_logits(log_q, log_p))


def _set_and_read(tab, mu: float, sigma: float) -> tuple[float, float]:  # noqa: ANN001
    tab.evaluate("""([mu, sigma]) => {
        for (const [id, v] of [["kl-mu", mu], ["kl-sigma", sigma]]) {
            const el = document.getElementById(id);
            el.value = String(v);
            el.dispatchEvent(new Event("input", {bubbles: true}));
        }}""", [mu, sigma])
    shown = [tab.inner_text(s) for s in ("#kl-mu-value", "#kl-sigma-value", "#kl-forward", "#kl-reverse")]
    assert shown[:2] == [f"{mu:.2f}", f"{sigma:.2f}"], f"the sliders did not take ({mu}, {sigma}): {shown}"
    return float(shown[2]), float(shown[3])


@pytest.mark.parametrize("mu, sigma", [(0.0, 2.09), (2.0, 0.6), (1.0, 1.0), (-3.5, 0.25), (4.0, 4.0), (0.0, 0.2)])
def test_kl_explorer_shows_the_divergences_kldiv_computes(tab, mu: float, sigma: float) -> None:  # noqa: ANN001
    if not tab.url.endswith(TOC["root"] + ".html"):
        tab.goto(tab.site + TOC["root"] + ".html")
        tab.wait_for_selector(".kl-explorer.kl-explorer-ready")
    forward, reverse = _set_and_read(tab, mu, sigma)
    want = _expected_divergences(mu, sigma)
    # Four decimals are shown: agreement to 1e-4 (rounding plus the grid's error).
    np.testing.assert_allclose([forward, reverse], want, atol=1e-4, err_msg=f"mu={mu}, sigma={sigma}")


def test_kl_explorer_sliders_are_labelled_and_move_with_the_keyboard(tab) -> None:  # noqa: ANN001
    tab.goto(tab.site + TOC["root"] + ".html")
    tab.wait_for_selector(".kl-explorer.kl-explorer-ready")
    for slider in ("kl-mu", "kl-sigma"):
        label = tab.inner_text(f'label[for="{slider}"]')
        assert label.strip(), f"#{slider} has no label"
        assert tab.get_attribute(f"#{slider}", "type") == "range"
    before = _set_and_read(tab, 1.0, 1.0)
    tab.focus("#kl-mu")
    for _ in range(10):
        tab.keyboard.press("ArrowRight")
    assert tab.inner_text("#kl-mu-value") == "1.10"
    after = (float(tab.inner_text("#kl-forward")), float(tab.inner_text("#kl-reverse")))
    np.testing.assert_allclose(after, _expected_divergences(1.1, 1.0), atol=1e-4)
    assert after != before
