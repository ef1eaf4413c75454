// Marks display equations and code blocks that are wider than the text column (see custom.css:
// the hidden side fades out, so a reader sees there is more to scroll instead of a clipped line).
//
// .kl-overflows: the element scrolls horizontally; .kl-at-end: it is scrolled to its right end.
// Equations (typeset at build time, tools/prerender_math.mjs) are measured again once the fonts
// have loaded, and everything again when the window is resized (a phone turned sideways, a projector's zoom).
(() => {
  const SELECTOR = 'mjx-container[display="true"], div.highlight > pre';

  const update = (el) => {
    const overflows = el.scrollWidth > el.clientWidth + 1;
    el.classList.toggle("kl-overflows", overflows);
    // A region that scrolls must be reachable by keyboard, to scroll it with the arrow keys (WCAG
    // 2.1.1; axe scrollable-region-focusable). The theme does this for code blocks; equations too.
    if (el.tagName === "MJX-CONTAINER") {
      if (overflows) el.setAttribute("tabindex", "0");
      else el.removeAttribute("tabindex");
    }
    el.classList.toggle("kl-at-end", overflows && el.scrollLeft + el.clientWidth >= el.scrollWidth - 1);
  };

  const watched = new WeakSet();
  const mark = () => {
    for (const el of document.querySelectorAll(SELECTOR)) {
      update(el);
      if (!watched.has(el)) {
        watched.add(el);
        el.addEventListener("scroll", () => update(el), { passive: true });
      }
    }
  };

  const start = () => {
    mark();
    // The equations arrive typeset (at build time), but their width depends on the math
    // stylesheet and the web fonts: measure again once the page and its fonts have loaded.
    window.addEventListener("load", mark);
    if (document.fonts) document.fonts.ready.then(mark);
    let pending = null;
    window.addEventListener("resize", () => {
      cancelAnimationFrame(pending);
      pending = requestAnimationFrame(mark);
    });
    // A solution or code cell opened later shows blocks that measured 0 px while hidden.
    document.addEventListener("toggle", mark, true);
    document.addEventListener("click", () => requestAnimationFrame(mark));
  };

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
