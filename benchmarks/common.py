"""Seeded workloads and thread settings shared by the benchmarks.

Only ever append to this file: asv keys a benchmark's history to its source, and
the workloads here are part of every benchmark that uses them.
"""

import itertools

import numba
import numpy as np

import loopnet as ln
from benchmarks import use_cpus
from loopnet import reference

WORKLOADS = {
    "2-3-1/b3": ([2, 3, 1], 3),
    "784-30-10/b10": ([784, 30, 10], 10),
    "784-100-10/b64": ([784, 100, 10], 64),
    "1024-1024-1024-10/b256": ([1024, 1024, 1024, 10], 256),
}
"""name -> (layer sizes, batch size): tiny, Nielsen's MNIST network, medium, large."""

TINY, NIELSEN, MEDIUM, LARGE = WORKLOADS
DTYPES = ["float32", "float64"]

THREADS = 1
"""Threads for both forms unless a benchmark's ``threads`` parameter says otherwise.

asv.conf.json sizes the pools (OpenBLAS, OpenMP, Numba) to the machine's 2 cores;
one thread keeps timings steady on the shared 2-core machines, where a second
thread competes with other jobs (benchmarks/README.md).
"""


def set_threads(n_threads):
    """Run every form (Numba, BLAS, XLA) on ``n_threads`` threads of as many CPUs.

    Raises NotImplementedError (asv then skips the benchmark) when the pools are
    smaller than asked, e.g. under NUMBA_NUM_THREADS=1.
    """
    if n_threads > numba.config.NUMBA_NUM_THREADS:
        raise NotImplementedError(f"Numba's pool has fewer than {n_threads} threads")
    numba.set_num_threads(n_threads)
    use_cpus(n_threads)  # XLA's pool follows the CPUs, not a thread count
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # the twin keeps the pool size set by the environment
        return
    threadpool_limits(limits=n_threads, user_api="blas")


def network(workload, dtype, seed=0):
    """The workload's sigmoid network with the quadratic cost (Nielsen's chapter 1)."""
    sizes, _ = WORKLOADS[workload]
    return ln.Network(sizes, dtype=dtype, seed=seed)


def batch(workload, dtype, n_examples=None, seed=1):
    """Seeded inputs in [0, 1) and one-hot targets, one example per row."""
    sizes, n_batch = WORKLOADS[workload]
    n_examples = n_batch if n_examples is None else n_examples
    rng = np.random.default_rng(seed)
    X = rng.random((n_examples, sizes[0])).astype(dtype)
    Y = np.zeros((n_examples, sizes[-1]), dtype=dtype)
    Y[np.arange(n_examples), rng.integers(0, sizes[-1], n_examples)] = 1
    return X, Y


def reference_gradient(net, X, Y):
    """The matrix twin of ``net.gradient(X, Y)`` (mean over the batch, no L2)."""
    biases = net.biases if net.bias else [None] * len(net.biases)
    return reference.gradient(net.weights, biases, X, Y, net.activations, net.cost_name)


def gradient_flops(sizes, n_batch):
    """Floating-point operations of one gradient, counting a multiply-add as two.

    Forward z = W a over every layer, dW = delta^T a over every layer, and the
    hidden errors delta W over every layer but the first; the element-wise work
    is left out.
    """
    products = [n_l * n_prev for n_prev, n_l in itertools.pairwise(sizes)]
    return 2 * n_batch * (2 * sum(products) + sum(products[1:]))


def median_ratio(loop, matrix, repeat=7, min_seconds=0.02):
    """Median time of ``loop()`` over median time of ``matrix()``, interleaved.

    Each sample times enough calls to last ``min_seconds``; samples of the two
    alternate, so a change of machine load hits both alike.
    """
    from time import perf_counter

    def calls_for(func):
        start = perf_counter()
        func()
        once = max(perf_counter() - start, 1e-7)
        return max(1, int(min_seconds / once))

    def sample(func, n_calls):
        start = perf_counter()
        for _ in range(n_calls):
            func()
        return (perf_counter() - start) / n_calls

    n_loop, n_matrix = calls_for(loop), calls_for(matrix)
    loops, matrices = [], []
    for _ in range(repeat):
        loops.append(sample(loop, n_loop))
        matrices.append(sample(matrix, n_matrix))
    return float(np.median(loops) / np.median(matrices))


def bare_gradient(net, X, Y):
    """``_network_gradient`` as ``Network.gradient`` calls it, minus the checks.

    Returns a function of no arguments that writes the mean gradient of the
    batch into a preallocated array, with a preallocated workspace. Raises
    NotImplementedError (asv skips) at commits before the parameter layout
    (``net.layout``) existed.
    """
    from loopnet.kernels import backprop

    if not hasattr(net, "layout"):
        raise NotImplementedError("no Network.layout at this commit")
    work = backprop.Workspace.allocate(net.layout, X.shape[0], net.dtype)
    out = np.empty_like(net.params)
    scale, l2 = net.dtype.type(1 / X.shape[0]), net.dtype.type(0)
    arguments = (net.layout, net.params, X, Y, scale, l2, work, out)
    return lambda: backprop._network_gradient(*arguments)


def bare_forward(net, X):
    """``_forward_pass`` of ``X`` into preallocated buffers, as a function of nothing.

    Raises NotImplementedError (asv skips) before ``net.layout`` existed.
    """
    from loopnet.kernels import backprop

    if not hasattr(net, "layout"):
        raise NotImplementedError("no Network.layout at this commit")
    work = backprop.Workspace.allocate(net.layout, X.shape[0], net.dtype)
    arguments = (net.layout, net.params, X, work.Z, work.A)
    return lambda: backprop._forward_pass(*arguments)


EPOCH_WORKLOADS = {
    TINY: WORKLOADS[TINY],
    NIELSEN: WORKLOADS[NIELSEN],
    "784-100-10/b32": ([784, 100, 10], 32),
    "784-256-256-10/b64": ([784, 256, 256, 10], 64),
    "784-100-10/b200": ([784, 100, 10], 200),
    "784-256-256-10/b128": ([784, 256, 256, 10], 128),
    LARGE: WORKLOADS[LARGE],
}
"""name -> (layer sizes, batch size) of the epoch benchmarks: the tiny network,
then the sweep of ``python -m benchmarks.fit_epoch --sweep`` (``SWEEP``), from the
seeds' batch 10 through scikit-learn's default 200 to the wide networks."""

SWEEP = list(EPOCH_WORKLOADS)[1:]
"""The epoch workloads of the sweep, in the order it runs them."""


def examples(sizes, dtype, n_examples, seed=1):
    """``batch``'s seeded inputs and one-hot targets for any layer sizes."""
    rng = np.random.default_rng(seed)
    X = rng.random((n_examples, sizes[0])).astype(dtype)
    Y = np.zeros((n_examples, sizes[-1]), dtype=dtype)
    Y[np.arange(n_examples), rng.integers(0, sizes[-1], n_examples)] = 1
    return X, Y
