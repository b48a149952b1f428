"""One epoch of mini-batch SGD: ``Network.fit`` against its honest peers."""

import loopnet as ln

from . import common, contenders

RATIO_SAMPLES = {"repeat": 15, "min_seconds": 0.05}
"""Interleaved samples of a ratio: 15 of at least 50 ms each (the gate's noise,
benchmarks/README.md, shrank with more and longer samples)."""

EPOCH = {
    common.TINY: 300,
    common.NIELSEN: 1000,
    "784-100-10/b32": 640,
    "784-256-256-10/b64": 1280,
    "784-100-10/b200": 4000,
    "784-256-256-10/b128": 2560,
    common.LARGE: 1024,
}
"""Examples in the training set of each workload; minibatches are its batch size.

The sweep's workloads (``common.SWEEP``) train on 20 mini-batches each, the
[1024, 1024, 1024, 10] network on 4: fewer examples than ``python -m
benchmarks.fit_epoch --sweep`` uses, so that a benchmark's setup and samples
take seconds."""

WORKLOADS = list(common.EPOCH_WORKLOADS)
"""The tiny network, then the sweep's workloads."""

LEARNING_RATE = 0.5


def _epoch_contender(form, workload, dtype):
    """The workload's epoch contender ``form``, built; asv skips what cannot run."""
    if not hasattr(ln.Network, "fit"):
        raise NotImplementedError("this commit's Network has no fit")
    common.set_threads(common.THREADS)
    sizes, batch_size = common.EPOCH_WORKLOADS[workload]
    X, Y = common.examples(sizes, dtype, EPOCH[workload])
    try:
        contender = contenders.EPOCHS[form](sizes, batch_size, LEARNING_RATE, X, Y)
    except ImportError as error:  # JAX or PyTorch not installed
        raise NotImplementedError(str(error)) from error
    return contender, contenders.initial_parameters(sizes, dtype)


class EpochForms:
    """One epoch by every form (``benchmarks/contenders.py``), one graph per workload.

    ``fit`` is ``Network.fit``; ``numpy`` the tight loop a user writes; ``jax``
    and ``torch`` where installed. Every form trains from the same parameters
    through the same shuffle.
    """

    params = (list(contenders.EPOCHS), WORKLOADS, common.DTYPES)
    param_names = ["form", "workload", "dtype"]
    # 56 cells: 2-10 samples of at most 2 s each keep a commit's run short
    repeat = (2, 10, 2.0)

    def setup(self, form, workload, dtype):
        self.contender, (self.weights, self.biases) = _epoch_contender(
            form, workload, dtype
        )

    def time_epoch(self, form, workload, dtype):
        self.contender.epoch(self.weights, self.biases, 0)


class EpochRatio:
    """``fit``'s epoch time over the tight NumPy loop's, interleaved in one process."""

    params = (WORKLOADS, common.DTYPES)
    param_names = ["workload", "dtype"]
    unit = "fit time / NumPy time"

    def setup(self, workload, dtype):
        self.fit, (self.weights, self.biases) = _epoch_contender("fit", workload, dtype)
        self.numpy, _ = _epoch_contender("numpy", workload, dtype)

    def track_fit_over_numpy(self, workload, dtype):
        return common.median_ratio(
            lambda: self.fit.epoch(self.weights, self.biases, 0),
            lambda: self.numpy.epoch(self.weights, self.biases, 0),
            **RATIO_SAMPLES,
        )


class FitEpochMemory:
    """Peak memory of a process that ran one ``fit`` epoch, and of one that did not."""

    params = ([common.TINY, common.NIELSEN], common.DTYPES)
    param_names = ["workload", "dtype"]

    def setup(self, workload, dtype):
        self.fit, (self.weights, self.biases) = _epoch_contender("fit", workload, dtype)

    def peakmem_fit_epoch(self, workload, dtype):
        self.fit.epoch(self.weights, self.biases, 0)

    def peakmem_reference(self, workload, dtype):
        """The same process, setup included, without the epoch: the baseline."""
