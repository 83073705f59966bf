"""Link this repository into the Python that runs this module (a venv), at its start-up.

Writes two things into that Python's site-packages (the installer runs it with the venv's
python; `python -m utils.setup.venv_link` from the repository root does it by hand):

- `d2l_mxnet_notebooks.pth`: its first line puts the repository root on `sys.path`, so
  `import utils` works in a kernel started from any folder (papermill from /tmp, a notebook
  copied elsewhere); on Python 3.12+ its second line arms the numpy hook below.
- `mxnet_numpy_compat.py`, a copy of utils/setup/mxnet_numpy_compat.py: it puts back the numpy names
  MXNet 1.9.1 needs, when `mxnet` is imported, so a learner's own notebook in that venv doing
  `from mxnet import nd` works too. On Python 3.8 to 3.11 the .pth has only the path line.

Written for old interpreters too, like check.py.
"""
from __future__ import print_function

import os
import shutil
import sys
import sysconfig

HERE = os.path.dirname(os.path.abspath(__file__))  # utils/setup
REPO = os.path.dirname(os.path.dirname(HERE))
PTH = "d2l_mxnet_notebooks.pth"
HOOK = "mxnet_numpy_compat.py"
HOOK_LINE = "import mxnet_numpy_compat; mxnet_numpy_compat.install()"


def pth_text(repo=REPO, version_info=None):
    lines = [repo]
    if tuple((version_info or sys.version_info)[:2]) >= (3, 12):
        lines.append(HOOK_LINE)
    return "\n".join(lines) + "\n"


def link(site_packages=None, repo=REPO, version_info=None):
    """Write the .pth (and the hook on 3.12+) into `site_packages`; returns the .pth's path."""
    site_packages = site_packages or sysconfig.get_paths()["purelib"]
    hook = os.path.join(site_packages, HOOK)
    if tuple((version_info or sys.version_info)[:2]) >= (3, 12):
        shutil.copyfile(os.path.join(HERE, HOOK), hook + ".tmp")
        os.replace(hook + ".tmp", hook)
    elif os.path.exists(hook):
        os.remove(hook)
    pth = os.path.join(site_packages, PTH)
    with open(pth + ".tmp", "w") as out:
        out.write(pth_text(repo, version_info))
    os.replace(pth + ".tmp", pth)
    return pth


def main():
    pth = link()
    print("linked %s into %s" % (REPO, pth))
    return 0


if __name__ == "__main__":
    sys.exit(main())
