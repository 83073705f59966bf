"""Each notebook opens with its core lesson at about the book's length, then "Going further".

The core is every cell before the first markdown cell whose first line starts with
`## Going further`. Its prose (markdown words, collapsed `<details>` answers not counted) stays
within 2,000 words and its teaching code (code cells not tagged `check` or `answer`, and not
the set-up cell that opens every notebook: it finds `utils` and, on Colab, installs MXNet) within 200
non-blank lines: about the length of the same sections of d2l 2.0 (1,758-2,176 words).
"""
import re

import nbformat
import pytest

from conftest import NOTEBOOK_DIR

STEMS = sorted(p.stem for p in NOTEBOOK_DIR.glob("*.ipynb"))
GOING_FURTHER = "## Going further"
MAX_CORE_WORDS = 2000
MAX_CORE_CODE_LINES = 200
DETAILS = re.compile(r"<details>.*?</details>", re.S)


def split_core(nb):
    """(core cells, the `## Going further` heading cell or None)."""
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown" and cell.source.lstrip().startswith(GOING_FURTHER):
            return nb.cells[:i], cell
    return nb.cells, None


def prose_words(cells):
    return sum(len(DETAILS.sub(" ", c.source).split()) for c in cells if c.cell_type == "markdown")


SET_UP = "# Set-up:"  # the first line of the set-up cell


def teaching_code_lines(cells):
    return sum(1 for c in cells
               if c.cell_type == "code" and not {"check", "answer"} & set(c.metadata.get("tags", []))
               and not c.source.startswith(SET_UP)
               for line in c.source.splitlines() if line.strip())


def test_counts_follow_the_rules():
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# Title\n\none two <details>hidden words</details> three"),
        nbformat.v4.new_code_cell(f"{SET_UP} find utils\nimport utils"),
        nbformat.v4.new_code_cell("x = 1\n\ny = 2"),
        nbformat.v4.new_code_cell("assert x", metadata={"tags": ["check"]}),
        nbformat.v4.new_code_cell("print(x)", metadata={"tags": ["answer"]}),
        nbformat.v4.new_markdown_cell("## Going further (optional)\n\nmany more words"),
        nbformat.v4.new_code_cell("z = 3"),
    ])
    core, heading = split_core(nb)
    assert heading is nb.cells[5]
    assert prose_words(core) == 5  # "# Title one two three": `#` counts, the details do not
    assert teaching_code_lines(core) == 2  # not the set-up cell's


@pytest.mark.parametrize("stem", STEMS)
def test_every_notebook_opens_with_the_set_up_cell(stem):
    """Only that one cell is left out of the count, so it must be the first code cell."""
    nb = nbformat.read(NOTEBOOK_DIR / f"{stem}.ipynb", as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code[0].source.startswith(SET_UP)
    assert not any(c.source.startswith(SET_UP) for c in code[1:])


@pytest.mark.parametrize("stem", STEMS)
def test_core_lesson_has_the_books_length(stem):
    nb = nbformat.read(NOTEBOOK_DIR / f"{stem}.ipynb", as_version=4)
    core, heading = split_core(nb)
    assert heading is not None, f"{stem}: no markdown cell starting with {GOING_FURTHER!r}"
    words, lines = prose_words(core), teaching_code_lines(core)
    assert words <= MAX_CORE_WORDS, \
        f"{stem}: the core lesson has {words} words of prose (at most {MAX_CORE_WORDS})"
    assert lines <= MAX_CORE_CODE_LINES, \
        f"{stem}: the core lesson has {lines} lines of teaching code (at most {MAX_CORE_CODE_LINES})"


@pytest.mark.parametrize("stem", STEMS)
def test_going_further_is_optional_and_opens_collapsed(stem):
    nb = nbformat.read(NOTEBOOK_DIR / f"{stem}.ipynb", as_version=4)
    core, heading = split_core(nb)
    assert heading is not None, f"{stem}: no markdown cell starting with {GOING_FURTHER!r}"
    assert heading.metadata.get("jp-MarkdownHeadingCollapsed") is True, \
        f"{stem}: the {GOING_FURTHER!r} heading lacks \"jp-MarkdownHeadingCollapsed\": true"
    assert "optional" in heading.source.lower(), f"{stem}: say that {GOING_FURTHER!r} is optional"
    core_headings = [line for c in core if c.cell_type == "markdown"
                     for line in c.source.splitlines() if line.startswith("## ")]
    assert any("Summary" in h for h in core_headings), f"{stem}: the core lesson has no summary"
    assert any("Exercises" in h for h in core_headings), f"{stem}: the core lesson has no exercises"
