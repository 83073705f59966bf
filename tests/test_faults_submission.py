"""Fault injection for utils.submission: Ids and prices Kaggle would reject, and paths that
cannot be written, are refused with one SubmissionError line; nothing is (half-)written."""
import errno
import os
import warnings

import numpy as np
import pandas as pd
import pytest
from mxnet import nd

from utils import submission as S


@pytest.fixture
def test_rows():
    return pd.DataFrame({"Id": [1461, 1462, 1463]})


def one_line(err):
    message = str(err)
    assert "\n" not in message, message
    return message


def refused_and_untouched(tmp_path, call, *parts):
    """`call(path)` must raise SubmissionError containing `parts`, leaving the old file as is."""
    path = tmp_path / "submission.csv"
    path.write_text("previous\n")
    with pytest.raises(S.SubmissionError) as err:
        call(path)
    message = one_line(err.value)
    for part in parts:
        assert part in message, message
    assert path.read_text() == "previous\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["submission.csv"]  # no temp file
    return message


# ------------------------------------------------------------------------------------ Ids

def test_duplicate_ids_are_refused(tmp_path):
    doubled = pd.DataFrame({"Id": [1461, 1461, 1463]})
    sub = S.make_submission(doubled, [1.0, 2.0, 3.0])
    refused_and_untouched(tmp_path, lambda p: S.write_submission(sub, doubled, p, 3),
                          "Ids [1461] appear more than once")


def test_whole_float_ids_are_written_as_integers(tmp_path):
    floats = pd.DataFrame({"Id": [1461.0, 1462.0, 1463.0]})  # e.g. read from a CSV with a NaN
    sub = S.make_submission(floats, [1.0, 2.5, 3.0])
    path = S.write_submission(sub, floats, tmp_path / "s.csv", expected_rows=3)
    assert path.read_text().splitlines() == ["Id,SalePrice", "1461,1.0", "1462,2.5", "1463,3.0"]
    # a hand-built frame with float Ids is written with integers too
    by_hand = pd.DataFrame({"Id": [1461.0, 1462.0, 1463.0], "SalePrice": [1.0, 2.0, 3.0]})
    S.write_submission(by_hand, floats, path, expected_rows=3)
    assert path.read_text().splitlines()[1] == "1461,1.0"
    assert by_hand["Id"].dtype == np.float64  # the caller's frame is not changed


@pytest.mark.parametrize("bad_id, shown", [(1461.5, "1461.5"), ("abc", "'abc'"),
                                           (np.nan, "nan"), (None, "None")])
def test_non_integer_ids_are_refused(tmp_path, test_rows, bad_id, shown):
    by_hand = pd.DataFrame({"Id": [bad_id, 1462, 1463], "SalePrice": [1.0, 2.0, 3.0]},
                           dtype=object)
    refused_and_untouched(tmp_path, lambda p: S.write_submission(by_hand, test_rows, p, 3),
                          "the submission has Ids that are not whole numbers", shown,
                          "at rows [0]")
    bad_test = pd.DataFrame({"Id": [bad_id, 1462, 1463]}, dtype=object)
    with pytest.raises(S.SubmissionError, match="test_df has Ids that are not whole numbers"):
        S.make_submission(bad_test, [1.0, 2.0, 3.0])


def test_test_frame_without_ids(tmp_path):
    with pytest.raises(S.SubmissionError, match="test_df has no Id column"):
        S.make_submission(pd.DataFrame({"x": [1]}), [1.0])


# --------------------------------------------------------------------------------- prices

@pytest.mark.parametrize("prices, shown", [
    ([1.0, "abc", 3.0], "['abc'] at Ids [1462]"),
    ([1.0, "1e5x", None], "['1e5x'] at Ids [1462]"),
    ([1.0, 2.0, object()], "at Ids [1463]"),
])
def test_non_numeric_prices_are_refused(tmp_path, test_rows, prices, shown):
    with pytest.raises(S.SubmissionError) as err:
        S.make_submission(test_rows, prices)
    message = one_line(err.value)
    assert "prices are not numbers" in message and shown in message
    by_hand = pd.DataFrame({"Id": [1461, 1462, 1463], "SalePrice": prices})
    refused_and_untouched(tmp_path, lambda p: S.write_submission(by_hand, test_rows, p, 3),
                          "prices are not numbers", shown)


def test_numeric_strings_and_ndarrays_are_prices(tmp_path, test_rows):
    sub = S.make_submission(test_rows, ["100000", "2e5", 3.0])
    assert sub["SalePrice"].tolist() == [100000.0, 200000.0, 3.0]
    from_nd = S.make_submission(test_rows, nd.array([[1.0], [2.0], [3.0]]))
    assert from_nd["SalePrice"].tolist() == [1.0, 2.0, 3.0]


def test_prices_of_the_wrong_shape(test_rows):
    with pytest.raises(S.SubmissionError, match=r"prices has shape \(3, 2\); pass one price"):
        S.make_submission(test_rows, np.ones((3, 2)))


def test_missing_prices_are_refused(tmp_path, test_rows):
    sub = S.make_submission(test_rows, [1.0, None, 3.0])  # None is a missing number
    refused_and_untouched(tmp_path, lambda p: S.write_submission(sub, test_rows, p, 3),
                          "1 prices are not finite positive numbers (Ids [1462])")


# ---------------------------------------------------------------------------------- paths

def test_path_that_is_a_folder(tmp_path, test_rows):
    sub = S.make_submission(test_rows, [1.0, 2.0, 3.0])
    folder = tmp_path / "out"
    folder.mkdir()
    with pytest.raises(S.SubmissionError) as err:
        S.write_submission(sub, test_rows, folder, expected_rows=3)
    assert f"could not write {folder}: it is a folder, not a file" in one_line(err.value)
    assert list(folder.iterdir()) == []


def test_a_path_typed_with_a_tilde_goes_to_the_home_folder(tmp_path, test_rows, monkeypatch):
    """"~/kaggle/submission.csv" is text: no shell expands it, write_submission does."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    sub = S.make_submission(test_rows, [1.0, 2.0, 3.0])
    path = S.write_submission(sub, test_rows, "~/kaggle/submission.csv", expected_rows=3)
    assert path == tmp_path / "home" / "kaggle" / "submission.csv" and path.is_file()
    assert not (tmp_path / "~").exists()


@pytest.mark.parametrize("code", [errno.EROFS, errno.ENOSPC, errno.EACCES])
def test_write_failures_leave_the_old_file(tmp_path, test_rows, monkeypatch, code):
    sub = S.make_submission(test_rows, [1.0, 2.0, 3.0])

    def fail(src, dst):
        raise OSError(code, os.strerror(code), str(dst))
    monkeypatch.setattr(os, "replace", fail)
    refused_and_untouched(tmp_path, lambda p: S.write_submission(sub, test_rows, p, 3),
                          f"could not write {tmp_path / 'submission.csv'}: "
                          f"{os.strerror(code)}", "the previous file, if any, is unchanged")


def test_ctrl_c_while_writing_leaves_no_temp_file(tmp_path, test_rows, monkeypatch):
    sub = S.make_submission(test_rows, [1.0, 2.0, 3.0])

    def interrupted(src, dst):
        raise KeyboardInterrupt
    monkeypatch.setattr(os, "replace", interrupted)
    path = tmp_path / "submission.csv"
    path.write_text("previous\n")
    with pytest.raises(KeyboardInterrupt):
        S.write_submission(sub, test_rows, path, expected_rows=3)
    assert path.read_text() == "previous\n" and [p.name for p in tmp_path.iterdir()] == [
        "submission.csv"]


# ------------------------------------------------------- prices matched to houses by meaning

def test_a_price_series_is_matched_to_houses_by_its_index_not_its_position(tmp_path):
    test_df = pd.DataFrame({"Id": [1461, 1462, 1463, 1464]})
    prices = pd.Series([100.0, 200.0, 300.0, 400.0], index=test_df.index)
    by_value = prices.sort_values(ascending=False)  # index 3, 2, 1, 0
    path = S.write_submission(S.make_submission(test_df, by_value), test_df,
                              tmp_path / "s.csv", expected_rows=4)
    assert path.read_text().splitlines()[1:] == ["1461,100.0", "1462,200.0", "1463,300.0",
                                                 "1464,400.0"]
    by_id = pd.Series([400.0, 100.0, 300.0, 200.0], index=[1464, 1461, 1463, 1462])
    S.write_submission(by_id, test_df, path, expected_rows=4)  # a Series alone is accepted too
    assert path.read_text().splitlines()[1:] == ["1461,100.0", "1462,200.0", "1463,300.0",
                                                 "1464,400.0"]


@pytest.mark.parametrize("index, words", [([7, 8, 9], "neither test_df's row labels nor"),
                                          ([0, 0, 1], "repeats index labels [0]")])
def test_a_price_series_whose_index_matches_no_house_is_refused(tmp_path, test_rows, index,
                                                                 words):
    prices = pd.Series([1.0, 2.0, 3.0], index=index)
    refused_and_untouched(tmp_path, lambda p: S.write_submission(
        S.make_submission(test_rows, prices), test_rows, p, 3), words)


@pytest.mark.parametrize("prices, words", [
    (np.array([1 + 2j, 2.0, 3.0]), "complex"),
    ([1.0, 2 + 0j, 3.0], "complex"),
    (pd.Series(pd.to_datetime(["2020-01-01"] * 3)), "dates"),
    ([pd.Timestamp("2020-01-01"), 2.0, 3.0], "a date or duration"),
    (np.array([True, True, False]), "bools"),
    ([10 ** 400, 2.0, 3.0], "too large for a float"),
    (["1e999999", 2.0, 3.0], "not finite positive"),  # text that float() reads as inf
])
def test_prices_that_are_not_real_numbers_are_refused_not_converted(tmp_path, test_rows,
                                                                    prices, words):
    def write(path):
        S.write_submission(S.make_submission(test_rows, prices), test_rows, path, 3)
    message = refused_and_untouched(tmp_path, write, words)
    assert "Error" not in message.split(":")[0]


@pytest.mark.parametrize("scale, words", [(np.log, "the median price is 12."),
                                          (lambda p: p / 1000, "the median price is 18"),
                                          (lambda p: p * 1000, "(cents?")])
def test_prices_in_other_units_are_named_in_a_warning(tmp_path, scale, words):
    test_df = pd.DataFrame({"Id": np.arange(1461, 1461 + S.KAGGLE_TEST_ROWS)})
    dollars = np.random.default_rng(0).uniform(100_000, 260_000, S.KAGGLE_TEST_ROWS)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # dollars: no warning
        S.write_submission(S.make_submission(test_df, dollars), test_df, tmp_path / "ok.csv")
    with pytest.warns(S.PricesLookOff) as caught:
        S.write_submission(S.make_submission(test_df, scale(dollars)), test_df,
                           tmp_path / "odd.csv")
    message = str(caught[0].message)
    assert words in message and "SalePrice is in dollars" in message and "\n" not in message
    assert caught[0].filename == __file__  # points at the caller's line
    assert len((tmp_path / "odd.csv").read_text().splitlines()) == S.KAGGLE_TEST_ROWS + 1
