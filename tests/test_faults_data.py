"""Fault injection for utils.data: every way the loader's files, folders, downloads and
contents break ends in one DataError line that names the path, row or column and says what to do.

File-system faults are real where a root-run test can make them real (data/ being a file, a
folder where the CSV should be, a full disk through /dev/full) and injected at the OS call
otherwise (read-only file system, permission denied: root ignores file modes). Downloads run
against HTTP servers on 127.0.0.1 that each test starts and stops; nothing else is contacted.
"""
import errno
import hashlib
import http.server
import os
import tempfile
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
from tqdm import tqdm

from utils import data

GOOD = b"Id,x\n1,2\n"


def sha1(content):
    return hashlib.sha1(content).hexdigest()


def one_line(err):
    message = str(err)
    assert "\n" not in message, message
    return message


def locate_error(error=data.DataAccessError, **kwargs):
    """The message of the `error` that locating the train file raises: one line."""
    with pytest.raises(error) as err:
        data.locate(data.TRAIN_FILE, **kwargs)
    return one_line(err.value)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An empty data/ cache, no $KAGGLE_HOUSE_DIR, and the train file registered with the
    SHA-1 of GOOD at a URL nothing serves (tests that download set their own)."""
    folder = tmp_path / "cache"
    monkeypatch.setattr(data, "DATA_DIR", folder)
    monkeypatch.delenv(data.ENV_VAR, raising=False)
    monkeypatch.setitem(data.HOUSE_FILES, data.TRAIN_FILE,
                        ("http://mirror.invalid/" + data.TRAIN_FILE, sha1(GOOD)))
    return folder


def serve_good_bytes(url, fileobj):
    fileobj.write(GOOD)


def leftovers(folder):
    return sorted(p.name for p in Path(folder).iterdir()) if Path(folder).is_dir() else []


# --------------------------------------------------------------------- file-system faults

def test_data_folder_is_a_file(cache, monkeypatch):
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text("not a folder")
    monkeypatch.setattr(data, "_fetch", serve_good_bytes)
    message = locate_error()
    assert f"{cache} is a file" in message and "move or rename" in message
    assert data.ENV_VAR in message
    assert cache.read_text() == "not a folder"


def oserror(code, path=None):
    return OSError(code, os.strerror(code), str(path) if path else None)


@pytest.mark.parametrize("code, reason", [
    (errno.EROFS, "the file system is read-only"),
    (errno.EACCES, "permission denied"),
    (errno.EPERM, "permission denied"),
])
def test_data_folder_that_cannot_be_written(cache, monkeypatch, code, reason):
    """A read-only or foreign data/: the temp file cannot be created there."""
    cache.mkdir(parents=True)
    monkeypatch.setattr(data, "_fetch", serve_good_bytes)

    def refuse(dir, prefix, suffix):
        raise oserror(code, Path(dir) / f"{prefix}xyz{suffix}")
    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    message = locate_error()
    assert f"could not write into {cache}: {reason}" in message
    assert "make it writable" in message and data.ENV_VAR in message


def test_data_folder_that_cannot_be_created(cache, monkeypatch):
    monkeypatch.setattr(data, "_fetch", serve_good_bytes)

    def refuse(self, *args, **kwargs):
        raise oserror(errno.EACCES, self)
    monkeypatch.setattr(Path, "mkdir", refuse)
    message = locate_error()
    assert f"could not create the download folder {cache}: permission denied" in message
    assert f"make {cache.parent} writable" in message


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (Linux)")
def test_disk_full_during_download_keeps_the_good_copy(cache, monkeypatch):
    """Real ENOSPC: the temp file is /dev/full, so buffered writes fail when flushed."""
    put_good = cache / data.TRAIN_FILE
    cache.mkdir(parents=True)
    put_good.write_bytes(b"an older copy")
    monkeypatch.setitem(data.HOUSE_FILES, data.TRAIN_FILE,
                        ("http://mirror.invalid/x", sha1(GOOD)))
    tmp = cache / ".partial.tmp"

    def full_disk(dir, prefix, suffix):  # the temp file's writes land on /dev/full
        tmp.symlink_to("/dev/full")
        return os.open(os.devnull, os.O_WRONLY), str(tmp)
    monkeypatch.setattr(tempfile, "mkstemp", full_disk)
    monkeypatch.setattr(data, "_fetch", serve_good_bytes)
    with pytest.raises(data.DataAccessError) as err:
        data.download_file(data.TRAIN_FILE)
    message = one_line(err.value)
    assert f"could not write the download to {cache}: no space left on the device" in message
    assert "free some space" in message
    assert put_good.read_bytes() == b"an older copy"
    assert leftovers(cache) == [data.TRAIN_FILE]


def test_rename_into_place_fails(cache, monkeypatch):
    monkeypatch.setattr(data, "_fetch", serve_good_bytes)

    def refuse(src, dst):
        raise oserror(errno.EACCES, dst)
    monkeypatch.setattr(data.os, "replace", refuse)
    message = locate_error()
    assert f"could not move the download into place at {cache / data.TRAIN_FILE}" in message
    assert leftovers(cache) == []  # the verified temp file was removed too


def test_a_folder_where_the_csv_should_be(cache):
    (cache / data.TRAIN_FILE).mkdir(parents=True)
    message = locate_error()
    assert f"{cache / data.TRAIN_FILE} exists but is not a regular file" in message
    assert "remove or rename it" in message


def test_unreadable_cached_file(cache, monkeypatch):
    path = cache / data.TRAIN_FILE
    cache.mkdir(parents=True)
    path.write_bytes(GOOD)

    def refuse(p):
        raise PermissionError(errno.EACCES, "Permission denied", str(p))
    monkeypatch.setattr(data, "sha1_of", refuse)
    message = locate_error()
    assert f"could not read {path}: permission denied" in message
    assert f"chmod a+r {path}" in message


def deny_access(monkeypatch, method, culprit):
    """Path.<method> raises PermissionError (EACCES) for the paths `culprit(path)` picks: what a
    file mode would do to anyone but root."""
    original = getattr(Path, method)

    def refusing(self):
        if culprit(self):
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        return original(self)
    monkeypatch.setattr(Path, method, refusing)


def test_unsearchable_folder(cache, tmp_path, monkeypatch):
    folder = tmp_path / "mine"
    folder.mkdir()
    deny_access(monkeypatch, "is_file", lambda path: path.parent == folder)
    message = locate_error(data_dir=folder)
    assert f"could not look for {folder / data.TRAIN_FILE}: permission denied" in message


def test_unopenable_env_folder(cache, tmp_path, monkeypatch):
    folder = tmp_path / "env"
    monkeypatch.setenv(data.ENV_VAR, str(folder))
    deny_access(monkeypatch, "is_dir", lambda path: path == folder)
    assert f"could not open the folder {folder}: permission denied" in locate_error()


def test_unreadable_csv_after_the_checksum(tmp_path, monkeypatch):
    path = tmp_path / "x.csv"
    path.write_bytes(GOOD)
    deny_access(monkeypatch, "read_bytes", lambda other: other == path)
    with pytest.raises(data.DataAccessError, match=f"could not read {path}: permission denied"):
        data.read_csv(path)


# ------------------------------------------------------------- contents after the checksum

def frames(n=3):
    """Frames with the real schema (all 81/80 columns), n rows each, Ids 1..n and n+1..2n."""
    train = pd.DataFrame({c: [1.0] * n for c in data.TRAIN_COLUMNS})
    train["Id"] = range(1, n + 1)
    train[data.LABEL] = [100000.0 + i for i in range(n)]
    test = train.drop(columns=[data.LABEL]).assign(Id=range(n + 1, 2 * n + 1))
    return train, test


def register(folder, monkeypatch, train_bytes, test_bytes):
    """Write both files and register their SHA-1s, as if they were the real ones."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in ((data.TRAIN_FILE, train_bytes), (data.TEST_FILE, test_bytes)):
        (folder / name).write_bytes(content)
        monkeypatch.setitem(data.HOUSE_FILES, name, ("http://mirror.invalid/" + name,
                                                     sha1(content)))
    return folder


def csv_bytes(frame):
    return frame.to_csv(index=False).encode()


def load_with(tmp_path, monkeypatch, train=None, test=None):
    good_train, good_test = frames()
    folder = register(tmp_path / "csv", monkeypatch,
                      csv_bytes(good_train) if train is None else train,
                      csv_bytes(good_test) if test is None else test)
    return folder, lambda: data.load_house_data(folder, download=False)


def test_good_files_load(tmp_path, monkeypatch):
    _, load = load_with(tmp_path, monkeypatch)
    train, test = load()
    assert train.shape == (3, 81) and test.shape == (3, 80)


def test_utf8_byte_order_mark_is_accepted(tmp_path, monkeypatch):
    _, test = frames()
    _, load = load_with(tmp_path, monkeypatch, test=b"\xef\xbb\xbf" + csv_bytes(test))
    assert list(load()[1].columns) == list(data.TEST_COLUMNS)


def test_duplicate_ids_in_a_file(tmp_path, monkeypatch):
    train, _ = frames()
    train.loc[2, "Id"] = 1
    folder, load = load_with(tmp_path, monkeypatch, train=csv_bytes(train))
    with pytest.raises(data.IdError) as err:
        load()
    message = one_line(err.value)
    assert str(folder / data.TRAIN_FILE) in message
    assert "Ids [1] appear more than once (rows [0, 2] (Id [1, 1])" in message


@pytest.mark.parametrize("bad_id, shown", [("", "nan"), ("1.5", "1.5"), ("abc", "'abc'")])
def test_missing_or_non_integer_id(tmp_path, monkeypatch, bad_id, shown):
    _, test = frames()
    text = csv_bytes(test).decode().replace("\n5,", f"\n{bad_id},", 1)
    folder, load = load_with(tmp_path, monkeypatch, test=text.encode())
    with pytest.raises(data.IdError) as err:
        load()
    message = one_line(err.value)
    assert str(folder / data.TEST_FILE) in message
    assert "Id is missing or not an integer in rows [1]" in message and shown in message


def test_ids_shared_by_train_and_test(tmp_path, monkeypatch):
    _, test = frames()
    test.loc[0, "Id"] = 2
    _, load = load_with(tmp_path, monkeypatch, test=csv_bytes(test))
    with pytest.raises(data.IdError, match=r"Ids \[2\] \(1 in all\) are in both"):
        load()


@pytest.mark.parametrize("content, problem", [
    (b"", "is empty"),
    (b"\n\n", "is empty"),
    ((",".join(data.TEST_COLUMNS) + "\n").encode(), "has a header but no rows"),
])
def test_empty_or_header_only_file(tmp_path, monkeypatch, content, problem):
    folder, load = load_with(tmp_path, monkeypatch, test=content)
    with pytest.raises(data.FormatError) as err:
        load()
    message = one_line(err.value)
    assert f"{folder / data.TEST_FILE} {problem}" in message and "delete it" in message


@pytest.mark.parametrize("which, damage, words", [
    ("test", lambda content: content[:-40], ("{path} line 4 (Id '6')", "the row is cut short")),
    ("train", lambda content: content.replace(b"\n2,", b"\n2,7,", 1),
     ("line 3 (Id '2') has 82 fields but the header has 81: the row is too long",)),
    ("train", lambda content: content.replace(b"\n2,", b'\n"2,', 1),  # an unclosed quote
     ("has 1 fields but the header has 81: the row is cut short",)),
    ("train", lambda content: content.replace(b"\n2,", b"\n" + b"9" * 200_000 + b",", 1),
     ("{path} line 3 is not valid CSV (field larger than",)),
    ("train", lambda content: content.decode().replace("\n1,", "\n1,é", 1).encode("latin-1"),
     ("{path} is not UTF-8 text: byte 0xe9 on line 2", "save the file as UTF-8")),
    ("train", lambda content: content.decode().encode("utf-16"),
     ("{path} is not UTF-8 text: byte 0xff on line 1", "save the file as UTF-8")),
    ("train", lambda content: content.replace(b"\n2,", b"\n2,\x00", 1),  # pandas: a NaN
     ("{path} line 3 holds a NUL byte",)),
], ids=["test-cut-mid-row", "extra-field", "unclosed-quote", "not-csv", "latin-1", "utf-16",
        "nul-byte"])
def test_a_damaged_row_or_encoding_is_named_with_file_and_line(tmp_path, monkeypatch, which,
                                                               damage, words):
    good = dict(zip(("train", "test"), frames()))
    folder, load = load_with(tmp_path, monkeypatch, **{which: damage(csv_bytes(good[which]))})
    with pytest.raises(data.FormatError) as err:
        load()
    message = one_line(err.value)
    path = folder / (data.TRAIN_FILE if which == "train" else data.TEST_FILE)
    for text in words:
        assert text.format(path=path) in message


def test_a_folder_typed_with_a_tilde_is_the_home_folder(tmp_path, monkeypatch):
    """`~` as people type it: as data_dir, and in $KAGGLE_HOUSE_DIR set where no shell expands
    it (a .env file, a notebook's os.environ, a quoted export)."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr(data, "DATA_DIR", tmp_path / "empty-cache")
    good_train, good_test = frames()
    register(tmp_path / "kaggle", monkeypatch, csv_bytes(good_train), csv_bytes(good_test))
    assert data.load_house_data("~/kaggle", download=False)[1].shape == (3, 80)
    monkeypatch.setenv(data.ENV_VAR, "~/kaggle")
    assert data.locate(data.TEST_FILE, download=False) == tmp_path / "kaggle" / data.TEST_FILE


# ------------------------------------------------------------ frames a user loads alone

def test_check_house_frames_accepts_good_frames():
    data.check_house_frames(*frames())


@pytest.mark.parametrize("damage, error, text", [
    (lambda tr, te: (tr.iloc[:0], te), data.FormatError, "the training data has no rows"),
    (lambda tr, te: (tr, te.iloc[:0]), data.FormatError, "the test data has no rows"),
    (lambda tr, te: (tr.assign(Id=[1, 1, 2]), te), data.IdError, "Ids [1] appear more than once"),
    (lambda tr, te: (tr, te.assign(Id=[4.0, None, 6.0])), data.IdError,
     "Id is missing or not an integer in rows [1]"),
    (lambda tr, te: (tr, te.assign(SaleCondition=["Normal", "Normal", None])), data.FormatError,
     "rows [2] (Id [6]) have no SaleCondition (the last column), so they look cut short"),
    (lambda tr, te: (tr.assign(SalePrice=[1.0, float("inf"), 2.0]), te), data.LabelError,
     "infinite at Id [2]"),
    (lambda tr, te: (tr, te.assign(Id=[3, 4, 5])), data.IdError, "Ids [3] (1 in all) are in both"),
])
def test_check_house_frames_names_the_problem(damage, error, text):
    with pytest.raises(error) as err:
        data.check_house_frames(*damage(*frames()))
    assert text in one_line(err.value)


# ------------------------------------------------------------------ downloads (loopback)

class Handler(http.server.BaseHTTPRequestHandler):
    """Routes: /good and /big serve bodies, /drip sends a byte every 50 ms, /silent sends
    headers and then nothing, /short closes after 10 of 100 promised bytes, /404."""
    bodies = {}
    stop = None

    def log_message(self, *args):  # keep pytest's output clean
        pass

    def do_GET(self):
        route = self.path.rsplit("/", 1)[-1]
        if route in self.bodies:
            body = self.bodies[route]
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif route == "drip":
            self.send_response(200)
            self.send_header("Content-Length", "100000")
            self.end_headers()
            while not self.stop.wait(0.05):  # 20 bytes/s: 100 kB would take over an hour
                try:
                    self.wfile.write(b"x")
                    self.wfile.flush()
                except OSError:  # the client gave up
                    return
        elif route in ("endless", "huge"):  # junk without end; /huge announces 1 GB first
            self.send_response(200)
            if route == "huge":
                self.send_header("Content-Length", str(1 << 30))
            self.end_headers()
            junk = b"junk" * 16384
            while not self.stop.is_set():
                try:
                    self.wfile.write(junk)
                except OSError:  # the client gave up
                    return
        elif route == "silent":
            self.send_response(200)
            self.send_header("Content-Length", "100")
            self.end_headers()
            self.wfile.flush()
            self.stop.wait(10)
        elif route == "short":
            self.send_response(200)
            self.send_header("Content-Length", "100")
            self.end_headers()
            self.wfile.write(b"0123456789")
            self.wfile.flush()
            self.close_connection = True
        else:
            self.send_error(404)


@pytest.fixture
def server(monkeypatch):
    """A loopback HTTP server for this test only; stopped (and its handlers released) after."""
    stop = threading.Event()
    big = os.urandom(data.PROGRESS_MIN_BYTES + 1000)
    handler = type("TestHandler", (Handler,), {"stop": stop,
                                               "bodies": {"good": GOOD, "big": big}})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.setattr(data, "DOWNLOAD_DEADLINE", 1.0)
    monkeypatch.setattr(data, "READ_TIMEOUT", 0.5)
    base = f"http://127.0.0.1:{httpd.server_address[1]}/"
    yield base, big
    stop.set()
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


def register_url(monkeypatch, url, content=GOOD):
    monkeypatch.setitem(data.HOUSE_FILES, data.TRAIN_FILE, (url, sha1(content)))


def test_download_from_a_loopback_server(cache, server, monkeypatch, capsys):
    base, _ = server
    register_url(monkeypatch, base + "good")
    path = data.locate(data.TRAIN_FILE)
    assert path.read_bytes() == GOOD and leftovers(cache) == [data.TRAIN_FILE]
    assert capsys.readouterr().err == ""  # a small file shows no progress bar


def test_large_download_shows_progress(cache, server, monkeypatch, capsys):
    base, big = server
    register_url(monkeypatch, base + "big", big)
    data.download_file(data.TRAIN_FILE)
    shown = capsys.readouterr().err
    size = tqdm.format_sizeof(len(big))
    assert "big: 100%" in shown and f"{size}/{size}" in shown


def test_slow_drip_hits_the_overall_deadline(cache, server, monkeypatch):
    base, _ = server
    register_url(monkeypatch, base + "drip")
    started = time.monotonic()
    message = locate_error(data.DownloadTimeout)
    elapsed = time.monotonic() - started
    assert 1.0 <= elapsed < 3.0, elapsed
    assert "did not finish within 1 s" in message and "of 100000 bytes arrived" in message
    assert "too slow or stalled" in message and data.ENV_VAR in message
    assert leftovers(cache) == []


def test_silent_server_times_out(cache, server, monkeypatch):
    base, _ = server
    register_url(monkeypatch, base + "silent")
    started = time.monotonic()
    message = locate_error(data.DataNotFound)
    assert time.monotonic() - started < 3.0
    assert "could not download" in message
    assert leftovers(cache) == []


@pytest.mark.parametrize("route, shown", [("missing", "404"), ("short", "IncompleteRead")])
def test_http_error_and_truncated_body(cache, server, monkeypatch, route, shown):
    base, _ = server
    register_url(monkeypatch, base + route)
    message = locate_error(data.DataNotFound)
    assert f"could not download {base + route}" in message and shown in message
    assert leftovers(cache) == []


@pytest.mark.parametrize("route, words", [("endless", "sent more than 4194304 bytes"),
                                          ("huge", "announces 1073741824 bytes")])
def test_a_download_without_end_is_stopped_by_its_size(cache, server, monkeypatch, route,
                                                       words):
    base, _ = server
    monkeypatch.setattr(data, "DOWNLOAD_DEADLINE", 30.0)  # the size must stop it, not time
    register_url(monkeypatch, base + route)
    started = time.monotonic()
    message = locate_error(data.DataNotFound)
    assert time.monotonic() - started < 20
    assert f"downloading {base + route} was stopped: the server {words}" in message
    assert "nothing was kept" in message and leftovers(cache) == []


# ------------------------------------------------------- values checked against what they mean

@pytest.mark.parametrize("which", ["train", "test"])
def test_text_in_a_numeric_column_is_named_with_file_column_and_row(tmp_path, monkeypatch,
                                                                    which):
    train, test = frames()
    frame = train if which == "train" else test
    frame["LotArea"] = frame["LotArea"].astype(object)
    frame.loc[1, "LotArea"] = "12500sqft"
    folder, load = load_with(tmp_path, monkeypatch, **{which: csv_bytes(frame)})
    with pytest.raises(data.FormatError) as err:
        load()
    path = folder / (data.TRAIN_FILE if which == "train" else data.TEST_FILE)
    assert one_line(err.value).startswith(
        f"{path}: column LotArea holds text '12500sqft' in rows [1] (Id [{frame.Id[1]}]), "
        f"counting rows from 0; it must be a number")


def test_missing_numbers_are_not_text():
    train, test = frames()
    train.loc[0, "LotFrontage"] = None  # the real file leaves LotFrontage empty in 259 rows
    data.check_house_frames(train, test)


@pytest.mark.parametrize("sep, name", [(";", "semicolons"), ("\t", "tabs")])
def test_a_file_with_another_separator_is_named_with_the_real_cause(tmp_path, monkeypatch,
                                                                    sep, name):
    train, test = frames()
    folder, load = load_with(tmp_path, monkeypatch,
                             train=train.to_csv(index=False, sep=sep).encode())
    with pytest.raises(data.FormatError) as err:
        load()
    assert one_line(err.value).startswith(
        f"{folder / data.TRAIN_FILE} separates its fields with {name}, not commas")
    # the same frame read by hand, then checked
    by_hand = pd.read_csv(folder / data.TRAIN_FILE)
    with pytest.raises(data.FormatError) as err:
        data.check_house_frames(by_hand, test, "my_train.csv")
    assert one_line(err.value).startswith(f"my_train.csv separates its fields with {name}")
