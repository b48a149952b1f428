"""The full gradient: every form on one graph, their ratio, the bare kernel, threads."""

import numpy as np

from . import common, contenders

RATIO_SAMPLES = {"repeat": 15, "min_seconds": 0.05}
"""Interleaved samples of a ratio: 15 of at least 50 ms each (the gate's noise,
benchmarks/README.md, shrank with more and longer samples)."""


class GradientForms:
    """One batch's gradient by every form, on one graph per workload and dtype.

    ``loop`` and ``matrix`` are the public ``Network.gradient(method=...)``;
    ``numpy``, ``jax`` and ``torch`` the honest peers of
    ``benchmarks/contenders.py`` (the last two skipped where not installed).
    """

    params = (list(contenders.GRADIENTS), list(common.WORKLOADS), common.DTYPES)
    param_names = ["form", "workload", "dtype"]
    # 40 cells: 2-10 samples of at most 2 s each keep a commit's run short
    repeat = (2, 10, 2.0)

    def setup(self, form, workload, dtype):
        common.set_threads(common.THREADS)
        sizes, _ = common.WORKLOADS[workload]
        X, Y = common.batch(workload, dtype)
        try:
            self.gradient = contenders.gradient(form, sizes, X, Y)
        except ImportError as error:  # JAX or PyTorch not installed
            raise NotImplementedError(str(error)) from error

    def time_gradient(self, form, workload, dtype):
        self.gradient()


class GradientRatio:
    """Loop time over matrix time of the public gradient, interleaved in one process.

    The ratio moves much less with the machine's load than either time: the
    graph to watch for the loops' speed against NumPy's.
    """

    params = (list(common.WORKLOADS), common.DTYPES)
    param_names = ["workload", "dtype"]
    unit = "loop time / matrix time"

    def setup(self, workload, dtype):
        common.set_threads(common.THREADS)
        sizes, _ = common.WORKLOADS[workload]
        X, Y = common.batch(workload, dtype)
        self.loop = contenders.gradient("loop", sizes, X, Y)
        self.matrix = contenders.gradient("matrix", sizes, X, Y)

    def track_loop_over_matrix(self, workload, dtype):
        return common.median_ratio(self.loop, self.matrix, **RATIO_SAMPLES)

    def track_max_abs_diff(self, workload, dtype):
        """max |loop - matrix| over every parameter's gradient."""
        return float(np.max(np.abs(self.loop() - self.matrix())))

    track_max_abs_diff.unit = "abs. difference"


class BareGradient:
    """The compiled gradient into a preallocated array vs ``reference.gradient``.

    No argument checks, no views: the kernels' own speed against NumPy's.
    """

    params = (list(common.WORKLOADS), common.DTYPES)
    param_names = ["workload", "dtype"]

    def setup(self, workload, dtype):
        common.set_threads(common.THREADS)
        self.net = common.network(workload, dtype)
        self.X, self.Y = common.batch(workload, dtype)
        self.bare = common.bare_gradient(self.net, self.X, self.Y)
        self.time_loop(workload, dtype)  # compile (or load the cache) untimed

    def time_loop(self, workload, dtype):
        self.bare()

    def time_matrix(self, workload, dtype):
        common.reference_gradient(self.net, self.X, self.Y)

    def track_ratio(self, workload, dtype):
        """Loop time over matrix time, interleaved samples within one process."""
        return common.median_ratio(
            lambda: self.time_loop(workload, dtype),
            lambda: self.time_matrix(workload, dtype),
        )

    track_ratio.unit = "loop/matrix"


class GradientThroughput:
    """GFLOP/s of the bare loop gradient on the large workload."""

    params = ([common.LARGE], common.DTYPES)
    param_names = ["workload", "dtype"]

    def setup(self, workload, dtype):
        common.set_threads(common.THREADS)
        self.net = common.network(workload, dtype)
        self.X, self.Y = common.batch(workload, dtype)
        self.bare = common.bare_gradient(self.net, self.X, self.Y)
        self.bare()  # compile untimed

    def track_gflops(self, workload, dtype):
        """Multiply-adds of the three products per layer, per second of loop time."""
        from time import perf_counter

        samples = []
        for _ in range(5):
            start = perf_counter()
            self.bare()
            samples.append(perf_counter() - start)
        flops = common.gradient_flops(self.net.sizes, self.X.shape[0])
        return flops / float(np.median(samples)) / 1e9

    track_gflops.unit = "GFLOP/s"


class Threads:
    """Both forms of the public gradient on 1 and on 2 threads (numba, BLAS)."""

    params = ([common.MEDIUM, common.LARGE], common.DTYPES, [1, 2])
    param_names = ["workload", "dtype", "threads"]

    def setup(self, workload, dtype, threads):
        common.set_threads(threads)
        self.net = common.network(workload, dtype)
        self.X, self.Y = common.batch(workload, dtype)
        self.net.gradient(self.X, self.Y)  # compile (or load the cache) untimed

    def time_loop(self, workload, dtype, threads):
        self.net.gradient(self.X, self.Y, method="loop")

    def time_matrix(self, workload, dtype, threads):
        self.net.gradient(self.X, self.Y, method="matrix")
