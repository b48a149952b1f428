"""One training epoch of the seeds' MNIST setup: ``fit`` against its honest peers.

The setup: sizes [784, 30, 10], sigmoid layers, quadratic cost, mini-batches of
10, learning rate 3.0, one epoch over synthetic examples of width 784 (uniform
pixels, random one-hot targets), every contender from the same initial
parameters through the same shuffle. The contenders:

- ``fit``: ``Network.fit``, the whole epoch inside compiled loops;
- ``numpy``: the loop a user would write: per mini-batch, the forward pass with
  ``@``, the deltas, ``delta.T @ a`` and an in-place update (``numpy_epoch``);
- ``jax`` (when installed): ``jit(lax.scan)`` over the epoch's mini-batches, each
  gathered inside the scan, ``jax.grad`` of the same cost;
- ``torch`` (when installed): PyTorch eager, ``nn.Linear`` + sigmoid, the same
  cost, ``optim.SGD``.

Every contender runs on one thread of one CPU (OpenBLAS, Numba, XLA, PyTorch), with
OpenBLAS at its own kernel (``benchmarks/__init__.py``). Contenders are
interleaved round by round; each figure is the median over ``--rounds`` epochs,
with its GFLOP/s (4.79 GFLOP of products per 50,000-example epoch) and the
fraction of this machine's single-thread BLAS rate (a 1024 x 1024 product), and
the last column the largest difference of its trained parameters from ``fit``'s.

    python -m benchmarks.fit_epoch [--examples 50000] [--rounds 5]
        [--contenders fit,numpy,jax,torch] [--dtypes float64,float32]

The contenders themselves are in ``benchmarks/contenders.py``, shared with the
asv suite.
"""

import os

# One thread for every contender, set before NumPy, JAX or PyTorch starts a pool.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import argparse
import itertools
import statistics

import numpy as np

import loopnet as ln
from benchmarks import contenders, machine, use_cpus

SIZES, BATCH, LR = (784, 30, 10), 10, 3.0

# asv imports every module of benchmarks/ and runs any function named time_*,
# track_*, peakmem_*, mem_* or timeraw_* as a benchmark: none of these is one.


def epoch_flops(sizes, n_examples):
    """Flops of one epoch's products: forward, hidden errors and weight gradients.

    A multiply-add counts as two; per example, z = W a for every layer,
    delta W for every layer but the first, and delta^T a for every layer.
    """
    products = [n_l * n_prev for n_prev, n_l in itertools.pairwise(sizes)]
    return 2 * n_examples * (2 * sum(products) + sum(products[1:]))


def data(n_examples, dtype):
    """Synthetic inputs in [0, 1) and one-hot targets, seeded."""
    rng = np.random.default_rng(0)
    X = rng.random((n_examples, SIZES[0])).astype(dtype)
    Y = ln.datasets.one_hot(rng.integers(0, SIZES[-1], n_examples), dtype=dtype)
    return X, Y


def available(names, X, Y):
    """The contenders asked for that can run here (JAX and PyTorch are optional)."""
    ready = []
    for name in names:
        try:
            ready.append(contenders.EPOCHS[name](SIZES, BATCH, LR, X, Y))
        except ImportError as error:
            print(f"  {name}: skipped ({error})")
    return ready


def measure(dtype, n_examples, rounds, names):
    """Median epoch seconds and trained parameters of each contender, interleaved.

    Round r trains every contender from the same initial parameters through
    ``fit``'s shuffle of seed r; the contender that goes first rotates.
    """
    X, Y = data(n_examples, dtype)
    ready = available(names, X, Y)
    weights, biases = contenders.initial_parameters(SIZES, dtype)
    seconds = {contender.name: [] for contender in ready}
    trained = {}
    for round_ in range(rounds):
        shift = round_ % len(ready)
        for contender in ready[shift:] + ready[:shift]:
            elapsed, params = contender.epoch(weights, biases, round_)
            seconds[contender.name].append(elapsed)
            trained[contender.name] = params
    medians = {name: statistics.median(times) for name, times in seconds.items()}
    return medians, trained


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=50_000, help="default 50000")
    parser.add_argument("--rounds", type=int, default=5, help="epochs per contender")
    parser.add_argument("--contenders", default="fit,numpy,jax,torch")
    parser.add_argument("--dtypes", default="float64,float32")
    args = parser.parse_args()
    use_cpus(1)  # before JAX starts XLA's pool, sized by the CPUs allowed
    names = args.contenders.split(",")
    print("\n".join(machine.describe()))
    flops = epoch_flops(SIZES, args.examples)
    print(
        f"[784, 30, 10] sigmoid, quadratic cost, batch {BATCH}, lr {LR}: one epoch"
        f" over {args.examples} examples ({flops / 1e9:.2f} GFLOP of products);"
        f" medians of {args.rounds} interleaved rounds, one thread each"
    )
    for dtype in args.dtypes.split(","):
        peak = machine.blas_rate(dtype)
        print(f"\n{dtype}: BLAS 1024 x 1024 product {peak:.1f} GFLOP/s")
        medians, trained = measure(dtype, args.examples, args.rounds, names)
        print(
            f"  {'contender':10s} {'median':>9s} {'GFLOP/s':>8s} {'of BLAS':>8s}"
            f" {'fit/it':>7s} {'max |p - p_fit|':>16s}"
        )
        for name, median in medians.items():
            rate = flops / median / 1e9
            ratio = medians["fit"] / median if "fit" in medians else float("nan")
            diff = (
                np.max(np.abs(trained[name] - trained["fit"]))
                if "fit" in trained
                else float("nan")
            )
            print(
                f"  {name:10s} {median * 1e3:7.1f} ms {rate:8.1f} {rate / peak:8.2f}"
                f" {ratio:7.2f} {diff:16.2e}"
            )


if __name__ == "__main__":
    main()
