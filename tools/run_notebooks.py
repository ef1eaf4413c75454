"""Restart & Run All for course notebooks, storing clean outputs and a record of the run.

    python tools/run_notebooks.py chapters/01_comparing_beliefs.ipynb [...]

Each notebook runs top to bottom in a fresh kernel with its own folder as working directory, so
execution counts read 1..N. Per-cell timing metadata is not recorded and volatile metadata is
removed. What the outputs were produced on — date, device, Keras backend, versions and the
wall-clock time — is stored in the notebook's metadata (``kldiv.run``), and the book's run-record
page, ``chapters/run_record.md``, is rewritten from the records of every chapter in ``_toc.yml``.
A cell error stops with the traceback.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import shutil
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

import nbformat
from nbclient import NotebookClient

import book_toc  # tools/book_toc.py

ROOT = Path(__file__).resolve().parents[1]
RECORD_PAGE = ROOT / "chapters" / "run_record.md"
PACKAGES = ("numpy", "tensorflow", "keras", "tensorflow-probability", "jax", "torch", "kldiv")
# Environment variables that change what a notebook computes; recorded when set.
SETTINGS = ("KERAS_BACKEND", "KLDIV_LAB_CONFIG")

# Cell metadata keys that change on every run and carry no meaning for readers.
VOLATILE_CELL_KEYS = ("execution", "collapsed", "scrolled", "ExecuteTime")


def run(path: Path, timeout: int) -> float:
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        record_timing=False,
    )
    client.execute()
    elapsed = time.perf_counter() - start
    for cell in nb.cells:
        for key in VOLATILE_CELL_KEYS:
            cell.metadata.pop(key, None)
    nb.metadata.pop("widgets", None)
    nb.metadata.setdefault("kldiv", {})["run"] = run_record(elapsed)
    nbformat.validate(nb)
    nbformat.write(nb, path)
    return elapsed


def device() -> str:
    """The GPU if there is one (nvidia-smi), else the CPU model and its number of cores."""
    if shutil.which("nvidia-smi"):
        out = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
                             capture_output=True, text=True)
        if out.returncode == 0 and out.stdout.strip():
            return "GPU: " + out.stdout.strip().splitlines()[0]
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"CPU: {model}, {os.cpu_count()} cores"


def run_record(seconds: float) -> dict:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d"),
        "seconds": round(seconds, 1),
        "device": device(),
        "python": platform.python_version(),
        "packages": versions,
        "settings": {k: os.environ[k] for k in SETTINGS if os.environ.get(k)},
    }


def record_page() -> str:
    """The run-record page, from the ``kldiv.run`` metadata of every notebook chapter."""
    lines = [
        "# How each page was produced",
        "",
        "Every chapter is a notebook stored with its outputs. This table records, for each one, the "
        "last time its outputs were produced by a full Restart & Run All (`make notebooks`, which "
        "writes this page), on what, and how long the run took. The tests re-execute every chapter "
        "on a CPU and compare the outputs with the stored ones (nbval); the lab's training outputs "
        "are exempt from that comparison, since they depend on the device.",
        "",
        "| chapter | produced on | device | software | settings | run time |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for path in book_toc.notebooks():
        nb = nbformat.read(path, as_version=4)
        run = nb.metadata.get("kldiv", {}).get("run")
        title = next((line[2:].strip() for cell in nb.cells if cell.cell_type == "markdown"
                      for line in cell.source.splitlines() if line.startswith("# ")), path.stem)
        link = f"[{title}]({path.name})"
        if run is None:
            lines.append(f"| {link} | not recorded | | | | |")
            continue
        software = ", ".join([f"Python {run['python']}"] + [f"{k} {v}" for k, v in run["packages"].items()])
        settings = ", ".join(f"`{k}={v}`" for k, v in run["settings"].items()) or "defaults"
        lines.append(f"| {link} | {run['date']} | {run['device']} | {software} | {settings} | "
                     f"{run['seconds']:.0f} s |")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--timeout", type=int, default=1800, help="seconds per cell")
    args = parser.parse_args()
    for path in args.notebooks:
        seconds = run(path, args.timeout)
        print(f"{path}: executed in {seconds:.1f} s")
    RECORD_PAGE.write_text(record_page())
    print(f"{RECORD_PAGE.relative_to(ROOT)} updated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
