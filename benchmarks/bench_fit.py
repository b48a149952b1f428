"""One epoch of minibatch SGD: ``Network.fit`` against a NumPy loop over the twin."""

import numpy as np

import loopnet as ln

from . import common

EPOCH = {common.TINY: 300, common.NIELSEN: 1000}
"""Examples in the training set of each workload; minibatches are its batch size."""

LEARNING_RATE = 0.5


def _require_fit():
    if not hasattr(ln.Network, "fit"):
        raise NotImplementedError("this commit's Network has no fit")


def matrix_epoch(net, X, Y, batch_size, lr, rng):
    """The matrix form of one epoch: shuffle, then W -= lr * dC/dW per minibatch.

    ``reference.gradient`` gives the mean gradient of each minibatch; the update is
    written into ``net``'s weights and biases in place, as ``fit`` does.
    """
    order = rng.permutation(X.shape[0])
    for start in range(0, X.shape[0], batch_size):
        rows = order[start : start + batch_size]
        dWs, dbiases = common.reference_gradient(net, X[rows], Y[rows])
        for W, dW in zip(net.weights, dWs, strict=True):
            W -= lr * dW
        if net.bias:
            for bias, dbias in zip(net.biases, dbiases, strict=True):
                bias -= lr * dbias


class FitEpoch:
    """``net.fit(X, Y, epochs=1, ...)`` vs the same epoch in NumPy (tiny, Nielsen)."""

    params = ([common.TINY, common.NIELSEN], common.DTYPES)
    param_names = ["workload", "dtype"]

    def setup(self, workload, dtype):
        _require_fit()
        common.set_threads(common.THREADS)
        self.net = common.network(workload, dtype)
        self.twin = self.net.copy()
        self.batch_size = common.WORKLOADS[workload][1]
        self.X, self.Y = common.batch(workload, dtype, n_examples=EPOCH[workload])
        self.lr = np.dtype(dtype).type(LEARNING_RATE)
        self.rng = np.random.default_rng(2)
        self.time_loop(workload, dtype)  # compile (or load the cache) untimed

    def time_loop(self, workload, dtype):
        self.net.fit(
            self.X,
            self.Y,
            epochs=1,
            batch_size=self.batch_size,
            lr=LEARNING_RATE,
            progress=False,
        )

    def time_matrix(self, workload, dtype):
        matrix_epoch(self.twin, self.X, self.Y, self.batch_size, self.lr, self.rng)


class FitEpochMemory:
    """Peak memory of a process that ran one ``fit`` epoch, and of one that did not."""

    params = ([common.TINY, common.NIELSEN], common.DTYPES)
    param_names = ["workload", "dtype"]

    def setup(self, workload, dtype):
        self.epoch = FitEpoch()
        self.epoch.setup(workload, dtype)

    def peakmem_fit_epoch(self, workload, dtype):
        self.epoch.time_loop(workload, dtype)

    def peakmem_reference(self, workload, dtype):
        """The same process, setup included, without the epoch: the baseline."""
