"""The assignment kit in assignments/: built and graded with Otter-Grader, exactly as an instructor would.

One command builds all three assignments into a temporary folder (``kit.py build``); one command per
assignment grades a set of submissions (``kit.py grade``): the reference solutions, the untouched
student notebook, and submissions made here from the reference by planting the mistakes students
make. Each test then checks the score of every question, not just the total, and the messages that
explain it. The builds and gradings are shared by the tests of this module (module-scoped fixtures):
about thirty notebook runs in all, some two minutes on two cores.
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
import textwrap
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
CELL_TIMEOUT = {"entropy_kl": 10, "forward_reverse_kl": 60, "label_smoothing": 120}

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
        # An endless loop inside entropy hangs the tests themselves: no results at all.
        "loop_in_function": {"q1": 0, "q2": 0, "q3": 0, "q4": 0},
        "not_a_notebook": {"q1": 0, "q2": 0, "q3": 0, "q4": 0},
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
    },
    "label_smoothing": {
        "reference": {"q1": 2, "q2": 3, "q3": 3, "q4": 2},
        "untouched": {"q1": 0, "q2": 0, "q3": 0, "q4": 0},
        # 0 log 0 = nan in the loss: one-hot and sparse targets fail; training on smoothed
        # targets (no zeros) is unaffected.
        "kl_no_zero_log_zero": {"q1": 2, "q2": 1, "q3": 3, "q4": 2},
        # Trained on one-hot labels: accurate, but over-confident.
        "no_smoothing": {"q1": 2, "q2": 3, "q3": 2, "q4": 2},
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
    """All assignments built by the one build command, into a temporary folder."""
    out = tmp_path_factory.mktemp("dist")
    run_kit("build", "--out", str(out), timeout=900)
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
    subs = {"reference": ref, "reverse_kl_swapped": swapped, "single_start": single}
    return write_submissions(dist, folder, "forward_reverse_kl", subs)


def submissions_label_smoothing(dist: Path, folder: Path) -> dict[str, Path]:
    ref = nbformat.read(dist / "label_smoothing" / "autograder" / "label_smoothing.ipynb", as_version=4)
    no_convention = copy.deepcopy(ref)
    replace_in(no_convention, "def kl_from_logits", "positive = y_true > 0", "positive = y_true > -1.0")
    one_hot = copy.deepcopy(ref)
    replace_in(one_hot, "model.fit(", "smooth_labels(y_train, K, epsilon)", "smooth_labels(y_train, K, 0.0)")
    subs = {"reference": ref, "kl_no_zero_log_zero": no_convention, "no_smoothing": one_hot}
    return write_submissions(dist, folder, "label_smoothing", subs)


MAKE_SUBMISSIONS = {
    "entropy_kl": submissions_entropy_kl,
    "forward_reverse_kl": submissions_forward_reverse_kl,
    "label_smoothing": submissions_label_smoothing,
}


class Grades:
    """Each assignment's submissions graded once, with the one grade command, on first use."""

    def __init__(self, dist: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
        self.dist, self.tmp = dist, tmp_path_factory
        self.reports: dict[str, dict[str, dict[str, Any]]] = {}
        self.csv: dict[str, str] = {}

    def __call__(self, assignment: str) -> dict[str, dict[str, Any]]:
        if assignment not in self.reports:
            folder = self.tmp.mktemp(f"submissions_{assignment}")
            paths = MAKE_SUBMISSIONS[assignment](self.dist, folder)
            assert set(paths) == set(EXPECTED[assignment])
            results = self.tmp.mktemp(f"grades_{assignment}")
            run_kit("grade", assignment, *map(str, paths.values()), "--out", str(self.dist),
                    "--results", str(results), "--timeout", str(CELL_TIMEOUT[assignment]),
                    "--jobs", "2", timeout=900)
            reports = json.loads((results / "grades.json").read_text())
            by_path = {Path(r["submission"]).resolve(): r for r in reports}
            self.reports[assignment] = {name: by_path[path.resolve()] for name, path in paths.items()}
            self.csv[assignment] = (results / "grades.csv").read_text()
        return self.reports[assignment]


@pytest.fixture(scope="module")
def graded(dist: Path, tmp_path_factory: pytest.TempPathFactory) -> Grades:
    return Grades(dist, tmp_path_factory)


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
def test_build_writes_the_handout_and_the_autograder(dist: Path, assignment: str) -> None:
    folder = dist / assignment
    with zipfile.ZipFile(folder / f"{assignment}-student.zip") as zf:
        names = zf.namelist()
    assert f"{assignment}.ipynb" in names
    assert any(re.fullmatch(r"kldiv-[\d.]+-py3-none-any\.whl", n) for n in names), names
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
    wheel = next(f for f in seen["files"] if f.endswith(".whl"))
    assert pip == ["-m", "pip", "install", "-q", "otter-grader==7.0.0", wheel]


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
    assert "use 0 log 0 = 0 where p = 0" in messages(a3["kl_no_zero_log_zero"], "q2")
    assert "the mean top probability on the test set should be near 0.9" in messages(a3["no_smoothing"], "q3")
    # hidden and public failures are labelled for the instructor
    assert "(hidden test, 1 point)" in messages(a1["nats_for_bits"], "q4")
    assert "(public test, 1 point)" in messages(a1["nats_for_bits"], "q4")


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
                                   f"{CELL_TIMEOUT['entropy_kl']} s and was stopped (does it loop forever?)"]
    assert "cross_entropy is not defined" in messages(report, "q2")
    assert report["error"] is None


def test_an_endless_loop_in_tested_code_scores_zero_with_a_clear_message(graded: Grades) -> None:
    report = graded("entropy_kl")["loop_in_function"]
    timeout = CELL_TIMEOUT["entropy_kl"]
    assert report["error"] == (f"no test results, so no points: the tests of q1 ran longer than "
                               f"{timeout} s, so the cell that collects the results was stopped too")
    stopped = "\n".join(report["timed_out"])
    assert f'the cell starting `grader.check("q1")` ran longer than {timeout} s' in stopped
    assert "the cell Otter appends to run every test" in stopped


def test_unreadable_or_wrong_submissions_score_zero_with_the_reason(graded: Grades) -> None:
    reports = graded("entropy_kl")
    assert reports["not_a_notebook"]["error"].startswith("the submission could not be graded: ")
    assert "UnicodeDecodeError" in reports["not_a_notebook"]["error"]   # binary, not JSON text
    assert reports["wrong_assignment"]["error"] == (
        "the submission could not be graded: OtterRuntimeError: Received submission for assignment "
        "'forward_reverse_kl' (this is assignment 'entropy_kl')")


def test_grades_csv_lists_every_submission_and_question(graded: Grades) -> None:
    graded("entropy_kl")
    rows = graded.csv["entropy_kl"].strip().splitlines()
    assert rows[0] == "submission,q1,q2,q3,q4,total,possible,problem"
    assert len(rows) == 1 + len(EXPECTED["entropy_kl"])
    reference = next(r for r in rows if "reference.ipynb" in r)
    assert reference.endswith(",3.0,3.0,4.0,2.0,12.0,12.0,")
