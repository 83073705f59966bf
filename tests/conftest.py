"""Shared fixtures. The real Kaggle data comes from KAGGLE_HOUSE_DIR (../shared/data in CI).

Tests never touch the network. Locally a test that needs the real data skips with a reason;
with CI=true it fails instead, so a CI run can never pass by skipping the real-data checks.
"""
import os
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

HOUSE_FILES = ("kaggle_house_pred_train.csv", "kaggle_house_pred_test.csv")


def in_ci():
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def skip_or_fail(reason):
    """Skip locally, fail in CI: for tests whose prerequisites CI must always have."""
    if in_ci():
        pytest.fail(f"{reason} (CI=true, so this fails instead of skipping)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def house_dir():
    """The folder holding the two real Kaggle CSVs."""
    folder = os.environ.get("KAGGLE_HOUSE_DIR")
    if not folder:
        skip_or_fail("KAGGLE_HOUSE_DIR is not set; point it at a folder with the Kaggle CSVs")
    missing = [f for f in HOUSE_FILES if not (Path(folder) / f).is_file()]
    if missing:
        skip_or_fail(f"KAGGLE_HOUSE_DIR={folder} lacks {', '.join(missing)}")
    return Path(folder)
