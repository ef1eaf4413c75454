"""kldiv.notebook.quiet_native_logs keeps TensorFlow's native log lines out of stored outputs."""

from __future__ import annotations

import subprocess
import sys
import textwrap

NATIVE_MARKERS = ("I0000 00:00", "E0000 00:00", "absl::InitializeLog")


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=300)


def test_native_writes_are_silenced_only_inside_the_block() -> None:
    result = run_python(
        """
        import os, sys
        from kldiv.notebook import quiet_native_logs
        with quiet_native_logs():
            os.write(2, b"inside\\n")
        os.write(2, b"after\\n")
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == "after\n"


def test_exceptions_propagate_and_stderr_is_restored() -> None:
    result = run_python(
        """
        import os
        from kldiv.notebook import quiet_native_logs
        try:
            with quiet_native_logs():
                raise KeyError("boom")
        except KeyError:
            os.write(2, b"restored\\n")
        """
    )
    assert result.returncode == 0
    assert result.stderr == "restored\n"


def test_tensorflow_import_prints_nothing_inside_the_block() -> None:
    result = run_python(
        """
        from kldiv.notebook import quiet_native_logs
        with quiet_native_logs():
            import tensorflow as tf
            import tensorflow_probability as tfp
            tf.config.list_physical_devices()  # device discovery logs natively (cuInit) too
        print(tfp.distributions.kl_divergence(
            tfp.distributions.Normal(2.0, 0.5), tfp.distributions.Normal(1.0, 1.0)).numpy())
        """
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert not any(marker in result.stderr for marker in NATIVE_MARKERS), result.stderr[-2000:]
    assert result.stdout.strip() == "0.8181472"


# --- figure_style: 2x figures whose text stays legible when a phone shrinks them ---------------


def test_figure_style_stores_retina_pngs_in_ipython() -> None:
    # Jupyter and Colab run an IPython shell; the inline backend's "retina" format stores PNGs at
    # twice the pixel size with width/height metadata of half of it, so the browser shows them at
    # the same size but sharp. A plain 1x PNG carries no such metadata.
    result = run_python(
        """
        import base64, struct
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from IPython.core.interactiveshell import InteractiveShell
        from kldiv.notebook import figure_style

        shell = InteractiveShell.instance()
        fig, ax = plt.subplots()
        ax.plot([0, 1], [0, 1])
        before = shell.display_formatter.format(fig)[1]
        figure_style()
        data, metadata = shell.display_formatter.format(fig)
        png = data["image/png"]
        png = base64.b64decode(png) if isinstance(png, str) else png
        width, height = struct.unpack(">II", png[16:24])  # the PNG's IHDR chunk
        print(before.get("image/png"), width, height, metadata["image/png"])
        """
    )
    assert result.returncode == 0, result.stderr[-2000:]
    before, width, height, metadata = result.stdout.strip().split(" ", 3)
    assert before == "None"
    assert eval(metadata) == {"width": int(width) // 2, "height": int(height) // 2}  # noqa: S307
    # shown at most the 700 px text column wide (tight bounding box, so a little under 6.4 * 90)
    assert 400 < int(width) // 2 <= 700


def test_figure_style_outside_ipython_only_sets_rcparams() -> None:
    result = run_python(
        """
        import matplotlib as mpl
        from kldiv.notebook import figure_style
        before = mpl.rcParams["xtick.labelsize"]
        assert figure_style() is None  # nothing for a notebook cell to display
        assert (before, mpl.rcParams["xtick.labelsize"]) == ("medium", 14.5), "rcParams not set"
        from IPython import get_ipython
        print(get_ipython())
        """
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "None"


def test_figure_style_text_reads_at_eleven_px_on_a_phone_and_fits_the_column() -> None:
    import matplotlib as mpl

    from kldiv.notebook import FIGURE_DPI, PHONE_COLUMN_PX, figure_style

    figure_style()
    style = mpl.rcParams
    width_in = style["figure.figsize"][0]
    assert width_in * FIGURE_DPI <= 700, "wider than the website's text column"
    # on a phone the figure is shrunk to the column: points -> CSS px at that scale
    for key in ("font.size", "xtick.labelsize", "ytick.labelsize", "legend.fontsize",
                "axes.labelsize", "axes.titlesize"):
        phone_px = style[key] * PHONE_COLUMN_PX / (72 * width_in)
        assert phone_px >= 10.95, f"{key} = {style[key]} pt is {phone_px:.1f} px on a phone"
