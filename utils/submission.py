"""The Kaggle submission: Id,SalePrice for every test house, checked before it is written.

Nothing is written unless Kaggle would accept and score the file (every Id once, as an
integer, in the test file's order; every price a finite positive real number, so complex
values, dates and integers beyond float range are refused, not converted), prices given as a
pandas Series are matched to houses by their index (test_df's row labels or Ids), not by
position, and a write never leaves a half-written file behind (temp file, then os.replace).
"""
import datetime
import decimal
import numbers
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from utils import write_atomically

LABEL = "SalePrice"
KAGGLE_TEST_ROWS = 1459
# Kaggle's training prices run from 34,900 to 755,000 dollars: a median outside this range
# suggests other units (log prices without exp(), thousands of dollars). An undertrained model
# can predict that low in dollars too (the book's, 1 epoch at lr 0.5: median 476), so this
# warns and writes, rather than refusing a file Kaggle would score.
PLAUSIBLE_MEDIAN = (1_000.0, 10_000_000.0)
# Kaggle Notebooks submit /kaggle/working/submission.csv: a submission.csv written elsewhere
# is copied there too when that folder exists
KAGGLE_WORKING = Path("/kaggle/working")


class PricesLookOff(UserWarning):
    """The prices' median is far outside Kaggle's range: other units, or a model barely trained."""


class SubmissionError(ValueError):
    """The predictions do not make a valid Kaggle submission, or the file could not be
    written; either way nothing was written."""


def _shown(values, limit=5):
    values = list(values)
    more = f" and {len(values) - limit} more" if len(values) > limit else ""
    return f"{values[:limit]}{more}"


def _integer_ids(ids, what):
    """`ids` as int64, refusing missing, non-numeric and fractional Ids (1461.0 is fine)."""
    numeric = pd.to_numeric(pd.Series(np.asarray(ids, dtype=object)), errors="coerce")
    numeric = numeric.astype(np.float64)
    bad = ~np.isfinite(numeric.to_numpy()) | (numeric != numeric.round()).to_numpy()
    if bad.any():
        rows = np.flatnonzero(bad)
        raise SubmissionError(f"{what} has Ids that are not whole numbers: "
                              f"{_shown(np.asarray(ids, dtype=object)[rows].tolist())} at rows "
                              f"{_shown(rows.tolist())}; use the test file's integer Ids "
                              f"(make_submission(test_df, prices))")
    return numeric.to_numpy().astype(np.int64)


def _price_problem(value):
    """Why one price is not a plain real number (complex, a date, a bool, too large), or ''."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""  # missing: reported below as not finite
    if isinstance(value, (bool, np.bool_)):
        return "a bool"
    if isinstance(value, (complex, np.complexfloating)):
        return "complex"
    if isinstance(value, (np.datetime64, np.timedelta64, pd.Timestamp, pd.Timedelta,
                          datetime.date, datetime.timedelta)):
        return "a date or duration"
    if isinstance(value, (numbers.Real, np.number, decimal.Decimal)):
        try:
            float(value)
        except OverflowError:
            return "too large for a float"
        return ""
    if isinstance(value, str):
        try:
            float(value)
        except ValueError:
            return "not a number"
        except OverflowError:
            return "too large for a float"
        return ""
    return "not a number"


def _numeric_prices(prices, ids):
    """`prices` as float64, naming the Ids of entries that are not real numbers (text,
    complex, dates, bools, integers too large for a float): none is quietly converted."""
    dtype = getattr(prices, "dtype", None)
    kind = {"c": "complex", "M": "dates", "m": "durations", "b": "bools"}.get(
        getattr(dtype, "kind", ""))
    if kind:  # converting would keep the real part, or turn dates into nanoseconds
        raise SubmissionError(f"the prices are {kind} ({dtype}); pass real-valued predictions "
                              f"(e.g. net(X_test).asnumpy().ravel())")
    given = np.asarray(prices, dtype=object).ravel()
    problems = [_price_problem(v) for v in given]
    bad = np.array([bool(p) for p in problems], dtype=bool)
    if bad.any():
        kinds = sorted({p for p in problems if p})
        what = ("not numbers" if kinds == ["not a number"] else
                f"not real numbers ({', '.join(kinds)})")
        raise SubmissionError(f"{int(bad.sum())} prices are {what} "
                              f"({_shown(given[bad].tolist(), 3)} at Ids "
                              f"{_shown(np.asarray(ids)[bad].tolist())}); pass real-valued "
                              f"predictions (e.g. net(X_test).asnumpy().ravel())")
    values = pd.to_numeric(pd.Series(given), errors="coerce")
    return values.to_numpy(dtype=np.float64)


def _aligned(prices, test_df, ids):
    """A pandas Series of prices in the test file's row order, matched by its index.

    The index must hold the test frame's row labels or its Ids (each once); a Series sorted by
    value, or one with other labels, would otherwise give houses each other's prices.
    """
    index = prices.index
    if index.equals(test_df.index) or index.equals(pd.Index(ids)):
        return prices.to_numpy()
    if index.has_duplicates:
        raise SubmissionError(f"the prices Series repeats index labels "
                              f"{_shown(index[index.duplicated()].unique().tolist())}; give one "
                              f"price per test house (index = test_df's index or its Ids)")
    for labels, what in ((test_df.index, "test_df's row labels"), (pd.Index(ids), "Ids")):
        if len(index) == len(labels) and set(index) == set(labels):
            return prices.reindex(labels).to_numpy()
    raise SubmissionError(f"the prices Series' index ({_shown(index[:3].tolist(), 3)}...) is "
                          f"neither test_df's row labels nor its Ids, so prices cannot be "
                          f"matched to houses; pass a Series indexed like test_df, or a plain "
                          f"array in the test file's row order")


def make_submission(test_df, prices):
    """A frame with Kaggle's two columns, Id and SalePrice, in the test file's row order."""
    if "Id" not in test_df.columns:
        raise SubmissionError("test_df has no Id column; pass the test frame load_house_data "
                              "returns")
    if hasattr(prices, "asnumpy"):  # an MXNet NDArray
        prices = prices.asnumpy()
    shape = np.shape(prices)
    if len(shape) > 2 or (len(shape) == 2 and shape[1] != 1):
        raise SubmissionError(f"prices has shape {shape}; pass one price per test row "
                              f"(shape ({len(test_df)},) or ({len(test_df)}, 1))")
    n = int(np.prod(shape, dtype=np.int64))
    if n != len(test_df):
        raise SubmissionError(f"{n} predictions for {len(test_df)} test rows; "
                              "predict every row of the test file, in its order")
    ids = _integer_ids(test_df["Id"].to_numpy(), "test_df")
    if isinstance(prices, pd.DataFrame):
        prices = prices.iloc[:, 0]
    if isinstance(prices, pd.Series):
        prices = _aligned(prices, test_df, ids)
    return pd.DataFrame({"Id": ids, LABEL: _numeric_prices(prices, ids)})


def check_submission(submission, test_df, expected_rows=KAGGLE_TEST_ROWS):
    """Raise SubmissionError unless Kaggle would accept and score this frame.

    Returns the frame as it is written: integer Ids and float64 prices.
    """
    if list(submission.columns) != ["Id", LABEL]:
        raise SubmissionError(f"columns are {list(submission.columns)}; Kaggle expects exactly "
                              f"['Id', '{LABEL}'] (use make_submission)")
    if expected_rows is not None and len(submission) != expected_rows:
        raise SubmissionError(f"{len(submission)} rows; the Kaggle test file has "
                              f"{expected_rows}: predict every test row")
    if "Id" not in test_df.columns:
        raise SubmissionError("test_df has no Id column; pass the test frame load_house_data "
                              "returns")
    ids = _integer_ids(submission["Id"].to_numpy(), "the submission")
    repeated = pd.Series(ids).duplicated(keep=False).to_numpy()
    if repeated.any():
        raise SubmissionError(f"Ids {_shown(sorted(set(ids[repeated].tolist())))} appear more "
                              f"than once; Kaggle scores each test house once: build the frame "
                              f"with make_submission(test_df, prices) from the unmodified test "
                              f"file")
    test_ids = _integer_ids(test_df["Id"].to_numpy(), "test_df")
    if len(ids) != len(test_ids) or not (ids == test_ids).all():
        raise SubmissionError("the Ids differ from the test file's (values or order); build "
                              "the frame with make_submission(test_df, prices)")
    prices = _numeric_prices(submission[LABEL].to_numpy(), ids)
    bad = ~(np.isfinite(prices) & (prices > 0))
    if bad.any():
        shown = ids[bad][:5].tolist()
        raise SubmissionError(f"{int(bad.sum())} prices are not finite positive numbers "
                              f"(Ids {shown}); a diverged model or a missing exp()? Fix the "
                              "predictions before writing")
    median = float(np.median(prices))
    low, high = PLAUSIBLE_MEDIAN
    if expected_rows == KAGGLE_TEST_ROWS and not low <= median <= high:
        fix = ("if the model predicts log prices, write np.exp(predictions); if thousands of "
               "dollars, multiply by 1000; else the model may be barely trained"
               if median < low else
               "undo whatever scaled the predictions (cents? labels multiplied during training?)")
        warnings.warn(f"the median price is {median:,.6g}, but SalePrice is in dollars "
                      f"(Kaggle's training prices run from 34,900 to 755,000): {fix}; written "
                      f"anyway", PricesLookOff, stacklevel=3)
    return pd.DataFrame({"Id": ids, LABEL: prices})


def write_submission(submission, test_df, path, expected_rows=KAGGLE_TEST_ROWS):
    """Check, then write Id,SalePrice to path atomically (utils.write_atomically).

    Ids are written as integers (1461, not 1461.0) whatever dtype the frame holds them in.
    """
    if isinstance(submission, pd.Series):  # prices alone: matched to houses by their index
        submission = make_submission(test_df, submission)
    clean = check_submission(submission, test_df, expected_rows)
    path = Path(path).expanduser()  # `~/kaggle/submission.csv`, typed as text
    try:
        if path.is_dir():
            raise IsADirectoryError(21, "it is a folder, not a file")
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, lambda tmp: clean.to_csv(tmp, index=False))
    except OSError as err:
        raise SubmissionError(f"could not write {path}: {err.strerror or err}; pick a "
                              f"writable file path (the previous file, if any, is unchanged)"
                              ) from err
    _copy_for_kaggle(clean, test_df, path, expected_rows)
    return path


def _copy_for_kaggle(clean, test_df, path, expected_rows):
    """On Kaggle Notebooks, the final submission.csv also where Kaggle takes it from."""
    kaggle = Path(KAGGLE_WORKING) / "submission.csv"
    if path.name != kaggle.name or not kaggle.parent.is_dir():
        return
    if path.resolve() != kaggle.resolve():
        write_submission(clean, test_df, kaggle, expected_rows)
        print(f"also wrote {kaggle} (Kaggle Notebooks submit that file)")
