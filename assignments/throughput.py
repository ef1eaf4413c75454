"""Measure how long grading a class takes: N submissions per assignment, graded with the kit.

    python assignments/throughput.py [NAME ...] [--n 200] [--jobs 2] [--out DIR]

For each assignment (default: all three) it builds the assignment into ``DIR`` (a temporary folder
by default), writes ``N`` submissions in a realistic mix, made from the reference solutions by the
typical mistakes of ``MIX`` (each a different file, as from different students, with a roster), runs
``kit.py grade --roster ... --jobs J`` with its progress bar, and prints the time and a table of
submission kind, count, expected and actual points. It exits with 1 if a score differs from the
expected one. It is not part of the test suite (200 submissions take minutes to hours); the test
suite runs it with ``--n 3`` to check that it works.
"""

from __future__ import annotations

import argparse
import copy
import csv
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
KIT = HERE / "kit.py"

# Per assignment: (kind, share of the class, expected points, edits to the reference solutions:
# (a text in exactly one code cell, what replaces it)). "untouched" is the student notebook.
MIX: dict[str, list[tuple[str, float, float, list[tuple[str, str]]]]] = {
    "entropy_kl": [
        ("reference", 0.5, 12, []),
        ("q4 in nats", 0.15, 10, [("H_die_bits = entropy(p_die, base=2)", "H_die_bits = entropy(p_die)"),
                                  ("kl_divergence(p_die, q_fair, base=2)", "kl_divergence(p_die, q_fair)")]),
        ("KL arguments swapped", 0.15, 7,
         [("p, q = np.asarray(p, dtype=float), np.asarray(q, dtype=float)\n    nz = p > 0                                # 0 log(0 / q)",
           "q, p = np.asarray(p, dtype=float), np.asarray(q, dtype=float)\n    nz = p > 0                                # 0 log(0 / q)")]),
        ("no 0 log 0 = 0", 0.1, 5, [("nz = p > 0 ", "nz = slice(None) # "),
                                    ("nz = p > 0 ", "nz = slice(None) # "),
                                    ("nz = p > 0 ", "nz = slice(None) # ")]),
        ("untouched", 0.1, 0, []),
    ],
    "forward_reverse_kl": [
        ("reference", 0.5, 12, []),
        ("sigma as a variance", 0.15, 9, [("float(np.sqrt(weights @", "float((weights @")]),
        ("fit names swapped", 0.15, 10, [('covers_both_modes = "forward"', 'covers_both_modes = "reverse"'),
                                         ('mode_seeking = "reverse"', 'mode_seeking = "forward"')]),
        ("one starting point", 0.1, 10, [("starts = np.linspace(-4.0, 4.0, 9)", "starts = [-1.0]")]),
        ("untouched", 0.1, 0, []),
    ],
    "label_smoothing": [
        ("reference", 0.5, 10, []),
        ("q4 in bits", 0.2, 8, [("np.log(target)", "np.log2(target)")]),
        ("no label smoothing", 0.2, 9, [("smooth_labels(y_train, K, epsilon)", "smooth_labels(y_train, K, 0.0)")]),
        ("untouched", 0.1, 0, []),
    ],
}


def counts(n: int, kinds: list) -> list[int]:
    """How many of ``n`` submissions each kind gets (largest remainders; every kind at least one
    when n allows)."""
    raw = [n * share for _, share, _, _ in kinds]
    got = [int(r) for r in raw]
    for i in sorted(range(len(kinds)), key=lambda i: raw[i] - got[i], reverse=True)[: n - sum(got)]:
        got[i] += 1
    return got


def make_submissions(dist: Path, name: str, n: int, folder: Path) -> dict[str, tuple[str, float]]:
    """Write the submissions and ``roster.csv``; returns student id -> (kind, expected points)."""
    import nbformat

    reference = nbformat.read(dist / name / "autograder" / f"{name}.ipynb", as_version=4)
    student = nbformat.read(dist / name / "student" / f"{name}.ipynb", as_version=4)
    expected, rows = {}, []
    kinds = MIX[name]
    for (kind, _, points, edits), count in zip(kinds, counts(n, kinds)):
        nb = copy.deepcopy(student if kind == "untouched" else reference)
        for old, new in edits:  # each edit changes the first code cell that still has `old`
            cells = [c for c in nb.cells if c.cell_type == "code" and old in c.source]
            if not cells or cells[0].source.count(old) != 1:
                raise SystemExit(f"{name}/{kind}: {old!r} is not once in a code cell")
            cells[0].source = cells[0].source.replace(old, new)
        for i in range(count):
            student_id = f"{kind.replace(' ', '_')}_{i:03d}"
            copy_nb = copy.deepcopy(nb)
            copy_nb.cells.append(nbformat.v4.new_markdown_cell(f"Student {student_id}"))
            nbformat.write(copy_nb, folder / f"{student_id}.ipynb")
            rows.append({"student_id": student_id, "file": f"{student_id}.ipynb"})
            expected[student_id] = (kind, float(points))
    with open(folder / "roster.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["student_id", "file"])
        writer.writeheader()
        writer.writerows(rows)
    return expected


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("names", nargs="*", help=f"assignments (default: all of {list(MIX)})")
    parser.add_argument("--n", type=int, default=200, help="submissions per assignment (default: 200)")
    parser.add_argument("--jobs", type=int, default=2, help="submissions graded at once (default: 2)")
    parser.add_argument("--out", help="build folder; assignments already built there are not rebuilt "
                                      "(default: a temporary folder)")
    parser.add_argument("--json", help="also write the measurements to this JSON file")
    parser.add_argument("--keep", help="copy the submissions and grades to this folder")
    args = parser.parse_args(argv)
    if args.n < 1:
        raise SystemExit(f"--n must be >= 1; got {args.n}")
    names = args.names or list(MIX)
    unknown = [n for n in names if n not in MIX]
    if unknown:
        raise SystemExit(f"unknown assignment(s) {unknown}; available: {list(MIX)}")
    measured, failed = [], False
    with tempfile.TemporaryDirectory(prefix="kit-throughput-") as tmp:
        dist = Path(args.out).resolve() if args.out else Path(tmp) / "dist"
        to_build = [n for n in names if not (dist / n / f"{n}-autograder.zip").is_file()]
        if to_build:  # an existing build in --out is used as it is
            subprocess.run([sys.executable, str(KIT), "build", *to_build, "--out", str(dist)], check=True)
        for name in names:
            folder = Path(tmp) / f"submissions_{name}"
            folder.mkdir()
            expected = make_submissions(dist, name, args.n, folder)
            results = Path(tmp) / f"grades_{name}"
            start = time.monotonic()
            subprocess.run([sys.executable, str(KIT), "grade", name, "--roster", str(folder / "roster.csv"),
                            "--out", str(dist), "--results", str(results), "--jobs", str(args.jobs),
                            "--quiet"], check=True)
            seconds = time.monotonic() - start
            reports = {r["student_id"]: r for r in json.loads((results / "grades.json").read_text())}
            print(f"\n{name}: {args.n} submissions graded in {seconds:.0f} s with --jobs {args.jobs} "
                  f"({seconds / args.n:.1f} s per submission)")
            print("| kind | submissions | expected | actual |\n| --- | --- | --- | --- |")
            for kind, _, points, _ in MIX[name]:
                ids = [i for i, (k, _) in expected.items() if k == kind]
                if not ids:
                    continue
                actual = sorted({reports[i]["score"] for i in ids})
                failed |= actual != [points]
                print(f"| {kind} | {len(ids)} | {points:g} / {reports[ids[0]]['possible']:g} | "
                      f"{', '.join(f'{a:g}' for a in actual)} |")
            for i in [i for i, (k, p) in expected.items() if reports[i]["score"] != p][:5]:
                r = reports[i]
                print(f"  MISMATCH {i}: {r['score']:g}; error={r['error']}; notes={r['notes']}; "
                      f"timed_out={r['timed_out']}; errors={r['notebook_errors'][:2]}")
            if args.keep:
                import shutil

                shutil.copytree(Path(tmp), Path(args.keep) / name, dirs_exist_ok=True)
            measured.append({"assignment": name, "n": args.n, "jobs": args.jobs, "seconds": seconds,
                             "mismatches": [i for i, (k, p) in expected.items() if reports[i]["score"] != p]})
    if args.json:
        Path(args.json).write_text(json.dumps(measured, indent=2))
    total = sum(m["seconds"] for m in measured)
    print(f"\ntotal grading time: {total:.0f} s ({total / 60:.1f} min)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
