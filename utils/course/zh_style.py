"""The Chinese edition's copywriting style, checked and applied (docs/zh/translation.md, 文字风格).

autocorrect-py does the spacing and punctuation; our house rules, which it does not know, are
here (docs/translation.md, "Copywriting style").
"""
import argparse
import functools
import re
import sys

from utils.course.translation import (CAPTIONS, HAN, HAN_RANGE, REPO_ROOT, ZH_DIR,
                                      TranslationError, caption_entries, captions_text,
                                      read_captions, read_notebook, write_all,
                                      written_caption)

README = REPO_ROOT / "README.zh.md"
DOCS = REPO_ROOT / "docs" / "zh"
CONFIG = REPO_ROOT / ".autocorrectrc"

FENCE = re.compile(r"^\s*(```|~~~)")
CODE_SPAN = re.compile(r"(`+)(.+?)\1")
FIELD = re.compile(r"\{[A-Za-z_][A-Za-z0-9_]*\}")
MATH = re.compile(r"\$\$.+?\$\$|(?<!\\)\$(?!\s).+?(?<![\s\\])\$")
URL = re.compile(r"\]\([^)]*\)|<[^>]*>|https?://\S+")

# Our decided rules that autocorrect does not know: (pattern over prose, what to write instead).
# Prose is a line with code, math, link targets and HTML tags masked out.
RULES = [
    (re.compile(r"\d+\s*(?:毫秒|微秒|纳秒|秒钟|秒)(?![数])"), "units as symbols after a space: 30 ms, 2 s"),
    (re.compile(r"\d+(?:ms|µs|us|ns|s|KB|MB|GB|KiB|MiB|GiB)\b"),
     "a space between a number and its unit: 30 ms"),
    (re.compile(r"代码单元(?!格)|代码格|Markdown\s?格|[中英]文格|第一格|某一格|每一格"),
     "cell is 单元格 (代码单元格, Markdown 单元格)"),
    (re.compile(r"(?<!“)深入一步|深入一步(?!”)"), "write “深入一步” in quotes (not italics)"),
    (re.compile(rf"\([^()]*[{HAN_RANGE}][^()]*\)"), "full-width brackets （） around Chinese"),
    (re.compile(rf"\"[^\"]*[{HAN_RANGE}][^\"]*\""), "Chinese quotes “” around Chinese"),
]
HEADING = re.compile(r"^#{1,6}\s")
HEADING_ENGLISH = re.compile(r"[（(][^）)]*[A-Za-z][^）)]*[）)]")
GOING_FURTHER_HEADING = re.compile(r"^#{1,6}\s+深入一步")
SPACE_AROUND = [
    (re.compile(rf"([{HAN_RANGE}])((`+).+?\3)"), r"\1 \2"),
    (re.compile(rf"((`+).+?\2)([{HAN_RANGE}])"), r"\1 \3"),
    (re.compile(rf"([{HAN_RANGE}])({FIELD.pattern})"), r"\1 \2"),
    (re.compile(rf"({FIELD.pattern})([{HAN_RANGE}])"), r"\1 \2"),
]

@functools.lru_cache(maxsize=None)
def autocorrect():
    """autocorrect_py with our .autocorrectrc loaded (once: the config is process-wide)."""
    try:
        import autocorrect_py
    except ImportError:
        raise SystemExit("autocorrect-py is not installed: it is in the development set, "
                         "`make .venv/bin/.installed-dev` (or pip install -r "
                         "requirements/dev.txt)") from None
    autocorrect_py.load_config(CONFIG.read_text(encoding="utf-8"))
    return autocorrect_py


def _prose_lines(text):
    """(line number, line) of the text outside fenced code blocks."""
    fenced = False
    for number, line in enumerate(text.split("\n"), 1):
        if FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            yield number, line


def _house_rules(text):
    found = []
    for number, line in _prose_lines(text):
        for span in CODE_SPAN.finditer(line):
            near = line[span.start() - 1:span.start()] + line[span.end():span.end() + 1]
            if HAN.search(near):
                found.append((number, f"a space between Chinese and {span.group(0)}"))
        prose = line
        for pattern in (CODE_SPAN, MATH, URL):  # code, math, link targets, tags: a neutral letter
            prose = pattern.sub("X", prose)
        for field in FIELD.finditer(prose):
            near = prose[field.start() - 1:field.start()] + prose[field.end():field.end() + 1]
            if HAN.search(near):
                found.append((number, f"a space between Chinese and {field.group(0)} (a number)"))
        if HEADING.match(line):
            if HEADING_ENGLISH.search(prose):
                found.append((number, "no English in brackets after a heading (put the English "
                                      "term where the text first uses it)"))
            prose = GOING_FURTHER_HEADING.sub("#", prose)
        for pattern, advice in RULES:
            for hit in pattern.finditer(prose):
                found.append((number, f"{hit.group(0)!r}: {advice}"))
    return found


def problems(text, markdown=True):
    """[(line, what is wrong)] of one Chinese text: markdown, or plain (a caption)."""
    lint = autocorrect().lint_for(text, "md" if markdown else "text")
    found = [(r.line, f"{r.old!r} -> {r.new!r}") for r in lint.lines]
    return sorted(found + _house_rules(text))


def fix(text, markdown=True):
    """The text with autocorrect's formatting and our spacing around code and fields."""
    text = autocorrect().format_for(text, "md" if markdown else "text")
    lines = text.split("\n")
    for number, line in _prose_lines(text):
        for pattern, repl in SPACE_AROUND:
            line = pattern.sub(repl, line)
        lines[number - 1] = line
    return "\n".join(lines)


# ----- the Chinese edition's texts ------------------------------------------------------------

def markdown_cells(nb_path):
    """(cell id, text) of each markdown cell; read as the translation tool reads it."""
    cells = read_notebook(nb_path).cells
    return [(c.get("id"), c.source) for c in cells if c.cell_type == "markdown"]


def read_all_captions():
    """captions.json through the translation tool's reader, so the two cannot disagree."""
    data = read_captions(ZH_DIR)
    return {stem: caption_entries(data, stem, ZH_DIR) for stem in data}


def captions():
    return [(stem, name, written_caption(record))
            for stem, figures in sorted(read_all_captions().items())
            for name, record in sorted(figures.items())]


def documents():
    return [README] + sorted(DOCS.glob("*.md"))


def read_document(doc):
    try:
        return doc.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise TranslationError(f"{doc} is not UTF-8 (byte {err.start}); save it as UTF-8") \
            from None


def report():
    """Every style problem of the edition, one line each: where, line, what."""
    lines = []
    for nb_path in sorted(ZH_DIR.glob("*.ipynb")):
        for cell_id, text in markdown_cells(nb_path):
            lines += [f"{nb_path.stem} {cell_id} line {n}: {what}" for n, what in problems(text)]
    for stem, name, text in captions():
        lines += [f"captions.json {stem} {name}: {what}"
                  for _, what in problems(text, markdown=False)]
    for doc in documents():
        lines += [f"{doc.relative_to(REPO_ROOT)} line {n}: {what}"
                  for n, what in problems(read_document(doc))]
    return lines


def fix_all():
    """Apply fix() to every Chinese markdown cell, caption and document; return what changed.

    Everything is read and fixed before the first write, and written all or none.
    """
    import nbformat
    changed, files = [], {}
    for nb_path in sorted(ZH_DIR.glob("*.ipynb")):
        nb = read_notebook(nb_path)
        before = len(changed)
        for cell in nb.cells:
            new = fix(cell.source) if cell.cell_type == "markdown" else cell.source
            if new != cell.source:  # each cell fixed once
                cell.source = new
                changed.append(f"{nb_path.stem} {cell.get('id')}")
        if len(changed) > before:
            files[nb_path] = nbformat.writes(nb) + "\n"
    data = read_all_captions()
    names = []
    for stem, figures in data.items():
        for name, record in figures.items():
            new = fix(written_caption(record), markdown=False)
            if new != written_caption(record):
                figures[name] = {**record, "zh": new}
                names.append(f"captions.json {stem} {name}")
    if names:  # the layout the translation tool writes
        files[ZH_DIR / CAPTIONS] = captions_text(data)
        changed += names
    for doc in documents():
        text = read_document(doc)
        if fix(text) != text:
            files[doc] = fix(text)
            changed.append(str(doc.relative_to(REPO_ROOT)))
    write_all(REPO_ROOT, files)
    return changed


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m utils.course.zh_style",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["check", "fix"])
    args = parser.parse_args(argv)
    try:
        if args.command == "fix":
            changed = fix_all()
            print("\n".join(changed) or "nothing to change")
            if changed:
                print("restamp the changed cells and captions: "
                      "python -m utils.course.translation stamp --all-current")
        found = report()
    except TranslationError as err:  # a damaged notebook or captions.json, named
        print(f"error: {err}", file=sys.stderr)
        return 2
    except OSError as err:  # a file that vanished or cannot be read or written
        print(f"error: {err.filename or ''}: {err.strerror or err}", file=sys.stderr)
        return 2
    print("\n".join(found) or "the Chinese edition follows the style")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
