"""Install the collection into a virtual environment, never into someone else's Python.

Steps and options: docs/install-and-pythons.md. It runs under whatever python3 there is, so:
standard library only, no f-strings, its siblings imported as plain modules.
"""
from __future__ import print_function

import argparse
import os
import re
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))  # utils/setup
UTILS = os.path.dirname(HERE)
REPO = os.path.dirname(UTILS)
sys.path[:0] = [HERE, UTILS]  # plain modules: find_python beside this file, check in utils/
import check  # noqa: E402
import find_python  # noqa: E402

LOCKS = {name: os.path.join(REPO, "requirements", name + ".txt") for name in ("learner", "dev")}
# `pip check` lines expected on Python 3.12+: (package, requirement it declares) pairs that
# requirements/overrides.txt overrides on purpose; any other line fails the install.
D2L_PINS = {("d2l", name) for name in ("numpy", "pandas", "matplotlib", "scipy")}
KNOWN_CONFLICTS = {(3, 12): D2L_PINS, (3, 13): D2L_PINS | {("mxnet", "numpy")}}
CONFLICT = re.compile(r"^(\S+) \S+ has requirement ([A-Za-z0-9_.-]+)")


class Refused(Exception):
    """Installing would be wrong or cannot work; the message says why and what to do."""


def running_in_venv():
    return sys.prefix != getattr(sys, "base_prefix", sys.prefix) or hasattr(sys, "real_prefix")


def choose_python(explicit=None):
    """(interpreter, line to show) for creating the venv; Refused when there is none."""
    if explicit:
        exe = shutil.which(explicit, path=find_python.on_path(os.environ))  # a path too
        if not exe:
            raise Refused("%s was not found on PATH (nor is it an executable file)" % explicit)
        result = find_python.probe(exe)
        if result is None:
            raise Refused("%s does not run (a pyenv shim for a version that is not active? give "
                          "the interpreter's full path)" % explicit)
        if result[1]:
            raise Refused(result[1])
        return exe, "using %s (Python %d.%d.%d), as asked" % ((exe,) + result[0])
    if not check.python_problem(colab=False) and not check.platform_problem():
        return sys.executable, "using %s (Python %d.%d.%d)" % (
            (sys.executable,) + tuple(sys.version_info[:3]))
    exe, message = find_python.find()
    if exe is None:
        raise Refused(message)
    return exe, message


def run(cmd, env=None):
    """Run a command, showing it; Refused if it cannot start or fails."""
    print("+ " + " ".join(cmd), flush=True)
    try:
        status = subprocess.call(cmd, env=env, cwd=REPO)
    except OSError as err:  # not executable, a binary for another machine, a broken shebang
        raise Refused("`%s` could not start (%s)" % (" ".join(cmd), err))
    if status != 0:
        raise Refused("`%s` failed (exit status %d)" % (" ".join(cmd), status))


def prepare_venv(venv, python, explicit):
    """The python of `venv`, created with `python` or reused if it is a venv with pip."""
    venv_python = os.path.join(venv, "bin", "python")
    if not os.path.exists(venv):
        try:
            run([python, "-m", "venv", venv])
        except (Refused, KeyboardInterrupt) as err:
            shutil.rmtree(venv, ignore_errors=True)  # made by this run, so ours to remove
            if isinstance(err, KeyboardInterrupt):
                raise
            raise Refused("%s; the half-made %s was removed (on Debian and Ubuntu, `sudo apt "
                          "install python3-venv` gives Python its venv module)" % (err, venv))
        return venv_python
    if not os.path.isfile(os.path.join(venv, "pyvenv.cfg")):  # what `python -m venv` makes
        raise Refused("%s is not a virtual environment (no pyvenv.cfg): installing there could "
                      "downgrade packages something else needs; give --venv a new folder" % venv)
    result = find_python.probe(venv_python)
    if result is None:
        raise Refused("%s is a broken venv (its python does not run); remove it (make clean) and "
                      "try again" % venv)
    version, problem = result
    if problem:
        raise Refused("%s was made with Python %d.%d: %s Remove it (make clean) and try again"
                      % ((venv,) + version[:2] + (problem,)))
    wanted = explicit and find_python.probe(python)
    if wanted and wanted[0][:2] != version[:2]:
        raise Refused("%s was made with Python %d.%d, not %s; remove it (make clean) to rebuild "
                      "it with that Python" % ((venv,) + version[:2] + (python,)))
    print("reusing %s (Python %d.%d.%d)" % ((venv,) + version))
    # no pip (a creation stopped midway, or `uv venv`): the pip fallback and `pip check` need it
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    if subprocess.call([venv_python, "-c", "import pip"], **quiet) != 0:
        print("%s has no pip; adding it with ensurepip" % venv)
        if subprocess.call([venv_python, "-m", "ensurepip", "--default-pip"], **quiet) != 0:
            raise Refused("%s is a half-made venv (no pip, and ensurepip cannot add one): remove "
                          "it (rm -rf %s) and run make again (on Debian and Ubuntu, first `sudo "
                          "apt install python3-venv`)" % (venv, venv))
    return venv_python


def find_uv(target_python, env):
    """uv on PATH, else in the venv, else the development lock's uv installed there by pip."""
    here = os.path.join(os.path.dirname(target_python), "uv")
    uv = shutil.which("uv", path=find_python.on_path(env)) or shutil.which(here)
    if uv:
        return uv
    try:
        with open(LOCKS["dev"]) as lock:
            pin = re.search(r"^uv==[^\s;]+", lock.read(), re.MULTILINE)
        run([target_python, "-m", "pip", "install", "-q", pin.group() if pin else "uv"], env)
    except (OSError, Refused) as err:
        raise Refused("uv could not be installed (%s)" % err)
    return here  # if pip put none there, running it says so and pip installs instead


def pip_check(target_python, env, version=None):
    """`pip check`, passing only the conflicts requirements/overrides.txt makes on purpose."""
    cmd = [target_python, "-m", "pip", "check"]
    print("+ " + " ".join(cmd), flush=True)
    done = subprocess.run(cmd, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if done.returncode == 0:
        return
    out = done.stdout.decode("utf-8", "replace")
    version = version or (find_python.probe(target_python) or (sys.version_info,))[0]  # target's
    known = KNOWN_CONFLICTS.get(tuple(version[:2]), set())
    found = [CONFLICT.match(line.lower()) for line in out.splitlines() if line.strip()]
    if not found or not all(match and match.groups() in known for match in found):
        sys.stdout.write(out)
        raise Refused("`%s` failed (exit status %d)" % (" ".join(cmd), done.returncode))
    print("pip check: only the %d conflicts requirements/overrides.txt makes on purpose (d2l "
          "1.0.3's pins%s)" % (len(found), ", MXNet's numpy<2" if ("mxnet", "numpy") in known
                               else ""))


def install(lock, target_python, require_venv=True, installer="auto"):
    """The lock (complete: --no-deps) and `utils` with uv, else pip; numpy names; pip check."""
    env = dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1")
    if require_venv:
        env["PIP_REQUIRE_VIRTUALENV"] = "1"
    what = ["--no-deps", "-r", lock, "-e", REPO]  # the lock, and `utils` as an editable package
    with_uv = installer != "pip"
    if with_uv:
        try:
            uv = find_uv(target_python, env)
            run([uv, "pip", "install", "--quiet", "--python", target_python] + what, env)
        except Refused as err:
            if installer == "uv":
                raise
            print("%s; installing with pip instead" % err)
            with_uv = False
    if not with_uv:
        # pip installs an editable pyproject.toml project only from 21.3 on (Ubuntu 20.04's
        # venvs have 20.0); satisfied already, this asks no index
        run([target_python, "-m", "pip", "install", "--quiet", "pip>=21.3"], env)
        run([target_python, "-m", "pip", "install", "--quiet"] + what, env)
    run([target_python, "-m", "utils.setup.venv_link"], env)
    pip_check(target_python, env)


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python3 utils/setup/install.py",
        description="Install the locked learner (default) or development set into a venv.")
    parser.add_argument("--dev", action="store_true",
                        help="the development set: the learner set plus pytest and Playwright")
    parser.add_argument("--venv", default=os.path.join(REPO, ".venv"),
                        help="the virtual environment to create or reuse (default: .venv)")
    parser.add_argument("--python", help="the interpreter to create the venv with "
                                         "(default: this one if supported, else one found)")
    parser.add_argument("--installer", choices=("auto", "uv", "pip"), default="auto",
                        help="auto (default): uv from PATH or the venv, else uv installed from "
                             "PyPI into the venv, else pip")
    parser.add_argument("--this-env", action="store_true",
                        help="install into the Python running this script, if it is a venv "
                             "(or Colab's own Python)")
    args = parser.parse_args(argv)
    lock = LOCKS["dev" if args.dev else "learner"]
    start = time.time()
    try:
        require_venv = not args.this_env or running_in_venv()  # False only on Colab (below)
        if args.this_env:
            if not (require_venv or check.on_colab()):
                raise Refused("%s is not a virtual environment: installing the pinned set there "
                              "could downgrade numpy, pandas and more for everything else that "
                              "uses it. Run without --this-env to get a venv in .venv" % sys.prefix)
            problem = check.platform_problem() or check.python_problem()
            if problem:
                raise Refused(problem)
            target = sys.executable
        else:
            python, message = choose_python(args.python)
            print(message)
            run([python, os.path.join(UTILS, "check.py"), "--python-only"])
            target = prepare_venv(os.path.abspath(args.venv), python, bool(args.python))
        install(lock, target, require_venv, "pip" if args.this_env else args.installer)
        run([target, "-m", "utils.check"])
    except Refused as err:
        print("install.py: %s" % err, file=sys.stderr)
        return 1
    print("installed the %s set (%s) in %.0f s" % (
        "development" if args.dev else "learner", os.path.relpath(lock, REPO),
        time.time() - start))
    return 0


if __name__ == "__main__":
    sys.exit(main())
