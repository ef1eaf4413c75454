"""Write (or check) the landing page's hero figure: forward vs reverse KL fit of one normal.

    python tools/hero_figure.py            # write _static/landing_hero.svg
    python tools/hero_figure.py --check    # exit 1 if the committed figure is stale

The figure is computed, not drawn by hand: it fits q = N(mu, sigma^2) to chapter 5's two-mode
mixture p = 0.5 N(-2, 0.6^2) + 0.5 N(2, 0.6^2) twice, once minimising the forward divergence
D(p || q) and once the reverse divergence D(q || p), each evaluated by ``kldiv`` on a fine grid,
and plots p with both fits. tests/test_landing.py regenerates it and compares it with the committed
file, and checks the fitted parameters against chapter 5's stated values.

The divergences are those of the categorical distributions on the grid (softmax of the log-masses
log c_i + log p(x_i)), which is chapter 5's trapezoid rule up to normalisation; working from log
densities keeps far tails that underflow to 0 from turning a finite divergence into +inf.
"""

from __future__ import annotations

import argparse
import io
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import optimize, special, stats

from kldiv import kl_divergence_from_logits

ROOT = Path(__file__).resolve().parents[1]
OUTPUT = ROOT / "_static" / "landing_hero.svg"

# Chapter 5's target (eq-5-mixture) and its grid: -16..16 with spacing 0.01 (3201 points).
WEIGHTS = np.array([0.5, 0.5])
MEANS = np.array([-2.0, 2.0])
SIGMAS = np.array([0.6, 0.6])
XS = np.linspace(-16.0, 16.0, 3201)
START = (1.0, 1.0)  # chapter 5's start (mu_0, sigma_0): the reverse fit lands on the right mode


def _log_trapezoid_weights(xs: np.ndarray) -> np.ndarray:
    dx = xs[1] - xs[0]
    c = np.full(xs.size, dx)
    c[[0, -1]] = dx / 2
    return np.log(c)


def log_mixture(xs: np.ndarray) -> np.ndarray:
    """log p(x) for the two-mode mixture, by log-sum-exp over the components."""
    terms = np.log(WEIGHTS)[:, None] + stats.norm.logpdf(xs, MEANS[:, None], SIGMAS[:, None])
    return special.logsumexp(terms, axis=0)


def divergences(mu: float, sigma: float, xs: np.ndarray = XS) -> tuple[float, float]:
    """(D(p || q), D(q || p)) in nats for q = N(mu, sigma^2), on the grid ``xs``."""
    if not sigma > 0:
        raise ValueError(f"sigma must be positive; got sigma={sigma!r}")
    log_c = _log_trapezoid_weights(xs)
    logits_p = log_c + log_mixture(xs)
    logits_q = log_c + stats.norm.logpdf(xs, mu, sigma)
    return float(kl_divergence_from_logits(logits_p, logits_q)), float(kl_divergence_from_logits(logits_q, logits_p))


@dataclass(frozen=True)
class Fit:
    mu: float
    sigma: float
    forward: float  # D(p || q) at the fit
    reverse: float  # D(q || p) at the fit


def fit(direction: str) -> Fit:
    """Minimise D(p || q) ("forward") or D(q || p) ("reverse") over (mu, log sigma) from START."""
    if direction not in ("forward", "reverse"):
        raise ValueError(f"direction must be 'forward' or 'reverse'; got {direction!r}")
    index = 0 if direction == "forward" else 1

    def objective(theta: np.ndarray) -> float:
        return divergences(theta[0], float(np.exp(theta[1])))[index]

    result = optimize.minimize(objective, [START[0], np.log(START[1])], method="Nelder-Mead",
                               options={"xatol": 1e-9, "fatol": 1e-13, "maxiter": 4000})
    if not result.success:
        raise RuntimeError(f"the {direction} fit did not converge: {result.message}")
    mu, sigma = float(result.x[0]), float(np.exp(result.x[1]))
    return Fit(mu, sigma, *divergences(mu, sigma))


def render() -> bytes:
    """The figure as SVG bytes, byte-for-byte reproducible for given library versions."""
    import matplotlib.pyplot as plt

    forward, reverse = fit("forward"), fit("reverse")
    x = np.linspace(-6.0, 6.0, 601)
    # Matplotlib's defaults first: the same process may have changed rcParams (the chapters'
    # kldiv.notebook.figure_style does), and the file must not depend on that.
    with plt.style.context("default"), plt.rc_context({
        "svg.hashsalt": "kldiv-hero",  # fixed element ids, so the file is reproducible
        "svg.fonttype": "none",        # text stays text: small, crisp and searchable
        "font.size": 12,
        "font.family": "DejaVu Sans",
        "axes.spines.top": False,
        "axes.spines.right": False,
    }):
        fig, ax = plt.subplots(figsize=(4.8, 4.2))  # narrow: text stays readable on a phone
        fig.patch.set_facecolor("white")  # opaque, so it stays readable in dark mode
        ax.fill_between(x, np.exp(log_mixture(x)), color="0.82", label="target $p$: two modes")
        ax.plot(x, stats.norm.pdf(x, forward.mu, forward.sigma), color="#0b5cad", lw=2.5,
                label=f"forward fit, min $D(p\\|q)$: $\\mu$={round(forward.mu, 2) + 0.0:.2f}, $\\sigma$={forward.sigma:.2f}")
        ax.plot(x, stats.norm.pdf(x, reverse.mu, reverse.sigma), color="#b3400a", lw=2.5, ls="--",
                label=f"reverse fit, min $D(q\\|p)$: $\\mu$={reverse.mu:.2f}, $\\sigma$={reverse.sigma:.2f}")
        ax.set_xlim(-6, 6)
        ax.set_ylim(0, 0.7)
        ax.set_xlabel("$x$")
        ax.set_ylabel("density")
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), frameon=False, fontsize=11)
        fig.tight_layout()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
        plt.close(fig)
    return buffer.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the committed figure is stale")
    args = parser.parse_args(argv)
    svg = render()
    if args.check:
        if not OUTPUT.is_file() or OUTPUT.read_bytes() != svg:
            print(f"{OUTPUT.relative_to(ROOT)} is stale: run python tools/hero_figure.py", file=sys.stderr)
            return 1
        return 0
    OUTPUT.write_bytes(svg)
    print(f"wrote {OUTPUT.relative_to(ROOT)} ({len(svg)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
