"""The classic Keras CIFAR-10 recipe against the fast one, side by side on one device.

    KERAS_BACKEND=jax python benchmarks/cifar10_recipes.py --data /path/to/cifar10-images.tar.gz

Both recipes train with a KL-divergence loss (the classic one with Keras' ``KLDivergence`` on
softmax outputs, as the widely copied recipe does; the fast one with the exact
``kldiv.losses.KLDivergence`` on logits). For each the script prints images per second, the
compile (warm-up) time, seconds per epoch (validation and per-epoch evaluation not counted), the
test accuracy after every epoch, and the training time until the test accuracy first reaches the
classic recipe's final test accuracy and 90 %, with and without compilation.

Data: ``--data`` or the environment variable ``KLDIV_CIFAR10`` (an image folder or a .tar.gz of
one); with neither, Keras downloads CIFAR-10. It refuses to run on a CPU (exit status 2) unless
given ``--allow-cpu``; ``--per-class-train``/``--per-class-test`` and the epoch options then make a
quick run possible. The figures that matter come from a GPU; ``benchmarks/gpu_check.py`` measures
them all in one command and writes them to a file.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

# Before Keras is imported: TensorFlow's C++ logging is noise here (the Python side stays on).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer; got {text}")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="image folder or .tar.gz (default: $KLDIV_CIFAR10, else download)")
    parser.add_argument("--per-class-train", type=positive_int, help="training images per class")
    parser.add_argument("--per-class-test", type=positive_int, help="test images per class")
    parser.add_argument("--classic-epochs", type=positive_int, default=25)
    parser.add_argument("--fast-epochs", type=positive_int, default=12)
    parser.add_argument("--fast-batch", type=positive_int, default=500,
                        help="fast recipe's batch (default 500, which divides 50,000)")
    parser.add_argument("--widths", type=positive_int, nargs=4, default=[64, 128, 256, 512])
    parser.add_argument("--precision", choices=["auto", "float32", "mixed_bfloat16", "mixed_float16"],
                        default="auto", help="fast recipe's dtype policy (auto: bfloat16 from compute "
                        "capability 8.0, else float32)")
    parser.add_argument("--allow-cpu", action="store_true", help="run even if the only device is a CPU")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    import keras

    from kldiv.cifar10 import load_cifar10
    from kldiv.lab import (compute_capability, precision_policy, require_accelerator, run_record,
                           train_classic, train_fast)

    try:
        require_accelerator("The GPU benchmark", allow_cpu=args.allow_cpu)
    except RuntimeError as exc:
        print(f"cifar10_recipes: {exc}", file=sys.stderr)
        return 2
    start = time.perf_counter()
    (x_train, y_train), (x_test, y_test) = load_cifar10(
        args.data, per_class_train=args.per_class_train, per_class_test=args.per_class_test
    )
    load_seconds = time.perf_counter() - start
    precision = precision_policy(compute_capability()) if args.precision == "auto" else args.precision

    record = run_record()
    print("# CIFAR-10: classic recipe vs fast recipe, both trained with a KL-divergence loss")
    print("  " + "; ".join(f"{k} {v}" for k, v in record.items()))
    print(f"  data: {len(x_train)} training and {len(x_test)} test images, loaded in {load_seconds:.1f} s")

    classic = train_classic(x_train, y_train, x_test, y_test, loss=keras.losses.KLDivergence(),
                            seed=args.seed, epochs=args.classic_epochs)
    fast = train_fast(x_train, y_train, x_test, y_test, seed=args.seed, epochs=args.fast_epochs,
                      batch_size=args.fast_batch, widths=tuple(args.widths), precision=precision)
    target = classic.test_accuracy[-1]

    print()
    print(f"classic: Conv-Pool-Dropout x2, Dense 256; Adam 1e-3; batch 250; {args.classic_epochs} epochs; "
          "20 % held out for validation; float32")
    print(f"fast:    ResNet-9 widths {tuple(args.widths)}; crop+flip on device; SGD Nesterov, one-cycle; "
          f"batch {args.fast_batch} ({fast.images_per_epoch} images used); {args.fast_epochs} epochs; "
          f"weight decay {fast.config['weight_decay']}; {precision}")
    print()

    def seconds(value: float | None) -> str:
        return "never" if value is None else f"{value:.1f}"

    header = (f"{'recipe':8} {'images/s':>9} {'compile s':>9} {'s/epoch':>8} {'train s':>8} "
              f"{'final acc':>9} {'s to classic final':>18} {'s to 90 %':>13}")
    print(header)
    print(" " * 64 + "(with / without compile)")
    print("-" * len(header))
    for run in (classic, fast):
        steady = run.seconds[1:] or run.seconds
        to_target = [run.time_to_accuracy(target, include_compile=c) for c in (True, False)]
        to_90 = [run.time_to_accuracy(0.90, include_compile=c) for c in (True, False)]
        print(f"{run.name:8} {run.images_per_second():9.0f} {run.compile_seconds:9.1f} "
              f"{np.mean(steady):8.2f} {run.train_seconds:8.1f} {run.test_accuracy[-1]:9.4f} "
              f"{' / '.join(map(seconds, to_target)):>18} {' / '.join(map(seconds, to_90)):>13}")
    for include, words in ((True, "with compile"), (False, "without compile")):
        quick = fast.time_to_accuracy(target, include_compile=include)
        if quick is not None:
            ratio = classic.time_to_accuracy(target, include_compile=include) / quick
            print(f"fast reaches the classic recipe's final test accuracy ({target:.4f}) "
                  f"{ratio:.1f}x sooner ({words})")
    print()
    for run in (classic, fast):
        print(f"{run.name} test accuracy by epoch: " + " ".join(f"{a:.3f}" for a in run.test_accuracy))
    print(f"\ntotal wall-clock {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
