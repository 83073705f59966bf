"""The environment check must name the wrong version and the command that fixes it."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from utils import check

REPO = Path(check.__file__).resolve().parent.parent


def test_supported_pythons_pass_and_others_get_one_line():
    for good in ((3, 8, 0), (3, 11, 7), (3, 12, 1), (3, 13, 0)):
        assert check.python_problem(good) is None
    for bad in ((3, 14, 0), (3, 7, 9)):
        message = check.python_problem(bad)
        assert f"Python {bad[0]}.{bad[1]} is not supported" in message
        assert "(Python 3.8 to 3.11)" in message and "\n" not in message
        assert "uv python install 3.12" in message


def test_colab_is_told_to_switch_runtime():
    message = check.python_problem((3, 14, 1), colab=True)
    assert "Colab" in message and "3.8 to 3.13" in message and "\n" not in message


@pytest.mark.parametrize("minor, numpy, pandas", [
    (8, "1.23.5", "2.0.3"), (11, "1.23.5", "2.0.3"), (12, "1.26.4", "2.2.3"),
    (13, "2.2.6", "2.2.3")])
def test_each_python_is_checked_against_its_own_pins(minor, numpy, pandas):
    pins = check.pins_for((3, minor))
    assert pins["numpy"][0] == numpy and pins["pandas"][0] == pandas
    assert pins["mxnet"][0] == "1.9.1" and pins["d2l"][0] == "1.0.3"


@pytest.mark.parametrize("system, machine", [
    ("Linux", "x86_64"), ("Linux", "aarch64"), ("Darwin", "x86_64")])
def test_platforms_with_an_mxnet_wheel_pass(system, machine):
    assert check.platform_problem(system, machine, 64) is None


@pytest.mark.parametrize("system, machine, route", [
    ("Windows", "AMD64", "WSL2"),
    ("CYGWIN_NT-10.0", "x86_64", "WSL2"),
    ("Darwin", "arm64", "Rosetta 2"),
    ("Linux", "ppc64le", "Linux x86_64 and aarch64"),
    ("FreeBSD", "amd64", "Linux x86_64 and aarch64"),
])
def test_platforms_without_a_wheel_are_named_with_the_route(system, machine, route):
    message = check.platform_problem(system, machine, 64)
    assert route in message and "\n" not in message
    assert "MXNet 1.9.1 has" in message


def test_32_bit_python_is_refused():
    assert "64-bit" in check.platform_problem("Linux", "x86_64", 32)


def test_python_only_mode_checks_the_platform_before_pip(monkeypatch, capsys):
    """Faked Apple Silicon: --python-only fails with the Rosetta route and imports nothing."""
    monkeypatch.setattr(check.platform, "system", lambda: "Darwin")
    monkeypatch.setattr(check.platform, "machine", lambda: "arm64")
    assert check.main(["--python-only"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "python3.11-intel64" in err


def test_wrong_numpy_is_named_with_its_fix(monkeypatch):
    monkeypatch.setattr(check, "PINNED", check.pins_for((3, 11)))
    versions = {name: pin for name, (pin, _) in check.PINNED.items()}
    assert check.version_problems(versions) == []
    versions["numpy"] = "1.26.4"
    (problem,) = check.version_problems(versions)
    assert problem.startswith("numpy 1.26.4 is installed; MXNet 1.9.1 imports only with numpy<1.24")
    assert problem.endswith("pip install numpy==1.23.5")


def test_missing_package_points_at_the_installer():
    versions = {name: pin for name, (pin, _) in check.PINNED.items()}
    versions["d2l"] = None
    (problem,) = check.version_problems(versions)
    assert problem.startswith("d2l is not installed") and "utils/setup/install.py" in problem


def test_this_environment_is_the_pinned_one(capsys):
    assert check.environment_problems() == []
    assert check.check_environment() is None  # a notebook's first cell shows no Out[1]
    printed = capsys.readouterr().out
    assert "mxnet 1.9.1" in printed and f"numpy {check.PINNED['numpy'][0]}" in printed


@pytest.mark.parametrize("module, dist", [
    ("d2l.mxnet", "d2l"), ("pandas", "pandas"), ("matplotlib.pyplot", "matplotlib")])
def test_a_package_that_fails_to_import_is_named_with_the_fix(tmp_path, module, dist):
    """Metadata says the right version, but the import raises: the check names that package.

    A fresh interpreter gets a broken copy of the package first on its path."""
    top = module.split(".")[0]
    (tmp_path / top).mkdir()
    (tmp_path / top / "__init__.py").write_text("raise ImportError('a broken wheel')\n")
    code = ("import sys; from utils import check; "
            "[print(p) for p in check.import_problems()]; "
            "check.check_environment(quiet=True)")
    env = dict(os.environ, PYTHONPATH=f"{tmp_path}{os.pathsep}{REPO}")
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                          capture_output=True, text=True)
    assert done.returncode == 1
    assert done.stdout.splitlines() == [
        f"import {module} failed (ImportError: a broken wheel); reinstall it: {check.INSTALL_HINT}"]
    assert done.stderr.rstrip().splitlines()[-1].startswith(
        f"utils.check.EnvironmentProblem: import {module} failed")


def test_every_failing_import_is_listed(monkeypatch):
    problems = check.import_problems((("json", "json"), ("no_such_module_here", "x"),
                                      ("also_missing", "y")))
    assert [p.split(" failed")[0] for p in problems] == [
        "import no_such_module_here", "import also_missing"]


def test_the_hook_is_required_only_on_3_12_and_3_13():
    assert check.hook_problem((3, 11), modules={}) is None
    assert check.hook_problem((3, 12), modules={"mxnet_numpy_compat": object()}) is None
    for minor in (12, 13):
        problem = check.hook_problem((3, minor), modules={})
        assert "numpy compatibility hook" in problem and "utils.setup.venv_link" in problem


def test_the_check_as_a_script_says_ok_or_names_problems(monkeypatch, capsys):
    monkeypatch.setattr(check, "environment_problems", lambda: [])
    assert check.main([]) == 0 and "environment OK" in capsys.readouterr().out
    monkeypatch.setattr(check, "environment_problems", lambda: ["numpy is not installed (x): y"])
    assert check.main([]) == 1
    assert "problem: numpy is not installed" in capsys.readouterr().err


def test_strict_check_raises_with_every_problem(monkeypatch):
    monkeypatch.setattr(check, "installed_version",
                        lambda name: {"numpy": "1.22.0", "mxnet": None}.get(name, "0"))
    with pytest.raises(check.EnvironmentProblem) as err:
        check.check_environment(quiet=True)
    lines = str(err.value).splitlines()
    assert any(line.startswith("numpy 1.22.0 is installed") for line in lines)
    assert any(line.startswith("mxnet is not installed") for line in lines)


@pytest.mark.parametrize("version", ["2.7", "3.6", "3.7"])
def test_old_and_new_interpreters_can_say_they_are_unsupported(version):
    """check.py must run on the Python it rejects (pyenv's, when this machine has it)."""
    exe = Path(os.path.expanduser("~/.pyenv/versions"))
    found = sorted(exe.glob(f"{version}.*/bin/python{version[0]}"))
    if not found:
        pytest.skip(f"no pyenv Python {version} here")
    done = subprocess.run([str(found[-1]), "utils/check.py", "--python-only"],
                          cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 1
    assert done.stderr.startswith(f"Python {version} is not supported")


def test_python_only_mode_runs_as_a_script():
    done = subprocess.run([sys.executable, "utils/check.py", "--python-only"],
                          cwd=check.__file__.rsplit("/utils/", 1)[0], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
