"""Run one student's submission as a process of its own, limited (used by utils/course/grade.py).

The limits (time, memory, processes; with bubblewrap, a read-only file system but for the scratch
folder) and what they do not stop: docs/instructors.md.
"""
import contextlib
import functools
import os
import resource
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from utils import REPO_ROOT

UNPRIVILEGED = 65534  # nobody / nogroup on Debian
MEMORY_MB = 6144      # MXNet maps about 2 GB of address space before it does anything
PROCESSES = 512       # MXNet, OpenMP and the kernel's threads count too


def isolated():
    """True when bubblewrap (Debian's `bwrap`) is there to make the file system read-only."""
    return bool(shutil.which("bwrap"))


def limit(memory_mb, processes):
    """Run in the child before the submission (its own session already: a timeout kills it all)."""
    size = memory_mb * 2 ** 20
    resource.setrlimit(resource.RLIMIT_AS, (size, size))
    resource.setrlimit(resource.RLIMIT_NPROC, (processes, processes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def bwrap(command, scratch):
    """`command` inside bubblewrap: everything read-only but `scratch`, a /tmp of its own, its
    own PID namespace (all its processes die with it) and, as root, the user `nobody`."""
    wrapped = ["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
               "--tmpfs", "/tmp", "--unshare-pid", "--die-with-parent"]
    root = os.geteuid() == 0
    if root:
        # /root is closed to nobody: give the sandbox an open /root holding only what it runs
        needed = {Path(p).resolve() for p in (sys.base_prefix, sys.prefix, REPO_ROOT,
                                              os.environ.get("KAGGLE_HOUSE_DIR", REPO_ROOT))}
        wrapped += ["--perms", "0755", "--tmpfs", "/root"]
        for path in sorted(p for p in needed if Path("/root") in p.parents and p.exists()):
            for parent in reversed(path.parents):  # bwrap makes missing parents 0700
                if Path("/root") in parent.parents:
                    wrapped += ["--perms", "0755", "--dir", str(parent)]
            wrapped += ["--ro-bind", str(path), str(path)]
    wrapped += ["--bind", str(scratch), str(scratch), "--chdir", str(scratch)]
    if not root:
        return wrapped + list(command)
    # RLIMIT_NPROC does not bind root; nobody has no capabilities, so cannot remount writable
    return wrapped + ["setpriv", f"--reuid={UNPRIVILEGED}", f"--regid={UNPRIVILEGED}",
                      "--clear-groups", "--bounding-set=-all", "--inh-caps=-all",
                      "--no-new-privs", "--", *command]


def run(command, scratch, env, timeout, memory_mb=MEMORY_MB, processes=PROCESSES):
    """Run `command` in `scratch` with the limits above; (exit status or None on timeout, stderr).

    `scratch` must hold only what the run needs: as root it is handed to `nobody`.
    """
    scratch = Path(scratch).resolve()
    env = dict(env, HOME=str(scratch), TMPDIR=str(scratch / "tmp"),
               JUPYTER_RUNTIME_DIR=str(scratch / "tmp" / "runtime"),
               IPYTHONDIR=str(scratch / "tmp" / "ipython"),
               MPLCONFIGDIR=str(scratch / "tmp" / "matplotlib"))
    (scratch / "tmp").mkdir(exist_ok=True)
    if isolated():
        if os.geteuid() == 0:
            for path in [scratch, *scratch.rglob("*")]:
                os.chown(path, UNPRIVILEGED, UNPRIVILEGED)
        command = bwrap(command, scratch)
    log = scratch / "stderr.txt"
    with open(log, "wb") as err:
        proc = subprocess.Popen(command, cwd=scratch, env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=err, start_new_session=True,
                                preexec_fn=functools.partial(limit, memory_mb, processes))
        try:
            status = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            status = None
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # the kernel and anything else it left
            proc.wait()
    return status, log.read_text(encoding="utf-8", errors="replace")
