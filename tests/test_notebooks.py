"""The real notebooks: stored clean, and executed headless through the runner once per session,
the Chinese edition (notebooks/zh/, when there is one) too, with every check active.

`headless_run` is shared with test_e2e_jupyterlab.py (which compares what JupyterLab renders
with what the headless run produced), so a full test session runs the notebooks only once.
"""
import ast
import html
import json
import math
import re
import time

import nbformat
import pandas as pd
import pytest

from conftest import REPO_ROOT
from utils.course import run

NOTEBOOK_DIR = REPO_ROOT / "notebooks"
COURSE = ["01_numerical_stability", "02_kaggle_house_prices", "03_model_construction"]
STEMS = sorted(p.stem for p in NOTEBOOK_DIR.glob("*.ipynb"))
ZH_DIR = NOTEBOOK_DIR / "zh"
ZH_STEMS = sorted(p.stem for p in ZH_DIR.glob("*.ipynb"))
RUNS = list(STEMS) + [f"zh/{stem}" for stem in ZH_STEMS]  # "zh/<stem>": Chinese
IMAGE_TYPES = ("image/png", "image/svg+xml", "image/jpeg")

_session = {}


def headless_run(tmp_path_factory, house_dir, course_run):
    """Run the runner on all notebooks into a temporary exports folder, once per session; then
    the Chinese edition into its zh/ sub-folder. `results` are keyed as in RUNS. `course_run` is
    conftest's fixture (it counts the executions)."""
    if not _session:
        exports = tmp_path_factory.mktemp("headless-exports")
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("KAGGLE_HOUSE_DIR", str(house_dir))
            mp.setenv(run.EXPORTS_ENV, str(exports))
            start = time.time()
            results = course_run(exports_dir=exports, timeout=600, progress=False)
            zh = course_run(timeout=600, progress=False, lang="zh") if ZH_STEMS else []
        _session.update(exports=exports, results={r.stem: r for r in results},
                        zh_results={f"zh/{r.stem}": r for r in zh},
                        seconds=time.time() - start)
    return _session


def run_folder(headless, key):
    """The export folder of a run named as in RUNS ("<stem>" or "zh/<stem>")."""
    return headless["exports"] / key


def image_outputs(nb):
    """How many figures the cells display (widget contents live in widget state, not here)."""
    return sum(any(t in o.get("data", {}) for t in IMAGE_TYPES)
               for c in nb.cells for o in c.get("outputs", []))


def expected_error(cell):
    """The class named by a `# expected error: X` first line, else None."""
    match = run.EXPECTED.match(cell.source.strip().split("\n")[0])
    return match.group(1) if match else None


@pytest.fixture(scope="session")
def headless(tmp_path_factory, house_dir, course_run):
    return headless_run(tmp_path_factory, house_dir, course_run)


@pytest.fixture(params=RUNS)
def executed(request, headless):
    """(stem, executed notebook, its export folder) of a notebook that ran successfully."""
    key = request.param
    result = {**headless["results"], **headless["zh_results"]}[key]
    stem = key.split("/")[-1]
    assert result.ok, f"{key} failed under the runner: {result.error}"
    folder = run_folder(headless, key)
    return stem, nbformat.read(folder / f"{stem}.ipynb", as_version=4), folder


def test_the_course_notebooks_are_there():
    assert set(COURSE) <= set(STEMS), f"missing: {sorted(set(COURSE) - set(STEMS))}"


@pytest.mark.parametrize("stem", STEMS)
def test_stored_notebook_has_no_outputs(stem):
    nb = nbformat.read(NOTEBOOK_DIR / f"{stem}.ipynb", as_version=4)
    dirty = [i for i, c in enumerate(nb.cells, 1)
             if c.cell_type == "code" and (c.outputs or c.execution_count is not None)]
    assert not dirty, f"{stem}: cells {dirty} carry outputs or execution counts; clear them"
    assert "widgets" not in nb.metadata, f"{stem}: stored widget state; clear it"
    assert nb.metadata.kernelspec.name == "python3"


def code_cells(nb, tag=None):
    """(number, cell) of code cells; with `tag`, only those carrying it, else the teaching
    cells: every code cell without a check or answer tag (parameters and raises-exception
    cells are teaching cells too)."""
    for n, cell in enumerate(nb.cells, 1):
        if cell.cell_type != "code":
            continue
        tags = cell.metadata.get("tags", [])
        if (tag in tags) if tag else not set(tags) & {"check", "answer"}:
            yield n, cell


def asserts_in(source):
    """Line numbers of `assert` statements (IPython magics and shell lines blanked first)."""
    lines = [("" if line.lstrip().startswith(("%", "!")) else line)
             for line in source.splitlines()]
    tree = ast.parse("\n".join(lines))
    return [node.lineno for node in ast.walk(tree) if isinstance(node, ast.Assert)]


@pytest.mark.parametrize("stem", STEMS)
def test_teaching_cells_hold_no_assert(stem):
    """Checks live in hidden cells tagged `check`, out of the reader's way; prose is written,
    not generated, and never refers to an assertion."""
    nb = nbformat.read(NOTEBOOK_DIR / f"{stem}.ipynb", as_version=4)
    offending = [n for n, cell in code_cells(nb) if asserts_in(cell.source)]
    assert not offending, f"{stem}: cells {offending} assert in a teaching cell; move the " \
        "check into a cell tagged `check`"
    generated = [n for n, cell in enumerate(nb.cells, 1)
                 if cell.cell_type == "code" and "Markdown(" in cell.source]
    assert not generated, f"{stem}: cells {generated} generate prose; write it as markdown " \
        "and check its claims in a `check` cell"
    for n, cell in enumerate(nb.cells, 1):
        if cell.cell_type == "markdown":
            assert not re.search(r"\bassert(ion|s|ed)?\b", cell.source, re.I), \
                f"{stem} cell {n}: prose refers to an assertion"


@pytest.mark.parametrize("stem", STEMS)
def test_checks_and_answers_are_collapsed(stem):
    """JupyterLab opens `check` and `answer` cells with their source collapsed."""
    nb = nbformat.read(NOTEBOOK_DIR / f"{stem}.ipynb", as_version=4)
    checks = list(code_cells(nb, "check"))
    assert checks, f"{stem} has no `check` cell: its stated numbers are unchecked"
    for tag in ("check", "answer"):
        shown = [n for n, cell in code_cells(nb, tag)
                 if not cell.metadata.get("jupyter", {}).get("source_hidden")]
        assert not shown, f"{stem}: `{tag}` cells {shown} lack jupyter.source_hidden"


@pytest.mark.parametrize("stem", STEMS)
def test_title_comes_first_and_matches_the_readme(stem):
    nb = nbformat.read(NOTEBOOK_DIR / f"{stem}.ipynb", as_version=4)
    first = nb.cells[0]
    assert first.cell_type == "markdown" and first.source.startswith("# "), \
        f"{stem}: the first cell must be the title (`# ...`)"
    title = first.source.splitlines()[0][2:].strip()
    readme = (REPO_ROOT / "README.md").read_text()
    assert title in readme, f"{stem}: title {title!r} does not appear in README.md"


def test_html_export_leaves_out_the_check_cells(executed):
    """The HTML a reader gets holds every cell but the `check` ones, and so no assert."""
    stem, nb, folder = executed
    page = (folder / f"{stem}.html").read_text()
    kept = len(nb.cells) - len(list(code_cells(nb, "check")))
    assert page.count('<div class="jp-Cell ') == kept, \
        f"{stem}: the HTML should hold {kept} cells (all but the `check` ones)"
    text = html.unescape(re.sub(r"<[^>]+>", "", page))
    stray = [line for line in text.splitlines() if re.match(r"\s*assert\b", line)]
    assert not stray, f"{stem}: the HTML export shows assert lines: {stray[:3]}"


def test_every_figure_exported_as_png_and_svg(executed):
    stem, nb, folder = executed
    figures = json.loads((folder / "figures.json").read_text())
    assert figures, f"{stem} exported no figures"
    for fig in figures:
        assert fig["caption"].strip(), f"{stem}/{fig['name']} has no caption"
        assert (folder / fig["png"]).read_bytes().startswith(b"\x89PNG"), fig["png"]
        assert "<svg" in (folder / fig["svg"]).read_text()[:2000], fig["svg"]
    shown = image_outputs(nb)
    assert shown == len(figures), f"{stem} displays {shown} figures but exported {len(figures)}: " \
        "each exported figure should be shown once"


def test_error_demos_raised_what_they_declare(executed):
    stem, nb, _ = executed
    for n, cell in enumerate(nb.cells, 1):
        if cell.cell_type != "code":
            continue
        errors = [o.ename for o in cell.outputs if o.output_type == "error"]
        if "raises-exception" in cell.metadata.get("tags", []):
            assert errors == [expected_error(cell)], f"{stem} cell {n}: {errors}"
        else:
            assert not errors, f"{stem} cell {n} raised {errors}"
        assert cell.execution_count is not None, f"{stem} cell {n} did not run"
        # mistakes made on purpose without an error output (so every client runs the notebook):
        # `with show_error(X):` prints `X: message`, one line per demo
        for name in re.findall(r"show_error\((\w+)\)", cell.source):
            if re.search(r"^\s*def show_error", cell.source, re.M):
                continue
            printed = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
            assert re.search(rf"^{name}: ", printed, re.M), \
                f"{stem} cell {n}: show_error({name}) printed no '{name}: ...' line"


def test_submission_has_a_price_for_every_test_house(headless):
    if "02_kaggle_house_prices" not in headless["results"]:
        pytest.fail("02_kaggle_house_prices.ipynb is missing")
    path = headless["exports"] / "submission.csv"
    assert path.exists(), f"the house-price notebook wrote no {path}"
    sub = pd.read_csv(path)
    assert list(sub.columns) == ["Id", "SalePrice"]
    assert len(sub) == 1459 and sub["Id"].tolist() == list(range(1461, 2920))
    assert all(math.isfinite(p) and p > 0 for p in sub["SalePrice"])


def test_gallery_lists_every_notebook_and_figure(headless):
    page = (headless["exports"] / "index.html").read_text()
    for stem, result in headless["results"].items():
        assert f">{stem}</a></td><td>ok</td>" in page, f"{stem}: {result.error}"
        for fig in json.loads((headless["exports"] / stem / "figures.json").read_text()):
            assert f'src="{stem}/{fig["png"]}"' in page


def test_readme_quick_look_runs(tmp_path, house_dir, monkeypatch, course_run):
    """The README's quick look (`make run ARGS="-p NUM_EPOCHS 5"`) must work: checks that only
    hold at full size are guarded, so a smaller run does not stop on a bare AssertionError."""
    monkeypatch.setenv("KAGGLE_HOUSE_DIR", str(house_dir))
    names = ["01_numerical_stability", "02_kaggle_house_prices"]  # the two that train
    results = course_run(names, parameters={"NUM_EPOCHS": 5}, exports_dir=tmp_path, timeout=600,
                      progress=False)
    assert [(r.stem, r.ok, r.error) for r in results] == [(n, True, "") for n in names]
    executed = nbformat.read(tmp_path / names[0] / f"{names[0]}.ipynb", as_version=4)
    assert any("NUM_EPOCHS = 5" in c.source for c in executed.cells)  # the value reached it


@pytest.mark.parametrize("stem", ZH_STEMS)
def test_chinese_gallery_shows_chinese_captions(headless, stem):
    """exports/zh/index.html declares zh-CN and shows each figure with its Chinese caption
    (notebooks/zh/captions.json); the figures keep the code's English captions and labels."""
    from utils.course.translation import GalleryCaptions

    result = headless["zh_results"][f"zh/{stem}"]
    assert result.ok, f"zh/{stem} failed under the runner: {result.error}"
    page = (headless["exports"] / "zh" / "index.html").read_text(encoding="utf-8")
    assert '<html lang="zh-CN">' in page and f">{stem}</a></td><td>ok</td>" in page
    caption = GalleryCaptions(ZH_DIR)
    for fig in json.loads((headless["exports"] / "zh" / stem / "figures.json").read_text()):
        shown = caption(stem, fig)
        assert shown != fig["caption"], f"zh/{stem}/{fig['name']}: no current Chinese caption"
        assert html.escape(shown) in page, f"zh/{stem}/{fig['name']}"
    assert '<html lang="zh-CN"' in (headless["exports"] / "zh" / stem / f"{stem}.html").read_text()


@pytest.mark.parametrize("path", sorted(NOTEBOOK_DIR.glob("*.ipynb")) + sorted(NOTEBOOK_DIR.glob("zh/*.ipynb")),
                         ids=lambda p: str(p.relative_to(NOTEBOOK_DIR)))
def test_papermill_reads_every_parameter(path):
    """papermill (`-p`, `papermill --help-notebook`) sees every name the `parameters` cell sets:
    a comment holding `=` hides its line from papermill's parser."""
    from papermill.translators import PythonTranslator

    nb = nbformat.read(path, as_version=4)
    cells = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1, f"{path.name}: {len(cells)} cells tagged `parameters`"
    assigned = {node.targets[0].id for node in ast.parse(cells[0].source).body
                if isinstance(node, ast.Assign)}
    assigned |= {node.target.id for node in ast.parse(cells[0].source).body
                 if isinstance(node, ast.AnnAssign)}
    seen = {p.name for p in PythonTranslator.inspect(cells[0])}
    assert seen == assigned, f"{path.name}: papermill cannot read {sorted(assigned - seen)}"
