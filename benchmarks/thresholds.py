"""The measurements behind two settings of ``loopnet._jit``.

``crossover``: ``MIN_PARALLEL_WORK``, the multiply-adds below which a layer kernel
runs serially. For the forward pass, the hidden error and the weight gradient of
one layer at sizes around the threshold, it times the serial kernel (the rows
kernel over every row, one thread) against the parallel kernel on two threads.

``fastmath``: ``JIT_DOT``, the fastmath flags of the dot-product tiles. It compiles
``_tiles._dot_rows`` four times, with no flag, ``contract``, ``reassoc`` and both,
and times C = S T^T for the layers of the [784, 100, 10] network's forward pass
(batch 64) and of one [1024, 1024] layer (batch 256) against NumPy's ``S @ T.T``,
on one thread.

``launch``: the cost of starting the threads of one ``prange`` loop in Numba's
threading layer (``NUMBA_THREADING_LAYER`` picks it): the parallel forward kernel
on a 4 x 4 x 4 layer, two threads.

Each figure is a median over ``--repeat`` samples, each sample timing enough
calls to last 20 ms; the samples of the variants being compared alternate, so a
change of the machine's load hits them alike. OpenBLAS is pinned to one thread
unless ``OPENBLAS_NUM_THREADS`` is set.

    python benchmarks/thresholds.py [crossover] [fastmath] [launch] [--repeat 9]
"""

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before NumPy loads OpenBLAS

import argparse
import time
import types

import numba
import numpy as np
from numba import njit

from loopnet._jit import JIT, MIN_PARALLEL_WORK
from loopnet.activations import ACTIVATIONS
from loopnet.kernels import _tiles
from loopnet.kernels._tiles import MIN_DOT_LENGTH, MIN_TILED_BATCH, _transposed
from loopnet.kernels.errors import _hidden_error_parallel, _hidden_error_rows
from loopnet.kernels.forward import _forward_layer_parallel, _forward_rows
from loopnet.kernels.gradients import (
    _weight_gradient_parallel,
    _weight_gradient_rows,
)

SIGMOID = ACTIVATIONS["sigmoid"]

CROSSOVER_SHAPES = [
    (32, 24, 24),
    (32, 32, 32),
    (32, 48, 48),
    (32, 64, 64),
    (32, 80, 80),
    (32, 96, 96),
    (32, 128, 128),
    (32, 192, 192),
    (32, 256, 256),
    (4, 30, 784),
    (10, 30, 784),
    (16, 30, 784),
    (64, 30, 784),
]
"""(n_batch, n_l, n_prev) of the layers timed for the crossover."""

FASTMATH_SHAPES = [((64, 784), (100, 784)), ((64, 100), (10, 100))]
"""(S shape, T shape) of the forward products of [784, 100, 10] at batch 64."""

LARGE_SHAPE = ((256, 1024), (1024, 1024))

FLAG_SETS = [set(), {"contract"}, {"reassoc"}, {"reassoc", "contract"}]


def medians(funcs, repeat, min_seconds=0.02):
    """Median seconds per call of each of ``funcs``, their samples interleaved."""
    counts = []
    for func in funcs:
        func()  # compile or warm up, untimed
        started = time.perf_counter()
        func()
        once = max(time.perf_counter() - started, 1e-7)
        counts.append(max(1, int(min_seconds / once)))
    samples = [[] for _ in funcs]
    for _ in range(repeat):
        for func, n_calls, times in zip(funcs, counts, samples, strict=True):
            started = time.perf_counter()
            for _ in range(n_calls):
                func()
            times.append((time.perf_counter() - started) / n_calls)
    return [float(np.median(times)) for times in samples]


def on_threads(n_threads, func):
    """``func`` run with Numba set to ``n_threads`` threads."""

    def call():
        numba.set_num_threads(n_threads)
        func()

    return call


def layer_calls(kernel, n_batch, n_l, n_prev, dtype):
    """(serial call, parallel call) of one layer kernel on seeded inputs."""
    rng = np.random.default_rng(0)
    W = rng.standard_normal((n_l, n_prev)).astype(dtype)
    A_prev = rng.random((n_batch, n_prev)).astype(dtype)
    out = np.empty((n_batch, n_l), dtype=dtype)
    if kernel == "forward":
        bias, A = np.zeros(n_l, dtype=dtype), np.empty_like(out)
        return (
            lambda: _forward_rows(W, bias, A_prev, SIGMOID, out, A, 0, n_batch),
            lambda: _forward_layer_parallel(W, bias, A_prev, SIGMOID, out, A),
        )
    if kernel == "hidden error":
        # delta[b, k] = sigma'(z) * sum_j delta_next[b, j] W[j, k]: layer l-1 of W
        delta_next = rng.standard_normal((n_batch, n_l)).astype(dtype)
        if n_l < MIN_DOT_LENGTH:  # the copy _hidden_error_dispatch makes
            transposed = W
        elif n_batch >= MIN_TILED_BATCH:
            transposed = _transposed(delta_next)
        else:
            transposed = _transposed(W)
        delta = np.empty((n_batch, n_prev), dtype=dtype)
        args = (delta_next, W, transposed, A_prev, True, SIGMOID, delta)
        return (
            lambda: _hidden_error_rows(*args, 0, n_batch),
            lambda: _hidden_error_parallel(*args),
        )
    delta = rng.standard_normal((n_batch, n_l)).astype(dtype)
    dW = np.empty((n_l, n_prev), dtype=dtype)
    args = (delta, A_prev, dW)
    return (
        lambda: _weight_gradient_rows(*args, 0, n_l, None),
        lambda: _weight_gradient_parallel(*args, None),
    )


def crossover(repeat):
    """Print serial vs two-thread times of each layer kernel around the threshold."""
    print(f"MIN_PARALLEL_WORK = {MIN_PARALLEL_WORK} multiply-adds; float64")
    print(f"{'kernel':13s} {'shape b x l x prev':>19s} {'work':>9s}", end="")
    print(f" {'1 thread':>10s} {'2 threads':>10s} {'1/2':>6s}")
    for kernel in ("forward", "hidden error", "weight gradient"):
        for n_batch, n_l, n_prev in CROSSOVER_SHAPES:
            serial, parallel = layer_calls(kernel, n_batch, n_l, n_prev, np.float64)
            one, two = medians([on_threads(1, serial), on_threads(2, parallel)], repeat)
            shape = f"{n_batch} x {n_l} x {n_prev}"
            print(f"{kernel:13s} {shape:>19s} {n_batch * n_l * n_prev:9d}", end="")
            print(f" {one * 1e6:8.1f}us {two * 1e6:8.1f}us {one / two:6.2f}")


def dot_rows_with(flags):
    """``_tiles._dot_rows`` compiled afresh, its tiles with the fastmath ``flags``."""
    options = {**JIT, "cache": False}
    scope = dict(vars(_tiles))
    for name in ("_dot", "_dot_tile"):
        scope[name] = njit(**{**options, "fastmath": flags})(scope[name].py_func)
    code = _tiles._dot_rows.py_func.__code__
    return njit(**options)(types.FunctionType(code, scope, "_dot_rows"))


def fastmath(repeat):
    """Print the tiles' time per fastmath flag set against NumPy, one thread."""
    numba.set_num_threads(1)
    cases = [("784-100-10/b64", FASTMATH_SHAPES), ("1024-1024/b256", [LARGE_SHAPE])]
    variants = [dot_rows_with(flags) for flags in FLAG_SETS]
    print(f"{'products':15s} {'dtype':8s} {'flags':18s} {'loop':>10s}", end="")
    print(f" {'NumPy':>10s} {'NumPy/loop':>10s}")
    for name, shapes in cases:
        for dtype in (np.float32, np.float64):
            rng = np.random.default_rng(0)
            products = []
            for s_shape, t_shape in shapes:
                S, T = rng.random(s_shape).astype(dtype), rng.random(t_shape)
                T = T.astype(dtype)
                products.append((S, T, np.empty((S.shape[0], T.shape[0]), dtype)))

            def numpy_form(products=products):
                for S, T, _ in products:
                    S @ T.T

            calls = [numpy_form]
            for variant in variants:

                def loop(variant=variant, products=products):
                    for S, T, C in products:
                        variant(S, T, C, 0, S.shape[0])

                calls.append(loop)
            numpy_s, *loop_s = medians(calls, repeat)
            for flags, seconds in zip(FLAG_SETS, loop_s, strict=True):
                text = ", ".join(sorted(flags)) or "none"
                print(f"{name:15s} {np.dtype(dtype).name:8s} {text:18s}", end="")
                print(f" {seconds * 1e6:8.1f}us {numpy_s * 1e6:8.1f}us", end="")
                print(f" {numpy_s / seconds:10.2f}")


def launch(repeat):
    """Print the time of one parallel call on a tiny layer, one and two threads."""
    _, parallel = layer_calls("forward", 4, 4, 4, np.float64)
    one, two = medians([on_threads(1, parallel), on_threads(2, parallel)], repeat)
    print(f"threading layer {numba.threading_layer()}: a prange call on a 4 x 4 x 4")
    print(f"layer took {one * 1e6:.1f} us on 1 thread, {two * 1e6:.1f} us on 2")


PARTS = {"crossover": crossover, "fastmath": fastmath, "launch": launch}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "parts", nargs="*", metavar="PART", help="crossover, fastmath, launch (all)"
    )
    parser.add_argument("--repeat", type=int, default=9, help="samples (median)")
    args = parser.parse_args()
    unknown = set(args.parts) - set(PARTS)
    if unknown:
        parser.error(f"unknown part(s) {sorted(unknown)}; choose from {list(PARTS)}")
    print(f"load average {os.getloadavg()[0]:.2f}; {os.cpu_count()} cores")
    for part in args.parts or PARTS:
        PARTS[part](args.repeat)
    print(f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
