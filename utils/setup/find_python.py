"""Find a Python that can run the collection (3.8 to 3.13) when the default one cannot.

MXNet 1.9.1 runs on Python 3.8 to 3.13 (3.12 and 3.13 with numpy's removed names put back);
a newer `python3` (3.14), an older one or one for a platform without MXNet wheels cannot.
This then looks for a supported interpreter, newest first, in:

1. `python3`, then `python3.13` down to `python3.8` on PATH;
2. pyenv's versions: `$PYENV_ROOT`, `pyenv root`, ~/.pyenv;
3. Pythons installed by `uv python install`: `$UV_PYTHON_INSTALL_DIR`,
   `$XDG_DATA_HOME/uv/python`, ~/.local/share/uv/python.

Every candidate is run once to ask its version and platform (a pyenv shim can be on PATH and
still fail), within PROBE_SECONDS (one that does not answer is named and skipped), and the
platform must have an MXNet wheel too (an arm64 Python on a Mac does not).

`python utils/setup/find_python.py` prints the interpreter on stdout and which one it is on stderr;
with none found it exits 1 and prints the one command that gets one. Written for old
interpreters too, like check.py.
"""
from __future__ import print_function

import os
import re
import signal
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import check  # noqa: E402  (utils/check.py, imported as a plain module: no package needed)

PROBE = ("import platform, struct, sys; print('%d %d %d %s %s %d' % (sys.version_info[:3] + "
         "(platform.system(), platform.machine(), struct.calcsize('P') * 8)))")
MINORS = [minor for _, minor in reversed(check.SUPPORTED_PYTHONS)]  # 13, 12, ..., 8
PROBE_SECONDS = 20  # a real interpreter answers in well under a second, even on a busy machine
VERSION_DIR = re.compile(r"^(?:cpython-)?3\.(\d+)\.(\d+)(?:$|-)")


def which(name, path):
    """Like shutil.which (absent from Python 2): the first executable `name` on `path`."""
    for folder in path.split(os.pathsep):
        exe = os.path.join(folder, name)
        if folder and os.path.isfile(exe) and os.access(exe, os.X_OK):
            return exe
    return None


def bounded(cmd, env=None, limit=None):
    """(exit status, stdout bytes, timed out?) of `cmd`, stopped after `limit` seconds.

    An interpreter or pyenv that never answers (a hung shim, a stalled network folder) would
    otherwise stop the whole search. The command runs in its own process group, so a shim's
    children are stopped with it; threading.Timer works on every Python this runs on."""
    limit = PROBE_SECONDS if limit is None else limit
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                            preexec_fn=os.setsid)
    fired = []

    def stop():
        fired.append(True)
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            pass

    timer = threading.Timer(limit, stop)
    timer.daemon = True
    timer.start()
    try:
        out, _ = proc.communicate()
    finally:
        timer.cancel()
    return proc.returncode, out, bool(fired)


def probe(exe, env=None):
    """(version tuple, problem or None) of interpreter `exe`, or None if it does not run.

    An interpreter that does not answer within PROBE_SECONDS is named on stderr and skipped."""
    try:
        status, out, late = bounded([exe, "-c", PROBE], env)
    except OSError:
        return None
    if late:
        print("%s did not answer within %d s; skipping it" % (exe, PROBE_SECONDS),
              file=sys.stderr)
        return None
    fields = out.decode("ascii", "replace").split()
    if status != 0 or len(fields) != 6:
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
            status, out, late = bounded([pyenv, "root"], env)
        except OSError:
            status, out, late = 1, b"", False
        if late:
            print("%s root did not answer within %d s; skipping it" % (pyenv, PROBE_SECONDS),
                  file=sys.stderr)
        elif status == 0:
            roots.append(out.decode("utf-8", "replace").strip())
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
        return "uv python install 3.12"
    return ("python3 -m venv ~/.uv-tool && ~/.uv-tool/bin/pip install uv && "
            "~/.uv-tool/bin/uv python install 3.12")


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
    return None, ("no Python 3.8 to 3.13 for this platform on PATH, in pyenv or among uv's "
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
