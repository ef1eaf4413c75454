/* The forward/reverse KL explorer of the landing page (plain JavaScript, nothing loaded from elsewhere).
 *
 * The reader moves the mean μ and standard deviation σ of q = N(μ, σ²) with two range inputs (mouse,
 * touch or keyboard) and sees q drawn over chapter 5's target p = ½ N(−2, 0.6²) + ½ N(2, 0.6²), with
 * the forward divergence D(p‖q) and the reverse divergence D(q‖p) in nats. Both are integrals,
 * computed here by the trapezoid rule on a grid from −30 to 30 with spacing 0.01 (chapter 5's method,
 * on a grid wide enough for every q the sliders reach), from log densities so that far tails never
 * turn a finite divergence into ∞. tests/test_landing.py checks the displayed values against kldiv.
 */
(function () {
  "use strict";

  const LOG_SQRT_2PI = 0.5 * Math.log(2 * Math.PI);
  const WEIGHTS = [0.5, 0.5];
  const MEANS = [-2, 2];
  const SIGMAS = [0.6, 0.6];
  const X_MIN = -30;
  const X_MAX = 30;
  const DX = 0.01;
  const N = Math.round((X_MAX - X_MIN) / DX) + 1;

  const logNormal = (x, mu, sigma) => -Math.log(sigma) - LOG_SQRT_2PI - 0.5 * ((x - mu) / sigma) ** 2;

  function logMixture(x) {
    const terms = WEIGHTS.map((w, k) => Math.log(w) + logNormal(x, MEANS[k], SIGMAS[k]));
    const top = Math.max(...terms);
    return top + Math.log(terms.reduce((s, t) => s + Math.exp(t - top), 0));
  }

  // The target on the grid, once.
  const xs = new Float64Array(N);
  const logP = new Float64Array(N);
  for (let i = 0; i < N; i++) {
    xs[i] = X_MIN + i * DX;
    logP[i] = logMixture(xs[i]);
  }

  /** [D(p‖q), D(q‖p)] in nats for q = N(mu, sigma²), by the trapezoid rule on the grid. */
  function divergences(mu, sigma) {
    let forward = 0;
    let reverse = 0;
    for (let i = 0; i < N; i++) {
      const c = i === 0 || i === N - 1 ? DX / 2 : DX;
      const logQ = logNormal(xs[i], mu, sigma);
      const d = logP[i] - logQ;
      forward += c * Math.exp(logP[i]) * d;
      reverse -= c * Math.exp(logQ) * d;
    }
    return [forward, reverse];
  }

  // --- Drawing: an inline SVG, so it is sharp at any size and follows the theme's colours ----------
  const SVG_NS = "http://www.w3.org/2000/svg";
  const W = 440;
  const H = 190;
  const PAD = { left: 12, right: 12, top: 10, bottom: 28 };
  const PLOT_X = [-6, 6];
  const PLOT_Y = 0.8;
  const sx = (x) => PAD.left + ((x - PLOT_X[0]) / (PLOT_X[1] - PLOT_X[0])) * (W - PAD.left - PAD.right);
  const sy = (y) => H - PAD.bottom - (Math.min(y, PLOT_Y) / PLOT_Y) * (H - PAD.top - PAD.bottom);

  function curve(f) {
    const pts = [];
    for (let x = PLOT_X[0]; x <= PLOT_X[1] + 1e-9; x += 0.02) pts.push(`${sx(x).toFixed(1)},${sy(f(x)).toFixed(1)}`);
    return pts;
  }

  function el(name, attrs) {
    const node = document.createElementNS(SVG_NS, name);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    return node;
  }

  function setUp(root) {
    const mu = root.querySelector("#kl-mu");
    const sigma = root.querySelector("#kl-sigma");
    const muOut = root.querySelector("#kl-mu-value");
    const sigmaOut = root.querySelector("#kl-sigma-value");
    const fwdOut = root.querySelector("#kl-forward");
    const revOut = root.querySelector("#kl-reverse");
    const svg = root.querySelector("svg.kl-explorer-plot");
    if (!mu || !sigma || !fwdOut || !revOut || !svg) return;

    svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
    const target = curve((x) => Math.exp(logMixture(x)));
    svg.append(el("path", {
      class: "kl-p", d: `M${sx(PLOT_X[0])},${sy(0)} L${target.join(" L")} L${sx(PLOT_X[1])},${sy(0)} Z`,
    }));
    svg.append(el("line", { class: "kl-axis", x1: sx(PLOT_X[0]), x2: sx(PLOT_X[1]), y1: sy(0), y2: sy(0) }));
    for (let t = -6; t <= 6; t += 2) {
      svg.append(el("line", { class: "kl-axis", x1: sx(t), x2: sx(t), y1: sy(0), y2: sy(0) + 5 }));
      const label = el("text", { class: "kl-tick", x: sx(t), y: H - 8, "text-anchor": "middle" });
      label.textContent = t < 0 ? `−${-t}` : `${t}`;
      svg.append(label);
    }
    const model = el("path", { class: "kl-q", d: "" });
    svg.append(model);

    function update() {
      const m = Number(mu.value);
      const s = Number(sigma.value);
      const [forward, reverse] = divergences(m, s);
      muOut.textContent = m.toFixed(2);
      sigmaOut.textContent = s.toFixed(2);
      fwdOut.textContent = forward.toFixed(4);
      revOut.textContent = reverse.toFixed(4);
      model.setAttribute("d", `M${curve((x) => Math.exp(logNormal(x, m, s))).join(" L")}`);
      svg.setAttribute("aria-label",
        `The target p, two modes at −2 and 2, and the model q with mean ${m.toFixed(2)} and ` +
        `standard deviation ${s.toFixed(2)}: forward KL ${forward.toFixed(4)} nats, reverse KL ` +
        `${reverse.toFixed(4)} nats.`);
    }

    mu.addEventListener("input", update);
    sigma.addEventListener("input", update);
    root.querySelectorAll("button[data-mu]").forEach((button) => {
      button.addEventListener("click", () => {
        mu.value = button.dataset.mu;
        sigma.value = button.dataset.sigma;
        update();
      });
    });
    root.classList.add("kl-explorer-ready");
    update();
  }

  function init() {
    document.querySelectorAll(".kl-explorer").forEach(setUp);
  }

  // Exposed for the tests and for curious readers (try klExplorer.divergences(0, 2) in the console).
  window.klExplorer = { divergences };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
