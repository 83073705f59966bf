"""The two editions the runner knows: where their notebooks are, where their exports go, and
the words of their gallery page and HTML export. English is the source; the Chinese edition
(notebooks/zh/, kept in step by utils/course/translation.py) has the same code and exports into
exports/zh/.

Only the standard library: the runner and utils/course/exports.py import this.
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
    columns: tuple       # notebook, status, seconds, figures, parameters
    defaults: str        # the parameters column of a run with the notebook's own defaults
    changed_note: str    # HTML: shown when a run used -p values
    click_hint: str      # HTML; {interactive} is the folder of runs outside the runner
    answer_code: str     # summary of a collapsed `answer` code cell in the HTML export
    other: tuple         # (link from this gallery to the other edition's, its text)


EDITIONS = {
    "en": Edition(
        code="en", html_lang="en", notebooks="notebooks", exports="",
        title="Exported figures", notebooks_heading="Notebooks", figures_heading="Figures",
        columns=("notebook", "status", "seconds", "figures", "parameters"), defaults="defaults",
        changed_note=(
            "<b>Not the full-size defaults:</b> the figures of the notebooks whose parameters "
            "column lists values were made with those <code>-p</code> values, so they may differ "
            "from what the notebooks' text describes."),
        click_hint=(
            "Click a thumbnail for the SVG. Figures of notebooks run outside the runner "
            "(JupyterLab,\nnbconvert, papermill) are in <code>{interactive}/</code>, not shown "
            "here."),
        answer_code="Answer (code)", other=("zh/index.html", "中文版")),
    "zh": Edition(
        code="zh", html_lang="zh-CN", notebooks="notebooks/zh", exports="zh",
        title="导出的图", notebooks_heading="笔记本", figures_heading="图",
        columns=("笔记本", "状态", "秒", "图数", "参数"), defaults="默认值",
        changed_note=(
            "<b>不是完整规模的默认设置：</b>“参数”一栏列出取值的笔记本，其图是用这些 "
            "<code>-p</code> 取值画的，可能与笔记本正文的描述不同。"),
        click_hint=(
            "点击缩略图可打开 SVG 矢量图。在运行器之外（JupyterLab、nbconvert、papermill）运行的"
            "笔记本，其图保存在 <code>../{interactive}/</code> 中，不在此页显示。"),
        answer_code="答案（代码）", other=("../index.html", "English edition")),
}
DEFAULT = "en"
