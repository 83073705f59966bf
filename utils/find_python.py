"""Find a Python that can run the collection (3.8 to 3.11) when the default one cannot.

Today's systems ship Python 3.12 or newer as `python3`, which MXNet 1.9.1 cannot use (numpy
1.23.5 has no wheels for it). Many of those machines still have an older interpreter around;
this looks for one, newest first, in:

1. `python3`, then `python3.11` down to `python3.8` on PATH;
2. pyenv's versions: `$PYENV_ROOT`, `pyenv root`, ~/.pyenv;
3. Pythons installed by `uv python install`: `$UV_PYTHON_INSTALL_DIR`,
   `$XDG_DATA_HOME/uv/python`, ~/.local/share/uv/python.

Every candidate is run once to ask its version and platform (a pyenv shim can be on PATH and
still fail), and the platform must have an MXNet wheel too (an arm64 Python on a Mac does not).

`python utils/find_python.py` prints the interpreter on stdout and which one it is on stderr;
with none found it exits 1 and prints the one command that gets one. Written for old
interpreters too, like check.py.
"""
from __future__ import print_function

import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check  # noqa: E402  (utils/check.py, imported as a plain module: no package needed)

PROBE = ("import platform, struct, sys; print('%d %d %d %s %s %d' % (sys.version_info[:3] + "
         "(platform.system(), platform.machine(), struct.calcsize('P') * 8)))")
MINORS = [minor for _, minor in reversed(check.SUPPORTED_PYTHONS)]  # 11, 10, 9, 8
VERSION_DIR = re.compile(r"^(?:cpython-)?3\.(\d+)\.(\d+)(?:$|-)")


def which(name, path):
    """Like shutil.which (absent from Python 2): the first executable `name` on `path`."""
    for folder in path.split(os.pathsep):
        exe = os.path.join(folder, name)
        if folder and os.path.isfile(exe) and os.access(exe, os.X_OK):
            return exe
    return None


def probe(exe, env=None):
    """(version tuple, problem or None) of interpreter `exe`, or None if it does not run."""
    try:
        proc = subprocess.Popen([exe, "-c", PROBE], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=env)
        out, _ = proc.communicate()
    except OSError:
        return None
    fields = out.decode("ascii", "replace").split()
    if proc.returncode != 0 or len(fields) != 6:
        return None
    try:
        version = tuple(int(f) for f in fields[:3])
        bits = int(fields[5])
    except ValueError:
        return None
    problem = check.python_problem(version, colab=False) or check.platform_problem(
        fields[3], fields[4], bits)
    return version, problem


def version_dirs(root, prefix_ok):
    """Interpreters under `root`/<version>/bin/python3, newest supported version first."""
    found = []
    try:
        names = os.listdir(root)
    except OSError:
        return found
    for name in names:
        match = VERSION_DIR.match(name)
        if not match or not prefix_ok(name):
            continue
        minor, micro = int(match.group(1)), int(match.group(2))
        if minor in MINORS:
            found.append(((minor, micro), os.path.join(root, name, "bin", "python3")))
    return [exe for _, exe in sorted(found, reverse=True)]


def pyenv_roots(env):
    roots = [env.get("PYENV_ROOT")]
    pyenv = which("pyenv", env.get("PATH", ""))
    if pyenv:
        try:
            out = subprocess.Popen([pyenv, "root"], stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, env=env).communicate()[0]
            roots.append(out.decode("utf-8", "replace").strip())
        except OSError:
            pass
    roots.append(os.path.join(env.get("HOME", os.path.expanduser("~")), ".pyenv"))
    return [r for r in roots if r]


def uv_dirs(env):
    home = env.get("HOME", os.path.expanduser("~"))
    data = env.get("XDG_DATA_HOME") or os.path.join(home, ".local", "share")
    return [d for d in (env.get("UV_PYTHON_INSTALL_DIR"), os.path.join(data, "uv", "python")) if d]


def candidates(env):
    """(where, interpreter) pairs in the order they are tried; duplicates removed."""
    path = env.get("PATH", "")
    found = [("PATH", which(name, path))
             for name in ["python3"] + ["python3.%d" % m for m in MINORS]]
    for root in pyenv_roots(env):
        found += [("pyenv", exe) for exe in version_dirs(os.path.join(root, "versions"),
                                                          lambda name: True)]
    for root in uv_dirs(env):
        found += [("uv", exe) for exe in version_dirs(root, lambda n: n.startswith("cpython-"))]
    seen, unique = set(), []
    for where, exe in found:
        if exe and exe not in seen:
            seen.add(exe)
            unique.append((where, exe))
    return unique


def how_to_get_one(env):
    """The one command that installs a supported Python, with uv from PyPI if it is missing."""
    if which("uv", env.get("PATH", "")):
        return "uv python install 3.11"
    return ("python3 -m venv ~/.uv-tool && ~/.uv-tool/bin/pip install uv && "
            "~/.uv-tool/bin/uv python install 3.11")


def find(env=None):
    """(interpreter, one line saying which and why) or (None, what to do)."""
    env = dict(os.environ if env is None else env)
    why = "there is no python3 on PATH"  # until the PATH's python3 says otherwise
    rejected = []
    for where, exe in candidates(env):
        default = where == "PATH" and os.path.basename(exe) == "python3"
        result = probe(exe, env)
        if result is None:
            if default:
                why = "python3 on PATH (%s) did not run" % exe
            continue
        version, problem = result
        shown = "%s (Python %d.%d.%d)" % ((exe,) + version)
        if problem is None:
            if default:
                return exe, "using %s" % shown
            return exe, "using %s from %s: %s" % (shown, where, why)
        if default:
            why = "python3 is %s, which MXNet 1.9.1 cannot use" % shown
        rejected.append(shown)
    seen = ", ".join(rejected) if rejected else "none"
    return None, ("no Python 3.8 to 3.11 for this platform on PATH, in pyenv or among uv's "
                  "Pythons (found: %s). Get one with: %s  (then run make again)"
                  % (seen, how_to_get_one(env)))


def main():
    exe, message = find()
    print(message, file=sys.stderr)
    if exe is None:
        return 1
    print(exe)
    return 0


if __name__ == "__main__":
    sys.exit(main())
