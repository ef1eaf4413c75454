"""Emit each <script> once per page.

Sphinx 7.4 adds an inline script registered after the builder started (sphinx-thebe's
`const THEBE_JS_URL = ...`, sphinx-togglebutton's selector) twice, once with filename None and
once with '', so the page throws "Identifier 'THEBE_JS_URL' has already been declared"
(fixed upstream in sphinx-doc/sphinx#13402, Sphinx 8.2; Jupyter Book 1 pins Sphinx 7).
"""


def _dedupe(app, pagename, templatename, context, doctree):
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, unique = set(), []
    for js in scripts:
        key = (str(getattr(js, "filename", js) or ""), tuple(sorted(getattr(js, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            unique.append(js)
    scripts[:] = unique


def setup(app):
    app.connect("html-page-context", _dedupe, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
