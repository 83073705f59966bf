"""README.zh.md says what the Chinese notebooks say: its glossary is the notebooks' own terms
(each term occurs in the markdown of every notebook its row names), and neither it nor the
notebooks use the variants the glossary replaced. It links the first edition and names `make lab`."""
import re

import pytest

from utils.course import zh_style

README = zh_style.README.read_text(encoding="utf-8")
NOTEBOOKS = {int(p.stem[:2]): p for p in sorted(zh_style.ZH_DIR.glob("*.ipynb"))}
PROSE = {n: "\n".join(text for _, text in zh_style.markdown_cells(p))
         for n, p in NOTEBOOKS.items()}
# a variant the edition does not use -> the term it uses (d2l-zh v1's, or the notebooks' own)
REPLACED = {"训练集": "训练数据集", "验证集": "验证折", "测试集": "测试数据集", "轮次": "迭代周期",
            "泄漏": "数据泄露", "改动量": "配对差值", "折切法": "折的划分"}


def glossary():
    """[(Chinese terms, notebook numbers)] of the table under "## 术语表"."""
    section = README.split("\n## 术语表\n", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or not re.fullmatch(r"[\d, ]+", cells[2]):
            continue
        terms = [t.strip() for t in re.sub(r"（[^）]*）", "", cells[0]).split("、")]
        rows.append((terms, [int(n) for n in re.findall(r"\d", cells[2])]))
    return rows


def test_the_glossary_is_read_whole():
    rows = glossary()
    assert len(rows) >= 40
    assert {n for _, ns in rows for n in ns} == set(NOTEBOOKS)


@pytest.mark.parametrize("terms, numbers", glossary(), ids=lambda v: str(v))
def test_each_glossary_term_occurs_in_its_notebooks(terms, numbers):
    missing = [f"{term!r} not in {NOTEBOOKS[n].name}" for term in terms for n in numbers
               if term not in PROSE[n]]
    assert not missing, "; ".join(missing)


def test_no_replaced_variant_is_used():
    texts = {"README.zh.md": README, **{p.name: PROSE[n] for n, p in NOTEBOOKS.items()}}
    found = [f"{name}: {old!r} (write {new!r})" for name, text in texts.items()
             for old, new in REPLACED.items() if old in text]
    assert not found, "\n".join(found)


def test_it_links_the_first_edition_and_names_make_lab():
    assert "https://zh-v1.d2l.ai" in README
    assert "](https://zh.d2l.ai)" not in README  # the second edition only as "see also"
    assert "`make lab`" in README and "--allow-root" in README
    assert len(README.splitlines()) <= 150
