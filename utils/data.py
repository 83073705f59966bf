"""The Kaggle house-price data: find or download it (SHA-1 checked), validate it, preprocess it.

Where a file is looked for, in order: the `data_dir` you pass, `$KAGGLE_HOUSE_DIR`, the repo's
`data/` cache, then a download from d2l's mirror into `data/`. A download goes to a temporary
file next to its final name and is renamed only after its SHA-1 matches, so an interrupted or
corrupt download leaves nothing behind and never replaces a good copy. Every failure raises a
`DataError` whose message says what to do.
"""
import hashlib
import os
import tempfile
from pathlib import Path

import mxnet as mx
import numpy as np
import pandas as pd
import requests
from d2l import mxnet as d2l

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = REPO_ROOT / "data"
ENV_VAR = "KAGGLE_HOUSE_DIR"
TRAIN_FILE = "kaggle_house_pred_train.csv"
TEST_FILE = "kaggle_house_pred_test.csv"
LABEL = "SalePrice"

# name -> (d2l mirror URL, SHA-1): the values d2l's own DATA_HUB registers for these files.
HOUSE_FILES = {
    TRAIN_FILE: (d2l.DATA_URL + TRAIN_FILE, "585e9cc93e70b39160e7921475f9bcd7d31219ce"),
    TEST_FILE: (d2l.DATA_URL + TEST_FILE, "fa19780a7b011d9b009e8bff8e99922a8ee2eb90"),
}

# The header of the real training file (Id, 79 features, SalePrice); the test file lacks SalePrice.
TRAIN_COLUMNS = (
    'Id', 'MSSubClass', 'MSZoning', 'LotFrontage', 'LotArea', 'Street', 'Alley', 'LotShape',
    'LandContour', 'Utilities', 'LotConfig', 'LandSlope', 'Neighborhood', 'Condition1',
    'Condition2', 'BldgType', 'HouseStyle', 'OverallQual', 'OverallCond', 'YearBuilt',
    'YearRemodAdd', 'RoofStyle', 'RoofMatl', 'Exterior1st', 'Exterior2nd', 'MasVnrType',
    'MasVnrArea', 'ExterQual', 'ExterCond', 'Foundation', 'BsmtQual', 'BsmtCond',
    'BsmtExposure', 'BsmtFinType1', 'BsmtFinSF1', 'BsmtFinType2', 'BsmtFinSF2', 'BsmtUnfSF',
    'TotalBsmtSF', 'Heating', 'HeatingQC', 'CentralAir', 'Electrical', '1stFlrSF', '2ndFlrSF',
    'LowQualFinSF', 'GrLivArea', 'BsmtFullBath', 'BsmtHalfBath', 'FullBath', 'HalfBath',
    'BedroomAbvGr', 'KitchenAbvGr', 'KitchenQual', 'TotRmsAbvGrd', 'Functional', 'Fireplaces',
    'FireplaceQu', 'GarageType', 'GarageYrBlt', 'GarageFinish', 'GarageCars', 'GarageArea',
    'GarageQual', 'GarageCond', 'PavedDrive', 'WoodDeckSF', 'OpenPorchSF', 'EnclosedPorch',
    '3SsnPorch', 'ScreenPorch', 'PoolArea', 'PoolQC', 'Fence', 'MiscFeature', 'MiscVal',
    'MoSold', 'YrSold', 'SaleType', 'SaleCondition', 'SalePrice',
)
TEST_COLUMNS = tuple(c for c in TRAIN_COLUMNS if c != LABEL)


class DataError(RuntimeError):
    """Anything wrong with the house-price data; the message says what to do."""


class DataNotFound(DataError):
    """No local copy and no download possible (offline, or download=False)."""


class ChecksumMismatch(DataError):
    """A file's SHA-1 differs from the registered one."""


class SchemaError(DataError):
    """Columns missing, renamed or unexpected."""


class LabelError(DataError):
    """SalePrice labels missing, zero, negative or not numbers."""


def sha1_of(path):
    """SHA-1 hex digest of a file, read in chunks."""
    digest = hashlib.sha1()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _registered(filename):
    if filename not in HOUSE_FILES:
        raise DataError(f"unknown data file {filename!r}; known files: {', '.join(HOUSE_FILES)}")
    return HOUSE_FILES[filename]


def _check_sha1(path, expected, what_to_do):
    actual = sha1_of(path)
    if actual != expected:
        raise ChecksumMismatch(
            f"{path} has SHA-1 {actual}, expected {expected} (the file d2l's mirror serves). "
            f"{what_to_do}")


def _search_folders(data_dir):
    """(label, folder) pairs in lookup order; a folder someone named explicitly must exist."""
    folders = []
    for label, folder in (("data_dir", data_dir), (f"${ENV_VAR}", os.environ.get(ENV_VAR))):
        if folder:
            if not Path(folder).is_dir():
                raise DataNotFound(f"{label}={folder} is not a folder; fix the path "
                                   f"or leave it unset to use {DATA_DIR}")
            folders.append((label, Path(folder)))
    folders.append(("cache", Path(DATA_DIR)))
    return folders


def _fetch(url, fileobj):
    """Stream `url` into an open binary file (the only network call; tests replace it)."""
    with requests.get(url, stream=True, timeout=30) as response:
        response.raise_for_status()
        for chunk in response.iter_content(chunk_size=1 << 16):
            fileobj.write(chunk)


def download_file(filename, folder=None):
    """Download a registered file into `folder` (default data/): temp file, SHA-1, rename."""
    url, sha1 = _registered(filename)
    folder = Path(folder or DATA_DIR)
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{filename}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            try:
                _fetch(url, f)
            except (requests.RequestException, OSError) as err:
                raise DataNotFound(
                    f"could not download {url} ({type(err).__name__}: {err}). If this machine "
                    f"is offline, fetch the file elsewhere and put it into {folder}/, or set "
                    f"{ENV_VAR} to a folder that holds it.") from err
        _check_sha1(tmp, sha1, f"The download from {url} is corrupt and was discarded; "
                               f"try again, or put a good copy into {folder}/ by hand.")
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; a normal file is readable by all
        os.replace(tmp, folder / filename)
    except BaseException:  # also Ctrl-C: never leave a partial file behind
        Path(tmp).unlink(missing_ok=True)
        raise
    return folder / filename


def locate(filename, data_dir=None, download=True):
    """Path to a verified copy of `filename`: data_dir, $KAGGLE_HOUSE_DIR, data/, then download."""
    url, sha1 = _registered(filename)
    folders = _search_folders(data_dir)
    for label, folder in folders:
        path = folder / filename
        if path.is_file():
            retry = "to download it again" if label == "cache" else "and retry"
            _check_sha1(path, sha1, f"Replace it with the file from {url}, or delete it {retry}.")
            return path
    if not download:
        searched = ", ".join(str(folder) for _, folder in folders)
        raise DataNotFound(f"{filename} was not found in {searched} and download=False. "
                           f"Download it from {url} and put it into {DATA_DIR}/.")
    return download_file(filename, DATA_DIR)


def check_columns(df, expected, what):
    """Raise SchemaError naming missing and unexpected columns (renamed ones show as both)."""
    missing = [c for c in expected if c not in df.columns]
    extra = [c for c in df.columns if c not in expected]
    if missing or extra:
        parts = [f"missing {missing}"] if missing else []
        parts += [f"unexpected {extra}"] if extra else []
        raise SchemaError(f"{what}: {'; '.join(parts)}. Use the unmodified Kaggle CSV "
                          f"(d2l mirror) or rename the columns back.")


def check_labels(train_df):
    """Raise LabelError unless every SalePrice is a positive number (log RMSE needs log(y))."""
    if LABEL not in train_df.columns:
        raise SchemaError(f"the training data has no {LABEL} column; did you pass the test "
                          f"file ({TEST_FILE}) as training data?")
    prices = pd.to_numeric(train_df[LABEL], errors="coerce")
    ids = train_df["Id"] if "Id" in train_df.columns else train_df.index
    problems = []
    for name, bad in (("missing or not a number", prices.isna()),
                      ("zero or negative", prices <= 0)):
        if bad.any():
            shown = list(ids[bad.values])[:10]
            more = f" and {int(bad.sum()) - len(shown)} more" if bad.sum() > len(shown) else ""
            problems.append(f"{name} at Id {shown}{more}")
    if problems:
        raise LabelError(f"{LABEL} must be a positive price in every row: {'; '.join(problems)}. "
                         f"Fix or drop those rows.")


def load_house_data(data_dir=None, download=True):
    """(train_df, test_df) as read from the verified CSVs, schema and labels checked."""
    train_path = locate(TRAIN_FILE, data_dir, download)
    test_path = locate(TEST_FILE, data_dir, download)
    train_df, test_df = pd.read_csv(train_path), pd.read_csv(test_path)
    if LABEL not in train_df.columns:
        check_labels(train_df)  # raises the "no SalePrice" error
    check_columns(train_df, TRAIN_COLUMNS, str(train_path))
    check_columns(test_df, TEST_COLUMNS, str(test_path))
    check_labels(train_df)
    return train_df, test_df


def preprocess(train_df, test_df, stats_from="all"):
    """The book's features: standardize numerics, NaN -> 0, one-hot with a NaN column, float32.

    stats_from="all" standardizes with mean/std over train and test rows (the book);
    "train" uses train_df rows only, so nothing about held-out rows leaks into the features.
    Returns (X_train, X_test) DataFrames with identical columns, indexed like the inputs.
    """
    if stats_from not in ("all", "train"):
        raise ValueError(f"stats_from={stats_from!r}; use 'all' (the book) or 'train'")
    for what, df in (("train_df", train_df), ("test_df", test_df)):
        if "Id" not in df.columns:
            raise SchemaError(f"{what} has no Id column; pass the frames load_house_data returns")
    if LABEL not in train_df.columns:
        check_labels(train_df)  # raises the "no SalePrice" error
    features = [c for c in train_df.columns if c not in ("Id", LABEL)]
    check_columns(test_df, ["Id"] + features, "test_df (must have train_df's columns minus "
                                              f"{LABEL})")
    all_features = pd.concat((train_df[features], test_df[features]), ignore_index=True)
    numeric = [c for c in features if pd.api.types.is_numeric_dtype(all_features[c])]
    stats_rows = all_features[numeric] if stats_from == "all" else train_df[numeric]
    mean, std = stats_rows.mean(), stats_rows.std()
    std = std.where(std > 0, 1.0)  # constant (or single-row) columns: avoid 0/0
    all_features[numeric] = ((all_features[numeric] - mean) / std).fillna(0)
    all_features = pd.get_dummies(all_features, dummy_na=True).astype(np.float32)
    n = len(train_df)
    X_train, X_test = all_features.iloc[:n].copy(), all_features.iloc[n:].copy()
    X_train.index, X_test.index = train_df.index, test_df.index
    return X_train, X_test


def _as_nd(values, what, ctx):
    try:
        array = np.asarray(values, dtype=np.float32)
    except (TypeError, ValueError) as err:
        raise DataError(f"{what} is not numeric ({err}); run preprocess() first") from err
    return mx.nd.array(array, ctx=ctx or mx.cpu(), dtype=np.float32)


def to_ndarrays(X_train_df, y_train_series, X_test_df, ctx=None):
    """(X_train, y_train of shape (n, 1), X_test) as float32 NDArrays; X_test_df may be None."""
    if len(X_train_df) != len(y_train_series):
        raise DataError(f"X_train has {len(X_train_df)} rows but y_train has "
                        f"{len(y_train_series)}; pass the labels of the same rows")
    if X_test_df is not None and list(X_test_df.columns) != list(X_train_df.columns):
        raise DataError("X_train and X_test have different columns; build both with one "
                        "preprocess() call")
    X_train = _as_nd(X_train_df, "X_train", ctx)
    y_train = _as_nd(np.asarray(y_train_series).reshape(-1, 1), "y_train", ctx)
    X_test = None if X_test_df is None else _as_nd(X_test_df, "X_test", ctx)
    return X_train, y_train, X_test


def synthetic_house_frames(n_train=40, n_test=20, seed=0):
    """Small fake (train_df, test_df) with the real data's kinds of columns, for fast tests.

    Numeric (int and float) and categorical columns, missing values in both kinds in both
    frames, a Neighborhood that only the test frame has, and a positive SalePrice that depends
    on the features (so a model can learn something). Same seed, same frames.
    """
    if n_train < 2 or n_test < 1:
        raise ValueError(f"need n_train >= 2 and n_test >= 1, got {n_train} and {n_test}")
    rng = np.random.RandomState(seed)
    n = n_train + n_test
    area = rng.randint(1500, 20000, size=n)
    quality = rng.randint(1, 11, size=n)
    frontage = rng.normal(70.0, 20.0, size=n).round(1)
    neighborhoods = np.array(["NAmes", "CollgCr", "OldTown"])
    neighborhood = neighborhoods[rng.randint(0, len(neighborhoods), size=n)].astype(object)
    alley = np.array(["Grvl", "Pave", None], dtype=object)[rng.randint(0, 3, size=n)]
    frontage[::5] = np.nan                          # every fifth row, in train and in test
    alley[[0, n_train]] = None                       # missing category in both frames
    neighborhood[n_train] = "TestOnlyVille"          # a category the training rows lack
    frame = pd.DataFrame({
        "Id": np.arange(1, n + 1), "LotArea": area, "OverallQual": quality,
        "LotFrontage": frontage, "Neighborhood": neighborhood, "Alley": alley})
    price = 20000 + 8.0 * area + 15000.0 * quality + rng.normal(0, 5000, size=n)
    train_df = frame.iloc[:n_train].reset_index(drop=True)
    train_df[LABEL] = price[:n_train].round()
    test_df = frame.iloc[n_train:].reset_index(drop=True)
    return train_df, test_df
