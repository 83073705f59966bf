"""The usual notebook clients, started outside the repository: papermill (with and without
`-p`), `jupyter nbconvert --execute`, `jupyter execute` and nbval.

They need `utils` importable wherever the kernel starts, which the installer arranges by
installing the collection into the venv as an editable package (the root pyproject.toml). A small synthetic notebook proves
that for each client (a kernel start and an MXNet import each, a few seconds); one real course
notebook (1) runs through papermill from a temporary folder.
"""
import importlib.metadata
import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from conftest import REPO_ROOT

BIN = Path(sys.executable).parent
DISTRIBUTION = "d2l-mxnet-notebooks"  # the root pyproject.toml's name
try:
    INSTALLED = importlib.metadata.distribution(DISTRIBUTION)
except importlib.metadata.PackageNotFoundError:
    INSTALLED = None
pytestmark = pytest.mark.skipif(
    INSTALLED is None and os.environ.get("CI") != "true",
    reason=f"{DISTRIBUTION} is not installed in this venv: make test (or pip install --no-deps "
           "-e . from the repository root)")


@pytest.fixture
def synthetic(tmp_path):
    """A notebook in a folder far from the repository: parameters, the check, MXNet."""
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("SEED = 0")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [
        params,
        nbformat.v4.new_code_cell("from utils.check import check_environment\n"
                                  "check_environment()"),
        nbformat.v4.new_code_cell("import os\nimport mxnet as mx\nfrom mxnet import nd\n"
                                  "mx.random.seed(SEED)\n"
                                  "print('seed', SEED, 'in', os.getcwd())\n"
                                  "nd.random.normal(shape=(2,)).shape"),
    ]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    path = tmp_path / "work" / "mine.ipynb"
    path.parent.mkdir()
    nbformat.write(nb, str(path))
    return path


def run(cmd, cwd, timeout=600):
    done = subprocess.run([str(c) for c in cmd], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env={k: v for k, v in os.environ.items()
                                                if k != "PYTHONPATH"})
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    return done


def outputs(path):
    nb = json.loads(Path(path).read_text())
    return ["".join(o.get("text", "")) + json.dumps(o.get("data", {}))
            for c in nb["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])]


def test_papermill_with_and_without_parameters(synthetic, tmp_path):
    cwd = synthetic.parent
    run([BIN / "papermill", "--log-level", "WARNING", synthetic.name, "out.ipynb"], cwd)
    assert any("seed 0 in " + str(cwd) in o for o in outputs(cwd / "out.ipynb"))
    run([BIN / "papermill", "--log-level", "WARNING", synthetic.name, "seeded.ipynb",
         "-p", "SEED", "3"], cwd)
    printed = outputs(cwd / "seeded.ipynb")
    assert any("seed 3 in " in o for o in printed)
    assert not any("[]" == o.strip() for o in printed)  # the check's cell displays nothing


def test_nbconvert_execute(synthetic):
    run([BIN / "jupyter", "nbconvert", "--to", "notebook", "--execute", "--output",
         "converted.ipynb", synthetic.name], synthetic.parent)
    assert any("seed 0" in o for o in outputs(synthetic.parent / "converted.ipynb"))


def test_jupyter_execute(synthetic):
    run([BIN / "jupyter", "execute", synthetic.name], synthetic.parent)


def test_nbval(synthetic):
    done = run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval-lax",
                "--rootdir", synthetic.parent, synthetic.name], synthetic.parent)
    assert "3 passed" in done.stdout


@pytest.mark.notebooks
def test_papermill_runs_a_course_notebook_from_elsewhere(tmp_path):
    """Notebook 1 (about 20-40 s) from a temporary folder, as `papermill` is used."""
    exports = tmp_path / "exports"
    env_run = ["env", f"COURSE_EXPORTS_DIR={exports}"]
    run(env_run + [BIN / "papermill", "--log-level", "WARNING",
                   REPO_ROOT / "notebooks" / "01_numerical_stability.ipynb", "out.ipynb"],
        tmp_path, timeout=900)
    assert (tmp_path / "out.ipynb").exists()


def test_the_venv_exposes_utils_and_not_the_repository_root(tmp_path):
    """The editable install maps `utils` to this repository's utils/ and nothing else: from a
    folder far away, `data` (a folder in the repository) and `tests` are not importable."""
    code = ("import importlib.util, utils; print(utils.__file__); "
            "print([m for m in ('data', 'tests', 'notebooks', 'requirements') "
            "if importlib.util.find_spec(m)])")
    done = run([sys.executable, "-c", code], tmp_path)
    assert done.stdout.split("\n")[:2] == [str(REPO_ROOT / "utils" / "__init__.py"), "[]"]
