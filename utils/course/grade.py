"""`make grade SUBMISSION=<notebook or folder>`: grade submitted notebooks with otter-grader, offline.

One notebook: a line per graded exercise (points and, when points were lost, a feedback line in
the notebook's language), then `total: X / Y`. A folder: the same for each notebook in it, and a
CSV gradebook (one row per submission). Which notebook a submission is comes from the metadata
`make student` stamps, else its file name, else its title; its language from the metadata, else
from its text. The autograders are dist/grader/<stem>.zip (`make student` writes them).

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
from pathlib import Path

import nbformat

from utils.course import sandbox
from utils.course.student import DIST, NOTEBOOKS, needs_otter

CJK = re.compile(r"[\u4e00-\u9fff]")
TIMEOUT = 900
WORDS = {
    "en": {"exercise": "exercise", "ok": "ok", "total": "total",
           "stopped": "stopped after {s} s (the time limit): no exercise graded",
           "crashed": "the grading process stopped ({why}): no exercise graded",
           "raised": "{n} cells raised an error (the first: cell {first})"},
    "zh": {"exercise": "练习", "ok": "通过", "total": "total",
           "stopped": "运行超过时限（{s} s）被终止：没有练习得分",
           "crashed": "评分进程中止（{why}）：没有练习得分",
           "raised": "{n} 个单元格引发了错误（第一个：单元格 {first}）"},
}


class NotGradable(Exception):
    """A submission this cannot grade; the message is the one line the report shows."""


def identify(path, graders):
    """(stem, lang) of a submitted notebook, or NotGradable naming it."""
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as err:  # not JSON, not a notebook, unreadable: one line, the next one goes on
        raise NotGradable(f"{path}: not a readable notebook ({type(err).__name__}: "
                          f"{str(err).splitlines()[0] if str(err) else 'no detail'})") from None
    meta = nb.metadata.get("course", {})
    stem = meta.get("notebook") if meta.get("notebook") in graders else None
    if stem is None:
        stem = next((s for s in graders if Path(path).stem.startswith(s)), None)
    if stem is None:
        title = next((c.source.splitlines()[0] for c in nb.cells
                      if c.cell_type == "markdown" and c.source.strip()), "")
        for candidate in graders:
            for source in (NOTEBOOKS / f"{candidate}.ipynb", NOTEBOOKS / "zh" / f"{candidate}.ipynb"):
                first = nbformat.read(source, as_version=4).cells[0].source.splitlines()[0]
                if title and title == first:
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


def chinese_feedback():
    """{English failure message: Chinese line}, from notebooks/zh/feedback.json."""
    from utils.course import feedback

    try:
        entries = feedback.read()
    except (OSError, ValueError):
        return {}
    return {en: zh for per_nb in entries.values() for en, zh in per_nb.items() if zh}


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
    scratch = Path(tempfile.mkdtemp(prefix="grade-"))
    try:
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
        exercises = graded["exercises"] if graded else None
        row["cells_with_errors"] = len(graded["cells_with_errors"]) if graded else ""
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    possible = sum(q["points"] for q in otter_points(graders[stem]))
    row["possible"] = possible
    if exercises is None:
        last = [line for line in stderr.splitlines() if line.strip()][-1:] or [f"exit status {status}"]
        note = (words["stopped"].format(s=timeout) if status is None
                else words["crashed"].format(why=last[0].strip()[:160]))
        row["note"] = note
        return [f"{path}: {note}", f"{words['total']}: 0 / {possible:g}"], row
    zh = chinese_feedback() if lang == "zh" else {}
    lines = [f"{path} ({stem}, {lang})"]
    for q in sorted(exercises, key=lambda q: float(exercise_number(q["name"]))):
        feedback = "; ".join(zh.get(message, message) for message in q["failed"]) or words["ok"]
        lines.append(f"{words['exercise']} {exercise_number(q['name'])}: "
                     f"{q['score']:g} / {q['possible']:g}  {feedback}")
        row[q["name"]] = q["score"]
    if graded["cells_with_errors"]:
        lines.append(words["raised"].format(n=len(graded["cells_with_errors"]),
                                            first=graded["cells_with_errors"][0])
                     + (f": {graded['first_error']}" if graded.get("first_error") else ""))
    row["score"] = sum(q["score"] for q in exercises)
    lines.append(f"{words['total']}: {row['score']:g} / {possible:g}")
    return lines, row


def otter_points(autograder):
    """(name, points) of every question in an autograder zip, read without running anything."""
    import zipfile

    with zipfile.ZipFile(autograder) as zf:
        for member in sorted(zf.namelist()):
            if member.startswith("tests/") and member.endswith(".py"):
                text = zf.read(member).decode("utf-8")
                points = re.search(r"^points\s*=\s*([0-9.]+)", text, re.M)
                yield {"file": member, "points": float(points.group(1)) if points else 0.0}


def graders_in(folder):
    return {p.stem: p for p in sorted(Path(folder).glob("*.zip"))}


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
    graders = graders_in(args.grader)
    if not graders:
        print(f"no autograders in {args.grader}/: run `make student` first", file=sys.stderr)
        return 2
    rows = []
    for given in map(Path, args.submission):
        if given.is_dir():
            paths = sorted(p for p in given.iterdir() if p.is_file() and p.name != "gradebook.csv")
            folder_rows = []
            for path in paths:
                lines, row = grade(path, graders, args.timeout, args.memory_mb)
                print("\n".join(lines), flush=True)
                folder_rows.append(row)
            write_gradebook(args.gradebook or given / "gradebook.csv", folder_rows)
            rows += folder_rows
        elif given.exists():
            lines, row = grade(given, graders, args.timeout, args.memory_mb)
            print("\n".join(lines), flush=True)
            rows.append(row)
        else:
            print(f"{given}: no such file or folder")
            rows.append({"note": "missing"})
    return 0 if all(not r.get("note") for r in rows) else 1


def write_gradebook(target, rows):
    """One row per submission; written whole to a temporary file, then renamed."""
    columns = ["submission", "notebook", "score", "possible", "seconds", "cells_with_errors"]
    columns += sorted({k for r in rows for k in r if k.startswith("exercise")},
                      key=lambda k: float(k.split()[-1])) + ["note"]
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", newline="", dir=target.parent, suffix=".tmp",
                                     delete=False, encoding="utf-8") as tmp:
        writer = csv.DictWriter(tmp, columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    Path(tmp.name).replace(target)
    print(f"gradebook: {target} ({len(rows)} submissions)")


if __name__ == "__main__":
    sys.exit(main())
