"""Fault injection for the runner (utils/course/run.py, utils/course/exports.py): signals, unreadable
notebooks, bad arguments, interrupted export swaps, a second run, damaged files from earlier runs.

Tiny notebooks written here, real kernels, no MXNet. Each fault must give one line that names
the culprit, and exports that are old or new, never mixed.
"""
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import nbformat
import pytest

from conftest import REPO_ROOT
from test_runner import dirs  # noqa: F401  (the fixture, shared)
from test_runner import break_renames, make_notebook, run_main, snapshot, write_export
from utils.course import parameters, run
from utils.course.exports import (manifest_entry_problem, recover_leftovers, swap_folder,
                                  write_index)


def cli(*args, **kwargs):
    """`python -m utils run ...` as a user types it."""
    return subprocess.Popen([sys.executable, "-m", "utils", "run", "--no-progress", *args],
                            cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, **kwargs)


def hidden(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def process_gone(pid):
    """True when `pid` no longer runs (a zombie waiting for a parent to reap it counts)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state in ("Z", "X")


def wait_for(path, proc, seconds=60):
    deadline = time.monotonic() + seconds
    while not (path.exists() and path.read_text()):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)
    return path.read_text()


def sleeper_notebooks(notebooks, pid_file):
    """first (quick), slow (writes its kernel's pid, then sleeps SLEEP s), last (quick)."""
    make_notebook(notebooks, "a_first", write_export("a_first", "out.txt", "'new'"))
    make_notebook(notebooks, "b_slow", ("SLEEP = 0", ["parameters"]),
                  write_export("b_slow", "out.txt", "f'slept {SLEEP}'"),
                  f"import os, pathlib, time\npathlib.Path({str(pid_file)!r})"
                  ".write_text(str(os.getpid()))\ntime.sleep(SLEEP)")
    make_notebook(notebooks, "c_last", write_export("c_last", "out.txt", "'new'"))


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_stops_the_whole_run_at_once(tmp_path, signum):
    """Ctrl-C (and SIGTERM) to a running `python -m utils run`: one line, exit 128+n, the
    kernel gone, the interrupted notebook's exports old, nothing after it run; a second run
    meanwhile is refused naming the first one's pid."""
    notebooks, exports, pid_file = tmp_path / "nb", tmp_path / "exports", tmp_path / "kernel.pid"
    sleeper_notebooks(notebooks, pid_file)
    first = cli("--notebooks-dir", str(notebooks), "--exports-dir", str(exports))
    assert first.wait(timeout=180) == 0, first.communicate()
    for stem in ("a_first", "c_last"):  # mark the old exports, to see what the next run replaces
        (exports / stem / "out.txt").write_text("old")
    old_slow = snapshot(exports / "b_slow")
    pid_file.unlink()

    proc = cli("--notebooks-dir", str(notebooks), "--exports-dir", str(exports),
               "-p", "SLEEP", "120")
    kernel = int(wait_for(pid_file, proc))
    second = cli("--notebooks-dir", str(notebooks), "--exports-dir", str(exports), "a_first")
    out2, err2 = second.communicate(timeout=120)
    assert second.returncode == 2
    assert err2.strip().splitlines() == [
        f"error: another run (pid {proc.pid}) is writing to {exports.resolve()}; wait for it "
        f"to finish, stop it (kill -INT {proc.pid}), or pass another --exports-dir"]

    start = time.monotonic()
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=60)
    seconds = time.monotonic() - start
    print(f"{signal.Signals(signum).name}: exit after {seconds:.2f} s")

    assert proc.returncode == 128 + signum
    assert "Traceback" not in err and "Error" not in err
    name = signal.Signals(signum).name
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines[-1] == (f"interrupted ({name}) in b_slow (cell 4): its exports are unchanged; "
                         "not run: c_last; run the command again to redo it")
    assert [line for line in lines if "interrupted" in line] == [lines[-1]]
    assert seconds < 15
    assert process_gone(kernel)
    assert (exports / "a_first" / "out.txt").read_text() == "new"  # finished before: new
    assert snapshot(exports / "b_slow") == old_slow  # interrupted: old
    assert (exports / "c_last" / "out.txt").read_text() == "old"  # never started
    assert hidden(exports) == [".run.lock"]  # no staging folder, no temp file
    assert not (exports / "b_slow.failed.ipynb").exists()


def test_a_signal_while_the_kernel_shuts_down_still_kills_it(tmp_path):
    """In-process: Ctrl-C after the last cell, while nbclient waits for the kernel to exit on its
    own (a thread that is not a daemon keeps it up): Interrupted, and the kernel is killed."""
    pid_file = tmp_path / "kernel.pid"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "import os, pathlib, threading, time\n"
        "threading.Thread(target=time.sleep, args=(120,)).start()\n"
        f"pathlib.Path({str(pid_file)!r}).write_text(str(os.getpid()))")])

    def interrupt_during_shutdown():
        while not pid_file.exists():
            time.sleep(0.05)
        time.sleep(1.5)  # nbclient gives the kernel 5 s to exit before it kills it
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=interrupt_during_shutdown, daemon=True).start()
    with run.stop_on_signals(), pytest.raises(run.Interrupted):
        run.execute(nb, tmp_path, dict(os.environ), 60, progress=False)
    kernel = int(pid_file.read_text())
    assert process_gone(kernel), f"kernel {kernel} outlived the interruption"


def test_a_notebook_that_cannot_be_read_is_named_and_the_others_run(dirs, capsys):
    notebooks, exports = dirs
    make_notebook(notebooks, "good", write_export("good", "out.txt", "'ran'"))
    bad = {
        "bad_json": b'{"cells": [',
        "bad_empty_object": b"{}",
        "bad_list": b"[]",
        "bad_bytes": b"\xff\xfe\x00",
        "bad_schema": json.dumps({"cells": [{"cell_type": "code"}], "metadata": {},
                                  "nbformat": 4, "nbformat_minor": 5}).encode(),
    }
    for stem, content in bad.items():
        (notebooks / f"{stem}.ipynb").write_bytes(content)
    (notebooks / "bad_folder.ipynb").mkdir()
    (notebooks / "bad_link.ipynb").symlink_to(notebooks / "nowhere.ipynb")
    make_notebook(notebooks, "Bad Name", "print('never')")

    assert run_main(notebooks, exports) == 1
    err = capsys.readouterr().err
    failed = [line for line in err.splitlines() if line.startswith("FAILED ")]
    assert len(failed) == 8, err
    expected = {
        "bad_json": "bad_json.ipynb is not valid JSON (",
        "bad_empty_object": "bad_empty_object.ipynb is JSON but not a notebook",
        "bad_list": "bad_list.ipynb is JSON but not a notebook",
        "bad_bytes": "bad_bytes.ipynb is not UTF-8 text",
        "bad_schema": "bad_schema.ipynb is not a valid notebook (",
        "bad_folder": "bad_folder.ipynb cannot be read (Is a directory)",
        "bad_link": "bad_link.ipynb cannot be read (No such file or directory)",
        "Bad Name": "Bad Name.ipynb: its name becomes the export folder",
    }
    for stem, words in expected.items():
        line = next(line for line in failed if line.startswith(f"FAILED {stem}: "))
        assert words in line, line
        assert "Traceback" not in line and "executed copy" not in line
    assert (exports / "good" / "out.txt").read_text() == "ran"
    page = (exports / "index.html").read_text()
    assert "<td>bad_json</td><td>FAILED: " in page and "bad_json.ipynb is not valid JSON" in page


def test_folders_of_the_exports_folder_are_no_notebook_names_and_dot_files_no_notebooks(
        dirs, capsys):
    """`zh/` (the Chinese gallery) and `interactive/` are the exports folder's own: a notebook
    so named fails in one line and replaces nothing. `._x.ipynb` (macOS) and `.~x.ipynb`
    (editors) are not notebooks: not run, not failed; named, they stop the command."""
    notebooks, exports = dirs
    make_notebook(notebooks, "good", write_export("good", "out.txt", "'ran'"))
    for stem in ("interactive", "zh"):
        make_notebook(notebooks, stem, write_export(stem, "index.html", "'replaced'"))
        (exports / stem).mkdir(parents=True)
        (exports / stem / "index.html").write_text("the gallery")
    (notebooks / "._good.ipynb").write_bytes(b"\x00\x05\x16\x07Mac OS X resource fork")
    (notebooks / ".~good.ipynb").write_text("{}")
    assert run_main(notebooks, exports) == 1
    err = capsys.readouterr().err
    failed = sorted(line for line in err.splitlines() if line.startswith("FAILED "))
    assert len(failed) == 2, err
    assert "interactive.ipynb: exports/interactive/ holds the figures of notebooks run outside " \
           "the runner; rename the notebook" in failed[0]
    assert "zh.ipynb: exports/zh/ holds the zh edition's exports; rename the notebook" \
           in failed[1]
    assert "._good" not in err and ".~good" not in err
    assert all((exports / stem / "index.html").read_text() == "the gallery"
               for stem in ("interactive", "zh"))
    assert (exports / "good" / "out.txt").read_text() == "ran"
    assert run_main(notebooks, exports, "._good.ipynb") == 2
    assert capsys.readouterr().err.strip() == ("error: ._good.ipynb is a hidden file (a macOS or "
                                               "editor copy), not a notebook; name the notebook "
                                               "itself")


def test_a_tilde_in_a_typed_exports_folder_is_the_home_folder(dirs, monkeypatch, tmp_path):
    """`--exports-dir "~/out"` (quoted) and $COURSE_EXPORTS_DIR=~/env set where no shell expands
    it: the home folder, not a folder named `~` in the working folder."""
    notebooks, _ = dirs
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    make_notebook(notebooks, "Bad Name", "pass")  # fails without a kernel; index.html is written
    args = ["--no-progress", "--notebooks-dir", str(notebooks)]
    assert run.main(args + ["--exports-dir", "~/out"]) == 1
    monkeypatch.setenv(run.EXPORTS_ENV, "~/env")
    assert run.main(args) == 1
    assert all((tmp_path / "home" / name / "index.html").is_file() for name in ("out", "env"))
    assert not (tmp_path / "~").exists()


def test_a_named_notebook_that_cannot_be_read_stops_the_run_before_anything_runs(dirs, capsys):
    notebooks, exports = dirs
    make_notebook(notebooks, "good", "print(1)")
    (notebooks / "broken.ipynb").write_text("{}")
    assert run_main(notebooks, exports, "good", "broken") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: {notebooks / 'broken.ipynb'} is JSON "
                                               "but not a notebook")
    assert not exports.exists()


@pytest.mark.parametrize("args, words", [
    (["--cell-timeout", "-5"], "argument --cell-timeout: -5 must be a positive number"),
    (["--cell-timeout", "0"], "argument --cell-timeout: 0 must be a positive number"),
    (["--cell-timeout", "nan"], "argument --cell-timeout: nan must be a positive number"),
    (["--cell-timeout", "inf"], "argument --cell-timeout: inf must be a positive number"),
    (["--cell-timeout", "ten"], "argument --cell-timeout: 'ten' is not a number of seconds"),
    (["-p", "EPOCHS", "1", "-p", "EPOCHS", "2"], "-p EPOCHS is given twice; give it once"),
    (["-p", "EPOCHS"], "argument -p/--parameter: expected 2 arguments"),
    (["--no-such-option"], "unrecognized arguments: --no-such-option"),
    (["--exports-dir", ""], "argument --exports-dir: an empty folder name (an unset shell "
                            "variable?) would mean the current folder; name the folder"),
    (["--notebooks-dir", " "], "argument --notebooks-dir: an empty folder name"),
])
def test_argument_errors_exit_2_with_one_line(dirs, capsys, args, words):
    notebooks, exports = dirs
    make_notebook(notebooks, "only", ("EPOCHS = 1", ["parameters"]), "pass")
    with pytest.raises(SystemExit) as stop:
        run_main(notebooks, exports, *args)
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and words in err[0], err
    assert err[0].endswith("see python -m utils run --help")
    assert not exports.exists()


def test_bad_folders_and_names_exit_2_with_one_line(dirs, capsys, monkeypatch, tmp_path):
    notebooks, exports = dirs
    make_notebook(notebooks, "only", "pass")
    a_file = tmp_path / "a_file"
    a_file.write_text("not a folder")
    cases = [
        (["--exports-dir", str(a_file)], f"error: --exports-dir {a_file} is a file, not a "
                                         "folder; name a folder (it is created if missing)"),
        (["--exports-dir", str(a_file / "sub")], f"error: cannot write to --exports-dir "
                                                 f"{a_file / 'sub'} (Not a directory)"),
        (["--notebooks-dir", str(tmp_path / "missing")], "does not exist or is not a folder"),
        (["only", "only.ipynb"], "error: notebook 'only' is named twice; name it once"),
    ]
    for args, words in cases:
        assert run.main(["--no-progress", "--notebooks-dir", str(notebooks), *args]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and words in err[0], (args, err)
    monkeypatch.setenv(run.EXPORTS_ENV, str(a_file))
    assert run.main(["--no-progress", "--notebooks-dir", str(notebooks)]) == 2
    assert f"${run.EXPORTS_ENV} {a_file} is a file" in capsys.readouterr().err
    for timeout in (0, -1, float("nan"), "5", True):
        with pytest.raises(run.RunnerError, match="positive number of seconds"):
            run.run(notebooks_dir=notebooks, exports_dir=exports, timeout=timeout)
    assert not exports.exists()


def old_and_staged(target, new, *names):
    """`target` as an earlier run left it and `new` as staged: each file says "old" or "new"."""
    for folder, text in ((target, "old"), (new, "new")):
        folder.mkdir(parents=True)
        for name in names:
            (folder / name).write_text(text)
    return target, new


def set_aside(stem):
    """Picks the rename by which the swap sets the old <stem>/ aside (for break_renames)."""
    return lambda src, dst: Path(dst).name.startswith(f".{stem}.old.")


CRASH_IN_SWAP = textwrap.dedent("""
    import os, shutil, sys
    sys.path.insert(0, sys.argv[1])
    from pathlib import Path
    from utils.course import exports
    new, target, crash_at = Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4])
    scratch = new.parent.parent  # the run's own .run.<pid>
    calls = []
    real_replace, real_rmtree = os.replace, shutil.rmtree

    def replace(src, dst):
        calls.append(1)
        if len(calls) == crash_at:
            os._exit(9)  # the process dies here: no finally, no handler
        real_replace(src, dst)

    def rmtree(path, *args, **kwargs):
        if crash_at == 0 and ".old." in str(path) and Path(path).exists():
            (Path(path) / "f.txt").unlink()  # half removed
            os._exit(9)
        real_rmtree(path, *args, **kwargs)

    exports.os.replace, exports.shutil.rmtree = replace, rmtree
    exports.swap_folder(new, target, aside=scratch)
""")


@pytest.mark.parametrize("crash_at, after", [
    (1, "old"),  # before the old folder is set aside
    (2, "old"),  # between the two renames: the target is missing, the old one set aside
    (0, "new"),  # while removing the old folder
])
def test_a_crash_at_any_step_of_the_swap_is_recovered_by_the_next_run(tmp_path, crash_at, after):
    exports = tmp_path / "exports"
    target, new = exports / "nb", exports / ".run.4242" / ".nb.staging.x" / "nb"
    old_and_staged(target, new, "f.txt", "g.txt")
    (target / "run.json").write_text(json.dumps({"seconds": 1.0}))
    crashed = subprocess.run([sys.executable, "-c", CRASH_IN_SWAP, str(REPO_ROOT), str(new),
                              str(target), str(crash_at)], capture_output=True, text=True)
    assert crashed.returncode == 9, crashed.stderr

    actions = recover_leftovers(exports, "4242")  # as `.run.lock` names the killed run
    assert actions and all("left by an interrupted run" in a for a in actions)
    assert hidden(exports) == []
    assert {p.name: p.read_text() for p in target.iterdir() if p.suffix == ".txt"} == {
        "f.txt": after, "g.txt": after}
    write_index(exports, [])
    page = (exports / "index.html").read_text()
    assert ".old." not in page and "staging" not in page


def test_a_failed_rename_in_the_swap_puts_the_old_folder_back(tmp_path, monkeypatch):
    target, new = old_and_staged(tmp_path / "nb", tmp_path / "staged", "f.txt")
    break_renames(monkeypatch, fail=lambda src, dst: Path(src) == new)  # the second rename
    with pytest.raises(OSError, match="No space"):
        swap_folder(new, target)
    assert (target / "f.txt").read_text() == "old"
    assert hidden(tmp_path) == []


def test_a_signal_between_the_renames_waits_until_the_swap_is_done(tmp_path, monkeypatch):
    target, new = old_and_staged(tmp_path / "nb", tmp_path / "staged", "f.txt")
    break_renames(monkeypatch, interrupt_after=set_aside("nb"))
    with run.stop_on_signals(), pytest.raises(run.Interrupted):
        swap_folder(new, target)
    assert (target / "f.txt").read_text() == "new"
    assert not new.exists()


def test_an_interrupted_run_inside_the_swap_leaves_old_or_new(dirs, monkeypatch, capsys):
    """In-process: SIGINT while run() swaps a notebook's folder in: that notebook is new, the
    index is written, the next notebook does not run, the one-line message names it."""
    notebooks, exports = dirs
    make_notebook(notebooks, "one", write_export("one", "out.txt", "'new'"))
    make_notebook(notebooks, "two", write_export("two", "out.txt", "'new'"))
    (exports / "one").mkdir(parents=True)
    (exports / "one" / "out.txt").write_text("old")
    break_renames(monkeypatch, interrupt_after=set_aside("one"))
    assert run_main(notebooks, exports) == 130
    err = capsys.readouterr().err
    assert err.strip().splitlines()[-1] == (
        "interrupted (SIGINT) in one (saving its exports): it had finished and its exports "
        "are new; not run: two; run the command again to redo it")
    assert (exports / "one" / "out.txt").read_text() == "new"
    assert not (exports / "two").exists()
    assert hidden(exports) == [".run.lock"]
    assert "one" in (exports / "index.html").read_text()


def test_leftovers_of_a_killed_run_are_cleaned_up_and_never_shown(dirs, capsys):
    notebooks, exports = dirs
    make_notebook(notebooks, "kept", write_export("kept", "out.txt", "'new'"))
    scratch = exports / ".run.99999999"  # what run 99999999 left when it was killed
    (scratch / ".lost.old.123").mkdir(parents=True)  # set aside, nothing replaced it
    (scratch / ".lost.old.123" / "run.json").write_text(json.dumps({"seconds": 2.0}))
    (exports / "kept").mkdir()
    (scratch / ".kept.old.456").mkdir()  # set aside, then replaced
    (scratch / ".kept.old.456" / "run.json").write_text(json.dumps({"seconds": 3.0}))
    (scratch / ".kept.staging.abc" / "kept").mkdir(parents=True)
    (scratch / ".index.html.x1.tmp").write_text("half a page")
    (exports / ".run.lock").write_text("99999999")  # a dead run's lock: not held, so free

    assert run_main(notebooks, exports) == 0
    err = capsys.readouterr().err
    assert "put back lost/ from .lost.old.123, left by an interrupted run" in err
    assert "removed .kept.old.456, left by an interrupted run" in err
    assert "removed .run.99999999, left by an interrupted run" in err
    assert hidden(exports) == [".run.lock"]
    page = (exports / "index.html").read_text()
    assert ".old." not in page and "staging" not in page and ">lost<" in page


def test_the_clean_up_removes_only_what_a_run_provably_wrote(dirs, capsys):
    """--exports-dir at a shared folder: other programs' dot-files that look like leftovers
    (a temp file, a staging or set-aside folder, another `.run.<pid>`) stay as they are."""
    notebooks, exports = dirs
    make_notebook(notebooks, "only", write_export("only", "out.txt", "'new'"))
    files, folders = [".cache.tmp", ".index.html.tmp"], [".only.old.123", ".x.staging.y",
                                                         ".run.12345", ".git"]
    for name in folders:
        (exports / name).mkdir(parents=True)
    for name in files:
        (exports / name).write_text("theirs")
    theirs = files + folders
    (exports / ".run.lock").write_text("99999999")  # the run before: its folder is absent
    assert run_main(notebooks, exports) == 0
    assert "left by an interrupted run" not in capsys.readouterr().err
    assert hidden(exports) == sorted(theirs + [".run.lock"])
    assert (exports / ".cache.tmp").read_text() == "theirs"


def test_damaged_files_of_earlier_runs_are_noted_in_the_index(dirs):
    notebooks, exports = dirs
    make_notebook(notebooks, "fresh", "pass")
    for stem, run_json, figures_json in [
            ("bad_run_json", "{oops", "[]"),
            ("run_json_no_seconds", "{}", "[]"),
            ("bad_figures_json", json.dumps({"seconds": 1}), "[{"),
            ("escaping_figure", json.dumps({"seconds": 1}),
             json.dumps([{"name": "x", "caption": "", "png": "../../x.png", "svg": "x.svg"}])),
            ("figures_not_a_list", json.dumps({"seconds": 1}), json.dumps({"name": "x"}))]:
        (exports / stem).mkdir(parents=True)
        (exports / stem / "run.json").write_text(run_json)
        (exports / stem / "figures.json").write_text(figures_json)

    assert run_main(notebooks, exports, "fresh") == 0
    page = (exports / "index.html").read_text()
    assert page.count("re-run bad_run_json to rebuild it") == 1
    assert page.count("re-run run_json_no_seconds to rebuild it") == 1
    for stem in ("bad_figures_json", "escaping_figure", "figures_not_a_list"):
        assert f"{stem}/figures.json is damaged (" in page
        assert f"re-run the notebook ({stem}) to rebuild it" in page
    assert "../../x.png" not in page.replace("&#x27;", "'").split("<h1>Figures</h1>")[1]


def test_a_notebook_writing_a_damaged_manifest_fails_and_keeps_the_old_exports(dirs, capsys):
    notebooks, exports = dirs
    make_notebook(notebooks, "junk", write_export("junk", "figures.json", "'[{\"name\": 1}]'"))
    make_notebook(notebooks, "missing", write_export(
        "missing", "figures.json",
        "'[{\"name\": \"a\", \"caption\": \"\", \"png\": \"a.png\", \"svg\": \"a.svg\"}]'"))
    (exports / "junk").mkdir(parents=True)
    (exports / "junk" / "kept.txt").write_text("old")
    assert run_main(notebooks, exports) == 1
    err = capsys.readouterr().err
    assert "FAILED junk: " in err and "junk/figures.json is damaged (figure 1: name 1" in err
    assert "figures.json lists a.png, a.svg, not in the folder; re-run the notebook" in err
    assert sorted(p.name for p in (exports / "junk").iterdir()) == ["kept.txt"]
    assert not (exports / "missing").exists()


@pytest.mark.parametrize("entry, problem", [
    ({"name": "ok", "caption": "c", "png": "ok.png", "svg": "ok.svg"}, ""),
    ("text", "not an object"),
    ({"name": "../x", "caption": "", "png": "x.png", "svg": "x.svg"},
     "name '../x' is not lower-case letters, digits, _ and -"),
    ({"name": "a", "caption": 3, "png": "a.png", "svg": "a.svg"}, "a: caption is not text"),
    ({"name": "a", "caption": "", "png": "/etc/a.png", "svg": "a.svg"},
     "a: png/svg are not a.png/a.svg"),
])
def test_the_runner_and_the_plot_helpers_apply_one_manifest_rule(tmp_path, entry, problem):
    from utils import plot
    assert run.NAME.pattern == plot._NAME.pattern
    assert manifest_entry_problem(entry) == problem
    folder = tmp_path / "nb"
    folder.mkdir()
    (folder / "figures.json").write_text(json.dumps([entry]))
    if not problem:
        assert run.read_figures(folder) == plot.read_manifest(folder) == [entry]
        return
    with pytest.raises(run.ExportError) as runner_error:
        run.read_figures(folder)
    with pytest.raises(plot.ExportError) as plot_error:
        plot.read_manifest(folder)
    for error in (runner_error, plot_error):
        assert f"figures.json is damaged (figure 1: {problem}); " in str(error.value)


# ------------------------------------------------------------- typed `-p` values

TYPED = ("FLAG = False\nEPOCHS = 3\nRATE = 0.1\nLABEL = 'a'\nFOLDER = None\n"
         "SIZES = [1, 2]\nSCALE: float = 5", ["parameters"])


@pytest.mark.parametrize("name, text, value", [
    ("FLAG", "false", False), ("FLAG", "True", True), ("FLAG", "no", False),
    ("EPOCHS", "5", 5), ("EPOCHS", "5.0", 5), ("EPOCHS", "3", 3), ("RATE", "1e-3", 0.001),
    ("RATE", "2", 2.0),
    ("LABEL", "5", "5"), ("FOLDER", "/some/path", "/some/path"), ("FOLDER", "7", 7),
    ("SIZES", "[3, 4]", [3, 4]), ("SCALE", "0.5", 0.5),
])
def test_parameters_are_read_as_the_type_of_their_default(tmp_path, name, text, value):
    make_notebook(tmp_path, "typed", TYPED, "pass")
    split = parameters.split_parameters([tmp_path / "typed.ipynb"], {name: text})
    defaults = {"FLAG": False, "EPOCHS": 3, "RATE": 0.1, "SCALE": 5}
    given = split[tmp_path / "typed.ipynb"]
    got = given.get(name, defaults.get(name))  # a value equal to the default is not injected
    assert got == value and type(got) is type(value)
    assert (name in given) == (value != defaults.get(name))


@pytest.mark.parametrize("args, words", [
    (["-p", "EPOCHS", "five"], "-p EPOCHS 'five': only has EPOCHS = 3 in its `parameters` "
                               "cell, so give a finite number (whole)"),
    (["-p", "EPOCHS", "2.5"], "so give a whole number like its default 3"),
    (["-p", "RATE", "1/1000"], "-p RATE '1/1000': only has RATE = 0.1"),
    (["-p", "RATE", "nan"], "so give a finite number, e.g. 0.1"),
    (["-p", "FLAG", "maybe"], "-p FLAG 'maybe': only has FLAG = False in its `parameters` cell, "
                              "so give True or False"),
    (["-p", "SIZES", "3"], "so give a list literal like its default [1, 2]"),
])
def test_a_value_its_parameter_cannot_take_is_refused_before_anything_runs(dirs, capsys, args,
                                                                           words):
    notebooks, exports = dirs
    make_notebook(notebooks, "only", TYPED, write_export("only", "ran.txt", "'ran'"))
    assert run_main(notebooks, exports, *args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and words in err[0], err
    assert not exports.exists()


# ------------------------------------------- writes confined to the exports folder, atomic

def test_a_lock_file_that_is_a_symlink_is_refused_and_its_target_untouched(dirs, capsys,
                                                                          tmp_path):
    notebooks, exports = dirs
    make_notebook(notebooks, "only", write_export("only", "out.txt", "'new'"))
    outside = tmp_path / "precious.txt"
    outside.write_text("keep me")
    exports.mkdir()
    (exports / ".run.lock").symlink_to(outside)
    assert run_main(notebooks, exports) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and ".run.lock is a symbolic link" in err[0] \
        and "remove it and run again" in err[0], err
    assert outside.read_text() == "keep me" and not (exports / "only").exists()


def test_a_lock_file_that_is_a_hard_link_is_refused_and_its_twin_untouched(dirs, capsys,
                                                                          tmp_path):
    notebooks, exports = dirs
    make_notebook(notebooks, "only", "pass")
    outside = tmp_path / "precious.txt"
    outside.write_text("keep me")
    exports.mkdir()
    os.link(outside, exports / ".run.lock")
    assert run_main(notebooks, exports) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and ".run.lock is a hard link to another file" in err[0], err
    assert outside.read_text() == "keep me"


def test_an_export_folder_that_is_a_symlink_is_replaced_not_followed(dirs, tmp_path):
    notebooks, exports = dirs
    make_notebook(notebooks, "only", write_export("only", "out.txt", "'new'"))
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "mine.txt").write_text("keep me")
    exports.mkdir()
    (exports / "only").symlink_to(outside, target_is_directory=True)
    assert run_main(notebooks, exports) == 0
    assert not (exports / "only").is_symlink() and (exports / "only" / "out.txt").exists()
    assert sorted(p.name for p in outside.iterdir()) == ["mine.txt"]  # untouched
    assert hidden(exports) == [".run.lock"]  # no .only.old.<pid> left behind


def test_leftover_symlinks_are_removed_never_followed(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "mine.txt").write_text("keep me")
    exports = tmp_path / "exports"
    scratch = exports / ".run.123"
    scratch.mkdir(parents=True)
    (exports / "nb").mkdir()
    (scratch / ".nb.old.123").symlink_to(outside, target_is_directory=True)
    (scratch / ".x.staging.abc").symlink_to(outside, target_is_directory=True)
    (scratch / ".index.html.tmp").symlink_to(outside / "mine.txt")
    recover_leftovers(exports, "123")
    assert sorted(p.name for p in exports.iterdir()) == ["nb"]
    assert (outside / "mine.txt").read_text() == "keep me"
    (exports / ".run.456").symlink_to(outside, target_is_directory=True)  # not a run's
    assert recover_leftovers(exports, "456") == []
    assert (exports / ".run.456").is_symlink() and (outside / "mine.txt").is_file()


def test_a_full_disk_gives_a_summary_and_leaves_no_temporary_files(dirs, capsys, monkeypatch):
    notebooks, exports = dirs
    make_notebook(notebooks, "broken", "raise ValueError('fails')")
    real_write_text = Path.write_text

    def full(self, *args, **kwargs):  # every text write into the exports folder fails half-way
        if str(self).startswith(str(exports.resolve())):
            real_write_text(self, "half", encoding="utf-8")
            raise OSError(28, "No space left on device")
        return real_write_text(self, *args, **kwargs)
    monkeypatch.setattr(Path, "write_text", full)
    assert run_main(notebooks, exports) == 1
    captured = capsys.readouterr()
    assert "index.html" in captured.out and "FAILED" in captured.out  # the summary table
    line = [x for x in captured.err.splitlines() if x.startswith("FAILED index.html")]
    assert line and "(No space left on device); free some space" in line[0]
    assert "Traceback" not in captured.err
    assert hidden(exports) == [".run.lock"]  # no .broken.failed.ipynb.*.tmp, .index.html.*.tmp
    assert not (exports / "index.html").exists()


@pytest.mark.parametrize("removed", [  # the staging folder; the exports folder
    "os.environ['COURSE_EXPORTS_DIR']",
    "os.path.dirname(os.path.dirname(os.environ['COURSE_EXPORTS_DIR']))"])
def test_a_cell_that_removes_its_staging_or_exports_folder_is_named(dirs, capsys, removed):
    notebooks, exports = dirs
    make_notebook(notebooks, "a_remover", f"import os, shutil\nshutil.rmtree({removed})")
    make_notebook(notebooks, "b_after", write_export("b_after", "out.txt", "'new'"))
    assert run_main(notebooks, exports) == 1
    err = capsys.readouterr().err
    line = [x for x in err.splitlines() if x.startswith("FAILED a_remover")]
    assert line and "a cell removed its staging folder" in line[0], err
    assert "executed copy: a_remover.failed.ipynb" in line[0]
    assert (exports / "a_remover.failed.ipynb").is_file()  # kept, as the README promises
    assert (exports / "b_after" / "out.txt").read_text() == "new"
    assert (exports / "index.html").is_file()
    # the run took the lock again: a new .run.lock naming this run
    lock = exports / ".run.lock"
    assert lock.read_text() == str(os.getpid())


def test_the_lock_is_taken_again_when_a_notebook_removed_it(tmp_path):
    from utils.course.exports import exports_lock
    exports = tmp_path / "exports"
    exports.mkdir()
    with exports_lock(exports) as lock:
        assert lock.retake() is False
        (exports / ".run.lock").unlink()
        assert lock.retake() is True
        with pytest.raises(run.RunnerError, match=r"another run \(pid \d+\) is writing"):
            with exports_lock(exports):
                pass


# -------------------------------------------------------------- one line per failure

def test_a_cell_timeout_is_one_line_without_the_cell_preview(dirs, capsys):
    notebooks, exports = dirs
    make_notebook(notebooks, "slow", "import time\ntime.sleep(30)\nx = 1\ny = 2\nz = 3")
    assert run_main(notebooks, exports, "--cell-timeout", "2") == 1
    err = [x for x in capsys.readouterr().err.splitlines() if x.strip()]
    failed = [x for x in err if "FAILED" in x]
    assert failed and all("cell 2 ran longer than the cell timeout (2 s); find what hangs, or "
                          "raise --cell-timeout" in x for x in failed), err
    assert not any("time.sleep" in x for x in err), err  # no preview of the cell


def test_a_multi_line_error_message_is_reported_in_one_line(dirs, capsys):
    notebooks, exports = dirs
    make_notebook(notebooks, "wordy", "raise ValueError('first line\\nsecond\\nthird')")
    assert run_main(notebooks, exports) == 1
    err = capsys.readouterr().err.splitlines()
    assert "FAILED wordy: cell 2 raised ValueError: first line ... (executed copy: " \
           "wordy.failed.ipynb in the exports folder)" in err
    assert "second" not in "\n".join(err)


def test_a_lock_that_cannot_be_written_is_one_line(tmp_path, monkeypatch):
    from utils.course import exports as E
    real_pwrite = os.pwrite

    def full(fd, data, offset):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(E.os, "pwrite", full)
    with pytest.raises(run.RunnerError) as err:
        with E.exports_lock(tmp_path):
            pass
    assert str(err.value) == (f"cannot write the run lock {tmp_path / '.run.lock'} (No space "
                              f"left on device); free some space and run again")
    monkeypatch.setattr(E.os, "pwrite", real_pwrite)
    with E.exports_lock(tmp_path):  # the file descriptor was closed: the lock is free
        pass


def test_a_file_system_error_under_the_run_is_one_line(dirs, capsys, monkeypatch):
    notebooks, exports = dirs
    make_notebook(notebooks, "only", "pass")
    exports.mkdir()
    (exports / ".run.lock").write_text("99999999")  # a killed run's: its leftovers are removed

    def denied(folder, pid, log=None):
        raise PermissionError(13, "Permission denied", str(folder / ".x.tmp"))
    monkeypatch.setattr(run, "recover_leftovers", denied)
    assert run_main(notebooks, exports) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: could not write {exports.resolve() / '.x.tmp'} (Permission denied); "
                   f"check the exports folder (free space, permissions) and run again"]
