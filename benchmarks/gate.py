"""The regression gate: HEAD against the previous main, on the ratio benchmarks.

A ratio of two times taken in one process, interleaved (loop over matrix for a
gradient, ``fit`` over the tight NumPy loop for an epoch), moves much less with
the machine's load than either time: the gate compares those, and fails when one
got worse by more than ``FACTOR``.

    python -m benchmarks.gate                    # HEAD against main's tip
    python -m benchmarks.gate --base main~1      # against another commit
    python -m benchmarks.gate spread [--rounds 10]   # how much the ratios move

``check`` (the default) runs ``asv continuous --factor FACTOR`` on the ratio
benchmarks for the two commits, each built in asv's own environment, into a
throwaway results folder (``.asv/gate-results``: the kept history is not
touched), and exits with 1 when a ratio grew by more than the factor, 0 when
none did, 2 when asv could not run. ``spread`` measures the ratios ``--rounds``
times in this process, on the installed loopnet, and prints for each the largest
over the smallest: the noise the factor has to stay above (benchmarks/NOTES.md,
"The gate's factor", records it).
"""

import argparse
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

RATIOS = r"(GradientRatio\.track_loop_over_matrix|EpochRatio\.track_fit_over_numpy)"
"""The benchmarks the gate compares (``bench_gradient.py``, ``bench_fit.py``)."""

FACTOR = 1.5
"""A ratio this much larger fails the gate. Ten identical measurements of every
ratio on the reference machine, with another engineer's work on the other core
(load average 1.5-2.5), moved by at most 1.31x (largest over smallest; 1.20x for
the gradients): benchmarks/NOTES.md, "The gate's factor"."""


def gate_config():
    """A copy of asv.conf.json whose results go to a throwaway folder."""
    text = (ROOT / "asv.conf.json").read_text(encoding="utf-8")
    kept = '"results_dir": "benchmarks/results"'
    if kept not in text:
        sys.exit("asv.conf.json: results_dir is not the kept history's; check gate.py")
    # beside asv.conf.json: asv reads the repository and folders relative to it
    path = ROOT / ".asv-gate.conf.json"
    path.write_text(
        text.replace(kept, '"results_dir": ".asv/gate-results"'), encoding="utf-8"
    )
    return path


def check(base, head, factor):
    """``asv continuous`` of the ratio benchmarks; asv's exit status."""
    command = [
        sys.executable,
        "-m",
        "asv",
        "continuous",
        "--config",
        str(gate_config()),
        "--factor",
        str(factor),
        "--bench",
        RATIOS,
        "--show-stderr",
        base,
        head,
    ]
    print("$", " ".join(command[2:]), flush=True)
    run = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    print(run.stdout, run.stderr, sep="\n", flush=True)
    if "PERFORMANCE DECREASED" in run.stdout:
        verdict, status = "FAILED: a ratio got worse", 1
    elif run.returncode == 0:
        verdict, status = "passed", 0
    else:
        verdict, status = "could not run (asv's output above)", 2
    print(f"gate {verdict} (factor {factor}, {base} -> {head})")
    return status


def spread(rounds):
    """Largest over smallest of each ratio across ``rounds`` measurements."""
    from benchmarks import bench_fit, bench_gradient

    cases = [
        (bench_gradient.GradientRatio, "track_loop_over_matrix", params)
        for params in _cells(bench_gradient.GradientRatio)
    ] + [
        (bench_fit.EpochRatio, "track_fit_over_numpy", params)
        for params in _cells(bench_fit.EpochRatio)
    ]
    worst = 1.0
    for cls, method, params in cases:
        benchmark = cls()
        benchmark.setup(*params)
        values = [getattr(benchmark, method)(*params) for _ in range(rounds)]
        moved = max(values) / min(values)
        worst = max(worst, moved)
        print(
            f"{cls.__name__}.{method}{params}: median {statistics.median(values):.3f},"
            f" max/min {moved:.3f}",
            flush=True,
        )
    print(f"largest max/min: {worst:.3f} over {rounds} rounds")
    return worst


def _cells(cls):
    """Every combination of a benchmark class's parameters."""
    import itertools

    return list(itertools.product(*cls.params))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "command", nargs="?", default="check", choices=("check", "spread")
    )
    parser.add_argument("--base", default="main", help="the previous commit (main)")
    parser.add_argument("--head", default="HEAD", help="the commit tested (HEAD)")
    parser.add_argument("--factor", type=float, default=FACTOR)
    parser.add_argument("--rounds", type=int, default=10, help="for spread")
    args = parser.parse_args(argv)
    if args.command == "spread":
        spread(args.rounds)
        return 0
    return check(args.base, args.head, args.factor)


if __name__ == "__main__":
    sys.exit(main())
