"""Shared code for the companion notebooks: data, training loops, plots, environment checks.

Kept import-light on purpose: `python -m utils.check` must run before MXNet is installed.
"""
import os
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent  # the checkout: data/, exports/, notebooks/


def write_atomically(target, write, aside=None, mode=0o644):
    """write(temp path), then rename it to `target`: readers never see a half-written file.

    The one atomic write of the collection (data downloads, submissions, exports, benchmark
    summaries). The temp file is new and uniquely named (O_EXCL: never a planted symlink, never
    another process's temp file), in `aside` (default: target's folder, same filesystem), and
    removed when anything fails, Ctrl-C included. `mode`: 0o600 for what only its owner may
    read (a gradebook). Returns `target`.
    """
    target = Path(target)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp",
                               dir=aside or target.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, mode)  # mkstemp creates 0600; what we write is for reading
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass  # the folder went away or read-only: nothing more to remove
        raise
    return target
