"""The seed sweep (tests/sweep.py) on a tiny notebook: it finds the failing check at the
seeds where it fails, goes on past it, and tells a stopped run apart."""
import nbformat
import pytest

import sweep  # tests/sweep.py, beside this file


def test_seed_lists_are_read_and_bad_ones_refused():
    assert sweep.parse_seeds("0-3,7,2") == [0, 1, 2, 3, 7]
    assert sweep.parse_seeds("5") == [5]
    for bad in ("", "3-1", "a", "-2", "1-"):
        with pytest.raises(ValueError):
            sweep.parse_seeds(bad)


def test_values_multiply_the_runs():
    runs = sweep.settings([0, 1], {"LR": ["1", "2"], "K": ["3"]})
    assert [sweep.label(r) for r in runs] == ["SEED=0 LR=1 K=3", "SEED=1 LR=1 K=3",
                                              "SEED=0 LR=2 K=3", "SEED=1 LR=2 K=3"]


def _notebook(folder):
    cell = nbformat.v4.new_code_cell
    nb = nbformat.v4.new_notebook(cells=[
        cell("SEED = 0\nLIMIT = 10", metadata={"tags": ["parameters"]}),
        cell("assert SEED % 2 == 0, f'odd seed {SEED}'", metadata={"tags": ["check"]}),
        cell("assert SEED < LIMIT, 'over the limit'", metadata={"tags": ["check"]}),
        cell("if SEED == 3:\n    raise RuntimeError('not a check')"),
    ], metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                "language": "python"}})
    path = folder / "tiny.ipynb"
    nbformat.write(nb, path)
    return path


def test_a_sweep_tabulates_every_failing_check(tmp_path, capsys):
    path = _notebook(tmp_path)
    assert sweep.main([str(path), "--seeds", "0,3", "-p", "LIMIT", "10", "3",
                       "--jobs", "2"]) == 1
    out = capsys.readouterr().out
    assert "SEED=0 LIMIT=10: ok" in out and "SEED=0 LIMIT=3: ok" in out
    assert "SEED=3 LIMIT=10: FAILED" in out and "AssertionError: odd seed 3" in out
    # the second check still ran after the first had failed, and the plain cell stopped the run
    assert "SEED=3 LIMIT=3: FAILED" in out and "over the limit" in out
    assert "stopped at cell 4 raised RuntimeError" in out
    assert "4 runs, 2 passed every check" in out
    assert "2 of 4" in out  # cell 2 failed at both seed-3 runs


def test_bad_arguments_run_nothing(tmp_path, capsys):
    path = _notebook(tmp_path)
    assert sweep.main([str(path), "--seeds", "3-1"]) == 2
    assert sweep.main([str(path), "-p", "NO_SUCH", "1"]) == 2
    assert sweep.main([str(path), "-p", "LIMIT", "ten"]) == 2
    assert "error:" in capsys.readouterr().err
