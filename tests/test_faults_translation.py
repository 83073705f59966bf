"""Fault injection for the translation tool (utils/course/translation.py), issue 25's kinds.

Each kind: the tool says what is wrong in one line naming the culprit and what to do, exits
non-zero, and writes nothing (every file byte for byte as before, no temporary file left).
"""
import json
import os
import shutil
import tempfile

import nbformat
import pytest

from test_translation import CAPTIONS, read, translate, write_english
from utils.course import translation as tr


@pytest.fixture
def edition(tmp_path):
    """Two synthetic notebooks, "alpha" and "lesson", with a faithful stamped Chinese edition."""
    en_dir, zh_dir = tmp_path / "notebooks", tmp_path / "notebooks" / "zh"
    for stem in ("alpha", "lesson"):
        write_english(en_dir, stem=stem)
    tr.sync(en_dir, zh_dir)
    for stem in ("alpha", "lesson"):
        translate(zh_dir, stem=stem)
    assert tr.status(en_dir, zh_dir) == []
    return en_dir, zh_dir


def snapshot(folder):
    """Every file under folder (hidden ones too) and its bytes."""
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def cli(en_dir, zh_dir, *args):
    return tr.main(["--en-dir", str(en_dir), "--zh-dir", str(zh_dir), *args])


def one_error_line(capsys):
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(("error: ", "python -m utils.course")), err
    return err.strip()


def rewrite_raw(path, change):
    raw = json.loads(path.read_text(encoding="utf-8"))
    change(raw)
    path.write_text(json.dumps(raw, ensure_ascii=False), encoding="utf-8")


def drop_ids(raw):
    """What Colab, older Jupyter and jupytext save: nbformat 4.4, cells without ids."""
    raw["nbformat_minor"] = 4
    for cell in raw["cells"]:
        cell.pop("id", None)


# ----- loses a translation --------------------------------------------------------------------

@pytest.mark.parametrize("command", [["sync"], ["status"], ["stamp", "--all-current"],
                                     ["stamp", "lesson", "title"]])
def test_a_chinese_notebook_without_cell_ids_is_refused_before_anything_is_written(
        edition, capsys, command):
    en_dir, zh_dir = edition
    rewrite_raw(zh_dir / "lesson.ipynb", drop_ids)
    edit_english = read(en_dir, "alpha")  # alpha changed: a sync would rewrite alpha first
    edit_english.cells[0].source += "\n\nOne more sentence."
    nbformat.write(edit_english, en_dir / "alpha.ipynb")
    before = snapshot(zh_dir)
    assert cli(en_dir, zh_dir, *command) == 2
    line = one_error_line(capsys)
    assert f"{zh_dir / 'lesson.ipynb'}: cells 1, 2, 3, 4, 5, 6, 7 have no id (nbformat 4.4" in line
    assert "nothing was written" in line
    assert snapshot(zh_dir) == before  # the translations are all still there, alpha untouched
    with pytest.raises(tr.TranslationError, match="have no id"):
        tr.sync(en_dir, zh_dir, ["lesson"])


@pytest.mark.parametrize("edition_dir", ["en", "zh"])
def test_a_duplicated_cell_id_is_refused_in_one_line_naming_it(edition, capsys, edition_dir):
    en_dir, zh_dir = edition
    folder = en_dir if edition_dir == "en" else zh_dir

    def paste_a_copy(raw):  # copy and paste in JupyterLab's file, as saved
        raw["cells"].insert(2, json.loads(json.dumps(raw["cells"][0])))
    rewrite_raw(folder / "lesson.ipynb", paste_a_copy)
    before = snapshot(zh_dir)
    for command in (["sync"], ["status"], ["stamp", "--all-current"]):
        assert cli(en_dir, zh_dir, *command) == 2
        line = one_error_line(capsys)
        assert f"{folder / 'lesson.ipynb'}: cell id title is used by more than one cell" in line
        assert snapshot(zh_dir) == before
    # the same answer on every run: the check reads the file, not nbformat's random renaming
    with pytest.raises(tr.TranslationError, match="cell id title is used"):
        tr.status(en_dir, zh_dir)


@pytest.mark.parametrize("entry", [[], "小模型的损失。", 3], ids=["list", "string", "number"])
def test_a_captions_entry_that_is_not_an_object_is_refused_in_one_line(edition, capsys, entry):
    en_dir, zh_dir = edition
    path = zh_dir / tr.CAPTIONS
    captions = json.loads(path.read_text(encoding="utf-8"))
    captions["lesson"] = entry
    path.write_text(json.dumps(captions, ensure_ascii=False), encoding="utf-8")
    before = snapshot(zh_dir)
    for command in (["stamp", "lesson", "loss"], ["stamp", "--all-current"], ["sync"]):
        assert cli(en_dir, zh_dir, *command) == 2
        line = one_error_line(capsys)
        assert f"the entry of lesson is a {type(entry).__name__}, not an object of figures" in line
        assert snapshot(zh_dir) == before
    assert "lesson: captions.json entry is not an object of figures" in tr.status(en_dir, zh_dir)
    gallery = tr.GalleryCaptions(zh_dir)  # the gallery shows English, and does not crash
    assert gallery("lesson", {"name": "loss", "caption": "English."}) == "English."


def test_a_figure_caption_written_as_a_bare_string_is_not_replaced(edition, capsys):
    en_dir, zh_dir = edition
    path = zh_dir / tr.CAPTIONS
    captions = json.loads(path.read_text(encoding="utf-8"))
    captions["lesson"]["loss"] = CAPTIONS["loss"]  # a translator's shortcut
    path.write_text(json.dumps(captions, ensure_ascii=False), encoding="utf-8")
    before = snapshot(zh_dir)
    assert cli(en_dir, zh_dir, "sync") == 2
    assert "lesson figure loss is a str, not an object; write it as {\"zh\": \"...\"}" in \
        one_error_line(capsys)
    assert snapshot(zh_dir) == before  # the caption is still there to be moved into "zh"


def test_sync_into_a_folder_it_cannot_write_says_so_and_writes_nothing(edition, capsys,
                                                                         monkeypatch):
    en_dir, zh_dir = edition
    for stem in ("alpha", "lesson"):  # both notebooks and captions.json have something to write
        nb = read(en_dir, stem)
        nb.cells[0].source += "\n\nOne more sentence."
        nbformat.write(nb, en_dir / f"{stem}.ipynb")
    before = snapshot(zh_dir)
    calls = []
    real_mkstemp = tempfile.mkstemp

    def second_file_refused(*args, **kwargs):  # as root, chmod does not stop a write
        calls.append(kwargs.get("dir"))
        if len(calls) == 2:
            raise PermissionError(13, "Permission denied", str(zh_dir))
        return real_mkstemp(*args, **kwargs)
    monkeypatch.setattr(tempfile, "mkstemp", second_file_refused)
    assert cli(en_dir, zh_dir, "sync") == 2
    line = one_error_line(capsys)
    assert line == (f"error: cannot write in {zh_dir} (Permission denied); nothing was changed: "
                    "make the folder writable (or free space) and run it again")
    assert snapshot(zh_dir) == before  # the first file's temporary copy is gone too
    monkeypatch.undo()
    if os.geteuid() != 0:  # the real thing, where permissions apply
        zh_dir.chmod(0o555)
        try:
            assert cli(en_dir, zh_dir, "sync") == 2
            assert "Permission denied" in one_error_line(capsys)
            assert snapshot(zh_dir) == before
        finally:
            zh_dir.chmod(0o755)


def test_sync_into_a_folder_that_cannot_be_made_says_so(tmp_path, capsys):
    en_dir = tmp_path / "notebooks"
    write_english(en_dir)
    (tmp_path / "file").write_text("not a folder")
    assert cli(en_dir, tmp_path / "file" / "zh", "sync") == 2
    line = one_error_line(capsys)
    assert line.startswith(f"error: cannot write in {tmp_path / 'file' / 'zh'}")


@pytest.mark.parametrize("command", [["status"], ["sync"], ["stamp", "--all-current"]])
def test_an_english_folder_that_does_not_exist_is_an_error(edition, tmp_path, capsys, command):
    _, zh_dir = edition
    before = snapshot(zh_dir)
    assert cli(tmp_path / "nope", zh_dir, *command) == 2
    assert one_error_line(capsys) == (f"error: no folder {tmp_path / 'nope'} (the English "
                                      "notebooks, --en-dir); check the path")
    (tmp_path / "empty").mkdir()
    assert cli(tmp_path / "empty", zh_dir, *command) == 2
    assert "no English notebook (*.ipynb) in" in one_error_line(capsys)
    assert snapshot(zh_dir) == before


# ----- dot-files are not notebooks ------------------------------------------------------------

def test_hidden_ipynb_files_are_not_notebooks(edition, capsys):
    en_dir, zh_dir = edition
    (en_dir / "._lesson.ipynb").write_bytes(b"\x00\x05\x16\x07 AppleDouble")  # macOS
    (en_dir / ".~lesson.ipynb").write_text("{")  # an editor's lock file
    shutil.copy(zh_dir / "lesson.ipynb", zh_dir / "._lesson.ipynb")
    assert cli(en_dir, zh_dir, "status") == 0
    assert "the Chinese edition is up to date" in capsys.readouterr().err
    assert cli(en_dir, zh_dir, "sync") == 0
    assert not (zh_dir / ".~lesson.ipynb").exists() and not (zh_dir / "._lesson.ipynb.ipynb") \
        .exists()
    assert cli(en_dir, zh_dir, "stamp", "._lesson", "title") == 2
    assert "no English notebook ._lesson in" in one_error_line(capsys)


# ----- messages -------------------------------------------------------------------------------

@pytest.mark.parametrize("args, says", [
    ([], "the following arguments are required: command"),
    (["stat"], "invalid choice: 'stat'"),
    (["status", "--bogus"], "unrecognized arguments: --bogus"),
    (["stamp", "lesson"], "stamp needs STEM and at least one cell id or figure name"),
    (["--en-dir"], "argument --en-dir: expected one argument"),
], ids=["no-command", "typo", "unknown-option", "stamp-without-ids", "option-without-value"])
def test_usage_errors_are_one_line(capsys, args, says):
    with pytest.raises(SystemExit) as stop:
        tr.main(args)
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and says in err and err.startswith(
        "python -m utils.course.translation: error: ") and err.endswith("(see --help)\n"), err


def test_a_captions_file_with_a_byte_order_mark_is_read_by_the_tool_and_the_gallery(
        edition, capsys):
    """One rule for both: the BOM (Windows Notepad's UTF-8) is accepted by the tool and by the
    gallery; the tool's next write drops it."""
    en_dir, zh_dir = edition
    path = zh_dir / tr.CAPTIONS
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert tr.status(en_dir, zh_dir) == []
    gallery = tr.GalleryCaptions(zh_dir)
    assert gallery.problem == ""
    assert gallery("lesson", {"name": "loss", "caption": "Loss over 10 folds of the tiny model."}) \
        == "小模型在 10 折上的损失。"
    assert cli(en_dir, zh_dir, "sync") == 0
    assert not path.read_bytes().startswith(b"\xef\xbb\xbf")
    assert json.loads(path.read_text(encoding="utf-8"))["lesson"]["loss"]["zh"] == \
        CAPTIONS["loss"]


@pytest.mark.parametrize("damage", [lambda p: p.write_text("{not json", encoding="utf-8"),
                                    lambda p: p.write_bytes(b'{"lesson": "\xff"}'),
                                    lambda p: p.write_text("[]", encoding="utf-8")],
                         ids=["not-json", "not-utf8", "not-an-object"])
def test_a_captions_file_the_tool_refuses_the_gallery_does_not_use_and_says_so(
        edition, capsys, damage):
    en_dir, zh_dir = edition
    damage(zh_dir / tr.CAPTIONS)
    assert cli(en_dir, zh_dir, "status") == 2
    refused = one_error_line(capsys)
    assert refused.startswith(f"error: {zh_dir / tr.CAPTIONS} is not")
    lines = []
    gallery = tr.GalleryCaptions(zh_dir, log=lines.append)
    assert lines == [gallery.problem] and gallery.problem == \
        refused[len("error: "):] + "; the gallery shows the English captions"
    assert gallery("lesson", {"name": "loss", "caption": "English."}) == "English."


def test_every_message_is_one_line_and_exit_codes_stay_as_documented(edition, capsys):
    en_dir, zh_dir = edition
    assert cli(en_dir, zh_dir, "status") == 0
    nb = read(en_dir, "lesson")
    nb.cells[0].source += "\n\nMore."
    nbformat.write(nb, en_dir / "lesson.ipynb")
    assert cli(en_dir, zh_dir, "status") == 1  # work to do is not an error
    capsys.readouterr()
    assert cli(en_dir, zh_dir, "stamp", "lesson", "nope") == 2
    assert one_error_line(capsys).endswith("no cell or figure nope in the English notebook")


# ----- the style check reads what the tool reads ----------------------------------------------

@pytest.fixture
def styled(edition, monkeypatch, tmp_path):
    """zh_style pointed at the synthetic edition, with a README and no docs of its own."""
    from utils.course import zh_style
    en_dir, zh_dir = edition
    readme, docs = tmp_path / "README.zh.md", tmp_path / "docs-zh"
    readme.write_text("# 说明\n\n运行 `make` 即可。\n", encoding="utf-8")
    docs.mkdir()
    for name, value in (("ZH_DIR", zh_dir), ("README", readme), ("DOCS", docs)):
        monkeypatch.setattr(zh_style, name, value)
    return zh_style, zh_dir


def test_the_style_check_reads_a_captions_file_with_a_byte_order_mark(styled, capsys):
    zh_style, zh_dir = styled
    assert zh_style.main(["check"]) == 0
    plain = capsys.readouterr()
    path = zh_dir / tr.CAPTIONS
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert ("lesson", "loss", CAPTIONS["loss"]) in zh_style.captions()
    assert zh_style.main(["check"]) == 0
    assert capsys.readouterr() == plain
    assert zh_style.main(["fix"]) == 0  # nothing to fix: the file is left as it is
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")


@pytest.mark.parametrize("damage", [
    lambda zh: (zh / tr.CAPTIONS).write_text("{not json", encoding="utf-8"),
    lambda zh: (zh / tr.CAPTIONS).write_bytes(b'{"lesson": "\xff"}'),
    lambda zh: (zh / tr.CAPTIONS).write_text('{"lesson": {"loss": "a string"}}', encoding="utf-8"),
    lambda zh: (zh / "lesson.ipynb").write_text("{not a notebook", encoding="utf-8"),
    lambda zh: (zh.parents[1] / "README.zh.md").write_bytes("说明".encode("gb18030"))],
    ids=["captions-not-json", "captions-not-utf8", "caption-not-an-object", "notebook-not-json",
         "readme-not-utf8"])
@pytest.mark.parametrize("command", ["check", "fix"])
def test_the_style_check_names_a_damaged_file_in_one_line_and_writes_nothing(
        styled, capsys, request, damage, command):
    zh_style, zh_dir = styled
    damage(zh_dir)
    before = snapshot(zh_dir)
    capsys.readouterr()
    assert zh_style.main([command]) == 2
    err = one_error_line(capsys)
    kind = request.node.callspec.id
    culprit = zh_dir.parents[1] / "README.zh.md" if "readme" in kind else \
        zh_dir / ("lesson.ipynb" if "notebook" in kind else tr.CAPTIONS)
    assert str(culprit) in err, err
    assert snapshot(zh_dir) == before


def add_to_first_markdown(path, text):
    nb = nbformat.read(path, as_version=4)
    cell = next(c for c in nb.cells if c.cell_type == "markdown")
    cell.source += text
    nbformat.write(nb, path)
    return cell.get("id")


def test_the_style_fix_fixes_each_cell_once_and_then_finds_nothing(styled, capsys):
    zh_style, zh_dir = styled
    cell_id = add_to_first_markdown(zh_dir / "lesson.ipynb", "\n\n调用`net(X)`的8行。")
    assert zh_style.main(["fix"]) == 0
    out = capsys.readouterr().out
    assert f"lesson {cell_id}\n" in out and "stamp --all-current" in out, out
    assert "调用 `net(X)` 的 8 行。" in (zh_dir / "lesson.ipynb").read_text(encoding="utf-8")
    assert zh_style.main(["fix"]) == 0
    assert capsys.readouterr().out.startswith("nothing to change\n")


def test_the_style_fix_writes_nothing_when_one_file_cannot_be_read(styled, capsys):
    """The notebook's fix is not written alone: every file is read before the first write."""
    zh_style, zh_dir = styled
    add_to_first_markdown(zh_dir / "lesson.ipynb", "\n\n调用`net(X)`的8行。")
    zh_style.README.write_bytes("说明".encode("gb18030"))
    before = snapshot(zh_dir)
    assert zh_style.main(["fix"]) == 2
    assert str(zh_style.README) in one_error_line(capsys)
    assert snapshot(zh_dir) == before
