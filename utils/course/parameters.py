"""The `-p NAME VALUE` parameters: each read as the type of its default in the notebook's
`parameters` cell (papermill's cell), checked before anything runs, and injected papermill's way.

papermill guesses a value's type from its text; reading it as the default's type instead turns a
typo (`-p RUN_SEARCH flase`) into a one-line refusal rather than a silent string.
"""
import ast
import math
from pathlib import Path

from papermill.inspection import inspect_notebook
from papermill.parameterize import parameterize_notebook

from utils.course.exports import RunnerError


def parse_value(text, or_text=True):
    """The Python literal in `text`; else the text itself (a `-p` value for a parameter whose
    default is None) or, with or_text=False, None (which typed_value refuses)."""
    try:
        return ast.literal_eval(text.strip())
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return text if or_text else None


BOOL_WORDS = {"true": True, "false": False, "yes": True, "no": False, "1": True, "0": False}


def typed_value(value, default, annotation=None):
    """`value` as the type of the parameter's default (or its `NAME: type = ...` annotation).

    Text (from `-p`) is read as that type; other values must already be of it. Returns
    (value, "") or (None, what to give instead).
    """
    kind = annotation if annotation in ("bool", "int", "float", "str", "list", "tuple",
                                        "dict") else type(default).__name__
    text = value if isinstance(value, str) else None
    if kind == "NoneType":
        return (parse_value(text) if text is not None else value), ""
    if kind == "str":
        return (text, "") if text is not None else (None, "text")
    if kind == "bool":
        if text is not None:
            value = BOOL_WORDS.get(text.strip().lower(), value)
        return (value, "") if isinstance(value, bool) else (None, "True or False")
    if text is not None:
        value = parse_value(text, or_text=False)
    if kind in ("int", "float"):
        real = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not real or not math.isfinite(value):
            return None, f"a finite number{' (whole)' if kind == 'int' else ''}, e.g. {default}"
        if kind == "float":
            return float(value), ""
        if isinstance(value, float) and not value.is_integer():
            return None, (f"a whole number like its default {default} (to allow fractions, "
                          f"write the default as {float(default)} in the `parameters` cell)")
        return int(value), ""
    expected = {"list": list, "tuple": tuple, "dict": dict}.get(kind)
    if expected is not None and isinstance(value, expected):
        return value, ""
    return None, f"a {kind} literal like its default {default!r}"


def split_parameters(notebooks, parameters):
    """{notebook: its parameters, each read as the type of its default in the `parameters`
    cell}; a name no notebook declares, or a value its type cannot take, is an error."""
    declared = {nb: inspect_notebook(str(nb)) for nb in notebooks}
    known = set().union(*declared.values())
    unknown = set(parameters) - known
    if unknown:
        raise RunnerError(f"no selected notebook declares {', '.join(sorted(unknown))} in its "
                          f"`parameters` cell; declared: {', '.join(sorted(known)) or 'none'}")
    split = {}
    for nb, names in declared.items():
        split[nb] = {}
        for name in [p for p in parameters if p in names]:  # in the order given
            source = names[name]["default"]
            default = parse_value(source, or_text=False) if source.strip() != "None" else None
            value, wanted = typed_value(parameters[name], default,
                                        names[name].get("inferred_type_name"))
            if wanted:
                raise RunnerError(f"-p {name} {parameters[name]!r}: {Path(nb).stem} has "
                                  f"{name} = {source.strip()} in its `parameters` cell, so give "
                                  f"{wanted}")
            if type(value) is type(default) and value == default:
                continue  # the default: nothing changed (run.json and the gallery say so)
            split[nb][name] = value
    return split


def parameterized(nb, parameters):
    """`nb` with a papermill cell setting `parameters` after its `parameters` cell."""
    if not parameters:
        return nb
    nb.metadata.setdefault("papermill", {})  # what papermill's own loader adds
    for cell in nb.cells:
        cell.metadata.setdefault("tags", [])
    return parameterize_notebook(nb, parameters, kernel_name="python3", language="python")
