"""The Kaggle house-price data: find or download it (SHA-1 checked), validate it, preprocess it.

Where a file is looked for, in order: the `data_dir` you pass, `$KAGGLE_HOUSE_DIR`, on Kaggle
Notebooks the competition's input folder (train.csv, test.csv), the repo's `data/` cache, then a download from d2l's mirror into `data/`. A download goes to a temporary
file next to its final name and is renamed only after its SHA-1 matches, so an interrupted or
corrupt download leaves nothing behind and never replaces a good copy; it has one overall
deadline and shows a progress bar for large files. Every failure, file-system ones included,
raises a `DataError` whose one-line message names the file or folder and says what to do.

After the checksum, the files (and frames you load yourself: `check_house_frames`) are checked
for what a checksum cannot promise once the registry or the files are your own: encoding,
empty tables, rows cut short, missing or duplicate Ids, columns and labels.
"""
import csv
import errno
import hashlib
import io
import os
import time
import warnings
from contextlib import contextmanager
from pathlib import Path

import mxnet as mx
import numpy as np
import pandas as pd
import requests
import urllib3
from d2l import mxnet as d2l

from utils import REPO_ROOT, write_atomically

DATA_DIR = REPO_ROOT / "data"
ENV_VAR = "KAGGLE_HOUSE_DIR"
TRAIN_FILE = "kaggle_house_pred_train.csv"
TEST_FILE = "kaggle_house_pred_test.csv"
LABEL = "SalePrice"
DOWNLOAD_DEADLINE = 300.0   # seconds for a whole file; ~450 KB each, so ~1.5 KB/s still makes it
READ_TIMEOUT = 30.0         # seconds of silence before a read gives up (bounded by the deadline)
PROGRESS_MIN_BYTES = 1 << 18  # show a progress bar for downloads of 256 KiB or more
MAX_DOWNLOAD_BYTES = 4 << 20  # each real file is about 450 KB: a mirror sending more is broken
# Kaggle Notebooks mount the competition's files read-only here, under the competition's names
# for d2l's two files (same sizes, 460676 and 451405 bytes; the SHA-1 below is checked there too)
KAGGLE_INPUT = Path("/kaggle/input") / "house-prices-advanced-regression-techniques"
KAGGLE_NAMES = {"kaggle_house_pred_train.csv": "train.csv", "kaggle_house_pred_test.csv": "test.csv"}

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
# Columns that hold numbers (or nothing) in every row of both real files; one text value in one
# row would make pandas read the whole column as text and one-hot encode every value.
NUMERIC_COLUMNS = (
    'MSSubClass', 'LotFrontage', 'LotArea', 'OverallQual', 'OverallCond', 'YearBuilt',
    'YearRemodAdd', 'MasVnrArea', 'BsmtFinSF1', 'BsmtFinSF2', 'BsmtUnfSF', 'TotalBsmtSF',
    '1stFlrSF', '2ndFlrSF', 'LowQualFinSF', 'GrLivArea', 'BsmtFullBath', 'BsmtHalfBath',
    'FullBath', 'HalfBath', 'BedroomAbvGr', 'KitchenAbvGr', 'TotRmsAbvGrd', 'Fireplaces',
    'GarageYrBlt', 'GarageCars', 'GarageArea', 'WoodDeckSF', 'OpenPorchSF', 'EnclosedPorch',
    '3SsnPorch', 'ScreenPorch', 'PoolArea', 'MiscVal', 'MoSold', 'YrSold',
)


class DataError(RuntimeError):
    """Anything wrong with the house-price data; the message says what to do."""


class DataNotFound(DataError):
    """No local copy and no download possible (offline, or download=False)."""


class ChecksumMismatch(DataError):
    """A file's SHA-1 differs from the registered one."""


class SchemaError(DataError):
    """Columns missing, renamed or unexpected."""


class LabelError(DataError):
    """SalePrice labels missing, zero, negative, infinite or not numbers."""


class DownloadTimeout(DataNotFound):
    """A download did not finish within DOWNLOAD_DEADLINE seconds (slow or stalled link)."""


class DataAccessError(DataError):
    """A file or folder could not be read or written (permissions, read-only, disk full...)."""


class FormatError(DataError):
    """A CSV that is not UTF-8, is empty or header-only, or has a row cut short."""


class IdError(DataError):
    """Ids missing, not integers, repeated, or shared by the training and test data."""


def _os_reason(err):
    """A plain-words reason for an OSError (the errno text alone is cryptic for some)."""
    reasons = {errno.EROFS: "the file system is read-only", errno.EACCES: "permission denied",
               errno.EPERM: "permission denied", errno.ENOSPC: "no space left on the device",
               errno.EDQUOT: "disk quota exceeded",
               errno.ENOTDIR: "a part of the path is a file, not a folder",
               errno.EEXIST: "a file is in the way", errno.EISDIR: "it is a folder, not a file"}
    return reasons.get(err.errno, err.strerror or type(err).__name__)


@contextmanager
def _file_system(doing, path, what_to_do):
    """Turn an OSError into a DataAccessError naming the path and what to do (one line)."""
    try:
        yield
    except DataError:
        raise
    except OSError as err:
        raise DataAccessError(f"could not {doing} {path}: {_os_reason(err)}; "
                              f"{what_to_do}") from err


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


def _readable_hint(path):
    return (f"fix its permissions (e.g. chmod a+r {path}) or set {ENV_VAR} to a folder with a "
            f"readable copy")


def _search_folders(data_dir):
    """(label, folder) pairs in lookup order; a folder someone named explicitly must exist."""
    folders = []
    for label, folder in (("data_dir", data_dir), (f"${ENV_VAR}", os.environ.get(ENV_VAR))):
        if folder:
            folder = Path(folder).expanduser()  # `~` set where no shell expands it
            with _file_system("open the folder", folder, _readable_hint(folder)):
                is_dir = Path(folder).is_dir()
            if not is_dir:
                raise DataNotFound(f"{label}={folder} is not a folder; fix the path "
                                   f"or leave it unset to use {DATA_DIR}")
            folders.append((label, Path(folder)))
    if Path(KAGGLE_INPUT).is_dir():  # on Kaggle Notebooks, with the competition's data added
        folders.append(("Kaggle", Path(KAGGLE_INPUT)))
    folders.append(("cache", Path(DATA_DIR)))
    return folders


class _TooLarge(Exception):
    """Raised by _fetch when a body is (or announces to be) larger than MAX_DOWNLOAD_BYTES."""


class _DeadlinePassed(Exception):
    """Raised by _fetch when the overall deadline passed; download_file words the message."""

    def __init__(self, received, total):
        super().__init__(received, total)
        self.received, self.total = received, total


def _chunks(response):
    """The body as it arrives. urllib3's read1 returns whatever one read gets (a slow server
    cannot hold a 64 KiB read open for long); without it, small chunks bound the wait."""
    read1 = getattr(response.raw, "read1", None)
    if read1 is None:
        yield from response.iter_content(chunk_size=1 << 10)
        return
    while True:
        chunk = read1(1 << 16, decode_content=True)
        if not chunk:
            return
        yield chunk


def _fetch(url, fileobj):
    """Stream `url` into an open binary file (the only network call; tests replace it).

    One overall deadline, DOWNLOAD_DEADLINE seconds: a per-read timeout alone lets a server
    that sends a byte now and then keep a download going for ever. A silent server is
    stopped by the read timeout, which is never longer than the deadline. Files of
    PROGRESS_MIN_BYTES or more show a progress bar.
    """
    from tqdm.auto import tqdm
    deadline = float(DOWNLOAD_DEADLINE)
    started = time.monotonic()
    timeout = min(READ_TIMEOUT, deadline)
    with requests.get(url, stream=True, timeout=(timeout, timeout)) as response:
        response.raise_for_status()
        length = response.headers.get("Content-Length", "")
        total = int(length) if length.isdigit() else None
        if total is not None and total > MAX_DOWNLOAD_BYTES:
            raise _TooLarge(f"announces {total} bytes")
        received = 0
        with tqdm(total=total, desc=url.rsplit("/", 1)[-1], unit="B", unit_scale=True,
                  disable=total is None or total < PROGRESS_MIN_BYTES) as bar:
            for chunk in _chunks(response):
                if time.monotonic() - started > deadline:
                    raise _DeadlinePassed(received, total)
                received += len(chunk)
                if received > MAX_DOWNLOAD_BYTES:  # junk without end: stop before the disk
                    raise _TooLarge(f"sent more than {MAX_DOWNLOAD_BYTES} bytes")
                fileobj.write(chunk)
                bar.update(len(chunk))


def download_file(filename, folder=None):
    """Download a registered file into `folder` (default data/): temp file, SHA-1, rename."""
    url, sha1 = _registered(filename)
    folder = Path(folder or DATA_DIR)
    target = folder / filename
    elsewhere = f"or put the two CSVs into a folder of your own and set {ENV_VAR} to it"
    with _file_system("create the download folder", folder,
                      f"make {folder.parent} writable, {elsewhere}"):
        if folder.exists() and not folder.is_dir():
            raise DataAccessError(f"{folder} is a file, but downloads go into a folder of that "
                                  f"name: move or rename the file, {elsewhere}")
        folder.mkdir(parents=True, exist_ok=True)
    checked = []

    def download_and_check(tmp):  # a corrupt download raises here and is never renamed
        with _file_system("write the download to", folder,
                          f"free some space or make it writable, {elsewhere}"):
            with open(tmp, "wb") as f:
                _download_into(f, url, folder)
        with _file_system("read the download back in", folder, f"retry, {elsewhere}"):
            _check_sha1(tmp, sha1, f"The download from {url} is corrupt and was discarded; "
                                   f"try again, or put a good copy into {folder}/ by hand.")
        checked.append(True)
    try:
        write_atomically(target, download_and_check)
    except OSError as err:  # creating the temp file, or renaming the checked one
        doing, fix = ((f"move the download into place at {target}", "remove what is in "
                       "the way and retry") if checked else (f"write into {folder}",
                                                             "make it writable"))
        raise DataAccessError(f"could not {doing}: {_os_reason(err)}; {fix}, {elsewhere}"
                              ) from err
    return target


def _download_into(fileobj, url, folder):
    """_fetch with network failures worded as DataNotFound (file-system ones pass through)."""
    offline = (f"If this machine is offline, fetch the file elsewhere and put it into "
               f"{folder}/, or set {ENV_VAR} to a folder that holds it.")
    try:
        _fetch(url, fileobj)
    except _DeadlinePassed as late:
        of = f" of {late.total}" if late.total else ""
        raise DownloadTimeout(
            f"downloading {url} did not finish within {DOWNLOAD_DEADLINE:g} s "
            f"({late.received}{of} bytes arrived): the connection is too slow or stalled; "
            f"try again later. {offline}") from None
    except _TooLarge as large:
        raise DataNotFound(
            f"downloading {url} was stopped: the server {large} (the real file is about "
            f"450 KB, and at most {MAX_DOWNLOAD_BYTES} bytes are accepted), so it is not the "
            f"Kaggle file; nothing was kept. {offline}") from None
    except (requests.RequestException, urllib3.exceptions.HTTPError) as err:
        raise DataNotFound(f"could not download {url} ({type(err).__name__}: {err}). "
                           f"{offline}") from err


def _kaggle_copy_differs(path, sha1):
    """Kaggle's mounted copy cannot be replaced: if its bytes differ from d2l's, warn and skip."""
    with _file_system("read", path, _readable_hint(path)):
        actual = sha1_of(path)
    if actual != sha1:
        warnings.warn(f"{path} has SHA-1 {actual}, not {sha1} (d2l's copy, which the notebooks' "
                      f"checks were measured on); using data/ or d2l's mirror instead (turn on "
                      f"the notebook's Internet)", stacklevel=3)
    return actual != sha1


def locate(filename, data_dir=None, download=True):
    """Path to a verified copy of `filename`: data_dir, $KAGGLE_HOUSE_DIR, Kaggle's input folder,
    data/, then download."""
    url, sha1 = _registered(filename)
    folders = _search_folders(data_dir)
    for label, folder in folders:
        path = folder / (KAGGLE_NAMES[filename] if label == "Kaggle" else filename)
        with _file_system("look for", path, _readable_hint(folder)):
            found = path.is_file()
            in_the_way = not found and path.exists()
        if in_the_way:
            raise DataAccessError(f"{path} exists but is not a regular file (a folder?); "
                                  f"remove or rename it and retry")
        if found and label == "Kaggle" and _kaggle_copy_differs(path, sha1):
            continue  # read-only there: say so and look on (data/, then d2l's mirror)
        if found:
            retry = "to download it again" if label == "cache" else "and retry"
            with _file_system("read", path, _readable_hint(path)):
                _check_sha1(path, sha1, f"Replace it with the file from {url}, or delete it "
                                        f"{retry}.")
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


def _check_separator(header, what):
    """FormatError when a one-field header holds another separator: a ;- or tab-separated file
    read as CSV has one column, and every later check would name the wrong cause."""
    if len(header) != 1:
        return
    for separator, name in ((";", "semicolons"), ("\t", "tabs"), ("|", "bars")):
        if separator in str(header[0]):
            raise FormatError(
                f"{what} separates its fields with {name}, not commas (its header is one "
                f"field: {str(header[0])[:40]!r}...); save it as comma-separated CSV, e.g. "
                f"pd.read_csv(path, sep={separator!r}).to_csv(path, index=False)")


def check_labels(train_df, what="the training data"):
    """Raise LabelError unless every SalePrice is a finite positive number (log needs y > 0)."""
    _check_separator(list(train_df.columns), what)
    if LABEL not in train_df.columns:
        raise SchemaError(f"{what} has no {LABEL} column; did you pass the test file "
                          f"({TEST_FILE}) as training data?")
    prices = pd.to_numeric(train_df[LABEL], errors="coerce")
    ids = train_df["Id"] if "Id" in train_df.columns else train_df.index
    problems = []
    for name, bad in (("missing or not a number", prices.isna()),
                      ("infinite", np.isinf(prices)),
                      ("zero or negative", prices <= 0)):
        if bad.any():
            shown = list(ids[bad.values])[:10]
            more = f" and {int(bad.sum()) - len(shown)} more" if bad.sum() > len(shown) else ""
            problems.append(f"{name} at Id {shown}{more}")
    if problems:
        raise LabelError(f"{LABEL} must be a positive price in every row: {'; '.join(problems)}. "
                         f"Fix or drop those rows.")


def _rows_named(df, mask, limit=5):
    """'rows [3, 7] (Id [4, 8])': positions counted from 0, plus the Ids where there are any."""
    positions = np.flatnonzero(np.asarray(mask))
    text = f"rows {positions[:limit].tolist()}"
    if len(positions) > limit:
        text += f" and {len(positions) - limit} more"
    if "Id" in df.columns:
        text += f" (Id {df['Id'].iloc[positions[:limit]].tolist()})"
    return text


def check_rows(df, what, last_column=None):
    """Raise unless `df` has rows, an integer Id in every row, no Id twice, no row cut short.

    A row cut short (a file truncated mid-row) shows up as an empty last column;
    `last_column` is a column the real data never leaves empty (SalePrice, SaleCondition).
    """
    if len(df) == 0:
        raise FormatError(f"{what} has no rows; use the complete Kaggle file")
    if "Id" not in df.columns:
        raise SchemaError(f"{what} has no Id column; use the unmodified Kaggle CSV")
    ids = pd.to_numeric(df["Id"], errors="coerce")
    bad = ids.isna() | (ids != ids.round())
    if bad.any():
        raise IdError(f"{what}: Id is missing or not an integer in {_rows_named(df, bad)}, "
                      f"counting rows from 0; every house needs its integer Id: fix or drop "
                      f"those rows")
    repeated = ids.duplicated(keep=False)
    if repeated.any():
        raise IdError(f"{what}: Ids {sorted(set(ids[repeated].astype(int)))[:5]} appear more "
                      f"than once ({_rows_named(df, repeated)}, counting rows from 0); each "
                      f"house must appear once: drop the repeated rows")
    if last_column is not None and last_column in df.columns:
        empty = df[last_column].isna()
        if empty.any():
            raise FormatError(f"{what}: {_rows_named(df, empty)} have no {last_column} (the "
                              f"last column), so they look cut short; restore those rows or "
                              f"use the complete Kaggle file")


def check_numbers(df, what):
    """Raise FormatError naming column, row and value when a numeric column holds text
    (`12500sqft`, `1,200`): pandas would read the column as text without a word."""
    for column in NUMERIC_COLUMNS:
        if column not in df.columns or pd.api.types.is_numeric_dtype(df[column]):
            continue
        values = df[column]
        bad = pd.to_numeric(values, errors="coerce").isna() & values.notna()
        if bad.any():
            first = int(np.flatnonzero(bad.to_numpy())[0])
            raise FormatError(f"{what}: column {column} holds text {values.iloc[first]!r} in "
                              f"{_rows_named(df, bad)}, counting rows from 0; it must be a "
                              f"number: fix those values or use the unmodified Kaggle CSV")


def check_house_frames(train_df, test_df, train_name="the training data",
                       test_name="the test data"):
    """Every check load_house_data makes, for frames you loaded yourself.

    Columns, rows (empty, Ids, cut short), labels, text in numeric columns, and Ids shared by
    the two frames.
    """
    _check_separator(list(test_df.columns), test_name)
    if LABEL not in train_df.columns:
        check_labels(train_df, train_name)  # raises the "no SalePrice" error
    check_columns(train_df, TRAIN_COLUMNS, train_name)
    check_columns(test_df, TEST_COLUMNS, test_name)
    check_rows(train_df, train_name)  # a cut-short training row lacks SalePrice: check_labels
    check_rows(test_df, test_name, last_column=TEST_COLUMNS[-1])
    check_labels(train_df, train_name)
    check_numbers(train_df, train_name)
    check_numbers(test_df, test_name)
    shared = np.intersect1d(pd.to_numeric(train_df["Id"]), pd.to_numeric(test_df["Id"]))
    if len(shared):
        raise IdError(f"Ids {shared[:5].astype(int).tolist()} ({len(shared)} in all) are in "
                      f"both {train_name} and {test_name}; a house is either for training or "
                      f"to predict: use the two Kaggle files as they are")


def read_csv(path):
    """Read one CSV strictly: UTF-8 (or ASCII), a header and rows, every row complete.

    pandas would read a truncated row as NaNs and a file in another encoding as mojibake or
    a UnicodeDecodeError without a line; each of these is a FormatError naming the line.
    """
    path = Path(path)
    with _file_system("read", path, _readable_hint(path)):
        raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        raise FormatError(f"{path} is not UTF-8 text: byte 0x{raw[err.start]:02x} on line "
                          f"{line} cannot be decoded; save the file as UTF-8 (Kaggle's "
                          f"original is plain ASCII)") from None
    restore = "restore the file (delete it to download it again)"
    nul = text.find("\0")
    if nul >= 0:  # pandas would read the field as a missing value, without a word
        raise FormatError(f"{path} line {text.count(chr(10), 0, nul) + 1} holds a NUL byte "
                          f"(a damaged or binary file); {restore}")
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        if not header or not any(field.strip() for field in header):
            raise FormatError(f"{path} is empty; use the complete Kaggle file (delete it to "
                              f"download it again)")
        _check_separator(header, path)
        rows = 0
        for row in reader:
            if not row:
                continue  # a blank line, as pandas skips it
            rows += 1
            if len(row) != len(header):
                state = "cut short" if len(row) < len(header) else "too long"
                raise FormatError(f"{path} line {reader.line_num} (Id {row[0]!r}) has "
                                  f"{len(row)} fields but the header has {len(header)}: the "
                                  f"row is {state}; {restore}")
    except csv.Error as err:
        raise FormatError(f"{path} line {reader.line_num} is not valid CSV ({err}); "
                          f"{restore}") from None
    if rows == 0:
        raise FormatError(f"{path} has a header but no rows; use the complete Kaggle file "
                          f"(delete it to download it again)")
    try:
        return pd.read_csv(io.StringIO(text))
    except (pd.errors.ParserError, ValueError) as err:
        reason = str(err).replace("\n", " ").strip()
        raise FormatError(f"{path} is not valid CSV ({reason}); {restore}") from None


def load_house_data(data_dir=None, download=True):
    """(train_df, test_df) read from the verified CSVs, with every check_house_frames check."""
    train_path = locate(TRAIN_FILE, data_dir, download)
    test_path = locate(TEST_FILE, data_dir, download)
    train_df, test_df = read_csv(train_path), read_csv(test_path)
    check_house_frames(train_df, test_df, str(train_path), str(test_path))
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
    if hasattr(y_train_series, "index") and not X_train_df.index.equals(y_train_series.index):
        raise DataError("X_train and y_train have different row labels (index), so each "
                        "house would get another house's price; pass the labels of the same "
                        "rows, in the same order (y = train_df.loc[X_train.index, 'SalePrice'])")
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
