"""The two editions the runner knows: where their notebooks are, where their exports go, and
the words of their gallery page. English is the source; the Chinese edition (notebooks/zh/,
kept in step by utils/translation.py) has the same code and exports into exports/zh/.

Only the standard library: the runner and utils/exports.py import this.
"""
from dataclasses import dataclass


@dataclass(frozen=True)
class Edition:
    code: str            # what `python -m utils run --lang` takes
    html_lang: str       # <html lang="..."> of the gallery and the exported notebook pages
    notebooks: str       # folder of the notebooks, relative to the repository
    exports: str         # sub-folder of the exports folder ("" for the exports folder itself)
    title: str
    notebooks_heading: str
    figures_heading: str
    columns: tuple       # notebook, status, seconds, figures
    click_hint: str
    other: tuple         # (link from this gallery to the other edition's, its text)


EDITIONS = {
    "en": Edition("en", "en", "notebooks", "", "Exported figures", "Notebooks", "Figures",
                  ("notebook", "status", "seconds", "figures"), "Click a thumbnail for the SVG.",
                  ("zh/index.html", "中文版")),
    "zh": Edition("zh", "zh-CN", "notebooks/zh", "zh", "导出的图", "笔记本", "图",
                  ("笔记本", "状态", "秒", "图数"), "点击缩略图可打开 SVG 矢量图。",
                  ("../index.html", "English edition")),
}
DEFAULT = "en"
