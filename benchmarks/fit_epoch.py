"""One training epoch of the seeds' MNIST setup: fit, a NumPy loop, PyTorch.

The setup: sizes [784, 30, 10], sigmoid layers, quadratic cost, mini-batches of
10, learning rate 3.0, one epoch over synthetic examples of width 784 (uniform
pixels, random one-hot targets). Three ways to run the same epoch:

- ``fit``: ``Network.fit``, the whole epoch inside compiled loops;
- NumPy: a Python loop over mini-batches, each gradient by the matrix form
  (``loopnet.reference.gradient``) and the step written in NumPy;
- PyTorch (CPU; skipped when torch is not installed): ``nn.Linear`` + sigmoid,
  the same cost, ``optim.SGD``.

Compilation is excluded from the epoch times and reported on its own (a Numba
cache hit shows as a fraction of a second). Each time is the best of
``--repeat`` epochs. OpenBLAS is pinned to one thread unless
``OPENBLAS_NUM_THREADS`` is set: unpinned, it made the small products of this
loop many times slower on the project's 2-core machines.

    python benchmarks/fit_epoch.py [--examples 50000] [--repeat 3]
"""

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before NumPy loads OpenBLAS

import argparse
import platform
import time

import numpy as np

import loopnet as ln
from loopnet import reference

SIZES, BATCH, LR = (784, 30, 10), 10, 3.0

# asv imports every module of benchmarks/ and runs any function named time_*,
# track_*, peakmem_*, mem_* or timeraw_* as a benchmark: none of these is one.


def data(n_examples, dtype):
    """Return synthetic inputs in [0, 1) and one-hot targets, seeded."""
    rng = np.random.default_rng(0)
    X = rng.random((n_examples, SIZES[0])).astype(dtype)
    Y = ln.datasets.one_hot(rng.integers(0, SIZES[-1], n_examples), dtype=dtype)
    return X, Y


def fit_seconds(X, Y, dtype, repeat):
    """Return (best epoch seconds, first-call seconds) of ``Network.fit``."""
    net = ln.Network(SIZES, dtype=dtype, seed=0)
    first = net.fit(X[:BATCH], Y[:BATCH], batch_size=BATCH, lr=LR, progress=False)
    best = min(
        net.fit(X, Y, batch_size=BATCH, lr=LR, seed=r, progress=False).seconds[0]
        for r in range(repeat)
    )
    return best, first.compile_seconds


def numpy_epoch(weights, biases, X, Y, seed):
    """Train one epoch with a Python loop over mini-batches in matrix form."""
    lr = X.dtype.type(LR)
    order = np.random.default_rng(seed).permutation(X.shape[0])
    for start in range(0, X.shape[0], BATCH):
        batch = order[start : start + BATCH]
        dWs, dbiases = reference.gradient(
            weights, biases, X[batch], Y[batch], ("sigmoid", "sigmoid"), "quadratic"
        )
        for param, grad in zip(weights + biases, dWs + dbiases, strict=True):
            param -= lr * grad


def numpy_seconds(X, Y, dtype, repeat):
    """Return the best epoch seconds of the NumPy loop."""
    net = ln.Network(SIZES, dtype=dtype, seed=0)
    times = []
    for r in range(repeat):
        weights = [W.copy() for W in net.weights]
        biases = [bias.copy() for bias in net.biases]
        started = time.perf_counter()
        numpy_epoch(weights, biases, X, Y, r)
        times.append(time.perf_counter() - started)
    return min(times)


def torch_seconds(X, Y, dtype, repeat):
    """Return the best epoch seconds of PyTorch on the CPU, or None without torch."""
    try:
        import torch
    except ImportError:
        return None
    torch_dtype = {"float32": torch.float32, "float64": torch.float64}[dtype]
    X_t, Y_t = torch.from_numpy(X), torch.from_numpy(Y)
    times = []
    for r in range(repeat):
        torch.manual_seed(r)
        model = torch.nn.Sequential(
            torch.nn.Linear(SIZES[0], SIZES[1]),
            torch.nn.Sigmoid(),
            torch.nn.Linear(SIZES[1], SIZES[2]),
            torch.nn.Sigmoid(),
        ).to(torch_dtype)
        optimizer = torch.optim.SGD(model.parameters(), lr=LR)
        order = torch.randperm(X_t.shape[0])
        started = time.perf_counter()
        for start in range(0, X_t.shape[0], BATCH):
            batch = order[start : start + BATCH]
            optimizer.zero_grad()
            output = model(X_t[batch])
            # mean over the batch of 1/2 ||a - y||^2, as loopnet's quadratic cost
            loss = 0.5 * ((output - Y_t[batch]) ** 2).sum() / batch.shape[0]
            loss.backward()
            optimizer.step()
        times.append(time.perf_counter() - started)
    return min(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=50_000, help="default 50000")
    parser.add_argument("--repeat", type=int, default=3, help="epochs timed (best)")
    args = parser.parse_args()
    print(
        f"[784, 30, 10] sigmoid, quadratic, batch {BATCH}, lr {LR}: one epoch over"
        f" {args.examples} examples; {platform.processor() or platform.machine()},"
        f" {os.cpu_count()} cores, OPENBLAS_NUM_THREADS="
        f"{os.environ['OPENBLAS_NUM_THREADS']}"
    )
    print(f"{'dtype':8s} {'fit':>8s} {'NumPy':>8s} {'PyTorch':>8s} {'NumPy/fit':>10s}")
    for dtype in ("float64", "float32"):
        X, Y = data(args.examples, dtype)
        fit_s, first_s = fit_seconds(X, Y, dtype, args.repeat)
        numpy_s = numpy_seconds(X, Y, dtype, args.repeat)
        torch_s = torch_seconds(X, Y, dtype, args.repeat)
        torch_text = "n/a" if torch_s is None else f"{torch_s:.2f} s"
        print(
            f"{dtype:8s} {fit_s:6.2f} s {numpy_s:6.2f} s {torch_text:>8s}"
            f" {numpy_s / fit_s:9.2f}x   (fit's first call: {first_s:.2f} s)"
        )


if __name__ == "__main__":
    main()
