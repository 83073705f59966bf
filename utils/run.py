"""The main job: execute the notebooks with a real Jupyter kernel and export everything.

    python -m utils run                          # every notebook in notebooks/, sorted
    python -m utils run 02_kaggle_house_prices   # only the ones named (stem, file name or path)
    python -m utils run -p NUM_EPOCHS 5          # parameters for the `parameters` cells

Each notebook runs in its own folder (as in Jupyter) in a fresh ipykernel of the interpreter
running this command (not whatever a `python3` kernelspec elsewhere points to), one notebook
after the other, with a progress bar per notebook (cell number, elapsed time). Its exports are
written to a staging folder (`COURSE_EXPORTS_DIR`, see utils/plot.py) and, on success, swapped
in for `exports/<stem>/` as a whole (renames on one filesystem, so never old and new mixed):

    exports/<stem>/         figures (PNG+SVG) and figures.json, <stem>.ipynb, <stem>.html, run.json
    exports/submission.csv  copied from a notebook folder holding one: the house-price notebook
                            writes plot.exports_root() / "<stem>" / "submission.csv"
    exports/index.html      summary table (this run, plus earlier runs' notebooks) and every
                            figure as a thumbnail linking to its SVG

Exit code: 0 when every notebook ran, 1 when any failed, 2 for bad arguments.

Decisions:
- Parameters: `-p NAME VALUE` values are Python literals (`5`, `1e-3`, `True`, `[1, 2]`), any
  other text is a string. A notebook receives only the names its `parameters` cell declares (a
  papermill cell injected after it); a name no selected notebook declares is an error, so a
  typo never runs the full-size defaults silently.
- A failing cell stops its notebook. Its previous `exports/<stem>/` stays untouched, and the
  executed copy with the traceback goes to `exports/<stem>.failed.ipynb` for debugging (removed
  by the next successful run). The other notebooks still run; the exit code is 1.
- Cells tagged `raises-exception` must start with `# expected error: <ExceptionClassName>` and
  must raise exactly that class; otherwise the notebook fails.
- "cell N" counts all cells (markdown too) of the stored notebook, from 1.
"""
import argparse
import ast
import html
import json
import os
import re
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import nbformat
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
from nbconvert import HTMLExporter
from papermill.inspection import inspect_notebook
from papermill.parameterize import parameterize_notebook
from tqdm import tqdm
from traitlets import default

REPO_ROOT = Path(__file__).resolve().parent.parent
# Same as utils.plot.EXPORTS_ENV; not imported because utils.plot pulls in MXNet.
EXPORTS_ENV = "COURSE_EXPORTS_DIR"
EXPECTED = re.compile(r"#\s*expected error:\s*([A-Za-z_][\w.]*)\s*$")
DEFAULT_CELL_TIMEOUT = 1800


class RunnerError(Exception):
    """Bad command-line input: the message says what to do."""


class NotebookFailed(Exception):
    """A notebook did not run as written; the message names the cell and the error."""


@dataclass
class Result:
    stem: str
    ok: bool
    seconds: float
    error: str = ""
    figures: int = 0


class _ThisPythonKernel(AsyncKernelManager):
    """ipykernel in the interpreter running the runner, whatever `python3` kernelspec the user
    may have installed elsewhere (e.g. in ~/.local/share/jupyter/kernels)."""

    @default("kernel_spec_manager")
    def _only_native_kernel(self):
        return KernelSpecManager(kernel_dirs=[])  # leaves ipykernel's own spec: sys.executable


def parse_value(text):
    """`-p` values: a Python literal when the text is one, else the text itself."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def find_notebooks(names, notebooks_dir):
    """The notebooks to run: all of `notebooks_dir` sorted, or the named ones in the given order."""
    notebooks_dir = Path(notebooks_dir)
    available = sorted(notebooks_dir.glob("*.ipynb"))
    if not names:
        if not available:
            raise RunnerError(f"no notebooks (*.ipynb) in {notebooks_dir}")
        return available
    found = []
    for name in names:
        candidates = [Path(name), notebooks_dir / name, notebooks_dir / f"{name}.ipynb"]
        path = next((c for c in candidates if c.suffix == ".ipynb" and c.is_file()), None)
        if path is None:
            choices = ", ".join(p.stem for p in available) or "none"
            raise RunnerError(f"no notebook {name!r} in {notebooks_dir}; choose from: {choices}")
        found.append(path.resolve())
    return found


def split_parameters(notebooks, parameters):
    """{notebook: the parameters its `parameters` cell declares}; unknown names are an error."""
    declared = {nb: set(inspect_notebook(str(nb))) for nb in notebooks}
    unknown = set(parameters) - set().union(*declared.values())
    if unknown:
        known = ", ".join(sorted(set().union(*declared.values()))) or "none"
        raise RunnerError(f"no selected notebook declares {', '.join(sorted(unknown))} in its "
                          f"`parameters` cell; declared: {known}")
    return {nb: {k: v for k, v in parameters.items() if k in names}
            for nb, names in declared.items()}


def cell_number(nb, index):
    """1-based number of cell `index` in the stored notebook (the injected cell not counted)."""
    return sum("injected-parameters" not in c.metadata.get("tags", [])
               for c in nb.cells[:index + 1])


def execute(nb, cwd, env, timeout, progress=True, desc=""):
    """Run every cell in a fresh kernel (cwd = the notebook's folder), stopping at an error."""
    code_cells = sum(c.cell_type == "code" and bool(c.source.strip()) for c in nb.cells)
    bar = tqdm(total=code_cells, desc=desc, unit="cell", disable=not progress, file=sys.stderr)
    current = {}

    def started(cell, cell_index):
        current["index"] = cell_index
        bar.set_postfix_str(f"cell {cell_number(nb, cell_index)}")

    client = NotebookClient(
        nb, kernel_name="python3", kernel_manager_class=_ThisPythonKernel, timeout=timeout,
        startup_timeout=120, resources={"metadata": {"path": str(cwd)}},
        on_cell_start=started, on_cell_executed=lambda **_: bar.update(1))
    try:
        client.execute(env=env)
    except CellExecutionError as err:
        raise NotebookFailed(f"cell {cell_number(nb, current['index'])} raised "
                             f"{err.ename}: {err.evalue}") from err
    except Exception as err:  # kernel died, cell timeout, kernel did not start
        where = f"cell {cell_number(nb, current['index'])}" if current else "kernel start"
        raise NotebookFailed(f"{where}: {type(err).__name__}: {err}") from err
    finally:
        bar.close()
    return nb


def expected_error_problems(nb):
    """Cells tagged `raises-exception` that did not raise exactly the error they declare."""
    problems = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or "raises-exception" not in cell.metadata.get("tags", []):
            continue
        n = cell_number(nb, index)
        match = EXPECTED.match(cell.source.strip().split("\n")[0])
        if not match:
            problems.append(f"cell {n} is tagged raises-exception but its first line is not "
                            "'# expected error: <ExceptionClassName>'")
            continue
        wanted = match.group(1)
        errors = [o for o in cell.get("outputs", []) if o.output_type == "error"]
        if not errors:
            problems.append(f"cell {n} was expected to raise {wanted} but ran without error")
        elif errors[0].ename != wanted:
            problems.append(f"cell {n} was expected to raise {wanted} but raised "
                            f"{errors[0].ename}: {errors[0].evalue}")
    return problems


def run_notebook(path, parameters, exports_dir, timeout=DEFAULT_CELL_TIMEOUT, progress=True):
    """Execute one notebook; on success replace exports/<stem>/ with the fresh exports."""
    stem, start = path.stem, time.time()
    exports_dir.mkdir(parents=True, exist_ok=True)
    failed_copy = exports_dir / f"{stem}.failed.ipynb"
    staging = Path(tempfile.mkdtemp(prefix=f".{stem}.staging.", dir=exports_dir))
    nb = nbformat.read(path, as_version=4)
    try:
        if parameters:
            nb.metadata.setdefault("papermill", {})  # what papermill's own loader adds
            for cell in nb.cells:
                cell.metadata.setdefault("tags", [])
            nb = parameterize_notebook(nb, parameters, kernel_name="python3", language="python")
        env = {**os.environ, EXPORTS_ENV: str(staging)}
        execute(nb, path.parent, env, timeout, progress, desc=stem)
        problems = expected_error_problems(nb)
        if problems:
            raise NotebookFailed("; ".join(problems))
        strays = sorted(p.name for p in staging.iterdir() if p.name != stem)
        if strays:
            raise NotebookFailed(f"it exported into {', '.join(strays)} instead of {stem}/: "
                                 f"call plot.set_notebook({stem!r})")
        seconds = time.time() - start
        folder = staging / stem
        folder.mkdir(exist_ok=True)
        nbformat.write(nb, folder / f"{stem}.ipynb")
        (folder / f"{stem}.html").write_text(HTMLExporter().from_notebook_node(nb)[0])
        (folder / "run.json").write_text(json.dumps(
            {"seconds": round(seconds, 1), "parameters": parameters,
             "finished": time.strftime("%Y-%m-%d %H:%M:%S")}, indent=1))
        install(folder, exports_dir / stem)
        if (exports_dir / stem / "submission.csv").exists():
            replace_file(exports_dir / stem / "submission.csv", exports_dir / "submission.csv")
        failed_copy.unlink(missing_ok=True)
        return Result(stem, True, seconds, figures=len(read_figures(exports_dir / stem)))
    except Exception as err:  # this notebook failed; the others still run
        nbformat.write(nb, failed_copy)
        error = str(err) if isinstance(err, NotebookFailed) else f"{type(err).__name__}: {err}"
        return Result(stem, False, time.time() - start, error=error,
                      figures=len(read_figures(exports_dir / stem)))
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def install(new, target):
    """Swap folder `new` in for `target` by renames on one filesystem: never old and new mixed."""
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old.{os.getpid()}")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(target, old)
    os.replace(new, target)
    if old is not None:
        shutil.rmtree(old)


def replace_file(source, target):
    """Copy aside, then rename: readers never see a half-written file."""
    tmp = target.with_name(f".{target.name}.tmp")
    shutil.copyfile(source, tmp)
    os.replace(tmp, target)


def read_figures(folder):
    """figures.json of one notebook's export folder (see utils.plot.save_figure)."""
    path = Path(folder) / "figures.json"
    return json.loads(path.read_text()) if path.exists() else []


def write_index(exports_dir, results):
    """exports/index.html: a summary table and every figure as a thumbnail linking to its SVG."""
    esc, this_run = html.escape, {r.stem: r for r in results}
    stems = sorted(set(this_run) | {p.parent.name for p in exports_dir.glob("*/run.json")})
    rows, thumbs = [], []
    for stem in stems:
        folder, result = exports_dir / stem, this_run.get(stem)
        if result is None:
            earlier = json.loads((folder / "run.json").read_text())
            status, seconds = "ok (earlier run)", earlier["seconds"]
        elif result.ok:
            status, seconds = "ok", result.seconds
        else:
            status, seconds = f"FAILED: {result.error}", result.seconds
            if folder.exists():
                status += " (figures below are from the last successful run)"
        figures = read_figures(folder)
        name = esc(stem)
        if (folder / f"{stem}.html").exists():
            name = f'<a href="{esc(quote(f"{stem}/{stem}.html"))}">{name}</a>'
        rows.append(f"<tr><td>{name}</td><td>{esc(status)}</td><td>{seconds:.1f}</td>"
                    f"<td>{len(figures)}</td></tr>")
        for fig in figures:
            png, svg = (esc(quote(f"{stem}/{fig[k]}")) for k in ("png", "svg"))
            thumbs.append(
                f'<figure><a href="{svg}"><img src="{png}" alt="{esc(fig["caption"])}"></a>'
                f'<figcaption><b>{esc(stem)}</b> / {esc(fig["name"])}: {esc(fig["caption"])}'
                "</figcaption></figure>")
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Exported figures</title>
<style>body{{font-family:sans-serif;margin:2em}} table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:.3em .6em;text-align:left}}
figure{{display:inline-block;width:260px;margin:.5em;vertical-align:top}}
img{{width:100%;border:1px solid #eee}}</style></head>
<body><h1>Notebooks</h1>
<table><tr><th>notebook</th><th>status</th><th>seconds</th><th>figures</th></tr>
{chr(10).join(rows)}
</table>
<h1>Figures</h1>
<p>Click a thumbnail for the SVG.</p>
{chr(10).join(thumbs)}
</body></html>
"""
    replace_text(exports_dir / "index.html", page)


def replace_text(target, text):
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, target)


def run(names=(), parameters=None, notebooks_dir=None, exports_dir=None,
        timeout=DEFAULT_CELL_TIMEOUT, progress=True):
    """Run the notebooks one after the other, write index.html; returns one Result each."""
    notebooks_dir = Path(notebooks_dir or REPO_ROOT / "notebooks")
    exports_dir = Path(exports_dir or os.environ.get(EXPORTS_ENV) or REPO_ROOT / "exports")
    notebooks = find_notebooks(names, notebooks_dir)
    per_notebook = split_parameters(notebooks, parameters or {})
    results = []
    for i, path in enumerate(notebooks, 1):
        params = per_notebook[path]
        shown = " ".join(f"{k}={v!r}" for k, v in params.items())
        print(f"[{i}/{len(notebooks)}] {path.name} {shown}".rstrip(), file=sys.stderr, flush=True)
        result = run_notebook(path, params, exports_dir.resolve(), timeout, progress)
        word = "ok" if result.ok else f"FAILED: {result.error}"
        print(f"[{i}/{len(notebooks)}] {path.stem}: {word} ({result.seconds:.1f} s)",
              file=sys.stderr, flush=True)
        results.append(result)
    write_index(exports_dir.resolve(), results)
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m utils run", description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="*", metavar="NOTEBOOK",
                        help="stem, file name or path (default: all in --notebooks-dir)")
    parser.add_argument("-p", "--parameter", nargs=2, action="append", default=[],
                        metavar=("NAME", "VALUE"), help="value for a `parameters` cell variable")
    parser.add_argument("--notebooks-dir", type=Path, default=REPO_ROOT / "notebooks")
    parser.add_argument("--exports-dir", type=Path, default=None,
                        help=f"default: ${EXPORTS_ENV} or exports/ in the repository")
    parser.add_argument("--cell-timeout", type=int, default=DEFAULT_CELL_TIMEOUT,
                        help="seconds one cell may run (default: %(default)s)")
    parser.add_argument("--no-progress", action="store_true", help="no per-cell progress bar")
    args = parser.parse_args(argv)
    parameters = {name: parse_value(value) for name, value in args.parameter}
    try:
        results = run(args.notebooks, parameters, args.notebooks_dir, args.exports_dir,
                      args.cell_timeout, not args.no_progress)
    except RunnerError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"\n{'notebook':32} {'status':7} {'seconds':>8} {'figures':>8}")
    for r in results:
        print(f"{r.stem:32} {'ok' if r.ok else 'FAILED':7} {r.seconds:8.1f} {r.figures:8d}")
    failed = [r for r in results if not r.ok]
    for r in failed:
        print(f"FAILED {r.stem}: {r.error} (executed copy: {r.stem}.failed.ipynb in the exports "
              "folder)", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
