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
