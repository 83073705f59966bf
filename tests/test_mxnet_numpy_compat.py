"""The numpy names MXNet 1.9.1 needs on Python 3.12+: set only when `mxnet` is imported, never
on 3.8-3.11, and written into the venv by utils/setup/venv_link.py so any notebook there gets them."""
import os
import subprocess
import sys
import sysconfig
import types

import pytest

from conftest import REPO_ROOT
from utils.setup import mxnet_numpy_compat as compat
from utils.setup import venv_link

UTILS = str(REPO_ROOT / "utils" / "setup")


def fresh(code, cwd, extra_path=()):
    """Run `code` in a fresh interpreter of this venv; returns its stdout lines."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([*extra_path, UTILS]))
    done = subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_numpy_2_gets_back_every_name_mxnet_uses():
    np2 = types.ModuleType("numpy")  # what numpy 2 still has of what the aliases point at
    np2.__version__ = "2.2.6"
    real = __import__("numpy")
    for name in ("all", "any", "prod", "round", "isin", "sort"):
        setattr(np2, name, getattr(real, name))
    np2.trapezoid = getattr(real, "trapezoid", None) or vars(real)["trapz"]  # 2.0's new name
    missing = compat.missing_names(np2)
    assert {"bool", "PZERO", "NZERO", "PINF", "NINF", "NAN", "NaN", "Inf", "alltrue",
            "sometrue", "product", "round_", "msort", "in1d", "trapz", "npv"} <= set(missing)
    assert missing["bool"] is bool and missing["NINF"] == float("-inf")
    assert missing["sometrue"] is np2.any and missing["trapz"] is np2.trapezoid
    with pytest.raises(NotImplementedError, match="numpy-financial"):
        missing["pmt"](0.1, 10, 100)


def test_numpy_1_26_gets_only_bool():
    np126 = types.ModuleType("numpy")
    np126.__version__ = "1.26.4"
    for name in ("PZERO", "NZERO", "PINF", "NINF", "NAN", "NaN", "Inf", "alltrue", "sometrue",
                 "product", "round_", "msort", "in1d", "trapz", "all", "any", "prod", "round",
                 "isin", "sort"):  # what numpy 1.26 still has
        setattr(np126, name, object())
    assert list(compat.missing_names(np126)) == ["bool"]


def test_names_numpy_still_has_are_left_alone():
    np_like = types.ModuleType("numpy")
    np_like.bool, np_like.NaN, np_like.all = "mine", "mine", all
    missing = compat.missing_names(np_like)
    assert "bool" not in missing and "NaN" not in missing


@pytest.mark.parametrize("minor", [8, 9, 10, 11])
def test_on_3_8_to_3_11_install_changes_nothing(minor, tmp_path):
    before = list(sys.meta_path)
    assert compat.install((3, minor)) is False
    assert sys.meta_path == before
    assert venv_link.link(str(tmp_path), (3, minor)) is None  # no .pth, no hook
    assert os.listdir(tmp_path) == []


def test_the_hook_waits_for_mxnet_and_leaves_numpy_alone_until_then(tmp_path):
    """Armed, then json, numpy and pandas imported: numpy's names are as without the hook."""
    code = ("import mxnet_numpy_compat as c; {arm}; import json, numpy, pandas; "
            "print(c.installed()); print(sorted(vars(numpy)))")
    armed = fresh(code.format(arm="c.install((3, 12))"), tmp_path)
    plain = fresh(code.format(arm="c.uninstall()"), tmp_path)  # as the .pth left it on 3.12+
    assert armed[0] == "True" and plain[0] == "False"
    assert armed[1] == plain[1]


def test_importing_mxnet_sets_the_names_first_and_removes_the_hook(tmp_path):
    """A stand-in `mxnet` package records what numpy looked like when it was imported."""
    (tmp_path / "mxnet").mkdir()
    (tmp_path / "mxnet" / "__init__.py").write_text(
        "import numpy, mxnet_numpy_compat\n"
        "SAW = not mxnet_numpy_compat.missing_names(numpy) and 'bool' in vars(numpy)\n")
    out = fresh("import sys, mxnet_numpy_compat as c; c.install((3, 12)); "
                "from mxnet import SAW; print(SAW, c.installed())", tmp_path, [str(tmp_path)])
    assert out == ["True False"]


def test_the_link_writes_the_hook_on_3_12_and_removes_it_below(tmp_path):
    pth = venv_link.link(str(tmp_path), (3, 12))
    assert open(pth).read() == "import mxnet_numpy_compat; mxnet_numpy_compat.install()\n"
    assert (tmp_path / "mxnet_numpy_compat.py").read_text() == \
        (REPO_ROOT / "utils" / "setup" / "mxnet_numpy_compat.py").read_text()
    assert sorted(os.listdir(tmp_path)) == ["d2l_mxnet_notebooks.pth", "mxnet_numpy_compat.py"]
    (tmp_path / "d2l_mxnet_notebooks.pth").write_text("/old/repo\n" + open(pth).read())
    assert venv_link.link(str(tmp_path), (3, 11)) is None  # relinked by an older Python
    assert os.listdir(tmp_path) == []  # the old link's repository line went with it


def test_mxnet_imports_and_trains_in_a_fresh_interpreter_of_this_venv(tmp_path):
    """Nothing imported first, nothing on PYTHONPATH, started outside the repository: what a
    learner's own notebook does. On 3.12+ the venv's .pth must have armed the hook."""
    code = (
        "import sys\n"
        "from mxnet import autograd, gluon, nd\n"
        "net = gluon.nn.Dense(1); net.initialize()\n"
        "trainer = gluon.Trainer(net.collect_params(), 'sgd', {'learning_rate': 0.1})\n"
        "X = nd.random.normal(shape=(64, 3)); y = nd.dot(X, nd.array([[1.0], [-2.0], [0.5]]))\n"
        "losses = []\n"
        "for _ in range(20):\n"
        "    with autograd.record():\n"
        "        loss = ((net(X) - y) ** 2).mean()\n"
        "    loss.backward(); trainer.step(1); losses.append(loss.asscalar())\n"
        "print(losses[-1] < 0.1 * losses[0], 'mxnet_numpy_compat' in sys.modules)\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    hooked = sys.version_info[:2] >= (3, 12)
    assert done.stdout.split() == ["True", str(hooked)]
    if hooked:
        assert "import mxnet_numpy_compat" in (
            open(os.path.join(sysconfig.get_paths()["purelib"], venv_link.PTH)).read())
