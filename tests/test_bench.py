"""utils.course.bench: the CLI runs on a tiny configuration and reports both loops' identical CV.

The benchmark is a tool, not a timed test: nothing here asserts a speed-up, only that the
report is complete and that the two loops agree."""
import json
import re
import subprocess
import sys

import numpy as np
import pytest

from conftest import REPO_ROOT
from utils.course import bench

ROUND = re.compile(r"^round (\d+): reference (\S+) s, project (\S+) s, numpy floor (\S+) s; "
                   r"ratio (\S+)x, project / floor (\S+)x$")


def run_bench(*args):
    return subprocess.run([sys.executable, "-m", "utils.course.bench", *args], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=300)


def test_kfold_cli_on_a_tiny_configuration(tmp_path):
    summary_file = tmp_path / "bench.json"
    result = run_bench("kfold", "--synthetic", "--epochs", "2", "--folds", "3", "--rounds", "3",
                       "--batch-size", "16", "--lr", "0.5", "--json", str(summary_file))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[0].startswith("data: synthetic 200 rows")
    rounds = [ROUND.match(line) for line in lines[1:4]]
    assert all(rounds), lines
    assert [int(m.group(1)) for m in rounds] == [1, 2, 3]
    assert re.match(r"^median ratio \S+x \(spread \S+x \.\. \S+x over 3 rounds\)$", lines[4])
    assert lines[5].startswith("median project / numpy floor ")
    assert lines[6].startswith("reference CV: train log rmse ")
    assert lines[7].startswith("project   CV: train log rmse ")
    diff = re.match(r"^max abs difference over all per-epoch scores: (\S+) ", lines[8])
    assert diff and float(diff.group(1)) <= 1e-5

    summary = json.loads(summary_file.read_text())
    assert len(summary["times"]) == len(summary["ratios"]) == 3
    for m, (t_ref, t_new, t_np), ratio in zip(rounds, summary["times"], summary["ratios"]):
        assert ratio == pytest.approx(t_ref / t_new)
        assert m.group(2, 3, 4, 5, 6) == (f"{t_ref:.3f}", f"{t_new:.3f}", f"{t_np:.3f}",
                                          f"{ratio:.2f}", f"{t_new / t_np:.2f}")
    assert summary["median_ratio"] == pytest.approx(np.median(summary["ratios"]))
    assert summary["max_abs_difference"] <= 1e-5
    np.testing.assert_allclose(summary["project_cv"], summary["reference_cv"], atol=1e-5)
    assert summary["config"]["num_epochs"] == 2 and summary["config"]["k"] == 3


def test_kfold_cli_rejects_a_bad_configuration(capsys):
    with pytest.raises(SystemExit) as exit_info:
        bench.main(["kfold", "--synthetic", "--folds", "1"])
    assert exit_info.value.code == 2 and "--folds >= 2" in capsys.readouterr().err


@pytest.mark.parametrize("args, words", [
    (["--data-dir", "{tmp}/no-such-folder"], "no-such-folder is not a folder"),
    (["--synthetic", "--lr", "1e30"], "training diverged"),
    (["--synthetic", "--folds", "500"], "--folds 500 needs at least that many rows"),
    (["--synthetic", "--json", "{tmp}"], "could not write"),
])
def test_kfold_cli_ends_bad_input_with_one_error_line(tmp_path, capsys, args, words):
    """Missing CSVs, a diverging --lr, too many folds, an unwritable --json: no traceback."""
    args = [a.format(tmp=tmp_path) for a in args]
    assert bench.main(["kfold", "--epochs", "1", "--rounds", "1", "--folds", "2", *args]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and words in err, err


def test_max_abs_difference_and_cv_summary():
    a = [([3.0, 2.0], [4.0, 2.5]), ([3.0, 1.0], [4.0, 1.5])]
    b = [([3.0, 2.0], [4.0, 2.5]), ([3.0, 1.0], [4.0, 1.25])]
    assert bench.max_abs_difference(a, b) == 0.25
    assert bench.cv_summary(a) == (1.5, 2.0)


def test_every_option_says_what_it_does(capsys):
    with pytest.raises(SystemExit):
        bench.main(["kfold", "--help"])
    text = capsys.readouterr().out
    options = re.findall(r"^  (--[a-z-]+)", text, flags=re.M)
    assert len(options) == 12
    for option in options:  # help text on the option's line or the next one
        block = text.split(f"  {option}", 1)[1].split("\n  --", 1)[0]
        words = re.sub(r"^\s*[A-Z_{},]*", "", block.split("\n", 1)[0]) + block
        assert len(re.findall(r"[a-z]{3,}", words)) >= 2, (option, block)
