"""Print the whole course as one PDF from the built website.

    python tools/build_pdf.py [--site _build/html] [--output _build/html/kl-divergence-course.pdf]

The website is already the book's best rendering (equations typeset by MathJax when the site was
built, stored outputs, figures), so
the PDF is that site printed by Debian's Chromium (driven by Playwright, never a downloaded browser):

1. the built site is served on 127.0.0.1 and every page of ``_toc.yml`` is fetched, in order, into
   one document (ids are prefixed per page, so links between pages become links inside the PDF);
2. solutions are removed (a printed exercise sheet should not answer itself; they stay on the
   website), a title page and a table of contents are put in front;
3. with the page laid out at the printed column's width, each display equation wider than the
   column is shrunk until it fits (MathJax 3 cannot break lines);
   code wraps by ``_static/print.css``;
4. nothing may stick out of the column or be clipped: every element is measured in the DOM, and
   what does not fit is listed in the report (tests/test_pdf.py fails on it);
5. Chromium prints with page numbers (``@page`` in print.css) and a PDF outline built from the
   headings; a first print finds the page of each chapter, a second prints the contents with them.

Next to the PDF a JSON report records the page count, the pages and their first PDF page, what was
removed or shrunk, what did not fit, and the build time. Requests that leave 127.0.0.1 are blocked
and fail the build: the site must be self-contained.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import json
import logging
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import yaml

import book_toc  # tools/book_toc.py

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SITE = ROOT / "_build" / "html"
DEFAULT_OUTPUT = ROOT / "_build" / "html" / "kl-divergence-course.pdf"  # the download menu links it
CHROMIUM = os.environ.get("KLDIV_CHROMIUM", "/usr/bin/chromium")
TIMEOUT_MS = 180_000

# The printed page: A4 with the margins of _static/print.css. The document is laid out (and
# measured) at the column's width in CSS pixels (96 per inch), which is what Chromium prints at
# scale 1, so an element that fits here fits on paper.
PAGE_WIDTH_MM = 210.0
MARGIN_LEFT_MM = MARGIN_RIGHT_MM = 15.0
COLUMN_PX = int((PAGE_WIDTH_MM - MARGIN_LEFT_MM - MARGIN_RIGHT_MM) / 25.4 * 96)
# Below this an equation is too small to read; it is still shrunk to fit, and listed in the report.
MIN_READABLE_SCALE = 0.6

# Only for the book: the title page and contents, a new page per chapter, no number on the title
# page. Everything that also serves a browser's print of one page lives in _static/print.css.
BOOK_CSS = """
@media print {
  @page :first { @bottom-center { content: none; } }
  .pdf-title-page { break-after: page; padding-top: 30%; text-align: center; }
  .pdf-title-page .pdf-title { font-size: 2.6em; font-weight: 600; line-height: 1.2; margin-bottom: 1em; }
  .pdf-title-page p { margin: 0.4em 0; }
  .pdf-title-page .pdf-note { margin-top: 4em; font-size: 0.9em; color: #444; }
  .pdf-toc { break-after: page; }
  .pdf-toc ol { list-style: none; padding: 0; margin: 1.5em 0; }
  .pdf-toc li a { display: flex; align-items: baseline; gap: 0.4em; padding: 0.35em 0; }
  .pdf-toc .pdf-toc-leader { flex: 1; border-bottom: 1px dotted #888; }
  .pdf-toc .pdf-toc-page { min-width: 2.5em; text-align: right; font-variant-numeric: tabular-nums; }
  .pdf-chapter { break-before: page; }
  /* The theme hides a page's first h1 in print (it prints the title elsewhere); the book keeps it. */
  .bd-main .bd-content .bd-article .pdf-chapter h1:first-of-type,
  .bd-main .bd-content .bd-article .pdf-toc h1 { display: block !important; }
}
"""

# Runs in the page: assemble every page's article into one document. Returns what it did.
ASSEMBLE_JS = r"""
async ({pages, meta}) => {
  const article = document.querySelector('article.bd-article');
  if (!article) throw new Error('no article.bd-article in ' + location.href);
  const pageUrls = pages.map(p => new URL(p.href, location.href));
  const indexOf = u => pageUrls.findIndex(p => p.pathname === u.pathname);
  const out = {pages: [], solutions_removed: 0};
  const parts = [];
  let mathCss = null;
  for (const [i, page] of pages.entries()) {
    const resp = await fetch(pageUrls[i]);
    if (!resp.ok) throw new Error(`HTTP ${resp.status} for ${pageUrls[i]}`);
    const doc = new DOMParser().parseFromString(await resp.text(), 'text/html');
    const css = doc.querySelector('link[href$="mathjax-chtml.css"]');
    if (css) mathCss = new URL(css.getAttribute('href'), pageUrls[i]).href;
    const body = doc.querySelector('article.bd-article');
    if (!body) throw new Error('no article.bd-article in ' + pageUrls[i]);
    const solutions = body.querySelectorAll('.solution');
    out.solutions_removed += solutions.length;
    solutions.forEach(s => s.remove());
    body.querySelectorAll('a.headerlink, script').forEach(e => e.remove());
    const prefix = `c${i}-`;
    body.querySelectorAll('[id]').forEach(e => { e.id = prefix + e.id; });
    body.querySelectorAll('img[src]').forEach(img => {
      img.src = new URL(img.getAttribute('src'), pageUrls[i]).href;
      img.loading = 'eager';
    });
    body.querySelectorAll('a[href]').forEach(a => {
      const target = new URL(a.getAttribute('href'), pageUrls[i]);
      if (target.origin !== location.origin) return;           // external: keep the link
      const j = indexOf(target);
      if (j < 0) { a.removeAttribute('href'); return; }         // genindex, sources: not in the book
      a.setAttribute('href', target.hash ? `#c${j}-${decodeURIComponent(target.hash.slice(1))}` : `#c${j}`);
    });
    const h1 = body.querySelector('h1');
    const title = (h1 ? h1.textContent : page.name).trim();
    const section = document.createElement('section');
    section.className = 'pdf-chapter';
    section.id = `c${i}`;
    section.dataset.page = page.name;
    section.append(...body.childNodes);
    parts.push(section);
    out.pages.push({name: page.name, title});
  }
  const esc = s => s.replace(/[&<>"]/g, c => ({'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;'}[c]));
  const title = document.createElement('div');
  title.className = 'pdf-title-page';
  title.innerHTML = `<div class="pdf-title">${esc(meta.title)}</div>` +
    (meta.author ? `<p>${esc(meta.author)}</p>` : '') +
    (meta.copyright ? `<p>&copy; ${esc(meta.copyright)}</p>` : '') +
    `<p class="pdf-note">The printed edition of the course website${meta.url ? ' (' + esc(meta.url) + ')' : ''}.<br>` +
    `Solutions to the exercises are left out; they are on the website.</p>`;
  const toc = document.createElement('nav');
  toc.className = 'pdf-toc';
  toc.innerHTML = '<h1 id="pdf-contents">Contents</h1><ol>' + out.pages.map((p, i) =>
    `<li><a href="#c${i}"><span class="pdf-toc-title">${esc(p.title)}</span>` +
    `<span class="pdf-toc-leader"></span><span class="pdf-toc-page" data-chapter="${i}">000</span></a></li>`
  ).join('') + '</ol>';
  // The page's own print header (the theme's title and contents of the first page) is not the book's.
  document.querySelectorAll('#jb-print-docs-body').forEach(e => e.remove());
  article.replaceChildren(title, toc, ...parts);
  document.body.classList.add('pdf-book');
  // The math arrives typeset (tools/prerender_math.mjs at build time); its stylesheet must be on
  // this page too, whichever page the book is assembled in.
  if (mathCss && !document.querySelector('link[href$="mathjax-chtml.css"]')) {
    const link = document.createElement('link');
    link.rel = 'stylesheet';
    link.href = mathCss;
    const loaded = new Promise((ok, fail) => { link.onload = ok; link.onerror = () => fail(new Error('cannot load ' + mathCss)); });
    document.head.append(link);
    await loaded;
  }
  await Promise.all([...article.querySelectorAll('img')].map(
    img => img.complete ? null : new Promise(r => { img.onload = img.onerror = r; })));
  await document.fonts.ready;
  out.broken_images = [...article.querySelectorAll('img')]
    .filter(img => !img.naturalWidth).map(img => img.getAttribute('src'));
  out.math_errors = article.querySelectorAll('mjx-merror').length;
  return out;
}
"""

# Shrink each display equation wider than its box until it fits (font size scales CHTML output).
FIT_EQUATIONS_JS = r"""
(minReadable) => {
  const scaled = [];
  for (const c of document.querySelectorAll('article.bd-article mjx-container[display="true"]')) {
    let scale = 1;
    for (let k = 0; k < 4 && c.scrollWidth > c.clientWidth + 1; k++) {
      const ratio = (c.clientWidth - 2) / c.scrollWidth;
      const size = parseFloat(getComputedStyle(c).fontSize);
      c.style.fontSize = (size * ratio) + 'px';
      scale *= ratio;
    }
    if (scale < 1) {
      const chapter = c.closest('.pdf-chapter');
      const box = c.closest('[id]');
      scaled.push({page: chapter ? chapter.dataset.page : null, near: box ? box.id : null,
                   scale: Math.round(scale * 1000) / 1000, readable: scale >= minReadable});
    }
  }
  return scaled;
}
"""

# Everything that sticks out of the text column, or is clipped by its own box (a scroll area,
# which paper cannot scroll). MathJax's assistive MathML is hidden off-screen on purpose; the
# inside of an equation or a code block is judged by the equation's or block's own box.
MEASURE_JS = r"""
() => {
  const article = document.querySelector('article.bd-article');
  const right = article.getBoundingClientRect().right;
  const problems = [];
  const skipAssistive = e => e.tagName === 'MJX-ASSISTIVE-MML' ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT;
  const describe = e => {
    const chapter = e.closest('.pdf-chapter');
    const box = e.closest('[id]');
    return {page: chapter ? chapter.dataset.page : null, near: box ? box.id : null,
            element: e.tagName.toLowerCase() + (e.className && typeof e.className === 'string'
              ? '.' + e.className.trim().split(/\s+/).join('.') : ''),
            text: (e.textContent || '').replace(/\s+/g, ' ').trim().slice(0, 80)};
  };
  // How far visible content runs past the inside right edge of a box that hides overflow. Not
  // scrollWidth: MathJax's assistive MathML counts in it, although it is invisible on purpose.
  const clipped = box => {
    const limit = box.getBoundingClientRect().left + box.clientLeft + box.clientWidth;
    let worst = 0;
    const inner = document.createTreeWalker(box, NodeFilter.SHOW_ELEMENT, {acceptNode: skipAssistive});
    for (let d = inner.nextNode(); d; d = inner.nextNode())
      worst = Math.max(worst, d.getBoundingClientRect().right - limit);
    return worst;
  };
  const walker = document.createTreeWalker(article, NodeFilter.SHOW_ELEMENT, {acceptNode: skipAssistive});
  let checked = 0;
  for (let e = walker.nextNode(); e; e = walker.nextNode()) {
    const style = getComputedStyle(e);
    if (style.display === 'none' || style.visibility === 'hidden') continue;
    const r = e.getBoundingClientRect();
    if (!r.width && !r.height) continue;
    checked++;
    const inside = e.parentElement.closest('mjx-container, pre');
    if (inside) continue;
    if (r.right > right + 1)
      problems.push({...describe(e), problem: `sticks out of the column by ${Math.round(r.right - right)} px`});
    // clientWidth is 0 for inline boxes, which cannot scroll anyway
    if (style.overflowX !== 'visible' && style.display !== 'inline' && e.scrollWidth > e.clientWidth + 1) {
      const hidden = clipped(e);
      if (hidden > 1) problems.push({...describe(e), problem: `clipped: ${Math.round(hidden)} px hidden`});
    }
  }
  return {checked, problems, column_px: Math.round(article.getBoundingClientRect().width)};
}
"""


def book_metadata(root: Path = ROOT) -> dict[str, str]:
    config = yaml.safe_load((root / "_config.yml").read_text())
    return {
        "title": str(config.get("title") or "Untitled"),
        "author": str(config.get("author") or ""),
        "copyright": str(config.get("copyright") or ""),
        "url": str((config.get("repository") or {}).get("url") or ""),
    }


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:  # keep the build log readable
        pass


def _chapter_start_pages(pdf: Path, chapters: int) -> dict[int, int]:
    """First PDF page (1-based) of each chapter, from the named destinations Chromium writes for
    the contents' links (``#c<i>``)."""
    from pypdf import PdfReader

    reader = PdfReader(str(pdf))
    starts = {}
    for name, dest in reader.named_destinations.items():
        name = str(name).lstrip("/")
        if name.startswith("c") and name[1:].isdigit() and int(name[1:]) < chapters:
            starts[int(name[1:])] = reader.get_destination_page_number(dest) + 1
    return starts


def _repair_outline(pdf: Path, headings: list[str]) -> int:
    """Chromium builds the outline from the laid-out headings and drops the space where a heading
    wraps ("deep learning" becomes "deeplearning"); put back each heading's text. Returns how many
    bookmarks were repaired."""
    from pypdf import PdfWriter
    from pypdf.generic import NameObject, TextStringObject

    def squash(text: str) -> str:
        return "".join(text.split())

    proper: dict[str, list[str]] = {}
    for heading in headings:
        proper.setdefault(squash(heading), []).append(heading)
    writer = PdfWriter(clone_from=str(pdf))
    repaired = 0

    def walk(node) -> None:
        nonlocal repaired
        while node is not None:
            node = node.get_object()
            title = str(node.get("/Title", ""))
            candidates = proper.get(squash(title))
            if candidates:
                text = candidates.pop(0)
                if text != title:
                    node[NameObject("/Title")] = TextStringObject(text)
                    repaired += 1
            if "/First" in node:
                walk(node["/First"])
            node = node.get("/Next")

    outlines = writer.root_object.get("/Outlines")
    if outlines is not None:
        walk(outlines.get_object().get("/First"))
    writer.write(str(pdf))
    return repaired


def build_pdf(site: Path, output: Path, *, chromium: str = CHROMIUM, root: Path = ROOT) -> dict:
    """Print the built site ``site`` (a ``_build/html`` folder) to ``output``; return the report,
    which is also written next to the PDF as ``<output>.json``."""
    from playwright.sync_api import sync_playwright
    from pypdf import PdfReader

    # Chromium's cross-reference table undercounts its objects; pypdf reads it fine but says so.
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    site = Path(site).resolve()
    if not (site / "search.html").is_file():
        raise ValueError(f"site={str(site)!r} is not a built Jupyter Book site (no search.html in it)")
    if not Path(chromium).is_file():
        raise ValueError(f"chromium={chromium!r} does not exist (apt-get install chromium, or set KLDIV_CHROMIUM)")
    output = Path(output).resolve()
    output.parent.mkdir(parents=True, exist_ok=True)
    pages = book_toc.pages(root)
    missing = [p for p in pages if not (site / f"{p}.html").is_file()]
    if missing:
        raise ValueError(f"site={str(site)!r} lacks pages that _toc.yml lists: {missing}")
    started = time.monotonic()

    handler = functools.partial(_QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}/"
    blocked: list[str] = []

    def route(r):  # the site must work offline: nothing outside 127.0.0.1 is fetched
        if urlsplit(r.request.url).hostname in ("127.0.0.1", "localhost"):
            r.continue_()
        else:
            blocked.append(r.request.url)
            r.abort()

    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": COLUMN_PX, "height": 1200})
            page.set_default_timeout(TIMEOUT_MS)
            page.route("**/*", route)
            page.emulate_media(media="print", color_scheme="light")
            page.goto(base + pages[0] + ".html", wait_until="load")
            page.add_style_tag(content=BOOK_CSS)
            assembled = page.evaluate(
                ASSEMBLE_JS,
                {"pages": [{"name": n, "href": base + n + ".html"} for n in pages],
                 "meta": book_metadata(root)},
            )
            scaled = page.evaluate(FIT_EQUATIONS_JS, MIN_READABLE_SCALE)
            measured = page.evaluate(MEASURE_JS)

            def print_to(path: Path) -> None:
                page.pdf(path=str(path), prefer_css_page_size=True, print_background=True,
                         outline=True, tagged=True)

            with tempfile.TemporaryDirectory() as tmp:
                first = Path(tmp) / "first.pdf"
                print_to(first)
                starts = _chapter_start_pages(first, len(pages))
            page.evaluate(
                """(starts) => document.querySelectorAll('.pdf-toc-page').forEach(
                       s => { s.textContent = starts[s.dataset.chapter] ?? '?'; })""",
                {str(k): v for k, v in starts.items()},
            )
            print_to(output)
            headings = page.evaluate(
                """() => [...document.querySelectorAll('article.bd-article :is(h1,h2,h3,h4,h5,h6)')]
                       .filter(h => h.getClientRects().length)
                       .map(h => h.textContent.replace(/\\s+/g, ' ').trim())"""
            )
            browser.close()
    finally:
        server.shutdown()
        server.server_close()

    repaired = _repair_outline(output, headings)
    final_starts = _chapter_start_pages(output, len(pages))
    page_count = len(PdfReader(str(output)).pages)
    report = {
        "pdf": str(output),
        "page_count": page_count,
        "build_seconds": round(time.monotonic() - started, 1),
        "column_px": measured["column_px"],
        "pages": [
            {**info, "first_pdf_page": final_starts.get(i)} for i, info in enumerate(assembled["pages"])
        ],
        "contents_pages_match": starts == final_starts,
        "bookmarks_repaired": repaired,
        "solutions_removed": assembled["solutions_removed"],
        "equations_scaled": scaled,
        "elements_checked": measured["checked"],
        "overflow": measured["problems"],
        "broken_images": assembled["broken_images"],
        "math_errors": assembled["math_errors"],
        "blocked_requests": blocked,
    }
    output.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    if blocked:
        raise RuntimeError(f"the site requested {len(blocked)} URL(s) outside 127.0.0.1: {blocked[:5]}")
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--site", type=Path, default=DEFAULT_SITE, help="the built site (_build/html)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="the PDF to write")
    parser.add_argument("--chromium", default=CHROMIUM, help="Chromium executable (default: $KLDIV_CHROMIUM)")
    args = parser.parse_args(argv)
    try:
        report = build_pdf(args.site, args.output, chromium=args.chromium)
    except ValueError as err:
        parser.error(str(err))
    print(f"{report['pdf']}: {report['page_count']} pages in {report['build_seconds']} s; "
          f"{report['solutions_removed']} solutions left out, "
          f"{len(report['equations_scaled'])} equations shrunk to fit, "
          f"{len(report['overflow'])} elements that do not fit")
    for problem in report["overflow"][:20]:
        print(f"  does not fit: {problem}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
