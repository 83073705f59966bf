"""The executed notebook as an HTML page for reading: `check` cells left out, `answer` code
cells collapsed, math drawn at export time so the page needs no network, no In/Out prompts."""
import copy
import html
import re

from jinja2 import DictLoader
from nbconvert import HTMLExporter
from traitlets.config import Config

from utils.course.languages import DEFAULT as DEFAULT_LANG, EDITIONS

CHECK_TAG = "check"
# The lab template, with cells tagged `answer` collapsed as the prose answers are (<details>)
# and no MathJax: math is rendered at export time (below), so the page needs no network.
HTML_TEMPLATE = """{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js_mathjax -%}
<style>details.answer > summary {font-family: var(--jp-content-font-family);
  font-size: var(--jp-content-font-size1); margin: 0 0 .5em 12px; cursor: pointer}</style>
{%- endblock html_head_js_mathjax -%}
{% block codecell %}
{%- if 'answer' in cell.metadata.get('tags', []) -%}
<details class="answer"><summary>Answer (code)</summary>
{{ super() }}
</details>
{%- else -%}
{{ super() }}
{%- endif -%}
{% endblock codecell %}
"""
# $$display$$ or $inline$ (one paragraph at most); \$ is a dollar sign
MATH = re.compile(r"(?<!\\)\$\$(?P<display>.+?)(?<!\\)\$\$"
                  r"|(?<!\\)\$(?P<inline>(?:[^$\n]|\n(?![ \t]*\n))+?)(?<!\\)\$", re.S)


CODE = re.compile(r"(```.*?```|~~~.*?~~~|`[^`\n]*`)", re.S)


def _mathtext(tex):
    """LaTeX as matplotlib's mathtext reads it (it lacks \\text, \\tfrac12, \\lVert ...)."""
    tex = re.sub(r"\\(?:text|operatorname)\{([^}]*)\}",
                 lambda m: r"\mathrm{" + m.group(1).replace(" ", r"\ ") + "}", tex)
    tex = re.sub(r"\\t?frac(\d)(\d)", r"\\frac{\1}{\2}", tex)
    tex = re.sub(r"\\(boldsymbol|mathbf|mathrm)\s*(\\[A-Za-z]+|[A-Za-z0-9])", r"\\\1{\2}", tex)
    for old, new in ((r"\boldsymbol", r"\mathbf"), (r"\tfrac", r"\frac"), (r"\lVert", r"\Vert"),
                     (r"\rVert", r"\Vert"), ("\n", " ")):
        tex = tex.replace(old, new)
    tex = re.sub(r"\\([lgn]e)(?![A-Za-z])", r"\\\1q", tex)  # \le -> \leq, \ge, \ne
    return f"${tex.strip()}$"


def math_to_svg(markdown):
    """Markdown with each $...$ and $$...$$ replaced by an inline SVG image rendered by
    matplotlib (so the HTML shows math without MathJax's download); the LaTeX stays as alt
    text. An expression mathtext cannot read is left as it is."""
    import base64
    import io
    from matplotlib import mathtext, rc_context
    from matplotlib.font_manager import FontProperties

    def render(match):
        display = match.group("display") is not None
        tex = match.group("display") if display else match.group("inline")
        buffer = io.BytesIO()
        try:
            with rc_context({"mathtext.fontset": "cm", "svg.fonttype": "path"}):
                depth = mathtext.math_to_image(_mathtext(tex), buffer, format="svg",
                                               prop=FontProperties(size=13 if display else 11))
        except Exception:  # a construct mathtext lacks: the reader sees the LaTeX
            return match.group(0)
        data = base64.b64encode(buffer.getvalue()).decode()
        img = (f'<img class="math" alt="{html.escape(tex.strip(), quote=True)}" '
               f'src="data:image/svg+xml;base64,{data}" '
               f'style="vertical-align:-{depth or 0:.1f}pt;display:inline;margin:0">')
        return f'\n\n<div style="text-align:center">{img}</div>\n\n' if display else img
    # code spans and fenced blocks keep their dollars (`$KAGGLE_HOUSE_DIR`)
    parts = CODE.split(markdown)
    return "".join(part if i % 2 else MATH.sub(render, part) for i, part in enumerate(parts))


def to_html(nb, lang=DEFAULT_LANG):
    """The executed notebook as HTML for readers: cells tagged `check` are left out, cells
    tagged `answer` are collapsed, math is pre-rendered, no In/Out prompts. The page declares
    the edition's language (nbconvert takes ISO 639-1 codes only: "zh", then "zh-CN")."""
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        if cell.cell_type == "markdown" and "$" in cell.source:
            cell.source = math_to_svg(cell.source)
    config = Config()
    config.TagRemovePreprocessor.enabled = True
    config.TagRemovePreprocessor.remove_cell_tags = {CHECK_TAG}
    edition = EDITIONS[lang]
    template = HTML_TEMPLATE.replace("Answer (code)", edition.answer_code)
    code = edition.html_lang.split("-")[0]
    exporter = HTMLExporter(config=config, extra_loaders=[DictLoader({"course.j2": template})],
                            template_file="course.j2", exclude_input_prompt=True,
                            exclude_output_prompt=True, language_code=code)
    page = exporter.from_notebook_node(nb)[0]
    return page.replace(f'<html lang="{code}"', f'<html lang="{edition.html_lang}"', 1)
