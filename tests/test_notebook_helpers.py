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
