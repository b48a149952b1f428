"""The GPU kernels (``loopnet.cuda``) against the CPU loop kernels, under asv.

Every benchmark here is skipped (``NotImplementedError`` in ``setup``) where
numba-cuda is not installed or sees no GPU: asv's own environments leave
numba-cuda out, so run these with ``asv run -E existing:python`` in an
environment with the ``cuda`` extra (``pip install -e ".[cuda]"``).
``benchmarks/gpu_bench.py`` is the script form, with PyTorch on the same GPU
beside them.
"""

import numpy as np

from . import common

EPOCH_EXAMPLES = 10_000
"""Training examples in the timed GPU epoch (Nielsen's network, batch 10)."""

LEARNING_RATE = 3.0


def _require_gpu():
    """Return ``numba.cuda`` on a real GPU; otherwise asv skips the benchmark."""
    try:
        import loopnet.cuda as lc
        from loopnet.cuda._backend import simulator
    except ImportError as error:  # a commit before loopnet.cuda existed
        raise NotImplementedError(f"no loopnet.cuda: {error}") from error
    if not lc.is_available() or simulator():
        raise NotImplementedError("no GPU: numba-cuda missing or sees no device")
    from numba import cuda

    return cuda


class CudaGradient:
    """The large gradient on the GPU, parameters and data resident, against the CPU."""

    params = ([common.LARGE], common.DTYPES)
    param_names = ["workload", "dtype"]

    def setup(self, workload, dtype):
        self.cuda = _require_gpu()
        from loopnet.cuda import DeviceNetwork

        common.set_threads(common.THREADS)
        self.net = common.network(workload, dtype)
        X, Y = common.batch(workload, dtype)
        self.X, self.Y = X, Y
        self.device = DeviceNetwork(self.net)
        self.X_gpu, self.Y_gpu = self.cuda.to_device(X), self.cuda.to_device(Y)
        self.time_gpu(workload, dtype)  # compile (or load the cache) untimed
        self.net.gradient(X, Y, method="loop")

    def time_gpu(self, workload, dtype):
        self.device.gradient(self.X_gpu, self.Y_gpu)
        self.cuda.synchronize()

    def time_cpu_loop(self, workload, dtype):
        self.net.gradient(self.X, self.Y, method="loop")

    def track_max_abs_diff(self, workload, dtype):
        """max |GPU - CPU loop| over every parameter's gradient."""
        gpu = self.device.gradient(self.X_gpu, self.Y_gpu).copy_to_host()
        cpu = self.net.gradient(self.X, self.Y, method="loop").flat
        return float(np.max(np.abs(gpu - cpu)))

    track_max_abs_diff.unit = "abs. difference"


class CudaFitEpoch:
    """One epoch of Nielsen's batch-10 SGD: ``fit(device="cuda")`` against the CPU."""

    params = ([common.NIELSEN], common.DTYPES)
    param_names = ["workload", "dtype"]
    number = 1
    repeat = 3

    def setup(self, workload, dtype):
        _require_gpu()
        common.set_threads(common.THREADS)
        self.X, self.Y = common.batch(workload, dtype, n_examples=EPOCH_EXAMPLES)
        self.net = common.network(workload, dtype)
        for device in ("cuda", "cpu"):  # compile (or load the cache) untimed
            self._epoch(device, self.X[:20], self.Y[:20])

    def _epoch(self, device, X, Y):
        _, batch_size = common.WORKLOADS[common.NIELSEN]
        self.net.fit(
            X,
            Y,
            epochs=1,
            batch_size=batch_size,
            lr=LEARNING_RATE,
            seed=0,
            progress=False,
            device=device,
        )

    def time_gpu(self, workload, dtype):
        self._epoch("cuda", self.X, self.Y)

    def time_cpu(self, workload, dtype):
        self._epoch("cpu", self.X, self.Y)
