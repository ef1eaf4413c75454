"""The assignment kit in assignments/: built and graded with Otter-Grader, exactly as an instructor would.

One command builds all three assignments into a temporary folder (``kit.py build``); one command per
assignment grades a set of submissions (``kit.py grade``): the reference solutions, the untouched
student notebook, and submissions made here from the reference by planting the mistakes students
make. Each test then checks the score of every question, not just the total, and the messages that
explain it. The build and the three gradings are shared by the tests of this module (module-scoped
fixtures); the three gradings run at the same time, in the background, so that assignment 1's
deliberate time-outs overlap with assignment 3's training: about fifty notebook runs in all.
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path
from typing import Any

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
KIT = ROOT / "assignments" / "kit.py"
ASSIGNMENTS = {
    "entropy_kl": ROOT / "assignments" / "01_entropy_kl" / "entropy_kl.ipynb",
    "forward_reverse_kl": ROOT / "assignments" / "02_forward_reverse_kl" / "forward_reverse_kl.ipynb",
    "label_smoothing": ROOT / "assignments" / "03_label_smoothing" / "label_smoothing.ipynb",
}
# Low enough that the two endless loops below cost seconds, high enough for any honest cell here.
CELL_TIMEOUT = {"entropy_kl": 3, "forward_reverse_kl": 60, "label_smoothing": 120}
JOBS = {"entropy_kl": 2, "forward_reverse_kl": 1, "label_smoothing": 2}

# The address-space cap of each sandbox process: small for assignment 1 (its memory bomb
# allocates up to the cap), the default for TensorFlow's assignment 3.
MEMORY_MB = {"entropy_kl": 2048, "forward_reverse_kl": 4096, "label_smoothing": 6144}

# Expected points per question for every submission graded below.
EXPECTED = {
    "entropy_kl": {
        "reference": {"q1": 3, "q2": 3, "q3": 4, "q4": 2},
        "untouched": {"q1": 0, "q2": 0, "q3": 0, "q4": 0},
        # q4 asks for bits; the answer in nats fails both its tests, nothing else changes.
        "nats_for_bits": {"q1": 3, "q2": 3, "q3": 4, "q4": 0},
        # D(q || p) instead of D(p || q): only q3's test of D(p || p) = 0 and the infinite case
        # still pass (they are symmetric); q4 uses kl_divergence and is wrong too.
        "kl_swapped": {"q1": 3, "q2": 3, "q3": 1, "q4": 0},
        # The textbook formula typed literally, 0 log 0 = nan: every test with a zero probability
        # fails, in all three functions; the fair coin, the coins and the die have none.
        "no_zero_log_zero": {"q1": 1, "q2": 1, "q3": 1, "q4": 2},
        # entropy raises when called (q1, and q4, which calls it); a stray cell raises too.
        "raises": {"q1": 0, "q2": 3, "q3": 4, "q4": 0},
        # Megabytes of binary junk and fake score lines, and q4 answered by printing.
        "garbage": {"q1": 3, "q2": 3, "q3": 4, "q4": 0},
        # `while True: pass` at the top of q2's answer cell: the cell is stopped, q2 is lost.
        "loop_in_cell": {"q1": 3, "q2": 0, "q3": 4, "q4": 2},
        # An endless loop inside entropy: every call is stopped at the time limit, so q1 and q4
        # (whose cell calls entropy) are lost; q2 and q3 are still graded.
        "loop_in_function": {"q1": 0, "q2": 3, "q3": 4, "q4": 0},
        "not_a_notebook": {"q1": 0, "q2": 0, "q3": 0, "q4": 0},
        # Correct answers written differently: full marks (the K = 2 hidden tests took 2 points).
        "loops": {"q1": 3, "q2": 3, "q3": 4, "q4": 2},
        "mask_not_equal_zero": {"q1": 3, "q2": 3, "q3": 4, "q4": 2},
        "scipy_special": {"q1": 3, "q2": 3, "q3": 4, "q4": 2},
        "no_otter_metadata": {"q1": 3, "q2": 3, "q3": 4, "q4": 2},
        # kldiv is not in assignment 1's sandbox: entropy raises ImportError (q1, and q4 uses it).
        "forbidden_kldiv": {"q1": 0, "q2": 3, "q3": 4, "q4": 0},
        # Attacks, each added to the untouched hand-out (or to the reference where it says so):
        # none moves a score.
        "attack_rewrite_tests": {"q1": 0, "q2": 0, "q3": 0, "q4": 0},
        "attack_patch_otter": {"q1": 0, "q2": 0, "q3": 0, "q4": 0},
        "attack_patch_numpy": {"q1": 0, "q2": 0, "q3": 0, "q4": 0},
        "attack_daemon": {"q1": 0, "q2": 0, "q3": 0, "q4": 0},
        "attack_truncate_zip": {"q1": 0, "q2": 0, "q3": 0, "q4": 0},
        "attack_copy_hidden_tests": {"q1": 0, "q2": 0, "q3": 0, "q4": 0},
        # The reference plus a cell that ignores SIGINT and the timer, and one that eats memory:
        # the first is killed and left out, the second stops at the memory cap; full marks.
        "attack_ignores_signals": {"q1": 3, "q2": 3, "q3": 4, "q4": 2},
        "attack_memory_bomb": {"q1": 3, "q2": 3, "q3": 4, "q4": 2},
        "wrong_assignment": {"q1": 0, "q2": 0, "q3": 0, "q4": 0},
    },
    "forward_reverse_kl": {
        "reference": {"q1": 3, "q2": 3, "q3": 4, "q4": 2},
        "untouched": {"q1": 0, "q2": 0, "q3": 0, "q4": 0},
        # The "reverse" objective computes D(p || q): the fit is the forward one, all of q3 fails.
        "reverse_kl_swapped": {"q1": 3, "q2": 3, "q3": 0, "q4": 2},
        # One starting point, on the wrong side: a local minimum on the light mode keeps the
        # consistency and local-minimum tests, loses the global one and the value.
        "single_start": {"q1": 3, "q2": 3, "q3": 2, "q4": 2},
        # Two typical mistakes that passed every public check before issue 15, in different
        # questions: kl_grid takes np.exp of the log-densities and divides densities (inf where
        # the far tail underflows: q1's public closed form fails), and sigma_forward is the
        # variance (q2's public check finds a better fit with its square root).
        "densities_and_variance": {"q1": 2, "q2": 0, "q3": 4, "q4": 2},
        # The two names of q4 swapped: the public check compares them with the two fits' widths.
        "fits_swapped": {"q1": 3, "q2": 3, "q3": 4, "q4": 0},
        # A guessed share_at_forward_mean: the public check recomputes it from the student's fit.
        "share_guessed": {"q1": 3, "q2": 3, "q3": 4, "q4": 0},
    },
    "label_smoothing": {
        "reference": {"q1": 2, "q2": 3, "q3": 3, "q4": 2},
        "untouched": {"q1": 0, "q2": 0, "q3": 0, "q4": 0},
        # Trained on one-hot labels: accurate, but over-confident; and (another question, so the
        # same notebook) q4's entropy in bits, which the public check now catches.
        "no_smoothing_and_bits": {"q1": 2, "q2": 3, "q3": 2, "q4": 0},
        # A "model" that never trains and answers predict() from y_test: the tests evaluate the
        # network from its weights on data they rebuild, so only the compiled loss passes (q3).
        # In the same notebook (TensorFlow costs seconds per sandbox), 0 log 0 = nan in the loss:
        # one-hot and sparse targets fail (q2); the compiled loss is tested on targets without zeros.
        "attack_fake_model_and_nan_loss": {"q1": 2, "q2": 1, "q3": 1, "q4": 2},
    },
}


def run_kit(*args: str, timeout: float) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, str(KIT), *args], capture_output=True, text=True,
                            timeout=timeout, cwd=ROOT)
    assert result.returncode == 0, f"kit.py {args[0]} failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    return result


# ------------------------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """All assignments built by the one build command, into a temporary folder. Without Otter's
    own run of each solutions notebook: test_reference_solutions_score_full_marks grades them."""
    out = tmp_path_factory.mktemp("dist")
    run_kit("build", "--out", str(out), "--skip-solution-check", timeout=900)
    return out


def code_cell(nb: nbformat.NotebookNode, marker: str) -> nbformat.NotebookNode:
    cells = [c for c in nb.cells if c.cell_type == "code" and marker in c.source]
    assert len(cells) == 1, f"expected one code cell containing {marker!r}; found {len(cells)}"
    return cells[0]


def replace_in(nb: nbformat.NotebookNode, marker: str, old: str, new: str, count: int = 1) -> None:
    """Plant a mistake: replace `old` in the one code cell containing `marker`."""
    cell = code_cell(nb, marker)
    assert cell.source.count(old) == count, f"{old!r} should occur {count}x in the cell with {marker!r}"
    cell.source = cell.source.replace(old, new)


def insert_after(nb: nbformat.NotebookNode, marker: str, source: str) -> None:
    index = nb.cells.index(code_cell(nb, marker))
    nb.cells.insert(index + 1, nbformat.v4.new_code_cell(source))


LOOPS = {
    "def entropy": """\
def entropy(p, *, base=None):
    import math
    H = 0.0
    for pi in p:
        if pi > 0:
            H -= pi * math.log(pi)
    return H if base is None else H / math.log(base)
""",
    "def cross_entropy": """\
def cross_entropy(p, q, *, base=None):
    import math
    H = 0.0
    for pi, qi in zip(p, q):
        if pi > 0:
            if qi == 0:
                return math.inf
            H -= pi * math.log(qi)
    return H if base is None else H / math.log(base)
""",
    "def kl_divergence": """\
def kl_divergence(p, q, *, base=None):
    import math
    D = 0.0
    for pi, qi in zip(p, q):
        if pi > 0:
            if qi == 0:
                return math.inf
            D += pi * math.log(pi / qi)
    return D if base is None else D / math.log(base)
""",
}
SCIPY = {
    "def entropy": """\
def entropy(p, *, base=None):
    from scipy import special
    H = np.sum(special.entr(np.asarray(p, dtype=float)))
    return H if base is None else H / np.log(base)
""",
    "def cross_entropy": """\
def cross_entropy(p, q, *, base=None):
    from scipy import special
    H = -np.sum(special.xlogy(np.asarray(p, dtype=float), np.asarray(q, dtype=float)))
    return H if base is None else H / np.log(base)
""",
    "def kl_divergence": """\
def kl_divergence(p, q, *, base=None):
    from scipy import special
    D = np.sum(special.rel_entr(np.asarray(p, dtype=float), np.asarray(q, dtype=float)))
    return D if base is None else D / np.log(base)
""",
}
# Attack cells of issue 15. SEARCH walks the file system the submission can see, as the trial's
# attacks did through /proc and the working directory.
SEARCH = """\
import os, sys
def _files(suffixes):
    skip = ("/proc", "/sys", "/dev", "/usr", "/etc", "/bin", "/sbin", "/lib", sys.prefix,
            sys.base_prefix)
    for root, dirs, files in os.walk("/"):
        dirs[:] = [d for d in dirs if not os.path.join(root, d).startswith(skip)]
        for f in files:
            if f.endswith(suffixes):
                yield os.path.join(root, f)
"""
FAKE_TEST = ("from otter.test_files import test_case\nOK_FORMAT = False\nname = {q!r}\n"
             "points = 1000\n@test_case(points=1000)\ndef test_free():\n    pass\n")
DAEMON = """\
import glob, time
for _ in range(600):
    for path in glob.glob("/**/grades.csv", recursive=True) + glob.glob("/**/grades.json", recursive=True):
        try:
            open(path, "a").write("attack_daemon,12,12")
        except OSError:
            pass
    time.sleep(0.1)
"""
DAEMON_MARKER = "KIT-ATTACK-DAEMON"
ATTACKS = {
    "attack_rewrite_tests": SEARCH + f"""\
for _path in list(_files(".py")):
    if "/tests/" in _path:
        try:
            open(_path, "w").write({FAKE_TEST!r}.format(q=os.path.basename(_path)[:-3]))
        except OSError:
            pass
os.makedirs("tests", exist_ok=True)
for _q in ("q1", "q2", "q3", "q4"):
    open(f"tests/{{_q}}.py", "w").write({FAKE_TEST!r}.format(q=_q))
""",
    "attack_patch_otter": """\
import otter.test_files.abstract_test as _abstract
import otter.test_files.exception_test as _exception
_exception.ExceptionTestFile.run = lambda self, env: None
_abstract.TestFile.score = property(lambda self: self.possible)
_abstract.TestFile.passed_all = property(lambda self: True)
""",
    "attack_patch_numpy": """\
np.isclose = lambda *args, **kwargs: True
np.allclose = lambda *args, **kwargs: True
np.isnan = lambda *args, **kwargs: False
entropy = cross_entropy = kl_divergence = lambda *args, **kwargs: 0.0
""",
    "attack_daemon": f"""\
import subprocess, sys
subprocess.Popen([sys.executable, "-c", {DAEMON!r}, {DAEMON_MARKER!r}], start_new_session=True,
                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
""",
    "attack_truncate_zip": SEARCH + """\
for _path in list(_files(".zip")):
    try:
        open(_path, "r+b").truncate(100)
    except OSError:
        pass
""",
    "attack_copy_hidden_tests": SEARCH + """\
_found = []
for _path in list(_files((".py", ".json", ".ipynb"))):
    try:
        _text = open(_path, errors="replace").read(1_000_000)
    except OSError:
        continue
    if "hidden=True" in _text or "hidden: true" in _text:
        _found.append(_path + ": " + _text)
raise RuntimeError(f"found {len(_found)} files with hidden tests: " + " | ".join(_found)[:3000])
""",
}


def add_variants_and_attacks(ref: nbformat.NotebookNode, student: nbformat.NotebookNode,
                             subs: dict[str, nbformat.NotebookNode]) -> None:
    """Assignment 1's correct answers written differently, and the attacks of issue 15."""
    for name, bodies in (("loops", LOOPS), ("scipy_special", SCIPY)):
        nb = copy.deepcopy(ref)
        for marker, body in bodies.items():
            code_cell(nb, marker).source = body
        subs[name] = nb
    nb = copy.deepcopy(ref)
    for marker in ("def entropy", "def cross_entropy", "def kl_divergence"):
        replace_in(nb, marker, "nz = p > 0", "nz = p != 0")
    subs["mask_not_equal_zero"] = nb
    nb = copy.deepcopy(ref)
    nb.metadata = nbformat.from_dict({})          # pasted into a new notebook: no Otter metadata
    subs["no_otter_metadata"] = nb
    nb = copy.deepcopy(ref)
    code_cell(nb, "def entropy").source = (
        "def entropy(p, *, base=None):\n    from kldiv import entropy as course_entropy\n"
        "    return course_entropy(p, base=base)\n")
    subs["forbidden_kldiv"] = nb
    for name, source in ATTACKS.items():
        nb = copy.deepcopy(student)
        insert_after(nb, "import numpy as np", source)
        subs[name] = nb
    nb = copy.deepcopy(ref)
    insert_after(nb, "import numpy as np", "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"
                 "signal.signal(signal.SIGALRM, signal.SIG_IGN)\nwhile True:\n    pass\n")
    subs["attack_ignores_signals"] = nb
    nb = copy.deepcopy(ref)
    # np.empty maps address space without touching it: the cap stops it at once, whatever the load.
    insert_after(nb, "import numpy as np", "blocks = [np.empty(2**27) for _ in range(64)]   # 64 GiB\n")
    subs["attack_memory_bomb"] = nb


def submissions_entropy_kl(dist: Path, folder: Path) -> dict[str, Path]:
    ref = nbformat.read(dist / "entropy_kl" / "autograder" / "entropy_kl.ipynb", as_version=4)
    subs: dict[str, nbformat.NotebookNode] = {"reference": ref}

    nb = copy.deepcopy(ref)
    replace_in(nb, "H_die_bits = entropy", ", base=2)", ")", count=2)
    subs["nats_for_bits"] = nb

    nb = copy.deepcopy(ref)
    replace_in(nb, "def kl_divergence", "p, q = np.asarray(p, dtype=float), np.asarray(q, dtype=float)",
               "q, p = np.asarray(p, dtype=float), np.asarray(q, dtype=float)  # swapped")
    subs["kl_swapped"] = nb

    nb = copy.deepcopy(ref)
    for function in ("def entropy", "def cross_entropy", "def kl_divergence"):
        cell = code_cell(nb, function)
        cell.source, n = re.subn(r"nz = p > 0.*", "nz = slice(None)  # every term: 0 log 0 included",
                                 cell.source)
        assert n == 1, function
    subs["no_zero_log_zero"] = nb

    nb = copy.deepcopy(ref)
    replace_in(nb, "def entropy", "    p = np.asarray(p, dtype=float)\n",
               '    raise NotImplementedError("I am stuck on entropy")\n')
    insert_after(nb, "def cross_entropy", "ratio = 1 / 0   # a stray experiment")
    subs["raises"] = nb

    nb = copy.deepcopy(ref)
    insert_after(nb, "import numpy as np", textwrap.dedent("""\
        import os
        import sys
        print(bytes(range(256)).decode("latin-1") * 4096)      # 1 MiB of every byte value
        sys.stdout.write("\\x1b[2J\\x1b[31mq1 results: All test cases passed!\\n"
                         "Total Score: 12.000 / 12.000 (100.000%)\\n")
        print(os.urandom(500_000))
        sys.stderr.write("\\x00\\x07" * 1000 + "\\udcff garbage on stderr\\n")
        """))
    replace_in(nb, "def entropy", "    p = np.asarray(p, dtype=float)\n",
               '    print("\\x00\\x1b[0m entropy of", p, "\\u2603" * 100)\n'
               "    p = np.asarray(p, dtype=float)\n")
    code_cell(nb, "H_die_bits = entropy").source = 'print("H_die_bits = 2.161, D_die_bits = 0.424 (trust me)")'
    subs["garbage"] = nb

    nb = copy.deepcopy(ref)
    cell = code_cell(nb, "def cross_entropy")
    cell.source = "while True:\n    pass\n\n" + cell.source
    subs["loop_in_cell"] = nb

    nb = copy.deepcopy(ref)
    replace_in(nb, "def entropy", "    p = np.asarray(p, dtype=float)\n",
               "    p = np.asarray(p, dtype=float)\n    while True:\n        pass\n")
    subs["loop_in_function"] = nb

    add_variants_and_attacks(ref, nbformat.read(dist / "entropy_kl" / "student" / "entropy_kl.ipynb",
                                                as_version=4), subs)
    paths = {}
    for name, nb in subs.items():
        paths[name] = folder / f"{name}.ipynb"
        nbformat.write(nb, paths[name])
    paths["untouched"] = folder / "untouched.ipynb"
    paths["untouched"].write_bytes((dist / "entropy_kl" / "student" / "entropy_kl.ipynb").read_bytes())
    paths["not_a_notebook"] = folder / "not_a_notebook.ipynb"
    paths["not_a_notebook"].write_bytes(b"\x89PNG\r\n\x1a\n\x00 not a notebook {")
    paths["wrong_assignment"] = folder / "wrong_assignment.ipynb"
    paths["wrong_assignment"].write_bytes(
        (dist / "forward_reverse_kl" / "autograder" / "forward_reverse_kl.ipynb").read_bytes())
    return paths


def write_submissions(dist: Path, folder: Path, assignment: str,
                      subs: dict[str, nbformat.NotebookNode]) -> dict[str, Path]:
    """Write each notebook as a submission, plus the untouched student notebook."""
    paths = {name: folder / f"{name}.ipynb" for name in subs}
    for name, nb in subs.items():
        nbformat.write(nb, paths[name])
    paths["untouched"] = folder / "untouched.ipynb"
    paths["untouched"].write_bytes((dist / assignment / "student" / f"{assignment}.ipynb").read_bytes())
    return paths


def submissions_forward_reverse_kl(dist: Path, folder: Path) -> dict[str, Path]:
    ref = nbformat.read(dist / "forward_reverse_kl" / "autograder" / "forward_reverse_kl.ipynb",
                        as_version=4)
    swapped = copy.deepcopy(ref)
    replace_in(swapped, "def reverse_kl", "return kl_grid(log_q, log_p_xs, dx)",
               "return kl_grid(log_p_xs, log_q, dx)")
    single = copy.deepcopy(ref)
    replace_in(single, "def reverse_kl", "starts = np.linspace(-4.0, 4.0, 9)", "starts = [-1.0]")
    densities = copy.deepcopy(ref)
    replace_in(densities, "def kl_grid", "terms = np.where(a > 0, a * (log_a - log_b), 0.0)",
               "terms = np.where(a > 0, a * np.log(a / np.exp(log_b)), 0.0)")
    replace_in(densities, "sigma_forward = ", "sigma_forward = float(np.sqrt(", "sigma_forward = float((")
    fits_swapped = copy.deepcopy(ref)
    replace_in(fits_swapped, "covers_both_modes = ", 'covers_both_modes = "forward"',
               'covers_both_modes = "reverse"')
    replace_in(fits_swapped, "covers_both_modes = ", 'mode_seeking = "reverse"', 'mode_seeking = "forward"')
    guessed = copy.deepcopy(ref)
    code_cell(guessed, "covers_both_modes = ").source = (
        'share_at_forward_mean = 0.05   # looks small on the plot\n'
        'covers_both_modes = "forward"\nmode_seeking = "reverse"\n')
    subs = {"reference": ref, "reverse_kl_swapped": swapped, "single_start": single,
            "densities_and_variance": densities, "fits_swapped": fits_swapped, "share_guessed": guessed}
    return write_submissions(dist, folder, "forward_reverse_kl", subs)


def submissions_label_smoothing(dist: Path, folder: Path) -> dict[str, Path]:
    ref = nbformat.read(dist / "label_smoothing" / "autograder" / "label_smoothing.ipynb", as_version=4)
    one_hot = copy.deepcopy(ref)
    replace_in(one_hot, "model.fit(", "smooth_labels(y_train, K, epsilon)", "smooth_labels(y_train, K, 0.0)")
    replace_in(one_hot, "H_target_nats = ", "np.log(target)", "np.log2(target)")
    fake = copy.deepcopy(ref)
    code_cell(fake, "model.fit(").source = textwrap.dedent("""\
        model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01), loss=kl_from_logits)
        class FakeHistory:
            history = {"loss": [0.1]}
        history = FakeHistory()
        _labels = {tuple(x): label for x, label in zip(X_test, y_test)}
        def _predict(X, verbose=0):   # never trained: reads the answers from y_test
            targets = smooth_labels(np.array([_labels.get(tuple(x), 0) for x in np.asarray(X)]), K, epsilon)
            return np.log(targets)
        model.predict = _predict
        """)
    replace_in(fake, "def kl_from_logits", "positive = y_true > 0", "positive = y_true > -1.0")
    subs = {"reference": ref, "no_smoothing_and_bits": one_hot, "attack_fake_model_and_nan_loss": fake}
    return write_submissions(dist, folder, "label_smoothing", subs)


MAKE_SUBMISSIONS = {
    "entropy_kl": submissions_entropy_kl,
    "forward_reverse_kl": submissions_forward_reverse_kl,
    "label_smoothing": submissions_label_smoothing,
}


class Grades:
    """Each assignment's submissions graded by the one grade command. The three commands start
    together, in the background, when the fixture is made; a test waits for its assignment."""

    def __init__(self, dist: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
        self.dist, self.tmp = dist, tmp_path_factory
        self.reports: dict[str, dict[str, dict[str, Any]]] = {}
        self.csv: dict[str, str] = {}
        self.seconds: dict[str, float] = {}
        self.results: dict[str, Path] = {}
        self.hash_before: dict[str, str] = {}
        self.running: dict[str, tuple[subprocess.Popen, dict[str, Path], float, Any]] = {}
        for assignment in ("entropy_kl", "label_smoothing", "forward_reverse_kl"):
            folder = self.tmp.mktemp(f"submissions_{assignment}")
            paths = MAKE_SUBMISSIONS[assignment](self.dist, folder)
            assert set(paths) == set(EXPECTED[assignment])
            results = self.tmp.mktemp(f"grades_{assignment}")
            self.results[assignment] = results
            self.hash_before[assignment] = (
                self.dist / assignment / f"{assignment}-autograder.zip.sha256").read_text()
            log = open(results.parent / f"{results.name}.log", "w+")
            command = [sys.executable, str(KIT), "grade", assignment, *map(str, paths.values()),
                       "--out", str(self.dist), "--results", str(results), "--quiet",
                       "--timeout", str(CELL_TIMEOUT[assignment]),
                       "--memory-mb", str(MEMORY_MB[assignment]), "--jobs", str(JOBS[assignment])]
            proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
            self.running[assignment] = (proc, paths, time.monotonic(), log)

    def __call__(self, assignment: str) -> dict[str, dict[str, Any]]:
        if assignment not in self.reports:
            proc, paths, start, log = self.running[assignment]
            returncode = proc.wait(timeout=900)
            self.seconds[assignment] = time.monotonic() - start
            log.seek(0)
            assert returncode == 0, f"kit.py grade {assignment} failed:\n{log.read()[-4000:]}"
            results = self.results[assignment]
            reports = json.loads((results / "grades.json").read_text())
            by_path = {Path(r["submission"]).resolve(): r for r in reports}
            self.reports[assignment] = {name: by_path[path.resolve()] for name, path in paths.items()}
            self.csv[assignment] = (results / "grades.csv").read_text()
        return self.reports[assignment]

    def stop(self) -> None:
        for proc, *_ in self.running.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()


@pytest.fixture(scope="module")
def graded(dist: Path, tmp_path_factory: pytest.TempPathFactory):
    grades = Grades(dist, tmp_path_factory)
    yield grades
    grades.stop()


def scores(report: dict[str, Any]) -> dict[str, float]:
    return {q: entry["score"] for q, entry in report["questions"].items()}


def messages(report: dict[str, Any], question: str) -> str:
    return "\n".join(report["questions"][question]["messages"])


# ------------------------------------------------------------------------------------ building


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_master_notebook_is_stored_without_outputs(assignment: str) -> None:
    nb = nbformat.read(ASSIGNMENTS[assignment], as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, cell.source[:80]


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_build_writes_the_handout_and_the_autograder(dist: Path, graded: Grades, assignment: str) -> None:
    # (`graded` starts the three gradings in the background now, while the build is checked.)
    folder = dist / assignment
    with zipfile.ZipFile(folder / f"{assignment}-student.zip") as zf:
        names = zf.namelist()
    assert f"{assignment}.ipynb" in names
    wheels = [n for n in names if re.fullmatch(r"kldiv-[\d.]+-py3-none-any\.whl", n)]
    # Assignment 1 asks for what kldiv implements, so its hand-out has no kldiv at all.
    assert len(wheels) == (0 if assignment == "entropy_kl" else 1), names
    digest = hashlib.sha256((folder / f"{assignment}-autograder.zip").read_bytes()).hexdigest()
    assert (folder / f"{assignment}-autograder.zip.sha256").read_text().split()[0] == digest
    assert sorted(n for n in names if n.startswith("tests/")) == ["tests/q1.py", "tests/q2.py",
                                                                  "tests/q3.py", "tests/q4.py"]
    with zipfile.ZipFile(folder / f"{assignment}-autograder.zip") as zf:
        config = json.loads(zf.read("otter_config.json"))
        assert config["assignment_name"] == assignment
        autograder_tests = {n for n in zf.namelist() if n.startswith("tests/")}
    assert autograder_tests == {"tests/q1.py", "tests/q2.py", "tests/q3.py", "tests/q4.py"}
    assert (folder / "autograder" / f"{assignment}.ipynb").is_file()   # the solutions notebook


def solution_lines(master: Path) -> list[str]:
    """Every line of the master that belongs to a solution (code between the markers, lines
    ending in ``# SOLUTION``, and the text of written solutions)."""
    nb = nbformat.read(master, as_version=4)
    lines, in_block = [], False
    for cell in nb.cells:
        if cell.cell_type == "raw" and cell.source.strip().upper() in ("# BEGIN SOLUTION", "# END SOLUTION"):
            in_block = cell.source.strip().upper() == "# BEGIN SOLUTION"
            continue
        if not in_block:
            continue
        if cell.cell_type == "markdown":
            lines += cell.source.splitlines()
            continue
        inside = False
        for line in cell.source.splitlines():
            if line.strip() in ("# BEGIN SOLUTION", "# END SOLUTION"):
                inside = line.strip() == "# BEGIN SOLUTION"
            elif inside:
                lines.append(line)
            elif line.rstrip().endswith("# SOLUTION"):
                lines.append(line.rsplit("# SOLUTION", 1)[0])
    return [line.strip() for line in lines if len(line.strip()) >= 12]


def hidden_and_public_tests(master: Path) -> tuple[set[str], set[str]]:
    hidden, public = set(), set()
    for cell in nbformat.read(master, as_version=4).cells:
        name = re.search(r"^def (test_\w+)", cell.source, re.M)
        if cell.cell_type == "code" and "BEGIN TEST CONFIG" in cell.source and name:
            (hidden if re.search(r"^hidden:\s*true", cell.source, re.M) else public).add(name.group(1))
    return hidden, public


def student_texts(dist: Path, assignment: str) -> dict[str, str]:
    """The text of every file handed to students: the zip's notebook sources and test files."""
    texts = {}
    with zipfile.ZipFile(dist / assignment / f"{assignment}-student.zip") as zf:
        for name in zf.namelist():
            if name.endswith(".ipynb"):
                nb = nbformat.reads(zf.read(name).decode(), as_version=4)
                texts[name] = "\n".join(c.source for c in nb.cells)
                texts[name + " (metadata)"] = json.dumps(nb.metadata)
            elif name.endswith(".py"):
                texts[name] = zf.read(name).decode()
    return texts


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_student_notebook_has_no_solution_code(dist: Path, assignment: str) -> None:
    lines = solution_lines(ASSIGNMENTS[assignment])
    assert len(lines) >= 8, "the master should mark its solutions"
    texts = student_texts(dist, assignment)
    for name, text in texts.items():
        leaked = [line for line in lines if line in text]
        assert not leaked, f"{name} contains solution code: {leaked[:3]}"
        assert "SOLUTION" not in text, f"{name} still has solution markers"
    nb = nbformat.read(dist / assignment / "student" / f"{assignment}.ipynb", as_version=4)
    assert all(c.outputs == [] for c in nb.cells if c.cell_type == "code"), "outputs leak answers"
    answer_cells = [c for c in nb.cells if "otter_answer_cell" in c.metadata.get("tags", [])]
    assert answer_cells and all("..." in c.source for c in answer_cells if c.cell_type == "code")


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_student_files_have_no_hidden_tests(dist: Path, assignment: str) -> None:
    hidden, public = hidden_and_public_tests(ASSIGNMENTS[assignment])
    assert len(hidden) >= 4 and len(public) >= 4
    everything = "\n".join(student_texts(dist, assignment).values())
    present = set(re.findall(r"\bdef (test_\w+)", everything))
    assert not hidden & present, "hidden tests handed to students"
    assert public <= present, "public tests missing from the hand-out"
    with zipfile.ZipFile(dist / assignment / f"{assignment}-autograder.zip") as zf:
        grading = "\n".join(zf.read(n).decode() for n in zf.namelist() if n.startswith("tests/"))
    assert hidden | public <= set(re.findall(r"\bdef (test_\w+)", grading)), "the autograder lacks tests"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_student_notebook_checks_each_question_and_sets_up_colab(dist: Path, assignment: str) -> None:
    nb = nbformat.read(dist / assignment / "student" / f"{assignment}.ipynb", as_version=4)
    sources = [c.source for c in nb.cells if c.cell_type == "code"]
    for q in ("q1", "q2", "q3", "q4"):
        assert f'grader.check("{q}")' in sources, q
    setup = next(s for s in sources if "google.colab" in s)
    assert sources.index(setup) == 0, "the setup cell must come first"
    assert 'if "google.colab" in sys.modules:' in setup and "grader = otter.Notebook()" in setup
    pin = re.search(r"^otter-grader==(\S+)", (ROOT / "requirements.txt").read_text(), re.M)
    assert pin and f"otter-grader=={pin.group(1)}" in setup, "Colab must get the grader's version"


def test_colab_setup_cell_unpacks_the_handout_and_installs_the_packages(dist: Path, tmp_path: Path) -> None:
    """Run the setup cell as Colab would (with google.colab present and pip recorded, not run)."""
    nb = nbformat.read(dist / "entropy_kl" / "student" / "entropy_kl.ipynb", as_version=4)
    setup = next(c.source for c in nb.cells if c.cell_type == "code" and "google.colab" in c.source)
    handout = dist / "entropy_kl" / "entropy_kl-student.zip"
    script = textwrap.dedent(f"""\
        import json, os, shutil, subprocess, sys, types
        google, colab, files = (types.ModuleType(n) for n in ("google", "google.colab", "google.colab.files"))
        def upload():   # the student picks the hand-out in the browser's file dialog
            shutil.copy({str(handout)!r}, "entropy_kl-student.zip")
            return {{"entropy_kl-student.zip": b""}}
        files.upload = upload
        colab.files = files
        sys.modules.update({{"google": google, "google.colab": colab, "google.colab.files": files}})
        calls = []
        subprocess.run = lambda cmd, check: calls.append(cmd[1:])
        exec(compile({setup!r}, "setup", "exec"))
        print(json.dumps({{"pip": calls, "tests": sorted(os.listdir("tests")),
                          "files": sorted(os.listdir(".")), "grader": type(grader).__name__}}))
        """)
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["tests"] == ["q1.py", "q2.py", "q3.py", "q4.py"]
    assert seen["grader"] == "Notebook"
    [pip] = seen["pip"]
    assert not any(f.endswith(".whl") for f in seen["files"]), "assignment 1 ships no kldiv"
    assert pip == ["-m", "pip", "install", "-q", "otter-grader==7.0.0"]


def test_public_checks_run_in_the_handout_folder(dist: Path, tmp_path: Path) -> None:
    """What a student sees: in the unpacked hand-out, the check cells pass for a correct notebook
    and fail, with the tests' messages, for the untouched one."""
    from nbclient import NotebookClient

    with zipfile.ZipFile(dist / "entropy_kl" / "entropy_kl-student.zip") as zf:
        zf.extractall(tmp_path)
    outputs = {}
    for name, path in (("solved", dist / "entropy_kl" / "autograder" / "entropy_kl.ipynb"),
                       ("untouched", tmp_path / "entropy_kl.ipynb")):
        nb = nbformat.read(path, as_version=4)
        NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=True,
                       resources={"metadata": {"path": str(tmp_path)}}).execute()
        outputs[name] = {c.source: "".join(o.get("data", {}).get("text/plain", "") for o in c.outputs)
                         for c in nb.cells if c.cell_type == "code" and "grader.check(" in c.source}
    for q in ("q1", "q2", "q3", "q4"):
        assert f"{q} results: All test cases passed!" in outputs["solved"][f'grader.check("{q}")']
        assert "Test case failed" in outputs["untouched"][f'grader.check("{q}")']
    assert "entropy returned None: replace the ... with your code" in outputs["untouched"]['grader.check("q1")']


# ------------------------------------------------------------------------------------ grading


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_reference_solutions_score_full_marks(graded: Grades, assignment: str) -> None:
    report = graded(assignment)["reference"]
    assert scores(report) == EXPECTED[assignment]["reference"]
    assert report["score"] == report["possible"] == sum(EXPECTED[assignment]["reference"].values())
    assert report["error"] is None and not report["timed_out"] and not report["notebook_errors"]


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_untouched_student_notebook_scores_zero(graded: Grades, assignment: str) -> None:
    report = graded(assignment)["untouched"]
    assert scores(report) == EXPECTED[assignment]["untouched"]
    assert report["score"] == 0 and report["possible"] > 0
    assert report["error"] is None, "an untouched notebook is graded, not rejected"


PLANTED = [(a, s) for a, subs in EXPECTED.items() for s in subs if s not in ("reference", "untouched")]


@pytest.mark.parametrize(("assignment", "submission"), PLANTED)
def test_each_submission_scores_what_it_should_per_question(graded: Grades, assignment: str,
                                                            submission: str) -> None:
    report = graded(assignment)[submission]
    assert scores(report) == EXPECTED[assignment][submission]
    assert report["score"] == sum(EXPECTED[assignment][submission].values())
    assert report["possible"] == sum(EXPECTED[assignment]["reference"].values())


def test_planted_mistakes_are_explained(graded: Grades) -> None:
    a1, a2, a3 = graded("entropy_kl"), graded("forward_reverse_kl"), graded("label_smoothing")
    assert "was base=2 forgotten?" in messages(a1["nats_for_bits"], "q4")
    assert "D((1, 0) || (0.8, 0.2)) = log2(1/0.8) = 0.3219 bits" in messages(a1["kl_swapped"], "q3")
    assert "entropy([1, 0]) is nan: use the convention 0 log 0 = 0" in messages(a1["no_zero_log_zero"], "q1")
    assert "Is the expectation taken under q?" in messages(a2["reverse_kl_swapped"], "q3")
    assert "a local minimum?" in messages(a2["single_start"], "q3")
    assert "use 0 log 0 = 0 where p = 0" in messages(a3["attack_fake_model_and_nan_loss"], "q2")
    assert "the mean top probability on the test set should be near 0.9" in messages(a3["no_smoothing_and_bits"], "q3")
    # hidden and public failures are labelled for the instructor
    assert "(hidden test, 1 point)" in messages(a1["nats_for_bits"], "q4")
    assert "(public test, 1 point)" in messages(a1["nats_for_bits"], "q4")


# What each typical mistake that passed every public check before issue 15 now sees in its
# public check, and values of the hidden tests that no public message may contain.
PUBLIC_CATCHES = [
    ("forward_reverse_kl", "densities_and_variance", "q1",
     "log_a - log_b from the log-densities, not from densities"),
    ("forward_reverse_kl", "densities_and_variance", "q2", "is sigma_forward a variance?"),
    ("forward_reverse_kl", "fits_swapped", "q4", "a fit that spreads over both modes is the wider one"),
    ("forward_reverse_kl", "share_guessed", "q4", "computed with log_p and log_p_xs, not a guess"),
    ("label_smoothing", "no_smoothing_and_bits", "q4", "Was it computed in bits (log2)?"),
]
HIDDEN_VALUES = {"forward_reverse_kl": ["2.814", "7.92", "0.0111", "0.3567"],
                 "label_smoothing": ["0.5003", "0.91 ln 0.91"]}


@pytest.mark.parametrize(("assignment", "submission", "question", "hint"), PUBLIC_CATCHES)
def test_typical_mistakes_fail_a_public_check_that_says_why(graded: Grades, assignment: str,
                                                            submission: str, question: str,
                                                            hint: str) -> None:
    tests = graded(assignment)[submission]["questions"][question]["tests"]
    public = [t for t in tests if not t["hidden"] and not t["passed"]]
    assert public and hint in public[0]["message"], [t["message"] for t in public]
    for value in HIDDEN_VALUES[assignment]:
        assert value not in public[0]["message"], f"a public message gives away {value}"


def test_a_submission_that_raises_is_graded_with_the_errors(graded: Grades) -> None:
    report = graded("entropy_kl")["raises"]
    assert "NotImplementedError: I am stuck on entropy" in messages(report, "q1")
    assert report["error"] is None
    errors = "\n".join(report["notebook_errors"])
    assert "ZeroDivisionError: division by zero" in errors
    assert "`H_die_bits = entropy(p_die, base=2)" in errors and "NotImplementedError" in errors


def test_garbage_output_changes_neither_scores_nor_messages(graded: Grades) -> None:
    report = graded("entropy_kl")["garbage"]
    assert "H_die_bits should be a number; got None" in messages(report, "q4")
    text = json.dumps(report, ensure_ascii=False)
    assert "Total Score" not in text and "trust me" not in text, "printed output leaked into the grades"
    for q in report["questions"].values():
        for message in q["messages"]:
            assert all(c.isprintable() or c in "\n\t" for c in message)


def test_an_endless_loop_in_a_cell_is_stopped_and_costs_only_its_question(graded: Grades) -> None:
    report = graded("entropy_kl")["loop_in_cell"]
    assert report["timed_out"] == [f"the cell starting `while True:` ran longer than "
                                   f"{CELL_TIMEOUT['entropy_kl']:g} s and was stopped (does it loop forever?)"]
    assert "cross_entropy is not defined" in messages(report, "q2")
    assert report["error"] is None


def test_an_endless_loop_in_tested_code_costs_only_the_tests_that_call_it(graded: Grades) -> None:
    report = graded("entropy_kl")["loop_in_function"]
    timeout = CELL_TIMEOUT["entropy_kl"]
    assert report["error"] is None
    assert (f"the submission's code ran longer than {timeout:g} s and was stopped (does it loop "
            "forever?)") in messages(report, "q1")
    assert "\n".join(report["timed_out"]).startswith("the cell starting `H_die_bits = entropy")


def test_unreadable_or_wrong_submissions_score_zero_with_the_reason(graded: Grades) -> None:
    reports = graded("entropy_kl")
    assert reports["not_a_notebook"]["error"].startswith(
        "the submission could not be graded: not a readable notebook (UnicodeDecodeError")
    assert reports["wrong_assignment"]["error"] == (
        "the submission could not be graded: it is a notebook of assignment "
        "'forward_reverse_kl', not of 'entropy_kl'")


def test_grades_csv_lists_every_submission_and_question(graded: Grades) -> None:
    graded("entropy_kl")
    rows = graded.csv["entropy_kl"].strip().splitlines()
    assert rows[0] == "student_id,submission,q1,q2,q3,q4,total,possible,problem"
    assert len(rows) == 1 + len(EXPECTED["entropy_kl"])
    reference = next(r for r in rows if r.startswith("reference,"))
    assert reference.endswith(",3.0,3.0,4.0,2.0,12.0,12.0,")


# ------------------------------------------------------------------------------------ attacks (issue 15)


def test_no_submission_scores_more_than_its_points(graded: Grades) -> None:
    for report in graded("entropy_kl").values():
        assert report["score"] <= report["possible"] == 12
        for q in report["questions"].values():
            assert q["score"] <= q["possible"]


def test_cheating_attacks_leave_no_trace_in_the_grades_or_on_the_machine(graded: Grades) -> None:
    reports = graded("entropy_kl")
    time.sleep(2)  # the trial's daemon rewrote grades.csv seconds after the run ended
    rows = graded.csv["entropy_kl"]
    assert (graded.results["entropy_kl"] / "grades.csv").read_text() == rows
    assert "attack_daemon,12,12" not in (graded.results["entropy_kl"] / "grades.json").read_text()
    left = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            left += [pid] if DAEMON_MARKER.encode() in Path(f"/proc/{pid}/cmdline").read_bytes() else []
        except OSError:
            pass
    assert not left, f"the submission's daemon survived the grading: pids {left}"
    # The autograder zip is intact: the attack that truncated every zip it could find saw none.
    assert (graded.dist / "entropy_kl" / "entropy_kl-autograder.zip.sha256").read_text() == \
        graded.hash_before["entropy_kl"]
    digest = hashlib.sha256((graded.dist / "entropy_kl" / "entropy_kl-autograder.zip").read_bytes())
    assert graded.hash_before["entropy_kl"].startswith(digest.hexdigest())
    # The copying attack found no hidden test anywhere it could look.
    errors = "\n".join(reports["attack_copy_hidden_tests"]["notebook_errors"])
    assert "RuntimeError: found 0 files with hidden tests" in errors


def test_hidden_tests_never_reach_students(graded: Grades) -> None:
    reports = graded("entropy_kl")
    hidden, _ = hidden_and_public_tests(ASSIGNMENTS["entropy_kl"])
    feedback_dir = graded.results["entropy_kl"] / "feedback"
    for name in ("no_zero_log_zero", "kl_swapped", "attack_copy_hidden_tests"):
        text = (feedback_dir / f"{name}.md").read_text()
        assert "hidden test" in text and not any(h in text for h in hidden), name
        assert "p=[" not in text and "default_rng" not in text, "hidden inputs in feedback"
    assert "(hidden test, 1 point) p=[" in messages(reports["no_zero_log_zero"], "q1"), \
        "the instructor's grades.json keeps the hidden messages"


def test_a_notebook_without_otter_metadata_is_graded_with_a_note(graded: Grades) -> None:
    report = graded("entropy_kl")["no_otter_metadata"]
    assert report["score"] == 12
    assert "has no Otter metadata" in "\n".join(report["notes"])


def test_signal_ignoring_loop_is_killed_quickly_and_the_rest_graded(graded: Grades) -> None:
    report = graded("entropy_kl")["attack_ignores_signals"]
    assert (f"ignored the time limit of {CELL_TIMEOUT['entropy_kl']:g} s, so its sandbox was killed"
            in "\n".join(report["timed_out"]))
    assert graded.seconds["entropy_kl"] < 180, "one grading of assignment 1's submissions took too long"


def test_memory_bomb_stops_at_the_cap(graded: Grades) -> None:
    errors = "\n".join(graded("entropy_kl")["attack_memory_bomb"]["notebook_errors"])
    assert "raised MemoryError" in errors


def test_a_changed_autograder_zip_stops_grading(dist: Path, tmp_path: Path) -> None:
    out = tmp_path / "dist"
    shutil.copytree(dist / "entropy_kl", out / "entropy_kl")
    with open(out / "entropy_kl" / "entropy_kl-autograder.zip", "r+b") as f:
        f.truncate(100)
    result = subprocess.run([sys.executable, str(KIT), "grade", "entropy_kl", str(tmp_path / "x.ipynb"),
                             "--out", str(out)], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert result.returncode != 0
    assert "does not match the SHA-256 that build recorded" in result.stderr


def test_grading_refuses_without_bubblewrap(dist: Path, tmp_path: Path) -> None:
    env = {**os.environ, "BWRAP": str(tmp_path / "no-bwrap"), "PATH": "/nonexistent"}
    result = subprocess.run([sys.executable, str(KIT), "grade", "entropy_kl", str(tmp_path / "x.ipynb"),
                             "--out", str(dist)], capture_output=True, text=True, timeout=120,
                            cwd=ROOT, env=env)
    assert result.returncode != 0
    assert "sudo apt-get install bubblewrap" in result.stderr and "--unsafe-no-sandbox" in result.stderr


def test_label_smoothing_handout_has_no_smoothed_targets(dist: Path) -> None:
    with zipfile.ZipFile(dist / "label_smoothing" / "label_smoothing-student.zip") as zf:
        [wheel] = [n for n in zf.namelist() if n.endswith(".whl")]
        with zipfile.ZipFile(io.BytesIO(zf.read(wheel))) as whl:
            lab = whl.read("kldiv/lab.py").decode()
    assert "left out of the hand-out of assignment label_smoothing" in lab
    assert "(1.0 - epsilon)" not in lab.split("def smoothed_targets", 1)[1].split("\ndef ", 1)[0]


def test_throughput_script_grades_a_mixed_class(dist: Path, tmp_path: Path) -> None:
    """assignments/throughput.py, which measures grading 200 submissions, on three."""
    measured = tmp_path / "measured.json"
    result = subprocess.run([sys.executable, str(ROOT / "assignments" / "throughput.py"), "entropy_kl",
                             "--n", "3", "--jobs", "2", "--out", str(dist), "--json", str(measured)],
                            capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "| reference | 2 | 12 / 12 | 12 |" in result.stdout
    assert "| q4 in nats | 1 | 10 / 12 | 10 |" in result.stdout
    assert "3/3 graded" in result.stderr, "the progress bar"
    [entry] = json.loads(measured.read_text())
    assert entry["n"] == 3 and entry["mismatches"] == [] and entry["seconds"] > 0
