"""`make student`: the student edition and the grader, generated from the course notebooks.

Writes dist/student/<stem>.ipynb, dist/student/zh/<stem>.ipynb (answers removed) and
dist/grader/<stem>.zip (otter's autograder, used by `make grade`); what each holds:
docs/instructors.md. Students' notebooks never import the grader.
"""
import argparse
import itertools
import re
import sys
from pathlib import Path

import nbformat

from utils import REPO_ROOT, write_atomically
from utils.course import languages

NOTEBOOKS = REPO_ROOT / "notebooks"
GRADING = NOTEBOOKS / "grading"
DIST = REPO_ROOT / "dist"
DETAILS = re.compile(r"\s*<details>.*?</details>\s*", re.S)
STUB = {
    "en": "# Your answer (graded automatically: the question above says what to define)\n",
    "zh": "# 你的答案（自动评分：要定义什么，见上面的题目）\n",
}
GRADED_COMMENT = {"en": "# Graded:", "zh": "# 自动评分："}
BY_HAND = {"en": "*Your answer (graded by hand):*", "zh": "*你的答案（人工评分）：*"}


def needs_otter(command):
    """None if otter-grader can be imported here, else the one line saying which Python to use."""
    if sys.version_info < (3, 10):  # otter-grader 7
        return (f"{command} needs otter-grader, which needs Python >= 3.10 (this is "
                f"{sys.version.split()[0]}): run `make {command.split()[-1]} "
                f"PYTHON=python3.11` (a venv of its own: add VENV=.venv-instructor)")
    try:
        import otter  # noqa: F401
    except ImportError:
        return (f"{command} needs otter-grader (the instructor set): "
                "`make .venv/bin/.installed-dev` installs it")
    return None


def is_answer(cell):
    return cell.cell_type == "code" and "answer" in cell.metadata.get("tags", [])


def graded_comment(cell, lang):
    """The answer cell's leading `# Graded:` comment block (what to define, when the question's
    prose only names it), kept in the stub; '' when the cell has none."""
    if not cell.source.startswith(GRADED_COMMENT[lang]):
        return ""
    lines = cell.source.splitlines(keepends=True)
    return "".join(itertools.takewhile(lambda line: line.startswith("#"), lines))


def student_notebook(nb, stem, lang):
    """The student copy of one notebook (a new object; `nb` is left as it is)."""
    nb = nbformat.from_dict(nb)
    cells, kept = nb.cells, []
    for i, cell in enumerate(cells):
        tags = cell.metadata.get("tags", [])
        if is_answer(cell):
            kept.append(nbformat.v4.new_code_cell(STUB[lang] + graded_comment(cell, lang),
                                                  id=cell.get("id")))
            continue
        if cell.cell_type == "code" and "check" in tags and i and is_answer(cells[i - 1]):
            continue  # it reads names only the instructor's answer defines
        if cell.cell_type == "markdown" and "<details>" in cell.source:
            beside_code = any(0 <= j < len(cells) and is_answer(cells[j]) for j in (i - 1, i + 1))
            gap = "\n\n" if beside_code else f"\n\n{BY_HAND[lang]}\n\n"
            cell.source = DETAILS.sub(gap, cell.source).strip()
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        kept.append(cell)
    nb.cells = kept
    nb.metadata["course"] = {"notebook": stem, "lang": lang, "edition": "student"}
    return nb


def write_student_edition(out=DIST / "student"):
    """Every course notebook's student copy, English first; each written whole or not at all."""
    written = []
    for lang, edition in languages.EDITIONS.items():
        for path in sorted((REPO_ROOT / edition.notebooks).glob("*.ipynb")):
            target = out / (f"{path.stem}.ipynb" if lang == "en" else f"{lang}/{path.name}")
            target.parent.mkdir(parents=True, exist_ok=True)
            nb = student_notebook(nbformat.read(path, as_version=4), path.stem, lang)
            written.append(write_atomically(target, lambda tmp: nbformat.write(nb, str(tmp))))
    return written


def graded_stems():
    """The notebooks with graded tests (a folder of test files in notebooks/grading/)."""
    return sorted(p.name for p in GRADING.iterdir() if any(p.glob("*.py")))


def write_grader(out=DIST / "grader"):
    """One otter autograder zip per notebook that has graded tests."""
    from otter.generate import main as otter_generate

    out.mkdir(parents=True, exist_ok=True)
    written = []
    for stem in graded_stems():  # otter zips only the folder's *.py files (no __pycache__)
        tests = str(GRADING / stem)
        written.append(write_atomically(out / f"{stem}.zip", lambda tmp: otter_generate(
            tests_dir=tests, output_path=str(tmp), no_config=True, no_requirements=True,
            no_environment=True)))
    return written


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m utils.course.student", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=DIST, help="where to write (default dist/)")
    args = parser.parse_args(argv)
    problem = needs_otter("make student")
    if problem:
        print(problem, file=sys.stderr)
        return 2
    for path in write_student_edition(args.out / "student") + write_grader(args.out / "grader"):
        print(f"wrote {path.relative_to(args.out.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
