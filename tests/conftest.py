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

_executions = []  # (notebook, ok) for every run of a course notebook through `course_run`


@pytest.fixture(scope="session")
def course_run():
    """`utils.course.run.run` on the course's own notebooks (notebooks/, or notebooks/zh/ with
    lang="zh"), each execution counted for the closing summary that CI checks. Tests that execute
    the course notebooks go through this fixture, which also marks them `notebooks`."""
    from utils.course import run

    def course_run(names=(), lang=run.DEFAULT_LANG, **kwargs):
        results = run.run(names, lang=lang, **kwargs)
        prefix = "" if lang == run.DEFAULT_LANG else f"{lang}/"
        _executions.extend((prefix + r.stem, r.ok) for r in results)
        return results

    return course_run


def pytest_collection_modifyitems(items):
    """Mark the slow groups by what a test uses, so a marker cannot drift from the code:
    `notebooks` for tests that execute course notebooks (through `course_run`), `browser` for
    tests that drive JupyterLab (the `lab` fixture). `pytest -m "not notebooks and not browser"`
    is the quick run."""
    for item in items:
        names = getattr(item, "fixturenames", ())
        if "course_run" in names:
            item.add_marker(pytest.mark.notebooks)
        if "lab" in names:
            item.add_marker(pytest.mark.browser)


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
