"""The full gradient: through ``Network.gradient`` and bare, loop against matrix."""

import numpy as np

from . import common


class Gradient:
    """``net.gradient(X, Y, method=...)``: the same public call, either form."""

    params = (list(common.WORKLOADS), common.DTYPES)
    param_names = ["workload", "dtype"]

    def setup(self, workload, dtype):
        common.set_threads(common.THREADS)
        self.net = common.network(workload, dtype)
        self.X, self.Y = common.batch(workload, dtype)
        self.net.gradient(self.X, self.Y)  # compile (or load the cache) untimed

    def time_loop(self, workload, dtype):
        self.net.gradient(self.X, self.Y, method="loop")

    def time_matrix(self, workload, dtype):
        self.net.gradient(self.X, self.Y, method="matrix")

    def track_ratio(self, workload, dtype):
        """Loop time over matrix time, interleaved samples within one process."""
        return common.median_ratio(
            lambda: self.time_loop(workload, dtype),
            lambda: self.time_matrix(workload, dtype),
        )

    track_ratio.unit = "loop/matrix"

    def track_max_abs_diff(self, workload, dtype):
        """max |loop - matrix| over every parameter's gradient."""
        loop = self.net.gradient(self.X, self.Y, method="loop").flat
        matrix = self.net.gradient(self.X, self.Y, method="matrix").flat
        return float(np.max(np.abs(loop - matrix)))

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
