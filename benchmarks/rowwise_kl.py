"""Row-wise KL divergence on a (20000, 5000) float32 batch: kldiv against SciPy and naive NumPy.

Run with ``python benchmarks/rowwise_kl.py`` (about a minute on 2 cores; needs ~6 GiB of memory).
Each contender is timed as the best of ``--repeats`` runs on the same inputs, and its result is
compared with a float64 reference computed once, so the table shows speed and accuracy together.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
from scipy.special import rel_entr

import kldiv


def naive(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    return np.sum(p * np.log(p / q), axis=-1)


def scipy_rel_entr(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    return rel_entr(p, q).sum(-1)


def best_time(fn, *args, repeats: int) -> tuple[float, np.ndarray]:
    best, out = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn(*args)
        best = min(best, time.perf_counter() - t0)
    return best, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--cols", type=int, default=5_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    rng = np.random.default_rng(2021)
    # Dirichlet-like rows without zeros (so the naive one-liner is defined) plus a nearly identical
    # pair, where float32 accumulation goes wrong.
    p = rng.gamma(1.0, size=(args.rows, args.cols)).astype(np.float32)
    p /= p.sum(axis=1, keepdims=True)
    q = rng.gamma(1.0, size=(args.rows, args.cols)).astype(np.float32)
    q /= q.sum(axis=1, keepdims=True)

    # float64 reference: normalise the float32 rows in float64, then the textbook sum.
    p64, q64 = p.astype(np.float64), q.astype(np.float64)
    p64 /= p64.sum(axis=1, keepdims=True)
    q64 /= q64.sum(axis=1, keepdims=True)
    reference = np.sum(p64 * np.log(p64 / q64), axis=-1)
    del p64, q64

    contenders = {
        "kldiv.kl_divergence": kldiv.kl_divergence,
        "scipy rel_entr(p, q).sum(-1)": scipy_rel_entr,
        "numpy sum(p * log(p / q))": naive,
    }
    print(f"row-wise KL on a ({args.rows}, {args.cols}) float32 batch; {os.cpu_count()} CPU(s); "
          f"numpy {np.__version__}; best of {args.repeats}")
    print(f"{'method':32s} {'seconds':>8s} {'/ kldiv':>8s} {'max rel. error':>15s}")
    times = {}
    for name, fn in contenders.items():
        seconds, out = best_time(fn, p, q, repeats=args.repeats)
        times[name] = seconds
        err = np.max(np.abs(out.astype(np.float64) - reference) / reference)
        print(f"{name:32s} {seconds:8.3f} {seconds / times['kldiv.kl_divergence']:8.2f} {err:15.2e}")

    # Nearly identical distributions: q is p with float32-sized perturbations.
    noise = 1 + 1e-6 * rng.standard_normal(p.shape[1]).astype(np.float32)
    near = p[:1000] * noise
    near /= near.sum(axis=1, keepdims=True)
    print("\nnearly identical rows (1000 pairs, relative perturbation 1e-6):")
    for name, fn in contenders.items():
        out = fn(p[:1000], near)
        print(f"{name:32s} min {out.min(): .3e}  negatives {int((out < 0).sum()):4d}")


if __name__ == "__main__":
    main()
