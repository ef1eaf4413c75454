/* Search snippets that show the sentence that matched (loaded on search.html only; see _ext/landing.py).
 *
 * Sphinx 7.4's searchtools.js takes the snippet from the text of the page's whole [role="main"]
 * element, which in this theme holds the in-page contents list, the download menu (".pdf") and
 * the typeset math (markup and assistive MathML), and shows 240 characters around the first hit of the last search
 * word. Here the snippet comes from the article alone, with math turned into readable text and
 * hidden cells, buttons and navigation left out, and it is the sentence that contains the most
 * search words (the whole query as a phrase first), so a search for "reverse KL" shows a sentence
 * about the reverse KL divergence.
 */
(function () {
  "use strict";

  // TeX to plain text, for snippets only: enough for the notation this course uses.
  const SYMBOLS = {
    mu: "μ", sigma: "σ", lambda: "λ", theta: "θ", pi: "π", alpha: "α", beta: "β", tau: "τ",
    epsilon: "ε", varepsilon: "ε", phi: "φ", Sigma: "Σ", sum: "Σ", infty: "∞", le: "≤", leq: "≤",
    sim: "∼", ge: "≥", geq: "≥", ne: "≠", neq: "≠", approx: "≈", to: "→", in: "∈", cdot: "·", times: "×",
    log: "log", ln: "ln", exp: "exp", mid: "|", ldots: "…", dots: "…", cdots: "…", partial: "∂",
    nabla: "∇", int: "∫", mathbb: "", mathrm: "", mathcal: "", operatorname: "", text: "",
    frac: "", tfrac: "", dfrac: "", sqrt: "√", left: "", right: "", bigl: "", bigr: "", Bigl: "",
    Bigr: "", big: "", Big: "", quad: " ", qquad: " ",
  };

  function texToText(tex) {
    return tex
      .replace(/\\[()[\]]/g, " ")
      .replace(/\\(begin|end)\{[^}]*\}/g, " ")
      .replace(/\\\\|&/g, " ")
      .replace(/\\\|/g, "‖")
      .replace(/\\[,;:! ]/g, " ")
      .replace(/\\([A-Za-z]+)/g, (m, name) => (name in SYMBOLS ? SYMBOLS[name] : name))
      .replace(/\}\s*\{/g, "/") // \frac{a}{b} -> a/b
      .replace(/[{}]/g, "")
      .replace(/\s+/g, " ")
      .trim();
  }

  function articleText(htmlString, anchor) {
    const doc = new DOMParser().parseFromString(htmlString, "text/html");
    let root = doc.querySelector("article.bd-article") || doc.querySelector('[role="main"]');
    if (!root) return "";
    if (anchor) {
      const section = root.querySelector(anchor);
      if (section) root = section;
    }
    const drop = [".headerlink", "script", "style", "nav", ".toctree-wrapper", ".cell_output",
      ".cell_input", ".tag_remove-cell", "button", ".dropdown", ".d-print-none", ".admonition.dropdown",
      "div.math", ".eqno"]; // display equations are not sentences
    root.querySelectorAll(drop.join(",")).forEach((el) => el.remove());
    // Inline math: typeset at build time, its text is the assistive MathML's (what a screen reader
    // reads: "μj(x)"); the TeX (\(q\)) if a page was not typeset.
    root.querySelectorAll(".math").forEach((el) => {
      const mathml = el.querySelector("mjx-assistive-mml math");
      const text = mathml ? mathml.textContent.replace(/\s+/g, " ").trim() : texToText(el.textContent);
      el.replaceWith(doc.createTextNode(" " + text + " "));
    });
    // Line breaks in the source are spaces; block elements end sentences even without a full stop
    // (headings, list items, table cells), marked by a paragraph separator.
    const walker = doc.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      node.textContent = node.textContent.replace(/\s+/g, " ");
    }
    root.querySelectorAll("h1,h2,h3,h4,h5,h6,p,li,dt,dd,th,td,pre,caption,.admonition-title").forEach((el) => {
      el.append(doc.createTextNode(BLOCK_END));
    });
    return root.textContent;
  }

  const BLOCK_END = "\u2029";

  function sentences(text) {
    const out = [];
    for (const block of text.split(BLOCK_END)) {
      // Split after ". ", "! ", "? " followed by a capital, a digit or an opening bracket.
      for (const s of block.split(/(?<=[.!?])\s+(?=[A-Z0-9(“"])/)) {
        const t = s.replace(/\s+/g, " ").trim();
        if (t) out.push(t);
      }
    }
    return out;
  }

  function bestSentence(text, keywords, phrase) {
    const all = sentences(text);
    if (!all.length) return "";
    const words = [...keywords].map((k) => k.toLowerCase()).filter(Boolean);
    let best = all[0];
    let bestScore = -1;
    for (const s of all) {
      const lower = s.toLowerCase();
      const hits = words.filter((w) => lower.includes(w)).length;
      let score = hits * 10;
      if (phrase && lower.includes(phrase)) score += 30;
      // A sentence of the text beats a heading or a table cell with the same words.
      if (hits && s.length >= 40 && /[.?!:]$/.test(s)) score += 50;
      if (score > bestScore) {
        best = s;
        bestScore = score;
      }
    }
    return best;
  }

  function summarize(htmlText, keywords, anchor) {
    const text = articleText(htmlText, anchor);
    if (!text.trim()) return null;
    const query = new URLSearchParams(window.location.search).get("q") || "";
    const phrase = query.trim().toLowerCase().replace(/\s+/g, " ");
    let sentence = bestSentence(text, keywords, phrase);
    const limit = 300;
    if (sentence.length > limit) {
      // Keep the part around the first search word.
      const lower = sentence.toLowerCase();
      const hits = [phrase, ...[...keywords].map((k) => k.toLowerCase())]
        .map((w) => (w ? lower.indexOf(w) : -1)).filter((i) => i > -1);
      const at = hits.length ? Math.min(...hits) : 0;
      const start = Math.max(0, at - 100);
      sentence = (start > 0 ? "…" : "") + sentence.substr(start, limit).trim() +
        (start + limit < sentence.length ? "…" : "");
    }
    const summary = document.createElement("p");
    summary.classList.add("context");
    summary.textContent = sentence;
    return summary;
  }

  function install() {
    // searchtools.js declares `const Search` at the top level of a classic script: visible here.
    if (typeof Search === "undefined") return false;
    Search.makeSearchSummary = summarize;
    return true;
  }

  if (!install()) document.addEventListener("DOMContentLoaded", install);
})();
