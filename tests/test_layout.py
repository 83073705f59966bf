"""The two floors of `utils` (docs/architecture.md): directly in utils/ lives only what the
notebooks import, so a learner who opens utils/ reads lesson code; tooling goes into
utils/course/ or utils/setup/."""
import ast

import nbformat
import pytest
from IPython.core.inputtransformer2 import TransformerManager

from conftest import NOTEBOOK_DIR, REPO_ROOT

LESSON_FLOOR = sorted(p.stem for p in (REPO_ROOT / "utils").glob("*.py")
                      if p.stem not in ("__init__", "__main__"))
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))


def utils_modules_imported(path):
    """The names of utils' direct modules a notebook's code cells import, in any import form
    (`import utils.x`, `from utils.x import ...`, `from utils import x`), magics included."""
    found = set()
    to_python = TransformerManager().transform_cell  # `%matplotlib`, `!pip` -> Python
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type != "code":
            continue
        for node in ast.walk(ast.parse(to_python(cell.source), filename=f"{path.name}")):
            if isinstance(node, ast.Import):
                dotted = [alias.name.split(".") for alias in node.names]
                found.update(parts[1] for parts in dotted if parts[0] == "utils" and len(parts) > 1)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                parts = node.module.split(".")
                if parts == ["utils"]:
                    found.update(alias.name for alias in node.names)
                elif parts[0] == "utils":
                    found.add(parts[1])
    return found


def test_the_lesson_floor_is_found():
    assert {"check", "train"} <= set(LESSON_FLOOR) and NOTEBOOKS, (LESSON_FLOOR, NOTEBOOKS)


@pytest.mark.parametrize("module", LESSON_FLOOR)
def test_every_module_directly_in_utils_is_imported_by_a_notebook(module):
    users = [p.name for p in NOTEBOOKS if module in utils_modules_imported(p)]
    assert users, (f"utils/{module}.py is imported by no notebook: tooling belongs in "
                   "utils/course/ or utils/setup/ (docs/architecture.md)")


def test_the_import_reader_sees_every_form(tmp_path):
    """The reader above, on one notebook with each import form (and a magic): what it misses,
    the test above would wrongly blame."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("%matplotlib inline\nimport utils.alpha as a"),
                nbformat.v4.new_code_cell("from utils.beta import x\nfrom utils import (gamma,\n delta)"),
                nbformat.v4.new_code_cell("import numpy, utils.epsilon.sub\nfrom . import zeta"),
                nbformat.v4.new_markdown_cell("import utils.not_code")]
    path = tmp_path / "forms.ipynb"
    nbformat.write(nb, path)
    assert utils_modules_imported(path) == {"alpha", "beta", "gamma", "delta", "epsilon"}
