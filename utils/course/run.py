"""The main job: execute the notebooks with a real Jupyter kernel and export everything.

Each notebook runs in its own folder in a fresh ipykernel of this interpreter; its exports are
staged and swapped in for `exports/<stem>/` whole on success (utils/course/exports.py). Exit code:
0 all ran, 1 any failed, 2 bad arguments, 128 + the signal number when interrupted. What is
promised, in full: docs/runner-and-exports.md.
"""
import argparse
import asyncio
import atexit
import concurrent.futures
import contextlib
import json
import math
import os
import re
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import nbformat
from queue import Empty

from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.channels import AsyncZMQSocketChannel
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError
from tqdm import tqdm
from traitlets import Type, default

from utils import REPO_ROOT, write_atomically
from utils.course.exports import (EXPORTS_ENV, LOCK_NAME, NAME, RESERVED, ExportError,
                                  RunnerError, count_figures, exports_lock, prepare_exports_dir,
                                  read_figures, recover_leftovers, replace_text, scratch_folder,
                                  signals_deferred, signals_handled, swap_folder, write_index)
from utils.course.languages import DEFAULT as DEFAULT_LANG, EDITIONS
from utils.course.notebook_html import to_html
from utils.course.parameters import parameterized, split_parameters

EXPECTED = re.compile(r"#\s*expected error:\s*([A-Za-z_][\w.]*)\s*$")
DEFAULT_CELL_TIMEOUT = 1800


class NotebookFailed(Exception):
    """A notebook did not run as written; the message names the cell and the error."""


class UnreadableNotebook(NotebookFailed):
    """The .ipynb file cannot be read as a notebook; the message names the file."""


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM arrived: the run stops at once. `where` says what was running."""

    def __init__(self, signum, where=""):
        super().__init__(signum, where)
        self.signum, self.where = signum, where
        self.installed, self.not_run = False, []  # the new exports went in; notebooks left


def _interrupted(err):
    """A KeyboardInterrupt as Interrupted: a plain one is SIGINT's."""
    return err if isinstance(err, Interrupted) else Interrupted(signal.SIGINT)


@dataclass
class Result:
    stem: str
    ok: bool
    seconds: float
    error: str = ""
    figures: int = 0
    failed_copy: str = ""  # the executed copy kept for debugging, when there is one


class _SlicedPollChannel(AsyncZMQSocketChannel):
    """pyzmq's asyncio poll can miss the wake-up for a message that has already arrived and see
    it only when its own timeout runs out (jupyter/nbclient#312). nbclient waits for a cell's
    reply with one poll as long as the cell timeout, so such a miss stalled a widget notebook
    for the whole timeout and then carried on without an error. Polling in short slices bounds
    the delay to one slice: each new poll looks at the socket's events first."""

    slice_seconds = 1.0

    async def get_msg(self, timeout=None):
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                return await super().get_msg(
                    self.slice_seconds if left is None else min(self.slice_seconds, left))
            except Empty:
                if left is not None and left <= self.slice_seconds:
                    raise


class SlicedPollClient(AsyncKernelClient):
    """nbclient's kernel client, with every channel polled in slices (see _SlicedPollChannel)."""
    shell_channel_class = Type(_SlicedPollChannel)
    iopub_channel_class = Type(_SlicedPollChannel)
    stdin_channel_class = Type(_SlicedPollChannel)
    control_channel_class = Type(_SlicedPollChannel)


class _ThisPythonKernel(AsyncKernelManager):
    """ipykernel in the interpreter running the runner, whatever `python3` kernelspec the user
    may have installed elsewhere (e.g. in ~/.local/share/jupyter/kernels), talked to through
    SlicedPollClient."""

    client_factory = Type(SlicedPollClient)

    @default("kernel_spec_manager")
    def _only_native_kernel(self):
        return KernelSpecManager(kernel_dirs=[])  # leaves ipykernel's own spec: sys.executable


def _raise_interrupted(signum, frame):
    raise Interrupted(signum)


def stop_on_signals():
    """While the run lasts, SIGINT and SIGTERM raise Interrupted (SIGTERM would kill at once)."""
    return signals_handled(_raise_interrupted)


def find_notebooks(names, notebooks_dir):
    """The notebooks to run: all of `notebooks_dir` sorted, or the named ones in the given order."""
    notebooks_dir = Path(notebooks_dir)
    if not notebooks_dir.is_dir():
        raise RunnerError(f"notebooks folder {notebooks_dir} does not exist or is not a folder; "
                          "pass --notebooks-dir <folder with the .ipynb files>")
    # dot-files are not notebooks: macOS `._name.ipynb`, editors' `.~name.ipynb`
    available = sorted(p for p in notebooks_dir.glob("*.ipynb") if not p.name.startswith("."))
    if not names:
        if not available:
            raise RunnerError(f"no notebooks (*.ipynb) in {notebooks_dir}")
        return available
    found = []
    for name in names:
        candidates = [Path(name), notebooks_dir / name, notebooks_dir / f"{name}.ipynb"]
        path = next((c for c in candidates if c.suffix == ".ipynb" and c.exists()), None)
        if path is not None and path.name.startswith("."):
            raise RunnerError(f"{path.name} is a hidden file (a macOS or editor copy), not a "
                              f"notebook; name the notebook itself")
        if path is None:
            choices = ", ".join(p.stem for p in available) or "none"
            raise RunnerError(f"no notebook {name!r} in {notebooks_dir}; choose from: {choices}")
        if path.resolve() in found:
            raise RunnerError(f"notebook {path.stem!r} is named twice; name it once")
        found.append(path.resolve())
    return found


def load_notebook(path):
    """The notebook in `path`, or UnreadableNotebook naming the file and what to do."""
    path = Path(path)
    fix = f"fix or restore {path} (e.g. `git checkout -- {path.name}`), or move it elsewhere"
    if not NAME.match(path.stem):
        raise UnreadableNotebook(
            f"{path.name}: its name becomes the export folder, so use lower-case letters, "
            f"digits, _ and - (e.g. 04_my_notes.ipynb); rename it")
    if path.stem in RESERVED:
        raise UnreadableNotebook(f"{path.name}: exports/{path.stem}/ holds "
                                 f"{RESERVED[path.stem]}; rename the notebook")
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as err:
        raise UnreadableNotebook(f"{path} cannot be read ({err.strerror or err}); {fix}") from None
    except UnicodeDecodeError as err:
        raise UnreadableNotebook(f"{path} is not UTF-8 text ({err.reason} at byte {err.start}); "
                                 f"{fix}") from None
    try:
        data = json.loads(text)
    except ValueError as err:
        raise UnreadableNotebook(f"{path} is not valid JSON ({err}); {fix}") from None
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        raise UnreadableNotebook(f"{path} is JSON but not a notebook (no list of cells); {fix}")
    try:
        nb = nbformat.reads(text, as_version=4)
        nbformat.validate(nb)
    except Exception as err:  # nbformat's validation errors come in several classes
        reason = str(err).strip().split("\n")[0][:200]
        raise UnreadableNotebook(f"{path} is not a valid notebook ({reason}); {fix}") from None
    return nb


def cell_number(nb, index):
    """1-based number of cell `index` in the stored notebook (the injected cell not counted)."""
    return sum("injected-parameters" not in c.metadata.get("tags", [])
               for c in nb.cells[:index + 1])


class _Progress:
    """The per-notebook bar and the cell running now. It counts the stored notebook's cells
    (markdown too), as "cell N" in errors does."""

    def __init__(self, nb, desc, progress):
        self.nb, self.index = nb, None
        self.bar = tqdm(total=cell_number(nb, len(nb.cells) - 1), desc=desc, unit="cell",
                        disable=not progress, file=sys.stderr)

    def started(self, cell, cell_index):
        self.index = cell_index
        self.bar.set_postfix_str(f"running cell {cell_number(self.nb, cell_index)}")

    def executed(self, cell, cell_index, **_):
        self.bar.update(cell_number(self.nb, cell_index) - self.bar.n)

    def where(self):
        return "kernel start" if self.index is None else f"cell {cell_number(self.nb, self.index)}"

    def close(self, finished):
        if finished:
            self.bar.update(self.bar.total - self.bar.n)  # markdown cells after the last code cell
        self.bar.close()


def _failure(error, where, timeout):
    """NotebookFailed in one line for what nbclient raised."""
    if isinstance(error, CellExecutionError):
        return NotebookFailed(f"{where} raised {error.ename}: {first_line(error.evalue)}")
    if isinstance(error, CellTimeoutError):  # its message previews the cell: not repeated
        return NotebookFailed(f"{where} ran longer than the cell timeout ({timeout} s); find "
                              f"what hangs, or raise --cell-timeout")
    return NotebookFailed(f"{where}: {type(error).__name__}: {first_line(error)}")  # kernel died


def execute(nb, cwd, env, timeout, progress=True, desc=""):
    """Run every cell in a fresh kernel (cwd = the notebook's folder), stopping at an error.

    nbclient runs in a thread with a loop of its own: there it sets no SIGINT/SIGTERM handlers
    (its own shut the kernel down and let the caller carry on), and a loop the caller runs (a
    Jupyter kernel, Playwright's sync API) is in nobody's way. SIGINT/SIGTERM kill the kernel
    and raise Interrupted, naming the cell that was running.
    """
    bar, stop, error = _Progress(nb, desc, progress), [], None
    client = NotebookClient(
        nb, kernel_name="python3", kernel_manager_class=_ThisPythonKernel, timeout=timeout,
        startup_timeout=120, resources={"metadata": {"path": str(cwd)}},
        on_cell_start=bar.started, on_cell_executed=bar.executed)
    km = client.create_kernel_manager()  # nbclient uses it and forgets it; we kill what is left
    loop = asyncio.new_event_loop()
    task = loop.create_task(client.async_execute(env=env))

    def on_signal(signum, frame):  # raises nothing: the notebook's thread stops, then we raise
        if not stop:
            stop.append(signum)
            client.shutdown_kernel = "immediate"  # nbclient's cleanup kills the kernel
            loop.call_soon_threadsafe(task.cancel)

    with signals_handled(on_signal), concurrent.futures.ThreadPoolExecutor(1, "notebook") as pool:
        try:
            pool.submit(_run_and_clean_up, loop, task, km).result()
        except BaseException as err:  # CancelledError included
            error = err
    loop.close()
    # nbclient unregisters this itself only when the kernel had started
    atexit.unregister(client._cleanup_kernel)
    bar.close(finished=error is None and not stop)
    if stop:
        raise Interrupted(stop[0], bar.where()) from None
    if error is not None:
        raise _failure(error, bar.where(), timeout) from error
    return nb


def first_line(message):
    """The first non-empty line of an error message: failures are reported in one line."""
    lines = [line.strip() for line in str(message).splitlines() if line.strip()]
    return (lines[0] + (" ..." if len(lines) > 1 else "")) if lines else ""


def _run_and_clean_up(loop, task, km):
    """In the notebook's thread: run the task, then finish what nbclient left on the loop and
    kill the kernel if it still runs (a run stopped while the kernel started)."""
    try:
        loop.run_until_complete(task)
    finally:
        loop.set_exception_handler(lambda loop, context: None)  # leftovers of a stopped run
        pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
        for t in pending:
            t.cancel()
        if pending:
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        if km.has_kernel:
            with contextlib.suppress(Exception):  # already gone
                loop.run_until_complete(km.shutdown_kernel(now=True))
        loop.run_until_complete(loop.shutdown_asyncgens())


def expected_error_problems(nb):
    """Cells tagged `raises-exception` that did not raise exactly the error they declare."""
    problems = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or "raises-exception" not in cell.metadata.get("tags", []):
            continue
        n = cell_number(nb, index)
        match = EXPECTED.match(cell.source.strip().split("\n")[0])
        if not match:
            problems.append(f"cell {n} is tagged raises-exception but its first line is not "
                            "'# expected error: <ExceptionClassName>'")
            continue
        wanted = match.group(1)
        errors = [o for o in cell.get("outputs", []) if o.output_type == "error"]
        if not errors:
            problems.append(f"cell {n} was expected to raise {wanted} but ran without error")
        elif errors[0].ename != wanted:
            problems.append(f"cell {n} was expected to raise {wanted} but raised "
                            f"{errors[0].ename}: {errors[0].evalue}")
    return problems


def stage_exports(nb, staging, stem, parameters, seconds, lang):
    """Check what the executed notebook wrote into `staging`, then add the executed .ipynb,
    its HTML and run.json; returns the figures. NotebookFailed says what is wrong."""
    if not staging.is_dir():
        raise NotebookFailed(f"a cell removed its staging folder {staging} "
                             f"(${EXPORTS_ENV}) or the exports folder; notebooks write "
                             f"into that folder, never delete it")
    problems = expected_error_problems(nb)
    if problems:
        raise NotebookFailed("; ".join(problems))
    strays = sorted(p.name for p in staging.iterdir() if p.name != stem)
    if strays:
        raise NotebookFailed(f"it exported into {', '.join(strays)} instead of {stem}/: "
                             f"call plot.set_notebook({stem!r})")
    folder = staging / stem
    folder.mkdir(exist_ok=True)
    try:
        figures = read_figures(folder, check_files=True)
    except ExportError as err:
        raise NotebookFailed(str(err)) from None
    nbformat.write(nb, folder / f"{stem}.ipynb")
    (folder / f"{stem}.html").write_text(to_html(nb, lang), encoding="utf-8")
    (folder / "run.json").write_text(json.dumps(
        {"seconds": round(seconds, 1), "parameters": parameters,
         "finished": time.strftime("%Y-%m-%d %H:%M:%S")}, indent=1, default=repr))
    return figures


def install_exports(folder, exports_dir, scratch):
    """Swap the staged folder in for exports/<stem>/, with its copy of the submission."""
    target = exports_dir / folder.name
    with signals_deferred():  # the folder and its copy of the submission go in together
        swap_folder(folder, target, aside=scratch)
        if (target / "submission.csv").exists():
            copy = partial(shutil.copyfile, target / "submission.csv")  # copy(temp file)
            write_atomically(exports_dir / "submission.csv", copy, scratch)


def run_notebook(path, nb, parameters, exports_dir, timeout, progress, lang):
    """Execute notebook `nb` (read from `path`); on success replace exports/<stem>/ with the
    fresh exports."""
    stem, start = path.stem, time.time()
    scratch = scratch_folder(exports_dir, os.getpid())  # the run's own (exports_lock)
    scratch.mkdir(parents=True, exist_ok=True)
    failed_copy = exports_dir / f"{stem}.failed.ipynb"
    staging = Path(tempfile.mkdtemp(prefix=f".{stem}.staging.", dir=scratch))
    env = {**os.environ, EXPORTS_ENV: str(staging), }  # `utils`: the editable install
    phase = "preparing it"  # what a signal interrupts, unless a running cell names itself
    swapping = False  # the staged folder is going in for exports/<stem>/
    try:
        nb = parameterized(nb, parameters)
        phase = "running its cells"
        execute(nb, path.parent, env, timeout, progress, desc=stem)
        seconds, phase = time.time() - start, "saving its exports"
        figures = stage_exports(nb, staging, stem, parameters, seconds, lang)
        swapping = True
        install_exports(staging / stem, exports_dir, scratch)
        failed_copy.unlink(missing_ok=True)
        return Result(stem, True, seconds, figures=len(figures))
    except KeyboardInterrupt as err:
        stop = _interrupted(err)
        stop.where = stop.where or phase
        stop.installed = swapping and not (staging / stem).exists()
        raise stop from None
    except Exception as err:  # this notebook failed; the others still run
        try:
            scratch.mkdir(parents=True, exist_ok=True)  # a cell may have removed it
            replace_text(failed_copy, nbformat.writes(nb), aside=scratch)
        except Exception:  # the error below matters more than the debugging copy
            pass
        error = (str(err) if isinstance(err, NotebookFailed) else
                 f"{type(err).__name__}: {first_line(err)}")
        return Result(stem, False, time.time() - start, error=error,
                      figures=count_figures(exports_dir / stem),
                      failed_copy=failed_copy.name if failed_copy.exists() else "")
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def check_timeout(timeout):
    """Seconds one cell may run: a positive finite number, or None for no limit."""
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) \
            or not math.isfinite(timeout) or timeout <= 0:
        raise RunnerError(f"cell timeout {timeout!r}: give a positive number of seconds")
    return timeout


def folders(lang, notebooks_dir=None, exports_dir=None):
    """(notebooks folder, exports folder, where the latter came from) for edition `lang`."""
    if lang not in EDITIONS:
        raise RunnerError(f"language {lang!r}: choose from {', '.join(EDITIONS)}")
    edition = EDITIONS[lang]
    notebooks_dir = Path(notebooks_dir or REPO_ROOT / edition.notebooks)
    if lang != DEFAULT_LANG and not notebooks_dir.is_dir():
        raise RunnerError(f"no {lang} edition in {notebooks_dir}; create it from the English "
                          "notebooks with `python -m utils.course.translation sync`")
    source = ("--exports-dir" if exports_dir else
              f"${EXPORTS_ENV}" if os.environ.get(EXPORTS_ENV) else "exports folder")
    if not exports_dir:  # `~` in $COURSE_EXPORTS_DIR set where no shell expands it
        root = Path(os.environ.get(EXPORTS_ENV) or REPO_ROOT / "exports").expanduser()
        exports_dir = root / edition.exports
    return notebooks_dir, Path(exports_dir).expanduser(), source


def load_all(notebooks, named):
    """({path: notebook}, {path: why it cannot be read}); named ones must all be readable."""
    loaded, unreadable = {}, {}
    for path in notebooks:
        try:
            loaded[path] = load_notebook(path)
        except UnreadableNotebook as err:
            unreadable[path] = str(err)
    if named and unreadable:
        raise RunnerError("; ".join(unreadable.values()))
    return loaded, unreadable


def _log(line):
    print(line, file=sys.stderr, flush=True)


def run(names=(), parameters=None, notebooks_dir=None, exports_dir=None,
        timeout=DEFAULT_CELL_TIMEOUT, progress=True, lang=DEFAULT_LANG):
    """Run the notebooks one after the other, write index.html; returns one Result each.

    `lang` picks the edition (utils/course/languages.py): its notebooks folder by default, and its
    sub-folder of the default exports folder (exports/zh/ for "zh"; --exports-dir is taken as is).

    Raises RunnerError before anything runs for bad input, and Interrupted (a KeyboardInterrupt)
    on SIGINT/SIGTERM after stopping the kernel; exports are then old or new, never mixed.
    """
    timeout = check_timeout(timeout)
    notebooks_dir, exports_dir, source = folders(lang, notebooks_dir, exports_dir)
    caption = None
    if lang != DEFAULT_LANG:
        from utils.course.translation import GalleryCaptions
        caption = GalleryCaptions(notebooks_dir)
    notebooks = find_notebooks(names, notebooks_dir)
    loaded, unreadable = load_all(notebooks, names)
    per_notebook = split_parameters(list(loaded), parameters or {})
    exports_dir = prepare_exports_dir(exports_dir, source)
    results = []
    with stop_on_signals(), exports_lock(exports_dir) as lock:
        if lock.previous:
            with signals_deferred():
                for line in recover_leftovers(exports_dir, lock.previous):
                    _log(line)
        try:
            for i, path in enumerate(notebooks, 1):
                if path in unreadable:
                    result = Result(path.stem, False, 0.0, error=unreadable[path])
                else:
                    result = _run_one(path, f"[{i}/{len(notebooks)}]", per_notebook[path],
                                      exports_dir, timeout, progress, loaded[path], lang, lock,
                                      notebooks[i:])
                word = "ok" if result.ok else f"FAILED: {result.error}"
                _log(f"[{i}/{len(notebooks)}] {path.stem}: {word} ({result.seconds:.1f} s)")
                results.append(result)
        except KeyboardInterrupt:
            with signals_deferred():
                _index(exports_dir, results, lang, caption)  # the notebooks finished so far
            raise
        with signals_deferred():
            _index(exports_dir, results, lang, caption)
    return results


def _run_one(path, tag, params, exports_dir, timeout, progress, nb, lang, lock, rest):
    """run_notebook, logged; an interruption names the notebook and those not run."""
    shown = " ".join(f"{k}={v!r}" for k, v in params.items())
    _log(f"{tag} {path.name} {shown}".rstrip())
    try:
        result = run_notebook(path, nb, params, exports_dir, timeout, progress, lang)
    except KeyboardInterrupt as err:
        stop = _interrupted(err)
        stop.where = f"{path.stem} ({stop.where or 'between cells'})"
        stop.not_run = [p.stem for p in rest]
        raise stop from None
    if lock.retake():
        _log(f"{tag} {path.stem} removed {exports_dir / LOCK_NAME} (or the exports folder); "
             f"the run took the lock again")
    return result


def _index(exports_dir, results, lang=DEFAULT_LANG, caption=None):
    """write_index; when it cannot be written (a full disk), one more FAILED row says so."""
    try:
        scratch = scratch_folder(exports_dir, os.getpid())
        scratch.mkdir(parents=True, exist_ok=True)  # a notebook may have removed the folder
        write_index(exports_dir, results, lang, caption, aside=scratch)
    except OSError as err:
        results.append(Result("index.html", False, 0.0, error=(
            f"could not write {exports_dir / 'index.html'} ({err.strerror or err}); free "
            f"some space or fix the folder's permissions, then run again")))


def interruption_line(stop):
    """The one line printed when a signal stopped the run: what was running, what is left."""
    name = signal.Signals(stop.signum).name
    if not stop.where:
        return f"interrupted ({name}) before any notebook started: nothing was changed"
    exports = ("it had finished and its exports are new" if stop.installed
               else "its exports are unchanged")
    rest = f"; not run: {', '.join(stop.not_run)}" if stop.not_run else ""
    return (f"interrupted ({name}) in {stop.where}: {exports}{rest}; run the command again to "
            "redo it")


class _OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line that names the argument and where to look."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}; see {self.prog} --help\n")


def _positive_seconds(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"{text} must be a positive number of seconds")
    return int(value) if value.is_integer() else value


def _folder(text):
    """A folder argument; an empty one (an unset shell variable) would mean the current folder."""
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty folder name (an unset shell variable?) would "
                                         "mean the current folder; name the folder")
    return Path(text).expanduser()  # `~` typed where no shell expands it (quoted, a config)


def main(argv=None):
    parser = _OneLineParser(
        prog="python -m utils run", description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="*", metavar="NOTEBOOK",
                        help="stem, file name or path (default: all in --notebooks-dir)")
    parser.add_argument("-p", "--parameter", nargs=2, action="append", default=[],
                        metavar=("NAME", "VALUE"),
                        help="value for a `parameters` cell variable, read as the type of its "
                             "default there (e.g. -p NUM_EPOCHS 5, -p RUN_SEARCH true)")
    parser.add_argument("--lang", choices=sorted(EDITIONS), default=DEFAULT_LANG,
                        help="edition: en (notebooks/ -> exports/) or zh (notebooks/zh/ -> "
                             "exports/zh/); default: %(default)s")
    parser.add_argument("--notebooks-dir", type=_folder, default=None,
                        help="folder whose *.ipynb files run (default: the edition's folder, "
                             "notebooks/ or notebooks/zh/ in the repository)")
    parser.add_argument("--exports-dir", type=_folder, default=None,
                        help=f"folder the exports go to (default: ${EXPORTS_ENV} or exports/ "
                             f"in the repository)")
    parser.add_argument("--cell-timeout", type=_positive_seconds, default=DEFAULT_CELL_TIMEOUT,
                        help="seconds one cell may run, > 0 (default: %(default)s)")
    parser.add_argument("--no-progress", action="store_true", help="no per-cell progress bar")
    args = parser.parse_args(argv)
    parameters = {}
    for name, value in args.parameter:
        if name in parameters:
            parser.error(f"-p {name} is given twice; give it once")
        parameters[name] = value  # text: read as the type of the default (split_parameters)
    try:
        results = run(args.notebooks, parameters, args.notebooks_dir, args.exports_dir,
                      args.cell_timeout, not args.no_progress, args.lang)
    except RunnerError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except OSError as err:  # the exports folder failed under the run (removed, full, read-only)
        where = f" {err.filename}" if err.filename else ""
        print(f"error: could not write{where} ({err.strerror or err}); check the exports folder "
              f"(free space, permissions) and run again", file=sys.stderr)
        return 1
    except KeyboardInterrupt as err:
        stop = _interrupted(err)
        print(f"\n{interruption_line(stop)}", file=sys.stderr, flush=True)
        return 128 + stop.signum
    print(f"\n{'notebook':32} {'status':7} {'seconds':>8} {'figures':>8}")
    for r in results:
        print(f"{r.stem:32} {'ok' if r.ok else 'FAILED':7} {r.seconds:8.1f} {r.figures:8d}")
    failed = [r for r in results if not r.ok]
    for r in failed:
        copy = f" (executed copy: {r.failed_copy} in the exports folder)" if r.failed_copy else ""
        print(f"FAILED {r.stem}: {r.error}{copy}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
