"""`make student`: the student edition and the grader, generated from the course notebooks.

One source: notebooks/ (English) and notebooks/zh/ are the instructor edition as they are; the
graded tests are otter-grader test files in notebooks/grading/<stem>/ (one per exercise, hidden
tests with points and a feedback line). This writes, never edited by hand:

* dist/student/<stem>.ipynb and dist/student/zh/<stem>.ipynb: every `answer` code cell replaced
  by a stub to fill in (keeping its leading `# Graded:` comment, if any), the `check` cell
  right after an answer dropped (it tests the instructor's own names and would fail an
  untouched copy), every `<details>` answer removed (prose-only
  answers leave a line saying they are graded by hand), outputs cleared;
* dist/grader/<stem>.zip: otter's autograder for that notebook (`otter generate`), used by
  `make grade` (utils/course/grade.py) for both languages.

Students' notebooks never import the grader: the tests stay in dist/grader/.
"""
import argparse
import re
import shutil
import sys
import tempfile
from pathlib import Path

import nbformat

from utils.course import languages

REPO_ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO_ROOT / "notebooks"
GRADING = NOTEBOOKS / "grading"
DIST = REPO_ROOT / "dist"
ANSWER, CHECK = "answer", "check"
DETAILS = re.compile(r"\s*<details>.*?</details>\s*", re.S)
STUB = {
    "en": "# Your answer (graded automatically: the question above says what to define)\n",
    "zh": "# 你的答案（自动评分：要定义什么，见上面的题目）\n",
}
GRADED_COMMENT = {"en": "# Graded:", "zh": "# 自动评分："}
BY_HAND = {
    "en": "*Your answer (graded by hand):*",
    "zh": "*你的答案（人工评分）：*",
}
MIN_PYTHON = (3, 10)  # otter-grader 7


def needs_otter(command):
    """None if otter-grader can be imported here, else the one line saying which Python to use."""
    if sys.version_info < MIN_PYTHON:
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
    return cell.cell_type == "code" and ANSWER in cell.metadata.get("tags", [])


def graded_comment(cell, lang):
    """The answer cell's leading `# Graded:` comment block (what to define, when the question's
    prose only names it), kept in the stub; '' when the cell has none."""
    lines = cell.source.splitlines(keepends=True)
    if not lines or not lines[0].startswith(GRADED_COMMENT[lang]):
        return ""
    block = []
    for line in lines:
        if not line.startswith("#"):
            break
        block.append(line)
    return "".join(block)


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
        if cell.cell_type == "code" and CHECK in tags and i and is_answer(cells[i - 1]):
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


def source_notebooks():
    """(stem, lang, path) of every course notebook, English first."""
    found = []
    for lang, edition in languages.EDITIONS.items():
        folder = REPO_ROOT / edition.notebooks
        found += [(p.stem, lang, p) for p in sorted(folder.glob("*.ipynb"))]
    return found


def write_student_edition(out=DIST / "student"):
    written = []
    for stem, lang, path in source_notebooks():
        target = out / (f"{stem}.ipynb" if lang == "en" else f"{lang}/{stem}.ipynb")
        target.parent.mkdir(parents=True, exist_ok=True)
        nb = student_notebook(nbformat.read(path, as_version=4), stem, lang)
        with tempfile.NamedTemporaryFile("w", dir=target.parent, suffix=".tmp", delete=False,
                                         encoding="utf-8") as tmp:
            nbformat.write(nb, tmp)
        Path(tmp.name).replace(target)  # never a half-written notebook
        written.append(target)
    return written


def write_grader(out=DIST / "grader"):
    """One otter autograder zip per notebook that has graded tests."""
    from otter.generate import main as otter_generate

    out.mkdir(parents=True, exist_ok=True)
    written = []
    for tests in sorted(p for p in GRADING.iterdir() if any(p.glob("*.py"))):
        target = out / f"{tests.name}.zip"
        with tempfile.TemporaryDirectory() as work:  # otter writes beside its inputs
            shutil.copytree(tests, Path(work) / "tests",
                            ignore=shutil.ignore_patterns("__pycache__"))
            partial = Path(work) / "autograder.zip"
            otter_generate(tests_dir=str(Path(work) / "tests"), output_path=str(partial),
                           no_config=True, no_requirements=True, no_environment=True)
            shutil.move(str(partial), target)
        written.append(target)
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
        print(f"wrote {path.relative_to(args.out.parent) if args.out.parent in path.parents else path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
