"""utils.data: lookup order, safe downloads, validation errors, preprocessing, real-data shapes.

No test touches the network: `data._fetch` (the only network call) is replaced by fakes that
write bytes, and every test gets its own empty cache folder instead of the repo's data/. The
real `_fetch` is tested against loopback servers in test_faults_data.py.
"""
import hashlib
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import requests
from d2l import mxnet as d2l

from test_faults_data import frames as tiny_frames  # the real schema, n rows
from utils import data

REPO_ROOT = Path(__file__).resolve().parent.parent
GOOD = b"Id,x\n1,2\n"
CORRUPT = b"Id,x\n1,3\n"
FAKE_URL = "http://mirror.invalid/" + data.TRAIN_FILE


def sha1(content):
    return hashlib.sha1(content).hexdigest()


def forbid_network(url, fileobj):
    raise AssertionError(f"test tried to download {url}")


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An empty data/ cache, no $KAGGLE_HOUSE_DIR, no network, and the train file
    registered with the SHA-1 of GOOD so tiny files can stand in for the CSV."""
    folder = tmp_path / "cache"
    monkeypatch.setattr(data, "DATA_DIR", folder)
    monkeypatch.delenv(data.ENV_VAR, raising=False)
    monkeypatch.setattr(data, "_fetch", forbid_network)
    monkeypatch.setitem(data.HOUSE_FILES, data.TRAIN_FILE, (FAKE_URL, sha1(GOOD)))
    return folder


def put(folder, content, name=data.TRAIN_FILE):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(content)
    return folder / name


def fake_fetch(*chunks, then=None):
    """A stand-in for data._fetch that writes `chunks`, then raises `then` if given."""
    def fetch(url, fileobj):
        assert url == FAKE_URL
        for chunk in chunks:
            fileobj.write(chunk)
        if then is not None:
            raise then
    return fetch


# --- registry and small helpers -------------------------------------------------------------

def test_registry_uses_d2l_mirror():
    assert set(data.HOUSE_FILES) == {data.TRAIN_FILE, data.TEST_FILE}
    for name, (url, digest) in data.HOUSE_FILES.items():
        assert url == d2l.DATA_URL + name
        assert re.fullmatch(r"[0-9a-f]{40}", digest)


def test_registered_sha1_matches_real_files(house_dir):
    for name, (_, digest) in data.HOUSE_FILES.items():
        assert data.sha1_of(house_dir / name) == digest


def test_data_dir_is_absolute_repo_data_folder():
    """Absolute, so notebooks running with notebooks/ as cwd still use the repo's data/."""
    assert data.DATA_DIR.is_absolute()
    assert data.DATA_DIR == REPO_ROOT / "data"


def test_sha1_of(tmp_path):
    path = put(tmp_path, GOOD)
    assert data.sha1_of(path) == sha1(GOOD)


def test_schema_constants():
    assert len(data.TRAIN_COLUMNS) == 81 and len(data.TEST_COLUMNS) == 80
    assert data.TRAIN_COLUMNS[0] == "Id" and data.TRAIN_COLUMNS[-1] == data.LABEL
    assert data.TEST_COLUMNS == data.TRAIN_COLUMNS[:-1]


def test_schema_constants_match_real_headers(house_dir):
    train_header = pd.read_csv(house_dir / data.TRAIN_FILE, nrows=0).columns
    test_header = pd.read_csv(house_dir / data.TEST_FILE, nrows=0).columns
    assert tuple(train_header) == data.TRAIN_COLUMNS
    assert tuple(test_header) == data.TEST_COLUMNS


# --- locate: lookup order -------------------------------------------------------------------

def test_lookup_order(cache, tmp_path, monkeypatch):
    given, env = tmp_path / "given", tmp_path / "env"
    for folder in (given, env, cache):
        put(folder, GOOD)
    monkeypatch.setenv(data.ENV_VAR, str(env))
    assert data.locate(data.TRAIN_FILE, data_dir=given) == given / data.TRAIN_FILE
    assert data.locate(data.TRAIN_FILE) == env / data.TRAIN_FILE
    monkeypatch.delenv(data.ENV_VAR)
    assert data.locate(data.TRAIN_FILE) == cache / data.TRAIN_FILE


def test_data_dir_without_the_file_falls_through_to_env(cache, tmp_path, monkeypatch):
    given, env = tmp_path / "given", tmp_path / "env"
    given.mkdir()
    put(env, GOOD)
    monkeypatch.setenv(data.ENV_VAR, str(env))
    assert data.locate(data.TRAIN_FILE, data_dir=given) == env / data.TRAIN_FILE


@pytest.mark.parametrize("where", ["data_dir", "env"])
def test_named_folder_that_does_not_exist_is_an_error(cache, tmp_path, monkeypatch, where):
    missing = tmp_path / "typo"
    put(cache, GOOD)  # a good cached copy must not hide the wrong path
    kwargs = {}
    if where == "data_dir":
        kwargs["data_dir"] = missing
    else:
        monkeypatch.setenv(data.ENV_VAR, str(missing))
    with pytest.raises(data.DataNotFound, match="is not a folder") as err:
        data.locate(data.TRAIN_FILE, **kwargs)
    assert str(missing) in str(err.value)


def test_unknown_file_name(cache):
    with pytest.raises(data.DataError, match="unknown data file 'prices.csv'") as err:
        data.locate("prices.csv")
    assert data.TRAIN_FILE in str(err.value)


@pytest.mark.parametrize("where", ["data_dir", "env", "cache"])
def test_found_copy_with_wrong_sha1_is_an_error(cache, tmp_path, monkeypatch, where):
    folder = {"data_dir": tmp_path / "given", "env": tmp_path / "env", "cache": cache}[where]
    bad = put(folder, CORRUPT)
    if where != "cache":
        put(cache, GOOD)  # not silently used instead of the bad copy
    if where == "env":
        monkeypatch.setenv(data.ENV_VAR, str(folder))
    with pytest.raises(data.ChecksumMismatch) as err:
        data.locate(data.TRAIN_FILE, data_dir=folder if where == "data_dir" else None)
    message = str(err.value)
    assert str(bad) in message and sha1(CORRUPT) in message and sha1(GOOD) in message
    assert FAKE_URL in message
    assert bad.read_bytes() == CORRUPT  # reported, not deleted or overwritten
    if where == "cache":
        assert "download it again" in message


def test_good_copy_is_used_without_network(cache):
    put(cache, GOOD)
    assert data.locate(data.TRAIN_FILE).read_bytes() == GOOD  # forbid_network did not fire


def test_offline_without_download_names_url_and_folder(cache, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(data.DataNotFound) as err:
        data.locate(data.TRAIN_FILE, data_dir=empty, download=False)
    message = str(err.value)
    assert FAKE_URL in message and str(cache) in message and str(empty) in message


# --- downloads ------------------------------------------------------------------------------

def test_download_into_cache(cache, monkeypatch):
    monkeypatch.setattr(data, "_fetch", fake_fetch(GOOD[:4], GOOD[4:]))
    path = data.locate(data.TRAIN_FILE)
    assert path == cache / data.TRAIN_FILE
    assert path.read_bytes() == GOOD
    assert sorted(p.name for p in cache.iterdir()) == [data.TRAIN_FILE]  # no temp file left


def test_corrupt_download_leaves_nothing(cache, monkeypatch):
    monkeypatch.setattr(data, "_fetch", fake_fetch(CORRUPT))
    with pytest.raises(data.ChecksumMismatch, match="corrupt and was discarded") as err:
        data.locate(data.TRAIN_FILE)
    assert sha1(CORRUPT) in str(err.value) and sha1(GOOD) in str(err.value)
    assert list(cache.iterdir()) == []


def test_interrupted_download_leaves_nothing_and_says_what_to_do(cache, monkeypatch):
    monkeypatch.setattr(data, "_fetch",
                        fake_fetch(GOOD[:3], then=requests.ConnectionError("network is down")))
    with pytest.raises(data.DataNotFound) as err:
        data.locate(data.TRAIN_FILE)
    message = str(err.value)
    assert "network is down" in message and FAKE_URL in message and str(cache) in message
    assert data.ENV_VAR in message
    assert list(cache.iterdir()) == []


def test_ctrl_c_during_download_leaves_nothing(cache, monkeypatch):
    monkeypatch.setattr(data, "_fetch", fake_fetch(GOOD[:3], then=KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        data.locate(data.TRAIN_FILE)
    assert list(cache.iterdir()) == []


@pytest.mark.parametrize("fetch", [fake_fetch(CORRUPT),
                                   fake_fetch(b"Id", then=requests.Timeout("slow")),
                                   fake_fetch(b"Id", then=KeyboardInterrupt())])
def test_failed_download_never_replaces_a_good_copy(cache, monkeypatch, fetch):
    good = put(cache, GOOD)
    monkeypatch.setattr(data, "_fetch", fetch)
    with pytest.raises((data.DataError, KeyboardInterrupt)):
        data.download_file(data.TRAIN_FILE, cache)
    assert good.read_bytes() == GOOD
    assert sorted(p.name for p in cache.iterdir()) == [data.TRAIN_FILE]


# --- load_house_data: validation ------------------------------------------------------------

def register_csvs(folder, monkeypatch, train, test):
    """Write both frames as CSVs and register their SHA-1s, as if they were the real files."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in ((data.TRAIN_FILE, train), (data.TEST_FILE, test)):
        frame.to_csv(folder / name, index=False)
        url = data.HOUSE_FILES[name][0]
        monkeypatch.setitem(data.HOUSE_FILES, name, (url, data.sha1_of(folder / name)))
    return folder


def test_load_valid_files(cache, tmp_path, monkeypatch):
    train, test = tiny_frames()
    folder = register_csvs(tmp_path / "csv", monkeypatch, train, test)
    got_train, got_test = data.load_house_data(data_dir=folder, download=False)
    pd.testing.assert_frame_equal(got_train, train, check_dtype=False)
    pd.testing.assert_frame_equal(got_test, test, check_dtype=False)


def test_load_without_saleprice(cache, tmp_path, monkeypatch):
    train, test = tiny_frames()
    folder = register_csvs(tmp_path / "csv", monkeypatch, train.drop(columns=[data.LABEL]), test)
    with pytest.raises(data.SchemaError, match="no SalePrice column"):
        data.load_house_data(data_dir=folder, download=False)


def test_load_with_renamed_train_column(cache, tmp_path, monkeypatch):
    train, test = tiny_frames()
    train = train.rename(columns={"LotArea": "Lot Area"})
    folder = register_csvs(tmp_path / "csv", monkeypatch, train, test)
    with pytest.raises(data.SchemaError) as err:
        data.load_house_data(data_dir=folder, download=False)
    message = str(err.value)
    assert "missing ['LotArea']" in message and "unexpected ['Lot Area']" in message
    assert data.TRAIN_FILE in message


def test_load_with_missing_test_column(cache, tmp_path, monkeypatch):
    train, test = tiny_frames()
    folder = register_csvs(tmp_path / "csv", monkeypatch, train, test.drop(columns=["PoolQC"]))
    with pytest.raises(data.SchemaError, match=r"missing \['PoolQC'\]") as err:
        data.load_house_data(data_dir=folder, download=False)
    assert data.TEST_FILE in str(err.value) and "unexpected" not in str(err.value)


@pytest.mark.parametrize("bad_price, problem", [(np.nan, "missing or not a number"),
                                                (0.0, "zero or negative"),
                                                (-5.0, "zero or negative")])
def test_load_with_bad_labels_names_the_ids(cache, tmp_path, monkeypatch, bad_price, problem):
    train, test = tiny_frames(4)
    train.loc[2, data.LABEL] = bad_price
    folder = register_csvs(tmp_path / "csv", monkeypatch, train, test)
    with pytest.raises(data.LabelError, match=rf"{problem} at Id \[3\]"):
        data.load_house_data(data_dir=folder, download=False)


def test_check_labels_text_and_many_bad_rows():
    train = pd.DataFrame({"Id": range(1, 16), data.LABEL: ["abc"] + [-1.0] * 14})
    with pytest.raises(data.LabelError) as err:
        data.check_labels(train)
    message = str(err.value)
    assert "missing or not a number at Id [1]" in message
    assert "zero or negative at Id [2, 3, 4, 5, 6, 7, 8, 9, 10, 11] and 4 more" in message


def test_check_labels_accepts_positive_prices():
    data.check_labels(pd.DataFrame({"Id": [1, 2], data.LABEL: [1.0, 2.5e5]}))


def test_check_columns():
    frame = pd.DataFrame(columns=["Id", "a", "c"])
    data.check_columns(frame, ["Id", "c", "a"], "frame")  # order does not matter
    with pytest.raises(data.SchemaError, match=r"frame: missing \['b'\]; unexpected \['c'\]"):
        data.check_columns(frame, ["Id", "a", "b"], "frame")


# --- preprocess -----------------------------------------------------------------------------

@pytest.fixture
def frames():
    return data.synthetic_house_frames(n_train=30, n_test=12, seed=3)


def numeric_columns(train):
    return [c for c in train.columns if c not in ("Id", data.LABEL)
            and pd.api.types.is_numeric_dtype(train[c])]


def test_preprocess_synthetic(frames):
    train, test = frames
    X_train, X_test = data.preprocess(train, test)
    assert list(X_train.columns) == list(X_test.columns)
    assert (X_train.dtypes == np.float32).all() and (X_test.dtypes == np.float32).all()
    assert not X_train.isna().any().any() and not X_test.isna().any().any()
    assert X_train.index.equals(train.index) and X_test.index.equals(test.index)
    assert "Id" not in X_train.columns and data.LABEL not in X_train.columns
    categorical = [c for c in train.columns if train[c].dtype == object]
    expected = len(numeric_columns(train)) + sum(
        pd.concat((train[c], test[c])).nunique() + 1 for c in categorical)  # +1: the NaN column
    assert X_train.shape == (len(train), expected) and X_test.shape == (len(test), expected)
    for c in categorical:
        assert X_train[f"{c}_nan"].tolist() == train[c].isna().astype(float).tolist()
    # missing numbers become 0, the mean after standardization
    missing = train["LotFrontage"].isna()
    assert missing.any() and (X_train.loc[missing, "LotFrontage"] == 0).all()


def test_preprocess_test_only_category(frames):
    train, test = frames
    new = sorted(set(test["Neighborhood"].dropna()) - set(train["Neighborhood"].dropna()))
    assert new == ["TestOnlyVille"]
    X_train, X_test = data.preprocess(train, test, stats_from="train")
    column = "Neighborhood_TestOnlyVille"
    assert (X_train[column] == 0).all()
    is_new = (test["Neighborhood"] == "TestOnlyVille").astype(float)
    assert X_test[column].tolist() == is_new.tolist()


@pytest.mark.parametrize("stats_from", ["all", "train"])
def test_preprocess_standardizes_with_the_chosen_rows(frames, stats_from):
    train, test = frames
    X_train, X_test = data.preprocess(train, test, stats_from=stats_from)
    for c in numeric_columns(train):
        raw = pd.concat((train[c], test[c])) if stats_from == "all" else train[c]
        scaled = pd.concat((X_train[c], X_test[c])) if stats_from == "all" else X_train[c]
        present = raw.notna().values
        values = scaled[present].astype(np.float64)
        assert abs(values.mean()) < 1e-5, c
        assert abs(values.std() - 1) < 1e-5, c
        expected = ((raw - raw.mean()) / raw.std())[present].values
        np.testing.assert_allclose(values.values, expected, rtol=1e-5, atol=1e-6)


def test_train_stats_do_not_leak_test_rows(frames):
    train, test = frames
    shifted = test.copy()
    shifted["LotArea"] = shifted["LotArea"] * 10
    for stats_from, leaks in (("all", True), ("train", False)):
        before, _ = data.preprocess(train, test, stats_from=stats_from)
        after, _ = data.preprocess(train, shifted, stats_from=stats_from)
        assert before["LotArea"].equals(after["LotArea"]) is not leaks


def test_preprocess_does_not_modify_its_inputs(frames):
    train, test = frames
    train_copy, test_copy = train.copy(), test.copy()
    data.preprocess(train, test, stats_from="train")
    pd.testing.assert_frame_equal(train, train_copy)
    pd.testing.assert_frame_equal(test, test_copy)


def test_constant_column_does_not_become_inf(frames):
    train, test = frames
    train, test = train.assign(Const=5.0), test.assign(Const=7.0)
    X_train, X_test = data.preprocess(train, test, stats_from="train")
    assert (X_train["Const"] == 0).all() and (X_test["Const"] == 2).all()


def test_preprocess_rejects_unknown_stats_from(frames):
    with pytest.raises(ValueError, match="stats_from='test'"):
        data.preprocess(*frames, stats_from="test")


def test_preprocess_schema_errors(frames):
    train, test = frames
    with pytest.raises(data.SchemaError, match="train_df has no Id column"):
        data.preprocess(train.drop(columns=["Id"]), test)
    with pytest.raises(data.SchemaError, match="test_df has no Id column"):
        data.preprocess(train, test.drop(columns=["Id"]))
    with pytest.raises(data.SchemaError, match="no SalePrice column"):
        data.preprocess(train.drop(columns=[data.LABEL]), test)
    with pytest.raises(data.SchemaError, match=r"unexpected \['SalePrice'\]"):
        data.preprocess(train, test.assign(SalePrice=1.0))
    with pytest.raises(data.SchemaError, match=r"missing \['Alley'\]; unexpected \['alley'\]"):
        data.preprocess(train, test.rename(columns={"Alley": "alley"}))


# --- to_ndarrays ----------------------------------------------------------------------------

def test_to_ndarrays(frames):
    train, test = frames
    X_train_df, X_test_df = data.preprocess(train, test)
    X_train, y_train, X_test = data.to_ndarrays(X_train_df, train[data.LABEL], X_test_df)
    assert X_train.shape == X_train_df.shape and X_test.shape == X_test_df.shape
    assert y_train.shape == (len(train), 1)
    assert X_train.dtype == y_train.dtype == X_test.dtype == np.float32
    assert X_train.context == data.mx.cpu()
    np.testing.assert_array_equal(X_train.asnumpy(), X_train_df.values)
    np.testing.assert_allclose(y_train.asnumpy()[:, 0], train[data.LABEL].values, rtol=1e-6)
    _, _, none = data.to_ndarrays(X_train_df, train[data.LABEL], None)
    assert none is None


def test_to_ndarrays_errors(frames):
    train, test = frames
    X_train_df, X_test_df = data.preprocess(train, test)
    with pytest.raises(data.DataError, match="X_train has 30 rows but y_train has 29"):
        data.to_ndarrays(X_train_df, train[data.LABEL][:-1], X_test_df)
    with pytest.raises(data.DataError, match="different columns"):
        data.to_ndarrays(X_train_df, train[data.LABEL], X_test_df.iloc[:, 1:])
    with pytest.raises(data.DataError, match="run preprocess"):
        data.to_ndarrays(train, train[data.LABEL], None)  # raw frame: strings in it


# --- synthetic_house_frames -----------------------------------------------------------------

def test_synthetic_frames_kinds_of_columns():
    train, test = data.synthetic_house_frames(n_train=25, n_test=10, seed=1)
    assert len(train) == 25 and len(test) == 10
    assert list(test.columns) == [c for c in train.columns if c != data.LABEL]
    assert train["Id"].tolist() + test["Id"].tolist() == list(range(1, 36))
    assert (train[data.LABEL] > 0).all()
    numeric, categorical = numeric_columns(train), [c for c in train if train[c].dtype == object]
    assert numeric and categorical
    for frame in (train, test):
        assert frame[numeric].isna().any().any() and frame[categorical].isna().any().any()
    assert set(test["Neighborhood"].dropna()) - set(train["Neighborhood"].dropna())
    # the price follows the features, so a model has something to learn
    assert np.corrcoef(train["LotArea"], train[data.LABEL])[0, 1] > 0.5


def test_synthetic_frames_repeat_per_seed():
    first, again = data.synthetic_house_frames(seed=7), data.synthetic_house_frames(seed=7)
    other = data.synthetic_house_frames(seed=8)
    for a, b in zip(first, again):
        pd.testing.assert_frame_equal(a, b)
    assert not first[0].equals(other[0])


@pytest.mark.parametrize("sizes", [(1, 5), (10, 0)])
def test_synthetic_frames_reject_tiny_sizes(sizes):
    with pytest.raises(ValueError, match="need n_train >= 2 and n_test >= 1"):
        data.synthetic_house_frames(*sizes)


# --- the real Kaggle files ------------------------------------------------------------------

@pytest.fixture(scope="module")
def real_frames(house_dir):
    return data.load_house_data(data_dir=house_dir, download=False)


def test_real_data_shapes(real_frames):
    train, test = real_frames
    assert train.shape == (1460, 81) and test.shape == (1459, 80)
    features = [c for c in train.columns if c not in ("Id", data.LABEL)]
    assert len(features) == 79


def test_real_one_hot_column_count(real_frames):
    """After one-hot the 79 features become 330 columns, not the book's 331.

    The count is 36 numeric columns + for each of the 43 text columns its distinct values plus
    one NaN column (dummy_na=True adds it to every categorical column, even one without gaps).
    The book's 331 came from an older pandas: pandas 2.0 added the string "None" to read_csv's
    default missing-value markers, and MasVnrType uses "None" (no masonry veneer) as a real
    category, so it is read as NaN and MasVnrType_None merges into MasVnrType_nan (one column
    fewer). test_book_331_columns_come_back_with_none_kept_as_text checks this.
    """
    train, test = real_frames
    X_train, X_test = data.preprocess(train, test)
    both = pd.concat((train.drop(columns=["Id", data.LABEL]), test.drop(columns=["Id"])))
    text = [c for c in both if both[c].dtype == object]
    numeric = len(both.columns) - len(text)
    expected = numeric + sum(both[c].nunique() + 1 for c in text)
    assert (numeric, len(text)) == (36, 43)
    assert X_train.shape[1] == X_test.shape[1] == expected == 330
    assert list(X_train.columns) == list(X_test.columns)
    assert not X_train.isna().any().any() and not X_test.isna().any().any()


def test_book_331_columns_come_back_with_none_kept_as_text(real_frames, house_dir):
    train, test = real_frames
    restored = []
    for frame, name in ((train, data.TRAIN_FILE), (test, data.TEST_FILE)):
        raw = pd.read_csv(house_dir / name, na_filter=False, dtype=str)  # every cell as text
        has_none = [c for c in raw if (raw[c] == "None").any()]
        assert has_none == ["MasVnrType"]  # the only column pandas 2 reads differently
        frame = frame.copy()
        frame.loc[raw["MasVnrType"] == "None", "MasVnrType"] = "None"
        restored.append(frame)
    X_train, _ = data.preprocess(*restored)
    assert X_train.shape[1] == 331
    assert "MasVnrType_None" in X_train.columns


def test_real_train_only_categories_are_zero_in_test(real_frames):
    train, test = real_frames
    _, X_test = data.preprocess(train, test, stats_from="train")
    only_train = [f"{c}_{v}" for c in train if train[c].dtype == object
                  for v in set(train[c].dropna()) - set(test[c].dropna())]
    assert "RoofMatl_Membran" in only_train
    assert (X_test[only_train] == 0).all().all()


def test_real_test_only_category(real_frames):
    train, test = real_frames
    test = test.copy()
    test.loc[test.index[0], "Neighborhood"] = "Atlantis"  # a value training never saw
    for stats_from in ("all", "train"):
        X_train, X_test = data.preprocess(train, test, stats_from=stats_from)
        assert list(X_train.columns) == list(X_test.columns)
        assert (X_train["Neighborhood_Atlantis"] == 0).all()
        assert X_test["Neighborhood_Atlantis"].sum() == 1


def test_real_data_to_ndarrays(real_frames):
    train, test = real_frames
    X_train_df, X_test_df = data.preprocess(train, test)
    X_train, y_train, X_test = data.to_ndarrays(X_train_df, train[data.LABEL], X_test_df)
    assert X_train.shape == (1460, 330) and y_train.shape == (1460, 1)
    assert X_test.shape == (1459, 330)
