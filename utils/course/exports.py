"""The exports folder the runner and save_figure write: figures.json, run.json, index.html,
the run lock and the folder swap. Its promises: docs/runner-and-exports.md. No MXNet or
matplotlib here: utils.plot takes its names and manifest rule from here, so the two agree.
"""
import fcntl
import html
import json
import os
import re
import shutil
import signal
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

from utils import write_atomically
from utils.course.languages import EDITIONS

EXPORTS_ENV = "COURSE_EXPORTS_DIR"  # the runner points it at a staging folder
# Notebook stems and figure names become folder names, file names and links.
NAME = re.compile(r"^[a-z0-9][a-z0-9_\-]*$")
MANIFEST = "figures.json"
LOCK_NAME = ".run.lock"
INTERACTIVE = "interactive"  # exports/interactive/<notebook>/: notebooks run outside the runner
# Folder names in the exports folder that are not a notebook's: no notebook may take them.
RESERVED = {INTERACTIVE: "the figures of notebooks run outside the runner",
            **{e.exports: f"the {e.code} edition's exports"
               for e in EDITIONS.values() if e.exports}}
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
# A folder set aside mid-swap, in a run's own `.run.<pid>` folder (see recover_leftovers).
SET_ASIDE = re.compile(r"^\.(?P<stem>[a-z0-9][a-z0-9_\-]*)\.old\.\d+$")


class RunnerError(Exception):
    """Bad input to the runner; the message says what to do."""


class ExportError(ValueError):
    """An export that cannot be written or read as asked; the message names culprit and fix."""


@contextmanager
def signals_handled(handler, signals=STOP_SIGNALS):
    """`handler(signum, frame)` for `signals` in the block, then the previous handlers again.
    Only the main thread can set handlers: elsewhere the block runs as it is."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, handler) for sig in signals}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@contextmanager
def signals_deferred(signals=STOP_SIGNALS):
    """Hold `signals` until the block is done (a few renames), then act on the first one."""
    received = []
    try:
        with signals_handled(lambda signum, frame: received.append(signum), signals):
            yield
    finally:
        if received:
            signal.raise_signal(received[0])


def remove(path):
    """Remove a file, a symlink (never what it points to) or a folder; quietly if gone."""
    path = Path(path)
    if path.is_symlink() or (path.exists() and not path.is_dir()):
        path.unlink(missing_ok=True)
    else:
        shutil.rmtree(path, ignore_errors=True)


def replace_text(target, text, aside=None):
    """Write `text` (UTF-8) to `target` atomically (the temp file in `aside`, if given)."""
    write_atomically(target, lambda tmp: tmp.write_text(text, encoding="utf-8"), aside)


def manifest_entry_problem(entry):
    """What is wrong with one figures.json entry ({name, caption, png, svg}), or ''."""
    if not isinstance(entry, dict):
        return "not an object"
    name = entry.get("name")
    if not isinstance(name, str) or not NAME.match(name):
        return f"name {name!r} is not lower-case letters, digits, _ and -"
    if not isinstance(entry.get("caption"), str):
        return f"{name}: caption is not text"
    if entry.get("png") != f"{name}.png" or entry.get("svg") != f"{name}.svg":
        return f"{name}: png/svg are not {name}.png/{name}.svg"
    return ""


def read_figures(folder, check_files=False, fix=None):
    """figures.json of an export folder, checked (and its files, with `check_files`)."""
    path = Path(folder) / MANIFEST
    if not path.exists():
        return []
    fix = fix or f"re-run the notebook ({Path(folder).name}) to rebuild it"
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, OSError) as err:
        raise ExportError(f"{path} is damaged ({err}); {fix}") from None
    if not isinstance(entries, list):
        raise ExportError(f"{path} is damaged (not a list of figures); {fix}")
    for i, entry in enumerate(entries, 1):
        problem = manifest_entry_problem(entry)
        if problem:
            raise ExportError(f"{path} is damaged (figure {i}: {problem}); {fix}")
        missing = [entry[k] for k in ("png", "svg")
                   if check_files and not (Path(folder) / entry[k]).is_file()]
        if missing:
            raise ExportError(f"{path} lists {', '.join(missing)}, not in the folder; {fix}")
    return entries


def count_figures(folder):
    """How many figures an export folder lists; 0 when its figures.json is damaged."""
    try:
        return len(read_figures(folder))
    except ExportError:
        return 0


def prepare_exports_dir(exports_dir, source):
    """The exports folder (`source`: "--exports-dir", say), created if missing, or RunnerError."""
    exports_dir = Path(exports_dir)
    if exports_dir.exists() and not exports_dir.is_dir():
        raise RunnerError(f"{source} {exports_dir} is a file, not a folder; "
                          "name a folder (it is created if missing)")
    try:
        exports_dir.mkdir(parents=True, exist_ok=True)
        probe = tempfile.NamedTemporaryFile(dir=exports_dir, prefix=".probe.", suffix=".tmp")
        probe.close()
    except OSError as err:
        raise RunnerError(f"cannot write to {source} {exports_dir} ({err.strerror or err}); "
                          "name a folder you can write to") from None
    return exports_dir.resolve()


class _Lock:
    """`.run.lock`, held with flock, naming this run's pid; `previous`: the pid it named before."""

    def __init__(self, exports_dir):
        self.exports_dir = Path(exports_dir)
        self.path, self.fd, self.previous = self.exports_dir / LOCK_NAME, None, ""

    def acquire(self):
        path = self.path
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
        except OSError as err:
            what = ("a symbolic link" if path.is_symlink() else "a folder" if path.is_dir()
                    else "")
            if not what:
                raise RunnerError(f"cannot create the run lock {path} ({err.strerror or err}); "
                                  f"free some space or make the folder writable") from None
            raise RunnerError(f"{path} is {what}, not the lock file runs write their pid to; "
                              f"remove it and run again") from None
        if os.fstat(fd).st_nlink > 1:  # a hard link: writing the pid would change another file
            os.close(fd)
            raise RunnerError(f"{path} is a hard link to another file, not the lock file runs "
                              f"write their pid to; remove it and run again")
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            other = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise RunnerError(
                f"another run (pid {other}) is writing to {self.exports_dir}; wait for it to "
                f"finish, stop it (kill -INT {other}), or pass another --exports-dir") from None
        try:
            previous = os.pread(fd, 32, 0).decode(errors="replace").strip()
            os.ftruncate(fd, 0)
            os.pwrite(fd, str(os.getpid()).encode(), 0)
        except OSError as err:
            os.close(fd)
            raise RunnerError(f"cannot write the run lock {path} ({err.strerror or err}); free "
                              f"some space and run again") from None
        self.release()
        self.fd = fd
        if previous.isdigit() and int(previous) != os.getpid():
            self.previous = previous

    def retake(self):
        """Take the lock again (True) if a notebook removed it: a second run could start."""
        try:
            held = os.fstat(self.fd)
            now = os.lstat(self.path)
            if (held.st_dev, held.st_ino) == (now.st_dev, now.st_ino):
                return False
        except OSError:
            pass
        self.exports_dir.mkdir(parents=True, exist_ok=True)
        self.acquire()
        return True

    def release(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def scratch_folder(exports_dir, pid):
    """`.run.<pid>`: the only place run <pid> writes aside (staging, set-aside, temp files)."""
    return Path(exports_dir) / f".run.{pid}"


@contextmanager
def exports_lock(exports_dir):
    """One run at a time per exports folder; yields the _Lock, removes its scratch at the end."""
    lock = _Lock(exports_dir)  # flock: POSIX, which MXNet needs anyway (Windows: WSL2)
    lock.acquire()
    try:
        yield lock
    finally:
        remove(scratch_folder(exports_dir, os.getpid()))
        lock.release()


def swap_folder(new, target, aside=None):
    """Swap folder `new` in for `target` by two renames, signals held: never old and new mixed."""
    old = Path(aside or target.parent) / f".{target.name}.old.{os.getpid()}"
    remove(old)
    try:
        with signals_deferred():
            set_aside = os.path.lexists(target)  # a symlink is set aside too, not followed
            if set_aside:
                os.replace(target, old)
            try:
                os.replace(new, target)
            except BaseException:
                if set_aside:
                    os.replace(old, target)
                raise
    finally:  # also when a signal held back above is acted on now
        remove(old)


def recover_leftovers(exports_dir, pid):
    """Undo what killed run `pid` left in `.run.<pid>` (under the lock that named it); returns
    what it did, a line each."""
    scratch, actions = scratch_folder(exports_dir, pid), []
    if scratch.is_symlink() or not scratch.is_dir():
        return actions
    for entry in sorted(scratch.iterdir()):
        set_aside = SET_ASIDE.match(entry.name)
        if set_aside and (entry.is_dir() or entry.is_symlink()):
            target = scratch.parent / set_aside.group("stem")
            if os.path.lexists(target):
                remove(entry)
                actions.append(f"removed {entry.name}, left by an interrupted run")
            else:
                os.replace(entry, target)
                actions.append(f"put back {target.name}/ from {entry.name}, left by an "
                               f"interrupted run")
    shutil.rmtree(scratch)
    actions.append(f"removed {scratch.name}, left by an interrupted run")
    return actions


def _index_row(exports_dir, stem, result, caption):
    """One notebook of the gallery: its table row and its figures (`caption(stem, entry)`)."""
    folder, notes, info = exports_dir / stem, [], {}
    try:
        saved = json.loads((folder / "run.json").read_text(encoding="utf-8"))
        info = {**saved, "seconds": float(saved["seconds"])}
    except (ValueError, OSError, KeyError, TypeError) as err:
        if result is None:  # an earlier run's; this run's run.json was just written
            notes.append(f"{folder / 'run.json'} is damaged ({type(err).__name__}: {err}); "
                         f"re-run {stem} to rebuild it")
    if result is None:
        status, seconds = "ok (earlier run)", (f"{info['seconds']:.1f}" if info else "")
    else:
        status = "ok" if result.ok else f"FAILED: {result.error}"
        seconds = f"{result.seconds:.1f}"
        if not result.ok and folder.is_dir():
            status += " (figures below are from the last successful run)"
    try:
        figures = read_figures(folder) if folder.is_dir() else []
    except ExportError as err:
        figures = []
        notes.append(str(err))
    parameters = info.get("parameters") or {}  # the `-p` values: 'NUM_EPOCHS=5, SEED=3'
    changed = (", ".join(f"{k}={v!r}" for k, v in parameters.items())
               if isinstance(parameters, dict) else "unknown (run.json damaged)")
    page = quote(f"{stem}/{stem}.html") if (folder / f"{stem}.html").exists() else ""
    return {"stem": stem, "page": page, "status": "; ".join([status] + notes),
            "seconds": seconds, "changed": changed,
            "figures": [{"name": fig["name"], "caption": caption(stem, fig),
                         "png": quote(f"{stem}/{fig['png']}"),
                         "svg": quote(f"{stem}/{fig['svg']}")} for fig in figures]}


def write_index(exports_dir, results, lang="en", caption=None, aside=None):
    """exports/index.html from this run's run.Result records and the earlier runs' folders."""
    from jinja2 import Environment, FileSystemLoader
    from markupsafe import Markup
    edition, caption = EDITIONS[lang], caption or (lambda stem, entry: entry["caption"])
    this_run = {r.stem: r for r in results}
    earlier = {p.parent.name for p in exports_dir.glob("*/run.json")
               if NAME.match(p.parent.name) and p.parent.is_dir()}
    rows = [_index_row(exports_dir, stem, this_run.get(stem), caption)
            for stem in sorted(set(this_run) | earlier)]
    href, text = edition.other
    other = ({"href": href, "text": text, "lang": "en" if lang != "en" else "zh-CN"}
             if (exports_dir / href).resolve().is_file() else None)
    env = Environment(loader=FileSystemLoader(Path(__file__).parent), autoescape=True,
                      keep_trailing_newline=True,  # html.escape's entities, as nbconvert's
                      finalize=lambda v: v if isinstance(v, Markup) else Markup(html.escape(
                          str(v))))
    page = env.get_template("index.html.j2").render(
        edition=edition, rows=rows, other=other, interactive=INTERACTIVE)
    replace_text(exports_dir / "index.html", page, aside)
