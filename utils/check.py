"""Environment check: says which version is wrong and the one command that fixes it.

Run `python -m utils.check` (or `python utils/check.py --python-only` before anything is
installed: it checks the Python and the platform, so pip never gets to fail with a bare list
of versions). Every notebook calls `check_environment()` in its first cell, so a reader with a
broken setup reads one clear line instead of a traceback from deep inside MXNet.

Written for old interpreters too (no walrus, no match): it must be able to *say* that a
Python is unsupported rather than die with a SyntaxError on it.
"""
from __future__ import print_function

import os
import platform
import struct
import sys

SUPPORTED_PYTHONS = ((3, 8), (3, 9), (3, 10), (3, 11), (3, 12), (3, 13))
# MXNet 1.9.1 runs there only with numpy's removed names put back (utils/setup/mxnet_numpy_compat.py)
PYTHONS_WITH_ALIASES = ((3, 12), (3, 13))

# (platform.system(), platform.machine()) pairs MXNet 1.9.1 publishes wheels for on PyPI
WHEEL_PLATFORMS = (("Linux", "x86_64"), ("Linux", "aarch64"), ("Darwin", "x86_64"))
INSTALL_HINT = "python3 utils/setup/install.py (or make)"
COLAB_HINT = "run the notebook's first cell again (it installs MXNet and d2l on Colab)"
COLAB_FILE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                          "requirements", "colab.txt")
# on Colab these stay at Colab's own versions: the first cell installs MXNet and d2l only
COLAB_OWN = ("numpy", "pandas", "matplotlib", "scikit-learn")
LINK_HINT = "python -m utils.setup.venv_link (run from the repository root with the venv's python), or make"

_WHY_NUMPY = {
    "1.23.5": "MXNet 1.9.1 imports only with numpy<1.24 (1.24 removed np.bool)",
    "1.26.4": "the last numpy 1.x, the one with Python 3.12 wheels (np.bool is put back for MXNet)",
    "2.2.6": "numpy 2 is the only one with Python 3.13 wheels (about 20 removed names are put "
             "back for MXNet)",
}


def on_colab():
    """True on Google Colab: its `google.colab` module is importable only there, and Colab
    sets COLAB_RELEASE_TAG."""
    if "google.colab" in sys.modules or "COLAB_RELEASE_TAG" in os.environ:
        return True
    try:
        from importlib.util import find_spec
        return find_spec("google.colab") is not None
    except (ImportError, ValueError):  # no `google` package at all
        return False


def pins_for(version_info=None, colab=False):
    """{name on PyPI: (exact pin for this Python, why it matters)}: requirements/learner.txt's,
    or on Colab (colab=True) Colab's own numpy, pandas, matplotlib and scikit-learn."""
    minor = tuple((version_info or sys.version_info)[:2])
    numpy = "1.23.5" if minor < (3, 12) else "1.26.4" if minor == (3, 12) else "2.2.6"
    old = minor < (3, 12)  # d2l 1.0.3's own pins have wheels only up to Python 3.11
    pins = {
        "mxnet": ("1.9.1", "the last MXNet release; the notebooks use its 1.x Gluon API"),
        "numpy": (numpy, _WHY_NUMPY[numpy]),
        "d2l": ("1.0.3", "the book's helper package, for plots, Animator and Timer"),
        "pandas": ("2.0.3" if old else "2.2.3",
                   "the version d2l 1.0.3 pins" if old else
                   "the first pandas 2 with wheels for Python 3.12 and 3.13"),
        "matplotlib": ("3.7.2" if old else "3.9.4",
                       "the version d2l 1.0.3 pins" if old else
                       "a matplotlib with wheels for Python 3.12 and 3.13"),
        "scikit-learn": ("1.3.2" if minor < (3, 13) else "1.5.2",
                         "notebook 2's comparison; the locked version for this Python"),
    }
    if colab:  # Colab's own versions, which the first cell keeps (no downgrade, no restart)
        try:
            _, taken, published = colab_runtime()
        except (OSError, ValueError) as err:  # a copy without requirements/: the lock's pins
            print("note: Colab's recorded versions unreadable ({}); checking the lock's".format(
                err), file=sys.stderr)
            return pins
        for name in COLAB_OWN:
            if name in published:
                pins[name] = (published[name], "Colab's own as of {} (requirements/colab.txt), "
                              "with which CI's Colab simulation passes every notebook's "
                              "checks".format(taken))
    return pins


def colab_runtime(path=None):
    """(Python 'major.minor', date taken, {package: version}) from requirements/colab.txt.

    The one file recording Colab's published runtime; pinned lines are Colab's versions."""
    python = taken = None
    pins = {}
    with open(path or COLAB_FILE) as lines:
        for line in lines:
            line = line.strip()
            if line.startswith("# python:"):
                python = line.split(":", 1)[1].strip()
            elif line.startswith("# taken:"):
                taken = line.split(":", 1)[1].strip()
            elif line and not line.startswith("#") and "==" in line:
                name, version = line.split("==", 1)
                pins[name.strip().lower()] = version.strip()
    if not (python and taken and pins):
        raise ValueError("{} lacks a '# python:' or '# taken:' line, or pins".format(
            path or COLAB_FILE))
    return python, taken, pins


PINNED = pins_for(colab=on_colab())
# what the notebooks import, checked by importing it: (module, name on PyPI); d2l last, as it
# imports the others (a broken pandas is named as pandas, not as d2l)
IMPORTS = (("mxnet", "mxnet"), ("pandas", "pandas"), ("matplotlib.pyplot", "matplotlib"),
           ("sklearn", "scikit-learn"), ("d2l.mxnet", "d2l"))


class EnvironmentProblem(RuntimeError):
    """Raised by `check_environment(strict=True)` with every problem found, one per line."""


def python_problem(version_info=None, colab=None):
    """A one-line explanation if this Python cannot run the collection, else None."""
    major, minor = (version_info or sys.version_info)[:2]
    if (major, minor) in SUPPORTED_PYTHONS:
        return None
    where = ("On Colab, switch to a runtime version whose Python is 3.8 to 3.13 (Runtime > "
             "Change runtime type)." if (on_colab() if colab is None else colab) else
             "`make` looks for one by itself (python3.13 to python3.8 on PATH, pyenv, uv); "
             "if you have none: `uv python install 3.12`.")
    return (
        "Python {}.{} is not supported: MXNet 1.9.1 runs only with numpy 1.23.5 (Python 3.8 "
        "to 3.11), 1.26.4 (3.12) or 2.2 (3.13), each with the wheels for its Python. {}".format(
            major, minor, where)
    )


def platform_problem(system=None, machine=None, pointer_bits=None):
    """A one-line explanation if MXNet 1.9.1 has no wheel for this platform, else None.

    Checked before pip runs: without a wheel pip only says `from versions: ... 1.7.0.post2`.
    Under Rosetta 2 an x86_64 Python reports machine x86_64, which is the route that works.
    """
    system = platform.system() if system is None else system
    machine = platform.machine() if machine is None else machine
    bits = struct.calcsize("P") * 8 if pointer_bits is None else pointer_bits
    if system == "Windows" or system.upper().startswith(("CYGWIN", "MSYS", "MINGW")):
        return ("native Windows ({} {}) is not supported: MXNet 1.9.1 has no Windows wheel. Use "
                "WSL2 (`wsl --install` gives Ubuntu) and run the same commands inside "
                "it.".format(system, machine))
    if system == "Darwin" and machine.lower() in ("arm64", "aarch64"):
        return ("macOS on Apple Silicon: MXNet 1.9.1 has no arm64 wheel. Use an x86_64 Python "
                "under Rosetta 2, e.g. python.org's installer's python3.11-intel64: "
                "`make PYTHON=python3.11-intel64` (or `uv python install "
                "cpython-3.11-macos-x86_64`).")
    if (system, machine) in WHEEL_PLATFORMS and bits == 64:
        return None
    if (system, machine) in WHEEL_PLATFORMS:
        return ("this is a {}-bit Python on {} {}: MXNet 1.9.1's wheels are 64-bit; install a "
                "64-bit Python 3.8 to 3.13.".format(bits, system, machine))
    return ("{} {} is not supported: MXNet 1.9.1 has wheels only for Linux x86_64 and aarch64 "
            "and macOS x86_64 (Intel, or Rosetta 2 on Apple Silicon).".format(
                system or "this system", machine or "(unknown machine)"))


def installed_version(name):
    """The installed distribution's version, or None, without importing the package."""
    try:
        from importlib import metadata
    except ImportError:  # Python < 3.8: python_problem() already reports it
        return None
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def version_problems(versions=None, pins=None, colab=None):
    """One line per package that is missing or not at its pinned version.

    On Colab a version of Colab's own packages other than the recorded one is no problem
    (colab_notices names it): asking for a downgrade would force a restart."""
    pins = PINNED if pins is None else pins
    colab = on_colab() if colab is None else colab
    versions = versions if versions is not None else {n: installed_version(n) for n in pins}
    hint = COLAB_HINT if colab else INSTALL_HINT
    problems = []
    for name, (pin, why) in pins.items():
        have = versions.get(name)
        if have is None:
            problems.append("{} is not installed ({}): {}".format(name, why, hint))
        elif have != pin and not (colab and name in COLAB_OWN):
            problems.append("{} {} is installed; {}: {}".format(
                name, have, why, hint if colab else "pip install {}=={}".format(name, pin)))
    return problems


def colab_notices(versions=None, pins=None):
    """On Colab, one line per Colab package whose version moved since requirements/colab.txt."""
    pins = PINNED if pins is None else pins
    versions = versions if versions is not None else {n: installed_version(n) for n in pins}
    return ["{} {} is Colab's now; CI proved the notebooks with {} ({}). If a check fails, "
            "say so in an issue".format(name, versions[name], pins[name][0],
                                        os.path.relpath(COLAB_FILE, os.path.dirname(
                                            os.path.dirname(COLAB_FILE))))
            for name in COLAB_OWN
            if name in pins and versions.get(name) not in (None, pins[name][0])]


def hook_problem(version_info=None, modules=None):
    """On Python 3.12+, a line if the venv's .pth did not arm the numpy names for MXNet."""
    if tuple((version_info or sys.version_info)[:2]) not in PYTHONS_WITH_ALIASES:
        return None
    if "mxnet_numpy_compat" in (sys.modules if modules is None else modules):
        return None
    return ("the numpy compatibility hook for MXNet is not installed in this environment "
            "(MXNet 1.9.1 needs numpy's removed names on Python 3.12+): " +
            (COLAB_HINT if on_colab() else LINK_HINT))


def import_problems(imports=IMPORTS):
    """Import what the notebooks import: catches broken wheels that metadata cannot see.

    One line per package that fails, naming it and the reinstall that fixes it; d2l only if
    what it imports did import."""
    import importlib

    problems = []
    for module, dist in imports:
        if dist == "d2l" and problems:
            continue
        try:
            importlib.import_module(module)
        except Exception as err:  # any failure, whatever its type, in one line
            detail = str(err).strip().splitlines()
            problems.append("import {} failed ({}: {}); reinstall it: {}".format(
                module, type(err).__name__, detail[0] if detail else "",
                COLAB_HINT if on_colab() else INSTALL_HINT))
    return problems


def environment_problems():
    """Every problem found, one line each: platform, Python, versions, hook, real imports."""
    problems = [p for p in [platform_problem(), python_problem()] if p]
    problems += version_problems({name: installed_version(name) for name in PINNED})
    if not problems:
        problems += [p for p in [hook_problem()] if p] or import_problems()
    return problems


def check_environment(strict=True, quiet=False):
    """Print the versions in use; raise EnvironmentProblem listing every problem found.

    Returns None (a notebook's first cell shows no `Out[1]`); with strict=False the problems
    are printed instead of raised."""
    problems = environment_problems()
    if not quiet:
        shown = ", ".join("{} {}".format(n, installed_version(n) or "missing") for n in PINNED)
        print("Python {}.{}.{}, {}{}".format(*(sys.version_info[:3] + (
            shown, " (Colab: its own numpy, pandas, matplotlib, scikit-learn)"
            if on_colab() else ""))))
        if on_colab():
            for notice in colab_notices():
                print("note: " + notice)
    if problems and strict:
        raise EnvironmentProblem("\n".join(problems))
    for problem in problems:
        print("problem: " + problem, file=sys.stderr)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if "--python-only" in argv:  # before pip: the platform and the Python, nothing imported
        problems = [p for p in (platform_problem(), python_problem()) if p]
        for problem in problems:
            print(problem, file=sys.stderr)
        return 1 if problems else 0
    problems = environment_problems()
    check_environment(strict=False)
    if not problems:
        print("environment OK")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
