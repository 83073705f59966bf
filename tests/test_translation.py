"""The Chinese edition (notebooks/zh/, utils/course/translation.py): one set of code, drift named.

The checks on the real notebooks (parametrized over notebooks/*.ipynb) are the functions below
called `*_problems`; each is first proved on synthetic notebooks in a temporary folder: quiet on
a faithful translation, and naming the cell when code, tags, order, ids, prose or a caption
drifts, or when an English cell is edited and its Chinese cell not yet updated and stamped.
"""
import json
import shutil

import nbformat
import pytest

from conftest import REPO_ROOT
from utils.course import translation as tr

EN_DIR = REPO_ROOT / "notebooks"
ZH_DIR = EN_DIR / "zh"
STEMS = sorted(p.stem for p in EN_DIR.glob("*.ipynb"))
MIN_HAN_SHARE = 0.6  # of Han characters among Han characters and Latin letters in the prose


# ----- the checks the real notebooks must pass ------------------------------------------------

def read(folder, stem):
    return nbformat.read(folder / f"{stem}.ipynb", as_version=4)


def structure_problems(en_dir, zh_dir, stem):
    """Same cell ids in the same order, same types, same metadata (the translation record
    aside), same notebook kernel; no stored outputs."""
    en, zh = read(en_dir, stem), read(zh_dir, stem)
    problems = []
    en_ids, zh_ids = [c.get("id") for c in en.cells], [c.get("id") for c in zh.cells]
    if en_ids != zh_ids:
        problems.append(f"cell ids/order differ: missing {sorted(set(en_ids) - set(zh_ids))}, "
                        f"extra {sorted(set(zh_ids) - set(en_ids))}"
                        + (", order differs" if set(en_ids) == set(zh_ids) else ""))
    for en_cell, zh_cell in zip(en.cells, zh.cells):
        if en_cell.get("id") != zh_cell.get("id"):
            continue
        if en_cell.cell_type != zh_cell.cell_type:
            problems.append(f"{en_cell.id}: {zh_cell.cell_type} instead of {en_cell.cell_type}")
        elif tr._meta(en_cell) != tr._meta(zh_cell):
            problems.append(f"{en_cell.id}: metadata {tr._meta(zh_cell)} instead of "
                            f"{tr._meta(en_cell)}")
        if zh_cell.cell_type == "code" and (zh_cell.outputs or zh_cell.execution_count):
            problems.append(f"{en_cell.id}: stored with outputs")
    if zh.metadata.get("kernelspec") != en.metadata.get("kernelspec"):
        problems.append("kernelspec differs")
    return problems


def code_problems(en_dir, zh_dir, stem):
    """Code cells equal to the English ones as token streams, comments and blank lines aside."""
    zh = {c.get("id"): c for c in read(zh_dir, stem).cells}
    return [f"{c.id}: code differs beyond comments | {tr.first_words(c.source)}"
            for c in read(en_dir, stem).cells
            if c.cell_type == "code" and c.id in zh and zh[c.id].cell_type == "code"
            and not tr.same_code(c.source, zh[c.id].source)]


def drift_problems(en_dir, zh_dir, stem):
    """Every English markdown cell has a Chinese cell stamped with its current hash."""
    zh = {c.get("id"): c for c in read(zh_dir, stem).cells}
    problems = []
    for cell in read(en_dir, stem).cells:
        if cell.cell_type != "markdown":
            continue
        ours = zh.get(cell.id)
        record = ours.metadata.get(tr.RECORD, {}) if ours is not None else {}
        if ours is None:
            problems.append(f"{cell.id}: no Chinese cell")
        elif record.get("en_sha1") is None:
            problems.append(f"{cell.id}: not translated (no record)")
        elif record["en_sha1"] != tr.sha1(cell.source):
            problems.append(f"{cell.id}: the English cell changed since it was translated")
        else:
            continue
        problems[-1] += f" | {tr.first_words(cell.source)}"
    return problems


def comment_problems(en_dir, zh_dir, stem):
    """Every code cell whose English has comments has Chinese comments, stamped with the
    English cell's current hash (any change to the English cell, comment or code, is drift)."""
    zh = {c.get("id"): c for c in read(zh_dir, stem).cells}
    return [f"{cell.id}: {problem} | {tr.first_words(cell.source)}"
            for cell in read(en_dir, stem).cells
            if cell.cell_type == "code" and cell.id in zh and zh[cell.id].cell_type == "code"
            for problem in tr.comment_problems(cell, zh[cell.id])]


def prose_problems(en_dir, zh_dir, stem):
    """Chinese prose: no English paragraph left in a translated cell, and Han characters make up
    most of the prose letters of the notebook (English terms in parentheses stay possible)."""
    en = {c.get("id"): c for c in read(en_dir, stem).cells}
    texts, problems = [], []
    for cell in read(zh_dir, stem).cells:
        if cell.cell_type != "markdown":
            continue
        texts.append(cell.source)
        left = tr.english_left(cell.source)
        if left or not tr.is_chinese(cell.source):
            problems.append(f"{cell.get('id')}: English prose: {tr.first_words(left or cell.source)}")
        elif en.get(cell.get("id")) is not None and cell.source == en[cell.id].source \
                and not tr.markup_only(cell.source):
            problems.append(f"{cell.get('id')}: still the English text")
    share = tr.han_share(texts)
    if share < MIN_HAN_SHARE:
        problems.append(f"Han characters are {share:.0%} of the prose letters, below "
                        f"{MIN_HAN_SHARE:.0%}")
    return problems


def caption_problems(en_dir, zh_dir, stem):
    """notebooks/zh/captions.json has a current Chinese caption for every figure the code saves."""
    return tr.caption_problems(stem, read(en_dir, stem), tr.read_captions(zh_dir))


CHECKS = [structure_problems, code_problems, drift_problems, comment_problems, prose_problems,
          caption_problems]


def all_problems(en_dir, zh_dir, stem):
    return [f"{check.__name__}: {p}" for check in CHECKS for p in check(en_dir, zh_dir, stem)]


# ----- the real notebooks ---------------------------------------------------------------------

def test_the_chinese_edition_has_every_notebook():
    missing = [s for s in STEMS if not (ZH_DIR / f"{s}.ipynb").exists()]
    assert STEMS and not missing, f"no Chinese notebook for {missing}: run " \
        "`python -m utils.course.translation sync`, translate, then `stamp --all-current`"


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("stem", STEMS)
def test_chinese_notebook(stem, check):
    if not (ZH_DIR / f"{stem}.ipynb").exists():
        pytest.fail(f"notebooks/zh/{stem}.ipynb is missing: run `python -m utils.course.translation sync`")
    problems = check(EN_DIR, ZH_DIR, stem)
    assert not problems, f"{stem}: {len(problems)} problems (`python -m utils.course.translation " \
        "status` lists them):\n" + "\n".join(problems)


# ----- synthetic notebooks: the checks and the commands, proved ------------------------------

KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}
ENGLISH = [  # (id, type, source, metadata)
    ("title", "markdown", "# Tiny lesson\n\nGradients vanish when many small factors multiply "
     "together in a deep network.", {}),
    ("setup", "code", "import sys; sys.path.insert(0, \"..\")  # the repository root\n"
     "x = 1  # one\ns = \"# not a comment\"", {}),
    ("knobs", "code", "K = 5  # folds", {"tags": ["parameters"]}),
    ("plot", "code", "fig = None\nsave_figure(fig, \"loss\",\n            caption=f\"Loss over "
     "{K} folds of the tiny model.\")", {}),
    ("math", "markdown", "$$\\prod_{l=1}^{L} W_l$$", {}),
    ("further", "markdown", "## Going further\n\nThe same product explains why gradients explode "
     "with large weights.", {"jp-MarkdownHeadingCollapsed": True}),
    ("check", "code", "assert x == 1", {"tags": ["check"], "jupyter": {"source_hidden": True}}),
]
CHINESE = {
    "setup": "import sys; sys.path.insert(0, \"..\")  # 仓库根目录\n# 一个数\nx = 1\n"
             "s = \"# not a comment\"",
    "knobs": "K = 5  # 折数",
    "title": "# 小小的一课\n\n深层网络里许多小于 1 的因子连乘，梯度就会衰减（vanishing）。",
    "further": "## 深入一步\n\n同样的连乘也解释了权重较大时梯度为什么会爆炸（exploding）。",
}
CAPTIONS = {"loss": "小模型在 {K} 折上的损失。"}


def write_english(folder, cells=ENGLISH, stem="lesson"):
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": KERNELSPEC})
    for cell_id, kind, source, meta in cells:
        make = nbformat.v4.new_code_cell if kind == "code" else nbformat.v4.new_markdown_cell
        cell = make(source, metadata=json.loads(json.dumps(meta)))
        cell.id = cell_id
        nb.cells.append(cell)
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, folder / f"{stem}.ipynb")


def edit(folder, cell_id, change, stem="lesson"):
    """Apply change(cell) to one cell of <folder>/<stem>.ipynb."""
    nb = read(folder, stem)
    change(next(c for c in nb.cells if c.get("id") == cell_id))
    nbformat.write(nb, folder / f"{stem}.ipynb")


def set_source(text):
    def change(cell):
        cell.source = text
    return change


def translate(zh_dir, texts=CHINESE, captions=CAPTIONS, stem="lesson"):
    """What a translator does: write the Chinese text (of the cells the notebook has) and
    captions, then stamp."""
    ids = {c.get("id") for c in read(zh_dir, stem).cells}
    for cell_id, text in texts.items():
        if cell_id in ids:
            edit(zh_dir, cell_id, set_source(text), stem)
    path = zh_dir / tr.CAPTIONS
    data = json.loads(path.read_text()) if path.exists() else {}
    for name, text in captions.items():
        data.setdefault(stem, {}).setdefault(name, {})["zh"] = text
    path.write_text(json.dumps(data, ensure_ascii=False))
    return tr.stamp(stem, en_dir=zh_dir.parent, zh_dir=zh_dir, all_current=True)


@pytest.fixture
def edition(tmp_path):
    """A synthetic English notebook and its faithful, stamped Chinese edition."""
    en_dir, zh_dir = tmp_path / "notebooks", tmp_path / "notebooks" / "zh"
    write_english(en_dir)
    tr.sync(en_dir, zh_dir)
    done, left = translate(zh_dir)
    assert sorted(done) == ["further", "knobs", "loss", "math", "setup", "title"] and not left
    return en_dir, zh_dir


def test_a_faithful_translation_passes_every_check(edition):
    en_dir, zh_dir = edition
    assert all_problems(en_dir, zh_dir, "lesson") == []
    assert tr.status(en_dir, zh_dir) == []
    assert tr.main(["--en-dir", str(en_dir), "--zh-dir", str(zh_dir), "status"]) == 0


def test_sync_copies_the_english_notebook_and_status_lists_the_work(tmp_path, capsys):
    en_dir, zh_dir = tmp_path / "notebooks", tmp_path / "notebooks" / "zh"
    write_english(en_dir)
    assert tr.main(["--en-dir", str(en_dir), "--zh-dir", str(zh_dir), "sync"]) == 0
    en, zh = read(en_dir, "lesson"), read(zh_dir, "lesson")
    assert [(c.id, c.cell_type, c.source, c.metadata) for c in zh.cells] == \
        [(c.id, c.cell_type, c.source, c.metadata) for c in en.cells]
    assert structure_problems(en_dir, zh_dir, "lesson") == []
    assert code_problems(en_dir, zh_dir, "lesson") == []
    capsys.readouterr()
    assert tr.main(["--en-dir", str(en_dir), "--zh-dir", str(zh_dir), "status"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        "lesson title: English text, to translate | # Tiny lesson Gradients vanish when many "
        "small...",
        "lesson setup: English comments, to translate | import sys; sys.path.insert(0, \"..\") # "
        "the repository root...",
        "lesson knobs: English comments, to translate | K = 5 # folds",
        "lesson math: English text, to translate | $$\\prod_{l=1}^{L} W_l$$",
        "lesson further: English text, to translate | ## Going further The same product "
        "explains why...",
        "lesson figure loss: no Chinese caption in captions.json | Loss over {K} folds of the "
        "tiny model."]
    drift = drift_problems(en_dir, zh_dir, "lesson")
    assert [p.split(":")[0] for p in drift] == ["title", "math", "further"]
    # captions.json: an entry to fill in per figure, the English caption beside it
    assert json.loads((zh_dir / tr.CAPTIONS).read_text()) == \
        {"lesson": {"loss": {"zh": "", "en": "Loss over {K} folds of the tiny model."}}}
    assert [p.split(":")[0] for p in prose_problems(en_dir, zh_dir, "lesson")] == \
        ["title", "further", "Han characters are 0% of the prose letters, below 60%"]


def test_drift_is_named_until_the_chinese_cell_is_updated_and_stamped(edition):
    en_dir, zh_dir = edition
    edit(en_dir, "further", set_source(
        "## Going further\n\nThe same product explains why gradients explode with weights "
        "above one."))
    assert drift_problems(en_dir, zh_dir, "lesson") == [
        "further: the English cell changed since it was translated | ## Going further The same "
        "product explains why..."]
    assert tr.status(en_dir, zh_dir)[0].startswith(
        "lesson further: the English cell changed since it was translated")
    tr.sync(en_dir, zh_dir)  # keeps the stale Chinese text and its old record
    assert len(drift_problems(en_dir, zh_dir, "lesson")) == 1
    # nobody touched the Chinese text: --all-current does not vouch for it
    assert tr.stamp("lesson", en_dir=en_dir, zh_dir=zh_dir, all_current=True) == ([], ["further"])
    assert len(drift_problems(en_dir, zh_dir, "lesson")) == 1
    edit(zh_dir, "further", set_source(
        "## 深入一步\n\n同样的连乘也解释了权重大于 1 时梯度为什么会爆炸（exploding）。"))
    assert tr.stamp("lesson", en_dir=en_dir, zh_dir=zh_dir, all_current=True) == (["further"], [])
    assert all_problems(en_dir, zh_dir, "lesson") == []


def test_an_english_change_that_needs_no_chinese_change_is_stamped_by_id(edition):
    en_dir, zh_dir = edition
    edit(en_dir, "title", set_source(ENGLISH[0][2].replace("multiply", "are multiplied")))
    assert len(drift_problems(en_dir, zh_dir, "lesson")) == 1
    assert tr.main(["--en-dir", str(en_dir), "--zh-dir", str(zh_dir), "stamp", "lesson",
                    "title"]) == 0
    assert all_problems(en_dir, zh_dir, "lesson") == []


def test_stamping_never_hides_english_text(edition, capsys):
    en_dir, zh_dir = edition
    edit(zh_dir, "title", set_source(ENGLISH[0][2]))  # back to English
    with pytest.raises(tr.TranslationError, match="lesson title: not stamped, its text is not "
                                                  "Chinese yet: 'Gradients vanish"):
        tr.stamp("lesson", ["title"], en_dir, zh_dir)
    half = "## 深入一步\n\nThe same product explains why gradients explode with large weights."
    edit(zh_dir, "further", set_source(half))
    with pytest.raises(tr.TranslationError, match="'The same product explains why"):
        tr.stamp("lesson", ["further"], en_dir, zh_dir)
    assert tr.main(["--en-dir", str(en_dir), "--zh-dir", str(zh_dir), "stamp", "lesson",
                    "further"]) == 2
    assert "error: lesson further: not stamped" in capsys.readouterr().err
    assert tr.stamp("lesson", en_dir=en_dir, zh_dir=zh_dir, all_current=True) == ([], [])
    problems = all_problems(en_dir, zh_dir, "lesson")
    assert "prose_problems: further: English prose: The same product explains why gradients " \
           "explode with..." in problems
    assert any(p.startswith("prose_problems: title: English prose") for p in problems)


def test_code_may_differ_in_comments_only(edition):
    en_dir, zh_dir = edition
    edit(zh_dir, "setup", set_source(
        "import sys; sys.path.insert(0, \"..\")  # 仓库根目录\n# 一个数\nx = 1\n\n"
        "s = \"# not a comment\""))
    assert all_problems(en_dir, zh_dir, "lesson") == []
    tr.sync(en_dir, zh_dir)  # keeps the Chinese comments while the code is the same
    assert "# 仓库根目录" in read(zh_dir, "lesson").cells[1].source
    edited = read(zh_dir, "lesson").cells[1].source.replace("x = 1", "x = 2")
    edit(zh_dir, "setup", set_source(edited))
    assert code_problems(en_dir, zh_dir, "lesson") == [
        "setup: code differs beyond comments | import sys; sys.path.insert(0, \"..\") # the "
        "repository root..."]
    assert any("lesson setup: code differs" in line for line in tr.status(en_dir, zh_dir))
    report = tr.sync(en_dir, zh_dir)  # the English code comes back, and sync says so
    assert "English code restored in setup; Chinese comments carried over to the unchanged " \
           "lines of setup (each cell as it was is kept in its metadata, translation.before)" \
           in report[0]
    cell = read(zh_dir, "lesson").cells[1]
    assert cell.source == ENGLISH[1][2].replace("# the repository root", "# 仓库根目录")
    assert cell.metadata[tr.RECORD]["before"] == edited  # nothing lost
    assert code_problems(en_dir, zh_dir, "lesson") == []
    assert [p.split(" | ")[0] for p in comment_problems(en_dir, zh_dir, "lesson")] == [
        "setup: new English code came in: sync carried the Chinese comments over to the lines "
        "whose code is the same (the cell as it was is in its metadata, translation.before); "
        "check them, translate what is English, then stamp",
        "setup: English comment left: 'one'"]
    translate(zh_dir, {"setup": CHINESE["setup"]}, {})  # checked and completed: stamped
    assert "before" not in read(zh_dir, "lesson").cells[1].metadata[tr.RECORD]
    assert all_problems(en_dir, zh_dir, "lesson") == []


def test_an_english_comment_change_marks_the_chinese_cell_stale(edition, capsys):
    """The lost warning of notebook 1's cell-04: the English comment gained a clause, the
    Chinese copy did not; now `status` names the cell until its comment is redone."""
    en_dir, zh_dir = edition
    edit(en_dir, "knobs", set_source("K = 5  # folds (more folds, slower runs)"))
    assert comment_problems(en_dir, zh_dir, "lesson") == [
        "knobs: the English cell changed since its comments were translated | K = 5 # folds "
        "(more folds, slower..."]
    assert any(line.startswith("lesson knobs: the English cell changed since its comments")
               for line in tr.status(en_dir, zh_dir))
    tr.sync(en_dir, zh_dir)  # the code is the same: the Chinese comment stays, still stale
    assert read(zh_dir, "lesson").cells[2].source == CHINESE["knobs"]
    assert len(comment_problems(en_dir, zh_dir, "lesson")) == 1
    # nobody touched the Chinese comment: --all-current leaves it for a person
    assert tr.stamp("lesson", en_dir=en_dir, zh_dir=zh_dir, all_current=True) == ([], ["knobs"])
    edit(zh_dir, "knobs", set_source("K = 5  # 折数（折数越多，运行越慢）"))
    assert tr.main(["--en-dir", str(en_dir), "--zh-dir", str(zh_dir), "stamp", "--all-current"]) \
        == 0
    assert "lesson: stamped knobs" in capsys.readouterr().out
    assert all_problems(en_dir, zh_dir, "lesson") == []


def test_an_english_code_change_carries_the_chinese_comments_over_and_asks_for_a_look(edition):
    en_dir, zh_dir = edition
    new_code = ("import sys; sys.path.insert(0, \"..\")  # the repository root\n"
                "x = 3  # three\ns = \"# not a comment\"")
    edit(en_dir, "setup", set_source(new_code))
    assert [p.split(" | ")[0] for p in all_problems(en_dir, zh_dir, "lesson")] == [
        "code_problems: setup: code differs beyond comments",
        "comment_problems: setup: the English cell changed since its comments were translated"]
    report = tr.sync(en_dir, zh_dir)
    assert "English code restored in setup; Chinese comments carried over" in report[0]
    cell = read(zh_dir, "lesson").cells[1]
    # the unchanged line keeps its Chinese comment, the changed one has the English comment;
    # the whole-line comment "# 一个数" belonged to the old line and is in "before"
    assert cell.source == new_code.replace("# the repository root", "# 仓库根目录")
    assert cell.metadata[tr.RECORD]["before"] == CHINESE["setup"]
    assert [p.split(" | ")[0] for p in comment_problems(en_dir, zh_dir, "lesson")][1:] == [
        "setup: English comment left: 'three'"]
    with pytest.raises(tr.TranslationError, match="setup: not stamped, a comment is still "
                                                  "English: 'three'"):
        tr.stamp("lesson", ["setup"], en_dir, zh_dir)
    tr.sync(en_dir, zh_dir)  # a second sync keeps what the first one kept
    assert read(zh_dir, "lesson").cells[1].metadata[tr.RECORD]["before"] == CHINESE["setup"]
    edit(zh_dir, "setup", set_source(cell.source.replace("# three", "# 三")))
    assert tr.stamp("lesson", en_dir=en_dir, zh_dir=zh_dir, all_current=True) == (["setup"], [])
    assert "before" not in read(zh_dir, "lesson").cells[1].metadata[tr.RECORD]
    assert all_problems(en_dir, zh_dir, "lesson") == []


def test_carried_over_comments_are_stamped_only_after_a_look(edition):
    """Every line carried over, nothing left in English: still not stamped by --all-current,
    since the English comment of an unchanged line may have changed too."""
    en_dir, zh_dir = edition
    edit(en_dir, "knobs", set_source("K = 5  # folds\nJ = 2"))
    tr.sync(en_dir, zh_dir)
    carried = read(zh_dir, "lesson").cells[2].source
    assert carried == CHINESE["knobs"] + "\nJ = 2" and not tr.english_comments(carried)
    assert tr.stamp("lesson", en_dir=en_dir, zh_dir=zh_dir, all_current=True) == ([], ["knobs"])
    assert [p.split(" | ")[0] for p in comment_problems(en_dir, zh_dir, "lesson")] == [
        "knobs: new English code came in: sync carried the Chinese comments over to the lines "
        "whose code is the same (the cell as it was is in its metadata, translation.before); "
        "check them, translate what is English, then stamp"]
    assert tr.stamp("lesson", ["knobs"], en_dir, zh_dir) == (["knobs"], [])  # looked: by id
    assert all_problems(en_dir, zh_dir, "lesson") == []


def test_carrying_comments_over():
    old = "a = 1  # 一\n# 说明\nb = 2  # 二\nc = 3"
    assert tr.carry_comments(old, "a = 1  # one\n# note\nb = 5  # two\nc = 3  # three") == \
        "a = 1  # 一\n# 说明\nb = 5  # two\nc = 3  # three"
    assert tr.carry_comments(old, "z = 0\na = 1  # one") == "z = 0\na = 1  # 一"
    assert tr.carry_comments(old, "a = 1") == "a = 1"  # no English comment: none carried
    assert tr.carry_comments('x = """a  # 甲\n', "y = 1  # one") == "y = 1  # one"


def test_comments_the_english_cell_no_longer_has_are_dropped_and_said(edition):
    en_dir, zh_dir = edition
    edit(en_dir, "knobs", set_source("K = 10"))
    report = tr.sync(en_dir, zh_dir)
    assert "Chinese comments dropped in knobs: the English cell has no comments now" in report[0]
    assert read(zh_dir, "lesson").cells[2].source == "K = 10"
    assert all_problems(en_dir, zh_dir, "lesson") == []
    edit(en_dir, "knobs", set_source("K = 10  # folds"))  # a comment arrives: to translate
    tr.sync(en_dir, zh_dir)
    assert [p.split(" | ")[0] for p in comment_problems(en_dir, zh_dir, "lesson")] == [
        "knobs: English comments, to translate"]


def test_a_code_cell_is_stamped_only_with_its_code_and_chinese_comments(edition):
    en_dir, zh_dir = edition
    edit(zh_dir, "knobs", set_source("K = 6  # 折数"))
    with pytest.raises(tr.TranslationError, match="knobs: not stamped, its code differs from the "
                                                  "English cell; run sync"):
        tr.stamp("lesson", ["knobs"], en_dir, zh_dir)
    edit(zh_dir, "knobs", set_source("K = 5  # 折数\n# one more English remark"))
    assert [p.split(" | ")[0] for p in comment_problems(en_dir, zh_dir, "lesson")] == [
        "knobs: English comment left: 'one more English remark'"]
    assert tr.stamp("lesson", en_dir=en_dir, zh_dir=zh_dir, all_current=True) == ([], [])
    # code that was commented out is not prose to translate
    assert tr.prose_comments("# df.median()\n# flagged = cv(x)\nx = 1  # Dense(20)") == []
    assert tr.english_comments("# not underflowed\n# shape (n, 1)\n# 形状") == \
        ["not underflowed", "shape (n, 1)"]
    assert tr.comments("%time f()  # 计时\n") == ["计时"]
    assert tr.comments("!pip install x  # 安装\n# 整行\n") in (["安装", "整行"], ["整行"])


def test_a_string_is_not_a_comment():
    assert tr.same_code("x = 1  # one\n", "# 一\nx = 1\n")
    assert not tr.same_code('s = "# a"', 's = "# b"')
    assert not tr.same_code("if x:\n    y = 1\nz = 2", "if x:\n    y = 1\n    z = 2")
    assert tr.same_code("%timeit f()  # a\n", "%timeit f()  # b\n")  # % is an operator
    unfinished = 'x = """a  # b\n'  # does not tokenize: compared as text
    assert tr.same_code(unfinished, unfinished)
    assert not tr.same_code(unfinished, unfinished.replace("b", "c"))


@pytest.mark.parametrize("change, named", [
    (lambda nb: nb.cells[2].metadata.update(tags=[]), "knobs: metadata"),
    (lambda nb: nb.cells[6].metadata.pop("jupyter"), "check: metadata"),
    (lambda nb: nb.cells[5].metadata.pop("jp-MarkdownHeadingCollapsed"), "further: metadata"),
    (lambda nb: nb.cells.insert(1, nb.cells.pop(2)), "order differs"),
    (lambda nb: nb.cells.pop(4), "missing ['math']"),
    (lambda nb: nb.cells.append(nbformat.v4.new_markdown_cell("多余的一格", id="extra")),
     "extra ['extra']"),
], ids=["tags", "collapsed-check", "collapsed-heading", "order", "missing", "extra"])
def test_structure_drift_is_named(edition, change, named):
    en_dir, zh_dir = edition
    nb = read(zh_dir, "lesson")
    change(nb)
    nbformat.write(nb, zh_dir / "lesson.ipynb")
    problems = structure_problems(en_dir, zh_dir, "lesson")
    assert any(named in p for p in problems), problems
    assert tr.status(en_dir, zh_dir)
    tr.sync(en_dir, zh_dir)  # puts it right, keeping the translations there are
    assert structure_problems(en_dir, zh_dir, "lesson") == []
    assert drift_problems(en_dir, zh_dir, "lesson") == \
        (["math: not translated (no record) | $$\\prod_{l=1}^{L} W_l$$"] if named.startswith(
            "missing") else [])


def test_new_english_cells_arrive_in_english_and_unstamped_chinese_is_kept(edition):
    en_dir, zh_dir = edition
    cells = ENGLISH + [("summary", "markdown", "## Summary\n\nSmall factors multiplied many "
                        "times vanish.", {})]
    write_english(en_dir, cells)
    edit(zh_dir, "title", set_source(CHINESE["title"] + "\n\n（译者补充）"))  # not stamped yet
    tr.sync(en_dir, zh_dir)
    zh = {c.id: c for c in read(zh_dir, "lesson").cells}
    assert zh["summary"].source == cells[-1][2] and tr.RECORD not in zh["summary"].metadata
    assert zh["title"].source.endswith("（译者补充）")
    assert [p.split(":")[0] for p in drift_problems(en_dir, zh_dir, "lesson")] == ["summary"]
    assert tr.stamp("lesson", en_dir=en_dir, zh_dir=zh_dir, all_current=True) == (["title"], [])
    translate(zh_dir, {"summary": "## 小结\n\n小于 1 的因子连乘多次就会衰减。"}, {})
    assert all_problems(en_dir, zh_dir, "lesson") == []


def test_captions_drift_and_fill_in(edition):
    en_dir, zh_dir = edition
    edit(en_dir, "plot", set_source(ENGLISH[3][2].replace("tiny model", "small model")))
    assert caption_problems(en_dir, zh_dir, "lesson") == [
        "lesson figure loss: the English caption changed since it was translated | Loss over "
        "{K} folds of the small model."]
    assert tr.stamp("lesson", en_dir=en_dir, zh_dir=zh_dir, all_current=True) == ([], ["loss"])
    assert tr.stamp("lesson", ["loss"], en_dir, zh_dir) == (["loss"], [])
    assert caption_problems(en_dir, zh_dir, "lesson") == []
    captions = json.loads((zh_dir / tr.CAPTIONS).read_text())
    captions["lesson"]["gone"] = {"zh": "没了", "en_sha1": "0"}
    captions["lesson"]["loss"]["zh"] = "Loss over the folds, in English"
    (zh_dir / tr.CAPTIONS).write_text(json.dumps(captions))
    problems = caption_problems(en_dir, zh_dir, "lesson")
    assert "lesson figure loss: caption is not Chinese | Loss over the folds, in English" \
        in problems
    assert "lesson figure gone: in captions.json but no code cell saves it; remove it" in problems


def test_sync_keeps_captions_refreshes_the_english_and_drops_gone_figures(edition):
    en_dir, zh_dir = edition
    edit(en_dir, "plot", set_source(ENGLISH[3][2].replace("tiny model", "small model")
                                    + "\nsave_figure(fig, \"extra\", caption=\"More.\")"))
    captions = json.loads((zh_dir / tr.CAPTIONS).read_text())
    captions["lesson"]["gone"] = {"zh": "没了", "en": "Gone."}
    (zh_dir / tr.CAPTIONS).write_text(json.dumps(captions))
    report = tr.sync(en_dir, zh_dir)
    assert report[0].endswith("dropped figure gone")
    loss = json.loads((zh_dir / tr.CAPTIONS).read_text())["lesson"]
    assert sorted(loss) == ["extra", "loss"] and loss["extra"] == {"zh": "", "en": "More."}
    assert loss["loss"]["zh"] == CAPTIONS["loss"]  # kept, and now stale:
    assert loss["loss"]["en"] == "Loss over {K} folds of the small model."
    assert [p.split(":")[0] for p in caption_problems(en_dir, zh_dir, "lesson")] == \
        ["lesson figure loss", "lesson figure extra"]
    with pytest.raises(tr.TranslationError, match="figure extra: write its \"zh\" caption"):
        tr.stamp("lesson", ["extra"], en_dir, zh_dir)


def test_the_gallery_fills_the_chinese_caption_from_the_english_one(edition):
    _, zh_dir = edition
    captions = tr.GalleryCaptions(zh_dir)
    shown = {"name": "loss", "caption": "Loss over 10 folds of the tiny model."}
    assert captions("lesson", shown) == "小模型在 10 折上的损失。"
    other = {"name": "loss", "caption": "Something else entirely."}  # not from this code
    assert captions("lesson", other) == other["caption"]
    assert captions("gone", {"name": "x", "caption": "English"}) == "English"
    assert tr.fill_caption("{K} 折，{lr}", "lr {lr}, {K}-fold", "lr 0.1, 5-fold") == "5 折，0.1"
    assert tr.fill_caption("{epochs} 轮", "{K}-fold", "5-fold") is None


def test_prose_rules():
    assert tr.markup_only("$$x^2$$\n\n![](fig.png)") and not tr.markup_only("## 小结")
    assert tr.is_chinese("## 小结\n\n权重衰减（weight decay）让 `net.initialize()` 之后的权重变小。")
    assert not tr.is_chinese("Weights are drawn uniformly")
    assert tr.english_left("中文一段。\n\n- 要点一\n- The second point is still English here") == \
        "- The second point is still English here"
    assert tr.english_left("见 [d2l](https://d2l.ai/chapter_multilayer-perceptrons/index.html)。")\
        == ""
    assert tr.han_share(["中文", "`only code here`"]) == 1.0


def test_sync_refuses_cells_without_ids(tmp_path):
    en_dir = tmp_path / "notebooks"
    write_english(en_dir)
    raw = json.loads((en_dir / "lesson.ipynb").read_text())
    raw["nbformat_minor"] = 4
    for cell in raw["cells"]:
        cell.pop("id")
    (en_dir / "lesson.ipynb").write_text(json.dumps(raw))
    with pytest.raises(tr.TranslationError, match="have no id"):
        tr.sync(en_dir, en_dir / "zh")
    with pytest.raises(tr.TranslationError, match="no English notebook nope"):
        tr.sync(en_dir, en_dir / "zh", ["nope"])


def test_a_copy_of_the_real_english_notebooks_syncs_and_lists_every_cell(tmp_path):
    """On copies of the real English notebooks: sync gives notebooks that pass the code and
    structure checks, and status names every markdown cell and every figure as to do."""
    en_dir = tmp_path / "notebooks"
    shutil.copytree(EN_DIR, en_dir, ignore=shutil.ignore_patterns("zh", ".ipynb_checkpoints"))
    tr.sync(en_dir, en_dir / "zh")
    lines = tr.status(en_dir, en_dir / "zh")
    for stem in STEMS:
        assert structure_problems(en_dir, en_dir / "zh", stem) == []
        assert code_problems(en_dir, en_dir / "zh", stem) == []
        en = read(en_dir, stem)
        to_translate = [c.id for c in en.cells if c.cell_type == "markdown"
                        or tr.prose_comments(c.source)]
        figures, problems = tr.figure_captions(en)
        assert not problems and figures, f"{stem}: {problems}"
        named = [line.split(":")[0] for line in lines if line.startswith(f"{stem} ")]
        assert named == [f"{stem} {i}" for i in to_translate] + \
            [f"{stem} figure {name}" for name in figures]


# ----- the runner's Chinese edition -----------------------------------------------------------

def test_the_runner_runs_the_chinese_edition_into_its_own_gallery(tmp_path, monkeypatch):
    """`python -m utils run --lang zh`: notebooks/zh/ runs in its own folder and still finds
    utils/ (the runner puts the repository on the kernel's PYTHONPATH; ".." is notebooks/ here),
    exports into <exports>/zh/, and the gallery and pages are Chinese, captions filled in."""
    from utils.course import run

    en_dir, zh_dir = tmp_path / "notebooks", tmp_path / "notebooks" / "zh"
    plot_code = ("import sys; sys.path.insert(0, \"..\")\n"
                 "from utils import plot\nplot.set_notebook(\"lesson\")\n"
                 "fig, ax = plot.new_figure()\nax.plot([1, 2])\n"
                 "plot.save_figure(fig, \"loss\",\n                caption=f\"Loss over {K} folds of "
                 "the tiny model.\")")
    cells = [ENGLISH[0], ENGLISH[2], ("plot", "code", plot_code, {}), ENGLISH[5]]
    write_english(en_dir, cells)
    tr.sync(en_dir, zh_dir)
    translate(zh_dir)
    assert all_problems(en_dir, zh_dir, "lesson") == []
    monkeypatch.setenv(run.EXPORTS_ENV, str(tmp_path / "exports"))
    monkeypatch.delenv("PYTHONPATH", raising=False)
    results = run.run(parameters={"K": 10}, timeout=300, progress=False, lang="zh",
                      notebooks_dir=zh_dir)
    assert [(r.stem, r.ok, r.error) for r in results] == [("lesson", True, "")]
    exports = tmp_path / "exports" / "zh"
    assert not (tmp_path / "exports" / "lesson").exists()
    page = (exports / "index.html").read_text(encoding="utf-8")
    assert page.startswith('<!DOCTYPE html>\n<html lang="zh-CN">')
    assert "<h1>笔记本</h1>" in page and "<th>状态</th>" in page
    assert "loss: 小模型在 10 折上的损失。" in page  # filled from the English caption
    html_page = (exports / "lesson" / "lesson.html").read_text(encoding="utf-8")
    assert '<html lang="zh-CN"' in html_page and "小小的一课" in html_page
    figures = json.loads((exports / "lesson" / "figures.json").read_text())
    assert figures[0]["caption"] == "Loss over 10 folds of the tiny model."  # code unchanged


def test_english_pages_declare_english(tmp_path):
    from utils.course import exports, notebook_html

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Title")])
    assert '<html lang="en"' in notebook_html.to_html(nb)
    assert '<html lang="zh-CN"' in notebook_html.to_html(nb, "zh")
    exports.write_index(tmp_path, [])
    assert '<html lang="en">' in (tmp_path / "index.html").read_text()


def test_status_names_a_stamped_cell_that_is_english_and_an_unreadable_notebook(edition, capsys):
    en_dir, zh_dir = edition
    edit(zh_dir, "title", set_source(ENGLISH[0][2]))  # a hand-made record on English text
    assert [line for line in tr.status(en_dir, zh_dir) if line.startswith("lesson title")] == [
        "lesson title: English left: 'Gradients vanish when many small factors multiply "
        "together...' | # Tiny lesson Gradients vanish when many small..."]
    (zh_dir / "lesson.ipynb").write_text("{not json")
    assert tr.main(["--en-dir", str(en_dir), "--zh-dir", str(zh_dir), "status"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {zh_dir / 'lesson.ipynb'} cannot be read as a notebook")


def test_running_a_chinese_edition_that_is_not_there_says_how_to_make_it(tmp_path):
    from utils.course import run

    with pytest.raises(run.RunnerError, match="no zh edition in .*utils.course.translation sync"):
        run.run(lang="zh", notebooks_dir=tmp_path / "zh", exports_dir=tmp_path / "exports")
    assert not (tmp_path / "exports").exists()


def test_drift_on_a_copy_of_the_real_notebooks(tmp_path):
    """On copies of the real notebooks, stand-in Chinese text in every markdown cell, stamped:
    editing one English cell makes the drift check name exactly that cell, and updating and
    stamping the Chinese cell makes it pass again."""
    en_dir, zh_dir = tmp_path / "notebooks", tmp_path / "notebooks" / "zh"
    shutil.copytree(EN_DIR, en_dir, ignore=shutil.ignore_patterns("zh", ".ipynb_checkpoints"))
    stem = STEMS[0]
    tr.sync(en_dir, zh_dir, [stem])
    nb = read(zh_dir, stem)
    for n, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            cell.source = f"第 {n} 格的中文译文（测试用）。"
    nbformat.write(nb, zh_dir / f"{stem}.ipynb")
    done, left = tr.stamp(stem, en_dir=en_dir, zh_dir=zh_dir, all_current=True)
    assert len(done) >= sum(c.cell_type == "markdown" for c in nb.cells) and not left
    assert drift_problems(en_dir, zh_dir, stem) == []
    en = read(en_dir, stem)
    target = [c for c in en.cells if c.cell_type == "markdown"][-1]
    target.source += "\n\nOne more English sentence."
    nbformat.write(en, en_dir / f"{stem}.ipynb")
    assert [p.split(":")[0] for p in drift_problems(en_dir, zh_dir, stem)] == [target.id]
    assert tr.stamp(stem, en_dir=en_dir, zh_dir=zh_dir, all_current=True) == ([], [target.id])
    edit(zh_dir, target.id, set_source("更新后的中文译文（测试用）。"), stem)
    assert tr.stamp(stem, en_dir=en_dir, zh_dir=zh_dir, all_current=True) == ([target.id], [])
    assert drift_problems(en_dir, zh_dir, stem) == []


@pytest.mark.parametrize("stem", STEMS)
def test_chinese_comments_follow_the_editions_style(stem):
    """The comments of the Chinese code cells keep the style of its prose (docs/zh/translation.md):
    the same checker, comment by comment."""
    from utils.course import zh_style

    found = [f"{cell.get('id')}: {what}" for cell in read(ZH_DIR, stem).cells
             if cell.cell_type == "code" for comment in tr.comments(cell.source)
             if tr.HAN.search(comment) for _, what in zh_style.problems(comment)]
    assert not found, "\n".join(found)
