"""Lets MXNet 1.9.1 import on the numpy of Python 3.12 and 3.13, which removed names it uses.

`install()` (run at every start of the venv's Python by the .pth venv_link writes) only adds an
import hook; the names are set when `mxnet` is imported, never on 3.8-3.11. Which names and why:
docs/install-and-pythons.md. Standard library only: it runs before anything else is importable.
"""
import sys
import types
import warnings

ENABLED_FROM = (3, 12)  # numpy 1.23.5 (Python 3.8-3.11) has every name MXNet uses


def _removed_financial(name):
    def removed(*args, **kwargs):
        raise NotImplementedError(
            "numpy.%s was removed from numpy (1.20); use the numpy-financial package" % name)
    removed.__name__ = name
    return removed


def missing_names(np):
    """{name: value} for every name MXNet 1.9.1 uses that this numpy no longer has."""
    inf, nan = float("inf"), float("nan")
    wanted = {
        "bool": bool,  # removed in numpy 1.24; MXNet uses it at import and in mx.np
        # removed in numpy 2.0
        "PZERO": 0.0, "NZERO": -0.0, "PINF": inf, "NINF": -inf, "NAN": nan, "NaN": nan, "Inf": inf,
        "alltrue": getattr(np, "all", None), "sometrue": getattr(np, "any", None),
        "product": getattr(np, "prod", None), "round_": getattr(np, "round", None),
        "msort": lambda a: np.sort(a, axis=0), "in1d": getattr(np, "isin", None),
        "trapz": getattr(np, "trapezoid", None),
    }
    # removed in numpy 1.20, but only numpy 2 fails MXNet's lookup of them in mx.np: stubs
    # that raise and say why
    if not str(getattr(np, "__version__", "2")).startswith("1."):
        for name in ("fv", "ipmt", "irr", "mirr", "nper", "npv", "pmt", "ppmt", "pv", "rate"):
            wanted[name] = _removed_financial(name)
    # `in vars`, not hasattr: numpy's __getattr__ warns or raises for these
    return {name: value for name, value in wanted.items()
            if value is not None and name not in vars(np)}


def apply():
    """Set the missing names on numpy (and numpy.compat.basestring, used by mx.np.pad)."""
    import numpy as np

    for name, value in missing_names(np).items():
        setattr(np, name, value)
    try:
        with warnings.catch_warnings():  # deprecated since 1.26, still there in 2.2
            warnings.simplefilter("ignore", DeprecationWarning)
            import numpy.compat as compat
    except ImportError:
        compat = sys.modules["numpy.compat"] = np.compat = types.ModuleType("numpy.compat")
    if not hasattr(compat, "basestring"):
        compat.basestring = str


class MXNetImportHook(object):
    """A meta path finder that only watches for `mxnet`; it finds nothing itself."""

    def find_spec(self, name, path=None, target=None):
        if name == "mxnet" or name.startswith("mxnet."):
            uninstall()
            apply()
        return None  # the normal finders import mxnet


def installed():
    return any(isinstance(finder, MXNetImportHook) for finder in sys.meta_path)


def install(version_info=None):
    """Arm the hook (once) on Python 3.12+; returns whether it is armed."""
    if tuple((version_info or sys.version_info)[:2]) < ENABLED_FROM:
        return False
    if "mxnet" in sys.modules:  # too late for a hook; set the names for the rest of the session
        apply()
        return False
    if not installed():
        sys.meta_path.insert(0, MXNetImportHook())
    return True


def uninstall():
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, MXNetImportHook)]
