"""Find a Python that can run the collection when `python3` cannot (docs/install-and-pythons.md).

It runs under whatever python3 there is, so: standard library only, no f-strings, check.py
imported as a plain module.
"""
from __future__ import print_function

import contextlib
import glob
import os
import re
import shutil
import signal
import subprocess
import sys

if sys.version_info < (3, 5):  # shutil.which, timeouts, subprocess.run: one line, no traceback
    sys.exit("utils/setup needs Python 3.5 or newer to run (this is Python %d.%d): run it with "
             "python3" % sys.version_info[:2])
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import check  # noqa: E402  (utils/check.py, imported as a plain module: no package needed)

PROBE = ("import platform, struct, sys; print('%d %d %d %s %s %d' % (sys.version_info[:3] + "
         "(platform.system(), platform.machine(), struct.calcsize('P') * 8)))")
MINORS = [minor for _, minor in reversed(check.SUPPORTED_PYTHONS)]  # 13, 12, ..., 8
PROBE_SECONDS = 20  # a real interpreter answers in well under a second, even on a busy machine
VERSION_DIR = re.compile(r"^(?:cpython-)?3\.(\d+)\.(\d+)(?:$|-)")


def answer(cmd, env=None, name=None):
    """Standard output of `cmd` if it exits 0 within PROBE_SECONDS; a hung one is killed."""
    try:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                                start_new_session=True)
        out = proc.communicate(timeout=PROBE_SECONDS)[0]
    except OSError:  # not executable, a binary for another machine, a broken shebang
        return None
    except subprocess.TimeoutExpired:
        with contextlib.suppress(OSError):  # gone already
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        print("%s did not answer within %d s; skipping it" % (name or cmd[0], PROBE_SECONDS),
              file=sys.stderr)
        return None
    return out if proc.returncode == 0 else None


def probe(exe, env=None):
    """(version tuple, problem or None) of interpreter `exe`, or None if it does not run."""
    fields = (answer([exe, "-c", PROBE], env) or b"").decode("ascii", "replace").split()
    try:
        version, bits = tuple(int(f) for f in fields[:3]), int(fields[5])
    except (ValueError, IndexError):  # it ran, but it is no Python answering PROBE
        return None
    return version, (check.python_problem(version, colab=False)
                     or check.platform_problem(fields[3], fields[4], bits))


def version_dirs(root, prefix=""):
    """Interpreters `root`/<prefix><version>/bin/python3, newest supported version first."""
    found = []
    for exe in glob.glob(os.path.join(glob.escape(root), prefix + "*", "bin", "python3")):
        match = VERSION_DIR.match(exe.split(os.sep)[-3])
        if match and int(match.group(1)) in MINORS:
            found.append(((int(match.group(1)), int(match.group(2))), exe))
    return [exe for _, exe in sorted(found, reverse=True)]


def on_path(env):
    """PATH without empty entries, which shutil.which would take for the current folder."""
    return os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p)


def candidates(env):
    """(where, interpreter) pairs in the order they are tried, each once."""
    path, home = on_path(env), env.get("HOME", os.path.expanduser("~"))
    found = [("PATH", shutil.which(name, path=path))
             for name in ["python3"] + ["python3.%d" % m for m in MINORS]]
    pyenv = shutil.which("pyenv", path=path)
    said = pyenv and answer([pyenv, "root"], env, "%s root" % pyenv)
    pyenv_roots = [env.get("PYENV_ROOT"), said and said.decode("utf-8", "replace").strip(),
                   os.path.join(home, ".pyenv")]
    data = env.get("XDG_DATA_HOME") or os.path.join(home, ".local", "share")
    uv_roots = [env.get("UV_PYTHON_INSTALL_DIR"), os.path.join(data, "uv", "python")]
    found += [("pyenv", exe) for root in pyenv_roots if root
              for exe in version_dirs(os.path.join(root, "versions"))]
    found += [("uv", exe) for root in uv_roots if root for exe in version_dirs(root, "cpython-")]
    exes = [exe for _, exe in found]
    return [(where, exe) for i, (where, exe) in enumerate(found) if exe and exes.index(exe) == i]


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
            return exe, "using " + shown + ("" if default else " from %s: %s" % (where, why))
        if default:
            why = "python3 is %s, which MXNet 1.9.1 cannot use" % shown
        rejected.append(shown)
    get = "uv python install 3.12"  # the one command that gets one; uv itself is on PyPI
    if not shutil.which("uv", path=on_path(env)):
        get = ("python3 -m venv ~/.uv-tool && ~/.uv-tool/bin/pip install uv && "
               "~/.uv-tool/bin/" + get)
    return None, ("no Python 3.8 to 3.13 for this platform on PATH, in pyenv or among uv's "
                  "Pythons (found: %s). Get one with: %s  (then run make again)"
                  % (", ".join(rejected) or "none", get))


def main():
    exe, message = find()
    print(message, file=sys.stderr)
    if exe:
        print(exe)
    return 0 if exe else 1


if __name__ == "__main__":
    sys.exit(main())
