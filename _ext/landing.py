"""The landing page's computed parts, titled Proof Index entries and readable search snippets.

- ``landing-chapters``: the directive that lists the chapters on the landing page, each with its
  one-line blurb (written in the directive's content), an estimated time computed from the notebook
  (see ``minutes``) and an "Open in Colab" badge whose link follows ``_config.yml``'s repository,
  exactly as the theme's launch buttons do. ``landing-colab-badge`` is one such badge on its own.
- The Proof Index (``prf-prf.html``): sphinx-proof lists bare labels (``thm-5-elbo``); here each
  entry reads "Theorem 5.4 The evidence lower bound", grouped by chapter in book order.
- Search: ``_static/landing_search.js`` (search page only) replaces Sphinx's snippet, which took the
  text of the whole ``<main>`` (the in-page contents list, the ".pdf" button, raw TeX), by the
  sentence of the article that matched.
- ``_static/kl_explorer.js`` (landing page only): the forward/reverse KL explorer.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from docutils import nodes
from sphinx import addnodes
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective

# --- Time per chapter -------------------------------------------------------------------------------
# Stated on the page by the directive itself, so the text cannot drift from the numbers.
WORDS_PER_MINUTE = 150  # careful reading of technical prose with mathematics (prose reads at ~250)
MINUTES_PER_CODE_CELL = 1.0  # read a visible code cell, run it, look at its output
ROUND_TO = 5  # minutes
BADGE = "/_static/landing_colab_badge.svg"
WORD = re.compile(r"[^\W\d_](?:[\w'’-]*\w)?")
TEX_COMMAND = re.compile(r"\\[A-Za-z]+")


def minutes(notebook: Path) -> int:
    """Estimated minutes to work through a chapter, from its notebook.

    Words of the Markdown cells (TeX commands are not words) at WORDS_PER_MINUTE, plus
    MINUTES_PER_CODE_CELL per code cell the reader sees (not ``remove-cell``), plus the machine time
    of the chapter's last recorded full run (``metadata.kldiv.run.seconds``, the run record), rounded
    up to ROUND_TO minutes.
    """
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    words = sum(len(WORD.findall(TEX_COMMAND.sub(" ", "".join(c["source"]))))
                for c in nb["cells"] if c["cell_type"] == "markdown")
    code = sum(1 for c in nb["cells"] if c["cell_type"] == "code"
               and "remove-cell" not in c.get("metadata", {}).get("tags", []))
    run_seconds = float(nb.get("metadata", {}).get("kldiv", {}).get("run", {}).get("seconds", 0.0))
    total = words / WORDS_PER_MINUTE + code * MINUTES_PER_CODE_CELL + run_seconds / 60
    return max(ROUND_TO, ROUND_TO * math.ceil(total / ROUND_TO))


def colab_url(config: Any, path_in_book: str) -> str:
    """The Colab link of a notebook, built like sphinx-book-theme's launch button from _config.yml."""
    options = config.html_theme_options or {}
    base = str((options.get("launch_buttons") or {}).get("colab_url", "") or "").rstrip("/")
    repo_url = str(options.get("repository_url", "") or "").rstrip("/")
    if not base or not repo_url:
        raise ValueError(f"a Colab badge needs launch_buttons.colab_url and repository.url in _config.yml; "
                         f"got colab_url={base!r}, repository url={repo_url!r}")
    org_repo = "/".join(urlsplit(repo_url).path.strip("/").removesuffix(".git").split("/")[-2:])
    branch = options.get("repository_branch", "") or "main"
    in_repo = "/".join(p for p in (str(options.get("path_to_docs", "") or "").strip("/"), path_in_book) if p)
    return f"{base}/github/{org_repo}/blob/{branch}/{in_repo}"


def _badge(config: Any, path_in_book: str, label: str) -> nodes.reference:
    link = nodes.reference("", "", refuri=colab_url(config, path_in_book), classes=["landing-colab"])
    link += nodes.image(uri=BADGE, alt=label, classes=["landing-colab-badge"])
    return link


class _NotebookDirective(SphinxDirective):
    def notebook(self, docname: str) -> Path:
        """The notebook of a chapter named as in _toc.yml (``chapters/05_forward_reverse_kl``)."""
        path = Path(self.env.srcdir) / f"{docname}.ipynb"
        if not path.is_file():
            raise self.error(f"{self.name}: no notebook {docname}.ipynb for {docname!r}")
        self.env.note_dependency(str(path))
        return path


class ColabBadge(_NotebookDirective):
    """``{landing-colab-badge} chapters/01_comparing_beliefs``: one "Open in Colab" badge."""

    required_arguments = 1

    def run(self) -> list[nodes.Node]:
        docname = self.arguments[0]
        self.notebook(docname)
        para = nodes.paragraph(classes=["landing-badges"])
        para += _badge(self.config, f"{docname}.ipynb", "Open in Colab")
        return [para]


class ChapterList(_NotebookDirective):
    """One line per chapter: ``chapters/05_forward_reverse_kl: blurb`` (the blurb is Markdown)."""

    has_content = True

    def run(self) -> list[nodes.Node]:
        items = nodes.bullet_list(classes=["landing-chapters"])
        for line in filter(None, (s.strip() for s in self.content)):
            docname, sep, blurb = line.partition(":")
            if not sep or not blurb.strip():
                raise self.error(f"{self.name}: expected 'chapters/NN_name: blurb'; got {line!r}")
            docname = docname.strip()
            estimate = minutes(self.notebook(docname))
            item = nodes.list_item(classes=["landing-chapter"])
            head = nodes.paragraph(classes=["landing-chapter-title"])
            number = nodes.inline("", "", classes=["landing-chapter-number"])
            number["docname"] = docname  # filled in from the numbered toctree (see _number_chapters)
            ref = addnodes.pending_xref("", refdomain="std", reftype="doc", reftarget=f"/{docname}",
                                        refexplicit=False, refwarn=True, refdoc=self.env.docname)
            ref += nodes.inline("", "")
            head += [number, nodes.strong("", "", ref)]
            body = nodes.paragraph(classes=["landing-chapter-blurb"])
            text, messages = self.state.inline_text(blurb.strip(), self.lineno)
            body += text
            meta = nodes.paragraph(classes=["landing-chapter-meta"])
            meta += nodes.inline("", f"about {estimate} min", classes=["landing-minutes"])
            meta += nodes.Text(" ")
            meta += _badge(self.config, f"{docname}.ipynb", f"Open chapter {docname} in Colab")
            item += [head, body, meta, *messages]
            items += item
        note = nodes.paragraph(classes=["landing-time-note"])
        note += nodes.Text(
            f"Times are estimates computed from each notebook: its text at {WORDS_PER_MINUTE} words a "
            f"minute, {MINUTES_PER_CODE_CELL:g} minute per code cell you see, and the machine time of its "
            f"last recorded run (the run record), rounded up to {ROUND_TO} minutes.")
        return [items, note]


def _number_chapters(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    """Prefix each chapter of the list with its number from the numbered toctree (e.g. "5. ")."""
    for node in list(doctree.findall(nodes.inline)):
        if "landing-chapter-number" in node["classes"]:
            secnumber = app.env.toc_secnumbers.get(node["docname"], {}).get("")
            label = "Chapter " + ".".join(map(str, secnumber)) + ": " if secnumber else ""
            node.replace_self(nodes.inline("", label, classes=node["classes"]))


# --- The Proof Index with titles --------------------------------------------------------------------

def _record_proof_titles(app: Sphinx, doctree: nodes.document) -> None:
    """Keep each theorem's own title ("The evidence lower bound") next to sphinx-proof's record."""
    proofs = getattr(app.env, "proof_list", {})
    prefix, _, suffix = app.config.proof_title_format.partition("%t")
    for node in doctree.findall(nodes.Element):
        label = node.get("label") if "realtype" in node.attributes else None
        if label and label in proofs:
            title = str(node.get("title", ""))
            if prefix and title.startswith(prefix):
                title = title[len(prefix):]
            if suffix and title.endswith(suffix):
                title = title[: -len(suffix)]
            proofs[label]["title"] = title.strip()


def _setup_proof_index(app: Sphinx) -> None:
    from sphinx_proof.domain import ProofDomain, ProofIndex
    from sphinx.locale import _ as translate

    class TitledProofIndex(ProofIndex):
        """Proof Index entries "Theorem 5.4 The evidence lower bound", grouped by chapter."""

        def generate(self, docnames=None):  # noqa: ANN001, ANN201 - Sphinx's signature
            env = self.domain.env
            proofs = getattr(env, "proof_list", {})
            order = {doc: i for i, doc in enumerate(_doc_order(env))}
            groups: dict[str, list] = {}
            for label, info in sorted(proofs.items(), key=lambda kv: (order.get(kv[1]["docname"], 1e9),
                                                                      _number(env, kv[1]), kv[0])):
                doc = info["docname"]
                if docnames and doc not in docnames:
                    continue
                secnumber = env.toc_secnumbers.get(doc, {}).get("")
                chapter = env.titles[doc].astext() if doc in env.titles else doc
                key = (".".join(map(str, secnumber)) + ". " if secnumber else "") + chapter
                number = ".".join(map(str, _number(env, info)))
                name = f"{translate(info['realtype'].title())} {number}".strip()
                title = info.get("title", "")
                # (name, subtype, docname, anchor, extra, qualifier, description)
                groups.setdefault(key, []).append(
                    (f"{name} {title}".strip() if title else name, 0, doc, label, "", "", info["realtype"]))
            return list(groups.items()), True

    class TitledProofDomain(ProofDomain):
        indices = [TitledProofIndex]

    app.add_domain(TitledProofDomain, override=True)


def _doc_order(env: Any) -> list[str]:
    """Documents in reading order (the master toctree, depth first)."""
    seen: list[str] = []

    def walk(doc: str) -> None:
        if doc in seen:
            return
        seen.append(doc)
        for child in env.toctree_includes.get(doc, []):
            walk(child)

    walk(env.config.root_doc)
    return seen


def _number(env: Any, info: dict) -> tuple[int, ...]:
    if info.get("nonumber"):
        return ()
    return tuple(env.toc_fignumbers.get(info["docname"], {}).get(info["countertype"], {}).get(info["label"], ()))


# --- Page assets ---------------------------------------------------------------------------------------

PAGE_ONLY_ASSETS = {"landing_search.js", "kl_explorer.js", "landing.css"}


def _not_on_every_page(app: Sphinx, config: Any) -> None:
    """Jupyter Book 1 adds every .js and .css file under _static to every page; not these."""
    def keep(entry: Any) -> bool:
        name = entry[0] if isinstance(entry, (tuple, list)) else entry
        return Path(str(name)).name not in PAGE_ONLY_ASSETS

    config.html_js_files = [e for e in config.html_js_files if keep(e)]
    config.html_css_files = [e for e in config.html_css_files if keep(e)]


def _page_assets(app: Sphinx, pagename: str, templatename: str, context: dict, doctree: Any) -> None:
    """Load the search, explorer and landing assets on the pages that use them, and only there.

    ``app.add_js_file`` inside this event would also register the file for every later page (the
    registry is global in Sphinx 7.4), so the page's own lists are replaced by extended copies.
    """
    from sphinx.builders.html._assets import _CascadingStyleSheet, _JavaScript

    scripts = {"search": ["landing_search.js"], app.config.root_doc: ["kl_explorer.js"]}.get(pagename, [])
    if scripts and "script_files" in context:
        context["script_files"] = [*context["script_files"], *(_JavaScript(f"_static/{s}") for s in scripts)]
    if pagename in ("search", "prf-prf", app.config.root_doc) and "css_files" in context:
        context["css_files"] = [*context["css_files"], _CascadingStyleSheet("_static/landing.css", rel="stylesheet", type="text/css")]


def setup(app: Sphinx) -> dict[str, Any]:
    app.setup_extension("sphinx_proof")  # so the domain below replaces sphinx-proof's, not vice versa
    _setup_proof_index(app)
    app.add_directive("landing-chapters", ChapterList)
    app.add_directive("landing-colab-badge", ColabBadge)
    app.connect("doctree-read", _record_proof_titles)
    app.connect("doctree-resolved", _number_chapters)
    app.connect("config-inited", _not_on_every_page)
    app.connect("html-page-context", _page_assets)
    # sphinx-proof merges env.proof_list (titles included) across parallel readers.
    return {"parallel_read_safe": True, "parallel_write_safe": True}
