"""pytest configuration for the chapters, which the tests execute under nbval.

Here rather than in tests/conftest.py so that it also applies to `pytest chapters/<one>.ipynb`.
"""

from __future__ import annotations

import os

# --- The GPU lab under nbval ------------------------------------------------------------------
# The lab notebook runs in its `smoke` configuration (a few images, two epochs) in the tests: the
# outputs that depend on training are tagged nbval-ignore-output, the loss checks are compared.
# Its data come from the offline copy named by KLDIV_CIFAR10 (`make test` points it at the team's
# shared folder). Where that copy is missing, the lab still runs on a generated stand-in in the same
# image-folder layout (random pixels, so accuracies mean nothing), never on a download; the test
# report's header says which one was used.
os.environ.setdefault("KLDIV_LAB_CONFIG", "smoke")
LAB_NOTEBOOK = "10_cifar10_lab.ipynb"


def _stand_in_cifar10(root) -> str:  # noqa: ANN001 - a pathlib.Path
    import numpy as np
    from PIL import Image

    from kldiv.cifar10 import CLASSES

    rng = np.random.default_rng(0)
    for split, n in (("train", 30), ("test", 10)):
        for cls in CLASSES:
            folder = root / split / cls
            folder.mkdir(parents=True)
            for i in range(n):
                Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(folder / f"{i:04d}.png")
    return str(root)


def pytest_configure(config) -> None:  # noqa: ANN001 - pytest's hook signature
    import tempfile
    from pathlib import Path as _Path

    source = os.environ.get("KLDIV_CIFAR10", "")
    if source and os.path.exists(source):
        config._kldiv_data = f"CIFAR-10 for the lab: {source}"
        return
    root = _Path(tempfile.mkdtemp(prefix="kldiv-cifar10-stand-in-"))
    config._kldiv_stand_in = root
    os.environ["KLDIV_CIFAR10"] = _stand_in_cifar10(root)
    config._kldiv_data = (f"CIFAR-10 for the lab: KLDIV_CIFAR10={source!r} not found; using a generated "
                          f"stand-in of random images at {root}")


def pytest_report_header(config) -> str:  # noqa: ANN001
    return getattr(config, "_kldiv_data", "")


def pytest_unconfigure(config) -> None:  # noqa: ANN001
    import shutil

    stand_in = getattr(config, "_kldiv_stand_in", None)
    if stand_in is not None:
        shutil.rmtree(stand_in, ignore_errors=True)
