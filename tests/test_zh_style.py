"""The Chinese edition keeps one copywriting style (docs/zh/translation.md, 文字风格): every
markdown cell of notebooks/zh/, every caption in captions.json, README.zh.md and docs/zh/.
autocorrect-py (development set) checks the spacing and punctuation; utils/course/zh_style.py
adds our house rules. Nothing here is skipped: a missing autocorrect-py fails the run."""
import pytest

from utils.course import zh_style

STEMS = sorted(p.stem for p in zh_style.ZH_DIR.glob("*.ipynb"))


@pytest.mark.parametrize("text, expected", [
    ("训练后8行权重", "'训练后8行权重' -> '训练后 8 行权重'"),
    ("来自numpy随机数生成器", "'来自numpy随机数生成器' -> '来自 numpy 随机数生成器'"),
    ("第$l$层", "'第$l$层' -> '第 $l$ 层'"),
    ("好,然后", "'好,然后' -> '好，然后'"),
    ("调用`net(X)`即可", "a space between Chinese and `net(X)`"),
    ("直到持续满 30 毫秒", "'30 毫秒': units as symbols after a space: 30 ms, 2 s"),
    ("直到持续满 30ms", "'30ms': a space between a number and its unit: 30 ms"),
    ("下面的代码单元打印", "'代码单元': cell is 单元格 (代码单元格, Markdown 单元格)"),
    ("见*深入一步*", "'深入一步': write “深入一步” in quotes (not italics)"),
    ("## 小结（Summary）", "no English in brackets after a heading (put the English term "
                          "where the text first uses it)"),
    ("例如 (简体 中国) 这样", "'(简体 中国)': full-width brackets （） around Chinese"),
    ('所谓 "深度" 学习', "'\"深度\"': Chinese quotes “” around Chinese"),
])
def test_each_rule_names_what_breaks_it(text, expected):
    assert expected in [what for _, what in zh_style.problems(text)]


@pytest.mark.parametrize("text", [
    "训练后 8 行权重来自 numpy，第 $l$ 层调用 `net(X)` 即可，持续满 30 ms。",
    "## 深入一步（可选）\n\n见“深入一步”，下面的单元格。\n\n```python\nx=1  # 只用训练折\n```",
    "## 3. 对称性与随机初始化\n\n### `net(X)` 运行了什么",
    "[比赛页面](https://www.kaggle.com/c/x(y)) 与 <https://zh-v1.d2l.ai>",
])
def test_text_in_the_style_passes(text):
    assert zh_style.problems(text) == []


def test_fix_applies_the_spacing():
    assert zh_style.fix("调用`net(X)`的8行") == "调用 `net(X)` 的 8 行"
    assert zh_style.fix("学习率为{LR}时", markdown=False) == "学习率为 {LR} 时"


def test_the_edition_is_there():
    assert len(STEMS) == 3 and zh_style.README.exists()
    assert all(zh_style.markdown_cells(zh_style.ZH_DIR / f"{s}.ipynb") for s in STEMS)


def _say(found):
    return ("\n".join(found) + "\n`python -m utils.course.zh_style fix` applies the spacing; "
            "then `python -m utils.course.translation stamp --all-current`")


@pytest.mark.parametrize("stem", STEMS)
def test_notebook_markdown_follows_the_style(stem):
    found = [f"{stem} {cell_id} line {n}: {what}"
             for cell_id, text in zh_style.markdown_cells(zh_style.ZH_DIR / f"{stem}.ipynb")
             for n, what in zh_style.problems(text)]
    assert not found, _say(found)


def test_captions_follow_the_style():
    captions = zh_style.captions()
    assert len(captions) >= len(STEMS)
    found = [f"captions.json {stem} {name}: {what}" for stem, name, text in captions
             for _, what in zh_style.problems(text, markdown=False)]
    assert not found, _say(found)


def test_readme_and_docs_follow_the_style():
    found = [f"{doc.name} line {n}: {what}" for doc in zh_style.documents()
             for n, what in zh_style.problems(doc.read_text(encoding="utf-8"))]
    assert not found, _say(found)
