"""The Chinese feedback lines of the graded tests, kept beside them as captions are.

notebooks/zh/feedback.json maps each English `failure_message` of notebooks/grading/<stem>/*.py
to its Chinese line ({stem: {English: Chinese}}; docs/instructors.md). `status` names every
message without a Chinese line and every stale entry; `sync` adds the missing ones empty and
drops the stale ones.

    python -m utils.course.feedback status|sync
"""
import ast
import json
import sys

from utils import write_atomically
from utils.course.student import GRADING, NOTEBOOKS, graded_stems as stems

FEEDBACK = NOTEBOOKS / "zh" / "feedback.json"


def messages(stem):
    """The English failure messages of one notebook's tests, in file order."""
    found = []
    for path in sorted((GRADING / stem).glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.keyword) and node.arg == "failure_message":
                found.append(ast.literal_eval(node.value))
    return found


def read():
    try:
        return json.loads(FEEDBACK.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}


def chinese():
    """{English failure message: its Chinese line} of every notebook, for grading; {} when
    feedback.json is unreadable (the English lines are shown then)."""
    try:
        entries = read()
    except (OSError, ValueError):
        return {}
    return {en: zh for per_nb in entries.values() for en, zh in per_nb.items() if zh}


def problems(entries=None):
    entries = read() if entries is None else entries
    lines = []
    for stem in stems():
        ours, theirs = entries.get(stem, {}), messages(stem)
        lines += [f"{stem}: no Chinese line for {m!r}" for m in theirs if not ours.get(m)]
        lines += [f"{stem}: stale entry {m!r} (no test says it)" for m in ours if m not in theirs]
    lines += [f"{stem}: stale notebook entry" for stem in entries if stem not in stems()]
    return lines


def sync():
    entries = read()
    synced = {stem: {m: entries.get(stem, {}).get(m, "") for m in messages(stem)}
              for stem in stems()}
    text = json.dumps(synced, ensure_ascii=False, indent=1) + "\n"
    write_atomically(FEEDBACK, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    return problems(synced)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv not in (["status"], ["sync"]):
        print(__doc__.strip().splitlines()[-1].strip(), file=sys.stderr)
        return 2
    found = sync() if argv == ["sync"] else problems()
    print("\n".join(found) or "feedback.json: every feedback line has its Chinese line")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
