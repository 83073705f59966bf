"""Shared fixtures, and a closing summary of what the data tests and notebook runs did.

The real Kaggle data is found where the loader finds it, without downloading: the
KAGGLE_HOUSE_DIR folder (../shared/data in CI), else the project's data/. Tests never touch the
network. Locally a test that needs the real data skips with a reason; with CI=true it fails
instead, so a CI run can never pass by skipping the real-data checks.
"""
import os
import sys
from collections import Counter
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

HOUSE_FILES = ("kaggle_house_pred_train.csv", "kaggle_house_pred_test.csv")
DATA_FIXTURE = "house_dir"  # every test that needs the real CSVs depends on this fixture
NOTEBOOK_DIR = REPO_ROOT / "notebooks"


def in_ci():
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def skip_or_fail(reason):
    """Skip locally, fail in CI: for tests whose prerequisites CI must always have."""
    if in_ci():
        pytest.fail(f"{reason} (CI=true, so this fails instead of skipping)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def house_dir():
    """The folder holding the two real Kaggle CSVs, found as utils.data finds them."""
    from utils import data  # imported here: collecting the tests must not need pandas/requests

    try:
        folders = {data.locate(name, download=False).parent for name in HOUSE_FILES}
    except data.DataError as err:
        skip_or_fail(f"needs the Kaggle CSVs (in data/ or $KAGGLE_HOUSE_DIR): {err}")
    if len(folders) != 1:
        skip_or_fail("the two Kaggle CSVs were found in different folders "
                     f"({', '.join(sorted(map(str, folders)))}); put both into one")
    return folders.pop()


# ----- what ran: counted during the session, printed at its end --------------------------------

_executions = []  # (notebook stem, ok) for every run of a course notebook through the runner


@pytest.fixture(scope="session", autouse=True)
def _count_notebook_runs():
    """Count course-notebook executions by wrapping utils.course.run.run_notebook (if it exists)."""
    try:
        from utils.course import run
    except Exception:  # the runner's own tests report an import failure
        yield
        return
    original = getattr(run, "run_notebook", None)
    if original is None:
        yield
        return

    def counted(path, *args, **kwargs):
        result = original(path, *args, **kwargs)
        folder = Path(path).resolve().parent  # notebooks/, or notebooks/zh/ (Chinese edition)
        if folder in (NOTEBOOK_DIR.resolve(), (NOTEBOOK_DIR / "zh").resolve()):
            name = Path(path).stem if folder == NOTEBOOK_DIR.resolve() else f"zh/{Path(path).stem}"
            _executions.append((name, bool(getattr(result, "ok", False))))
        return result

    run.run_notebook = counted
    try:
        yield
    finally:
        run.run_notebook = original


def pytest_terminal_summary(terminalreporter):
    """Say how many data tests ran or skipped, and how many notebook executions there were."""
    outcome_of = {}  # nodeid -> the test's outcome; a failure in any phase wins over a pass
    rank = {"passed": 0, "skipped": 1, "failed": 2, "error": 2}
    for outcome in rank:
        for report in terminalreporter.stats.get(outcome, []):
            if getattr(report, "_data_test", False):
                old = outcome_of.get(report.nodeid)
                if old is None or rank[outcome] > rank[old]:
                    outcome_of[report.nodeid] = outcome
    counts = Counter(outcome_of.values())
    shown = ", ".join(f"{counts[o]} {o}" for o in rank if counts[o] or o in ("passed", "skipped"))
    terminalreporter.section("what ran")
    terminalreporter.write_line(f"data tests (need the Kaggle CSVs): {shown}")
    runs = Counter(stem for stem, _ in _executions)
    ok = sum(good for _, good in _executions)
    detail = ", ".join(f"{stem} x{n}" for stem, n in sorted(runs.items())) or "none"
    terminalreporter.write_line(f"course notebook executions through the runner: "
                                f"{len(_executions)} ({ok} ok): {detail}")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Mark each report of a test that depends (directly or not) on the real data."""
    outcome = yield
    report = outcome.get_result()
    report._data_test = DATA_FIXTURE in getattr(item, "fixturenames", ())
