"""Helpers for the course notebooks (not numerics).

TensorFlow 2.21 writes native log lines (``I0000 00:00:... cudart_stub.cc ...``) straight to the
process's file descriptor 2 while it is imported, before its logging is configured, so neither
``TF_CPP_MIN_LOG_LEVEL`` nor Python's :mod:`warnings` filters reach them. Jupyter stores them as
cell outputs; they carry timestamps and process ids, so they differ on every run and break output
checks such as nbval. The first device discovery logs natively too (``E0000 ... failed call to
cuInit`` on a machine without a GPU). :func:`quiet_native_logs` silences the descriptor for the
duration of a block; the chapters import TensorFlow like this::

    with quiet_native_logs():
        import tensorflow as tf
        import tensorflow_probability as tfp
        tf.config.list_physical_devices()  # device discovery, which also logs natively
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

__all__ = ["quiet_native_logs"]


@contextlib.contextmanager
def quiet_native_logs() -> Iterator[None]:
    """Send what native code writes to file descriptor 2 to ``os.devnull`` inside the block.

    Python-level output (``sys.stderr``, warnings, tracebacks) is unaffected in a Jupyter kernel,
    which replaces ``sys.stderr``; an exception raised inside the block still propagates.

    Examples
    --------
    >>> from kldiv.notebook import quiet_native_logs
    >>> with quiet_native_logs():
    ...     _ = os.write(2, b"native noise\\n")  # nothing reaches the terminal
    """
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
