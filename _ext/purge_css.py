"""Ship only the CSS rules the site can use (issue 10, item 5: a chapter page within 1.5 MB).

The theme stack's stylesheets are written for every site that might use them: Bootstrap 5's
``bootstrap.css`` alone is 209 kB of grid, utility and component classes, of which a page here uses
a few dozen, and every page loads it. After the build (and after ``prerender_math``, so the pages are
final) this extension rewrites the theme's stylesheets in the built site, keeping a rule only if
one of its selectors can match: every class the selector requires is used.

A class counts as used when

* a page of the site has it in a ``class`` attribute, or
* a script the site ships names it (any identifier-like word in a ``.js`` file under ``_static``:
  Bootstrap's ``show``/``collapsing``, the theme's and the search page's classes, which scripts add
  while the reader clicks or searches), or starts with a prefix a script names (``"bs-tooltip-"``,
  to which a script appends the placement).

This is PurgeCSS's method, conservative where a selector is not a simple list of requirements:
classes inside ``:not()``, ``:is()``, ``:where()`` and ``:has()`` are not required (``:not(.x)``
matches more, not less, when ``.x`` is unused), and element names, ids and attributes are never
required. At-rules keep their own rules purged (``@media``, ``@supports``, ``@layer``) or are kept
whole (``@font-face``, ``@keyframes``, custom properties in ``:root``). Only the stylesheets named
in ``PURGED`` are rewritten; the course's own and MathJax's are left as written.
"""

from __future__ import annotations

import re
from pathlib import Path

import tinycss2

# Built-site stylesheets (globs under _static) whose unused rules go.
PURGED = ("styles/bootstrap.css", "styles/pydata-sphinx-theme.css", "styles/sphinx-book-theme.css",
          "sphinx-design.min.css", "mystnb.*.css", "togglebutton.css", "copybutton.css")

_CLASS_ATTR = re.compile(r"""\sclass\s*=\s*(?:"([^"]*)"|'([^']*)')""", re.I)
_JS_WORD = re.compile(r"[A-Za-z_][\w-]*")
_FUNCTIONAL = re.compile(r":(?:not|is|where|has|matches|-webkit-any|-moz-any)\(")
_SELECTOR_CLASS = re.compile(r"\.((?:[\w-]|\\.)+)")
_NESTED_AT_RULES = {"media", "supports", "layer", "container", "document"}


def used_classes(pages: list[Path], scripts: list[Path]) -> tuple[set[str], tuple[str, ...]]:
    """The classes the pages carry and the words the scripts name; the words ending in '-' apart."""
    classes: set[str] = set()
    for page in pages:
        for double, single in _CLASS_ATTR.findall(page.read_text(encoding="utf-8")):
            classes.update((double or single).split())
    words: set[str] = set()
    for script in scripts:
        words.update(_JS_WORD.findall(script.read_text(encoding="utf-8", errors="replace")))
    prefixes = tuple(sorted(w for w in words if w.endswith("-") and len(w) > 3))
    return classes | words, prefixes


def _strip_functional(selector: str) -> str:
    """The selector without the arguments of :not(), :is(), :where() and :has()."""
    out, i = [], 0
    while (m := _FUNCTIONAL.search(selector, i)) is not None:
        out.append(selector[i:m.start()])
        depth, j = 1, m.end()
        while j < len(selector) and depth:
            depth += {"(": 1, ")": -1}.get(selector[j], 0)
            j += 1
        i = j
    out.append(selector[i:])
    return "".join(out)


def _split_selectors(prelude: str) -> list[str]:
    """Split a selector list at its top-level commas (not those inside :is(a, b))."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(prelude):
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(prelude[start:i])
            start = i + 1
    parts.append(prelude[start:])
    return [p.strip() for p in parts if p.strip()]


def selector_can_match(selector: str, used: set[str], prefixes: tuple[str, ...]) -> bool:
    # Attribute values may contain dots ([href$=".pdf"]): they require no class.
    plain = re.sub(r"\[[^\]]*\]", "", _strip_functional(selector))
    for name in _SELECTOR_CLASS.findall(plain):
        name = re.sub(r"\\(.)", r"\1", name)
        if name not in used and not name.startswith(prefixes):
            return False
    return True


def purge(css: str, used: set[str], prefixes: tuple[str, ...]) -> str:
    return _purge_rules(tinycss2.parse_stylesheet(css, skip_comments=True, skip_whitespace=True),
                        used, prefixes)


def _purge_rules(rules: list, used: set[str], prefixes: tuple[str, ...]) -> str:
    kept: list[str] = []
    for rule in rules:
        if rule.type == "qualified-rule":
            selectors = _split_selectors(tinycss2.serialize(rule.prelude))
            alive = [s for s in selectors if selector_can_match(s, used, prefixes)]
            if alive:
                kept.append(",".join(alive) + "{" + tinycss2.serialize(rule.content).strip() + "}")
        elif rule.type == "at-rule" and rule.lower_at_keyword in _NESTED_AT_RULES and rule.content:
            inner = _purge_rules(tinycss2.parse_rule_list(rule.content, skip_comments=True,
                                                          skip_whitespace=True), used, prefixes)
            if inner:
                kept.append(f"@{rule.at_keyword}{tinycss2.serialize(rule.prelude)}{{{inner}}}")
        elif rule.type in ("at-rule", "qualified-rule"):
            kept.append(tinycss2.serialize([rule]).strip())
        # parse errors (rule.type == "error") are dropped, as a browser drops them
    return "\n".join(kept)


MARKER = "/* Unused rules removed by _ext/purge_css.py; the original is the theme's. */\n"


def purge_site(outdir: Path, originals: Path) -> dict[str, tuple[int, int]]:
    """Rewrite the PURGED stylesheets of a built site; {path: (bytes before, bytes after)}.

    ``originals`` keeps each stylesheet as the theme wrote it (outside the site), because Sphinx does
    not copy a theme's file again into an existing build: a rebuild after a page starts using a class
    must purge the original again, not the purged copy.
    """
    static = outdir / "_static"
    pages = [p for p in sorted(outdir.rglob("*.html"))
             if not p.relative_to(outdir).as_posix().startswith(("_static/", "_sources/"))]
    # Not searchindex.js: it is data (every word of the book), not a script that adds classes.
    scripts = [s for s in sorted(outdir.rglob("*.js")) if s.name != "searchindex.js"]
    used, prefixes = used_classes(pages, scripts)
    sizes: dict[str, tuple[int, int]] = {}
    for pattern in PURGED:
        for sheet in sorted(static.glob(pattern)):
            name = sheet.relative_to(outdir).as_posix()
            original = originals / name
            text = sheet.read_text(encoding="utf-8")
            if text.startswith(MARKER):
                text = original.read_text(encoding="utf-8")
            else:
                original.parent.mkdir(parents=True, exist_ok=True)
                original.write_text(text, encoding="utf-8")
            purged = MARKER + purge(text, used, prefixes) + "\n"
            sheet.write_text(purged, encoding="utf-8")
            sizes[name] = (len(text.encode()), len(purged.encode()))
    return sizes


def _finish(app, exc) -> None:  # noqa: ANN001 - Sphinx's (app, exception)
    if exc is not None or app.builder.format != "html":
        return
    purge_site(Path(app.outdir), Path(app.doctreedir) / "purge_css-originals")


def setup(app):  # noqa: ANN001, ANN201 - the Sphinx extension entry point
    # Last: after prerender_math (900) has written the pages' final markup.
    app.connect("build-finished", _finish, priority=950)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
