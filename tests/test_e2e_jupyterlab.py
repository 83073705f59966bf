"""End to end, as a reader works: JupyterLab on 127.0.0.1, Chromium driven by Playwright.

For each notebook: open it, Run > Run All Cells, wait until every cell ran and the kernel is
idle, then check what JupyterLab holds and shows:
- errors only in cells tagged `raises-exception`, each of the class the cell declares;
- as many figures rendered (loaded <img> in outputs, widget Output areas included) as the
  same notebook exported in its headless run (figures.json, tests/test_notebooks.py): by the
  course convention every exported figure is shown exactly once. (Counting image outputs of
  the headless notebook instead would not do: a widget's figure lives in widget state there,
  and notebook 1 shows a static copy headless that a live frontend replaces by the widget);
- the figures this JupyterLab session exported are the ones the headless run exported;
- cells tagged `check` or `answer` show collapsed (their input hidden), so a reader meets the
  teaching code, not the checks, and can try an exercise before seeing its answer;
- the explorers: ArrowRight on notebook 1's "depth" slider and on notebook 2's "epochs" slider
  (in Going further, unfolded first as a reader would) redraws the figure in the widget's output.
One Chinese notebook (notebooks/zh/, when there is a Chinese edition) goes through the same.
And, just opened: the "## Going further" heading cell of each notebook (English and Chinese; the
Chinese cell is the one with the English cell's id) shows collapsed, the cells under it hidden.
The stored notebook must be unchanged afterwards (autosave is off). Screenshots go to
test-artifacts/ (or $E2E_ARTIFACTS). The server runs with temporary Jupyter config, runtime,
data and settings folders and a temporary COURSE_EXPORTS_DIR, so nothing lands in ~ or exports/.
"""
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import sync_playwright

from conftest import REPO_ROOT, skip_or_fail
from test_notebooks import RUNS, STEMS, ZH_STEMS, expected_error, headless_run, run_folder
from utils.course.exports import read_figures

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-quic"]
ARTIFACTS = Path(os.environ.get("E2E_ARTIFACTS") or REPO_ROOT / "test-artifacts")
SERVER_START_TIMEOUT = 90   # seconds
KERNEL_START_TIMEOUT = 120
RUN_ALL_TIMEOUT = 600       # per notebook, the slowest (house prices) needs most of it
WIDGET_TIMEOUT = 60
LAB_SETTINGS = {  # JupyterLab user settings for this test only
    "@jupyterlab/docmanager-extension/plugin": {"autosave": False},
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},  # every cell in the DOM
    "@jupyterlab/apputils-extension/notification": {"checkForUpdates": False,
                                                   "fetchNews": "false"},
}

# JavaScript run in the page; JupyterLab exposes its app as window.jupyterapp (see the server
# flag --LabApp.expose_app_in_browser) so the test reads the notebook model directly.
KERNEL_IDLE = """() => {
    const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
    const kernel = w && w.sessionContext && w.sessionContext.session
                   && w.sessionContext.session.kernel;
    return !!kernel && kernel.status === 'idle'; }"""
RUN_FINISHED = """() => {
    const w = window.jupyterapp.shell.currentWidget;
    let missing = 0, running = 0, failed = false;
    for (const c of w.content.model.cells) {
        if (c.type !== 'code' || !c.sharedModel.source.trim()) continue;
        if (c.executionState === 'running') running++;
        if (!c.executionCount) missing++;
        const tags = c.sharedModel.getMetadata('tags') || [];
        for (let i = 0; i < c.outputs.length; i++)
            if (c.outputs.get(i).type === 'error' && !tags.includes('raises-exception'))
                failed = true;
    }
    return w.sessionContext.session.kernel.status === 'idle' && running === 0
           && (missing === 0 || failed); }"""
# Found by path, not as the current widget: a page may restore other tabs. Arguments: [path, id].
NOTEBOOK_OPEN = """([path]) => {
    const w = window.jupyterapp && Array.from(window.jupyterapp.shell.widgets('main'))
        .find(w => w.context && w.context.path === path);
    return !!w && w.context.isReady && !!w.content && w.content.widgets.length > 0; }"""
HEADING_STATE = """([path, id]) => {
    const w = Array.from(window.jupyterapp.shell.widgets('main'))
        .find(w => w.context && w.context.path === path);
    const cells = w.content.widgets;
    const h = cells.findIndex(c => c.model.id === id);
    if (h < 0) return null;
    const level = (/^(#+)\\s/.exec(cells[h].model.sharedModel.getSource()) || ['', '##'])[1].length;
    const following = [];
    for (let j = h + 1; j < cells.length; j++) {
        const m = cells[j].model.type === 'markdown'
                  && /^(#+)\\s/.exec(cells[j].model.sharedModel.getSource());
        if (m && m[1].length <= level) break;
        following.push({number: j + 1, hidden: cells[j].isHidden});
    }
    return {collapsed: !!cells[h].headingCollapsed, following: following}; }"""
HEADING_FOLDED = """(args) => {  // JupyterLab hides the cells under a heading just after loading
    const state = (""" + HEADING_STATE + """)(args);
    return !!state && state.collapsed && state.following.every(c => c.hidden); }"""
CELLS = """() => Array.from(window.jupyterapp.shell.currentWidget.content.model.cells,
                         c => c.toJSON())"""
COLLAPSIBLE_CELLS = """() => {
    const out = [];
    window.jupyterapp.shell.currentWidget.content.widgets.forEach((cell, i) => {
        const tags = cell.model.sharedModel.getMetadata('tags') || [];
        if (tags.includes('check') || tags.includes('answer'))
            out.push({number: i + 1, hidden: cell.inputHidden,
                      placeholder: !!cell.node.querySelector('.jp-InputPlaceholder')});
    });
    return out; }"""
RENDERED_IMAGES = """() => Array.from(
    document.querySelectorAll('.jp-Notebook .jp-OutputArea-output img'),
    img => ({inWidget: !!img.closest('.widget-output'),
             loaded: img.complete && img.naturalWidth > 0}))"""
IMAGE_COUNT_IS = """(n) => document.querySelectorAll(
    '.jp-Notebook .jp-OutputArea-output img').length === n"""
WIDGET_IMAGE = """() => { const img = document.querySelector('.jp-Notebook .widget-output img');
                          return img ? img.src : null; }"""
WIDGET_IMAGE_CHANGED = """(before) => {
    const img = document.querySelector('.jp-Notebook .widget-output img');
    return !!img && img.src !== before && img.complete; }"""


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_lab_settings(folder):
    for plugin, values in LAB_SETTINGS.items():
        path = folder / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))


def stop(proc):
    """Stop the server and its kernels: the whole process group, politely first."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.fixture(scope="module")
def lab(tmp_path_factory, house_dir):
    """A JupyterLab server on a free port, rooted at the repository; stopped whatever happens."""
    tmp = tmp_path_factory.mktemp("jupyterlab")
    write_lab_settings(tmp / "settings")
    port, token = free_port(), secrets.token_hex(24)
    env = {**os.environ, "KAGGLE_HOUSE_DIR": str(house_dir),
           "COURSE_EXPORTS_DIR": str(tmp / "exports"),
           "JUPYTER_CONFIG_DIR": str(tmp / "config"), "JUPYTER_RUNTIME_DIR": str(tmp / "runtime"),
           "JUPYTER_DATA_DIR": str(tmp / "data"), "IPYTHONDIR": str(tmp / "ipython"),
           "JUPYTERLAB_SETTINGS_DIR": str(tmp / "settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(tmp / "workspaces")}
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
           f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
           f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={REPO_ROOT}",
           f"--FileCheckpoints.checkpoint_dir={tmp / 'checkpoints'}",
           "--ServerApp.allow_root=True", "--LabApp.expose_app_in_browser=True"]
    log_path = tmp / "server.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.time() + SERVER_START_TIMEOUT
        while True:
            if proc.poll() is not None:
                pytest.fail(f"JupyterLab exited ({proc.returncode}):\n{log_path.read_text()}")
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=5)
                break
            except OSError:
                if time.time() > deadline:
                    pytest.fail(f"JupyterLab did not answer in {SERVER_START_TIMEOUT} s:\n"
                                f"{log_path.read_text()[-3000:]}")
                time.sleep(0.5)
        yield {"base": base, "token": token, "log": log_path, "exports": tmp / "exports"}
    finally:
        stop(proc)


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        skip_or_fail(f"{CHROMIUM} is missing: apt-get install chromium (the e2e test uses "
                     "Debian's Chromium, not a Playwright download)")
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                     args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def headless(tmp_path_factory, house_dir, course_run):
    return headless_run(tmp_path_factory, house_dir, course_run)


def check_errors(stem, cells):
    """Errors only where declared, of the declared class; every code cell ran."""
    for n, cell in enumerate(cells, 1):
        if cell["cell_type"] != "code" or not "".join(cell["source"]).strip():
            continue
        cell = nbformat.from_dict(cell)
        errors = [o.ename for o in cell.outputs if o.output_type == "error"]
        if "raises-exception" in cell.metadata.get("tags", []):
            assert errors == [expected_error(cell)], f"{stem} cell {n} raised {errors}"
        else:
            tracebacks = [o for o in cell.outputs if o.output_type == "error"]
            assert not errors, f"{stem} cell {n} failed in JupyterLab: {tracebacks[0].ename}: " \
                               f"{tracebacks[0].evalue}"
        assert cell.execution_count, f"{stem} cell {n} did not run"


# The slider each explorer's test moves: notebook 1's in its core, notebook 2's in Going further.
SLIDERS = {"01_numerical_stability": "depth", "02_kaggle_house_prices": "epochs"}
MARK_CELL = """([id, mark]) => {
    const cell = window.jupyterapp.shell.currentWidget.content.widgets
        .find(c => c.model.id === id);
    if (cell) cell.node.setAttribute('data-e2e', mark);
    return !!cell; }"""


def unfold_going_further(page, stem):
    """Click the collapse button of the "## Going further" heading, as a reader opens it."""
    cell_id = going_further_id(stem)
    assert cell_id and page.evaluate(MARK_CELL, [cell_id, "going-further"]), \
        f"{stem}: no '## Going further' heading cell to unfold"
    page.locator('[data-e2e="going-further"] .jp-collapseHeadingButton').first.click()


def move_slider(page, stem, label):
    """ArrowRight on the slider described `label` must redraw the figure in the widget's
    Output area (the explorer re-runs its computation)."""
    slider = page.locator(".widget-slider", has=page.locator("label", has_text=label))
    assert slider.count() == 1, f"{stem}: expected one slider described {label!r}"
    slider.scroll_into_view_if_needed()
    readout = slider.locator(".widget-readout")
    value_before, image_before = readout.inner_text(), page.evaluate(WIDGET_IMAGE)
    assert image_before, f"{stem}: the widget's Output area shows no figure"
    page.screenshot(path=ARTIFACTS / f"{stem}-widget-before.png")
    slider.locator(".noUi-handle").focus()
    page.keyboard.press("ArrowRight")
    page.wait_for_function(WIDGET_IMAGE_CHANGED, arg=image_before,
                           timeout=WIDGET_TIMEOUT * 1000, polling=250)
    assert readout.inner_text() != value_before
    page.screenshot(path=ARTIFACTS / f"{stem}-widget-after.png")


# The notebooks run here: every English one and one Chinese one ("zh/<stem>", the shortest).
ZH_RUN = ("zh/03_model_construction" if "03_model_construction" in ZH_STEMS
          else f"zh/{ZH_STEMS[0]}" if ZH_STEMS else None)
LAB_RUNS = list(STEMS) + ([ZH_RUN] if ZH_RUN else [])
GOING_FURTHER = re.compile(r"##\s+(\d+\.\s*)?Going further\b")


def going_further_id(stem):
    """Id of the English notebook's "## Going further" heading cell, or None."""
    nb = nbformat.read(REPO_ROOT / "notebooks" / f"{stem}.ipynb", as_version=4)
    return next((c.get("id") for c in nb.cells
                 if c.cell_type == "markdown" and GOING_FURTHER.match(c.source)), None)


def heading_params():
    """Every notebook, English and Chinese; those without the heading are skipped, saying so."""
    params = []
    for key in RUNS:
        if going_further_id(key.split("/")[-1]) is None:
            params.append(pytest.param(key, id=key, marks=pytest.mark.skip(
                reason=f"{key} has no '## Going further' heading cell")))
        else:
            params.append(pytest.param(key, id=key))
    return params


@pytest.mark.parametrize("key", heading_params())
def test_going_further_opens_collapsed(lab, browser, key):
    """The deep dives under "## Going further" are optional: JupyterLab opens them folded."""
    stem = key.split("/")[-1]
    cell_id = going_further_id(stem)
    stored = nbformat.read(REPO_ROOT / "notebooks" / f"{key}.ipynb", as_version=4)
    cell = next((c for c in stored.cells if c.get("id") == cell_id), None)
    assert cell is not None, f"{key}: no cell {cell_id} (the English heading's id)"
    assert cell.metadata.get("jp-MarkdownHeadingCollapsed") is True, \
        f"{key} cell {cell_id}: set metadata \"jp-MarkdownHeadingCollapsed\": true"
    path = f"notebooks/{key}.ipynb"
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:  # a workspace of its own, reset: no tab of another test is restored, none left behind
        workspace = f"going-further-{key.replace('/', '-').replace('_', '-')}"
        page.goto(f"{lab['base']}/lab/workspaces/{workspace}/tree/{path}?reset&token={lab['token']}")
        page.wait_for_function(NOTEBOOK_OPEN, arg=[path], timeout=KERNEL_START_TIMEOUT * 1000,
                               polling=500)
        try:
            page.wait_for_function(HEADING_FOLDED, arg=[path, cell_id], timeout=30_000,
                                   polling=250)
        except PlaywrightTimeout:
            pass  # the assertions below say what is wrong
        state = page.evaluate(HEADING_STATE, [path, cell_id])
        assert state is not None, f"{key}: JupyterLab shows no cell {cell_id}"
        assert state["collapsed"], f"{key}: the Going further heading opens expanded"
        shown = [c["number"] for c in state["following"] if not c["hidden"]]
        assert state["following"] and not shown, \
            f"{key}: cells {shown} under the Going further heading are shown"
    except Exception:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=ARTIFACTS / f"{key.replace('/', '-')}-going-further-failure.png")
        raise
    finally:
        try:
            page.evaluate("""([path]) => Array.from(window.jupyterapp.shell.widgets('main'))
                .find(w => w.context && w.context.path === path).sessionContext.shutdown()""",
                          [path])
        except Exception:
            pass
        page.close()


@pytest.mark.parametrize("key", LAB_RUNS)
def test_notebook_runs_in_jupyterlab(lab, browser, headless, key):
    stem = key.split("/")[-1]  # key: "<stem>", or "zh/<stem>" for the Chinese edition
    result = {**headless["results"], **headless["zh_results"]}[key]
    assert result.ok, f"{key} already fails headless: {result.error}"
    exported = [f["name"] for f in read_figures(run_folder(headless, key))]
    stored = (REPO_ROOT / "notebooks" / f"{key}.ipynb").read_bytes()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    stem_file = key.replace("/", "-")  # screenshot names

    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        page.goto(f"{lab['base']}/lab/tree/notebooks/{key}.ipynb?token={lab['token']}")
        page.wait_for_function(KERNEL_IDLE, timeout=KERNEL_START_TIMEOUT * 1000, polling=500)
        page.get_by_role("menuitem", name="Run", exact=True).click()
        page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
        start = time.time()
        page.wait_for_function(RUN_FINISHED, timeout=RUN_ALL_TIMEOUT * 1000, polling=1000)
        page.screenshot(path=ARTIFACTS / f"{stem_file}-after-run-all.png")
        cells = page.evaluate(CELLS)
        check_errors(stem, cells)
        collapsible = page.evaluate(COLLAPSIBLE_CELLS)
        assert collapsible, f"{stem}: no `check` or `answer` cell found in JupyterLab"
        shown = [c["number"] for c in collapsible if not (c["hidden"] and c["placeholder"])]
        assert not shown, f"{stem}: check/answer cells {shown} open with their source shown"

        try:  # widget views render (and may replace static copies) just after the kernel idles
            page.wait_for_function(IMAGE_COUNT_IS, arg=len(exported), timeout=30_000)
        except PlaywrightTimeout:
            pass  # the assertion below reports the counts
        rendered = page.evaluate(RENDERED_IMAGES)
        assert len(rendered) == len(exported), (
            f"{stem}: {len(rendered)} figures rendered in JupyterLab, but the headless run "
            f"exported {len(exported)}: {exported}")
        assert all(img["loaded"] for img in rendered), f"{stem}: broken images: {rendered}"
        assert [f["name"] for f in read_figures(lab["exports"] / stem)] == exported

        if stem in SLIDERS:
            label = page.locator("label", has_text=SLIDERS[stem])
            if not page.locator(".widget-slider", has=label).first.is_visible():
                unfold_going_further(page, stem)  # the explorer is under the folded heading
            move_slider(page, stem_file, SLIDERS[stem])
        print(f"{key}: Run All took {time.time() - start:.1f} s in JupyterLab")
    except Exception:
        page.screenshot(path=ARTIFACTS / f"{stem_file}-failure.png")
        raise
    finally:
        try:  # free the kernel's memory before the next notebook
            page.evaluate("() => window.jupyterapp.shell.currentWidget.sessionContext.shutdown()")
        except Exception:
            pass  # the server is stopped at the end of the module anyway
        page.close()
    assert (REPO_ROOT / "notebooks" / f"{key}.ipynb").read_bytes() == stored, \
        f"{key}.ipynb changed on disk while JupyterLab had it open"
