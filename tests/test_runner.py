"""The runner (utils/course/run.py) on tiny notebooks written here: real kernels, no MXNet work."""
import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
from queue import Empty

import nbformat
import pytest

from conftest import REPO_ROOT
from utils.course import notebook_html, parameters, run

KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}


def make_notebook(folder, stem, *cells):
    """Write <folder>/<stem>.ipynb; each cell is source text or (source, [tags])."""
    v4 = nbformat.v4
    nb = v4.new_notebook(metadata={"kernelspec": KERNELSPEC})
    nb.cells.append(v4.new_markdown_cell(f"# {stem}"))
    for cell in cells:
        source, tags = cell if isinstance(cell, tuple) else (cell, [])
        nb.cells.append(v4.new_code_cell(source, metadata={"tags": tags} if tags else {}))
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, folder / f"{stem}.ipynb")


def write_export(stem, name, text):
    """Notebook code writing one file into its export folder, as utils.plot does."""
    return ("import os, pathlib\n"
            f"folder = pathlib.Path(os.environ['COURSE_EXPORTS_DIR']) / {stem!r}\n"
            "folder.mkdir(parents=True, exist_ok=True)\n"
            f"(folder / {name!r}).write_text({text})")


def snapshot(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def break_renames(monkeypatch, fail=None, interrupt_after=None,
                  error=OSError(28, "No space left on device")):
    """os.replace, broken on purpose: the renames `fail(src, dst)` picks raise `error` instead;
    after those `interrupt_after(src, dst)` picks, SIGINT arrives (Ctrl-C, Jupyter's interrupt)."""
    real = os.replace

    def replace(src, dst):
        if fail and fail(src, dst):
            raise error
        real(src, dst)
        if interrupt_after and interrupt_after(src, dst):
            os.kill(os.getpid(), signal.SIGINT)
    monkeypatch.setattr(os, "replace", replace)


def cell_outputs(path):
    nb = nbformat.read(path, as_version=4)
    return ["".join(o.get("text", "")) for c in nb.cells for o in c.get("outputs", [])]


@pytest.fixture
def dirs(tmp_path, monkeypatch):
    notebooks, exports = tmp_path / "notebooks", tmp_path / "exports"
    monkeypatch.setenv(run.EXPORTS_ENV, str(tmp_path / "not-used"))
    return notebooks, exports


def run_main(notebooks, exports, *args):
    return run.main(["--no-progress", "--notebooks-dir", str(notebooks),
                     "--exports-dir", str(exports), *args])


def test_exports_parameters_and_gallery(dirs):
    notebooks, exports = dirs
    make_notebook(
        notebooks, "aa_plot",
        f"import sys; sys.path.insert(0, {str(REPO_ROOT)!r})\n"
        "from utils import plot\nplot.set_notebook('aa_plot')\nimport matplotlib.pyplot as plt",
        ("POINTS = 3", ["parameters"]),
        "fig, ax = plot.new_figure()\nax.plot(range(POINTS))\n"
        "plot.save_figure(fig, 'line', caption=f'{POINTS} points <b>&')\nplt.show()",
        write_export("aa_plot", "submission.csv", "'Id,SalePrice\\n1,2.5\\n'"),
        "print('POINTS is', POINTS)")
    make_notebook(notebooks, "bb_plain",
                  "import os, sys\nprint(sys.executable)\nprint(os.getcwd())")

    assert run_main(notebooks, exports, "-p", "POINTS", "5") == 0

    plot_dir, plain_dir = exports / "aa_plot", exports / "bb_plain"
    for name in ("line.png", "line.svg", "aa_plot.ipynb", "aa_plot.html", "figures.json"):
        assert (plot_dir / name).stat().st_size > 0, name
    assert (plain_dir / "bb_plain.html").exists() and (exports / "index.html").exists()
    assert json.loads((plot_dir / "figures.json").read_text())[0]["caption"] == "5 points <b>&"
    assert "POINTS is 5\n" in cell_outputs(plot_dir / "aa_plot.ipynb")
    # the kernel is this interpreter, started in the notebook's folder
    assert cell_outputs(plain_dir / "bb_plain.ipynb") == [
        f"{sys.executable}\n{notebooks.resolve()}\n"]
    # a notebook without that parameter gets no injected cell
    assert "POINTS" not in (plain_dir / "bb_plain.ipynb").read_text()
    assert (exports / "submission.csv").read_text() == "Id,SalePrice\n1,2.5\n"

    page = (exports / "index.html").read_text()
    assert '<a href="aa_plot/line.svg"><img src="aa_plot/line.png"' in page
    assert "5 points &lt;b&gt;&amp;" in page and "<b>&" not in page
    assert page.count("<td>ok</td>") == 2


def test_failing_cell_keeps_other_exports_and_reruns_replace_whole(dirs, capsys):
    notebooks, exports = dirs
    make_notebook(notebooks, "may_fail",
                  ("FAIL = False", ["parameters"]),
                  write_export("may_fail", "result.txt", "'first'"),
                  "x = 1",
                  "if FAIL:\n    raise ValueError('asked to fail')",
                  write_export("may_fail", "late.txt", "'never on failure'"))
    make_notebook(notebooks, "steady", write_export("steady", "result.txt", "'steady'"))
    assert run_main(notebooks, exports) == 0
    (exports / "steady" / "stray.txt").write_text("left by an older version")
    (exports / "may_fail" / "stray.txt").write_text("left by an older version")
    before = snapshot(exports / "may_fail")

    assert run_main(notebooks, exports, "-p", "FAIL", "True") == 1
    err = capsys.readouterr().err
    assert "FAILED may_fail: cell 5 raised ValueError: asked to fail" in err
    assert snapshot(exports / "may_fail") == before  # the failed notebook's exports untouched
    failed_copy = exports / "may_fail.failed.ipynb"
    assert any("asked to fail" in o.get("evalue", "") for c in
               nbformat.read(failed_copy, as_version=4).cells for o in c.get("outputs", []))
    # the other notebook ran, and its folder was replaced as a whole
    assert sorted(p.name for p in (exports / "steady").iterdir()) == [
        "result.txt", "run.json", "steady.html", "steady.ipynb"]
    assert "FAILED: cell 5 raised ValueError: asked to fail" in (exports / "index.html").read_text()

    assert run_main(notebooks, exports) == 0
    assert not (exports / "may_fail" / "stray.txt").exists()
    assert (exports / "may_fail" / "late.txt").exists()
    assert not failed_copy.exists()
    assert [p.name for p in exports.iterdir() if p.name.startswith(".")] == [".run.lock"]


def test_expected_error_cells_checked_both_ways(dirs, capsys):
    notebooks, exports = dirs
    make_notebook(notebooks, "good_errors",
                  ("# expected error: ZeroDivisionError\n1 / 0", ["raises-exception"]),
                  "print('runs on')")
    make_notebook(notebooks, "bad_errors",
                  ("# expected error: KeyError\n[][1]", ["raises-exception"]),
                  ("# expected error: KeyError\n{1: 2}[1]", ["raises-exception"]),
                  ("[][1]  # no declaration", ["raises-exception"]))
    assert run_main(notebooks, exports, "good_errors") == 0
    assert "runs on\n" in cell_outputs(exports / "good_errors" / "good_errors.ipynb")

    assert run_main(notebooks, exports, "bad_errors") == 1
    err = capsys.readouterr().err
    assert "cell 2 was expected to raise KeyError but raised IndexError" in err
    assert "cell 3 was expected to raise KeyError but ran without error" in err
    assert "cell 4 is tagged raises-exception but its first line is not" in err
    assert not (exports / "bad_errors").exists()
    assert (exports / "good_errors").exists()  # untouched by a run that did not name it


def test_bad_input_says_what_to_do(dirs, capsys):
    notebooks, exports = dirs
    make_notebook(notebooks, "only", ("EPOCHS = 1", ["parameters"]), "pass")
    assert run_main(notebooks, exports, "nosuch") == 2
    assert "no notebook 'nosuch'" in capsys.readouterr().err
    assert run_main(notebooks, exports, "-p", "EPOCH", "3") == 2
    assert "no selected notebook declares EPOCH" in capsys.readouterr().err
    assert not exports.exists()  # nothing ran
    (notebooks / "empty").mkdir()
    with pytest.raises(run.RunnerError, match="no notebooks"):
        run.find_notebooks([], notebooks / "empty")


@pytest.mark.parametrize("text, value", [
    ("5", 5), ("1e-3", 1e-3), ("True", True), ("None", None), ("[1, 2]", [1, 2]),
    ("'5'", "5"), ("adam", "adam"), ("two words", "two words")])
def test_parameter_values_are_python_literals_or_text(text, value):
    assert parameters.parse_value(text) == value


def test_exports_env_matches_plot_helpers():
    from utils import plot
    assert run.EXPORTS_ENV == plot.EXPORTS_ENV


def test_module_entry_point():
    cmd = [sys.executable, "-m", "utils"]
    help_text = subprocess.run(cmd + ["run", "--help"], cwd=REPO_ROOT, capture_output=True,
                               text=True, check=True).stdout
    assert "-p NAME VALUE" in help_text
    unknown = subprocess.run(cmd + ["frobnicate"], cwd=REPO_ROOT, capture_output=True, text=True)
    assert unknown.returncode == 2 and "python -m utils run --help" in unknown.stderr


CHECK = {"tags": ["check"], "jupyter": {"source_hidden": True}}


def add_check_cell(folder, stem, source):
    """Append a `check` cell (metadata as the notebooks use it) to <folder>/<stem>.ipynb."""
    path = folder / f"{stem}.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(source, metadata=CHECK))
    nbformat.write(nb, path)


def test_check_cells_run_and_stay_in_the_ipynb_but_not_in_the_html(dirs, capsys):
    notebooks, exports = dirs
    make_notebook(notebooks, "checked", "total = sum(range(4))\nprint('total', total)")
    add_check_cell(notebooks, "checked", "assert total == 6, 'CHECK_MARKER_PASSES'")
    make_notebook(notebooks, "broken", "total = 5")
    add_check_cell(notebooks, "broken", "assert total == 6, 'CHECK_MARKER_FAILS'")

    assert run_main(notebooks, exports, "checked") == 0
    page = (exports / "checked" / "checked.html").read_text()
    assert "range" in page and "total 6" in page  # the teaching cell and its output
    assert "CHECK_MARKER_PASSES" not in page and "assert" not in page
    kept = nbformat.read(exports / "checked" / "checked.ipynb", as_version=4)
    assert [c.source for c in kept.cells if "check" in c.metadata.get("tags", [])] == [
        "assert total == 6, 'CHECK_MARKER_PASSES'"]

    assert run_main(notebooks, exports, "broken") == 1
    err = capsys.readouterr().err
    assert "FAILED broken: cell 3 raised AssertionError: CHECK_MARKER_FAILS" in err
    assert not (exports / "broken").exists()


class MissedWakeUpSocket:
    """A socket whose message arrives `arrival` seconds in, and whose poll, if it started
    before the arrival, sees the message only when the poll's own timeout runs out: the
    missed wake-up of jupyter/nbclient#312."""

    def __init__(self, arrival):
        self.arrival = time.monotonic() + arrival

    async def poll(self, timeout_ms):
        if time.monotonic() >= self.arrival:
            return 1
        await asyncio.sleep((timeout_ms or 0) / 1000)
        return int(time.monotonic() >= self.arrival)


def seconds_to_get(channel_class, timeout, slice_seconds=0.2):
    channel = channel_class.__new__(channel_class)  # no real zmq socket: the poll is faked
    channel.socket, channel.slice_seconds = MissedWakeUpSocket(arrival=0.1), slice_seconds

    async def receive():
        return {"msg_type": "execute_reply"}

    channel._recv = receive
    start = time.monotonic()
    message = asyncio.run(channel.get_msg(timeout=timeout))
    assert message == {"msg_type": "execute_reply"}
    return time.monotonic() - start


def test_a_missed_wake_up_costs_one_slice_not_the_cell_timeout():
    plain = seconds_to_get(run.AsyncZMQSocketChannel, timeout=2.0)
    sliced = seconds_to_get(run._SlicedPollChannel, timeout=2.0)
    assert plain >= 2.0  # the stall the runner used to see: the whole timeout
    assert sliced < 1.0, sliced  # found by the next slice's poll (0.2 s)


def test_sliced_polling_still_times_out_and_is_what_the_runner_uses():
    channel = run._SlicedPollChannel.__new__(run._SlicedPollChannel)
    channel.socket, channel.slice_seconds = MissedWakeUpSocket(arrival=60), 0.1
    start = time.monotonic()
    with pytest.raises(Empty):
        asyncio.run(channel.get_msg(timeout=0.35))
    assert 0.3 <= time.monotonic() - start < 2
    client = run._ThisPythonKernel().client()
    assert client.shell_channel_class is run._SlicedPollChannel
    assert client.iopub_channel_class is run._SlicedPollChannel


def test_runs_where_an_event_loop_is_already_running(dirs):
    """Called from a Jupyter kernel or under Playwright's sync API (the e2e test), the calling
    thread already runs an asyncio loop; the runner must still execute the notebook."""
    notebooks, exports = dirs
    make_notebook(notebooks, "inside_a_loop", "x = 6 * 7", ("assert x == 42", ["check"]))

    async def from_inside_a_loop():
        return run.run(notebooks_dir=notebooks, exports_dir=exports, progress=False)

    results = asyncio.run(from_inside_a_loop())
    assert [(r.stem, r.ok, r.error) for r in results] == [("inside_a_loop", True, "")]
    assert (exports / "inside_a_loop" / "inside_a_loop.html").exists()


def test_every_runner_option_says_what_it_does(capsys):
    with pytest.raises(SystemExit):
        run.main(["--help"])
    text = capsys.readouterr().out
    for option in ("--parameter", "--notebooks-dir", "--exports-dir", "--cell-timeout",
                   "--no-progress"):
        block = text.split(option, 1)[1].split("\n  -", 1)[0]
        assert re.search(r"[a-z]{4,} [a-z]{2,}", block), (option, block)


def test_the_html_export_collapses_answers_renders_math_and_shows_no_prompts():
    v4 = nbformat.v4
    nb = v4.new_notebook(metadata={"kernelspec": KERNELSPEC})
    nb.cells = [
        v4.new_markdown_cell("Inline $\\sigma^* = 1/\\sqrt{n}$, a price of \\$5, `$HOME` and "
                             "`$PATH` in code, and\n"
                             "$$\\tfrac12\\,\\lVert\\boldsymbol\\delta\\rVert \\le 1$$"),
        v4.new_code_cell("1 + 1", execution_count=1, outputs=[v4.new_output(
            "execute_result", {"text/plain": "2"}, execution_count=1)]),
        v4.new_code_cell("ANSWER_MARKER = 3", metadata={"tags": ["answer"]}),
        v4.new_code_cell("CHECK_MARKER = 4", metadata={"tags": ["check"]}),
    ]
    page = notebook_html.to_html(nb)
    assert page.count('class="math"') == 2 and 'alt="\\sigma^* = 1/\\sqrt{n}"' in page
    assert "mathjax" not in page.lower()  # nothing to download: the math is pre-rendered
    assert "$5" in page and "$\\sigma" not in page
    assert "<code>$HOME</code>" in page and "<code>$PATH</code>" in page
    answer = page.index('<details class="answer"><summary>Answer (code)</summary>')
    assert answer < page.index("ANSWER_MARKER") < page.index("</details>", answer)
    assert "CHECK_MARKER" not in page
    body = page[page.index("<body"):]
    assert "Out[" not in body and "In&nbsp;[" not in body and "[1]:" not in body


def test_the_progress_bar_counts_the_cells_errors_name(dirs, capsys):
    notebooks, exports = dirs
    make_notebook(notebooks, "bar", "x = 1", "y = 2")  # cells: markdown, code, code
    nb = nbformat.read(notebooks / "bar.ipynb", as_version=4)
    nb.cells.append(nbformat.v4.new_markdown_cell("the end"))
    nbformat.write(nb, notebooks / "bar.ipynb")
    assert run.main(["--notebooks-dir", str(notebooks), "--exports-dir", str(exports)]) == 0
    err = capsys.readouterr().err
    assert "4/4" in err and "running cell 3" in err and "/2 " not in err, err


def test_the_gallery_says_when_figures_came_from_changed_parameters(tmp_path):
    from utils.course.exports import write_index
    for stem, given in (("changed", {"NUM_EPOCHS": 5}), ("full", {})):
        (tmp_path / stem).mkdir()
        (tmp_path / stem / "run.json").write_text(json.dumps(
            {"seconds": 1.0, "parameters": given}))
    write_index(tmp_path, [])
    page = (tmp_path / "index.html").read_text()
    assert "Not the full-size defaults" in page
    assert "<td>NUM_EPOCHS=5</td>" in page and "<td>defaults</td>" in page
    (tmp_path / "changed" / "run.json").write_text('{"seconds": 1.0, "parameters": {}}')
    write_index(tmp_path, [])
    assert "Not the full-size defaults" not in (tmp_path / "index.html").read_text()

