"""Fault injection for figure exports (utils/plot.py): failures and interrupts while writing,
names that would escape exports/, damaged or hostile figures.json, an exports root that is a
file. Each must leave the old PNG+SVG pair (or the new pair), never one of each."""
import json

import pytest
from matplotlib import pyplot as plt

from test_runner import break_renames
from utils import plot


@pytest.fixture
def exports(tmp_path, monkeypatch):
    root = tmp_path / "exports"
    monkeypatch.setenv(plot.EXPORTS_ENV, str(root))
    monkeypatch.setattr(plot, "_current_notebook", None)
    plot.set_notebook("demo_nb")
    yield root
    plt.close("all")


def pair(folder, name="curve"):
    return tuple((folder / f"{name}.{ext}").read_bytes() for ext in ("png", "svg"))


def listing(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def saved_twice(fig, exports):
    """Save once (the old pair), then change the figure so the next save differs."""
    plot.save_figure(fig, "curve", caption="old")
    old = pair(exports / "demo_nb")
    fig.axes[0].plot([0, 1], [1, 0])
    return old


def failing_savefig(fig, failing_format):
    real = fig.savefig

    def savefig(path, format, **kwargs):
        if format == failing_format:
            open(path, "wb").write(b"half a picture")
            raise OSError(28, "No space left on device")
        real(path, format=format, **kwargs)
    return savefig


@pytest.mark.parametrize("failing_format", ["png", "svg"])
def test_a_failed_render_keeps_the_old_pair_and_caption(exports, failing_format):
    fig, _ = plot.new_figure()
    old = saved_twice(fig, exports)
    fig.savefig = failing_savefig(fig, failing_format)
    with pytest.raises(OSError, match="No space"):
        plot.save_figure(fig, "curve", caption="new")
    folder = exports / "demo_nb"
    assert pair(folder) == old
    assert [e["caption"] for e in plot.read_manifest(folder)] == ["old"]
    assert listing(folder) == ["curve.png", "curve.svg", "figures.json"]


def test_a_failed_rename_puts_the_first_file_back(exports, monkeypatch):
    fig, _ = plot.new_figure()
    old = saved_twice(fig, exports)
    break_renames(monkeypatch, fail=lambda src, dst: str(src).endswith(".tmp.svg"),
                  error=PermissionError(13, "Permission denied"))
    with pytest.raises(PermissionError):
        plot.save_figure(fig, "curve", caption="new")
    folder = exports / "demo_nb"
    assert pair(folder) == old
    assert listing(folder) == ["curve.png", "curve.svg", "figures.json"]


def test_an_interrupt_between_the_renames_waits_until_both_are_new(exports, monkeypatch):
    fig, _ = plot.new_figure()
    old = saved_twice(fig, exports)  # then Jupyter's "interrupt kernel" after the PNG's rename:
    break_renames(monkeypatch, interrupt_after=lambda src, dst: str(dst).endswith("curve.png"))
    with pytest.raises(KeyboardInterrupt):
        plot.save_figure(fig, "curve", caption="new")
    new = pair(exports / "demo_nb")
    assert new[0] != old[0] and new[1] != old[1]  # both replaced
    assert not [p for p in listing(exports) if "/." in p]  # no temp or backup file


@pytest.mark.parametrize("notebook", ["../escape", "a/b", "/abs", "..", "", "Demo", "x y", 7])
def test_notebook_names_that_would_escape_or_break_links_are_refused(exports, notebook):
    fig, _ = plot.new_figure()
    with pytest.raises(plot.ExportError, match=r"notebook name .*: use lower-case letters"):
        plot.save_figure(fig, "curve", notebook=notebook)
    with pytest.raises(plot.ExportError, match="notebook name"):
        plot.set_notebook(notebook)
    assert not exports.parent.joinpath("escape").exists()
    assert listing(exports.parent) == []


@pytest.mark.parametrize("name", ["../curve", "curve.png", "", None, 3, "Curve", ".hidden"])
def test_figure_names_are_checked_before_anything_is_written(exports, name):
    fig, _ = plot.new_figure()
    with pytest.raises(plot.ExportError, match=r"figure name .*: use lower-case letters"):
        plot.save_figure(fig, name)
    assert not exports.exists()


def test_a_caption_must_be_text(exports):
    fig, _ = plot.new_figure()
    with pytest.raises(plot.ExportError, match="caption of figure 'curve' is int; pass text"):
        plot.save_figure(fig, "curve", caption=3)
    assert not exports.exists()


@pytest.mark.parametrize("manifest, words", [
    ("[{", "is damaged (Expecting"),
    ("", "is damaged (Expecting value"),
    ('{"name": "curve"}', "is damaged (not a list of figures)"),
    ('["curve"]', "is damaged (figure 1: not an object)"),
    ('[{"name": "../x", "caption": "", "png": "x.png", "svg": "x.svg"}]',
     "is damaged (figure 1: name '../x' is not lower-case"),
    ('[{"name": "x", "png": "x.png", "svg": "x.svg"}]', "x: caption is not text"),
    ('[{"name": "x", "caption": "", "png": "../../x.png", "svg": "x.svg"}]',
     "x: png/svg are not x.png/x.svg"),
])
def test_a_damaged_manifest_is_named_before_anything_is_written(exports, manifest, words):
    folder = exports / "demo_nb"
    folder.mkdir(parents=True)
    (folder / plot.MANIFEST).write_text(manifest)
    fig, _ = plot.new_figure()
    with pytest.raises(plot.ExportError) as error:
        plot.save_figure(fig, "curve", caption="c")
    message = str(error.value)
    assert message.startswith(f"{folder / plot.MANIFEST} ") and words in message
    assert message.endswith("delete it and run the notebook (demo_nb) again from the top, "
                            "which writes it anew")
    assert "\n" not in message
    assert listing(folder) == [plot.MANIFEST]  # no figure written
    (folder / plot.MANIFEST).unlink()  # what the message says to do
    plot.save_figure(fig, "curve", caption="c")
    assert [e["name"] for e in plot.read_manifest(folder)] == ["curve"]


def test_an_exports_root_that_is_a_file_is_named(tmp_path, monkeypatch):
    a_file = tmp_path / "a_file"
    a_file.write_text("not a folder")
    monkeypatch.setenv(plot.EXPORTS_ENV, str(a_file))
    fig, _ = plot.new_figure()
    with pytest.raises(plot.ExportError, match=f"exports folder {a_file} is a file; point "
                                               f"\\${plot.EXPORTS_ENV} at a folder"):
        plot.save_figure(fig, "curve", notebook="nb")
    assert a_file.read_text() == "not a folder"


def test_the_manifest_stays_consistent_with_the_files(exports):
    fig, _ = plot.new_figure()
    for name in ("a", "b"):
        plot.save_figure(fig, name, caption=name)
    folder = exports / "demo_nb"
    entries = json.loads((folder / plot.MANIFEST).read_text())
    for entry in entries:
        assert (folder / entry["png"]).is_file() and (folder / entry["svg"]).is_file()
    assert sorted(p.name for p in folder.iterdir()) == [
        "a.png", "a.svg", "b.png", "b.svg", plot.MANIFEST]


def test_an_export_folder_or_temp_file_that_is_a_symlink_is_not_written_through(
        exports, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    exports.mkdir(parents=True, exist_ok=True)
    (exports / "demo_nb").symlink_to(outside, target_is_directory=True)
    fig, ax = plot.new_figure()
    with pytest.raises(plot.ExportError) as err:
        plot.save_figure(fig, "curve")
    assert "demo_nb is a symbolic link; remove it" in str(err.value)
    assert list(outside.iterdir()) == []
    (exports / "demo_nb").unlink()
    (exports / "demo_nb").mkdir()
    (exports / "demo_nb" / ".curve.tmp.png").symlink_to(outside / "victim.png")
    plot.save_figure(fig, "curve")
    assert list(outside.iterdir()) == [] and (exports / "demo_nb" / "curve.png").is_file()


SAVE_AT_ONCE = """
import pathlib, sys, time
from utils import plot
here, ready = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[1]) / f"ready.{sys.argv[2]}"
fig, ax = plot.new_figure()
ax.plot([1, 2, 3])
ready.touch()
while len(list(here.glob("ready.*"))) < 2:  # both kernels start saving together
    time.sleep(0.01)
for _ in range(6):
    plot.save_figure(fig, "curve", caption="same", notebook="nb")
"""


def test_two_kernels_saving_the_same_figure_at_once_both_succeed(tmp_path):
    """Two notebooks open in JupyterLab, one figure name: unique temp names, no lost file."""
    from conftest import REPO_ROOT
    import os
    import subprocess
    import sys
    env = {**os.environ, plot.EXPORTS_ENV: str(tmp_path / "exports"),
           "PYTHONPATH": str(REPO_ROOT)}
    kernels = [subprocess.Popen([sys.executable, "-c", SAVE_AT_ONCE, str(tmp_path), str(i)],
                                env=env, stderr=subprocess.PIPE, text=True) for i in (1, 2)]
    errors = [k.communicate(timeout=120)[1] for k in kernels]
    assert [k.returncode for k in kernels] == [0, 0], errors
    folder = tmp_path / "exports" / "nb"
    assert sorted(p.name for p in folder.iterdir()) == ["curve.png", "curve.svg", plot.MANIFEST]
    assert [e["name"] for e in plot.read_manifest(folder)] == ["curve"]
