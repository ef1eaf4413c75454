"""The download menu's ".pdf" entry opens the printed book instead of the browser's print dialog.

sphinx-book-theme builds that entry as ``window.print()``, which prints one page with the site's
layout (wide equations and code clipped, every solution open). ``make book`` prints the whole book
into ``_build/html/kl-divergence-course.pdf`` with tools/build_pdf.py (title page, contents, page
numbers, no solutions, nothing clipped); this extension points the entry at that file.
"""

from __future__ import annotations

PDF = "kl-divergence-course.pdf"  # written into the site's root by `make book` (tools/build_pdf.py)


def _link_pdf(app, pagename, templatename, context, doctree) -> None:  # noqa: ANN001 - Sphinx's hook
    for group in context.get("header_buttons", []):
        for button in group.get("buttons", []) or []:
            if button.get("label") == "download-pdf-button":
                button.pop("javascript", None)
                button.update(type="link", url=context["pathto"](PDF, 1),
                              tooltip="Download the whole book as a PDF (no solutions)")


def setup(app):  # noqa: ANN001, ANN201 - Sphinx's extension entry point
    app.connect("html-page-context", _link_pdf, priority=501)  # after sphinx-book-theme's buttons
    return {"parallel_read_safe": True, "parallel_write_safe": True}
