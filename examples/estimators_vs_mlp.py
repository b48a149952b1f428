"""LoopNetClassifier against scikit-learn's MLPClassifier on the bundled digits.

The same pipeline (StandardScaler, then the classifier), architecture (64 inputs,
one hidden relu layer, 10 softmax outputs), optimizer (Adam, lr 0.001, betas 0.9
and 0.999), L2 (alpha = l2 = 1e-4), mini-batch size and number of epochs, on
the same stratified split. MLPClassifier runs every epoch (``tol=0`` and
``n_iter_no_change`` = epochs: no stop on a plateau). Prints, per setting, the
test accuracy (mean and spread over the seeds) and the median fit time of each,
both on the same number of threads (``--threads``, 1 by default: Numba's pool
for loopnet, BLAS's for MLPClassifier), and the machine it ran on.

    python examples/estimators_vs_mlp.py                 # 5 seeds, 50 epochs
    python examples/estimators_vs_mlp.py --seeds 2 --epochs 10

docs/estimators.md keeps the numbers of one run.
"""

import argparse
import os
import platform
import statistics
import subprocess
import time
import warnings

import numba
import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from loopnet.sklearn import LoopNetClassifier

SETTINGS = [(100, 200), (100, 32), (30, 10)]
"""(hidden units, batch size): scikit-learn's defaults, then smaller batches."""


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=5, help="default 5")
    parser.add_argument("--epochs", type=int, default=50, help="default 50")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="Numba's threads and BLAS's threads, both pinned to it (default 1)",
    )
    return parser.parse_args()


def models(hidden, batch_size, epochs, seed):
    """The two pipelines of one setting and seed."""
    common = {"batch_size": batch_size, "random_state": seed}
    ours = LoopNetClassifier(
        hidden=(hidden,), epochs=epochs, lr=0.001, l2=1e-4, **common
    )
    theirs = MLPClassifier(
        (hidden,),
        max_iter=epochs,
        tol=0.0,
        n_iter_no_change=epochs,
        alpha=1e-4,
        learning_rate_init=0.001,
        **common,
    )
    return make_pipeline(StandardScaler(), ours), make_pipeline(
        StandardScaler(), theirs
    )


def timed_fit(model, X, y):
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y)
    return time.perf_counter() - started


def accuracy(values):
    """Mean ± sample standard deviation over the seeds."""
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.4f} ± {spread:.4f}"


def commit():
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            cwd=os.path.dirname(os.path.abspath(__file__)),
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main():
    args = parse_args()
    numba.set_num_threads(args.threads)
    with threadpool_limits(args.threads):  # MLPClassifier's matrix products
        compare(args)


def compare(args):
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=0
    )
    # compile (or load from Numba's cache) before anything is timed
    models(8, 32, 1, 0)[0].fit(X_train, y_train)
    print(
        f"digits: {len(y_train)} training, {len(y_test)} test; {args.epochs} epochs,"
        f" Adam lr 0.001, l2 1e-4, seeds 0..{args.seeds - 1}"
    )
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()}"
        f" CPUs, load {os.getloadavg()[0]:.2f}; Numba and BLAS threads"
        f" {args.threads}; numba {numba.__version__}, numpy"
        f" {np.__version__}; commit {commit()}"
    )
    print()
    print(
        "| hidden | batch | loopnet accuracy | MLPClassifier accuracy |"
        " loopnet fit (s) | MLPClassifier fit (s) |"
    )
    print("|---:|---:|---|---|---:|---:|")
    for hidden, batch_size in SETTINGS:
        scores, seconds = {"ours": [], "theirs": []}, {"ours": [], "theirs": []}
        for seed in range(args.seeds):
            pair = models(hidden, batch_size, args.epochs, seed)
            for name, model in zip(("ours", "theirs"), pair, strict=True):
                seconds[name].append(timed_fit(model, X_train, y_train))
                scores[name].append(model.score(X_test, y_test))
        print(
            f"| {hidden} | {batch_size} | {accuracy(scores['ours'])}"
            f" | {accuracy(scores['theirs'])}"
            f" | {statistics.median(seconds['ours']):.3f}"
            f" | {statistics.median(seconds['theirs']):.3f} |"
        )


if __name__ == "__main__":
    main()
