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

:func:`figure_style` makes the chapters' figures sharp and legible on every screen: 2x ("retina")
PNGs, at most the text column wide, with text sized relative to the figure so that, shrunk to a
phone's column, tick labels and legends are still about 11 CSS pixels tall. Each chapter calls it
once in its imports cell.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

__all__ = ["figure_style", "quiet_native_logs"]

# The website's text column is 700 CSS px wide at laptop widths and about 350 px on a 390 px phone
# (measured in the built site). A figure is FIGURE_WIDTH inches wide and shown at FIGURE_DPI, i.e.
# 576 px on a laptop, inside the column; on a phone the browser shrinks it to the column, so text of
# s points there is s * PHONE_COLUMN_PX / (72 * FIGURE_WIDTH) px tall. The smallest text (ticks,
# legends) is sized to be MIN_PHONE_TEXT_PX there: 14.5 pt, i.e. 18 px on a laptop.
FIGURE_WIDTH = 6.4  # inches, matplotlib's default width
FIGURE_DPI = 90
PHONE_COLUMN_PX = 350
MIN_PHONE_TEXT_PX = 11.0


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


def figure_style() -> None:
    """Show figures as 2x PNGs with text that stays legible on a phone.

    In IPython (Jupyter, Google Colab) the inline backend is switched to its "retina" format: PNGs
    at twice the pixel density, stored with ``width``/``height`` metadata of half their pixel size,
    so they display at the same size but sharp. Outside IPython (plain Python, a script) only the
    Matplotlib rcParams are set. Figures should be at most :data:`FIGURE_WIDTH` inches wide (the
    default size); narrower ones only make the text relatively larger.

    Examples
    --------
    >>> import matplotlib as mpl
    >>> from kldiv.notebook import PHONE_COLUMN_PX, figure_style
    >>> figure_style()
    >>> width, height = mpl.rcParams["figure.figsize"]
    >>> width, height
    (6.4, 4.0)
    >>> # a tick label, on a phone where the figure is shrunk to the column, in CSS pixels
    >>> round(mpl.rcParams["xtick.labelsize"] * PHONE_COLUMN_PX / (72 * width), 1)
    11.0
    """
    import matplotlib as mpl

    mpl.rcParams.update(_style())
    try:
        from IPython import get_ipython
    except ImportError:  # plain Python without IPython installed
        return
    if get_ipython() is not None:
        from matplotlib_inline.backend_inline import set_matplotlib_formats

        set_matplotlib_formats("retina")


def _style() -> dict[str, object]:
    """The rcParams that :func:`figure_style` sets."""
    small = round(MIN_PHONE_TEXT_PX * 72 * FIGURE_WIDTH / PHONE_COLUMN_PX, 1)  # points
    large = round(small * 1.1, 1)
    style: dict[str, object] = {
        "figure.figsize": (FIGURE_WIDTH, round(FIGURE_WIDTH * 0.625, 2)),
        "figure.dpi": FIGURE_DPI,
        "font.size": small,
        "axes.titlesize": large,
        "axes.labelsize": large,
        "xtick.labelsize": small,
        "ytick.labelsize": small,
        "legend.fontsize": small,
        "figure.titlesize": large,
        # thicker lines and markers, in proportion to the larger text
        "lines.linewidth": 2.0,
        "lines.markersize": 7.0,
        "axes.linewidth": 1.0,
    }
    return style
