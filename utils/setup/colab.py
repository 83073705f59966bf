"""Google Colab as a place the notebooks run, from their first cell: `set_up()` installs MXNet
and d2l there (nothing off Colab); `--address` moves the collection's one address (REPOSITORY)
everywhere it is copied. What the first cell does and why: docs/colab.md.
"""
import argparse
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
ROOT = Path(__file__).resolve().parents[2]
INSTALLS = ("mxnet", "d2l")  # what the first cell installs on Colab, at check.py's pins
REPO_PTH = "d2l_mxnet_notebooks_colab.pth"  # the clone on every later kernel's sys.path
# files holding copies of REPOSITORY: every notebook's first cell and the Colab pages
ADDRESS_FILES = ("notebooks/*.ipynb", "notebooks/zh/*.ipynb", "docs/colab.md",
                 "docs/zh/colab.md", "README.md", "README.zh.md")


def missing_installs(versions=None):
    """`name==version` for each of MXNet and d2l not installed at check.py's pin."""
    installed = check.installed_version if versions is None else versions.get
    return ["%s==%s" % (name, check.PINNED[name][0]) for name in INSTALLS
            if installed(name) != check.PINNED[name][0]]


def install(requirements):
    """pip install --no-deps: their dependencies would downgrade Colab's packages (restart)."""
    subprocess.run([sys.executable, "-m", "pip", "install", "--disable-pip-version-check",
                    "--quiet", "--no-deps"] + list(requirements), check=True)
    importlib.invalidate_caches()  # this kernel sees the new packages without a restart


def arm_numpy_names(site_packages=None):
    """MXNet's numpy names and `utils` for this kernel and every later one (Colab has no venv):
    the clone's .pth and venv_link's, armed now as the .pth would be. Returns the clone's .pth."""
    site_packages = site_packages or sysconfig.get_paths()["purelib"]
    repo_pth = os.path.join(site_packages, REPO_PTH)
    venv_link.write_whole(repo_pth, str(ROOT) + "\n")
    if venv_link.link(site_packages):  # None on 3.8-3.11: numpy 1.23.5 has every name, no hook
        if site_packages not in sys.path:
            sys.path.append(site_packages)
        import mxnet_numpy_compat  # the copy venv_link just wrote

        mxnet_numpy_compat.install()
    return repo_pth


def set_up():
    """On Colab: MXNet and d2l without dependencies, the numpy names, one line; else nothing."""
    if not check.on_colab():
        return None
    start = time.time()
    wanted = missing_installs()
    if wanted:
        install(wanted)
    arm_numpy_names()
    done = ("installed " + " and ".join(wanted) + " without dependencies" if wanted
            else "MXNet and d2l already installed")
    print("Colab: %s (none of Colab's packages replaced, no restart needed), MXNet's numpy "
          "names put back, in %.0f s" % (done, time.time() - start))
    return wanted


def set_address(new, root=ROOT):
    """Replace the address in every file that carries a copy, this one too; returns those."""
    def forms(url):  # as it is copied: the URL, the Colab link's path, the clone's folder
        slug = url.rstrip("/").split("github.com/", 1)[-1]
        return [url, "colab.research.google.com/github/%s/" % slug,
                "/content/" + slug.split("/")[-1]]

    pairs = list(zip(forms(REPOSITORY), forms(new.rstrip("/"))))
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
    parser = argparse.ArgumentParser(prog="python -m utils.setup.colab",
                                     description="Colab set-up; --address moves the "
                                                 "collection's address everywhere it is copied")
    parser.add_argument("--address", help="the repository's new public address")
    args = parser.parse_args(argv)
    if args.address:
        for path in set_address(args.address.rstrip("/")):
            print("updated", path.relative_to(ROOT))
        return 0
    print("address:", os.environ.get("D2L_NOTEBOOKS_REPO") or REPOSITORY)  # as the first cell
    python, taken, pins = check.colab_runtime()
    print("Colab runtime (taken %s): Python %s, %s" % (
        taken, python, ", ".join("%s %s" % item for item in sorted(pins.items()))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
