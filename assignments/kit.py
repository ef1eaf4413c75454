"""Build and grade the course assignments: Otter-Grader for the hand-outs, a sandbox for grading.

Commands, run from the repository root with the course environment (``.venv``)::

    python assignments/kit.py build [NAME ...] [--out DIR]
    python assignments/kit.py grade NAME SUBMISSION ... [--roster CSV] [--jobs N] [--timeout S]
    python assignments/kit.py gradescope NAME [--out DIR]

``build`` runs ``otter assign`` on each master notebook ``assignments/NN_topic/NAME.ipynb``. Otter
writes the solutions notebook, all tests and the autograder zip to ``DIR/NAME/autograder`` and the
student notebook with the public tests only to ``DIR/NAME/student``, after checking that the
reference solutions pass every test. The kit adds the assignment's hand-out build of the course
package ``kldiv`` (without the functions the assignment asks students to write, see
``HANDOUT_KLDIV``), and writes what an instructor handles: ``DIR/NAME/NAME-student.zip`` (hand
this out), ``DIR/NAME/NAME-autograder.zip`` and its SHA-256 in ``NAME-autograder.zip.sha256``.

``grade`` runs each submission in its own bubblewrap sandbox (``sandbox_runner.py``: no network,
read-only system, a scratch tmpfs, its own PID namespace, a memory cap, time limits per cell and
per call, killed as a whole) and runs every test, public and hidden, in the grader's own process:
a test's arguments stand for the submission's variables and functions, and each use of them is
answered by the sandbox with plain data. The tests never enter the sandbox, and nothing the
submission does can change its score except the answers it computes. ``grades.csv``,
``grades.json``, one feedback file per student and the answers to manually graded questions are
written after every sandbox is gone.

``gradescope`` writes ``DIR/NAME/NAME-gradescope.zip``, Gradescope's autograder: ``setup.sh``,
``run_autograder``, requirements generated from the course's pins, this kit and the built
autograder; on Gradescope, ``run_autograder`` calls ``kit.py gradescope-run NAME``, which grades
the submission as ``grade`` does and writes ``results.json``. See ``assignments/README.md``.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import csv
import glob
import hashlib
import importlib.util
import inspect
import io
import json
import os
import queue
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RUNNER = HERE / "sandbox_runner.py"
DEFAULT_OUT = HERE / "dist"
DEFAULT_TIMEOUT = 60  # seconds per notebook cell, and per call of a submission's function
DEFAULT_MEMORY_MB = 6144  # address space of each process in a sandbox (TensorFlow maps ~3 GB)
GRACE = 10  # at most this many seconds past a time limit (and at most the limit itself) before
            # the grader kills a sandbox that ignores it
MAX_MESSAGE = 1500  # characters of one message kept in the report
MAX_REPLY = 64 * 2**20  # bytes of one answer from a sandbox
MAX_SUBMISSION = 50 * 2**20  # bytes of a submitted file

# What each assignment's hand-out (and grading sandbox) gets of the course package: None for
# nothing (assignment 1 asks for entropy, cross-entropy and KL, which kldiv implements), else the
# functions that are replaced by a stub that raises, because a question asks students to write them.
HANDOUT_KLDIV: dict[str, list[str] | None] = {
    "entropy_kl": None,
    "forward_reverse_kl": [],
    "label_smoothing": ["kldiv.lab.smoothed_targets"],
}

sys.path.insert(0, str(HERE))
from sandbox_runner import decode, encode  # noqa: E402  (the wire format, shared with the sandbox)

sys.path.remove(str(HERE))


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


def stub_out(source: str, function: str, message: str) -> str:
    """``source`` with the top-level ``def function`` replaced by a stub that raises ``message``."""
    tree = ast.parse(source)
    defs = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == function]
    if len(defs) != 1:
        raise SystemExit(f"HANDOUT_KLDIV: expected one `def {function}`; found {len(defs)}")
    node = defs[0]
    start = (node.decorator_list[0].lineno if node.decorator_list else node.lineno) - 1
    lines = source.splitlines(keepends=True)
    stub = (f"def {function}(*args, **kwargs):  # left out of this hand-out\n"
            f"    raise NotImplementedError({message!r})\n")
    return "".join(lines[:start]) + stub + "".join(lines[node.end_lineno:])


def handout_package(name: str, dest: Path) -> Path | None:
    """Write the hand-out copy of the project (``pyproject.toml``, ``src/kldiv``) for assignment
    ``name`` to ``dest``, with its forbidden functions stubbed out; None if it gets no kldiv."""
    forbidden = HANDOUT_KLDIV.get(name, [])
    if forbidden is None:
        return None
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    for file in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / file, dest / file)
    shutil.copytree(REPO / "src", dest / "src",
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for dotted in forbidden:
        *modules, function = dotted.split(".")
        path = dest / "src" / Path(*modules).with_suffix(".py")
        message = (f"{dotted} is left out of the hand-out of assignment {name}: "
                   "a question asks you to write it yourself")
        path.write_text(stub_out(path.read_text(), function, message))
    return dest


def build_course_wheel(project: Path, dest: Path) -> Path:
    """Write a wheel of the pure-Python package ``kldiv`` from ``project`` (its ``pyproject.toml``
    and ``src/kldiv``) to ``dest``. A pure-Python wheel is a zip of the package and a
    ``.dist-info`` folder (PEP 427), written here directly: no build backend, no network, and
    byte-for-byte the same wheel for the same sources (fixed timestamps)."""
    import base64
    import tomllib

    meta = tomllib.loads((project / "pyproject.toml").read_text())["project"]
    name, version = meta["name"], meta["version"]
    info = f"{name}-{version}.dist-info"
    files: list[tuple[str, bytes]] = []
    for path in sorted((project / "src" / name).rglob("*.py")):
        if "__pycache__" not in path.parts:
            files.append((path.relative_to(project / "src").as_posix(), path.read_bytes()))
    metadata = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}",
                f"Summary: {meta.get('description', '')}",
                f"Requires-Python: {meta.get('requires-python', '>=3')}"]
    metadata += [f"Requires-Dist: {d}" for d in meta.get("dependencies", [])]
    for extra, deps in meta.get("optional-dependencies", {}).items():
        metadata.append(f"Provides-Extra: {extra}")
        metadata += [f'Requires-Dist: {d}; extra == "{extra}"' for d in deps]
    files.append((f"{info}/METADATA", ("\n".join(metadata) + "\n").encode()))
    files.append((f"{info}/WHEEL", b"Wheel-Version: 1.0\nGenerator: assignments/kit.py\n"
                                   b"Root-Is-Purelib: true\nTag: py3-none-any\n"))
    record = [f"{path},sha256={base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()},{len(data)}"
              for path, data in files]
    files.append((f"{info}/RECORD", ("\n".join(record + [f"{info}/RECORD,,"]) + "\n").encode()))
    dest.mkdir(parents=True, exist_ok=True)
    wheel = dest / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as zf:
        for path, data in files:
            zf.writestr(zipfile.ZipInfo(path, date_time=(2020, 1, 1, 0, 0, 0)), data,
                        compress_type=zipfile.ZIP_DEFLATED)
    return wheel


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def build(name: str, master: Path, out: Path, check: bool = True) -> Path:
    """Run ``otter assign`` for one master notebook and package the two zips; returns DIR/NAME."""
    from otter.assign import main as otter_assign

    dest = out / name
    if dest.exists():
        shutil.rmtree(dest)
    # Otter Assign also grades the solutions notebook and raises unless it scores full marks
    # (unless --skip-solution-check: then grade dist/NAME/autograder/NAME.ipynb with the kit).
    otter_assign(str(master), str(dest), no_pdfs=True, no_run_tests=not check)

    student = dest / "student"
    package = handout_package(name, dest / "kldiv-handout")
    if package is not None:
        wheel = build_course_wheel(package, dest / "wheel")
        shutil.copy(wheel, student / wheel.name)
    with zipfile.ZipFile(dest / f"{name}-student.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(student.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(student))

    zips = sorted((dest / "autograder").glob(f"{name}-autograder_*.zip"))
    if len(zips) != 1:
        raise SystemExit(f"expected one autograder zip in {dest / 'autograder'}; found {len(zips)}")
    data = zips[0].read_bytes()
    (dest / f"{name}-autograder.zip").write_bytes(data)
    (dest / f"{name}-autograder.zip.sha256").write_text(f"{sha256(data)}  {name}-autograder.zip\n")
    return dest


def cmd_build(args: argparse.Namespace) -> int:
    available = masters()
    names = args.names or list(available)
    unknown = [n for n in names if n not in available]
    if unknown:
        raise SystemExit(f"unknown assignment(s) {unknown}; available: {sorted(available)}")
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    for name in names:
        start = time.perf_counter()
        dest = build(name, available[name], out, check=not args.skip_solution_check)
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


class Autograder:
    """The tests of one assignment, read from its autograder zip after checking the zip's SHA-256
    against the one ``build`` recorded. The tests are Otter's exception-based test files; they run
    here, in the grader, never in a sandbox."""

    def __init__(self, out: Path, name: str) -> None:
        self.name = name
        self.zip = out / name / f"{name}-autograder.zip"
        self.hash_file = out / name / f"{name}-autograder.zip.sha256"
        if not self.zip.is_file() or not self.hash_file.is_file():
            raise SystemExit(f"{self.zip} or its .sha256 not found: run `python assignments/kit.py "
                             f"build {name}` first")
        self.expected_hash = self.hash_file.read_text().split()[0]
        self.handout = out / name / "kldiv-handout"
        self.questions = self.load()

    def verified_bytes(self) -> bytes:
        data = self.zip.read_bytes()
        if sha256(data) != self.expected_hash:
            raise RuntimeError(f"{self.zip} does not match the SHA-256 that build recorded in "
                               f"{self.hash_file}: it was changed; rebuild the assignment")
        return data

    def load(self) -> dict[str, list[dict[str, Any]]]:
        """Questions in order, each a list of tests: name, points, hidden, function.

        The test files are Otter's (``from otter.test_files import test_case`` and
        ``@test_case(points=1, hidden=True)``); they are read with a ``test_case`` of the kit's
        own that records the same three things, so grading needs no Otter installed (Gradescope)."""
        import builtins

        class TestCase:
            def __init__(self, points: Any = None, hidden: bool = False, **ignored: Any) -> None:
                self.points, self.hidden = points, hidden

            def __call__(self, function: Callable) -> "TestCase":
                self.function = function
                return self

        otter_test_files = type(sys)("otter.test_files")
        otter_test_files.test_case = TestCase

        def import_(name: str, *args: Any, **kwargs: Any) -> Any:
            if name == "otter.test_files":
                return otter_test_files
            return builtins.__import__(name, *args, **kwargs)

        questions: dict[str, list[dict[str, Any]]] = {}
        with zipfile.ZipFile(io.BytesIO(self.verified_bytes())) as zf:
            names = sorted((n for n in zf.namelist() if re.fullmatch(r"tests/[^/]+\.py", n)),
                           key=lambda n: [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", n)])
            for path in names:
                namespace: dict[str, Any] = {"__builtins__": {**vars(builtins), "__import__": import_}}
                exec(compile(zf.read(path).decode(), path, "exec"), namespace)  # the instructor's file
                tests = [{"name": v.function.__name__, "points": float(v.points or 0),
                          "hidden": bool(v.hidden), "function": v.function}
                         for v in namespace.values() if isinstance(v, TestCase)]
                questions[namespace.get("name", Path(path).stem)] = tests
        return questions

    def possible(self, question: str) -> float:
        return sum(t["points"] for t in self.questions[question])

    def check(self) -> None:
        """Verify the zip again (before each submission): a changed autograder stops the grading."""
        self.verified_bytes()


def grace(timeout: float) -> float:
    """Seconds past a time limit before a sandbox that ignores it is killed."""
    return min(GRACE, max(1.0, timeout))


OTTER_STUB = '''"""Otter-Grader as the grading sandbox has it: nothing. The notebook's setup cell creates
`grader = otter.Notebook()`; its checks do nothing here, because the tests run in the grader."""


class Notebook:
    def __init__(self, *args, **kwargs):
        pass

    def __getattr__(self, name):
        return lambda *args, **kwargs: None
'''


def write_stubs(folder: Path, name: str) -> Path:
    """The modules the sandbox finds before the real ones: an ``otter`` that does nothing (the
    setup cell's ``import otter`` costs seconds, and nothing in the sandbox grades), and for an
    assignment that gets no kldiv, a ``kldiv`` whose import raises."""
    (folder / "otter").mkdir(parents=True)
    (folder / "otter" / "__init__.py").write_text(OTTER_STUB)
    if HANDOUT_KLDIV.get(name, []) is None:
        (folder / "kldiv").mkdir()
        (folder / "kldiv" / "__init__.py").write_text(
            f"raise ImportError('kldiv is not available in assignment {name}: '\n"
            "                  'the questions ask you to write these functions yourself')\n")
    return folder


class SandboxError(Exception):
    """The sandbox stopped answering (killed after a time limit, or it died)."""


class Remote:
    """Stands in the grader for an object that stays in the sandbox (a function, a model): calling
    it, or reading an attribute or item, asks the sandbox, whose answer is plain data or another
    Remote. It has no other behaviour: comparisons and ``is not None`` treat it as an object."""

    __slots__ = ("_sandbox", "_handle", "_type")

    def __init__(self, sandbox: "Sandbox", handle: int, type_name: str) -> None:
        object.__setattr__(self, "_sandbox", sandbox)
        object.__setattr__(self, "_handle", handle)
        object.__setattr__(self, "_type", type_name)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._sandbox.ask("call", handle=self._handle, args=encode(list(args)),
                                 kwargs=encode(dict(kwargs)))

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__"):
            raise AttributeError(attr)
        return self._sandbox.ask("getattr", handle=self._handle, attr=attr)

    def __getitem__(self, key: Any) -> Any:
        return self._sandbox.ask("getitem", handle=self._handle, key=encode(key))

    def __repr__(self) -> str:
        return f"<{self._type} of the submission>"


class Sandbox:
    """One submission's sandbox running ``sandbox_runner.py``, and the pipe to it.

    ``bwrap`` is the bubblewrap binary; or ``SETPRIV``, the fallback where bubblewrap cannot run
    (a Gradescope container: one submission per container, as root): the runner runs as the
    unprivileged user ``SANDBOX_UID`` from copies of its files, cannot read what only root may
    (the autograder, the submission, the results), and every process of that user is killed at the
    end; or None for ``--unsafe-no-sandbox``."""

    def __init__(self, bwrap: str | None, autograder: Autograder, stubs: Path,
                 memory_mb: int, call_timeout: float) -> None:
        self.call_timeout = call_timeout
        self.mode = "unsafe" if bwrap is None else "setpriv" if bwrap == SETPRIV else "bwrap"
        handout = autograder.handout if HANDOUT_KLDIV.get(autograder.name, []) is not None else None
        package = handout / "src" if handout is not None else None
        self.scratch = None
        if self.mode != "bwrap":
            self.scratch = tempfile.mkdtemp(prefix=f"kit-{self.mode}-")
            runner, home = RUNNER, Path(self.scratch)
            if self.mode == "setpriv":  # root-owned copies the user may read, and a home it may write
                os.chmod(self.scratch, 0o755)
                runner = Path(shutil.copy(RUNNER, Path(self.scratch) / RUNNER.name))
                stubs = Path(shutil.copytree(stubs, Path(self.scratch) / "stubs"))
                if package is not None:
                    package = Path(shutil.copytree(package, Path(self.scratch) / "packages"))
                for path in Path(self.scratch).rglob("*"):  # the originals may be root's only
                    os.chmod(path, 0o755 if path.is_dir() else 0o644)
                home = Path(self.scratch) / "home"
                home.mkdir(mode=0o700)
                os.chown(home, SANDBOX_UID, SANDBOX_UID)
            env = {"HOME": str(home), "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
                   "MPLBACKEND": "Agg", "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONDONTWRITEBYTECODE": "1",
                   "OMP_NUM_THREADS": "1", "KERAS_BACKEND": "tensorflow", "TMPDIR": str(home),
                   "PYTHONPATH": os.pathsep.join([str(package)] * (package is not None) + [str(stubs)])}
            cmd = [sys.executable, str(runner)]
            if self.mode == "setpriv":
                cmd = ["setpriv", f"--reuid={SANDBOX_UID}", f"--regid={SANDBOX_UID}", "--clear-groups",
                       "--no-new-privs", "--"] + cmd
            self.start(cmd, memory_mb, env=env, cwd=str(home), new_session=True)
            return
        prefixes = sorted({Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve(),
                           Path(sys.executable).parent.resolve()})
        cmd = [bwrap, "--unshare-all", "--die-with-parent", "--new-session",
               "--uid", "65534", "--gid", "65534"]
        for path in ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/etc"):
            cmd += ["--ro-bind-try", path, path]
        # The scratch tmpfs first: a Python installed under /tmp is then bound on top of it.
        cmd += ["--tmpfs", "/tmp", "--dir", "/tmp/home"]
        for prefix in prefixes:
            if not any(str(prefix).startswith(p + "/") for p in ("/usr", "/bin", "/lib", "/etc")):
                cmd += ["--ro-bind", str(prefix), str(prefix)]
        cmd += ["--ro-bind", str(RUNNER), "/kit/sandbox_runner.py",
                "--proc", "/proc", "--dev", "/dev",
                "--chdir", "/tmp", "--clearenv",
                "--setenv", "HOME", "/tmp/home",
                "--setenv", "PATH", f"{Path(sys.executable).parent}:/usr/bin:/bin",
                "--setenv", "MPLBACKEND", "Agg",
                "--setenv", "PYTHONDONTWRITEBYTECODE", "1",
                "--setenv", "TF_CPP_MIN_LOG_LEVEL", "3",
                "--setenv", "OMP_NUM_THREADS", "1",
                "--setenv", "TF_NUM_INTRAOP_THREADS", "1",
                "--setenv", "TF_NUM_INTEROP_THREADS", "1",
                "--setenv", "KERAS_BACKEND", "tensorflow"]
        cmd += ["--ro-bind", str(stubs), "/kit/stubs"]
        if package is not None:
            cmd += ["--ro-bind", str(package), "/kit/packages"]
        cmd += ["--setenv", "PYTHONPATH", "/kit/packages:/kit/stubs" if package else "/kit/stubs"]
        self.start(cmd + [sys.executable, "/kit/sandbox_runner.py"], memory_mb)

    def start(self, cmd: list[str], memory_mb: int, env: dict | None = None, cwd: str | None = None,
              new_session: bool = False) -> None:
        info_read, info_write = os.pipe()
        if env is None:  # bwrap reports the sandbox's PID 1 on this pipe
            cmd = cmd[:-2] + ["--info-fd", str(info_write)] + cmd[-2:]

        # Limits inherited by every process of the submission (prlimit execs the command, so no
        # code runs between fork and exec in this threaded grader).
        limit = memory_mb * 2**20
        cmd = ["prlimit", f"--as={limit}", "--core=0", f"--fsize={512 * 2**20}", "--"] + cmd
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, pass_fds=(info_write,),
                                     env=env, cwd=cwd,
                                     start_new_session=new_session)
        os.close(info_write)
        self.child_pidfd, self.pid_namespace, self.namespace_fd = None, None, None
        with os.fdopen(info_read, "rb") as info:
            if env is None and select.select([info], [], [], 30)[0]:
                with contextlib.suppress(ValueError, OSError):
                    child_pid = int(json.loads(info.read(4096) or b"{}").get("child-pid"))
                    # A pidfd, not the number: PIDs are reused (pid_max may be 32768), and a
                    # kill by number after the sandbox ended could hit another submission.
                    self.child_pidfd = os.pidfd_open(child_pid)
                    # Held open until the end of kill(): a namespace's number is reused as soon
                    # as it is freed, and then "in this namespace" would find another sandbox.
                    self.namespace_fd = os.open(f"/proc/{child_pid}/ns/pid", os.O_RDONLY)
                    self.pid_namespace = os.readlink(f"/proc/{child_pid}/ns/pid")
        self.replies: queue.Queue = queue.Queue()
        self.dead: str | None = None
        self.next_id = 0
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        stream = self.proc.stdout
        while True:
            line = stream.readline(MAX_REPLY)
            if not line:
                self.replies.put(None)
                return
            if not line.endswith(b"\n"):  # too long: skip the rest of the line
                while line and not line.endswith(b"\n"):
                    line = stream.readline(MAX_REPLY)
                continue
            with contextlib.suppress(ValueError):
                message = json.loads(line)
                if isinstance(message, dict):
                    self.replies.put(message)

    def send(self, message: dict[str, Any]) -> int:
        if self.dead:
            raise SandboxError(self.dead)
        self.next_id += 1
        try:
            self.proc.stdin.write(json.dumps({**message, "id": self.next_id}).encode() + b"\n")
            self.proc.stdin.flush()
        except OSError:
            self.kill("the submission's process ended")
            raise SandboxError(self.dead)
        return self.next_id

    def receive(self, rid: int, deadline: float, on_message: Callable | None = None) -> dict:
        """The reply to request ``rid``; other messages go to ``on_message``, which may return a
        new deadline (the watchdog of cells). Past the deadline the sandbox is killed."""
        while True:
            try:
                message = self.replies.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                self.kill("stopped: it ignored the time limit")
                raise SandboxError(self.dead)
            if message is None:
                self.kill("the submission's process ended (did it exit or run out of memory?)")
                raise SandboxError(self.dead)
            if message.get("id") == rid:
                return message
            if on_message is not None:
                deadline = on_message(message) or deadline

    def ask(self, op: str, timeout: float | None = None, **fields: Any) -> Any:
        """One question to the sandbox; its answer decoded (a raised error is re-raised here)."""
        timeout = self.call_timeout if timeout is None else timeout
        rid = self.send({"op": op, "timeout": timeout, **fields})
        reply = self.receive(rid, time.monotonic() + timeout + grace(timeout))
        if reply.get("missing"):
            return None
        if "timeout" in reply:
            raise TimeoutError(f"the submission's code ran longer than {timeout:g} s and was stopped "
                               "(does it loop forever?)")
        if "error" in reply:
            error = reply["error"] if isinstance(reply["error"], dict) else {}
            raise SubmissionError(f"{clean(error.get('type'), 100)}: {clean(error.get('message'), 600)}")
        try:
            return decode(reply.get("value"), lambda h, t, c: Remote(self, h, t))
        except (ValueError, TypeError, KeyError) as e:
            raise SubmissionError(f"the submission answered with something that is not plain data ({e})")

    def kill(self, reason: str) -> None:
        """Kill everything in the sandbox: its PID 1 (the kernel then kills the whole PID
        namespace) and bwrap; then wait until no process of that namespace is left."""
        self.dead = self.dead or reason
        if self.child_pidfd is not None:
            with contextlib.suppress(OSError):
                signal.pidfd_send_signal(self.child_pidfd, signal.SIGKILL)
            os.close(self.child_pidfd)
            self.child_pidfd = None
        with contextlib.suppress(ProcessLookupError):
            if self.mode == "unsafe":  # the process group is all there is
                with contextlib.suppress(PermissionError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.kill()
        self.proc.wait()
        for _ in range(100):
            left = self.processes_left()
            if not left:
                break
            for pid in left:
                self._kill_own(pid)
            time.sleep(0.05)
        else:
            raise RuntimeError(f"processes {self.processes_left()} of a sandbox survived SIGKILL")
        if self.namespace_fd is not None:
            os.close(self.namespace_fd)
            self.namespace_fd = None
        if self.scratch is not None:
            shutil.rmtree(self.scratch, ignore_errors=True)

    def _belongs(self, pid: int) -> bool:
        """Whether process ``pid`` is the sandbox's: in its PID namespace (bubblewrap), or of
        ``SANDBOX_UID`` (setpriv: only one submission is graded at a time there)."""
        with contextlib.suppress(OSError):
            if self.mode == "setpriv":
                return os.stat(f"/proc/{pid}").st_uid == SANDBOX_UID
            return bool(self.pid_namespace) and os.readlink(f"/proc/{pid}/ns/pid") == self.pid_namespace
        return False

    def _kill_own(self, pid: int) -> None:
        """SIGKILL ``pid`` through a pidfd, checked to be the sandbox's after the pidfd is open
        (so a PID reused meanwhile by another process is never signalled)."""
        try:
            pidfd = os.pidfd_open(pid)
        except OSError:
            return
        try:
            if self._belongs(pid):
                signal.pidfd_send_signal(pidfd, signal.SIGKILL)
        except OSError:
            pass
        finally:
            os.close(pidfd)

    def processes_left(self) -> list[int]:
        if self.mode == "unsafe" or (self.mode == "bwrap" and not self.pid_namespace):
            return []
        return [int(e) for e in os.listdir("/proc") if e.isdigit() and self._belongs(int(e))]

    def close(self) -> None:
        with contextlib.suppress(SandboxError):
            if not self.dead:
                self.send({"op": "bye"})
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=2)
        self.kill(self.dead or "closed")


class SubmissionError(Exception):
    """An exception raised by the submission's code in the sandbox, as text."""


SETPRIV = "setpriv"  # Sandbox's fallback (see there), chosen by `gradescope-run`
SANDBOX_UID = 64123  # the unprivileged user of that fallback: no account, no files of its own


def find_bwrap() -> str | None:
    candidate = os.environ.get("BWRAP") or shutil.which("bwrap")
    return candidate if candidate and os.access(candidate, os.X_OK) else None


NO_BWRAP = ("grading needs bubblewrap to run each submission in a sandbox, and `bwrap` was not "
            "found. Install it (Debian/Ubuntu: `sudo apt-get install bubblewrap`) or set BWRAP to "
            "its path. Only on a machine where that is impossible, and only for submissions you "
            "trust, pass --unsafe-no-sandbox.")


def read_submission(path: Path) -> tuple[Any, str | None]:
    """The submitted notebook (an .ipynb, or a .zip holding exactly one), or None and why not."""
    import nbformat

    try:
        if path.stat().st_size > MAX_SUBMISSION:
            return None, f"the file is larger than {MAX_SUBMISSION // 2**20} MB"
        data = path.read_bytes()
        if zipfile.is_zipfile(io.BytesIO(data)):
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                notebooks = [n for n in zf.namelist()
                             if n.endswith(".ipynb") and not n.startswith("__MACOSX")]
                if len(notebooks) != 1:
                    return None, f"the zip holds {len(notebooks)} notebooks; it must hold one"
                info = zf.getinfo(notebooks[0])
                if info.file_size > MAX_SUBMISSION:
                    return None, f"the notebook is larger than {MAX_SUBMISSION // 2**20} MB"
                data = zf.read(info)
        nb = nbformat.reads(data.decode("utf-8"), as_version=4)
        return nb, None
    except Exception as e:
        return None, clean(f"not a readable notebook ({type(e).__name__}: {e})", 300)


CHECK_LINE = re.compile(r"^\s*(grader\.(check|check_all|export)\(.*\)|#.*)?\s*$")


def graded_cells(nb: Any) -> list[str]:
    """The code cells the sandbox runs: all but those that only call ``grader.check(...)`` (the
    public checks, which need the tests/ folder the sandbox does not have)."""
    return [c.source for c in nb.cells if c.cell_type == "code"
            and not all(CHECK_LINE.match(line) for line in c.source.splitlines())]


def describe_cell(source: str) -> str:
    """Name a cell of the submission by its first line."""
    lines = [line for line in source.strip().splitlines() if line.strip()]
    first = lines[0].strip() if lines else "(empty)"
    return f"the cell starting `{clean(first, 100)}`"


def empty_report(submission: str, autograder: Autograder) -> dict[str, Any]:
    return {
        "submission": submission,
        "score": 0.0,
        "possible": sum(autograder.possible(q) for q in autograder.questions),
        "questions": {q: {"score": 0.0, "possible": autograder.possible(q), "messages": [],
                          "tests": []} for q in autograder.questions},
        "timed_out": [], "notebook_errors": [], "notes": [], "error": None,
    }


def run_notebook(sandbox: Sandbox, cells: list[str], timeout: float) -> dict[str, Any]:
    """Execute the cells in the sandbox, with a watchdog: a cell that keeps running past the
    limit (it ignores the timer) gets the sandbox killed; which cell that was is returned."""
    state = {"cell": None}

    def on_message(message: dict[str, Any]) -> float | None:
        if message.get("op") == "cell" and isinstance(message.get("index"), int):
            state["cell"] = message["index"]
            return time.monotonic() + timeout + grace(timeout)
        return None

    rid = sandbox.send({"op": "run", "cells": cells, "timeout": timeout})
    try:
        reply = sandbox.receive(rid, time.monotonic() + timeout + 60, on_message)
    except SandboxError:
        return {"killed_in": state["cell"], "errors": [], "timed_out": []}
    return {"killed_in": None, "errors": reply.get("errors") or [], "timed_out": reply.get("timed_out") or []}


def run_test(test: dict[str, Any], sandbox: Sandbox) -> tuple[bool, str]:
    """Run one test in this process; its arguments are the submission's names, from the sandbox."""
    try:
        params = list(inspect.signature(test["function"]).parameters)
        args = [sandbox.ask("get", name=p) for p in params]
        with warnings_ignored():
            test["function"](*args)
        return True, ""
    except AssertionError as e:
        return False, clean(e) if str(e) else "AssertionError"
    except SandboxError as e:
        return False, clean(f"the submission could not be asked: {e}")
    except (SubmissionError, TimeoutError) as e:
        return False, clean(e)
    except Exception as e:
        return False, clean(f"{type(e).__name__}: {e}")


@contextlib.contextmanager
def warnings_ignored():
    import warnings

    import numpy as np

    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        yield


def grade_submission(autograder: Autograder, submission: Path, timeout: float, memory_mb: int,
                     bwrap: str | None, stubs: Path) -> dict[str, Any]:
    """Grade one submission; never raises for anything the submission does."""
    report = empty_report(str(submission), autograder)
    nb, problem = read_submission(submission)
    if nb is None:
        report["error"] = f"the submission could not be graded: {problem}"
        return report
    otter_meta = nb.metadata.get("otter", {}) if isinstance(nb.metadata.get("otter"), dict) else {}
    assignment = otter_meta.get("assignment_name")
    if assignment is None:
        report["notes"].append(f"the notebook has no Otter metadata (was it copied into a new "
                               f"notebook?); graded as {autograder.name} by the names it defines")
    elif assignment != autograder.name:
        report["error"] = (f"the submission could not be graded: it is a notebook of assignment "
                           f"{clean(assignment, 100)!r}, not of {autograder.name!r}")
        return report
    cells = graded_cells(nb)
    autograder.check()
    skip: set[int] = set()
    while True:  # a cell that ignores its time limit is left out in a fresh sandbox
        sandbox = Sandbox(bwrap, autograder, stubs, memory_mb, timeout)
        ran = run_notebook(sandbox, ["" if i in skip else c for i, c in enumerate(cells)], timeout)
        killed = ran["killed_in"]
        if killed is None or killed in skip or len(skip) >= 2:
            break
        skip.add(killed)
        sandbox.close()
    try:
        report["timed_out"] = [f"{describe_cell(cells[i])} ran longer than {timeout:g} s and was "
                               "stopped (does it loop forever?)" for i in ran["timed_out"]]
        report["timed_out"] += [f"{describe_cell(cells[i])} ignored the time limit of {timeout:g} s, "
                                "so its sandbox was killed and the notebook was run again without it"
                                for i in sorted(skip)]
        report["notebook_errors"] = [
            f"{describe_cell(cells[e['index']])} raised {clean(e.get('ename'), 100)}: "
            f"{clean(e.get('evalue'), 300)}"
            for e in ran["errors"] if isinstance(e, dict) and e.get("index") in range(len(cells))]
        for question, tests in autograder.questions.items():
            entry = report["questions"][question]
            for test in tests:
                passed, message = run_test(test, sandbox)
                entry["tests"].append({"name": test["name"], "points": test["points"],
                                       "hidden": test["hidden"], "passed": passed, "message": message})
                if not passed:
                    kind = "hidden" if test["hidden"] else "public"
                    entry["messages"].append(f"({kind} test, {test['points']:g} point"
                                             f"{'s' if test['points'] != 1 else ''}) {message}")
            earned = sum(t["points"] for t in entry["tests"] if t["passed"])
            entry["score"] = min(earned, entry["possible"])  # never more than the question is worth
    finally:
        sandbox.close()
    if sandbox.dead not in (None, "closed"):
        report["notes"].append(f"the sandbox was killed while the tests ran: {sandbox.dead}")
    report["score"] = min(sum(q["score"] for q in report["questions"].values()), report["possible"])
    return report


# --------------------------------------------------------------------------------- what it writes


def format_report(report: dict[str, Any]) -> str:
    who = report.get("student_id") or report["submission"]
    lines = [f"{who}: {report['score']:g} / {report['possible']:g}"]
    for name, q in report["questions"].items():
        lines.append(f"  {name}: {q['score']:g} / {q['possible']:g}")
        for message in q["messages"]:
            lines.extend("      " + line for line in message.splitlines())
    for key in ("error", "timed_out", "notebook_errors", "notes"):
        items = report.get(key) or []
        for item in [items] if isinstance(items, str) else items:
            lines.append(f"  ! {item}")
    return "\n".join(lines)


def question_feedback(q: dict[str, Any]) -> list[str]:
    """A student's lines for one question: the failed public tests' messages, and how many hidden
    tests failed (never their names, source or inputs)."""
    lines, hidden_failed = [], 0
    for test in q.get("tests", []):
        if test["passed"]:
            continue
        if test["hidden"]:
            hidden_failed += 1
        else:
            lines.append(f"- public test ({test['points']:g} pt): {test['message']}")
    if hidden_failed:
        lines.append(f"- {hidden_failed} hidden test{'s' if hidden_failed > 1 else ''} failed")
    return lines


def notebook_problems(report: dict[str, Any]) -> list[str]:
    return ([report["error"]] if report.get("error") else []) + report.get("timed_out", []) \
        + report.get("notebook_errors", []) + report.get("notes", [])


def feedback(report: dict[str, Any], assignment: str) -> str:
    """What a student may see: scores, the public tests' messages, which hidden tests failed (by
    number, without their names, source or inputs), and the problems with the notebook."""
    lines = [f"# {assignment}: feedback", "", f"Score: {report['score']:g} / {report['possible']:g}"
             + (f" (after the late policy: {report['late_note']})" if report.get("late_note") else ""), ""]
    for name, q in report["questions"].items():
        lines.append(f"## {name}: {q['score']:g} / {q['possible']:g}")
        lines += question_feedback(q) + [""]
    problems = notebook_problems(report)
    if problems:
        lines.append("## Problems with the notebook")
        lines.extend(f"- {p}" for p in problems)
    return "\n".join(lines) + "\n"


def manual_answers(nb: Any) -> dict[str, str]:
    """The answers to manually graded questions: the cells between a question's heading cell and
    the next one, found by Otter's ``# BEGIN QUESTION`` metadata or the hand-out's headings."""
    answers: dict[str, list[str]] = {}
    current = None
    for cell in getattr(nb, "cells", []):
        heading = re.match(r"#+\s*Question\s+(\d+)", cell.source) if cell.cell_type == "markdown" else None
        if heading:
            current = f"q{heading.group(1)}"
            answers[current] = []
            continue
        if current is not None and cell.cell_type == "markdown" and cell.source.startswith("## "):
            current = None
        if current is not None:
            answers[current].append(cell.source)
    return {q: "\n\n".join(text).strip() for q, text in answers.items()}


def manual_questions(master: Path) -> list[str]:
    """The manually graded questions of an assignment (``manual: true`` in the master)."""
    import nbformat
    import yaml

    found = []
    for cell in nbformat.read(master, as_version=4).cells:
        if cell.cell_type == "raw" and cell.source.strip().startswith("# BEGIN QUESTION"):
            config = yaml.safe_load(cell.source.split("\n", 1)[1]) or {}
            if config.get("manual"):
                found.append(config["name"])
    return found


def load_late_policy(spec: str) -> Callable:
    """``FILE.py:FUNCTION``, called as ``FUNCTION(row, score, possible)`` with the roster row (a
    dict of its columns): returns the new score and a note for the student."""
    path, _, function = spec.partition(":")
    module_spec = importlib.util.spec_from_file_location("late_policy", path)
    if module_spec is None or not function:
        raise SystemExit(f"--late-policy must be FILE.py:FUNCTION; got {spec!r}")
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return getattr(module, function)


def read_roster(path: Path) -> list[dict[str, str]]:
    """Rows of a CSV with at least the columns ``student_id`` and ``file`` (relative to the CSV)."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows or not {"student_id", "file"} <= set(rows[0]):
        raise SystemExit(f"{path} needs the columns student_id and file; got {list(rows[0]) if rows else []}")
    ids = [r["student_id"] for r in rows]
    if len(set(ids)) != len(ids):
        raise SystemExit(f"{path}: student ids must be unique")
    for r in rows:
        r["file"] = str((path.parent / r["file"]).resolve())
    return rows


class Progress:
    """A one-line progress bar on stderr (a line per 10 % when stderr is not a terminal)."""

    def __init__(self, total: int) -> None:
        self.total, self.done, self.start, self.shown = total, 0, time.monotonic(), -1

    def step(self) -> None:
        self.done += 1
        elapsed = time.monotonic() - self.start
        left = elapsed / self.done * (self.total - self.done)
        bar = "#" * (30 * self.done // self.total)
        line = (f"[{bar:<30}] {self.done}/{self.total} graded, {elapsed:.0f} s, "
                f"about {left:.0f} s left")
        if sys.stderr.isatty():
            print("\r" + line, end="" if self.done < self.total else "\n", file=sys.stderr, flush=True)
        elif 10 * self.done // self.total != self.shown:
            self.shown = 10 * self.done // self.total
            print(line, file=sys.stderr, flush=True)


def safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", text)[:100] or "_"


def cmd_grade(args: argparse.Namespace) -> int:
    bwrap = None if args.unsafe_no_sandbox else find_bwrap()
    if bwrap is None and not args.unsafe_no_sandbox:
        raise SystemExit(NO_BWRAP)
    if args.unsafe_no_sandbox:
        print("WARNING: --unsafe-no-sandbox: submissions run as plain processes with your "
              "permissions; a submission can read the results folder and change other grades. "
              "Use it only for submissions you trust.", file=sys.stderr)
    out = Path(args.out).resolve()
    autograder = Autograder(out, args.name)
    rows: list[dict[str, str]] = []
    if args.roster:
        rows = read_roster(Path(args.roster).resolve())
    for pattern in args.submissions:
        matches = sorted(glob.glob(pattern)) or [pattern]
        rows.extend({"student_id": Path(m).stem, "file": str(Path(m).resolve())} for m in matches)
    if not rows:
        raise SystemExit("no submissions: name files or give --roster")
    results_dir = Path(args.results).resolve() if args.results else out / args.name / "grades"
    results_dir.mkdir(parents=True, exist_ok=True)
    late_policy = load_late_policy(args.late_policy) if args.late_policy else None
    master = masters().get(args.name)
    manual = manual_questions(master) if master else []

    with tempfile.TemporaryDirectory(prefix="kit-grade-") as private:
        stubs = write_stubs(Path(private) / "stubs", args.name)
        progress = Progress(len(rows))
        reports: list[dict[str, Any] | None] = [None] * len(rows)
        with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            futures = {pool.submit(grade_submission, autograder, Path(row["file"]), args.timeout,
                                   args.memory_mb, bwrap, stubs): i for i, row in enumerate(rows)}
            for future in as_completed(futures):
                reports[futures[future]] = future.result()
                progress.step()
    # Every sandbox is closed (each grading waits until its PID namespace is empty) before
    # anything is written.
    manual_dir = results_dir / "manual"
    for row, report in zip(rows, reports):
        report["student_id"] = row["student_id"]
        if late_policy is not None:
            new_score, note = late_policy(dict(row), report["score"], report["possible"])
            report["late_note"] = str(note)
            report["score"] = max(0.0, min(float(new_score), report["possible"]))
    questions = list(autograder.questions)
    with open(results_dir / "grades.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["student_id", "submission", *questions, "total", "possible", "problem"])
        for r in reports:
            problem = r["error"] or "; ".join(r["timed_out"]) or ""
            writer.writerow([r["student_id"], r["submission"],
                             *(r["questions"][q]["score"] for q in questions),
                             r["score"], r["possible"], problem])
    with open(results_dir / "tests.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["student_id", "question", "test", "hidden", "points", "passed"])
        for r in reports:
            for q in questions:
                for t in r["questions"][q]["tests"]:
                    writer.writerow([r["student_id"], q, t["name"], t["hidden"], t["points"],
                                     t["passed"]])
    (results_dir / "grades.json").write_text(json.dumps(reports, indent=2))
    (results_dir / "feedback").mkdir(exist_ok=True)
    for r in reports:
        (results_dir / "feedback" / f"{safe_name(r['student_id'])}.md").write_text(
            feedback(r, args.name))
    if manual:
        manual_dir.mkdir(exist_ok=True)
        for q in manual:
            parts = [f"# {args.name} {q}: answers to grade by reading\n"]
            for row in rows:
                nb, _ = read_submission(Path(row["file"]))
                answer = manual_answers(nb).get(q, "") if nb is not None else ""
                parts.append(f"## {row['student_id']}\n\n{answer or '(no answer)'}\n")
            (manual_dir / f"{q}.md").write_text("\n".join(parts))
        with open(manual_dir / "scores.csv", "w", newline="") as f:
            csv.writer(f).writerows([["student_id", *manual]] + [[r["student_id"]] + [""] * len(manual)
                                                                for r in reports])
    if not args.quiet:
        for r in reports:
            print(format_report(r))
    print(f"grades written to {results_dir / 'grades.csv'} (per test: tests.csv; details: "
          f"grades.json; for students: feedback/)")
    return 0


# ------------------------------------------------------------------------------------- Gradescope

# Modules whose distribution on PyPI has another name.
DISTRIBUTIONS = {"sklearn": "scikit-learn", "IPython": "ipython", "yaml": "pyyaml", "PIL": "pillow"}
# What grading itself imports: the runner (IPython, and NumPy for the wire format) and the grader.
GRADING_NEEDS = ["ipython", "nbformat", "numpy"]
# Packages a submission may use although the master does not import them: SciPy is not blocked in
# assignment 1 (its special functions score full marks with the kit), so Gradescope has it too.
ALSO_ALLOWED = {"entropy_kl": ["scipy"]}


def course_pins() -> dict[str, str]:
    """``name -> version`` from the course's ``requirements.txt`` (names normalised)."""
    pins = {}
    for line in (REPO / "requirements.txt").read_text().splitlines():
        match = re.match(r"^\s*([A-Za-z0-9_.-]+)\s*==\s*([^\s#;]+)", line)
        if match:
            pins[re.sub(r"[-_.]+", "-", match.group(1)).lower()] = match.group(2)
    return pins


def assignment_requirements(name: str, master: Path, autograder: Autograder) -> list[str]:
    """The pinned requirements of grading assignment ``name``: the packages its notebook and its
    tests import (not kldiv, which the kit ships, nor Otter, which grading does not use) and what
    grading itself needs, at the versions of the course's ``requirements.txt``, or where a package
    is not pinned there, at the version installed in the course environment."""
    import importlib.metadata

    import nbformat

    sources = [c.source for c in nbformat.read(master, as_version=4).cells if c.cell_type == "code"]
    with zipfile.ZipFile(io.BytesIO(autograder.verified_bytes())) as zf:
        sources += [zf.read(n).decode() for n in zf.namelist() if n.startswith("tests/")]
    modules = set()
    for source in sources:
        source = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!")))
        with contextlib.suppress(SyntaxError):
            for node in ast.walk(ast.parse(source)):
                if isinstance(node, ast.Import):
                    modules.update(a.name.split(".")[0] for a in node.names)
                elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    modules.add(node.module.split(".")[0])
    # kldiv is shipped, Otter is not used in grading, google.colab exists on Colab only.
    modules -= set(sys.stdlib_module_names) | {"kldiv", "otter", "google", "__future__"}
    names = sorted({DISTRIBUTIONS.get(m, m).lower() for m in modules} | set(GRADING_NEEDS)
                   | set(ALSO_ALLOWED.get(name, [])))
    pins, lines = course_pins(), []
    for dist in names:
        if dist in pins:
            lines.append(f"{dist}=={pins[dist]}")
        else:
            lines.append(f"{dist}=={importlib.metadata.version(dist)}  # as installed in the course "
                         "environment (not pinned in requirements.txt)")
    return lines


GRADESCOPE_SETUP = """#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image (Ubuntu).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y python3 python3-venv bubblewrap util-linux
python3 -m venv /autograder/venv
/autograder/venv/bin/pip install --no-cache-dir -r /autograder/source/requirements.txt
"""

GRADESCOPE_RUN = """#!/usr/bin/env bash
# Gradescope runs this, as root, once per submission, in a fresh container. Only root may read the
# autograder (hidden tests), the submission and the results; the submission's code runs in a
# bubblewrap sandbox, or where bubblewrap cannot run there, as an unprivileged user (kit.py).
set -euo pipefail
ROOT="${{AUTOGRADER_ROOT:-/autograder}}"
mkdir -p "$ROOT/results"
chmod 711 "$ROOT"
chmod -R go-rwx "$ROOT/source" "$ROOT/submission" "$ROOT/results"
exec "${{AUTOGRADER_PYTHON:-$ROOT/venv/bin/python}}" "$ROOT/source/kit/kit.py" gradescope-run {name} --root "$ROOT" "$@"
"""


def cmd_gradescope(args: argparse.Namespace) -> int:
    """Write ``OUT/NAME/NAME-gradescope.zip``: Gradescope's ``setup.sh`` and ``run_autograder``,
    the requirements (from the course's pins), this kit, and the built autograder of NAME."""
    out = Path(args.out).resolve()
    name = args.name
    master = masters().get(name)
    if master is None:
        raise SystemExit(f"unknown assignment {name!r}; available: {sorted(masters())}")
    autograder = Autograder(out, name)
    target = out / name / f"{name}-gradescope.zip"
    requirements = assignment_requirements(name, master, autograder)
    files: dict[str, bytes] = {
        "setup.sh": GRADESCOPE_SETUP.encode(),
        "run_autograder": GRADESCOPE_RUN.format(name=name).encode(),
        "requirements.txt": ("# Generated by `kit.py gradescope` from the course's pins\n"
                             + "\n".join(requirements) + "\n").encode(),
        "kit/kit.py": Path(__file__).read_bytes(),
        "kit/sandbox_runner.py": RUNNER.read_bytes(),
        f"dist/{name}/{name}-autograder.zip": autograder.verified_bytes(),
        f"dist/{name}/{name}-autograder.zip.sha256": autograder.hash_file.read_bytes(),
    }
    if HANDOUT_KLDIV.get(name, []) is not None:
        for path in sorted((autograder.handout / "src").rglob("*.py")):
            if "__pycache__" not in path.parts:
                files[f"dist/{name}/kldiv-handout/{path.relative_to(autograder.handout).as_posix()}"] = \
                    path.read_bytes()
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
        for path, data in files.items():
            info = zipfile.ZipInfo(path, date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = (0o755 if path in ("setup.sh", "run_autograder") else 0o644) << 16
            zf.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED)
    print(f"wrote {target}: upload it as the autograder of {name} on Gradescope "
          f"({len(requirements)} requirements: {', '.join(r.split('==')[0] for r in requirements)})")
    return 0


def bwrap_works(bwrap: str | None) -> bool:
    """Whether bubblewrap can make its namespaces here (a container may forbid it)."""
    if bwrap is None:
        return False
    probe = subprocess.run([bwrap, "--unshare-all", "--die-with-parent", "--ro-bind", "/", "/",
                            "true"], capture_output=True, timeout=30)
    return probe.returncode == 0


def cmd_gradescope_run(args: argparse.Namespace) -> int:
    """Gradescope's entry point: grade the one notebook in ROOT/submission and write
    ROOT/results/results.json, in Gradescope's format, after the sandbox is gone."""
    root = Path(args.root).resolve()
    bwrap = find_bwrap()
    if args.sandbox == "bwrap" or (args.sandbox == "auto" and bwrap_works(bwrap)):
        if not bwrap_works(bwrap):
            raise SystemExit(NO_BWRAP)
        isolation = bwrap
    elif os.geteuid() == 0 and shutil.which("setpriv"):
        isolation = SETPRIV
    else:
        raise SystemExit("gradescope-run needs bubblewrap, or root and setpriv for its fallback")
    autograder = Autograder(root / "source" / "dist", args.name)
    notebooks = sorted((root / "submission").rglob("*.ipynb")) or sorted((root / "submission").rglob("*.zip"))
    with tempfile.TemporaryDirectory(prefix="kit-gradescope-") as private:
        stubs = write_stubs(Path(private) / "stubs", args.name)
        if len(notebooks) == 1:
            report = grade_submission(autograder, notebooks[0], args.timeout, args.memory_mb,
                                      isolation, stubs)
        else:
            report = empty_report("submission", autograder)
            report["error"] = (f"the submission could not be graded: upload exactly one .ipynb "
                               f"(found {len(notebooks)})")
    # The sandbox is gone (grade_submission waits for that); only now is anything written.
    tests = [{"name": f"{q}", "score": entry["score"], "max_score": entry["possible"],
              "output": "\n".join(question_feedback(entry)) or "All tests passed.",
              "visibility": "visible"} for q, entry in report["questions"].items()]
    problems = notebook_problems(report)
    results = {"score": report["score"], "tests": tests,
               "output": "\n".join(f"- {p}" for p in problems) if problems else
               f"Graded by the assignment kit ({'bubblewrap' if isolation != SETPRIV else 'setpriv'} sandbox).",
               "visibility": "visible"}
    (root / "results").mkdir(exist_ok=True)
    (root / "results" / "results.json").write_text(json.dumps(results, indent=2))
    print(f"{args.name}: {report['score']:g} / {report['possible']:g} "
          f"({'bubblewrap' if isolation != SETPRIV else 'setpriv'} sandbox)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python assignments/kit.py", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("build", help="build student notebooks and autograders (otter assign)")
    p.add_argument("names", nargs="*", help="assignments to build (default: all)")
    p.add_argument("--out", default=str(DEFAULT_OUT), help="output folder (default: %(default)s)")
    p.add_argument("--skip-solution-check", action="store_true",
                   help="do not let Otter run the solutions notebook (faster; then grade it with "
                        "`grade NAME OUT/NAME/autograder/NAME.ipynb`, which the kit's tests do)")
    p.set_defaults(func=cmd_build)

    p = sub.add_parser("grade", help="grade submissions, each in its own sandbox")
    p.add_argument("name", help="the assignment, e.g. entropy_kl")
    p.add_argument("submissions", nargs="*", help=".ipynb or .zip files (glob patterns work)")
    p.add_argument("--roster", help="CSV with columns student_id,file (paths relative to it)")
    p.add_argument("--out", default=str(DEFAULT_OUT), help="where `build` wrote (default: %(default)s)")
    p.add_argument("--results", help="folder for grades.csv, grades.json, feedback/ and manual/ "
                                     "(default: OUT/NAME/grades)")
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                   help="seconds a notebook cell, or one call of a submission's function, may run "
                        "(default: %(default)s)")
    p.add_argument("--memory-mb", type=int, default=DEFAULT_MEMORY_MB,
                   help="address space of each process of a submission, in MiB (default: %(default)s)")
    p.add_argument("--jobs", type=int, default=1, help="submissions graded at once (default: 1)")
    p.add_argument("--late-policy", help="FILE.py:FUNCTION(row, score, possible) -> (score, note)")
    p.add_argument("--quiet", action="store_true", help="print no per-submission report")
    p.add_argument("--unsafe-no-sandbox", action="store_true",
                   help="UNSAFE: grade without bubblewrap (trusted submissions only)")
    p.set_defaults(func=cmd_grade)

    p = sub.add_parser("gradescope", help="write NAME-gradescope.zip, Gradescope's autograder")
    p.add_argument("name", help="the assignment, built first with `build`")
    p.add_argument("--out", default=str(DEFAULT_OUT), help="where `build` wrote (default: %(default)s)")
    p.set_defaults(func=cmd_gradescope)

    p = sub.add_parser("gradescope-run", help="(on Gradescope, via run_autograder) grade ROOT/submission")
    p.add_argument("name")
    p.add_argument("--root", default="/autograder", help="Gradescope's folder (default: %(default)s)")
    p.add_argument("--sandbox", choices=("auto", "bwrap", "setpriv"), default="auto",
                   help="auto: bubblewrap where it works here, else setpriv (default: %(default)s)")
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT)
    p.add_argument("--memory-mb", type=int, default=DEFAULT_MEMORY_MB)
    p.set_defaults(func=cmd_gradescope_run)

    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
