"""The Gradescope autograder that ``assignments/kit.py gradescope`` writes, run as Gradescope runs it.

One test, because its set-up is slow: it builds assignment 1, writes its Gradescope zip, unpacks it
into a folder laid out like Gradescope's ``/autograder``, makes a fresh virtual environment from the
zip's ``requirements.txt`` with ``pip`` (network: PyPI; a minute or two), and runs the zip's
``run_autograder`` on submissions, once with the bubblewrap sandbox and once with the fallback for
containers where bubblewrap cannot run (the submission as an unprivileged user, via ``setpriv``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
KIT = ROOT / "assignments" / "kit.py"
# Debian's Python, which an unprivileged user can run (the course's interpreter may live under
# /root); Gradescope's image installs the same package (python3-venv) in setup.sh.
SYSTEM_PYTHON = Path("/usr/bin/python3")

# Tries to read the hidden tests where Gradescope keeps them and reports what it got.
PEEK = """\
import glob, os
_found = []
for _path in glob.glob({root!r} + "/source/**", recursive=True) + [{root!r} + "/source/dist"]:
    try:
        _found.append((_path, len(open(_path, "rb").read())))
    except OSError as e:
        _found.append((_path, type(e).__name__))
_read = [p for p, n in _found if isinstance(n, int)]
raise RuntimeError(f"read {{len(_read)}} files of the autograder: {{_read[:3]}}")
"""


def run(cmd: list[str], timeout: float, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kwargs)
    assert result.returncode == 0, f"{cmd[:3]} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


def processes_of(uid: int) -> list[int]:
    found = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            found += [int(entry)] if os.stat(f"/proc/{entry}").st_uid == uid else []
        except OSError:
            pass
    return found


def test_gradescope_zip_grades_in_a_fresh_venv_with_either_sandbox(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    run([sys.executable, str(KIT), "build", "entropy_kl", "--out", str(dist)], 300, cwd=ROOT)
    run([sys.executable, str(KIT), "gradescope", "entropy_kl", "--out", str(dist)], 120, cwd=ROOT)
    with zipfile.ZipFile(dist / "entropy_kl" / "entropy_kl-gradescope.zip") as zf:
        names = set(zf.namelist())
        requirements = zf.read("requirements.txt").decode()
        assert {"setup.sh", "run_autograder", "kit/kit.py", "kit/sandbox_runner.py",
                "dist/entropy_kl/entropy_kl-autograder.zip"} <= names
        assert "apt-get install -y python3 python3-venv bubblewrap" in zf.read("setup.sh").decode()
        # Gradescope's /autograder, in a folder that an unprivileged user can traverse (pytest's
        # temporary folders are root's only), as the fallback needs to run the venv's Python.
        gradescope = Path(tempfile.mkdtemp(prefix="kit-gradescope-test-"))
        try:
            os.chmod(gradescope, 0o711)
            zf.extractall(gradescope / "source")
        except BaseException:
            shutil.rmtree(gradescope)
            raise
    try:
        pins = dict(line.split("  #")[0].split("==") for line in requirements.splitlines()
                    if not line.startswith("#"))
        course = (ROOT / "requirements.txt").read_text()
        assert set(pins) == {"ipython", "nbformat", "numpy", "scipy"}, pins
        assert f"numpy=={pins['numpy']}" in course and f"scipy=={pins['scipy']}" in course

        run([str(SYSTEM_PYTHON), "-m", "venv", str(gradescope / "venv")], 300)
        run([str(gradescope / "venv" / "bin" / "python"), "-m", "pip", "install", "-q",
             "-r", str(gradescope / "source" / "requirements.txt")], 900)

        reference = nbformat.read(dist / "entropy_kl" / "autograder" / "entropy_kl.ipynb", as_version=4)
        index = next(i for i, c in enumerate(reference.cells) if c.source.strip() == "import numpy as np")
        reference.cells.insert(index + 1, nbformat.v4.new_code_cell(PEEK.format(root=str(gradescope))))
        for sandbox in ("bwrap", "setpriv"):
            shutil.rmtree(gradescope / "submission", ignore_errors=True)
            shutil.rmtree(gradescope / "results", ignore_errors=True)
            (gradescope / "submission").mkdir()
            nbformat.write(reference, gradescope / "submission" / "entropy_kl.ipynb")
            result = run(["bash", str(gradescope / "source" / "run_autograder"), "--sandbox", sandbox],
                         300, env={**os.environ, "AUTOGRADER_ROOT": str(gradescope)})
            expected = "bubblewrap" if sandbox == "bwrap" else "setpriv"
            assert f"entropy_kl: 12 / 12 ({expected} sandbox)" in result.stdout
            results = json.loads((gradescope / "results" / "results.json").read_text())
            assert results["score"] == 12
            assert [(t["name"], t["score"], t["max_score"]) for t in results["tests"]] == [
                ("q1", 3, 3), ("q2", 3, 3), ("q3", 4, 4), ("q4", 2, 2)]
            # The submission's code could read none of the autograder's files.
            assert "RuntimeError: read 0 files of the autograder" in results["output"], results["output"]
            assert not processes_of(64123), "a process of the fallback's sandbox user survived"
    finally:
        shutil.rmtree(gradescope, ignore_errors=True)
