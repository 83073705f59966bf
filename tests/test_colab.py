"""Colab and Kaggle Notebooks, the cheap parts: runtime detection, Colab's recorded versions,
the first cell, the one address, and Kaggle's data and submission folders (temporary folders
stand in for /kaggle/input and /kaggle/working). The whole simulated Colab run is CI's step
`python tests/colab_sim.py` (.ci/run), not a test: it builds a Python and installs MXNet.
"""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from utils import check
from utils.setup import colab

import colab_sim  # tests/colab_sim.py, beside this file

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted(ROOT.glob("notebooks/*.ipynb")) + sorted(ROOT.glob("notebooks/zh/*.ipynb"))
BRIEF = {"numpy": "2.1.3", "pandas": "2.2.3", "matplotlib": "3.10.0", "scikit-learn": "1.6.1",
         "scipy": "1.16.3", "ipykernel": "6.17.1"}  # what issue #22 quotes from Colab's list


@pytest.fixture
def off_colab(monkeypatch):
    monkeypatch.delenv("COLAB_RELEASE_TAG", raising=False)
    for name in [m for m in sys.modules if m == "google" or m.startswith("google.")]:
        monkeypatch.delitem(sys.modules, name)  # a stand-in imported by another test too


def first_cell(path):
    nb = nbformat.read(str(path), as_version=4)
    return next(c for c in nb.cells if c.cell_type == "code").source


def code_only(source):
    return [line.split("  #")[0].rstrip() for line in source.splitlines()
            if not line.lstrip().startswith("#")]


# ----- where we are ------------------------------------------------------------------------

def test_colab_is_detected_by_its_module_or_its_variable(off_colab, monkeypatch, tmp_path):
    assert not check.on_colab()  # this machine is no Colab: no module, no variable
    monkeypatch.setenv("COLAB_RELEASE_TAG", "release-colab_20260801")
    assert check.on_colab()
    monkeypatch.delenv("COLAB_RELEASE_TAG")
    stub = tmp_path / "google" / "colab"
    stub.mkdir(parents=True)
    (stub / "__init__.py").write_text(colab_sim.STUB)
    monkeypatch.syspath_prepend(str(tmp_path))  # the simulation's stand-in, importable
    import importlib
    importlib.invalidate_caches()
    try:
        assert check.on_colab()
    finally:  # the stand-in must not make later tests believe they run on Colab
        for name in [m for m in sys.modules if m == "google" or m.startswith("google.")]:
            del sys.modules[name]


def test_set_up_does_nothing_off_colab(off_colab, monkeypatch):
    monkeypatch.setattr(colab, "install", lambda *a: pytest.fail("installed off Colab"))
    assert colab.set_up() is None


def test_set_up_on_colab_installs_only_mxnet_and_d2l_and_links(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("COLAB_RELEASE_TAG", "simulated")
    asked = []
    monkeypatch.setattr(colab, "install", lambda wanted: asked.append(list(wanted)))
    monkeypatch.setattr(colab, "missing_installs", lambda: ["mxnet==1.9.1", "d2l==1.0.3"])
    linked = []
    monkeypatch.setattr(colab, "arm_numpy_names", lambda: linked.append(True))
    assert colab.set_up() == ["mxnet==1.9.1", "d2l==1.0.3"]
    assert asked == [["mxnet==1.9.1", "d2l==1.0.3"]] and linked == [True]
    assert "without dependencies" in capsys.readouterr().out


def test_arm_numpy_names_writes_the_venv_link_into_site_packages(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "meta_path", list(sys.meta_path))
    monkeypatch.setattr(sys, "path", list(sys.path))
    pth = colab.arm_numpy_names(str(tmp_path))
    assert Path(pth).read_text().splitlines() == [str(colab.ROOT)]  # utils in every later kernel
    hook = (tmp_path / "mxnet_numpy_compat.py").is_file(), (tmp_path / "d2l_mxnet_notebooks.pth").is_file()
    assert hook == ((True, True) if sys.version_info >= (3, 12) else (False, False))


def test_missing_installs_names_only_what_is_not_at_its_pin():
    pins = {n: check.PINNED[n][0] for n in colab.INSTALLS}
    assert colab.missing_installs(pins) == []
    assert colab.missing_installs({"mxnet": pins["mxnet"]}) == ["d2l==%s" % pins["d2l"]]
    assert colab.missing_installs({}) == ["%s==%s" % (n, pins[n]) for n in colab.INSTALLS]


# ----- Colab's versions, recorded once -----------------------------------------------------

def test_the_file_records_colabs_published_runtime():
    python, taken, pins = check.colab_runtime()
    assert python == "3.13" and taken.startswith("20")
    assert {n: pins[n] for n in BRIEF} == BRIEF
    assert "mxnet" not in pins and "d2l" not in pins  # Colab has neither: the first cell adds them


def test_on_colab_the_check_accepts_colabs_versions_and_names_moved_ones(tmp_path):
    pins = check.pins_for((3, 13), colab=True)
    _, _, published = check.colab_runtime()
    have = {n: pin for n, (pin, _) in pins.items()}
    assert all(have[n] == published[n] for n in check.COLAB_OWN)
    assert check.version_problems(have, pins, colab=True) == []
    moved = dict(have, numpy="2.2.0")
    assert check.version_problems(moved, pins, colab=True) == []  # no downgrade asked
    notices = check.colab_notices(moved, pins)
    assert len(notices) == 1 and notices[0].startswith("numpy 2.2.0 is Colab's now")
    gone = dict(have, mxnet=None)
    problems = check.version_problems(gone, pins, colab=True)
    assert len(problems) == 1 and "first cell" in problems[0]
    # off Colab the same versions are problems naming the lock's pins
    assert any("pip install numpy==2.2.6" in p for p in
               check.version_problems(have, check.pins_for((3, 13)), colab=False))


def test_a_file_without_its_date_is_refused(tmp_path):
    bad = tmp_path / "colab.txt"
    bad.write_text("# python: 3.13\nnumpy==2.1.3\n")
    with pytest.raises(ValueError, match="taken"):
        check.colab_runtime(str(bad))


def test_the_simulation_names_changed_removed_and_unexpected_packages():
    before = {"numpy": "2.1.3", "pandas": "2.2.3", "tqdm": "4.67.1"}
    assert colab_sim.changes(before, dict(before, mxnet="1.9.1", d2l="1.0.3")) == []
    after = {"numpy": "1.23.5", "tqdm": "4.67.1", "mxnet": "1.9.1", "graphviz": "0.8.4"}
    assert colab_sim.changes(before, after) == [
        "numpy 2.1.3 -> 1.23.5", "pandas 2.2.3 -> removed", "graphviz 0.8.4 added"]


# ----- the first cell and the one address ---------------------------------------------------

def test_every_notebook_has_the_same_first_cell_with_the_address():
    cells = [first_cell(p) for p in NOTEBOOKS]
    assert len(cells) == 6
    assert all(code_only(c) == code_only(cells[0]) for c in cells)
    assert sum(colab.REPOSITORY in c for c in cells) == 6
    assert "check_environment()" in cells[0] and "set_up()" in cells[0]


@pytest.mark.parametrize("doc", ["docs/colab.md", "docs/zh/colab.md"])
def test_the_colab_pages_link_every_notebook_from_the_address(doc):
    text = (ROOT / doc).read_text(encoding="utf-8")
    slug = colab.REPOSITORY.split("github.com/", 1)[1]
    for path in NOTEBOOKS:
        rel = path.relative_to(ROOT).as_posix()
        assert "https://colab.research.google.com/github/%s/blob/main/%s" % (slug, rel) in text


def test_set_address_rewrites_every_copy(tmp_path):
    for rel in ["notebooks", "notebooks/zh", "docs/zh", "utils/setup"]:
        (tmp_path / rel).mkdir(parents=True)
    for path in NOTEBOOKS + [ROOT / "docs/colab.md", ROOT / "docs/zh/colab.md",
                             ROOT / "utils/setup/colab.py"]:
        shutil.copyfile(path, tmp_path / path.relative_to(ROOT))
    new = "https://github.com/someone/elsewhere"
    changed = colab.set_address(new, root=tmp_path)
    assert len(changed) == 9
    slug = colab.REPOSITORY.split("github.com/", 1)[1]
    assert all(slug not in p.read_text(encoding="utf-8") for p in changed)
    assert "/content/elsewhere" in (tmp_path / "docs/colab.md").read_text(encoding="utf-8")
    assert all(new in first_cell(tmp_path / p.relative_to(ROOT)) for p in NOTEBOOKS)


def test_the_first_cell_finds_utils_from_the_chinese_folder_off_colab(off_colab, tmp_path):
    """Run from notebooks/zh/ (where `..` is notebooks/), in a Python without the repo on its
    path: the cell walks up to the repository and neither clones nor installs."""
    code = first_cell(ROOT / "notebooks/zh/01_numerical_stability.ipynb")
    code = code.replace("check_environment()", "print('utils from', sys.modules['utils'].__file__)"
                        ).replace("set_up()  #", "print(set_up())  #")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "COLAB_RELEASE_TAG")}
    script = tmp_path / "cell.py"
    script.write_text("import sys; sys.path[:] = [p for p in sys.path if p not in (%r, '')]\n"
                      % str(ROOT) + code)
    out = subprocess.run([sys.executable, str(script)], cwd=ROOT / "notebooks" / "zh",
                         env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert out.returncode == 0, out.stdout
    assert out.stdout.splitlines() == ["None", "utils from %s" % (ROOT / "utils" / "__init__.py")]


# ----- Kaggle Notebooks ---------------------------------------------------------------------

def test_the_loader_finds_kaggles_mounted_competition_files(house_dir, tmp_path, monkeypatch):
    from utils import data

    kaggle = tmp_path / "input" / "house-prices-advanced-regression-techniques"
    kaggle.mkdir(parents=True)
    for ours, theirs in data.KAGGLE_NAMES.items():
        shutil.copyfile(Path(house_dir) / ours, kaggle / theirs)
    monkeypatch.setattr(data, "KAGGLE_INPUT", kaggle)
    monkeypatch.setattr(data, "DATA_DIR", tmp_path / "empty")
    monkeypatch.delenv(data.ENV_VAR, raising=False)
    assert data.locate(data.TRAIN_FILE, download=False) == kaggle / "train.csv"
    train, test = data.load_house_data(download=False)
    assert train.shape == (1460, 81) and test.shape == (1459, 80)
    # a mounted copy whose bytes differ is skipped, with a warning, for data/ (read-only there)
    (kaggle / "train.csv").write_bytes((kaggle / "train.csv").read_bytes() + b"\n")
    cache = tmp_path / "cache"
    cache.mkdir()
    shutil.copyfile(Path(house_dir) / data.TRAIN_FILE, cache / data.TRAIN_FILE)
    monkeypatch.setattr(data, "DATA_DIR", cache)
    with pytest.warns(UserWarning, match="train.csv has SHA-1"):
        assert data.locate(data.TRAIN_FILE, download=False) == cache / data.TRAIN_FILE


def test_off_kaggle_no_kaggle_folder_is_searched(tmp_path, monkeypatch):
    from utils import data

    monkeypatch.setattr(data, "KAGGLE_INPUT", tmp_path / "absent")
    monkeypatch.delenv(data.ENV_VAR, raising=False)
    assert [label for label, _ in data._search_folders(None)] == ["cache"]


def test_the_final_submission_also_goes_to_kaggles_working_folder(tmp_path, monkeypatch):
    import pandas as pd

    from utils import submission

    working = tmp_path / "working"
    monkeypatch.setattr(submission, "KAGGLE_WORKING", working)
    rows = pd.DataFrame({"Id": [1461, 1462]})
    sub = submission.make_submission(rows, [100000.0, 150000.0])
    exports = tmp_path / "exports"
    submission.write_submission(sub, rows, exports / "submission.csv", expected_rows=2)
    assert not working.exists()  # off Kaggle: nothing written outside the folder asked for
    working.mkdir()
    submission.write_submission(sub, rows, exports / "submission_book.csv", expected_rows=2)
    assert list(working.iterdir()) == []  # only the final submission.csv is Kaggle's
    submission.write_submission(sub, rows, exports / "submission.csv", expected_rows=2)
    assert (working / "submission.csv").read_bytes() == (exports / "submission.csv").read_bytes()
