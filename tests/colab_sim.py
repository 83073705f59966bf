"""A simulated Google Colab runtime for CI: every notebook of both editions from its first cell.

What a Colab learner has, rebuilt from requirements/colab.txt (Colab's published runtime):

1. a Python of Colab's version with exactly Colab's pins (uv, else pip), plus a stand-in
   `google.colab` module and COLAB_RELEASE_TAG in the kernel's environment;
2. "GitHub": a mirror of this repository's HEAD under <work>/github/<name>, which the
   notebooks' first cell clones through the one address setting ($D2L_NOTEBOOKS_REPO);
3. "/content": an empty folder the kernel starts in, and each notebook taken from the mirror
   alone, as "Open in Colab" gives it;
4. the notebooks run with papermill on a kernel of that Python, every cell (checks too),
   through the runner's sliced-poll client (a reply pyzmq's poll misses costs a second, not
   the cell timeout: a 900 s stall of notebook 2 was seen here with papermill's own). The
   first one's first cell clones the collection; the Kaggle CSVs are then copied from
   $KAGGLE_HOUSE_DIR into the clone's data/, where the loader's download would put them on
   Colab (here there is no network for it); $KAGGLE_HOUSE_DIR is not passed to the kernel;
5. a fresh process of that Python (a "later kernel") imports MXNet and utils without the
   first cell: the .pth and hook set_up wrote work;
6. it fails if any package Colab has changed version or went missing, or anything other than
   MXNet and d2l was added.

`python tests/colab_sim.py --python PYTHON3.13` from the repository root, with an
interpreter that has papermill (the project's venv). It prints what the first cell did and
how long each step and notebook took. Exit status 0 only if everything above held.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager
from traitlets import Type

from utils import check
from utils.course.run import SlicedPollClient
from utils.setup import colab

ROOT = colab.ROOT
KERNEL = "colab-sim"
ADDED = {"mxnet", "d2l"}  # what the first cell may add; nothing else may change


class SlicedPollKernel(AsyncKernelManager):
    """papermill's kernel manager (the named kernelspec), talking through SlicedPollClient."""
    client_factory = Type(SlicedPollClient)


STUB = '"""Stand-in for Colab\'s own module (CI\'s Colab simulation): importable only there."""\n'


def run(cmd, **kwargs):
    return subprocess.run([str(c) for c in cmd], check=True, **kwargs)


def packages(python):
    """{normalized name: version} of everything installed for `python`."""
    out = run([python, "-m", "pip", "list", "--format=json", "--disable-pip-version-check"],
              stdout=subprocess.PIPE).stdout
    return {p["name"].lower().replace("_", "-"): p["version"] for p in json.loads(out)}


def find_uv():
    for candidate in (shutil.which("uv"), Path(sys.executable).with_name("uv")):
        if candidate and Path(candidate).is_file():
            return str(candidate)
    return None


def build_runtime(python, folder):
    """A venv of `python` with Colab's pins and the google.colab stand-in; its interpreter."""
    wanted, taken, pins = check.colab_runtime()
    run([python, "-m", "venv", folder])
    sim = Path(folder) / "bin" / "python"
    have = run([sim, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
               stdout=subprocess.PIPE, text=True).stdout.strip()
    if have != wanted:
        raise SystemExit("colab_sim: %s is Python %s; requirements/colab.txt records Colab's "
                         "Python %s" % (python, have, wanted))
    uv = find_uv()
    if uv:
        run([uv, "pip", "install", "--quiet", "--python", sim, "-r", check.COLAB_FILE])
    else:
        run([sim, "-m", "pip", "install", "--quiet", "-r", check.COLAB_FILE])
    site = run([sim, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
               stdout=subprocess.PIPE, text=True).stdout.strip()
    stub = Path(site) / "google" / "colab"
    stub.mkdir(parents=True)
    (stub / "__init__.py").write_text(STUB)
    installed = packages(sim)
    off = {n: (v, installed.get(n)) for n, v in pins.items() if installed.get(n) != v}
    if off:
        raise SystemExit("colab_sim: the simulated runtime does not have Colab's pins: %s" % off)
    return sim, taken


def kernelspec(folder, sim):
    spec = Path(folder) / "kernels" / KERNEL
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [str(sim), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Colab (simulated)", "language": "python"}))


def notebooks():
    """(edition, stem) of every notebook, English first: the first one clones."""
    found = [("en", p.stem) for p in sorted((ROOT / "notebooks").glob("*.ipynb"))]
    found += [("zh", p.stem) for p in sorted((ROOT / "notebooks" / "zh").glob("*.ipynb"))]
    return found


def first_cell_output(path):
    nb = json.loads(Path(path).read_text(encoding="utf-8"))
    cell = next(c for c in nb["cells"] if c["cell_type"] == "code")
    text = "".join("".join(o.get("text", "")) for o in cell.get("outputs", [])
                   if o.get("name") == "stdout")  # pip's warnings about this machine's indexes
    return text.strip(), cell.get("metadata", {}).get("papermill", {}).get("duration")


def changes(before, after):
    """Lines naming every package of `before` that changed or went, and unexpected additions."""
    lines = ["%s %s -> %s" % (n, v, after.get(n, "removed")) for n, v in sorted(before.items())
             if after.get(n) != v]
    lines += ["%s %s added" % (n, after[n]) for n in sorted(set(after) - set(before) - ADDED)]
    return lines


def simulate(python, work, timeout):
    import papermill

    start = time.time()
    name = colab.REPOSITORY.rstrip("/").split("/")[-1]
    github = work / "github" / name
    run(["git", "clone", "--quiet", "--mirror", ROOT, github])
    sim, taken = build_runtime(python, work / "colab-python")
    print("colab_sim: Colab's runtime as of %s built in %.0f s (%s)" % (
        taken, time.time() - start, sim))
    before = packages(sim)
    kernelspec(work / "jupyter", sim)
    content = work / "content"
    content.mkdir()
    data_dir = os.environ.pop("KAGGLE_HOUSE_DIR", None)
    for var in ("COURSE_EXPORTS_DIR", "PYTHONPATH", "VIRTUAL_ENV"):
        os.environ.pop(var, None)
    os.environ.update(JUPYTER_PATH=str(work / "jupyter"), COLAB_RELEASE_TAG="simulated",
                      D2L_NOTEBOOKS_REPO="file://%s" % github)
    clone = content / name
    failed = []
    for edition, stem in notebooks():
        rel = "notebooks/%s.ipynb" % stem if edition == "en" else "notebooks/zh/%s.ipynb" % stem
        alone = work / "opened" / edition / (stem + ".ipynb")  # "Open in Colab": the file alone
        alone.parent.mkdir(parents=True, exist_ok=True)
        alone.write_bytes(run(["git", "--git-dir", github, "show", "HEAD:" + rel],
                              stdout=subprocess.PIPE).stdout)
        out = work / "executed" / edition / (stem + ".ipynb")
        out.parent.mkdir(parents=True, exist_ok=True)
        began = time.time()
        try:
            papermill.execute_notebook(str(alone), str(out), kernel_name=KERNEL,
                                       cwd=str(content), progress_bar=False,
                                       execution_timeout=timeout,
                                       kernel_manager_class=SlicedPollKernel)
            status = "ok"
        except Exception as err:  # a failing cell or check: name it, go on with the others
            status = "FAILED: %s" % str(err).strip().splitlines()[-1][:300]
            failed.append("%s/%s" % (edition, stem))
        said, seconds = first_cell_output(out) if out.exists() else ("", None)
        print("colab_sim: %s/%s %s in %.0f s; first cell %s s: %s" % (
            edition, stem, status, time.time() - began,
            "?" if seconds is None else "%.1f" % seconds, said.replace("\n", " | ")))
        if data_dir and clone.is_dir() and not (clone / "data" / "kaggle_house_pred_test.csv").exists():
            for csv in Path(data_dir).glob("kaggle_house_pred_*.csv"):  # the loader's download
                shutil.copyfile(csv, clone / "data" / csv.name)
    later = run([sim, "-c", "from mxnet import nd; import utils.check; "
                            "print(float(nd.arange(4).sum().asscalar()), utils.check.__file__)"],
                cwd="/", stdout=subprocess.PIPE, text=True).stdout.strip()
    print("colab_sim: a later kernel, without the first cell: " + later)
    moved = changes(before, packages(sim))
    for line in moved:
        print("colab_sim: Colab's package changed: " + line, file=sys.stderr)
    added = sorted(set(packages(sim)) - set(before))
    print("colab_sim: added %s; Colab's %d packages unchanged: %s; %.0f s in all" % (
        ", ".join(added) or "nothing", len(before), "no" if moved else "yes",
        time.time() - start))
    if failed:
        print("colab_sim: failed: " + ", ".join(failed), file=sys.stderr)
    return 1 if failed or moved or not clone.is_dir() else 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python tests/colab_sim.py",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--python", required=True,
                        help="an interpreter of the Python version Colab has")
    parser.add_argument("--work", help="folder for the simulation (default: a temporary one, "
                                       "removed afterwards)")
    parser.add_argument("--timeout", type=int, default=900, help="seconds per cell")
    args = parser.parse_args(argv)
    if args.work:
        work = Path(args.work).resolve()
        if work.exists() and any(work.iterdir()):
            parser.error("--work %s is not empty" % work)
        work.mkdir(parents=True, exist_ok=True)
        return simulate(args.python, work, args.timeout)
    with tempfile.TemporaryDirectory(prefix="colab-sim-") as folder:
        return simulate(args.python, Path(folder), args.timeout)


if __name__ == "__main__":
    sys.exit(main())
