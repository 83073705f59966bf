"""The instructor edition: student copies, graded exercises, the grading sandbox (issue 28).

Fast tests check the generated student copies, the feedback translations and the sandbox's
limits. The tests marked `notebooks` grade real notebooks (instructor copies score full marks,
untouched student copies run and score less, wrong and differently-written right answers are
graded as such, both languages): they need otter-grader (Python >= 3.10) and take minutes.
"""
import csv
import os
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import nbformat
import pytest

from conftest import REPO_ROOT
from utils.course import feedback, sandbox, student

EDITIONS = [("en", REPO_ROOT / "notebooks"), ("zh", REPO_ROOT / "notebooks" / "zh")]
GRADED_LINE = {"en": "*Graded:* define ", "zh": "*自动评分：* 定义 "}
otter_missing = student.needs_otter("tests") is not None


def sources():
    return [(lang, path) for lang, folder in EDITIONS for path in sorted(folder.glob("*.ipynb"))]


def code_lines(cell):
    return {line.strip() for line in cell.source.splitlines()
            if line.strip() and not line.strip().startswith("#")}


@pytest.mark.parametrize("lang,path", sources(), ids=lambda v: getattr(v, "stem", v))
def test_student_copy_holds_no_answer(lang, path):
    nb = nbformat.read(path, as_version=4)
    copy = student.student_notebook(nb, path.stem, lang)
    answers = [c for c in nb.cells if student.is_answer(c)]
    assert answers, "every course notebook has exercises with code answers"
    kept_code = set().union(*(code_lines(c) for c in copy.cells if c.cell_type == "code"))
    # every line an answer has and no other cell of the lesson has must be gone
    lesson = set().union(*(code_lines(c) for c in nb.cells
                           if c.cell_type == "code" and not student.is_answer(c)))
    for answer in answers:
        leaked = (code_lines(answer) - lesson) & kept_code
        assert not leaked, f"{path.name} {answer.id}: answer code in the student copy: {leaked}"
    assert not any("<details>" in c.source for c in copy.cells)
    stubs = [c for c in copy.cells if c.source.startswith(student.STUB[lang])]
    assert len(stubs) == len(answers)
    # a stub keeps only the answer's leading `# Graded:` comment (what to define), no code
    assert all(line.startswith("#") for c in stubs for line in c.source.splitlines())
    assert any(student.GRADED_COMMENT[lang] in c.source for c in stubs) == (path.stem == "01_numerical_stability")
    assert copy.metadata["course"] == {"notebook": path.stem, "lang": lang, "edition": "student"}
    assert not any(c.get("outputs") for c in copy.cells if c.cell_type == "code")
    # the source notebook itself is left as it was
    assert nbformat.read(path, as_version=4) == nb


@pytest.mark.parametrize("lang,path", sources(), ids=lambda v: getattr(v, "stem", v))
def test_each_code_exercise_says_what_to_define_and_is_graded(lang, path):
    nb = nbformat.read(path, as_version=4)
    answers = sum(student.is_answer(c) for c in nb.cells)
    stated = sum(c.source.count(GRADED_LINE[lang]) for c in nb.cells if c.cell_type == "markdown")
    tests = sorted((student.GRADING / path.stem).glob("*.py"))
    assert stated == answers == len(tests), (stated, answers, [t.name for t in tests])


def test_every_feedback_line_has_its_chinese_line():
    assert feedback.problems() == []
    entries = feedback.read()
    for stem in feedback.stems():
        for message in feedback.messages(stem):
            assert re.search(r"[\u4e00-\u9fff]", entries[stem][message]), message


def test_feedback_drift_is_named():
    entries = feedback.read()
    stem = feedback.stems()[0]
    first = feedback.messages(stem)[0]
    stale = {s: dict(v) for s, v in entries.items()}
    del stale[stem][first]
    stale[stem]["a line no test says"] = "没有测试说这句话"
    found = feedback.problems(stale)
    assert any("no Chinese line" in line and first in line for line in found)
    assert any("stale entry" in line and "a line no test says" in line for line in found)


def test_unreadable_submission_gets_one_line(tmp_path):
    from utils.course import grade

    bad = tmp_path / "essay.ipynb"
    bad.write_text("this is not JSON", encoding="utf-8")
    lines, row = grade.grade(bad, {"03_model_construction": Path("unused.zip")})
    assert len(lines) == 1 and "essay.ipynb" in lines[0] and "not a readable notebook" in lines[0]
    assert row["score"] == 0 and row["note"]


def test_submission_is_identified_by_metadata_name_or_title(tmp_path):
    from utils.course import grade

    graders = {p.stem: p for p in (Path("01_numerical_stability.zip"),
                                   Path("03_model_construction.zip"))}
    zh = nbformat.read(REPO_ROOT / "notebooks/zh/03_model_construction.ipynb", as_version=4)
    renamed = tmp_path / "homework.ipynb"
    nbformat.write(zh, renamed)
    assert grade.identify(renamed, graders) == ("03_model_construction", "zh")  # by its title
    en = REPO_ROOT / "notebooks/01_numerical_stability.ipynb"
    assert grade.identify(en, graders) == ("01_numerical_stability", "en")
    copy = student.student_notebook(zh, "03_model_construction", "zh")
    nbformat.write(copy, renamed)
    assert grade.identify(renamed, graders) == ("03_model_construction", "zh")
    stranger = tmp_path / "other.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Mine")]),
                   stranger)
    with pytest.raises(grade.NotGradable, match="other.ipynb"):
        grade.identify(stranger, graders)


# ----- the sandbox: what a hostile submission can do to the machine ------------------------------

def sandboxed(tmp_path, code, timeout=60, memory_mb=512):
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    started = time.monotonic()
    status, stderr = sandbox.run([sys.executable, "-c", textwrap.dedent(code)], scratch,
                                 dict(os.environ), timeout, memory_mb=memory_mb)
    return status, stderr, time.monotonic() - started, scratch


needs_isolation = pytest.mark.skipif(not sandbox.isolated(),
                                     reason="needs bubblewrap (apt-get install bubblewrap)")


@needs_isolation
def test_sandbox_cannot_delete_or_write_outside_its_folder(tmp_path):
    precious = tmp_path / "precious.txt"
    precious.write_text("the gradebook of another class", encoding="utf-8")
    status, stderr, _, scratch = sandboxed(tmp_path, f"""
        import os, pathlib
        for action in (lambda: os.remove({str(precious)!r}),
                       lambda: pathlib.Path({str(tmp_path / 'new.txt')!r}).write_text('x'),
                       lambda: pathlib.Path({str(REPO_ROOT / 'x.txt')!r}).write_text('x')):
            try:
                action()
                print('did it')
            except OSError as err:
                print(type(err).__name__)
        pathlib.Path('mine.txt').write_text('allowed')
    """)
    assert precious.read_text(encoding="utf-8") == "the gradebook of another class"
    assert not (tmp_path / "new.txt").exists() and not (REPO_ROOT / "x.txt").exists()
    assert (scratch / "mine.txt").read_text() == "allowed"  # its own folder stays writable
    assert status == 0, stderr


def test_sandbox_stops_a_memory_hog(tmp_path):
    status, stderr, seconds, _ = sandboxed(tmp_path, """
        hoard = []
        while True:
            hoard.append(bytearray(50 * 2 ** 20))
    """, memory_mb=512)
    assert status not in (0, None) and "MemoryError" in stderr
    assert seconds < 30


def test_sandbox_stops_a_hang(tmp_path):
    status, _, seconds, _ = sandboxed(tmp_path, "while True: pass", timeout=3)
    assert status is None and seconds < 15


@needs_isolation
def test_sandbox_contains_a_fork_bomb(tmp_path):
    before = len(os.listdir("/proc"))
    status, stderr, seconds, _ = sandboxed(tmp_path, """
        import os, time
        children = 0
        try:
            while True:
                if os.fork() == 0:
                    time.sleep(60)  # every child stays: only the limit stops the loop
                    os._exit(0)
                children += 1
        except OSError as err:
            print('stopped after', children, 'processes:', type(err).__name__, flush=True)
            time.sleep(60)  # hang with all of them: the time limit must end them all
    """, timeout=10)
    assert status is None and seconds < 30  # killed at the time limit
    time.sleep(1)
    assert len(os.listdir("/proc")) < before + 50  # none of its processes is left behind


# ----- grading real notebooks (slow) -------------------------------------------------------------

@pytest.fixture(scope="module")
def built(tmp_path_factory):
    if otter_missing:
        pytest.skip(student.needs_otter("tests"))
    out = tmp_path_factory.mktemp("dist")
    student.write_student_edition(out / "student")
    student.write_grader(out / "grader")
    return out


def run_grade(built, *submissions, timeout=600):
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "utils.course.grade", *map(str, submissions),
                           "--grader", str(built / "grader"), "--timeout", str(timeout)],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=3 * timeout)
    print(proc.stdout, proc.stderr[-2000:], f"graded in {time.monotonic() - started:.0f} s")
    return proc


def total(stdout):
    score, possible = re.findall(r"^total: ([0-9.]+) / ([0-9.]+)$", stdout, re.M)[-1]
    return float(score), float(possible)


@pytest.mark.notebooks
@pytest.mark.parametrize("source", ["notebooks/03_model_construction.ipynb",
                                    "notebooks/zh/03_model_construction.ipynb",
                                    "notebooks/01_numerical_stability.ipynb"])
def test_instructor_notebook_scores_full_marks(built, source):
    proc = run_grade(built, REPO_ROOT / source)
    score, possible = total(proc.stdout)
    assert possible > 0 and score == possible, proc.stdout


@pytest.mark.notebooks
def test_untouched_student_copy_runs_and_scores_less(built):
    copy = built / "student" / "03_model_construction.ipynb"
    nb = nbformat.read(copy, as_version=4)
    proc = run_grade(built, copy)
    score, possible = total(proc.stdout)
    assert score < possible
    assert "raised an error" not in proc.stdout, proc.stdout  # it ran to the end
    assert nbformat.read(copy, as_version=4) == nb  # grading leaves the submission as it was


def fill(copy_path, answers, target):
    """The student copy with some stubs replaced by `answers` {cell id: code}."""
    nb = nbformat.read(copy_path, as_version=4)
    for cell in nb.cells:
        if cell.get("id") in answers:
            cell.source = textwrap.dedent(answers[cell.id])
    nbformat.write(nb, target)
    return target


RIGHT_DIFFERENTLY = {  # notebook 3, exercises 4 and 5, not the instructor's code
    "fd05c2bc": """
        class Parallel(nn.Block):
            def __init__(self, net1, net2, **kwargs):
                super().__init__(**kwargs)
                self.branches = nn.Sequential()
                self.branches.add(net1, net2)

            def forward(self, x):
                return nd.concat(*(branch(x) for branch in self.branches), dim=1)
    """,
    "d213f8e0": """
        def repeated(make_block, n):
            blocks = []
            while len(blocks) < n:
                blocks.append(make_block())
            return blocks
    """,
}
WRONG = {  # exercise 4 adds instead of concatenating; exercise 5 repeats one object
    "fd05c2bc": """
        class Parallel(nn.Block):
            def __init__(self, net1, net2, **kwargs):
                super().__init__(**kwargs)
                self.net1, self.net2 = net1, net2

            def forward(self, x):
                return self.net1(x)[:, :1] + self.net2(x)[:, :1]
    """,
    "d213f8e0": """
        def repeated(make_block, n):
            return [make_block()] * n
    """,
}


@pytest.mark.notebooks
def test_right_and_wrong_answers_are_graded_as_such(built, tmp_path):
    """One class folder: a differently-written right answer (English copy), a wrong one (Chinese
    copy: Chinese feedback) and a file that is no notebook; one gradebook row each."""
    submissions = tmp_path / "class"
    submissions.mkdir()
    fill(built / "student" / "03_model_construction.ipynb", RIGHT_DIFFERENTLY,
         submissions / "alice.ipynb")
    fill(built / "student" / "zh" / "03_model_construction.ipynb", WRONG, submissions / "bob.ipynb")
    (submissions / "carol.ipynb").write_text("{not json", encoding="utf-8")
    proc = run_grade(built, submissions)
    rows = {Path(r["submission"]).stem: r
            for r in csv.DictReader(open(submissions / "gradebook.csv", encoding="utf-8"))}
    assert set(rows) == {"alice", "bob", "carol"}
    assert (submissions / "gradebook.csv").stat().st_mode & 0o777 == 0o600  # names and scores
    assert float(rows["alice"]["exercise 4"]) == 2 and float(rows["alice"]["exercise 5"]) == 2
    assert float(rows["bob"]["exercise 4"]) < 2 and float(rows["bob"]["exercise 5"]) < 2
    assert rows["carol"]["note"] and float(rows["carol"]["score"]) == 0
    lines = proc.stdout.splitlines()
    bob = lines[next(i for i, l in enumerate(lines) if "bob.ipynb" in l):]
    ex4 = next(l for l in bob if l.startswith("练习 4:"))
    assert "并排拼接" in ex4, ex4
    assert any("carol.ipynb" in l and "not a readable notebook" in l for l in lines), proc.stdout
