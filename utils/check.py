"""Environment check: says which version is wrong and the one command that fixes it.

Run `python -m utils.check` (or `python utils/check.py --python-only` before anything is
installed). Every notebook calls `check_environment()` in its first cell, so a reader with a
broken setup reads one clear line instead of a traceback from deep inside MXNet.

Written for old interpreters too (no walrus, no match): it must be able to *say* that a
Python is unsupported rather than die with a SyntaxError on it.
"""
from __future__ import print_function

import sys

SUPPORTED_PYTHONS = ((3, 8), (3, 9), (3, 10), (3, 11))

# name on PyPI -> (exact pin from requirements.txt, why it matters)
PINNED = {
    "mxnet": ("1.9.1", "the last MXNet release; the notebooks use its 1.x Gluon API"),
    "numpy": ("1.23.5", "MXNet 1.9.1 imports only with numpy<1.24 (1.24 removed np.bool)"),
    "d2l": ("1.0.3", "the book's helper package, for plots, Animator and Timer"),
    "pandas": ("2.0.3", "the version d2l 1.0.3 pins"),
    "matplotlib": ("3.7.2", "the version d2l 1.0.3 pins"),
}


class EnvironmentProblem(RuntimeError):
    """Raised by `check_environment(strict=True)` with every problem found, one per line."""


def python_problem(version_info=None):
    """A one-line explanation if this Python cannot run the collection, else None."""
    major, minor = (version_info or sys.version_info)[:2]
    if (major, minor) in SUPPORTED_PYTHONS:
        return None
    return (
        "Python {}.{} is not supported: MXNet 1.9.1 needs numpy 1.23.5, which has wheels only "
        "for Python 3.8 to 3.11. Install one of those (e.g. `pyenv install 3.11`) and create the "
        "venv with it: `make PYTHON=python3.11`.".format(major, minor)
    )


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


def version_problems(versions=None):
    """One line per package that is missing or not at its pinned version."""
    versions = versions if versions is not None else {n: installed_version(n) for n in PINNED}
    problems = []
    for name, (pin, why) in PINNED.items():
        have = versions.get(name)
        if have is None:
            problems.append(
                "{} is not installed ({}): pip install -r requirements.txt".format(name, why))
        elif have != pin:
            problems.append("{} {} is installed; {}: pip install {}=={}".format(
                name, have, why, name, pin))
    return problems


def import_problem():
    """Try the real import: catches broken wheels that metadata alone cannot see."""
    try:
        import mxnet  # noqa: F401
    except Exception as err:  # report any failure in one line, whatever its type
        return "import mxnet failed ({}: {}); run pip install -r requirements.txt".format(
            type(err).__name__, err)
    return None


def check_environment(strict=True, quiet=False):
    """Print the versions in use; raise EnvironmentProblem listing every problem found."""
    problems = [p for p in [python_problem()] if p]
    versions = {name: installed_version(name) for name in PINNED}
    problems += version_problems(versions)
    if not problems:
        problem = import_problem()
        if problem:
            problems.append(problem)
    if not quiet:
        shown = ", ".join("{} {}".format(n, versions[n] or "missing") for n in PINNED)
        print("Python {}.{}.{}, {}".format(*(sys.version_info[:3] + (shown,))))
    if problems and strict:
        raise EnvironmentProblem("\n".join(problems))
    return problems


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if "--python-only" in argv:
        problem = python_problem()
        if problem:
            print(problem, file=sys.stderr)
            return 1
        return 0
    problems = check_environment(strict=False)
    for problem in problems:
        print("problem: " + problem, file=sys.stderr)
    if not problems:
        print("environment OK")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
