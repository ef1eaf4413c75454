"""Build and grade the course assignments with Otter-Grader (https://otter-grader.readthedocs.io).

Two commands, run from the repository root with the course environment (``.venv``)::

    python assignments/kit.py build [NAME ...] [--out DIR]
    python assignments/kit.py grade NAME SUBMISSION ... [--out DIR] [--timeout S] [--jobs N]

``build`` runs ``otter assign`` on each master notebook ``assignments/NN_topic/NAME.ipynb``. Otter
writes the solutions notebook, all tests and the autograder zip to ``DIR/NAME/autograder`` and the
student notebook with the public tests only to ``DIR/NAME/student``, after checking that the
reference solutions pass every test. The kit then adds a wheel of the course package ``kldiv`` to
the student folder (the notebook's setup cell installs it on Colab) and writes the two files an
instructor handles: ``DIR/NAME/NAME-student.zip`` (hand this out) and ``DIR/NAME/NAME-autograder.zip``.

``grade`` grades submissions (``.ipynb``, or ``.zip`` files holding one) with Otter's own grader,
``otter run``, in a fresh kernel each, and writes ``grades.csv`` and ``grades.json`` (scores per
question and every failure message) next to the per-submission logs. Otter's only time limit,
``otter grade --timeout``, belongs to its Docker mode; ``otter run`` executes the notebook with
Jupyter's nbclient and no limit at all, so one endless loop would hang the grading. The kit
therefore switches on nbclient's own per-cell timeout (``timeout``, ``interrupt_on_timeout``,
``error_on_timeout``) in the traitlets configuration that ``otter run`` builds its executor from:
a cell that runs longer is interrupted, recorded and skipped, and grading goes on. Every
submission is graded in its own process, so whatever it does, the others are still graded, and a
submission that cannot be graded at all scores zero with the reason.

DIR defaults to ``assignments/dist`` (git-ignored). See ``assignments/README.md`` for the workflow.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import glob
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DEFAULT_OUT = HERE / "dist"
DEFAULT_TIMEOUT = 60  # seconds per notebook cell
TIMEOUT_ENAME = "CellTimeoutError"
MAX_MESSAGE = 1500  # characters of one message kept in the report


# --------------------------------------------------------------------------------------- building


def masters() -> dict[str, Path]:
    """The master notebooks by assignment name: ``assignments/NN_topic/NAME.ipynb``."""
    found = {}
    for folder in sorted(HERE.glob("[0-9][0-9]_*")):
        notebooks = [p for p in folder.glob("*.ipynb") if not p.name.startswith(".")]
        if len(notebooks) != 1:
            raise SystemExit(f"{folder} must hold exactly one master notebook; found {len(notebooks)}")
        found[notebooks[0].stem] = notebooks[0]
    return found


def build_course_wheel(dest: Path) -> Path:
    """Build a wheel of ``kldiv`` from a copy of the package (so the checkout gets no build/)."""
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "kldiv"
        src.mkdir()
        for name in ("pyproject.toml", "README.md"):
            shutil.copy(REPO / name, src / name)
        shutil.copytree(REPO / "src", src / "src",
                        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                                "--wheel-dir", str(dest), str(src)], capture_output=True, text=True)
        if build.returncode != 0:
            raise SystemExit(f"building the kldiv wheel failed:\n{build.stdout}{build.stderr}")
    wheels = sorted(dest.glob("kldiv-*.whl"))
    if not wheels:
        raise SystemExit(f"pip wheel wrote no kldiv wheel to {dest}")
    return wheels[-1]


def build(name: str, master: Path, out: Path, wheel: Path) -> Path:
    """Run ``otter assign`` for one master notebook and package the two zips; returns DIR/NAME."""
    from otter.assign import main as otter_assign

    dest = out / name
    if dest.exists():
        shutil.rmtree(dest)
    # Otter Assign also grades the solutions notebook and raises unless it scores full marks.
    otter_assign(str(master), str(dest), no_pdfs=True)

    student = dest / "student"
    shutil.copy(wheel, student / wheel.name)
    with zipfile.ZipFile(dest / f"{name}-student.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(student.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(student))

    zips = sorted((dest / "autograder").glob(f"{name}-autograder_*.zip"))
    if len(zips) != 1:
        raise SystemExit(f"expected one autograder zip in {dest / 'autograder'}; found {len(zips)}")
    shutil.copy(zips[0], dest / f"{name}-autograder.zip")
    return dest


def cmd_build(args: argparse.Namespace) -> int:
    available = masters()
    names = args.names or list(available)
    unknown = [n for n in names if n not in available]
    if unknown:
        raise SystemExit(f"unknown assignment(s) {unknown}; available: {sorted(available)}")
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    wheel = build_course_wheel(out / "wheel")
    for name in names:
        start = time.perf_counter()
        dest = build(name, available[name], out, wheel)
        print(f"built {name} in {time.perf_counter() - start:.0f} s: hand out "
              f"{dest / (name + '-student.zip')}; grade with {dest / (name + '-autograder.zip')}")
    return 0


# --------------------------------------------------------------------------------------- grading


def clean(text: Any, limit: int = MAX_MESSAGE) -> str:
    """Printable, bounded text: a message must stay readable whatever a submission printed."""
    text = str(text)
    text = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", text)  # ANSI colours in tracebacks
    text = "".join(c if c.isprintable() or c in "\n\t" else "\N{REPLACEMENT CHARACTER}" for c in text)
    return text if len(text) <= limit else text[:limit] + f" [... {len(text) - limit} more characters]"


def question_points(autograder_zip: Path) -> dict[str, float]:
    """Points per question, read from the autograder's test files (hidden tests included)."""
    from otter.nbmeta_config import NBMetadataConfig
    from otter.test_files import create_test_file

    points = {}
    with tempfile.TemporaryDirectory() as tmp, zipfile.ZipFile(autograder_zip) as zf:
        zf.extractall(tmp)
        for path in sorted(Path(tmp, "tests").glob("*.py")):
            test_file = create_test_file(str(path), NBMetadataConfig())
            points[test_file.name] = float(test_file.possible)
    return points


@contextlib.contextmanager
def cell_time_limit(seconds: int, timed_out: list[dict[str, Any]]):
    """Give ``otter run``'s notebook executor nbclient's per-cell time limit.

    ``otter.execute.grade_notebook`` configures nbconvert's ExecutePreprocessor (an nbclient
    NotebookClient) from a fresh ``traitlets.config.Config()``; the limit is added to that Config.
    On timeout nbclient interrupts the kernel and records the cell as failed with the error below
    (``error_on_timeout``), so execution goes on with the next cell even if the cell ignores the
    interrupt; ``on_cell_error`` notes which cells were stopped.
    """
    import otter.execute
    from traitlets.config import Config

    def on_cell_error(cell, cell_index, execute_reply):
        if execute_reply["content"].get("ename") == TIMEOUT_ENAME:
            timed_out.append({"index": cell_index, "source": cell.source})

    def config_with_time_limit(*args, **kwargs):
        c = Config(*args, **kwargs)
        c.ExecutePreprocessor.timeout = seconds
        c.ExecutePreprocessor.interrupt_on_timeout = True
        c.ExecutePreprocessor.error_on_timeout = {
            "ename": TIMEOUT_ENAME,
            "evalue": f"the cell ran longer than {seconds} s and was stopped",
            "traceback": [],
        }
        c.ExecutePreprocessor.on_cell_error = on_cell_error
        # Kernels of submissions graded in parallel talk over Unix sockets with unique names:
        # with TCP, two kernels starting at once can pick the same free port and one dies.
        if os.name == "posix":
            c.KernelManager.transport = "ipc"
        return c

    if getattr(otter.execute, "Config", None) is not Config:
        raise RuntimeError("otter.execute no longer builds its executor from traitlets' Config; "
                           "update assignments/kit.py for this Otter version")
    otter.execute.Config = config_with_time_limit
    try:
        yield
    finally:
        otter.execute.Config = Config


def describe_cell(source: str) -> str:
    """Name a cell of the executed submission by its first line (cells that Otter adds by role)."""
    if source.startswith("from otter.execute import Checker"):
        return "the cell Otter appends to run every test"
    if "init_grading_mode" in source:
        return "the cell Otter prepends to set up grading"
    lines = [line for line in source.strip().splitlines() if line.strip()]
    first = lines[0].strip() if lines else "(empty)"
    return f"the cell starting `{clean(first, 100)}`"


def notebook_errors(notebook: Any, timed_out_sources: set[str]) -> list[str]:
    """One line per cell of the executed submission that raised (time-limit stops excepted)."""
    errors = []
    for cell in getattr(notebook, "cells", None) or []:
        if cell.get("cell_type") != "code" or cell.source in timed_out_sources:
            continue
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                errors.append(f"{describe_cell(cell.source)} raised "
                              f"{clean(output.get('ename'), 100)}: {clean(output.get('evalue'), 300)}")
    return errors


def grade_one(autograder_zip: Path, submission: Path, log_dir: Path, timeout: int) -> dict[str, Any]:
    """Grade one submission in this process with ``otter run``; never raises."""
    from otter.run import main as otter_run

    points = question_points(autograder_zip)
    report: dict[str, Any] = {
        "submission": str(submission),
        "score": 0.0,
        "possible": sum(points.values()),
        "questions": {q: {"score": 0.0, "possible": p, "messages": []} for q, p in points.items()},
        "timed_out": [],
        "notebook_errors": [],
        "error": None,
    }
    log_dir.mkdir(parents=True, exist_ok=True)
    timed_out: list[dict[str, Any]] = []
    log = io.StringIO()
    try:
        with cell_time_limit(timeout, timed_out), contextlib.redirect_stdout(log), \
                contextlib.redirect_stderr(log):
            results = otter_run(str(submission), autograder=str(autograder_zip),
                                output_dir=str(log_dir), no_logo=True)
    except BaseException as e:  # a submission must never crash the grader
        if isinstance(e, KeyboardInterrupt):
            raise
        report["error"] = clean(f"the submission could not be graded: {type(e).__name__}: {e}")
        results = None
    finally:
        (log_dir / "otter.log").write_text(log.getvalue(), encoding="utf-8", errors="replace")

    report["timed_out"] = [
        f"{describe_cell(t['source'])} ran longer than {timeout} s and was "
        "stopped (does it loop forever?)" for t in timed_out]
    if results is None:
        return report

    report["notebook_errors"] = notebook_errors(results.notebook, {t["source"] for t in timed_out})
    if results.has_catastrophic_failure():
        stopped = [re.search(r'grader\.check\("(\w+)"\)', t["source"]) for t in timed_out]
        stopped_questions = sorted({m.group(1) for m in stopped if m})
        if stopped_questions:
            reason = (f"the tests of {', '.join(stopped_questions)} ran longer than {timeout} s, "
                      "so the cell that collects the results was stopped too")
        elif timed_out:
            reason = "a cell ran past the time limit, so the cell that collects the results was stopped"
        else:
            error = results.catastrophic_error
            reason = f"the notebook did not finish ({type(error).__name__}: {error})"
        report["error"] = clean(f"no test results, so no points: {reason}")
        return report

    for name, test_file in results.results.items():
        entry = report["questions"].setdefault(name, {"score": 0.0, "possible": 0.0, "messages": []})
        entry["score"] = float(test_file.score)
        entry["possible"] = float(test_file.possible)
        for result in test_file.test_case_results:
            if not result.passed:
                kind = "hidden" if result.test_case.hidden else "public"
                entry["messages"].append(f"({kind} test, {result.test_case.points:g} point"
                                         f"{'s' if result.test_case.points != 1 else ''}) "
                                         + clean(result.message))
    report["score"] = sum(q["score"] for q in report["questions"].values())
    return report


def grade_in_subprocess(autograder_zip: Path, submission: Path, log_dir: Path, timeout: int,
                        wall_limit: float) -> dict[str, Any]:
    """Grade one submission in a child process, so that nothing it does reaches the others."""
    log_dir.mkdir(parents=True, exist_ok=True)
    report_path = log_dir / "report.json"
    report_path.unlink(missing_ok=True)
    cmd = [sys.executable, str(Path(__file__).resolve()), "_grade-one", str(autograder_zip),
           str(submission), str(log_dir), "--timeout", str(timeout)]
    with open(log_dir / "grader.log", "w") as grader_log:
        # A session of its own, so that the child and the kernels it starts form one process
        # group that killpg() can end (POSIX; elsewhere only the child itself is killed).
        child = subprocess.Popen(cmd, stdout=grader_log, stderr=subprocess.STDOUT,
                                 start_new_session=True)
        hit_wall_limit = False
        try:
            # nbclient's per-cell limit bounds a grading; this backstop is for anything it misses.
            child.wait(timeout=wall_limit)
        except subprocess.TimeoutExpired:
            hit_wall_limit = True
        finally:
            # Whatever is left of the process group (the child, a kernel stuck in a loop) goes.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                if hasattr(os, "killpg"):
                    os.killpg(child.pid, signal.SIGKILL)
                elif child.poll() is None:
                    child.kill()
            child.wait()
    if report_path.is_file():
        return json.loads(report_path.read_text())
    points = question_points(autograder_zip)
    reason = (f"grading did not finish within {wall_limit:.0f} s" if hit_wall_limit
              else f"the grading process failed (exit code {child.returncode}); see {log_dir}")
    return {
        "submission": str(submission), "score": 0.0, "possible": sum(points.values()),
        "questions": {q: {"score": 0.0, "possible": p, "messages": []} for q, p in points.items()},
        "timed_out": [], "notebook_errors": [], "error": reason,
    }


def format_report(report: dict[str, Any]) -> str:
    lines = [f"{report['submission']}: {report['score']:g} / {report['possible']:g}"]
    for name, q in report["questions"].items():
        lines.append(f"  {name}: {q['score']:g} / {q['possible']:g}")
        for message in q["messages"]:
            lines.extend("      " + line for line in message.splitlines())
    for key in ("error", "timed_out", "notebook_errors"):
        items = report.get(key) or []
        for item in [items] if isinstance(items, str) else items:
            lines.append(f"  ! {item}")
    return "\n".join(lines)


def cmd_grade(args: argparse.Namespace) -> int:
    out = Path(args.out).resolve()
    autograder_zip = out / args.name / f"{args.name}-autograder.zip"
    if not autograder_zip.is_file():
        raise SystemExit(f"{autograder_zip} not found: run `python assignments/kit.py build "
                         f"{args.name}` first")
    submissions = []
    for pattern in args.submissions:
        matches = sorted(glob.glob(pattern)) or [pattern]
        submissions.extend(Path(m).resolve() for m in matches)
    results_dir = Path(args.results).resolve() if args.results else out / args.name / "grades"
    results_dir.mkdir(parents=True, exist_ok=True)
    wall_limit = args.wall_limit or 20 * args.timeout + 120

    def one(i_submission):
        i, submission = i_submission
        log_dir = results_dir / f"{i:03d}-{re.sub(r'[^A-Za-z0-9_.-]', '_', submission.stem)}"
        return grade_in_subprocess(autograder_zip, submission, log_dir, args.timeout, wall_limit)

    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        reports = list(pool.map(one, enumerate(submissions, 1)))

    questions = list(question_points(autograder_zip))
    with open(results_dir / "grades.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["submission", *questions, "total", "possible", "problem"])
        for r in reports:
            problem = r["error"] or "; ".join(r["timed_out"]) or ""
            writer.writerow([r["submission"], *(r["questions"][q]["score"] for q in questions),
                             r["score"], r["possible"], problem])
    (results_dir / "grades.json").write_text(json.dumps(reports, indent=2))
    for r in reports:
        print(format_report(r))
    print(f"grades written to {results_dir / 'grades.csv'} and {results_dir / 'grades.json'}")
    return 0


def cmd_grade_one(args: argparse.Namespace) -> int:
    report = grade_one(Path(args.autograder), Path(args.submission), Path(args.log_dir),
                       args.timeout)
    (Path(args.log_dir) / "report.json").write_text(json.dumps(report, indent=2))
    # Exit now: the report is written, and a kernel that died or was left looping must not keep
    # this process waiting on a thread or socket that Jupyter's client left behind.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python assignments/kit.py", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("build", help="build student notebooks and autograders (otter assign)")
    p.add_argument("names", nargs="*", help="assignments to build (default: all)")
    p.add_argument("--out", default=str(DEFAULT_OUT), help="output folder (default: %(default)s)")
    p.set_defaults(func=cmd_build)

    p = sub.add_parser("grade", help="grade submissions (otter run, with a time limit per cell)")
    p.add_argument("name", help="the assignment, e.g. entropy_kl")
    p.add_argument("submissions", nargs="+", help=".ipynb or .zip files (glob patterns work)")
    p.add_argument("--out", default=str(DEFAULT_OUT), help="where `build` wrote (default: %(default)s)")
    p.add_argument("--results", help="folder for grades.csv, grades.json and logs "
                                     "(default: OUT/NAME/grades)")
    p.add_argument("--timeout", type=int, default=DEFAULT_TIMEOUT,
                   help="seconds a notebook cell may run (default: %(default)s)")
    p.add_argument("--jobs", type=int, default=1, help="submissions graded at once (default: 1)")
    p.add_argument("--wall-limit", type=float, default=None,
                   help="seconds one grading may take in all (default: 20 x timeout + 120)")
    p.set_defaults(func=cmd_grade)

    p = sub.add_parser("_grade-one")  # internal: one grading, in its own process
    p.add_argument("autograder")
    p.add_argument("submission")
    p.add_argument("log_dir")
    p.add_argument("--timeout", type=int, default=DEFAULT_TIMEOUT)
    p.set_defaults(func=cmd_grade_one)

    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
