"""The environment check must name the wrong version and the command that fixes it."""
import subprocess
import sys

import pytest

from utils import check


def test_supported_pythons_pass_and_others_get_one_line():
    assert check.python_problem((3, 11, 7)) is None
    assert check.python_problem((3, 8, 0)) is None
    for bad in ((3, 12, 1), (3, 7, 9)):
        message = check.python_problem(bad)
        assert f"Python {bad[0]}.{bad[1]} is not supported" in message
        assert "3.8 to 3.11" in message and "\n" not in message


def test_wrong_numpy_is_named_with_its_fix():
    versions = {name: pin for name, (pin, _) in check.PINNED.items()}
    assert check.version_problems(versions) == []
    versions["numpy"] = "1.26.4"
    (problem,) = check.version_problems(versions)
    assert problem.startswith("numpy 1.26.4 is installed; MXNet 1.9.1 imports only with numpy<1.24")
    assert problem.endswith("pip install numpy==1.23.5")


def test_missing_package_points_at_requirements():
    versions = {name: pin for name, (pin, _) in check.PINNED.items()}
    versions["d2l"] = None
    (problem,) = check.version_problems(versions)
    assert problem.startswith("d2l is not installed") and "requirements.txt" in problem


def test_this_environment_is_the_pinned_one(capsys):
    assert check.check_environment() == []
    printed = capsys.readouterr().out
    assert "mxnet 1.9.1" in printed and "numpy 1.23.5" in printed


def test_strict_check_raises_with_every_problem(monkeypatch):
    monkeypatch.setattr(check, "installed_version",
                        lambda name: {"numpy": "1.26.4", "mxnet": None}.get(name, "0"))
    with pytest.raises(check.EnvironmentProblem) as err:
        check.check_environment(quiet=True)
    lines = str(err.value).splitlines()
    assert any(line.startswith("numpy 1.26.4 is installed") for line in lines)
    assert any(line.startswith("mxnet is not installed") for line in lines)


def test_python_only_mode_runs_as_a_script():
    done = subprocess.run([sys.executable, "utils/check.py", "--python-only"],
                          cwd=check.__file__.rsplit("/utils/", 1)[0], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
