"""Figures are exported as PNG and SVG with stable names and a manifest for the gallery."""
import json

import pytest

from utils import plot


@pytest.fixture
def exports(tmp_path, monkeypatch):
    monkeypatch.setenv(plot.EXPORTS_ENV, str(tmp_path))
    monkeypatch.setattr(plot, "_current_notebook", None)
    return tmp_path


def test_save_figure_writes_png_svg_and_manifest(exports):
    plot.set_notebook("demo_nb")
    fig = plot.plot_curves([1, 2, 3], [[1, 10, 100]], "epoch", "loss", legend=["train"])
    assert fig.axes[0].get_yscale() == "log"
    assert fig.axes[0].get_xlabel() == "epoch"
    paths = plot.save_figure(fig, "loss-curve", caption="Loss per epoch")
    assert paths["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert b"<svg" in paths["svg"].read_bytes()[:500]
    assert plot.read_manifest(exports / "demo_nb") == [
        {"name": "loss-curve", "caption": "Loss per epoch", "png": "loss-curve.png",
         "svg": "loss-curve.svg"}]
    assert not list((exports / "demo_nb").glob(".*tmp*"))


def test_resaving_keeps_order_and_updates_caption(exports):
    plot.set_notebook("demo_nb")
    fig, _ = plot.new_figure()
    for name in ("a", "b", "c"):
        plot.save_figure(fig, name, caption=name)
    plot.save_figure(fig, "b", caption="new")
    entries = json.loads((exports / "demo_nb" / plot.MANIFEST).read_text())
    assert [(e["name"], e["caption"]) for e in entries] == [("a", "a"), ("b", "new"), ("c", "c")]


def test_names_are_checked_and_a_notebook_is_required(exports):
    fig, _ = plot.new_figure()
    with pytest.raises(RuntimeError, match="set_notebook"):
        plot.save_figure(fig, "x")
    with pytest.raises(ValueError, match="figure name"):
        plot.save_figure(fig, "Bad Name", notebook="nb")
    with pytest.raises(ValueError, match="notebook name"):
        plot.set_notebook("../escape")


def test_outside_the_runner_figures_go_to_exports_interactive(monkeypatch):
    """Not into exports/<notebook>/, beside another run's HTML and run.json."""
    monkeypatch.delenv(plot.EXPORTS_ENV, raising=False)
    assert plot.exports_root() == plot.REPO_ROOT / "exports" / "interactive"


def test_figure_size_and_svg_display_use_d2l_settings():
    plot.use_svg_display()
    fig, axes = plot.new_figure(1, 2, figsize=(6, 2))
    assert len(axes) == 2 and tuple(fig.get_size_inches()) == (6.0, 2.0)


def test_failed_save_leaves_no_partial_file_and_keeps_the_old_one(exports):
    plot.set_notebook("demo_nb")
    fig, _ = plot.new_figure()
    good = plot.save_figure(fig, "curve")["png"].read_bytes()

    def broken_savefig(path, **_):
        open(path, "wb").write(b"half a pic")
        raise OSError("disk full")

    fig.savefig = broken_savefig
    with pytest.raises(OSError, match="disk full"):
        plot.save_figure(fig, "curve")
    folder = exports / "demo_nb"
    assert (folder / "curve.png").read_bytes() == good
    assert not list(folder.glob(".*tmp*"))
