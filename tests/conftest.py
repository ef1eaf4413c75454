"""Shared test configuration.

Hypothesis runs derandomised (its seed is fixed), so every run, on every machine, checks the same
examples and a failure can be replayed; no deadline, because the first call of a NumPy or
TensorFlow function can be slow on a busy two-core CI machine. Another profile can be chosen with
``HYPOTHESIS_PROFILE=<name>``, e.g. Hypothesis' own ``default`` for a randomised exploratory run.
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("kldiv", derandomize=True, deadline=None, database=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "kldiv"))


# --- The GPU lab under nbval ------------------------------------------------------------------
# The lab notebook runs in its `smoke` configuration (a few images, two epochs) in the tests: the
# outputs that depend on training are tagged nbval-ignore-output, the loss checks are compared.
# Its data must come from an offline copy named by KLDIV_CIFAR10 (`make test` points it at the
# team's shared folder); without one, the notebook would try to download.
os.environ.setdefault("KLDIV_LAB_CONFIG", "smoke")
LAB_NOTEBOOK = "08_cifar10_lab.ipynb"


def pytest_collection_modifyitems(config, items) -> None:  # noqa: ANN001 - pytest's hook signature
    import pytest

    if not any(LAB_NOTEBOOK in item.nodeid for item in items):
        return
    source = os.environ.get("KLDIV_CIFAR10", "")
    if not source or not os.path.exists(source):
        raise pytest.UsageError(
            f"chapters/{LAB_NOTEBOOK} runs under nbval on an offline copy of CIFAR-10: set "
            f"KLDIV_CIFAR10 to an image folder or .tar.gz (train/<class>/*.jpg, test/<class>/*.jpg); "
            f"got {source!r}. `make test` sets it to ../shared/data/cifar10-images.tar.gz."
        )
