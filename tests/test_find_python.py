"""utils/setup/find_python.py on faked machines: a PATH and a HOME of stub interpreters, no network.

A stub is a two-line shell script that answers find_python's probe the way a real Python
would (version, system, machine, pointer bits); a broken stub fails like a pyenv shim whose
version is not active.
"""
import os
import subprocess
import sys
import time

import pytest

from conftest import REPO_ROOT
from utils.setup import find_python

SCRIPT = REPO_ROOT / "utils" / "setup" / "find_python.py"


def hung(path):
    """An interpreter (or pyenv) that never answers: a shell whose child holds stdout open."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n/bin/sleep 600\n")
    path.chmod(0o755)
    return str(path)


def stub(path, version, system="Linux", machine="x86_64", bits=64):
    """An executable at `path` that reports Python `version` on `system`/`machine`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    major, minor, micro = version.split(".")
    path.write_text(f'#!/bin/sh\necho "{major} {minor} {micro} {system} {machine} {bits}"\n')
    path.chmod(0o755)
    return str(path)


def broken(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'#!/bin/sh\necho "pyenv: {path.name}: command not found" >&2\nexit 127\n')
    path.chmod(0o755)
    return str(path)


@pytest.fixture
def machine(tmp_path):
    """An empty PATH folder and HOME; returns (bin, home, env)."""
    bin_dir, home = tmp_path / "bin", tmp_path / "home"
    bin_dir.mkdir()
    home.mkdir()
    return bin_dir, home, {"PATH": str(bin_dir), "HOME": str(home)}


def test_a_supported_python3_is_used_as_it_is(machine):
    bin_dir, _, env = machine
    exe = stub(bin_dir / "python3", "3.11.7")
    stub(bin_dir / "python3.9", "3.9.18")
    assert find_python.find(env) == (exe, f"using {exe} (Python 3.11.7)")


def test_python3_too_new_falls_back_to_the_newest_versioned_one(machine):
    bin_dir, _, env = machine
    stub(bin_dir / "python3", "3.14.0")
    stub(bin_dir / "python3.9", "3.9.18")
    exe = stub(bin_dir / "python3.10", "3.10.13")
    found, message = find_python.find(env)
    assert found == exe
    assert message.startswith(f"using {exe} (Python 3.10.13) from PATH: python3 is ")
    assert "(Python 3.14.0), which MXNet 1.9.1 cannot use" in message


def test_broken_shims_are_skipped_and_pyenv_versions_found(machine, tmp_path):
    bin_dir, _, env = machine
    stub(bin_dir / "python3", "3.14.2")
    broken(bin_dir / "python3.11")  # a pyenv shim for a version that is not active
    root = tmp_path / "pyenv"
    stub(root / "versions" / "3.9.18" / "bin" / "python3", "3.9.18")
    newest = stub(root / "versions" / "3.10.13" / "bin" / "python3", "3.10.13")
    stub(root / "versions" / "3.14.0" / "bin" / "python3", "3.14.0")
    stub(root / "versions" / "3.7.16" / "bin" / "python3", "3.7.16")
    stub(root / "versions" / "2.7.18" / "bin" / "python3", "2.7.18")
    env["PYENV_ROOT"] = str(root)
    found, message = find_python.find(env)
    assert found == newest and "from pyenv" in message


def test_pyenv_root_from_the_pyenv_command_and_home(machine, tmp_path):
    bin_dir, home, env = machine
    root = tmp_path / "elsewhere"
    (bin_dir / "pyenv").write_text(f"#!/bin/sh\necho {root}\n")
    (bin_dir / "pyenv").chmod(0o755)
    from_command = stub(root / "versions" / "3.8.18" / "bin" / "python3", "3.8.18")
    assert find_python.find(env)[0] == from_command
    (bin_dir / "pyenv").unlink()
    in_home = stub(home / ".pyenv" / "versions" / "3.11.2" / "bin" / "python3", "3.11.2")
    assert find_python.find(env)[0] == in_home


def test_uv_managed_pythons_are_found(machine):
    _, home, env = machine
    folder = home / ".local" / "share" / "uv" / "python" / "cpython-3.11.9-linux-x86_64-gnu"
    exe = stub(folder / "bin" / "python3", "3.11.9")
    found, message = find_python.find(env)
    assert found == exe and "from uv" in message and "there is no python3 on PATH" in message


def test_a_python3_that_does_not_run_is_named_as_such(machine):
    """A broken shim on PATH is not 'no python3 on PATH': the message says it did not run."""
    bin_dir, _, env = machine
    shim = broken(bin_dir / "python3")
    exe = stub(bin_dir / "python3.10", "3.10.13")
    found, message = find_python.find(env)
    assert found == exe
    assert message == (f"using {exe} (Python 3.10.13) from PATH: python3 on PATH ({shim}) "
                       "did not run")


def test_apple_silicon_takes_the_x86_64_python_under_rosetta(machine):
    bin_dir, home, env = machine
    stub(bin_dir / "python3", "3.14.0", "Darwin", "arm64")
    stub(bin_dir / "python3.11", "3.11.9", "Darwin", "arm64")  # native: no MXNet wheel
    folder = home / ".local" / "share" / "uv" / "python" / "cpython-3.11.9-macos-x86_64-none"
    intel = stub(folder / "bin" / "python3", "3.11.9", "Darwin", "x86_64")
    assert find_python.find(env)[0] == intel


def test_none_found_gives_the_one_command_that_gets_one(machine):
    bin_dir, _, env = machine
    stub(bin_dir / "python3", "3.14.0")
    found, message = find_python.find(env)
    assert found is None and "\n" not in message
    assert "found: " in message and "Python 3.14.0" in message
    assert "pip install uv" in message and "uv python install 3.12" in message
    (bin_dir / "uv").write_text("#!/bin/sh\nexit 0\n")
    (bin_dir / "uv").chmod(0o755)
    assert find_python.find(env)[1].endswith("Get one with: uv python install 3.12  "
                                             "(then run make again)")


def test_the_script_prints_only_the_interpreter_on_stdout(machine):
    bin_dir, _, env = machine
    stub(bin_dir / "python3", "3.14.2")
    exe = stub(bin_dir / "python3.8", "3.8.18")
    done = subprocess.run([sys.executable, str(SCRIPT)], env=env, capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout == exe + "\n"
    assert done.stderr.startswith(f"using {exe}")
    os.remove(exe)
    done = subprocess.run([sys.executable, str(SCRIPT)], env=env, capture_output=True, text=True)
    assert done.returncode == 1 and done.stdout == "" and "uv python install 3.12" in done.stderr


@pytest.mark.parametrize("version", ["3.12.1", "3.13.0"])
def test_python3_of_today_just_works(machine, version):
    """Ubuntu 24.04, Debian 13, Homebrew: python3 is 3.12 or 3.13, and that one is used."""
    bin_dir, _, env = machine
    exe = stub(bin_dir / "python3", version)
    stub(bin_dir / "python3.11", "3.11.7")
    assert find_python.find(env) == (exe, f"using {exe} (Python {version})")


def test_the_newest_supported_one_is_preferred(machine, tmp_path):
    bin_dir, _, env = machine
    stub(bin_dir / "python3", "3.14.0")
    stub(bin_dir / "python3.11", "3.11.7")
    exe = stub(bin_dir / "python3.13", "3.13.0")
    assert find_python.find(env)[0] == exe


def test_an_interpreter_that_never_answers_is_named_and_skipped(machine, monkeypatch, capsys):
    bin_dir, _, env = machine
    monkeypatch.setattr(find_python, "PROBE_SECONDS", 1)
    stuck = hung(bin_dir / "python3")
    exe = stub(bin_dir / "python3.10", "3.10.13")
    start = time.monotonic()
    found, message = find_python.find(env)
    assert time.monotonic() - start < 10
    assert found == exe and "did not run" in message
    err = capsys.readouterr().err
    assert err == f"{stuck} did not answer within 1 s; skipping it\n"


def test_a_pyenv_that_never_answers_is_named_and_skipped(machine, monkeypatch, capsys):
    bin_dir, home, env = machine
    monkeypatch.setattr(find_python, "PROBE_SECONDS", 1)
    pyenv = hung(bin_dir / "pyenv")
    in_home = stub(home / ".pyenv" / "versions" / "3.11.2" / "bin" / "python3", "3.11.2")
    start = time.monotonic()
    assert find_python.find(env)[0] == in_home
    assert time.monotonic() - start < 10
    assert capsys.readouterr().err == f"{pyenv} root did not answer within 1 s; skipping it\n"
