// Names each solution's toggle button after its solution (loaded by _ext/accessible_html.py).
//
// sphinx-togglebutton 0.4.5 gives every collapsed admonition (each exercise's solution) the same
// icon-only button named "Toggle hidden content", so a screen-reader user hears a list of identical
// buttons and cannot tell which solution one opens (WCAG 2.4.6 Headings and Labels, 4.1.2 Name,
// Role, Value). The button is named here after the admonition's visible title, e.g. "Solution to
// Exercise 1 (Rolling a six)"; its aria-expanded already says whether the solution is shown.
// togglebutton.js adds the buttons when the DOM is loaded; this file is loaded after it, so its
// own DOMContentLoaded listener runs after the buttons exist.
(() => {
  const name = () => {
    for (const button of document.querySelectorAll("button.toggle-button[data-target]")) {
      const box = document.getElementById(button.dataset.target);
      const title = box && box.querySelector(":scope > .admonition-title");
      if (!title) continue;
      // The title's text without the button's own (an SVG chevron, no text).
      const text = Array.from(title.childNodes)
        .filter((n) => n !== button)
        .map((n) => n.textContent)
        .join("")
        .replace(/\s+/g, " ")
        .trim();
      if (text) button.setAttribute("aria-label", text);
    }
  };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", name);
  else name();
})();
