"""Test tooling: run one notebook under many seeds and settings, on all cores, and tabulate the
failed checks (the claims a notebook makes, not its code, are what this tests).

    python tests/sweep.py 01_numerical_stability --seeds 0-39
    python tests/sweep.py 02_kaggle_house_prices --seeds 0-11 -p LEARNING_RATE 1 10

A claim must hold for every seed and setting a learner can pick in a `parameters` cell; this
finds where one does not. What a run is, the table and the exit codes: docs/tests-and-ci.md.
"""
import argparse
import concurrent.futures
import itertools
import multiprocessing
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from utils.course.exports import EXPORTS_ENV, RunnerError
from utils.course.languages import DEFAULT as DEFAULT_LANG, EDITIONS
from utils.course.notebook_html import CHECK_TAG
from utils.course.parameters import parameterized, split_parameters
from utils.course.run import (DEFAULT_CELL_TIMEOUT, REPO_ROOT, NotebookFailed, cell_number,
                              execute, find_notebooks, first_line, load_notebook)

# nbclient goes on after an error in a cell carrying this tag (the runner's own meaning)
CONTINUE_TAG = "raises-exception"


def parse_seeds(text):
    """'0-39', '3', '0,5,9' or '0-3,10' -> a sorted list of distinct ints (ValueError if not)."""
    seeds = set()
    for part in text.split(","):
        part = part.strip()
        low, dash, high = part.partition("-")
        if not low.strip().isdigit() or (dash and not high.strip().isdigit()):
            raise ValueError(f"seeds {text!r}: give whole numbers >= 0 as 0-39, 3 or 0,5,9")
        low, high = int(low), int(high) if dash else int(low)
        if high < low:
            raise ValueError(f"seeds {text!r}: {low}-{high} is empty; write the smaller first")
        seeds.update(range(low, high + 1))
    return sorted(seeds)


def settings(seeds, values):
    """Every run: one seed times one value per name ({name: [values]}, given order kept)."""
    names = list(values)
    return [{"SEED": str(seed), **dict(zip(names, combo))}
            for combo in itertools.product(*(values[n] for n in names)) for seed in seeds]


def label(setting):
    return " ".join(f"{name}={value}" for name, value in setting.items())


@dataclass
class Outcome:
    setting: dict
    seconds: float = 0.0
    failed: list = field(default_factory=list)  # [(cell number, cell id, first error line)]
    stopped: str = ""  # a non-check cell failed: the run ended there

    @property
    def ok(self):
        return not self.failed and not self.stopped

    def line(self):
        if self.ok:
            return f"{label(self.setting)}: ok ({self.seconds:.0f} s)"
        parts = [f"check cell {n} ({cid}) {error}" for n, cid, error in self.failed]
        parts += [f"stopped at {self.stopped}"] if self.stopped else []
        return f"{label(self.setting)}: FAILED ({self.seconds:.0f} s): " + "; ".join(parts)


def failed_checks(nb):
    """[(cell number, id, 'EName: message')] of the check cells whose output is an error."""
    return [(cell_number(nb, index), cell.get("id", "?"),
             f"{output.get('ename')}: {first_line(output.get('evalue', ''))}")
            for index, cell in enumerate(nb.cells)
            if cell.cell_type == "code" and CHECK_TAG in cell.metadata.get("tags", [])
            for output in cell.get("outputs", []) if output.get("output_type") == "error"]


def run_one(path, setting, typed, timeout):
    """Execute the notebook once (check cells may fail and the run goes on); an Outcome."""
    start, stopped = time.time(), ""
    nb = load_notebook(Path(path))  # read afresh: ours to tag
    for cell in nb.cells:
        tags = cell.metadata.setdefault("tags", [])
        if CHECK_TAG in tags and CONTINUE_TAG not in tags:
            tags.append(CONTINUE_TAG)
    nb = parameterized(nb, typed)
    with tempfile.TemporaryDirectory(prefix="sweep.") as staging:
        env = {**os.environ, EXPORTS_ENV: staging}  # `utils`: the editable install
        try:
            execute(nb, Path(path).parent, env, timeout, progress=False)
        except NotebookFailed as err:
            stopped = str(err)
    return Outcome(setting, time.time() - start, failed_checks(nb), stopped)


def table(outcomes):
    """The closing summary: lines of text (failed checks by cell; runs by setting)."""
    lines = [f"{len(outcomes)} runs, {sum(o.ok for o in outcomes)} passed every check"]
    by_cell = {}
    for o in outcomes:
        for number, cid, error in o.failed:
            by_cell.setdefault((number, cid), []).append((o.setting, error))
        if o.stopped:
            by_cell.setdefault((0, "stopped"), []).append((o.setting, o.stopped))
    if by_cell:
        lines.append(f"{'check cell':18} {'failed in':>10}  settings (first error)")
        for (number, cid), where in sorted(by_cell.items()):
            name = "run stopped" if cid == "stopped" else f"{number} ({cid})"
            shown = ", ".join(label(s) for s, _ in where)
            lines.append(f"{name:18} {len(where):>4} of {len(outcomes):<3}  {shown} "
                         f"({where[0][1]})")
    groups = {}
    for o in outcomes:
        rest = {k: v for k, v in o.setting.items() if k != "SEED"}
        groups.setdefault(label(rest) or "defaults", []).append(o)
    if len(groups) > 1 or by_cell:
        lines.append(f"{'setting':36} {'runs':>5} {'passed':>7}  failing seeds")
        for name, group in groups.items():
            bad = ",".join(o.setting["SEED"] for o in group if not o.ok) or "-"
            lines.append(f"{name:36} {len(group):>5} {sum(o.ok for o in group):>7}  {bad}")
    return lines


def sweep(path, runs, typed, jobs, timeout, report=print):
    """Run every setting on `jobs` processes; report each line as it finishes; [Outcome]."""
    outcomes = []
    context = multiprocessing.get_context("spawn")  # no forked copies of a parent's event loop
    with concurrent.futures.ProcessPoolExecutor(jobs, mp_context=context) as pool:
        futures = {pool.submit(run_one, str(path), s, t, timeout): s for s, t in zip(runs, typed)}
        try:
            for i, future in enumerate(concurrent.futures.as_completed(futures), 1):
                try:
                    outcome = future.result()
                except Exception as err:  # the worker itself failed (kernel would not start, ...)
                    outcome = Outcome(futures[future], stopped=f"{type(err).__name__}: "
                                                             f"{first_line(err)}")
                outcomes.append(outcome)
                report(f"[{i}/{len(runs)}] {outcome.line()}")
        except KeyboardInterrupt:
            for future in futures:
                future.cancel()
            report(f"interrupted: {len(outcomes)} of {len(runs)} runs finished")
    return outcomes


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python tests/sweep.py",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("notebook", help="stem, file name or path of one notebook")
    parser.add_argument("--seeds", default="0-39", help="SEED values: 0-39, 3 or 0,5,9 "
                                                        "(default: %(default)s)")
    parser.add_argument("-p", "--parameter", nargs="+", action="append", default=[],
                        metavar="NAME VALUE", help="a `parameters` cell name and one or more "
                                                   "values; several values multiply the runs")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="notebooks run at once (default: the number of cores, %(default)s)")
    parser.add_argument("--lang", choices=sorted(EDITIONS), default=DEFAULT_LANG)
    parser.add_argument("--cell-timeout", type=float, default=DEFAULT_CELL_TIMEOUT)
    args = parser.parse_args(argv)
    try:
        seeds = parse_seeds(args.seeds)
        values = {}
        for name, *given in args.parameter:
            if not given or name == "SEED" or name in values:
                raise ValueError(f"-p {name}: give the name once, with at least one value "
                                 f"(SEED comes from --seeds)")
            values[name] = given
        if args.jobs < 1:
            raise ValueError(f"--jobs {args.jobs}: give at least 1")
        notebooks_dir = REPO_ROOT / EDITIONS[args.lang].notebooks
        [path] = find_notebooks([args.notebook], notebooks_dir)
        runs = settings(seeds, values)
        # typed as the runner types them, so a bad value is refused before anything runs
        typed = [split_parameters([path], s)[path] for s in runs]
    except (ValueError, RunnerError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"{path.stem}: {len(runs)} runs on {min(args.jobs, len(runs))} processes", flush=True)
    outcomes = sweep(path, runs, typed, min(args.jobs, len(runs)), args.cell_timeout,
                     report=lambda line: print(line, flush=True))
    print("\n" + "\n".join(table(outcomes)))
    return 0 if len(outcomes) == len(runs) and all(o.ok for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
