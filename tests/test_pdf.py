"""The printed book: tools/build_pdf.py prints the built website into one PDF, checked page by page.

The PDF is printed once per session into the site the other website tests use (the ``built_site``
fixture in tests/conftest.py), exactly as ``make book`` prints it for the download menu. Each page is then rendered to an image with poppler's
``pdftoppm`` and its text read with ``pdftotext`` (Debian: ``apt-get install poppler-utils``), and:

- every page has ink, and none has ink in the right margin (code, equations and tables that run
  off the column would put it there);
- in the DOM before printing, no element sticks out of the column or is clipped by its own box
  (paper cannot scroll), and an equation shrunk to fit stays readable;
- no solution text is printed, while the exercises are (so the text search is known to work);
- a title page, a table of contents whose page numbers are where each page of ``_toc.yml`` really
  starts, a PDF outline naming every chapter, and a page number at the foot of every later page.
"""

from __future__ import annotations

import html.parser
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from PIL import Image
from pypdf import PdfReader

ROOT = Path(__file__).resolve().parents[1]
DPI = 40  # enough to see a character; 120-odd pages render in seconds
MM = DPI / 25.4  # pixels per millimetre in the page images
MARGIN_MM = 15.0  # left and right page margins of _static/print.css
FOOTER_MM = 18.0  # bottom margin, where the page number is printed
INK = 200  # a grey level darker than this is ink (code backgrounds are lighter, ~245)
MIN_READABLE_SCALE = 0.6
PRINTED_FRACTION = 0.2  # a solution with more than this share of its phrases in the PDF is printed


def _poppler(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.fail(f"{tool} is missing: the PDF tests need poppler-utils (apt-get install poppler-utils)")
    return path


@pytest.fixture(scope="session")
def book(built_site: Path) -> tuple[Path, dict]:
    # The `built_site` fixture prints the book into the site as `make book` does (tests/conftest.py).
    out = built_site / "kl-divergence-course.pdf"
    return out, json.loads(out.with_suffix(".json").read_text())


@pytest.fixture(scope="session")
def page_images(book: tuple[Path, dict], tmp_path_factory: pytest.TempPathFactory) -> list[Image.Image]:
    pdf, _ = book
    folder = tmp_path_factory.mktemp("pages")
    subprocess.run([_poppler("pdftoppm"), "-r", str(DPI), "-gray", "-png", str(pdf), str(folder / "p")],
                   check=True, timeout=600)
    images = [Image.open(p).convert("L") for p in sorted(folder.glob("p-*.png"))]
    assert images, f"pdftoppm rendered no pages from {pdf}"
    return images


def page_text(pdf: Path, number: int, *, footer_only: bool = False) -> str:
    """Text of one page (1-based) by pdftotext; with footer_only, of the bottom margin alone."""
    cmd = [_poppler("pdftotext"), "-f", str(number), "-l", str(number), "-r", "72"]
    if footer_only:  # at 72 dpi a pixel is a point; A4 is 595 x 842 points
        top = int(842 - FOOTER_MM / 25.4 * 72)
        cmd += ["-x", "0", "-y", str(top), "-W", "595", "-H", str(842 - top)]
    return subprocess.run(cmd + [str(pdf), "-"], capture_output=True, text=True, check=True).stdout


def normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


def ink(image: Image.Image, box: tuple[float, float, float, float]) -> int:
    """Number of ink pixels inside box (left, top, right, bottom, in pixels)."""
    region = image.crop(tuple(int(round(v)) for v in box))
    return sum(region.point(lambda v: 255 if v < INK else 0).histogram()[255:])


# --- Text of the site's exercises and solutions, to look for in the PDF -------------------------


class _Boxes(html.parser.HTMLParser):
    """Plain-text runs of every <div> whose classes include `kind` ('solution', 'exercise'), split
    wherever a tag starts or ends; math and code are left out (MathJax prints math differently)."""

    SKIP = {"script", "style", "pre", "code"}
    VOID = {"br", "img", "hr", "input", "meta", "link", "wbr", "source"}

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind
        self.open: list[bool] = []  # one entry per open element inside a box: is its text skipped?
        self.boxes: list[list[str]] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        classes = (dict(attrs).get("class") or "").split()
        if self.open:
            self.boxes[-1].append("")
            if tag not in self.VOID:
                skip = tag in self.SKIP or "math" in classes or "admonition-title" in classes
                self.open.append(self.open[-1] or skip)
        elif tag == "div" and self.kind in classes:
            self.open.append(False)
            self.boxes.append([""])

    def handle_endtag(self, tag: str) -> None:
        if self.open and tag not in self.VOID:
            self.open.pop()
            if self.open:
                self.boxes[-1].append("")

    def handle_data(self, data: str) -> None:
        if self.open and not self.open[-1]:
            self.boxes[-1][-1] += data


def box_phrases(site: Path, kind: str, words: int = 7) -> dict[str, list[set[str]]]:
    """For each page of the site, per box of `kind`: its phrases of `words` consecutive plain words.

    Phrases, not whole sentences: pdftotext may interleave a line of text with a tall inline formula
    of the line above. The first and last word of a run may touch math or punctuation, spaced
    differently in print, so they are dropped. The box's title is left out: a solution's title
    repeats its exercise's."""
    found: dict[str, list[set[str]]] = {}
    for page in sorted(site.glob("chapters/*.html")):
        parser = _Boxes(kind)
        parser.feed(page.read_text())
        for runs in parser.boxes:
            phrases = set()
            for run in runs:
                inner = run.lower().split()[1:-1]
                phrases |= {" ".join(inner[i:i + words]) for i in range(len(inner) - words + 1)}
            if phrases:
                found.setdefault(page.stem, []).append(phrases)
    return found


# --- The tests ----------------------------------------------------------------------------------


def test_pdf_holds_every_toc_page_in_order(book: tuple[Path, dict]) -> None:
    pdf, report = book
    root = yaml.safe_load((ROOT / "_toc.yml").read_text())["root"]
    starts = [page["first_pdf_page"] for page in report["pages"]]
    assert report["pages"][0]["name"] == Path(root).with_suffix("").as_posix()
    assert None not in starts, f"pages without a place in the PDF: {report['pages']}"
    assert starts == sorted(starts) and len(set(starts)) == len(starts), f"pages out of order: {starts}"
    assert report["page_count"] == len(PdfReader(str(pdf)).pages) > starts[-1] - 1


def test_title_page_names_the_book(book: tuple[Path, dict]) -> None:
    pdf, _ = book
    title = yaml.safe_load((ROOT / "_config.yml").read_text())["title"]
    assert normalise(title) in normalise(page_text(pdf, 1))


def test_contents_give_the_page_each_chapter_starts_on(book: tuple[Path, dict]) -> None:
    pdf, report = book
    contents = normalise(page_text(pdf, 2))
    assert contents.startswith("contents"), contents[:200]
    for page in report["pages"]:
        title, start = normalise(page["title"]), page["first_pdf_page"]
        # the contents line reads "<title> .... <page>", and that page starts with the title
        assert re.search(re.escape(title) + r"\s*\.*\s*" + str(start) + r"\b", contents), (title, start)
        assert normalise(page_text(pdf, start)).startswith(title), (title, start)
    assert report["contents_pages_match"], "the contents moved the chapters: their numbers are stale"


def test_pdf_outline_names_every_chapter(book: tuple[Path, dict]) -> None:
    pdf, report = book
    reader = PdfReader(str(pdf))
    top = [item for item in reader.outline if not isinstance(item, list)]
    titles = [normalise(item.title) for item in top]
    for page in report["pages"]:
        assert normalise(page["title"]) in titles, f"{page['title']!r} not among the bookmarks {titles}"


def test_every_page_after_the_title_shows_its_number_at_the_foot(book: tuple[Path, dict]) -> None:
    pdf, report = book
    wrong = {n: page_text(pdf, n, footer_only=True).strip()
             for n in range(2, report["page_count"] + 1)}
    wrong = {n: text for n, text in wrong.items() if text != str(n)}
    assert not wrong, f"pages whose footer is not their number: {dict(list(wrong.items())[:10])}"


def test_no_page_is_blank(page_images: list[Image.Image]) -> None:
    blank = []
    for number, image in enumerate(page_images, start=1):
        width, height = image.size
        text_area = (MARGIN_MM * MM, 10 * MM, width - MARGIN_MM * MM, height - FOOTER_MM * MM)
        if ink(image, text_area) < 20:
            blank.append(number)
    assert not blank, f"blank pages: {blank}"


def test_nothing_is_printed_in_the_right_margin(page_images: list[Image.Image]) -> None:
    # A code line, equation or table that runs past the column leaves ink between the column's
    # right edge (plus 2 mm of slack for antialiasing) and the edge of the paper.
    inked = {}
    for number, image in enumerate(page_images, start=1):
        width, height = image.size
        strip = (width - (MARGIN_MM - 2) * MM, 0, width, height)
        if (count := ink(image, strip)) > 0:
            inked[number] = count
    assert not inked, f"ink in the right margin (page: pixels): {inked}"


def test_no_element_sticks_out_of_the_column_or_is_clipped(book: tuple[Path, dict]) -> None:
    _, report = book
    assert report["elements_checked"] > 1000, "the DOM check saw almost nothing: is the book empty?"
    problems = [f"{p['page']} near #{p['near']}: {p['element']} {p['problem']} ({p['text']!r})"
                for p in report["overflow"]]
    assert not problems, "\n".join(problems[:30])


def test_equations_shrunk_to_fit_stay_readable(book: tuple[Path, dict]) -> None:
    _, report = book
    tiny = [e for e in report["equations_scaled"] if e["scale"] < MIN_READABLE_SCALE]
    assert not tiny, f"equations shrunk below {MIN_READABLE_SCALE:.0%}: break them with aligned/split: {tiny}"


def test_the_book_is_complete_and_self_contained(book: tuple[Path, dict]) -> None:
    _, report = book
    assert report["broken_images"] == [], report["broken_images"]
    assert report["math_errors"] == 0
    assert report["blocked_requests"] == []


def test_no_solution_is_printed_but_every_exercise_is(book: tuple[Path, dict], built_site: Path) -> None:
    pdf, report = book
    text = normalise(subprocess.run([_poppler("pdftotext"), "-raw", str(pdf), "-"], capture_output=True,
                                    text=True, check=True).stdout)
    solutions = box_phrases(built_site, "solution")
    exercises = box_phrases(built_site, "exercise")
    assert sum(map(len, solutions.values())) >= 5, f"too few solutions to test with: {solutions}"
    # The control: each exercise is found (one of its phrases at least), so a solution of which no
    # phrase is found was really left out.
    missing = {page: [sorted(box)[0] for box in boxes if not any(p in text for p in box)]
               for page, boxes in exercises.items()}
    missing = {page: phrases for page, phrases in missing.items() if phrases}
    assert not missing, f"exercises not found in the PDF: {missing}"
    # A phrase or two of a solution may also occur in the chapter's text ("of the decent model
    # against the adversarial one"); a printed solution brings most of its phrases with it (the
    # exercises: 25-100 %, nearly all 100 %).
    printed = {}
    for page, boxes in solutions.items():
        for box in boxes:
            found = sorted(p for p in box if p in text)
            if len(found) > PRINTED_FRACTION * len(box):
                printed.setdefault(page, []).append(found[:3])
    assert not printed, f"solution text printed in the PDF: {printed}"
    assert "solution to exercise" not in text
    assert report["solutions_removed"] >= sum(map(len, solutions.values()))
