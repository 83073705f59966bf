"""The Chinese edition (notebooks/zh/): one set of code, prose in two languages, drift recorded.

Formats, commands and every refusal: docs/translation.md. Standard library and nbformat only:
the runner imports this for the Chinese gallery.
"""
import argparse
import ast
import copy
import difflib
import hashlib
import io
import json
import re
import sys
import tokenize
from pathlib import Path

import nbformat

from utils import REPO_ROOT, write_atomically

EN_DIR = REPO_ROOT / "notebooks"
ZH_DIR = EN_DIR / "zh"
CAPTIONS = "captions.json"
RECORD = "translation"
HAN_RANGE = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"  # CJK ideographs, the extensions too
HAN = re.compile(f"[{HAN_RANGE}]")
LATIN_WORD = re.compile(r"[A-Za-z]{2,}")
ENGLISH_WORDS = 4  # a paragraph with this many Latin words and no Chinese is English left over
# Text that is not prose: fenced code, display and inline math, inline code, HTML tags and
# entities, link targets and bare URLs. What is left is what a translator translates.
NOT_PROSE = [re.compile(p, re.S) for p in (
    r"```.*?```", r"\$\$.*?\$\$", r"(?<!\\)\$[^$\n]+\$", r"`[^`\n]*`", r"<[^>\n]+>",
    r"&[a-z]+;", r"\]\([^)\s]*\)", r"https?://\S+")]
FIELD = re.compile(r"\{([^{}]+)\}")
COMMENTED_CODE = re.compile(r"[A-Za-z_][\w.]*(\s*=|[.(\[])")
# What sync's report says about the cells it had to change, in this order ({} is their ids).
SYNC_NOTES = {
    "restored": ", English code restored in {}",
    "before": "; Chinese comments carried over to the unchanged lines of {} (each cell as it was "
              f"is kept in its metadata, {RECORD}.before): check them, then stamp",
    "uncommented": "; Chinese comments dropped in {}: the English cell has no comments now",
    "dropped": ", dropped {}"}


class TranslationError(Exception):
    """A request that cannot be done as asked (stamping English text, an unknown cell id)."""


def sha1(text):
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


# ----- comparing code, reading prose ----------------------------------------------------------

def _tokens(source):
    """The tokens of `source`; None when it does not tokenize (IPython syntax, say)."""
    try:
        return list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError):
        return None


def same_code(a, b):
    """Equal but for comments and blank lines (character for character if either does not
    tokenize)."""
    def code(tokens):
        return [(t.type, "" if t.type in (tokenize.NEWLINE, tokenize.DEDENT) else t.string)
                for t in tokens if t.type not in (tokenize.COMMENT, tokenize.NL)]
    ta, tb = _tokens(a), _tokens(b)
    return a == b if ta is None or tb is None else code(ta) == code(tb)


def comments(source):
    """Each comment's text without its '#' (only whole-line ones when it does not tokenize)."""
    tokens = _tokens(source)
    if tokens is None:
        return [line.strip()[1:].strip() for line in source.splitlines()
                if line.strip().startswith("#")]
    return [t.string[1:].strip() for t in tokens if t.type == tokenize.COMMENT]


def _is_code(text):
    """A commented-out statement (`# df.median()`) is code, not prose to translate."""
    if not COMMENTED_CODE.match(text):
        return False
    try:
        ast.parse(text)
        return True
    except (SyntaxError, ValueError):
        return False


def prose_comments(source):
    """The comments a translator translates: words, not code that was commented out."""
    return [c for c in comments(source)
            if HAN.search(c) or (LATIN_WORD.search(prose(c)) and not _is_code(c))]


def english_comments(source):
    """Comments still in English: a word and no Chinese."""
    return [c for c in prose_comments(source) if not HAN.search(c)]


def prose(text):
    for pattern in NOT_PROSE:
        text = pattern.sub(" ", text)
    return text


def english_left(text):
    """The first paragraph or list item with ENGLISH_WORDS Latin words and no Chinese, or ''."""
    for part in re.split(r"\n\s*\n|\n(?=\s*(?:[-*+]|\d+\.|#+)\s)", prose(text)):
        if not HAN.search(part) and len(LATIN_WORD.findall(part)) >= ENGLISH_WORDS:
            return " ".join(part.split())
    return ""


def markup_only(text):
    """Nothing to translate: no Latin word and no Chinese outside code, math and markup."""
    rest = prose(text)
    return not HAN.search(rest) and not LATIN_WORD.search(rest)


def is_chinese(text):
    """Prose a stamp may vouch for: Chinese with no English paragraph left, or markup only."""
    return markup_only(text) or (bool(HAN.search(prose(text))) and not english_left(text))


def han_share(texts):
    """Share of Chinese characters among Chinese characters and Latin letters in the prose."""
    rest = prose("\n\n".join(texts))
    han = len(HAN.findall(rest))
    latin = sum(len(w) for w in LATIN_WORD.findall(rest))
    return han / (han + latin) if han + latin else 1.0


def first_words(text, n=8):
    words = text.split()
    short = " ".join(words[:n])
    return short[:70] + ("..." if len(words) > n or len(short) > 70 else "")


# ----- figure captions ------------------------------------------------------------------------

def _template(node, source):
    """A caption argument as written: a string, or an f-string with its fields as {expr}."""
    if node is None:
        return ""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(str(value.value) if isinstance(value, ast.Constant)
                       else "{" + ast.get_source_segment(source, value.value) + "}"
                       for value in node.values)
    return None


def figure_captions(nb):
    """({figure name: English caption template} of the save_figure calls, problems)."""
    found, problems = {}, []
    for cell in nb.cells:
        if cell.cell_type != "code" or "save_figure" not in cell.source:
            continue
        source = "\n".join("" if line.lstrip().startswith(("%", "!")) else line
                           for line in cell.source.splitlines())  # magics do not parse
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            func = getattr(node, "func", None)
            if not isinstance(node, ast.Call) or getattr(func, "id", getattr(func, "attr", "")) \
                    != "save_figure":
                continue
            args = dict(zip(("fig", "name", "caption"), node.args))
            args.update({k.arg: k.value for k in node.keywords})
            name = args.get("name")
            if not (isinstance(name, ast.Constant) and isinstance(name.value, str)):
                problems.append(f"cell {cell.get('id')}: save_figure's name is not a string "
                                "literal, so its Chinese caption cannot be found")
                continue
            template = _template(args.get("caption"), source)
            if template is None:
                problems.append(f"cell {cell.get('id')}: the caption of {name.value!r} is not "
                                "a string or f-string in the call")
                continue
            found[name.value] = template
    return found, problems


def fill_caption(zh, template, shown):
    """`zh` with its {fields} as the English `shown` rendered them from `template`, or None."""
    parts = FIELD.split(template)  # text, field, text, ..., field, text
    pattern = "".join(re.escape(p) if i % 2 == 0 else "(.*?)" for i, p in enumerate(parts))
    match = re.fullmatch(pattern, shown, re.S)
    if match is None or not set(FIELD.findall(zh)) <= set(parts[1::2]):
        return None
    values = dict(zip(parts[1::2], match.groups()))
    return FIELD.sub(lambda m: values[m.group(1)], zh)


def written_caption(record):
    """The Chinese caption of a captions.json record, or '' when none is written."""
    zh = record.get("zh") if isinstance(record, dict) else None
    return zh if isinstance(zh, str) and zh.strip() else ""


def read_captions(zh_dir):
    """captions.json ({} when there is none): the one reader, the tool's and the gallery's."""
    path = Path(zh_dir) / CAPTIONS
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except UnicodeDecodeError as err:
        raise TranslationError(f"{path} is not UTF-8 (byte {err.start}); save it as UTF-8") \
            from None
    except ValueError as err:
        raise TranslationError(f"{path} is not valid JSON ({err}); fix it") from None
    if not isinstance(data, dict):
        raise TranslationError(f"{path} is not an object of notebooks; fix it")
    return data


class GalleryCaptions:
    """caption(stem, figures.json entry): the Chinese caption if stamped, else the English."""

    def __init__(self, zh_dir, log=None):
        self.zh_dir = Path(zh_dir)
        self.problem = ""
        try:
            self.captions = read_captions(zh_dir)
        except TranslationError as err:
            self.captions = {}
            self.problem = f"{err}; the gallery shows the English captions"
            (log or (lambda line: print(line, file=sys.stderr)))(self.problem)
        self.templates = {}

    def __call__(self, stem, entry):
        if stem not in self.templates:
            try:
                nb = nbformat.read(self.zh_dir / f"{stem}.ipynb", as_version=4)
                self.templates[stem] = figure_captions(nb)[0]
            except Exception:  # a notebook that is gone or broken: English captions
                self.templates[stem] = {}
        template = self.templates[stem].get(entry["name"])
        ours = self.captions.get(stem)
        record = ours.get(entry["name"]) if isinstance(ours, dict) else None
        if template is None or not written_caption(record) \
                or record.get("en_sha1") != sha1(template):
            return entry["caption"]
        return fill_caption(record["zh"], template, entry["caption"]) or entry["caption"]


# ----- the notebooks --------------------------------------------------------------------------

def read_notebook(path):
    """The notebook, its ids checked as saved (nbformat renames a duplicated id at random)."""
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8-sig"))
        _check_ids(path, raw)
        return nbformat.reads(json.dumps(raw), as_version=4)
    except TranslationError:
        raise
    except Exception as err:  # not JSON, not a notebook: several exception classes
        reason = str(err).strip().split("\n")[0][:200]
        raise TranslationError(f"{path} cannot be read as a notebook ({reason}); restore it "
                               "(git checkout) or, for a Chinese one, run sync") from None


def _check_ids(path, raw):
    cells = raw.get("cells") if isinstance(raw, dict) else None
    ids = [c.get("id") if isinstance(c, dict) else None for c in cells] \
        if isinstance(cells, list) else []
    missing = [str(n) for n, i in enumerate(ids, 1) if not i]
    if missing:
        raise TranslationError(
            f"{path}: cells {', '.join(missing[:8])}{' ...' if len(missing) > 8 else ''} have "
            "no id (nbformat 4.4, as Colab, older Jupyter and jupytext save notebooks), so they "
            "cannot be matched with the other edition; nothing was written: restore the file "
            "(git checkout) and redo the edit in JupyterLab, which keeps the ids")
    twice = sorted({str(i) for i in ids if ids.count(i) > 1})
    if twice:
        raise TranslationError(
            f"{path}: cell id {', '.join(twice)} is used by more than one cell (a cell copied "
            "and pasted); nothing was written: give the copy a new id in the file (or delete "
            "it and insert a new cell in JupyterLab)")


def _meta(cell):
    return {k: v for k, v in cell.metadata.items() if k != RECORD}


def _stems(en_dir, stems):
    """The notebooks named, or all in en_dir but dot-files (macOS `._x.ipynb`)."""
    if not Path(en_dir).is_dir():
        raise TranslationError(f"no folder {en_dir} (the English notebooks, --en-dir); "
                               "check the path")
    available = sorted(p.stem for p in Path(en_dir).glob("*.ipynb")
                       if not p.name.startswith(".") and p.is_file())
    if not available:
        raise TranslationError(f"no English notebook (*.ipynb) in {en_dir}; check --en-dir")
    unknown = [s for s in stems if s not in available]
    if unknown:
        raise TranslationError(f"no English notebook {', '.join(unknown)} in {en_dir}; choose "
                               f"from: {', '.join(available)}")
    return list(stems) or available


def _editions(en_dir, zh_dir, stem):
    """(English notebook, path of the Chinese one, Chinese notebook or None if there is none)."""
    zh_path = Path(zh_dir) / f"{stem}.ipynb"
    en = read_notebook(Path(en_dir) / f"{stem}.ipynb")
    return en, zh_path, read_notebook(zh_path) if zh_path.exists() else None


def cell_problems(en_cell, zh_cell):
    """What is wrong with one Chinese cell (None: there is none) against the English cell."""
    if zh_cell is None:
        return ["missing in the Chinese notebook"]
    if zh_cell.cell_type != en_cell.cell_type:
        return [f"is {zh_cell.cell_type}, the English cell is {en_cell.cell_type}"]
    problems = []
    if _meta(zh_cell) != _meta(en_cell):
        problems.append("metadata (tags, collapsed state...) differ from the English cell")
    if en_cell.cell_type == "code":
        if not same_code(en_cell.source, zh_cell.source):
            problems.append("code differs from the English cell beyond comments")
        if zh_cell.get("outputs") or zh_cell.get("execution_count") is not None:
            problems.append("stored with outputs; clear them")
        return problems + comment_problems(en_cell, zh_cell)
    if en_cell.cell_type != "markdown":
        return problems
    record = zh_cell.metadata.get(RECORD)
    if not isinstance(record, dict) or "en_sha1" not in record:
        problems.append("English text, to translate" if zh_cell.source == en_cell.source
                        else "translated but not stamped")
    elif record["en_sha1"] != sha1(en_cell.source):
        problems.append("the English cell changed since it was translated")
    if isinstance(record, dict) and not is_chinese(zh_cell.source):
        left = english_left(zh_cell.source)
        problems.append(f"English left: {first_words(left)!r}" if left else "no Chinese text")
    return problems


def comment_problems(en_cell, zh_cell):
    """What a translator must do about one Chinese code cell's comments."""
    en_words, zh_words = prose_comments(en_cell.source), prose_comments(zh_cell.source)
    if not en_words and not zh_words:
        return []
    record = zh_cell.metadata.get(RECORD)
    record = record if isinstance(record, dict) else {}
    left = english_comments(zh_cell.source)
    problems = []
    if not record.get("en_sha1"):
        problems.append("comments translated but not stamped"
                        if any(HAN.search(c) for c in zh_words)
                        else "English comments, to translate")
    elif record.get("before"):
        problems.append("new English code came in: sync carried the Chinese comments over to "
                        "the lines whose code is the same (the cell as it was is in its "
                        f"metadata, {RECORD}.before); check them, translate what is English, "
                        "then stamp")
    elif record["en_sha1"] != sha1(en_cell.source):
        problems.append("the English cell changed since its comments were translated")
    if left and problems[:1] != ["English comments, to translate"]:
        problems.append(f"English comment left: {first_words(left[0])!r}")
    return problems


def caption_problems(stem, en_nb, captions):
    templates, problems = figure_captions(en_nb)
    problems = [f"{stem}: {p}" for p in problems]
    ours = captions.get(stem, {})
    if not isinstance(ours, dict):
        return problems + [f"{stem}: {CAPTIONS} entry is not an object of figures"]
    for name, template in templates.items():
        record, zh = ours.get(name), written_caption(ours.get(name))
        where = f"{stem} figure {name}"
        if not zh:
            problems.append(f"{where}: no Chinese caption in {CAPTIONS} | {first_words(template)}")
            continue
        if record.get("en_sha1") != sha1(template):
            problems.append(f"{where}: the English caption changed since it was translated | "
                            f"{first_words(template)}")
        if not HAN.search(zh) or english_left(zh):
            problems.append(f"{where}: caption is not Chinese | {first_words(zh)}")
        unknown = [f for f in FIELD.findall(zh) if f not in FIELD.findall(template)]
        if unknown:
            problems.append(f"{where}: caption uses fields {unknown} that the English caption "
                            f"does not have")
    for name in sorted(set(ours) - set(templates)):
        problems.append(f"{stem} figure {name}: in {CAPTIONS} but no code cell saves "
                        "it; remove it")
    return problems


def status(en_dir=EN_DIR, zh_dir=ZH_DIR, stems=()):
    """One line per problem: notebook, cell id, what is wrong, the English cell's first words."""
    lines = []
    captions = read_captions(zh_dir)
    for stem in _stems(en_dir, stems):
        en, zh_path, zh = _editions(en_dir, zh_dir, stem)
        if zh is None:
            lines.append(f"{stem}: no Chinese notebook {zh_path}; run "
                         "`python -m utils.course.translation sync`")
            continue
        en_ids = [c.get("id") for c in en.cells]
        zh_cells = {c.get("id"): c for c in zh.cells}
        for cell in en.cells:
            for problem in cell_problems(cell, zh_cells.get(cell.get("id"))):
                lines.append(f"{stem} {cell.get('id')}: {problem} | {first_words(cell.source)}")
        for cell in zh.cells:
            if cell.get("id") not in en_ids:
                lines.append(f"{stem} {cell.get('id')}: not in the English notebook | "
                             f"{first_words(cell.source)}")
        common = [i for i in en_ids if i in zh_cells]
        if [c.get("id") for c in zh.cells if c.get("id") in en_ids] != common:
            lines.append(f"{stem}: cells are in another order than in the English notebook")
        if zh.metadata.get("kernelspec") != en.metadata.get("kernelspec"):
            lines.append(f"{stem}: kernelspec differs from the English notebook")
        lines += caption_problems(stem, en, captions)
    return lines


# ----- sync: the English cells in, the Chinese text kept --------------------------------------

def _comment_lines(source):
    """[(line without its comment, comment or None, its column)]; None if it does not tokenize."""
    tokens = _tokens(source)
    if tokens is None:
        return None
    found = {t.start[0]: t for t in tokens if t.type == tokenize.COMMENT}
    rows = []
    for n, line in enumerate(source.split("\n"), 1):
        token = found.get(n)
        col = token.start[1] if token else len(line)
        rows.append((line[:col].rstrip() or line[:col], token.string if token else None, col))
    return rows


def carry_comments(old_zh, new_en):
    """new_en with old_zh's Chinese comments on the lines whose code did not change."""
    old, new = _comment_lines(old_zh), _comment_lines(new_en)
    if old is None or new is None:
        return new_en
    lines = new_en.split("\n")
    matcher = difflib.SequenceMatcher(None, [r[0] for r in old], [r[0] for r in new],
                                      autojunk=False)
    for block in matcher.get_matching_blocks():
        for k in range(block.size):
            (_, zh_comment, _), (_, en_comment, col) = old[block.a + k], new[block.b + k]
            if zh_comment and en_comment and HAN.search(zh_comment):
                n = block.b + k
                lines[n] = lines[n][:col] + zh_comment
    carried = "\n".join(lines)
    return carried if same_code(carried, new_en) else new_en


def _code_cell(en_cell, zh_cell, cell, notes):
    """Give `cell` (a copy of the English one) what the Chinese cell had that must not be lost."""
    record = zh_cell.metadata.get(RECORD)
    translated = any(HAN.search(c) for c in comments(zh_cell.source))
    if same_code(en_cell.source, zh_cell.source):
        if translated or record:  # the Chinese comments stay; a record says if they are stale
            cell.source = zh_cell.source
            if record is not None:
                cell.metadata[RECORD] = record
        return
    notes["restored"].append(en_cell.get("id"))
    record = dict(record) if isinstance(record, dict) else {}
    if not prose_comments(en_cell.source):
        if translated or record.get("before"):
            notes["uncommented"].append(en_cell.get("id"))
        return
    if translated:
        cell.source = carry_comments(zh_cell.source, en_cell.source)
        record.setdefault("before", zh_cell.source)  # the last translation a person wrote
    if record.get("before"):
        record["zh_sha1"] = sha1(cell.source)  # what sync wrote: stamp --all-current waits
        notes["before"].append(en_cell.get("id"))  # for a person to look at it
    if record:
        cell.metadata[RECORD] = record


def sync(en_dir=EN_DIR, zh_dir=ZH_DIR, stems=()):
    """The English cells in, every Chinese text kept; all checked first, then all written."""
    captions = read_captions(zh_dir)
    report, files = [], {}
    for stem in _stems(en_dir, stems):
        en, zh_path, old_zh = _editions(en_dir, zh_dir, stem)
        old = {c.get("id"): c for c in old_zh.cells} if old_zh else {}
        ours = caption_entries(captions, stem, zh_dir)
        zh, new, kept = copy.deepcopy(en), 0, 0
        notes = {note: [] for note in SYNC_NOTES}
        for en_cell, cell in zip(en.cells, zh.cells):
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
            zh_cell = old.get(en_cell.get("id"))
            if zh_cell is not None and zh_cell.cell_type == en_cell.cell_type:
                if en_cell.cell_type == "code":
                    _code_cell(en_cell, zh_cell, cell, notes)
                elif en_cell.cell_type == "markdown" and (
                        RECORD in zh_cell.metadata or HAN.search(prose(zh_cell.source))):
                    cell.source = zh_cell.source
                    if RECORD in zh_cell.metadata:
                        cell.metadata[RECORD] = zh_cell.metadata[RECORD]
                    kept += 1
            elif en_cell.cell_type == "markdown":
                new += 1
        notes["dropped"] = [i for i in old if i not in {c.get("id") for c in en.cells}]
        files[zh_path] = nbformat.writes(zh) + "\n"
        templates = figure_captions(en)[0]
        captions[stem] = {name: {"zh": "", **ours.get(name, {}), "en": template}
                          for name, template in templates.items()}
        notes["dropped"] += [f"figure {name}" for name in ours if name not in templates]
        report.append(f"{stem}: {'updated' if old_zh else 'created'} {zh_path}: {kept} markdown "
                      f"cells kept, {new} new in English" + "".join(
                          SYNC_NOTES[note].format(", ".join(ids))
                          for note, ids in notes.items() if ids))
    files[Path(zh_dir) / CAPTIONS] = captions_text(captions)
    write_all(zh_dir, files)
    return report


# ----- stamp: what a translation renders ------------------------------------------------------

def _needs_stamp(record, en_text, zh_text, left, label):
    """For --all-current: no record, or edited since it; stale but unedited goes to `left`."""
    if not record.get("en_sha1"):
        return True
    edited = record.get("zh_sha1") not in (None, sha1(zh_text))
    if not edited and record["en_sha1"] != sha1(en_text):
        left.append(label)  # stale, and nobody edited the Chinese
    return edited  # edited and current: the stamp refreshes zh_sha1


def _stamp_state(en_cell, cell):
    """(translatable, why the Chinese cell is not Chinese yet or '')."""
    if cell.cell_type == "code":
        translatable = bool(prose_comments(en_cell.source) or prose_comments(cell.source))
        if not same_code(en_cell.source, cell.source):
            return translatable, ("its code differs from the English cell; run sync, then "
                                  "carry the Chinese comments over")
        left = english_comments(cell.source)
        return translatable, (f"a comment is still English: {first_words(left[0])!r}"
                              if left else "")
    if not is_chinese(cell.source) or (cell.source == en_cell.source
                                       and not markup_only(cell.source)):
        left_text = english_left(cell.source) or cell.source
        return True, f"its text is not Chinese yet: {first_words(left_text)!r}"
    return True, ""


def stamp(stem, ids=(), en_dir=EN_DIR, zh_dir=ZH_DIR, all_current=False):
    """Record the English hash on Chinese cells and captions; never on text still English."""
    en, zh_path, zh = _editions(en_dir, zh_dir, stem)
    if zh is None:
        raise TranslationError(f"no Chinese notebook {zh_path}; run "
                               "`python -m utils.course.translation sync` first")
    en_cells = {c.get("id"): c for c in en.cells}
    templates = figure_captions(en)[0]
    captions = read_captions(zh_dir)
    ours = caption_entries(captions, stem, zh_dir)
    unknown = [i for i in ids if i not in en_cells and i not in templates]
    if unknown:
        raise TranslationError(f"{stem}: no cell or figure {', '.join(unknown)} in the English "
                               "notebook")
    done, left = [], []
    for cell in zh.cells:
        en_cell = en_cells.get(cell.get("id"))
        if en_cell is None or cell.cell_type not in ("markdown", "code") \
                or cell.cell_type != en_cell.cell_type:
            if cell.get("id") in ids:
                raise TranslationError(f"{stem} {cell.get('id')}: only markdown and code cells "
                                       "of the English cell's type carry a translation record")
            continue
        record = cell.metadata.get(RECORD)
        record = record if isinstance(record, dict) else {}
        translatable, untranslated = _stamp_state(en_cell, cell)
        if all_current:
            if not translatable or untranslated or not _needs_stamp(
                    record, en_cell.source, cell.source, left, cell.get("id")):
                continue
        elif cell.get("id") not in ids:
            continue
        elif untranslated:
            raise TranslationError(f"{stem} {cell.get('id')}: not stamped, {untranslated}")
        cell.metadata[RECORD] = {"en_sha1": sha1(en_cell.source), "zh_sha1": sha1(cell.source)}
        done.append(cell.get("id"))
    for name, template in templates.items():
        record, zh_text = ours.get(name), written_caption(ours.get(name))
        if not (all_current or name in ids):
            continue
        if not zh_text:
            untranslated = f"write its \"zh\" caption in {Path(zh_dir) / CAPTIONS} first"
        elif not HAN.search(zh_text) or english_left(zh_text):
            untranslated = f"not stamped, its caption is not Chinese yet: {first_words(zh_text)!r}"
        elif all_current and not _needs_stamp(record, template, zh_text, left, name):
            continue
        else:
            ours[name] = {**record, "en_sha1": sha1(template), "zh_sha1": sha1(zh_text)}
            done.append(name)
            continue
        if name in ids:
            raise TranslationError(f"{stem} figure {name}: {untranslated}")
    if done:
        captions[stem] = ours
        write_all(zh_dir, {zh_path: nbformat.writes(zh) + "\n",
                           Path(zh_dir) / CAPTIONS: captions_text(captions)})
    return done, left


# ----- captions.json and writing --------------------------------------------------------------

def caption_entries(captions, stem, zh_dir):
    """captions.json's {figure name: record} for `stem`; refused rather than replaced."""
    ours = captions.get(stem, {})
    where = Path(zh_dir) / CAPTIONS
    if not isinstance(ours, dict):
        raise TranslationError(f"{where}: the entry of {stem} is a {type(ours).__name__}, not "
                               "an object of figures ({\"figure name\": {\"zh\": ...}}); fix "
                               "it by hand, nothing was written")
    for name, record in ours.items():
        if not isinstance(record, dict):
            raise TranslationError(f"{where}: {stem} figure {name} is a "
                                   f"{type(record).__name__}, not an object; write it as "
                                   "{\"zh\": \"...\"}, nothing was written")
    return dict(ours)


def captions_text(captions):
    """Sorted keys, one key a line: translators of different notebooks edit different lines."""
    return json.dumps(captions, ensure_ascii=False, indent=1, sort_keys=True) + "\n"


def write_all(zh_dir, files):
    """Write {path: text} all or none: every temporary file is written before the first rename."""
    def write_from(paths):
        def write(tmp):
            tmp.write_text(files[paths[0]], encoding="utf-8")
            write_from(paths[1:])  # the next files' temporary copies, before this rename
        if paths:
            write_atomically(paths[0], write)
    try:
        Path(zh_dir).mkdir(parents=True, exist_ok=True)
        write_from(list(files))
    except OSError as err:
        raise TranslationError(f"cannot write in {zh_dir} ({err.strerror or err}); "
                               "nothing was changed: make the folder writable (or free "
                               "space) and run it again") from None


# ----- the command line -----------------------------------------------------------------------

class _Parser(argparse.ArgumentParser):
    """Usage errors in one line (argparse prints its usage block and the error on three)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def main(argv=None):
    parser = _Parser(prog="python -m utils.course.translation",
                     description=__doc__.split("\n")[0],
                     epilog="File formats, what each command does, every refusal: "
                            "docs/translation.md")
    parser.add_argument("--en-dir", type=Path, default=EN_DIR, help="the English notebooks")
    parser.add_argument("--zh-dir", type=Path, default=ZH_DIR, help="the Chinese notebooks")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, text in (("status", "list what a translator must do (exit 1 if anything)"),
                       ("sync", "create or update the Chinese notebooks from the English")):
        sub.add_parser(name, help=text).add_argument("stems", nargs="*", metavar="STEM")
    stamp_parser = sub.add_parser("stamp", help="record the English text a cell now renders")
    stamp_parser.add_argument("--all-current", action="store_true",
                              help="every Chinese cell and caption edited since its stamp")
    stamp_parser.add_argument("args", nargs="*", metavar="STEM [ID...]",
                              help="a notebook and its cell ids or figure names; with "
                                   "--all-current, notebooks (default: all)")
    args = parser.parse_args(argv)
    try:
        if args.command == "status":
            lines = status(args.en_dir, args.zh_dir, args.stems)
            for line in lines:
                print(line)
            for stem in _stems(args.en_dir, args.stems):
                path = args.zh_dir / f"{stem}.ipynb"
                if path.exists():
                    cells = read_notebook(path).cells
                    texts = [c.source for c in cells if c.cell_type == "markdown"]
                    print(f"{stem}: {len(HAN.findall(prose(chr(10).join(texts))))} Chinese "
                          f"characters in its prose ({han_share(texts):.0%} of the prose "
                          "letters)", file=sys.stderr)
            print(f"{len(lines)} to do" if lines else "the Chinese edition is up to date",
                  file=sys.stderr)
            return 1 if lines else 0
        if args.command == "sync":
            print("\n".join(sync(args.en_dir, args.zh_dir, args.stems)))  # a line per notebook
            return 0
        if not args.all_current and len(args.args) < 2:
            parser.error("stamp needs STEM and at least one cell id or figure name, "
                         "or --all-current")
        for stem in _stems(args.en_dir, args.args if args.all_current else args.args[:1]):
            done, left = stamp(stem, () if args.all_current else args.args[1:], args.en_dir,
                               args.zh_dir, args.all_current)
            print(f"{stem}: stamped {', '.join(done) or 'nothing'}")
            if left:
                print(f"{stem}: not stamped, the English changed but the Chinese did not: "
                      f"{', '.join(left)}; update them, or stamp them by id if the English "
                      "change needs no Chinese change")
        return 0
    except TranslationError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except OSError as err:  # a file that vanished or cannot be read mid-run
        print(f"error: {err.filename or ''}: {err.strerror or err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
