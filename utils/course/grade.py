"""`make grade SUBMISSION=<notebook or folder>`: grade submissions with otter-grader, offline.

What it prints, how a submission is recognized and how it is contained: docs/instructors.md.
Each submission runs in its own process and scratch folder with a time and a memory limit
(utils/course/sandbox.py); one that raises, hangs or loops costs its own points only.
"""
import argparse
import csv
import json
import os
import re
import shutil
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import nbformat

from utils import write_atomically
from utils.course import feedback, sandbox
from utils.course.student import DIST, NOTEBOOKS, needs_otter

CJK = re.compile(r"[\u4e00-\u9fff]")
TIMEOUT = 900
WORDS = {
    "en": {"exercise": "exercise", "ok": "ok",
           "stopped": "stopped after {s} s (the time limit): no exercise graded",
           "crashed": "the grading process stopped ({why}): no exercise graded",
           "raised": "{n} cells raised an error (the first: cell {first})"},
    "zh": {"exercise": "练习", "ok": "通过",
           "stopped": "运行超过时限（{s} s）被终止：没有练习得分",
           "crashed": "评分进程中止（{why}）：没有练习得分",
           "raised": "{n} 个单元格引发了错误（第一个：单元格 {first}）"},
}


class NotGradable(Exception):
    """A submission this cannot grade; the message is the one line the report shows."""


def identify(path, graders):
    """(stem, lang) of a submitted notebook (metadata, else file name, else title; language:
    metadata, else its prose), or NotGradable naming it."""
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as err:  # not JSON, not a notebook, unreadable: one line, then the next
        raise NotGradable(f"{path}: not a readable notebook ({type(err).__name__}: "
                          f"{str(err).splitlines()[0] if str(err) else 'no detail'})") from None
    meta = nb.metadata.get("course", {})
    stem = meta.get("notebook") if meta.get("notebook") in graders else None
    stem = stem or next((s for s in graders if Path(path).stem.startswith(s)), None)
    if stem is None:
        title = next((c.source.splitlines()[0] for c in nb.cells
                      if c.cell_type == "markdown" and c.source.strip()), "")
        for candidate in graders:
            for folder in (NOTEBOOKS, NOTEBOOKS / "zh"):
                source = nbformat.read(folder / f"{candidate}.ipynb", as_version=4)
                if title and title == source.cells[0].source.splitlines()[0]:
                    stem = candidate
    if stem is None:
        raise NotGradable(f"{path}: not one of the course notebooks ({', '.join(graders)}); "
                          "name it after its notebook")
    prose = "".join(c.source for c in nb.cells if c.cell_type == "markdown")
    # the English edition has Chinese terms in parentheses: count, do not just look
    lang = meta.get("lang") or ("zh" if len(CJK.findall(prose)) > 0.1 * len(prose) else "en")
    return stem, lang


def worker(submission, autograder, out):
    """In the sandboxed process: otter grades the notebook; write what the report needs."""
    from otter.run import main as otter_run

    results = otter_run(submission, autograder=autograder, output_dir=None, no_logo=True)
    exercises = []
    for name, test_file in results.results.items():
        failed = [r.test_case.failure_message or r.test_case.name
                  for r in test_file.test_case_results if not r.passed]
        exercises.append({"name": name, "score": test_file.score,
                          "possible": test_file.possible, "failed": failed})
    errors, first_error = [], ""
    for cell in (results.notebook or {}).get("cells", []):
        raised = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        if raised:
            errors.append(cell.get("id", ""))
            first_error = first_error or f"{raised[0].get('ename')}: {raised[0].get('evalue')}"
    Path(out).write_text(json.dumps({"exercises": exercises, "cells_with_errors": errors,
                                     "first_error": first_error[:200]},
                                    ensure_ascii=False), encoding="utf-8")


def exercise_number(name):
    return name.split()[-1]


def grade(path, graders, timeout=TIMEOUT, memory_mb=sandbox.MEMORY_MB):
    """Grade one submission: (lines, row for the gradebook)."""
    row = {"submission": str(path), "notebook": "", "score": 0, "possible": 0, "note": ""}
    try:
        stem, lang = identify(path, graders)
    except NotGradable as err:
        row["note"] = str(err)
        return [str(err)], row
    row["notebook"], words = stem, WORDS[lang]
    row["possible"] = possible = otter_possible(graders[stem])
    with tempfile.TemporaryDirectory(prefix="grade-", ignore_cleanup_errors=True) as scratch:
        scratch = Path(scratch)
        shutil.copy(path, scratch / f"{stem}.ipynb")
        shutil.copy(graders[stem], scratch / "autograder.zip")
        env = dict(os.environ, COURSE_EXPORTS_DIR=str(scratch / "exports"),
                   PYTHONPATH=str(NOTEBOOKS.parent))
        command = [sys.executable, "-m", "utils.course.grade", "--worker",
                   f"{stem}.ipynb", "autograder.zip", "results.json"]
        started = time.monotonic()
        status, stderr = sandbox.run(command, scratch, env, timeout, memory_mb=memory_mb)
        row["seconds"] = round(time.monotonic() - started, 1)
        results = scratch / "results.json"
        graded = json.loads(results.read_text(encoding="utf-8")) if results.exists() else None
    if not graded or not isinstance(graded, dict):  # none, or not what otter writes
        last = [line for line in stderr.splitlines() if line.strip()][-1:]
        why = last[0].strip()[:160] if last else f"exit status {status}"
        row["note"] = (words["stopped"].format(s=timeout) if status is None
                       else words["crashed"].format(why=why))
        return [f"{path}: {row['note']}", f"total: 0 / {possible:g}"], row
    zh = feedback.chinese() if lang == "zh" else {}
    lines = [f"{path} ({stem}, {lang})"]
    for q in sorted(graded["exercises"], key=lambda q: float(exercise_number(q["name"]))):
        said = "; ".join(zh.get(message, message) for message in q["failed"]) or words["ok"]
        lines.append(f"{words['exercise']} {exercise_number(q['name'])}: "
                     f"{q['score']:g} / {q['possible']:g}  {said}")
        row[q["name"]] = q["score"]
    errors = graded["cells_with_errors"]
    row["cells_with_errors"] = len(errors)
    if errors:
        lines.append(words["raised"].format(n=len(errors), first=errors[0])
                     + (f": {graded['first_error']}" if graded.get("first_error") else ""))
    row["score"] = sum(q["score"] for q in graded["exercises"])
    lines.append(f"total: {row['score']:g} / {possible:g}")
    return lines, row


def otter_possible(autograder):
    """The points of every question in an autograder zip, added up without running anything."""
    with zipfile.ZipFile(autograder) as zf:
        tests = [zf.read(member).decode("utf-8") for member in zf.namelist()
                 if member.startswith("tests/") and member.endswith(".py")]
    points = (re.search(r"^points\s*=\s*([0-9.]+)", text, re.M) for text in tests)
    return sum(float(found.group(1)) for found in points if found)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m utils.course.grade", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("submission", nargs="+", help="a notebook, or a folder of notebooks")
    parser.add_argument("--grader", type=Path, default=DIST / "grader",
                        help="the autograders `make student` wrote (default dist/grader/)")
    parser.add_argument("--gradebook", type=Path,
                        help="CSV gradebook for a folder (default: <folder>/gradebook.csv)")
    parser.add_argument("--timeout", type=float, default=TIMEOUT,
                        help=f"seconds per submission (default {TIMEOUT})")
    parser.add_argument("--memory-mb", type=int, default=sandbox.MEMORY_MB,
                        help=f"address-space limit per submission (default {sandbox.MEMORY_MB})")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(*args.submission)
        return 0
    problem = needs_otter("make grade")
    if problem:
        print(problem, file=sys.stderr)
        return 2
    graders = {p.stem: p for p in sorted(args.grader.glob("*.zip"))}
    if not graders:
        print(f"no autograders in {args.grader}/: run `make student` first", file=sys.stderr)
        return 2
    rows = []
    for given in map(Path, args.submission):
        if not given.exists():
            print(f"{given}: no such file or folder")
            rows.append({"note": "missing"})
            continue
        paths = [given] if not given.is_dir() else sorted(
            p for p in given.iterdir() if p.is_file() and p.name != "gradebook.csv")
        given_rows = []
        for path in paths:  # each printed as soon as it is graded
            lines, row = grade(path, graders, args.timeout, args.memory_mb)
            print("\n".join(lines), flush=True)
            given_rows.append(row)
        rows += given_rows
        if given.is_dir():
            write_gradebook(args.gradebook or given / "gradebook.csv", given_rows)
    return 0 if all(not r.get("note") for r in rows) else 1


def write_gradebook(target, rows):
    """One row per submission, written whole or not at all."""
    columns = ["submission", "notebook", "score", "possible", "seconds", "cells_with_errors"]
    columns += sorted({k for r in rows for k in r if k.startswith("exercise")},
                      key=lambda k: float(exercise_number(k))) + ["note"]
    Path(target).parent.mkdir(parents=True, exist_ok=True)

    def write(tmp):
        with open(tmp, "w", newline="", encoding="utf-8") as file:
            writer = csv.DictWriter(file, columns, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(rows)
    write_atomically(target, write, mode=0o600)  # names and scores: the instructor's only
    print(f"gradebook: {target} ({len(rows)} submissions)")


if __name__ == "__main__":
    sys.exit(main())
