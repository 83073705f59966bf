"""utils/setup/install.py: refuses anything but a venv, checks before pip, installs the lock.

Every install here runs stub interpreters that record what they were asked to do, so no test
touches the network or any real environment.
"""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO_ROOT

SCRIPT = REPO_ROOT / "utils" / "setup" / "install.py"


def recording_stub(path, version, log):
    """A Python stand-in: answers the version probe, logs every other call and succeeds."""
    path.parent.mkdir(parents=True, exist_ok=True)
    major, minor, micro = version.split(".")
    path.write_text(
        "#!/bin/sh\n"
        f'if [ "$1" = "-c" ]; then echo "{major} {minor} {micro} Linux x86_64 64"; exit 0; fi\n'
        f'echo "$0 $* PIP_REQUIRE_VIRTUALENV=$PIP_REQUIRE_VIRTUALENV" >> {log}\n')
    path.chmod(0o755)
    return path


def fake_venv(folder, version, log):
    (folder / "bin").mkdir(parents=True)
    (folder / "pyvenv.cfg").write_text(f"version = {version}\n")
    return recording_stub(folder / "bin" / "python", version, log)


def install(*args, env=None):
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], cwd=REPO_ROOT,
                          capture_output=True, text=True, env=env or os.environ.copy())


def test_an_existing_venv_gets_the_lock_then_pip_check_then_the_environment_check(tmp_path):
    log = tmp_path / "calls.log"
    venv_python = fake_venv(tmp_path / "venv", "3.10.13", log)
    python = recording_stub(tmp_path / "bin" / "python3.10", "3.10.13", log)
    done = install("--venv", tmp_path / "venv", "--python", python, "--installer", "pip")
    assert done.returncode == 0, done.stderr
    calls = log.read_text().splitlines()
    assert calls == [
        f"{python} {REPO_ROOT / 'utils' / 'check.py'} --python-only PIP_REQUIRE_VIRTUALENV=",
        f"{venv_python} -m pip install --quiet pip>=21.3 PIP_REQUIRE_VIRTUALENV=1",
        f"{venv_python} -m pip install --quiet --no-deps -r "
        f"{REPO_ROOT / 'requirements' / 'learner.txt'} -e {REPO_ROOT} PIP_REQUIRE_VIRTUALENV=1",
        f"{venv_python} -m utils.setup.venv_link PIP_REQUIRE_VIRTUALENV=1",
        f"{venv_python} -m pip check PIP_REQUIRE_VIRTUALENV=1",
        f"{venv_python} -m utils.check PIP_REQUIRE_VIRTUALENV=",
    ]
    assert "reusing" in done.stdout and "installed the learner set" in done.stdout


def test_dev_installs_the_development_lock(tmp_path):
    log = tmp_path / "calls.log"
    fake_venv(tmp_path / "venv", "3.11.7", log)
    python = recording_stub(tmp_path / "bin" / "python3.11", "3.11.7", log)
    done = install("--dev", "--venv", tmp_path / "venv", "--python", python)
    assert done.returncode == 0, done.stderr
    assert f"-r {REPO_ROOT / 'requirements' / 'dev.txt'}" in log.read_text()


def test_a_folder_that_is_not_a_venv_is_refused(tmp_path):
    log = tmp_path / "calls.log"
    python = recording_stub(tmp_path / "bin" / "python3.11", "3.11.7", log)
    (tmp_path / "conda-env" / "bin").mkdir(parents=True)
    done = install("--venv", tmp_path / "conda-env", "--python", python)
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and "is not a virtual environment" in done.stderr
    assert "pip" not in log.read_text()


def test_an_unsupported_python_is_refused_before_anything_is_created(tmp_path):
    log = tmp_path / "calls.log"
    python = recording_stub(tmp_path / "bin" / "python3.14", "3.14.0", log)
    done = install("--venv", tmp_path / "venv", "--python", python)
    assert done.returncode == 1 and "Python 3.14 is not supported" in done.stderr
    assert not (tmp_path / "venv").exists() and not log.exists()


def test_a_venv_of_another_python_is_not_silently_reused(tmp_path):
    log = tmp_path / "calls.log"
    fake_venv(tmp_path / "venv", "3.11.7", log)
    python = recording_stub(tmp_path / "bin" / "python3.8", "3.8.18", log)
    done = install("--venv", tmp_path / "venv", "--python", python)
    assert done.returncode == 1 and "was made with Python 3.11" in done.stderr
    assert "make clean" in done.stderr and "pip" not in log.read_text()


def test_this_env_outside_a_venv_is_refused_in_one_line():
    """The interpreter this venv was made from is not a venv: nothing may be installed there."""
    base = Path(sys.base_prefix) / "bin" / "python3"
    if sys.prefix == sys.base_prefix or not base.exists():
        pytest.skip("the tests do not run in a venv, so there is no base interpreter to try")
    env = {k: v for k, v in os.environ.items() if k != "COLAB_RELEASE_TAG"}
    done = subprocess.run([str(base), str(SCRIPT), "--this-env"], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.count("\n") == 1
    assert "is not a virtual environment" in done.stderr and "downgrade" in done.stderr


def this_env_install(tmp_path, in_venv, colab):
    """install.py --this-env run by a stub interpreter: (result, the stub's calls).

    The script runs in a child Python whose sys.executable is the stub, and which believes it
    is (or is not) a venv; Colab is recognised by its COLAB_RELEASE_TAG, as on a real runtime.
    """
    log = tmp_path / "calls.log"
    python = recording_stub(tmp_path / "bin" / "python3", "3.11.7", log)
    child = ("import sys; sys.path.insert(0, sys.argv[1]); import install; "
             f"install.running_in_venv = lambda: {in_venv}; sys.executable = sys.argv[2]; "
             "sys.exit(install.main(['--this-env']))")
    env = {k: v for k, v in os.environ.items()
           if k not in ("COLAB_RELEASE_TAG", "PIP_REQUIRE_VIRTUALENV")}
    if colab:
        env["COLAB_RELEASE_TAG"] = "release-colab-test"
    done = subprocess.run([sys.executable, "-c", child, str(SCRIPT.parent), str(python)],
                          cwd=REPO_ROOT, env=env, capture_output=True, text=True)
    return done, python, log.read_text().splitlines() if log.exists() else []


def test_this_env_on_colab_lets_pip_install_into_the_machines_python(tmp_path):
    """Colab's Python is no venv: pip must not be told to require one, or it refuses."""
    done, python, calls = this_env_install(tmp_path, in_venv=False, colab=True)
    assert done.returncode == 0, done.stderr
    assert calls == [
        f"{python} -m pip install --quiet pip>=21.3 PIP_REQUIRE_VIRTUALENV=",
        f"{python} -m pip install --quiet --no-deps -r "
        f"{REPO_ROOT / 'requirements' / 'learner.txt'} -e {REPO_ROOT} PIP_REQUIRE_VIRTUALENV=",
        f"{python} -m utils.setup.venv_link PIP_REQUIRE_VIRTUALENV=",
        f"{python} -m pip check PIP_REQUIRE_VIRTUALENV=",
        f"{python} -m utils.check PIP_REQUIRE_VIRTUALENV=",
    ]


def test_this_env_in_a_venv_still_has_pip_require_one(tmp_path):
    done, python, calls = this_env_install(tmp_path, in_venv=True, colab=False)
    assert done.returncode == 0, done.stderr
    assert calls[:4] == [
        f"{python} -m pip install --quiet pip>=21.3 PIP_REQUIRE_VIRTUALENV=1",
        f"{python} -m pip install --quiet --no-deps -r "
        f"{REPO_ROOT / 'requirements' / 'learner.txt'} -e {REPO_ROOT} PIP_REQUIRE_VIRTUALENV=1",
        f"{python} -m utils.setup.venv_link PIP_REQUIRE_VIRTUALENV=1",
        f"{python} -m pip check PIP_REQUIRE_VIRTUALENV=1",
    ]


def test_this_env_outside_a_venv_and_off_colab_runs_no_pip(tmp_path):
    done, _, calls = this_env_install(tmp_path, in_venv=False, colab=False)
    assert done.returncode == 1 and "is not a virtual environment" in done.stderr
    assert calls == []


def test_make_passes_python_through_and_finds_one_without_it(tmp_path):
    """`make PYTHON=...` runs the installer with that Python; plain `make` lets it find one."""
    def dry_run(*args):
        done = subprocess.run(["make", "-n", f"VENV={tmp_path / 'v'}", *args], cwd=REPO_ROOT,
                              capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert f"python3.9 utils/setup/install.py --venv {tmp_path / 'v'} --python python3.9" in \
        dry_run("PYTHON=python3.9")
    plain = dry_run()
    assert f"python3 utils/setup/install.py --venv {tmp_path / 'v'}" in plain and "--python" not in plain
    assert "--dev" in dry_run("test")


def no_uv_path(tmp_path):
    """A PATH with the shell tools but no uv: the stub folder first, then /usr/bin and /bin."""
    return f"{tmp_path / 'tools'}:/usr/bin:/bin"


def test_uv_on_path_installs_the_lock_quietly_without_resolving(tmp_path):
    log = tmp_path / "calls.log"
    venv_python = fake_venv(tmp_path / "venv", "3.12.1", log)
    python = recording_stub(tmp_path / "bin" / "python3.12", "3.12.1", log)
    uv = recording_stub(tmp_path / "tools" / "uv", "0.0.0", log)
    env = dict(os.environ, PATH=no_uv_path(tmp_path))
    done = install("--venv", tmp_path / "venv", "--python", python, env=env)
    assert done.returncode == 0, done.stderr
    calls = log.read_text().splitlines()
    assert calls[1] == (f"{uv} pip install --quiet --python {venv_python} --no-deps -r "
                        f"{REPO_ROOT / 'requirements' / 'learner.txt'} -e {REPO_ROOT} "
                        "PIP_REQUIRE_VIRTUALENV=1")
    assert calls[2] == f"{venv_python} -m utils.setup.venv_link PIP_REQUIRE_VIRTUALENV=1"


def test_without_uv_the_locked_uv_goes_into_the_venv_first(tmp_path):
    """The venv's pip fetches the development lock's uv; a stub venv gets none, so pip goes on."""
    log = tmp_path / "calls.log"
    venv_python = fake_venv(tmp_path / "venv", "3.11.7", log)
    python = recording_stub(tmp_path / "bin" / "python3.11", "3.11.7", log)
    (tmp_path / "tools").mkdir()
    env = dict(os.environ, PATH=no_uv_path(tmp_path))
    done = install("--venv", tmp_path / "venv", "--python", python, env=env)
    assert done.returncode == 0, done.stderr
    uv_pin = [line.split(" ;")[0] for line in
              (REPO_ROOT / "requirements" / "dev.txt").read_text().splitlines()
              if line.startswith("uv==")][0]
    calls = log.read_text().splitlines()
    assert calls[1] == f"{venv_python} -m pip install -q {uv_pin} PIP_REQUIRE_VIRTUALENV=1"
    assert calls[2] == f"{venv_python} -m pip install --quiet pip>=21.3 PIP_REQUIRE_VIRTUALENV=1"
    assert calls[3].startswith(f"{venv_python} -m pip install --quiet --no-deps -r ")


def conflicting_pip(tmp_path, lines):
    """A venv python whose `pip check` prints `lines` and fails, as pip does."""
    exe = tmp_path / "venv" / "bin" / "python"
    exe.parent.mkdir(parents=True)
    text = "\\n".join(lines)
    exe.write_text(f'#!/bin/sh\nprintf "{text}\\n"\nexit 1\n')
    exe.chmod(0o755)
    return str(exe)


D2L_312 = ["d2l 1.0.3 has requirement numpy==1.23.5, but you have numpy 1.26.4.",
           "d2l 1.0.3 has requirement pandas==2.0.3, but you have pandas 2.2.3.",
           "d2l 1.0.3 has requirement matplotlib==3.7.2, but you have matplotlib 3.9.4.",
           "d2l 1.0.3 has requirement scipy==1.10.1, but you have scipy 1.14.1."]
MXNET_313 = "mxnet 1.9.1 has requirement numpy<2.0.0,>1.16.0, but you have numpy 2.2.6."


@pytest.mark.parametrize("version, lines, ok", [
    ((3, 12), D2L_312, True),
    ((3, 13), D2L_312 + [MXNET_313], True),
    ((3, 12), D2L_312 + [MXNET_313], False),  # numpy 2 on 3.12 is not what the lock installs
    ((3, 11), D2L_312[:1], False),  # on 3.8-3.11 pip check must be clean
    ((3, 12), D2L_312 + ["jupyterlab 4.6.6 requires tornado, which is not installed."], False),
])
def test_pip_check_passes_only_the_overrides_made_on_purpose(tmp_path, capsys, version, lines, ok):
    sys.path.insert(0, str(SCRIPT.parent))
    import install as installer

    python = conflicting_pip(tmp_path, lines)
    if ok:
        installer.pip_check(python, dict(os.environ), version)
        assert "conflicts requirements/overrides.txt makes on purpose" in capsys.readouterr().out
    else:
        with pytest.raises(installer.Refused, match="pip check"):
            installer.pip_check(python, dict(os.environ), version)
        assert lines[-1] in capsys.readouterr().out


def test_install_probe_of_a_hung_python_ends(tmp_path):
    """--python naming an interpreter that never answers: one line, exit 1, no wait."""
    stuck = tmp_path / "bin" / "python3.12"
    stuck.parent.mkdir(parents=True)
    stuck.write_text("#!/bin/sh\n/bin/sleep 600\n")
    stuck.chmod(0o755)
    child = ("import sys; sys.path.insert(0, sys.argv[1]); import find_python, install; "
             "find_python.PROBE_SECONDS = 1; sys.exit(install.main(sys.argv[2:]))")
    done = subprocess.run([sys.executable, "-c", child, str(SCRIPT.parent), "--python",
                           str(stuck), "--venv", str(tmp_path / "venv")], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and not (tmp_path / "venv").exists()
    assert done.stderr.splitlines() == [
        f"{stuck} did not answer within 1 s; skipping it",
        f"install.py: {stuck} does not run (a pyenv shim for a version that is not active? give "
        "the interpreter's full path)"]


# ----- issue 25: installers that cannot run, half-made venvs ---------------------------------

def uv_on_path(tmp_path, body):
    """A `uv` first on PATH whose file content is `body` (bytes), executable."""
    uv = tmp_path / "tools" / "uv"
    uv.parent.mkdir(parents=True, exist_ok=True)
    uv.write_bytes(body)
    uv.chmod(0o755)
    return uv


@pytest.mark.parametrize("kind, body", [
    ("cannot execute (another machine's binary)", b"\x7fELF\x02\x01\x01garbage"),
    ("cannot execute (a shebang naming no interpreter)", b"#!/nonexistent/sh\n"),
    ("fails", b"#!/bin/sh\necho 'error: uv broke' >&2\nexit 2\n"),
])
def test_a_uv_on_path_that_cannot_run_or_fails_falls_back_to_pip_with_one_line(tmp_path, kind, body):
    log = tmp_path / "calls.log"
    venv_python = fake_venv(tmp_path / "venv", "3.11.7", log)
    python = recording_stub(tmp_path / "bin" / "python3.11", "3.11.7", log)
    uv = uv_on_path(tmp_path, body)
    done = install("--venv", tmp_path / "venv", "--python", python,
                   env=dict(os.environ, PATH=no_uv_path(tmp_path)))
    assert done.returncode == 0, done.stderr
    said = [line for line in done.stdout.splitlines() if "installing with pip instead" in line]
    assert len(said) == 1 and str(uv) in said[0], done.stdout
    calls = log.read_text().splitlines()
    assert calls[1] == f"{venv_python} -m pip install --quiet pip>=21.3 PIP_REQUIRE_VIRTUALENV=1"
    assert calls[2].startswith(f"{venv_python} -m pip install --quiet --no-deps -r ")


def test_a_uv_that_cannot_run_is_an_error_when_uv_was_asked_for(tmp_path):
    log = tmp_path / "calls.log"
    fake_venv(tmp_path / "venv", "3.11.7", log)
    python = recording_stub(tmp_path / "bin" / "python3.11", "3.11.7", log)
    uv = uv_on_path(tmp_path, b"\x7fELF\x02\x01\x01garbage")
    done = install("--venv", tmp_path / "venv", "--python", python, "--installer", "uv",
                   env=dict(os.environ, PATH=no_uv_path(tmp_path)))
    assert done.returncode == 1 and done.stderr.count("\n") == 1
    assert f"`{uv} pip install" in done.stderr and "could not start" in done.stderr
    assert "-m pip install" not in log.read_text()


def test_a_venv_creation_that_fails_midway_leaves_no_half_made_venv(tmp_path):
    """`python -m venv` writes pyvenv.cfg and bin/python, then ensurepip fails (Debian without
    python3-venv): the folder is removed, so the next run starts clean, and one line says why."""
    log = tmp_path / "calls.log"
    python = tmp_path / "bin" / "python3.11"
    python.parent.mkdir(parents=True)
    python.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = "-c" ]; then echo "3 11 7 Linux x86_64 64"; exit 0; fi\n'
        f'echo "$0 $*" >> {log}\n'
        'if [ "$2" = "venv" ]; then mkdir -p "$3/bin"; touch "$3/pyvenv.cfg" "$3/bin/python"\n'
        '  echo "ensurepip is not available" >&2; exit 1; fi\n')
    python.chmod(0o755)
    venv = tmp_path / "venv"
    done = install("--venv", venv, "--python", python)
    assert done.returncode == 1 and not venv.exists()
    last = done.stderr.splitlines()[-1]
    assert last.startswith("install.py: `") and "the half-made" in last and str(venv) in last
    assert "apt install python3-venv" in last
    assert "pip" not in log.read_text()


def pipless_venv(folder, log, ensurepip_works):
    """A venv whose python runs but has no pip (a creation stopped midway, or `uv venv`)."""
    (folder / "bin").mkdir(parents=True)
    (folder / "pyvenv.cfg").write_text("version = 3.11.7\n")
    exe = folder / "bin" / "python"
    exe.write_text(
        "#!/bin/sh\n"
        'if [ "$1 $2" = "-c import pip" ]; then exit 1; fi\n'
        'if [ "$1" = "-c" ]; then echo "3 11 7 Linux x86_64 64"; exit 0; fi\n'
        f'echo "$0 $*" >> {log}\n'
        f'if [ "$2" = "ensurepip" ]; then exit {0 if ensurepip_works else 1}; fi\n')
    exe.chmod(0o755)
    return exe


def test_a_reused_venv_without_pip_gets_pip_from_ensurepip(tmp_path):
    log = tmp_path / "calls.log"
    venv_python = pipless_venv(tmp_path / "venv", log, ensurepip_works=True)
    python = recording_stub(tmp_path / "bin" / "python3.11", "3.11.7", log)
    done = install("--venv", tmp_path / "venv", "--python", python, "--installer", "pip")
    assert done.returncode == 0, done.stderr
    assert "has no pip; adding it with ensurepip" in done.stdout
    calls = log.read_text().splitlines()
    assert calls[1] == f"{venv_python} -m ensurepip --default-pip"
    assert calls[2].startswith(f"{venv_python} -m pip install")


def test_a_half_made_venv_that_cannot_be_repaired_says_what_to_remove(tmp_path):
    log = tmp_path / "calls.log"
    pipless_venv(tmp_path / "venv", log, ensurepip_works=False)
    python = recording_stub(tmp_path / "bin" / "python3.11", "3.11.7", log)
    done = install("--venv", tmp_path / "venv", "--python", python)
    assert done.returncode == 1 and done.stderr.count("\n") == 1
    assert "half-made venv" in done.stderr and f"rm -rf {tmp_path / 'venv'}" in done.stderr
    assert (tmp_path / "venv" / "pyvenv.cfg").exists()  # someone else's folder: only named
    assert "pip install" not in log.read_text()


def test_venv_link_refuses_a_python_that_is_not_a_venv():
    """The interpreter this venv was made from: its site-packages serve other projects."""
    import sysconfig

    base = Path(sys.base_prefix) / "bin" / "python3"
    if sys.prefix == sys.base_prefix or not base.exists():
        pytest.skip("the tests do not run in a venv, so there is no base interpreter to try")
    purelib = subprocess.run([str(base), "-c", "import sysconfig; "
                              "print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True).stdout.strip()
    before = sorted(os.listdir(purelib))
    env = {k: v for k, v in os.environ.items() if k not in ("COLAB_RELEASE_TAG", "PYTHONPATH")}
    done = subprocess.run([str(base), "-m", "utils.setup.venv_link"], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True)
    assert done.returncode == 1 and done.stdout == "" and done.stderr.count("\n") == 1
    assert "is not a virtual environment" in done.stderr and "venv_link" in done.stderr
    assert sorted(os.listdir(purelib)) == before
    assert sysconfig.get_paths()["purelib"] != purelib  # the test ran what it meant to
