"""Google Colab (and other hosted runtimes) as a place the notebooks run, from their first cell.

Every notebook's first cell makes `utils` importable (walking up from the notebook's folder;
on Colab, a notebook opened from GitHub arrives alone, so the cell shallow-clones this
collection into /content first, or uses a copy already there) and then calls `set_up()`:

- off Colab it does nothing (a `make` venv already has everything);
- on Colab it installs MXNet 1.9.1 and d2l 1.0.3 with `pip install --no-deps`, so none of
  Colab's own packages (numpy, pandas, matplotlib, scikit-learn, scipy, ipykernel...) is
  replaced and no restart is needed; it puts back the numpy names MXNet needs, in this kernel
  and, through the same .pth and hook a venv gets (venv_link), in every later one; then the
  cell's `check_environment()` accepts Colab's versions as recorded in requirements/colab.txt.

REPOSITORY is the one setting for where the collection is fetched from: the first cells and
the "Open in Colab" links (docs/colab.md, docs/zh/colab.md) carry copies of it, which
`python -m utils.setup.colab --address NEW` rewrites and tests/test_colab.py checks. The
environment variable D2L_NOTEBOOKS_REPO overrides it at run time (CI's Colab simulation
points it at a local clone).
"""
import importlib
import os
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

from utils import check
from utils.setup import venv_link

REPOSITORY = "https://github.com/d2l-mxnet-notebooks/d2l-mxnet-notebooks"
REPO_ENV = "D2L_NOTEBOOKS_REPO"
ROOT = Path(__file__).resolve().parents[2]
# what the first cell installs on Colab, at the versions check.py pins (nothing else)
INSTALLS = ("mxnet", "d2l")
REPO_PTH = "d2l_mxnet_notebooks_colab.pth"  # the clone on every later kernel's sys.path
# files holding copies of REPOSITORY: every notebook's first cell and the Colab pages
ADDRESS_FILES = ("notebooks/*.ipynb", "notebooks/zh/*.ipynb", "docs/colab.md",
                 "docs/zh/colab.md", "README.md", "README.zh.md")


def address():
    """Where the first cell clones from: $D2L_NOTEBOOKS_REPO, else REPOSITORY."""
    return os.environ.get(REPO_ENV) or REPOSITORY


def missing_installs(versions=None):
    """`name==version` for each of MXNet and d2l not installed at check.py's pin."""
    versions = versions if versions is not None else {
        name: check.installed_version(name) for name in INSTALLS}
    return ["%s==%s" % (name, check.PINNED[name][0]) for name in INSTALLS
            if versions.get(name) != check.PINNED[name][0]]


def install(requirements, python=None):
    """pip install --no-deps: MXNet declares numpy<2 and d2l pins numpy 1.23.5, matplotlib
    3.7.2 and pandas 2.0.3; with their dependencies pip would downgrade Colab's and force a
    restart. Colab's packages cover what the notebooks import from them."""
    if not requirements:
        return
    subprocess.run([python or sys.executable, "-m", "pip", "install", "--quiet",
                    "--disable-pip-version-check", "--no-deps"] + list(requirements),
                   check=True)
    importlib.invalidate_caches()  # this kernel sees the new packages without a restart


def arm_numpy_names(site_packages=None):
    """MXNet's numpy names and `utils` for this kernel and every later one, in Colab's own Python.

    Colab has no venv and no editable install of ours: a .pth puts the clone on every later
    kernel's path (a restart, another notebook), and venv_link's hook .pth arms the names on
    3.12+; this kernel arms the hook now, as the .pth would have. Returns the clone's .pth."""
    site_packages = site_packages or sysconfig.get_paths()["purelib"]
    repo_pth = os.path.join(site_packages, REPO_PTH)
    with open(repo_pth + ".tmp", "w") as out:
        out.write(str(ROOT) + "\n")
    os.replace(repo_pth + ".tmp", repo_pth)
    pth = venv_link.link(site_packages)
    if pth is None:  # Python 3.8-3.11: numpy 1.23.5 has every name, no hook
        return repo_pth
    if site_packages not in sys.path:
        sys.path.append(site_packages)
    import mxnet_numpy_compat  # the copy venv_link just wrote

    mxnet_numpy_compat.install()
    return repo_pth


def set_up():
    """On Colab: MXNet and d2l without dependencies, the numpy names; elsewhere nothing.

    Prints one line saying what it did and how long it took."""
    if not check.on_colab():
        return None
    start = time.time()
    wanted = missing_installs()
    install(wanted)
    arm_numpy_names()
    done = ("installed " + " and ".join(wanted) + " without dependencies" if wanted
            else "MXNet and d2l already installed")
    print("Colab: %s (none of Colab's packages replaced, no restart needed), MXNet's numpy "
          "names put back, in %.0f s" % (done, time.time() - start))
    return wanted


def _forms(url):
    """The address as it is copied: the URL, the Colab link's path, the clone's folder."""
    slug = url.rstrip("/").split("github.com/", 1)[-1]
    return [url, "colab.research.google.com/github/%s/" % slug,
            "/content/%s" % slug.split("/")[-1]]


def set_address(new, old=None, root=ROOT):
    """Replace the collection's address in every file that carries a copy; returns those files.

    REPOSITORY in this module is changed too, so the address stays in one place to edit."""
    pairs = list(zip(_forms(old or REPOSITORY), _forms(new.rstrip("/"))))
    changed = []
    for pattern in ADDRESS_FILES + ("utils/setup/colab.py",):
        for path in sorted(Path(root).glob(pattern)):
            text = original = path.read_text(encoding="utf-8")
            for before, after in pairs:
                text = text.replace(before, after)
            if text != original:
                path.write_text(text, encoding="utf-8")
                changed.append(path)
    return changed


def main(argv=None):
    import argparse

    parser = argparse.ArgumentParser(prog="python -m utils.setup.colab",
                                     description="Colab set-up; --address moves the "
                                                 "collection's address everywhere it is copied")
    parser.add_argument("--address", help="the repository's new public address")
    args = parser.parse_args(argv)
    if args.address:
        for path in set_address(args.address.rstrip("/")):
            print("updated", path.relative_to(ROOT))
        return 0
    print("address:", address())
    python, taken, pins = check.colab_runtime()
    print("Colab runtime (taken %s): Python %s, %s" % (
        taken, python, ", ".join("%s %s" % item for item in sorted(pins.items()))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
