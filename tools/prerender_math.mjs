// Typeset the built website's math at build time (issue 10, item 5: page weight and speed).
//
//   node tools/prerender_math.mjs MATHJAX_DIR SITE_DIR CSS_PATH FONT_URL PAGE.html...
//
// MATHJAX_DIR is the unpacked npm package mathjax-full@3.2.2 (`make .mathjax`), the same MathJax
// the pages used to load; SITE_DIR the built site; CSS_PATH where the one shared CHTML stylesheet is
// written; FONT_URL the woff fonts' folder relative to that stylesheet. Each page is parsed with
// MathJax's liteAdaptor and typeset as MathJax did in the browser: TeX input with the delimiters
// Sphinx writes (\( \) inline, \[ \] and $$ display), only inside elements whose class matches
// processHtmlClass as the page's window.MathJax sets it (Sphinx's span.math/div.math and notebook
// output areas; the chapters' sections are mathjax_ignore), CHTML output, and the assistive MathML that screen readers read. The page
// then links the shared stylesheet instead of loading MathJax: the loader script and its
// window.MathJax configuration are removed. Any math MathJax cannot typeset (an undefined macro,
// a TeX error) fails with the page, the TeX and MathJax's message.
import {createRequire} from 'node:module';
import {readFileSync, writeFileSync, mkdirSync} from 'node:fs';
import {dirname, relative, resolve} from 'node:path';

const [mathjaxDir, siteDir, cssPath, fontURL, ...pages] = process.argv.slice(2);
if (!pages.length) {
  console.error('usage: node prerender_math.mjs MATHJAX_DIR SITE_DIR CSS_PATH FONT_URL PAGE.html...');
  process.exit(2);
}
const require = createRequire(resolve(mathjaxDir, 'package.json'));
const load = (p) => require(resolve(mathjaxDir, 'js', p));

const {mathjax} = load('mathjax.js');
const {TeX} = load('input/tex.js');
const {CHTML} = load('output/chtml.js');
const {liteAdaptor} = load('adaptors/liteAdaptor.js');
const {RegisterHTMLHandler} = load('handlers/html.js');
const {AssistiveMmlHandler} = load('a11y/assistive-mml.js');
// The TeX packages of the tex-chtml.js component the site loaded, less the three that act only at
// run time in a browser: require and autoload (which fetch extensions from the server while
// typesetting) and noundefined (which shows an undefined macro in red instead of failing: here it
// is an error that fails the build). The course's TeX used no autoloaded extension.
const PACKAGES = {base: 'Base', ams: 'Ams', newcommand: 'Newcommand', configmacros: 'ConfigMacros'};
for (const [name, file] of Object.entries(PACKAGES)) load(`input/tex/${name}/${file}Configuration.js`);

// The document options come from each page's window.MathJax (below); MathJax's defaults for the
// rest: the delimiters above, ignoreHtmlClass "mathjax_ignore", no automatic equation numbers
// (Sphinx writes "(7.1)" itself).

// The size of the math relative to the text. In a browser MathJax measured the ex-height of the
// surrounding font (the theme's system-ui stack) and scaled every equation to 119.5% (Chromium,
// checked with the site's MathJax before this script existed); the lite adaptor cannot measure, so
// the same ratio is given: scale = EX_FACTOR / x-height of MathJax's TeX font (0.442).
const EX_FACTOR = 0.528;
// The style MathJax then writes on every container (that scale, and the position the assistive
// MathML needs): moved into the shared stylesheet, 40 bytes an equation.
let containerStyle = null;

const adaptor = liteAdaptor();
AssistiveMmlHandler(RegisterHTMLHandler(adaptor));
const tex = new TeX({packages: Object.keys(PACKAGES)});
// One output jax for every page, so that its stylesheet (adaptiveCSS: only the characters and
// constructs used) ends up covering all pages and is written once.
const chtml = new CHTML({fontURL, exFactor: EX_FACTOR});


const problems = [];
let count = 0, typeset = 0;
const done = [];  // [page, MathDocument]: written once the stylesheet is known
for (const page of pages) {
  const text = readFileSync(page, 'utf8');
  // The configuration Sphinx wrote into the page (mathjax3_config; myst-parser's processHtmlClass).
  // A page without it loaded no MathJax and is left alone.
  const config = text.match(/<script>\s*window\.MathJax\s*=\s*(\{.*?\})\s*<\/script>/s);
  if (!config) continue;
  const {options = {}, loader, ...rest} = JSON.parse(config[1]);
  if (Object.keys(rest).length) {
    problems.push(`${relative(siteDir, page)}: MathJax settings ${Object.keys(rest)} are not applied at build ` +
      'time: add them to tools/prerender_math.mjs');
    continue;
  }
  const html = mathjax.document(text, {InputJax: tex, OutputJax: chtml, ...options});
  html.render();
  for (const math of html.math) {
    count++;
    // Markup every equation would repeat (chapter 7 has 485): the container's scale and position
    // move into the shared stylesheet (containerStyle), the MathML namespace is implied in HTML, and
    // unselectable="on" was for Internet Explorer (CSS user-select does it).
    const root = math.typesetRoot;
    containerStyle ??= adaptor.getAttribute(root, 'style');
    if (adaptor.getAttribute(root, 'style') === containerStyle) adaptor.removeAttribute(root, 'style');
    for (const mml of adaptor.tags(root, 'mjx-assistive-mml')) adaptor.removeAttribute(mml, 'unselectable');
    for (const m of adaptor.tags(root, 'math')) adaptor.removeAttribute(m, 'xmlns');
    const error = adaptor.tags(math.typesetRoot, 'mjx-merror')[0];
    if (error) {
      problems.push(`${relative(siteDir, page)}: ${JSON.stringify(math.math)}: ` +
        (adaptor.getAttribute(error, 'data-mjx-error') || adaptor.textContent(error)));
    }
  }
  // Every math element Sphinx wrote must now hold an equation: TeX that MathJax did not find
  // (unbalanced braces, a missing delimiter) would show as raw TeX.
  for (const kind of ['span', 'div']) {
    for (const node of adaptor.tags(adaptor.body(html.document), kind)) {
      if (!(adaptor.getAttribute(node, 'class') || '').split(/\s+/).includes('math')) continue;
      if (!adaptor.tags(node, 'mjx-container').length) {
        problems.push(`${relative(siteDir, page)}: not typeset: ${JSON.stringify(adaptor.textContent(node).trim())}`);
      }
    }
  }
  const head = adaptor.head(html.document);
  // The stylesheet MathJax added to the page's head: linked from the shared file instead.
  for (const style of adaptor.tags(head, 'style')) {
    if (adaptor.getAttribute(style, 'id') === 'MJX-CHTML-styles') adaptor.remove(style);
  }
  // The loader script and its window.MathJax configuration: the page no longer loads MathJax.
  for (const script of adaptor.tags(adaptor.root(html.document), 'script')) {
    const src = adaptor.getAttribute(script, 'src') || '';
    if (/mathjax/i.test(src) || /^\s*window\.MathJax\s*=/.test(adaptor.textContent(script))) {
      adaptor.remove(script);
    }
  }
  adaptor.append(head, adaptor.node('link', {rel: 'stylesheet', href: relative(dirname(page), cssPath)}));
  done.push([page, html]);
}
typeset = done.length;

// The stylesheet for every character and construct of every page (adaptiveCSS), written once.
const css = adaptor.textContent(chtml.styleSheet(html0())) + '\n' +
  (containerStyle ? `mjx-container[jax="CHTML"]{${containerStyle}}\n` : '');
mkdirSync(dirname(cssPath), {recursive: true});
writeFileSync(cssPath, '/* MathJax 3.2.2 CHTML styles for the math of this site (Apache-2.0), written by ' +
  'tools/prerender_math.mjs */\n' + css);

// Class names inside the equations that no rule of that stylesheet names have no effect in CHTML
// output (MathJax writes its variant classes, "mjx-n" on every operator and "mjx-i" on every
// identifier, for fonts it does not use here): they go, 40 kB of chapter 7. The class of the
// container itself ("MathJax") stays, for other stylesheets and scripts.
const styled = new Set(css.match(/\.-?[A-Za-z_][\w-]*/g).map((c) => c.slice(1)));
for (const [page, html] of done) {
  for (const math of html.math) {
    for (const node of descendants(math.typesetRoot)) {
      const classes = adaptor.getAttribute(node, 'class');
      if (classes === null || classes === undefined) continue;
      const kept = classes.split(/\s+/).filter((c) => c && styled.has(c));
      if (kept.length) adaptor.setAttribute(node, 'class', kept.join(' '));
      else adaptor.removeAttribute(node, 'class');
    }
    // MathJax's TeX class (ORD, BIN...) repeated in the MathML for screen readers, who do not read it.
    for (const node of descendants(math.typesetRoot)) {
      if (adaptor.kind(node).startsWith('mjx-')) continue;
      adaptor.removeAttribute(node, 'data-mjx-texclass');
    }
  }
  writeFileSync(page, adaptor.doctype(html.document) + '\n' + adaptor.outerHTML(adaptor.root(html.document)) + '\n');
}
console.log(`prerender_math: ${count} equations in ${typeset} of ${pages.length} pages`);
if (problems.length) {
  console.error(`prerender_math: ${problems.length} problem(s):\n  ` + problems.join('\n  '));
  process.exit(1);
}

function html0() {
  return mathjax.document('<html><head></head><body></body></html>', {InputJax: tex, OutputJax: chtml});
}

// Every element below a container, not the container itself.
function* descendants(node) {
  for (const child of adaptor.childNodes(node)) {
    if (adaptor.kind(child) === '#text' || adaptor.kind(child) === '#comment') continue;
    yield child;
    yield* descendants(child);
  }
}
