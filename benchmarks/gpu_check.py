"""The lab's one-shot GPU check: every figure issue 14 asks of a GPU, in one command, to one file.

    KERAS_BACKEND=jax python benchmarks/gpu_check.py --data ../shared/data/cifar10-images.tar.gz

On one GPU it trains, on the whole of CIFAR-10:

* ``classic_kl`` and ``classic_ce``: the classic Keras recipe (25 epochs) with Keras'
  ``KLDivergence`` and with ``CategoricalCrossentropy`` on softmax outputs, same seed: the KL vs CE
  parity (with one-hot targets the two losses are equal, so the runs should agree to within GPU
  nondeterminism; on TensorFlow the CE arm uses the stored logits and the KL arm clips, on JAX both
  clip);
* ``fast``: the fast recipe (ResNet-9, 12 epochs, batch 500, weight decay 5e-3, bfloat16 where the
  GPU's compute capability is 8.0 or more);
* ``airbench``: the fast recipe with airbench's levers (smaller network, frozen patch whitening,
  label smoothing 0.2, EMA weights, flip test-time augmentation, batch norm without scale); its
  hyperparameters are untuned, and this run is their first measurement.

For each it writes images per second, the compile (warm-up) time, seconds and test accuracy per
epoch, the time to 90 %, 93 % and 94 % test accuracy with and without compile, and, for the fast
recipes, how many times sooner than the classic recipe they reach the classic recipe's final test
accuracy (with and without compile); plus the hardware and software record. One JSON file
(``--out``; written again after every recipe, so a run cut short still leaves what it measured)
and a Markdown summary beside it (same name, ``.md``).

On a CPU it refuses to run (exit status 2) unless given ``--rehearse``: a smoke run on a few
hundred images with tiny networks and two epochs, which exercises every code path and writes the
same files (tests/test_gpu_check.py runs it). ``--budget`` seconds (default 420) skips the recipes
not yet started once it is spent, so that the command ends inside its 8 minutes.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

# Before Keras is imported: TensorFlow's C++ logging is noise here (the Python side stays on).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

SCHEMA = "kldiv-gpu-check/1"
TARGETS = (0.90, 0.93, 0.94)
DEFAULT_OUT = Path("_build") / "gpu_check" / "results.json"

# The recipes, in the order they run. `scale` holds what a rehearsal shrinks.
FULL = {
    "data": {"per_class_train": None, "per_class_test": None},
    "classic_epochs": 25,
    "fast": {"epochs": 12, "batch_size": 500},
    "airbench": {"epochs": 10, "batch_size": 500, "widths": None},
    "resnet_widths": None,
}
REHEARSAL = {
    "data": {"per_class_train": 20, "per_class_test": 10},
    "classic_epochs": 2,
    "fast": {"epochs": 2, "batch_size": 50},
    "airbench": {"epochs": 2, "batch_size": 50, "widths": (4, 8, 8)},
    "resnet_widths": (4, 8, 8, 16),
}
AIRBENCH_LEVERS = {"network": "airbench", "whiten": True, "bn_scale": False, "label_smoothing": 0.2,
                   "ema_momentum": 0.99, "flip_tta": True}


def nvidia_smi() -> dict[str, str] | None:
    """GPU name, driver version and memory as nvidia-smi reports them, or None without it."""
    if shutil.which("nvidia-smi") is None:
        return None
    query = "name,driver_version,memory.total,compute_cap"
    try:
        out = subprocess.run(["nvidia-smi", f"--query-gpu={query}", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=30, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    first = [part.strip() for part in out.strip().splitlines()[0].split(",")]
    return dict(zip(query.split(","), first))


def hardware_record(lab, precision: str) -> dict:
    """What the run was made on: device, capability, driver, backend and library versions."""
    record = dict(lab.run_record())
    capability = lab.compute_capability()
    record.update({
        "compute_capability": None if capability is None else f"{capability[0]}.{capability[1]}",
        "precision": precision,
        "nvidia_smi": nvidia_smi(),
        "cpu_count": os.cpu_count(),
    })
    for module in ("jax", "jaxlib", "tensorflow", "torch"):
        if module in sys.modules:
            record[f"{module}_version"] = getattr(sys.modules[module], "__version__", "?")
    return record


def summarise(run) -> dict:
    """One recipe's figures, as JSON-ready numbers (None where a target was never reached)."""
    return {
        "config": {k: list(v) if isinstance(v, tuple) else v for k, v in run.config.items()},
        "images_per_epoch": run.images_per_epoch,
        "compile_seconds": run.compile_seconds,
        "epoch_seconds": list(run.seconds),
        "validation_seconds": list(run.validation_seconds),
        "images_per_second": run.images_per_second(),
        "train_seconds": run.train_seconds,
        "train_seconds_with_compile": run.train_seconds + run.compile_seconds,
        "test_accuracy": list(run.test_accuracy),
        "final_accuracy": run.test_accuracy[-1],
        "loss": [float(v) for v in run.history["loss"]],
        "time_to": {f"{t:.2f}": {"with_compile": run.time_to_accuracy(t),
                                 "without_compile": run.time_to_accuracy(t, include_compile=False)}
                    for t in TARGETS},
    }


def speedup(classic, fast) -> dict:
    """How many times sooner ``fast`` reaches ``classic``'s final test accuracy than ``classic``."""
    target = classic.test_accuracy[-1]
    result = {"target": target}
    for key, include in (("with_compile", True), ("without_compile", False)):
        slow = classic.time_to_accuracy(target, include_compile=include)
        quick = fast.time_to_accuracy(target, include_compile=include)
        result[key] = None if quick is None or slow is None or quick <= 0 else slow / quick
        result[f"fast_seconds_{key}"] = quick
        result[f"classic_seconds_{key}"] = slow
    return result


def parity(kl, ce) -> dict:
    """KL vs cross-entropy, same recipe and seed: with one-hot targets the losses are equal."""
    import numpy as np

    kl_acc, ce_acc = np.array(kl.test_accuracy), np.array(ce.test_accuracy)
    kl_loss, ce_loss = np.array(kl.history["loss"]), np.array(ce.history["loss"])
    return {
        "kl_final_accuracy": float(kl_acc[-1]),
        "ce_final_accuracy": float(ce_acc[-1]),
        "final_accuracy_difference": float(kl_acc[-1] - ce_acc[-1]),
        "max_epoch_accuracy_difference": float(np.max(np.abs(kl_acc - ce_acc))),
        "max_epoch_loss_difference": float(np.max(np.abs(kl_loss - ce_loss))),
    }


def markdown(results: dict) -> str:
    """A human-readable summary of the results file."""
    record = results["record"]
    lines = [f"# Lab GPU check ({results['mode']})", "",
             f"- device: {record['device']}; compute capability {record['compute_capability']}; "
             f"precision {record['precision']}",
             f"- backend {record['backend']}; Keras {record['keras']}; "
             f"nvidia-smi: {record['nvidia_smi']}",
             f"- data: {results['data']['train']} training and {results['data']['test']} test images; "
             f"started {results['started']}; total {results['total_seconds']:.1f} s"
             + ("" if results["complete"] else " (INCOMPLETE: " + "; ".join(results["skipped"]) + ")"),
             "", "| recipe | img/s | compile s | train s | final acc | "
             + " | ".join(f"s to {t:.0%} (with / without compile)" for t in TARGETS) + " |",
             "|---" * (5 + len(TARGETS)) + "|"]

    def fmt(value, spec=".1f"):
        return "never" if value is None else format(value, spec)

    for name, r in results["recipes"].items():
        times = [f"{fmt(r['time_to'][f'{t:.2f}']['with_compile'])} / "
                 f"{fmt(r['time_to'][f'{t:.2f}']['without_compile'])}" for t in TARGETS]
        lines.append(f"| {name} | {r['images_per_second']:.0f} | {r['compile_seconds']:.1f} | "
                     f"{r['train_seconds']:.1f} | {r['final_accuracy']:.4f} | " + " | ".join(times) + " |")
    lines.append("")
    for name, s in results["speedup_vs_classic"].items():
        lines.append(f"- {name} reaches the classic recipe's final accuracy ({s['target']:.4f}) "
                     f"{fmt(s['with_compile'], '.2f')}x sooner with compile, "
                     f"{fmt(s['without_compile'], '.2f')}x without")
    if results["kl_ce_parity"]:
        p = results["kl_ce_parity"]
        lines.append(f"- KL vs CE (classic, same seed): final accuracy {p['kl_final_accuracy']:.4f} vs "
                     f"{p['ce_final_accuracy']:.4f}; largest per-epoch accuracy difference "
                     f"{p['max_epoch_accuracy_difference']:.4f}")
    for name, r in results["recipes"].items():
        lines.append(f"- {name} test accuracy by epoch: " + " ".join(f"{a:.3f}" for a in r["test_accuracy"]))
    return "\n".join(lines) + "\n"


def finite_numbers(value) -> bool:
    """True if every number in a JSON-ready structure is finite (None is allowed)."""
    if isinstance(value, dict):
        return all(finite_numbers(v) for v in value.values())
    if isinstance(value, list):
        return all(finite_numbers(v) for v in value)
    if isinstance(value, float):
        return math.isfinite(value)
    return True


def write(results: dict, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1) + "\n")
    out.with_suffix(".md").write_text(markdown(results))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="image folder or .tar.gz (default: $KLDIV_CIFAR10, else download)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help=f"results JSON (default {DEFAULT_OUT}); the summary goes beside it as .md")
    parser.add_argument("--rehearse", action="store_true",
                        help="run on a CPU too, in a smoke configuration (tiny data and networks)")
    parser.add_argument("--budget", type=float, default=420.0,
                        help="seconds after which recipes not yet started are skipped (default 420)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    start = time.perf_counter()

    import keras

    from kldiv import lab
    from kldiv.cifar10 import load_cifar10

    try:
        device = lab.require_accelerator("The GPU check", allow_cpu=args.rehearse)
    except RuntimeError as exc:
        print(f"gpu_check: {exc}", file=sys.stderr)
        return 2
    plan = REHEARSAL if args.rehearse else FULL
    precision = lab.precision_policy(lab.compute_capability())
    loaded = time.perf_counter()
    (x_train, y_train), (x_test, y_test) = load_cifar10(args.data, **plan["data"])
    results = {
        "schema": SCHEMA,
        "mode": "rehearsal" if args.rehearse else "gpu",
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "record": hardware_record(lab, precision),
        "data": {"train": len(x_train), "test": len(x_test),
                 "source": os.path.basename(str(args.data or os.environ.get("KLDIV_CIFAR10") or "keras download")),
                 "load_seconds": time.perf_counter() - loaded},
        "recipes": {}, "speedup_vs_classic": {}, "kl_ce_parity": None,
        "skipped": [], "complete": False, "total_seconds": 0.0,
    }
    print(f"gpu_check: {device}, {precision}; {len(x_train)} training images", flush=True)

    fast_common = {"seed": args.seed, "precision": precision}
    recipes = {
        "classic_kl": lambda: lab.train_classic(x_train, y_train, x_test, y_test, seed=args.seed,
                                                loss=keras.losses.KLDivergence(),
                                                epochs=plan["classic_epochs"], name="classic_kl"),
        "fast": lambda: lab.train_fast(x_train, y_train, x_test, y_test, widths=plan["resnet_widths"],
                                       name="fast", **fast_common, **plan["fast"]),
        "classic_ce": lambda: lab.train_classic(x_train, y_train, x_test, y_test, seed=args.seed,
                                                loss=keras.losses.CategoricalCrossentropy(),
                                                epochs=plan["classic_epochs"], name="classic_ce"),
        "airbench": lambda: lab.train_fast(x_train, y_train, x_test, y_test, name="airbench",
                                           **fast_common, **AIRBENCH_LEVERS, **plan["airbench"]),
    }
    runs = {}
    for name, train in recipes.items():
        if time.perf_counter() - start > args.budget:
            results["skipped"].append(f"{name}: budget of {args.budget:.0f} s spent")
            continue
        began = time.perf_counter()
        runs[name] = train()
        results["recipes"][name] = summarise(runs[name])
        results["recipes"][name]["wall_seconds"] = time.perf_counter() - began
        if "classic_kl" in runs and name.startswith(("fast", "airbench")):
            results["speedup_vs_classic"][name] = speedup(runs["classic_kl"], runs[name])
        if name == "classic_ce" and "classic_kl" in runs:
            results["kl_ce_parity"] = parity(runs["classic_kl"], runs["classic_ce"])
        results["total_seconds"] = time.perf_counter() - start
        write(results, args.out)
        print(f"gpu_check: {name} done in {time.perf_counter() - began:.1f} s, "
              f"final accuracy {runs[name].test_accuracy[-1]:.4f}", flush=True)
    results["complete"] = not results["skipped"]
    results["total_seconds"] = time.perf_counter() - start
    if not finite_numbers(results):
        results["complete"] = False
        results["skipped"].append("a measured number is not finite")
    write(results, args.out)
    print(markdown(results))
    return 0 if results["complete"] else 1


if __name__ == "__main__":
    sys.exit(main())
