"""Ship only the MathJax and icon-font parts the site uses (issue 10, item 5: weight).

MathJax. ``sphinx-mathjax-offline`` copied the whole MathJax 3.2.2 distribution (24 MB: SVG output,
speech rules, every combined component) into ``_static/mathjax``. The pages no longer load any of
its JavaScript: ``_ext/prerender_math.py`` typesets their math at build time (CHTML). This extension
keeps from the same pip-installed package only what the typeset pages still load: the 23 CHTML woff
fonts (392 kB; a page fetches only those its math needs), which the shared stylesheet
``_static/mathjax/mathjax-chtml.css`` (written by prerender_math) points at.

Icons. pydata-sphinx-theme loads FontAwesome 6.5.2 twice over: ``all.min.js`` (1.5 MB, which swaps
every ``<i class="fa-...">`` for an inline SVG) and ``all.min.css`` with three web fonts (300 kB), for
about twenty glyphs (the navbar buttons and the theme CSS's admonition, breadcrumb and link icons).
After the build this extension drops the script, the stylesheet and the font preloads from every
page, deletes ``_static/vendor/fontawesome``, and writes instead a subset of the same fonts (only
the glyphs the pages and the theme CSS name, a few kB) with a small stylesheet that defines the
classes and the ``--fa-font-*`` variables the theme's CSS uses. The icons look as before.

Figures. The chapters store their matplotlib figures as 2x PNGs (kldiv.notebook.figure_style: sharp
on phones and projectors) in 24-bit colour with alpha, 100-250 kB each, the heaviest part of a
chapter page after the math. Sphinx copies them into ``_images``; this extension stores each there
with a palette of at most 256 colours (Pillow's octree quantiser, no dithering; opaque stays opaque), about
a quarter of the bytes: line plots on a white background use a few hundred colours, mostly the
anti-aliased edges, and look the same (compared side by side at full size). The notebooks keep the
full-colour originals, and a figure whose palette version is not smaller is left alone.

Also left out of the built site: the theme's source maps (``*.map``, 1.3 MB, read only by a
developer's browser tools; the ``sourceMappingURL`` comment that names each goes too, so the tools
do not ask for it) and ``_static/locales`` (the theme's translation catalogues, 0.7 MB, which
Sphinx reads while building; no page loads them).
"""

from __future__ import annotations

import re
import shutil
from importlib import metadata
from pathlib import Path

from bs4 import BeautifulSoup

MATHJAX_FONTS = "output/chtml/fonts/woff-v2"

FA_VERSION = "6.5.2"
ICONS_DIR = "icons"  # under _static/ in the built site
# Font files of the theme's FontAwesome, the CSS family and weight the theme expects for each.
FA_FONTS = {
    "solid": ("fa-solid-900.ttf", "Font Awesome 6 Free", 900),
    "regular": ("fa-regular-400.ttf", "Font Awesome 6 Free", 400),
    "brands": ("fa-brands-400.ttf", "Font Awesome 6 Brands", 400),
}
# Class names that are FontAwesome modifiers or styles, not icons.
FA_NOT_ICONS = {"fa-solid", "fa-regular", "fa-brands", "fa-lg", "fa-fw", "fa-xs", "fa-sm", "fa-xl",
                "fa-2x", "fa-3x", "fa-spin", "fa-classic", "fa-sharp"}


def mathjax_source() -> Path:
    """MathJax 3.2.2 as pip installed it with ``sphinx-mathjax-offline`` (requirements.txt)."""
    try:
        dist = metadata.distribution("sphinx-mathjax-offline")
    except metadata.PackageNotFoundError:
        raise RuntimeError("lean_assets needs the MathJax copy of the pip package sphinx-mathjax-offline "
                           "(pinned in requirements.txt): pip install -r requirements.txt") from None
    folder = Path(str(dist.locate_file("sphinx-mathjax-offline/static/mathjax")))
    if not any((folder / MATHJAX_FONTS).glob("*.woff")):
        raise RuntimeError(f"no fonts in {folder / MATHJAX_FONTS}: reinstall sphinx-mathjax-offline")
    return folder


def fontawesome_source() -> Path:
    import pydata_sphinx_theme

    folder = (Path(pydata_sphinx_theme.__file__).parent / "theme" / "pydata_sphinx_theme" / "static"
              / "vendor" / "fontawesome" / FA_VERSION)
    if not folder.is_dir():
        raise RuntimeError(f"pydata-sphinx-theme ships no FontAwesome {FA_VERSION} at {folder}: the "
                           f"theme was upgraded; update FA_VERSION in {__file__}")
    return folder


def copy_mathjax(outdir: Path) -> None:
    src, dst = mathjax_source(), outdir / "_static" / "mathjax"
    if dst.exists():
        shutil.rmtree(dst)
    shutil.copytree(src / MATHJAX_FONTS, dst / MATHJAX_FONTS)


# --- FontAwesome subset ------------------------------------------------------------------------

def _icon_codepoints(fa_css: str) -> dict[str, int]:
    """``fa-name`` -> code point, from FontAwesome's own ``all.min.css`` (``.fa-x:before{content:"\\f0c9"}``)."""
    names: dict[str, int] = {}
    for selectors, code in re.findall(r"([^{}]+)\{content:\"\\([0-9a-f]+)\"\}", fa_css):
        for name in re.findall(r"\.(fa-[a-z0-9-]+):before", selectors):
            names.setdefault(name, int(code, 16))
    return names


def _private_use(text: str) -> set[int]:
    """Code points of the Unicode private-use area named in CSS, literally or as ``\\f0c9``."""
    points = {ord(c) for c in text if 0xE000 <= ord(c) <= 0xF8FF}
    points |= {int(h, 16) for h in re.findall(r"\\([ef][0-9a-f]{3})\b", text, re.I)}
    return {p for p in points if 0xE000 <= p <= 0xF8FF}


def _used_icon_classes(pages: list[Path]) -> set[str]:
    """Every ``fa-*`` class the pages use, also inside the theme's ``document.write`` scripts."""
    used: set[str] = set()
    for page in pages:
        for classes in re.findall(r"class=\"([^\"]*)\"", page.read_text(encoding="utf-8")):
            used |= {c for c in classes.split() if c.startswith("fa-")}
    return used - FA_NOT_ICONS


def write_icon_subset(outdir: Path, pages: list[Path]) -> None:
    from fontTools import subset
    from fontTools.ttLib import TTFont

    src = fontawesome_source()
    codes = _icon_codepoints((src / "css" / "all.min.css").read_text(encoding="utf-8"))
    used = _used_icon_classes(pages)
    unknown = sorted(used - codes.keys())
    if unknown:
        raise RuntimeError(f"the pages use FontAwesome icon classes {unknown} that FontAwesome "
                           f"{FA_VERSION}'s CSS does not define")
    theme_css = "".join(p.read_text(encoding="utf-8", errors="replace")
                        for p in (outdir / "_static" / "styles").glob("*.css"))
    wanted = {codes[name] for name in used} | _private_use(theme_css)

    out = outdir / "_static" / ICONS_DIR
    out.mkdir(parents=True, exist_ok=True)
    faces = []
    for style, (ttf, family, weight) in FA_FONTS.items():
        font = TTFont(src / "webfonts" / ttf)
        present = wanted & set(font.getBestCmap())
        if not present:
            continue
        options = subset.Options()
        options.flavor = "woff"  # zlib; woff2 would need the brotli module
        options.layout_features = []
        options.name_IDs = ["*"]  # keep the licence and copyright names
        subsetter = subset.Subsetter(options)
        subsetter.populate(unicodes=sorted(present))
        subsetter.subset(font)
        name = f"{Path(ttf).stem}-subset.woff"
        subset.save_font(font, str(out / name), options)
        faces.append(f'@font-face{{font-family:"{family}";font-style:normal;font-weight:{weight};'
                     f'font-display:block;src:url({name}) format("woff")}}')

    rules = "\n".join(f'.{name}:before{{content:"\\{codes[name]:x}"}}' for name in sorted(used))
    (out / "icons.css").write_text(
        f"/* FontAwesome Free {FA_VERSION} (fonts: SIL OFL 1.1; icons: CC BY 4.0; "
        "https://fontawesome.com/license/free), subset by _ext/lean_assets.py to the glyphs this "
        "site uses. */\n"
        + "\n".join(faces) + "\n"
        ':root{--fa-font-solid:normal 900 1em/1 "Font Awesome 6 Free";'
        '--fa-font-regular:normal 400 1em/1 "Font Awesome 6 Free";'
        '--fa-font-brands:normal 400 1em/1 "Font Awesome 6 Brands"}\n'
        ".fa-solid,.fa-regular,.fa-brands,.fas,.far,.fab{display:var(--fa-display,inline-block);"
        "font-style:normal;font-variant:normal;line-height:1;text-rendering:auto;"
        "-webkit-font-smoothing:antialiased}\n"
        '.fa-solid,.fas{font-family:"Font Awesome 6 Free";font-weight:900}\n'
        '.fa-regular,.far{font-family:"Font Awesome 6 Free";font-weight:400}\n'
        '.fa-brands,.fab{font-family:"Font Awesome 6 Brands";font-weight:400}\n'
        ".fa-lg{font-size:1.25em;line-height:.05em;vertical-align:-.075em}\n"
        + rules + "\n", encoding="utf-8")


def _relink_icons(soup: BeautifulSoup, depth: int) -> bool:
    """Drop the FontAwesome tags from a page's head and link icons.css instead."""
    found = [t for t in soup.find_all(["link", "script"])
             if "vendor/fontawesome/" in (t.get("href") or t.get("src") or "")]
    if not found:
        return False
    stylesheet = soup.new_tag("link", rel="stylesheet",
                              href="../" * depth + f"_static/{ICONS_DIR}/icons.css")
    found[0].insert_before(stylesheet)
    for tag in found:
        tag.decompose()
    return True


def drop_build_only_files(outdir: Path) -> None:
    static = outdir / "_static"
    shutil.rmtree(static / "locales", ignore_errors=True)
    for source_map in static.rglob("*.map"):
        source_map.unlink()
        code = source_map.with_suffix("")  # bootstrap.js.map -> bootstrap.js
        if code.is_file():
            text = code.read_text(encoding="utf-8")
            kept = re.sub(r"\n?(?://|/\*)# sourceMappingURL=[^\s*]+\s*(?:\*/)?\s*\Z", "\n", text)
            if kept != text:
                code.write_text(kept, encoding="utf-8")


def shrink_figures(outdir: Path) -> None:
    from PIL import Image

    for png in sorted((outdir / "_images").glob("*.png")):
        with Image.open(png) as image:
            if image.mode == "P":
                continue
            image = image.convert("RGBA")
            # An opaque figure (the chapters save them so, for dark-mode notebooks) gets an opaque
            # palette: quantising RGBA would add a transparency chunk although no pixel is transparent.
            if image.getchannel("A").getextrema()[0] == 255:
                image = image.convert("RGB")
            palette = image.quantize(256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
        smaller = png.with_suffix(".palette.png")
        palette.save(smaller, optimize=True)
        if smaller.stat().st_size < png.stat().st_size:
            smaller.replace(png)
        else:
            smaller.unlink()


def _pages(outdir: Path) -> list[Path]:
    return [p for p in sorted(outdir.rglob("*.html"))
            if not p.relative_to(outdir).as_posix().startswith(("_static/", "_sources/"))]


def _finish(app, exc) -> None:  # noqa: ANN001 - Sphinx's (app, exception)
    if exc is not None or app.builder.format != "html":
        return
    outdir = Path(app.outdir)
    copy_mathjax(outdir)
    pages = _pages(outdir)
    write_icon_subset(outdir, pages)
    for page in pages:
        text = page.read_text(encoding="utf-8")
        if "vendor/fontawesome/" not in text:
            continue
        soup = BeautifulSoup(text, "html.parser")
        if _relink_icons(soup, len(page.relative_to(outdir).parts) - 1):
            page.write_text(str(soup), encoding="utf-8")
    shutil.rmtree(outdir / "_static" / "vendor" / "fontawesome", ignore_errors=True)
    if (outdir / "_static" / "vendor").is_dir() and not any((outdir / "_static" / "vendor").iterdir()):
        (outdir / "_static" / "vendor").rmdir()
    drop_build_only_files(outdir)
    shrink_figures(outdir)


def setup(app):  # noqa: ANN001, ANN201 - the Sphinx extension entry point
    # After the other extensions' build-finished handlers (priority 500), e.g. accessible_html.
    app.connect("build-finished", _finish, priority=800)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
