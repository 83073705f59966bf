"""Arm MXNet's numpy names at every start of a venv's Python (3.12+): what no installer does.

`.venv/bin/python -m utils.setup.venv_link` (the installer runs it) writes the hook and the .pth
that arms it into that Python's site-packages, or on 3.8-3.11 removes both; a Python that is not
a venv is refused (Colab's aside). Why and what exactly: docs/install-and-pythons.md.
"""
import os
import sys
import sysconfig

from utils import write_atomically
from utils.setup.mxnet_numpy_compat import ENABLED_FROM

HERE = os.path.dirname(os.path.abspath(__file__))  # utils/setup
PTH = "d2l_mxnet_notebooks.pth"
HOOK = "mxnet_numpy_compat.py"
HOOK_LINE = "import mxnet_numpy_compat; mxnet_numpy_compat.install()\n"


def write_whole(path, text):
    """Whole or not at all, through the collection's one atomic write."""
    write_atomically(path, lambda tmp: tmp.write_text(text))


def link(site_packages=None, version_info=None):
    """Write the hook and its .pth into `site_packages` on 3.12+ (returns the .pth's path), or
    remove them on 3.8-3.11 (returns None)."""
    site_packages = site_packages or sysconfig.get_paths()["purelib"]
    hook, pth = os.path.join(site_packages, HOOK), os.path.join(site_packages, PTH)
    if tuple((version_info or sys.version_info)[:2]) < ENABLED_FROM:
        for path in filter(os.path.exists, (pth, hook)):
            os.remove(path)
        return None
    with open(os.path.join(HERE, HOOK)) as source:
        write_whole(hook, source.read())
    write_whole(pth, HOOK_LINE)
    return pth


def main():
    from utils.check import on_colab

    if sys.prefix == getattr(sys, "base_prefix", sys.prefix) and not on_colab():
        print("venv_link: %s is not a virtual environment, so its site-packages are not ours to "
              "change; run this with the venv's python (.venv/bin/python -m utils.setup.venv_link)"
              " or run make" % sys.executable, file=sys.stderr)
        return 1
    pth = link()
    print("MXNet's numpy names armed at every start of %s (%s)" % (sys.executable, pth) if pth else
          "Python %d.%d: numpy has every name MXNet uses; nothing to arm" % sys.version_info[:2])
    return 0


if __name__ == "__main__":
    sys.exit(main())
