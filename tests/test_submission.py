"""Tests for utils/submission.py: the checked, atomic Kaggle submission writer."""
import numpy as np
import pandas as pd
import pytest

from utils import submission

@pytest.fixture
def test_rows():
    return pd.DataFrame({"Id": [1461, 1462, 1463]})


def test_write_submission_writes_kaggle_format_atomically(tmp_path, test_rows):
    sub = submission.make_submission(test_rows, [100000.0, 150000.5, 90000.0])
    path = submission.write_submission(sub, test_rows, tmp_path / "new" / "submission.csv",
                                  expected_rows=3)
    written = pd.read_csv(path)
    assert list(written.columns) == ["Id", "SalePrice"]
    assert written["Id"].tolist() == [1461, 1462, 1463]
    np.testing.assert_allclose(written["SalePrice"], [100000.0, 150000.5, 90000.0])
    assert sorted(p.name for p in path.parent.iterdir()) == ["submission.csv"]  # no temp left


@pytest.mark.parametrize("prices, message", [
    ([1.0, np.nan, 2.0], "not finite positive"),
    ([1.0, np.inf, 2.0], "not finite positive"),
    ([1.0, 0.0, 2.0], "not finite positive"),
    ([1.0, -5.0, 2.0], "not finite positive"),
])
def test_bad_prices_are_refused_and_nothing_is_written(tmp_path, test_rows, prices, message):
    path = tmp_path / "submission.csv"
    path.write_text("previous\n")
    sub = submission.make_submission(test_rows, prices)
    with pytest.raises(submission.SubmissionError, match=message):
        submission.write_submission(sub, test_rows, path, expected_rows=3)
    assert path.read_text() == "previous\n"  # the old file is untouched
    assert [p.name for p in tmp_path.iterdir()] == ["submission.csv"]


def test_wrong_row_count_is_refused(tmp_path, test_rows):
    sub = submission.make_submission(test_rows, [1.0, 2.0, 3.0])
    with pytest.raises(submission.SubmissionError, match="1459"):
        submission.write_submission(sub, test_rows, tmp_path / "s.csv")  # Kaggle's 1459 expected
    assert not (tmp_path / "s.csv").exists()
    with pytest.raises(submission.SubmissionError, match="3 test rows"):
        submission.make_submission(test_rows, [1.0, 2.0])


def test_ids_must_equal_the_test_files(tmp_path, test_rows):
    good = submission.make_submission(test_rows, [1.0, 2.0, 3.0])
    reordered = good.iloc[[1, 0, 2]].reset_index(drop=True)
    other_ids = good.assign(Id=[1, 2, 3])
    for sub in (reordered, other_ids):
        with pytest.raises(submission.SubmissionError, match="Ids differ"):
            submission.write_submission(sub, test_rows, tmp_path / "s.csv", expected_rows=3)
    short_test = test_rows.iloc[:2]
    with pytest.raises(submission.SubmissionError, match="Ids differ"):
        submission.write_submission(good, short_test, tmp_path / "s.csv", expected_rows=3)
    assert not (tmp_path / "s.csv").exists()


def test_wrong_columns_are_refused(tmp_path, test_rows):
    sub = submission.make_submission(test_rows, [1.0, 2.0, 3.0]).rename(columns={"SalePrice": "y"})
    with pytest.raises(submission.SubmissionError, match="columns"):
        submission.write_submission(sub, test_rows, tmp_path / "s.csv", expected_rows=3)
