"""Forward pass of the whole network: the loop kernels against the matrix twin."""

import numpy as np

from loopnet import reference
from loopnet.kernels.backprop import _forward_pass, _unit_offsets

from . import common


class Forward:
    """a^L for one batch: ``_forward_pass`` into preallocated buffers vs NumPy."""

    params = (list(common.WORKLOADS), common.DTYPES)
    param_names = ["workload", "dtype"]

    def setup(self, workload, dtype):
        common.set_threads(common.THREADS)
        self.net = net = common.network(workload, dtype)
        self.X, _ = common.batch(workload, dtype)
        n_units = _unit_offsets(net._sizes, self.X.shape[0])[-1]
        self.Z = np.empty(n_units, dtype=dtype)
        self.A = np.empty(n_units, dtype=dtype)
        self.biases = net.biases if net.bias else [None] * len(net.biases)
        self.time_loop(workload, dtype)  # compile (or load the cache) untimed

    def time_loop(self, workload, dtype):
        net = self.net
        _forward_pass(
            net.params,
            net._sizes,
            net._w_offsets,
            net._b_offsets,
            net._codes,
            self.X,
            self.Z,
            self.A,
        )

    def time_matrix(self, workload, dtype):
        reference.forward(self.net.weights, self.biases, self.X, self.net.activations)
