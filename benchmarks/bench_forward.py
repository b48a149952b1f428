"""Forward pass of the whole network: the loop kernels against the matrix twin."""

from loopnet import reference

from . import common


class Forward:
    """a^L for one batch: ``_forward_pass`` into preallocated buffers vs NumPy."""

    params = (list(common.WORKLOADS), common.DTYPES)
    param_names = ["workload", "dtype"]

    def setup(self, workload, dtype):
        common.set_threads(common.THREADS)
        self.net = net = common.network(workload, dtype)
        self.X, _ = common.batch(workload, dtype)
        self.forward = common.bare_forward(net, self.X)
        self.biases = net.biases if net.bias else [None] * len(net.biases)
        self.time_loop(workload, dtype)  # compile (or load the cache) untimed

    def time_loop(self, workload, dtype):
        self.forward()

    def time_matrix(self, workload, dtype):
        reference.forward(self.net.weights, self.biases, self.X, self.net.activations)
