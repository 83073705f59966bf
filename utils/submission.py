"""The Kaggle submission: Id,SalePrice for every test house, checked before it is written.

Nothing is written unless Kaggle would accept and score the file, and a write never leaves a
half-written file behind (temp file in the same folder, then os.replace).
"""
import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

LABEL = "SalePrice"
KAGGLE_TEST_ROWS = 1459


class SubmissionError(ValueError):
    """The predictions do not make a valid Kaggle submission; nothing was written."""


def make_submission(test_df, prices):
    """A frame with Kaggle's two columns, Id and SalePrice, in the test file's row order."""
    prices = np.asarray(prices, dtype=np.float64).ravel()
    if len(prices) != len(test_df):
        raise SubmissionError(f"{len(prices)} predictions for {len(test_df)} test rows; "
                              "predict every row of the test file, in its order")
    return pd.DataFrame({"Id": test_df["Id"].to_numpy(), LABEL: prices})


def check_submission(submission, test_df, expected_rows=KAGGLE_TEST_ROWS):
    """Raise SubmissionError unless Kaggle would accept and score this frame."""
    if list(submission.columns) != ["Id", LABEL]:
        raise SubmissionError(f"columns are {list(submission.columns)}; Kaggle expects exactly "
                              f"['Id', '{LABEL}'] (use make_submission)")
    if expected_rows is not None and len(submission) != expected_rows:
        raise SubmissionError(f"{len(submission)} rows; the Kaggle test file has "
                              f"{expected_rows}: predict every test row")
    ids, test_ids = submission["Id"].to_numpy(), test_df["Id"].to_numpy()
    if len(ids) != len(test_ids) or not (ids == test_ids).all():
        raise SubmissionError("the Ids differ from the test file's (values or order); build "
                              "the frame with make_submission(test_df, prices)")
    prices = submission[LABEL].to_numpy(dtype=np.float64)
    bad = ~(np.isfinite(prices) & (prices > 0))
    if bad.any():
        shown = ids[bad][:5].tolist()
        raise SubmissionError(f"{int(bad.sum())} prices are not finite positive numbers "
                              f"(Ids {shown}); a diverged model or a missing exp()? Fix the "
                              "predictions before writing")


def write_submission(submission, test_df, path, expected_rows=KAGGLE_TEST_ROWS):
    """Check, then write Id,SalePrice to path atomically (temp file + os.replace)."""
    check_submission(submission, test_df, expected_rows)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", newline="") as handle:
            submission.to_csv(handle, index=False)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; a normal file is readable by all
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path
