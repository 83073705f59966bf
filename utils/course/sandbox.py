"""Run one student's submission as a process of its own, limited (used by utils/course/grade.py).

What stops what (docs/instructors.md says the same, and what it does not stop):
* time: the whole run is killed after `timeout` seconds;
* memory: RLIMIT_AS caps the address space of the grading process and the kernel it starts, so
  a submission that allocates without end gets a MemoryError (or dies) instead of the machine
  swapping;
* files: the run's working folder, $HOME and $TMPDIR are a scratch folder. With bubblewrap
  (`apt-get install bubblewrap`; CI installs it) the whole file system is mounted read-only
  for the run but for that folder, /tmp is a private empty one, and the run has a PID
  namespace of its own (everything it forks dies with it); as root it also drops to the user
  `nobody` without capabilities (setpriv), so it cannot remount anything writable. Without
  bubblewrap only the limits below hold: the run can write wherever its user can;
* processes: RLIMIT_NPROC caps the processes and threads of the run's user. It counts per user
  and never binds root, which is why a root run drops to `nobody`.
"""
import os
import resource
import shutil
import signal
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
UNPRIVILEGED = 65534  # nobody / nogroup on Debian
MEMORY_MB = 6144      # MXNet maps about 2 GB of address space before it does anything
PROCESSES = 512       # MXNet, OpenMP and the kernel's threads count too


def isolated():
    """True when bubblewrap (Debian's `bwrap`) is there to make the file system read-only."""
    return bool(shutil.which("bwrap"))


def limits(memory_mb, processes):
    """The preexec function: rlimits set in the child before it runs the submission."""
    def apply():
        os.setsid()  # its own process group: a timeout kills the whole group
        size = memory_mb * 2 ** 20
        resource.setrlimit(resource.RLIMIT_AS, (size, size))
        resource.setrlimit(resource.RLIMIT_NPROC, (processes, processes))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    return apply


def bwrap(command, scratch):
    """`command` inside bubblewrap: everything read-only but `scratch`, a /tmp of its own, its
    own PID namespace (all its processes die with it) and, as root, the user `nobody`."""
    wrapped = ["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
               "--tmpfs", "/tmp", "--unshare-pid", "--die-with-parent"]
    if os.geteuid() == 0:
        # /root is closed to nobody: give the sandbox an open /root holding only what it runs
        needed = {Path(p).resolve() for p in (sys.base_prefix, sys.prefix, REPO_ROOT)}
        needed |= {Path(os.environ[v]).resolve() for v in ("KAGGLE_HOUSE_DIR",) if v in os.environ}
        wrapped += ["--perms", "0755", "--tmpfs", "/root"]
        made = {Path("/root")}
        for path in sorted(p for p in needed if Path("/root") in p.parents and p.exists()):
            for parent in sorted(set(path.parents) - made - set(Path("/root").parents)):
                wrapped += ["--perms", "0755", "--dir", str(parent)]  # bwrap's default: 0700
                made.add(parent)
            wrapped += ["--ro-bind", str(path), str(path)]
    wrapped += ["--bind", str(scratch), str(scratch), "--chdir", str(scratch)]
    if os.geteuid() == 0:  # RLIMIT_NPROC does not bind root; nobody has no capabilities
        wrapped += ["setpriv", f"--reuid={UNPRIVILEGED}", f"--regid={UNPRIVILEGED}",
                    "--clear-groups", "--bounding-set=-all", "--inh-caps=-all",
                    "--no-new-privs"]
    return wrapped + ["--", *command] if os.geteuid() == 0 else wrapped + list(command)


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
                                stdout=subprocess.DEVNULL, stderr=err,
                                preexec_fn=limits(memory_mb, processes))
        try:
            status = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            status = None
        finally:
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # the kernel and anything else it left
            except ProcessLookupError:
                pass
            proc.wait()
    return status, log.read_text(encoding="utf-8", errors="replace")
