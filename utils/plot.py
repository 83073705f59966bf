"""Plot helpers: thin wrappers over d2l and matplotlib, plus exports with stable names.

Every figure a notebook shows is also written by `save_figure` as PNG and SVG under
`exports/<notebook>/` (`exports/interactive/<notebook>/` outside the runner), with a
`figures.json` manifest (name and caption) that the runner turns into the gallery page. The
runner points `COURSE_EXPORTS_DIR` at a staging folder so a re-run replaces a notebook's
exports as a whole.
"""
import json
import os
import shutil
import signal
import tempfile
from pathlib import Path

from d2l import mxnet as d2l
from matplotlib import pyplot as plt

from utils import REPO_ROOT
# shared with the runner
from utils.course.exports import EXPORTS_ENV, INTERACTIVE, MANIFEST, NAME as _NAME
from utils.course.exports import ExportError, read_figures, replace_text, signals_deferred

_current_notebook = None


def _check_name(kind, name):
    """Notebook and figure names become file names and links: lower-case slugs only."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise ExportError(f"{kind} name {name!r}: use lower-case letters, digits, _ and - "
                          "(e.g. 'loss-curve')")
    return name


def set_notebook(name):
    """Name the folder under exports/ that this notebook's figures go to."""
    global _current_notebook
    _current_notebook = _check_name("notebook", name)


def exports_root():
    """`$COURSE_EXPORTS_DIR` when the runner sets it, else `exports/interactive/` in the repo:
    a notebook run in JupyterLab, nbconvert or papermill never writes into the runner's
    `exports/<notebook>/`, beside another run's HTML and run.json."""
    return Path(os.environ.get(EXPORTS_ENV) or REPO_ROOT / "exports" / INTERACTIVE).expanduser()


def use_svg_display():
    """Crisp inline figures in Jupyter (d2l's setting)."""
    d2l.use_svg_display()


def new_figure(nrows=1, ncols=1, figsize=(3.5, 2.5)):
    """A figure and its axes; a bare `plt.subplots` so callers keep the figure to export."""
    return plt.subplots(nrows, ncols, figsize=figsize, constrained_layout=True)


def plot_curves(X, Y, xlabel, ylabel, legend=(), yscale="log", ax=None, figsize=(3.5, 2.5),
                **kwargs):
    """Curves drawn by `d2l.plot`, on a log y axis by default; returns the figure."""
    if ax is None:
        fig, ax = new_figure(figsize=figsize)
    else:
        fig = ax.figure
    d2l.plot(X, Y, xlabel=xlabel, ylabel=ylabel, legend=list(legend), yscale=yscale, axes=ax,
             **kwargs)
    return fig


def save_figure(fig, name, caption="", notebook=None):
    """Write `fig` as <name>.png and <name>.svg under exports/<notebook>/; returns both paths.

    Names must be stable slugs (the gallery and the docs link to them), so they are checked.
    Both files are rendered before either replaces an old one, and replaced together, so a
    failure or an interrupt leaves the old pair (or the new pair), never one of each; a damaged
    figures.json stops the call before anything is written. Temp files have unique names, so
    two kernels saving the same figure at once both succeed.
    """
    notebook = notebook if notebook is not None else _current_notebook
    if notebook is None:
        raise RuntimeError("call utils.plot.set_notebook('<notebook name>') before save_figure")
    _check_name("notebook", notebook)
    _check_name("figure", name)
    if not isinstance(caption, str):
        raise ExportError(f"caption of figure {name!r} is {type(caption).__name__}; pass text")
    root = exports_root()
    if root.exists() and not root.is_dir():
        raise ExportError(f"exports folder {root} is a file; point ${EXPORTS_ENV} at a folder")
    folder = root / notebook
    if folder.is_symlink():  # figures stay inside the exports folder
        raise ExportError(f"{folder} is a symbolic link; remove it (figures are written only "
                          f"inside {root})")
    folder.mkdir(parents=True, exist_ok=True)
    entries = read_manifest(folder)  # damaged: stop here, before any figure is written
    pairs = []
    try:
        for ext, extra in (("png", {"dpi": 150}), ("svg", {})):
            fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=f".tmp.{ext}", dir=folder)
            os.close(fd)  # a new file (O_EXCL): never a planted symlink or another's temp
            pairs.append((Path(tmp), folder / f"{name}.{ext}"))
            os.chmod(tmp, 0o644)
            fig.savefig(tmp, format=ext, bbox_inches="tight", **extra)
        _replace_together(pairs)
    finally:  # never leave a half-written figure behind
        for tmp, _ in pairs:
            tmp.unlink(missing_ok=True)
    _record(folder, entries, {"name": name, "caption": caption, "png": f"{name}.png",
                              "svg": f"{name}.svg"})
    return {ext: final for ext, (_, final) in zip(("png", "svg"), pairs)}


def _replace_together(pairs):
    """Rename each (tmp, final) pair into place; if one rename fails, the others are undone.

    SIGINT (Jupyter's interrupt) waits until all renames are done.
    """
    done = []
    with signals_deferred((signal.SIGINT,)):
        try:
            for tmp, final in pairs:
                backup = tmp.with_name(f"{tmp.name}.prev")  # unique, as tmp's name is
                if final.exists():  # a second name for the old file; it stays in place
                    _link_or_copy(final, backup)
                else:
                    backup = None
                done.append((final, backup))
                os.replace(tmp, final)
        except BaseException:
            for final, backup in reversed(done):
                if backup is not None:
                    os.replace(backup, final)  # a no-op when final was not replaced yet
                    backup.unlink(missing_ok=True)  # (same file: rename leaves both names)
                else:
                    final.unlink(missing_ok=True)
            raise
        for _, backup in done:
            if backup is not None:
                backup.unlink(missing_ok=True)


def _link_or_copy(source, target):
    try:
        os.link(source, target)
    except OSError:  # no hard links on this filesystem
        shutil.copy2(source, target)


def read_manifest(folder):
    """The figures saved in one notebook's export folder, in the order they were first saved.

    Raises ExportError naming the file and what to do when it is not what save_figure writes.
    """
    return read_figures(folder, fix=f"delete it and run the notebook ({Path(folder).name}) "
                                    "again from the top, which writes it anew")


def _record(folder, entries, entry):
    names = [e["name"] for e in entries]
    if entry["name"] in names:
        entries[names.index(entry["name"])] = entry  # a re-saved figure keeps its place
    else:
        entries.append(entry)
    replace_text(folder / MANIFEST, json.dumps(entries, indent=1))


def controls_box(controls, out, redraw, static_display=None, what="controls"):
    """The explorers' layout: `controls` (a dict of widgets) in two rows over the Output widget
    `out`; every change calls `redraw()`, which is called once now.

    `static_display` is the DisplayHandle of a static copy of the default view, shown for
    headless runs (they render no widgets); once a live frontend shows `out`, that copy is
    blanked so the reader sees one figure. The box keeps `controls` and `output` for tests
    and for readers who set values in code."""
    import ipywidgets as widgets
    from IPython.display import Markdown

    for control in controls.values():
        control.observe(redraw, names="value")
    redraw()
    box = widgets.VBox([widgets.HBox(list(controls.values())[:2]),
                        widgets.HBox(list(controls.values())[2:]), out])
    if static_display is not None:
        def blank_static_copy(change):
            if change["new"]:
                static_display.update(Markdown(f"*Interactive view below; move the {what}.*"))
        out._view_count = 0  # a live frontend counts its views here; headless runs do not
        out.observe(blank_static_copy, names="_view_count")
    box.controls = controls
    box.output = out
    return box
