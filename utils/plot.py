"""Plot helpers: thin wrappers over d2l and matplotlib, plus exports with stable names.

Every figure a notebook shows is also written by `save_figure` as PNG and SVG under
`exports/<notebook>/`, with a `figures.json` manifest (name and caption) that the runner
turns into the gallery page. The runner points `COURSE_EXPORTS_DIR` at a staging folder so a
re-run replaces a notebook's exports as a whole.
"""
import json
import os
import re
from pathlib import Path

from d2l import mxnet as d2l
from matplotlib import pyplot as plt

REPO_ROOT = Path(__file__).resolve().parent.parent
EXPORTS_ENV = "COURSE_EXPORTS_DIR"
MANIFEST = "figures.json"
_NAME = re.compile(r"^[a-z0-9][a-z0-9_\-]*$")
_current_notebook = None


def set_notebook(name):
    """Name the folder under exports/ that this notebook's figures go to."""
    global _current_notebook
    if not _NAME.match(name):
        raise ValueError(f"notebook name {name!r}: use lower-case letters, digits, _ and -")
    _current_notebook = name


def exports_root():
    """`$COURSE_EXPORTS_DIR` when the runner sets it, else `exports/` in the repo."""
    return Path(os.environ.get(EXPORTS_ENV) or REPO_ROOT / "exports")


def use_svg_display():
    """Crisp inline figures in Jupyter (d2l's setting)."""
    d2l.use_svg_display()


def set_figsize(figsize=(3.5, 2.5)):
    """Default size for figures created afterwards (d2l's setting)."""
    d2l.set_figsize(figsize)


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
    """
    notebook = notebook or _current_notebook
    if notebook is None:
        raise RuntimeError("call utils.plot.set_notebook('<notebook name>') before save_figure")
    if not _NAME.match(name):
        raise ValueError(f"figure name {name!r}: use lower-case letters, digits, _ and -")
    folder = exports_root() / notebook
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for ext, extra in (("png", {"dpi": 150}), ("svg", {})):
        path = folder / f"{name}.{ext}"
        tmp = folder / f".{name}.tmp.{ext}"
        try:
            fig.savefig(tmp, format=ext, bbox_inches="tight", **extra)
            os.replace(tmp, path)
        except BaseException:  # never leave a half-written figure behind
            tmp.unlink(missing_ok=True)
            raise
        paths[ext] = path
    _record(folder, {"name": name, "caption": caption, "png": f"{name}.png",
                     "svg": f"{name}.svg"})
    return paths


def read_manifest(folder):
    """The figures saved in one notebook's export folder, in the order they were first saved."""
    path = Path(folder) / MANIFEST
    return json.loads(path.read_text()) if path.exists() else []


def _record(folder, entry):
    entries = read_manifest(folder)
    names = [e["name"] for e in entries]
    if entry["name"] in names:
        entries[names.index(entry["name"])] = entry  # a re-saved figure keeps its place
    else:
        entries.append(entry)
    tmp = folder / f".{MANIFEST}.tmp"
    tmp.write_text(json.dumps(entries, indent=1))
    os.replace(tmp, folder / MANIFEST)
