"""What runs on each Dask worker: its configuration plugin and the training tasks.

Every task is a module-level function of this module, so Dask pickles it by
name and the worker imports it (with the compiled kernels it calls, loaded from
the worker's own Numba cache); no jitted function is ever pickled. A task takes
its shard (the rows of ``X`` and ``Y`` that live on the worker) and the row
indexes it needs this time, or the results of such tasks, and returns arrays
and floats only.

Threads: Dask runs tasks on its own threads and sets no thread count for Numba
(dask/distributed#9075). ``numba.set_num_threads`` is per thread, so each task
sets it first, to the count the plugin was given (one by default: one worker
process per core); the plugin limits BLAS's threads for the whole process.
"""

import asyncio
import time
from typing import NamedTuple

import llvmlite.binding
import numba
import numpy as np
from distributed.diagnostics.plugin import WorkerPlugin
from threadpoolctl import threadpool_limits

from loopnet._cache import will_compile
from loopnet._jit import start_threads
from loopnet.kernels import backprop, gradients, training
from loopnet.kernels.backprop import Workspace, parallel_for
from loopnet.kernels.gradients import _bias_gradient
from loopnet.kernels.siblings import chosen
from loopnet.kernels.training import TrainingWorkspace
from loopnet.kernels.update import SGD, OptimizerState, Step, _network_step
from loopnet.layout import Layout

# The fast drivers, or their plain siblings under LOOPNET_KERNELS=plain, read when
# the worker imports loopnet (kernels.siblings).
_forward_pass = chosen(backprop._forward_pass)
_error_pass = chosen(backprop._error_pass)
_weight_gradient = chosen(gradients._weight_gradient)
_train_batches = chosen(training._train_batches)

PLUGIN_NAME = "loopnet"
"""The name the plugin is registered under (registering again replaces it)."""

KERNELS = {
    "forward": _forward_pass,
    "errors": _error_pass,
    "weight_gradient": _weight_gradient,
    "local_sgd": _train_batches,
    "step": _network_step,
}
"""The compiled drivers the tasks (and the driver's step) call, by use."""

_threads = 1  # set by the plugin; read by every task


def _use_threads():
    """Give the calling thread (a Dask executor thread) the plugin's Numba count."""
    numba.set_num_threads(min(_threads, numba.config.NUMBA_NUM_THREADS))
    start_threads()


def warm(dtypes):
    """Call every driver of ``KERNELS`` once per dtype on a tiny network.

    Loads them from this machine's Numba cache or, where it holds none for this
    CPU, compiles them (the cache's index names the CPU, so one cache folder
    shared by different machines keeps one entry per CPU). Numba types a
    ``Layout`` and the workspaces by their fields' dtypes, not their sizes, so
    the tiny network compiles the code every network runs.

    Returns
    -------
    dict
        ``compiled``: the ``"use/dtype"`` entries that were compiled rather
        than loaded; ``seconds``: the wall time.
    """
    started = time.perf_counter()
    compiled = []
    layout = Layout.build((3, 2, 2), ("sigmoid", "softmax"), "log_likelihood")
    for dtype in dtypes:
        dtype = np.dtype(dtype)
        compiled += [
            f"{use}/{dtype.name}"
            for use, kernel in KERNELS.items()
            if will_compile(kernel, dtype)
        ]
        params = np.full(layout.n_params, 0.1, dtype=dtype)
        X = np.full((2, 3), 0.5, dtype=dtype)
        Y = np.eye(2, dtype=dtype)
        errors = shard_errors((X, Y), params, np.arange(2), layout)
        pieces = [(layer, 0, int(layout.sizes[layer + 1])) for layer in range(2)]
        gradient_rows([errors], [np.arange(2)], layout, pieces, True)
        step = Step.of(SGD, dtype, 0.1)
        state = OptimizerState.zeros(SGD, layout.n_params, dtype)
        local_round((X, Y), params, state, np.arange(2), 1, layout, step)
        grad = np.zeros_like(params)
        _network_step(layout, params.copy(), grad, state, step, dtype.type(1))
    return {"compiled": compiled, "seconds": time.perf_counter() - started}


class LoopnetWorkerPlugin(WorkerPlugin):
    """Configures a Dask worker for loopnet: threads, then kernels warmed.

    Registered by ``loopnet.distributed.configure`` (which ``fit`` calls); Dask
    runs ``setup`` on every worker, and on each worker that joins later (one
    restarted after a crash, say).

    Parameters
    ----------
    threads : int
        Numba and BLAS threads per worker process: 1 for one process per core.
    dtypes : tuple of str
        The dtypes whose kernels are warmed.
    """

    def __init__(self, threads=1, dtypes=("float64",)):
        self.threads, self.dtypes = threads, tuple(dtypes)
        self.report = None

    async def setup(self, worker):
        """Set the threads, then warm the kernels off the event loop's thread."""
        global _threads
        _threads = self.threads
        threadpool_limits(self.threads)  # process-wide, for as long as it lives
        # a compile takes seconds: the worker keeps answering the scheduler
        report = await asyncio.to_thread(warm, self.dtypes)
        self.report = {
            **report,
            "cpu": llvmlite.binding.get_host_cpu_name(),
            "numba_threads": min(self.threads, numba.config.NUMBA_NUM_THREADS),
        }


def worker_report(dask_worker):
    """What the plugin did on this worker (``client.run`` calls it), or None."""
    plugin = dask_worker.plugins.get(PLUGIN_NAME)
    return None if plugin is None else plugin.report


def prepare_shard(X, Y, layout, dtype, first):
    """Check one block of rows of ``X`` and ``Y``; return it as the kernels take it.

    ``first`` is the block's first row in the whole data set, for the message.

    Raises
    ------
    ValueError, TypeError
        As ``Layout.check_examples``, naming the rows.
    """
    X, Y = np.asarray(X), np.asarray(Y)
    try:
        return layout.check_examples(X, Y, dtype)
    except (TypeError, ValueError) as error:
        rows = f"rows {first} to {first + X.shape[0] - 1}"
        raise type(error)(f"X, Y {rows}: {error}") from error


def shard_rows(shard):
    """How many rows a prepared shard holds."""
    return shard[0].shape[0]


class ShardErrors(NamedTuple):
    """What a shard's rows of a mini-batch give the gradient: ``shard_errors``.

    Attributes
    ----------
    X, Y : ndarray, shape (n_rows, n_0), (n_rows, n_L)
        The rows, in the mini-batch's order.
    Z_out : ndarray, shape (n_rows, n_L)
        The output layer's z^L (for the cost).
    A, D : ndarray, shape (_unit_offsets(sizes, n_rows)[-1],)
        a^l and delta^l of every layer, as ``backprop.Workspace`` holds them.
    seconds : float
        Compute time of the task.
    """

    X: np.ndarray
    Y: np.ndarray
    Z_out: np.ndarray
    A: np.ndarray
    D: np.ndarray
    seconds: float


def shard_errors(shard, params, rows, layout):
    """The forward pass and the errors delta^l of the examples ``rows`` of a shard.

    ``rows`` are indexes into the shard, in the mini-batch's order. The first
    half of a sync step: every example's a^l and delta^l, computed by the
    kernels of ``Network.fit`` (``_forward_pass``, ``_error_pass``), whose
    values for an example do not depend on the other examples of its batch.

    Returns
    -------
    ShardErrors
    """
    started = time.perf_counter()
    _use_threads()
    X, Y = shard[0][rows], shard[1][rows]  # gathered: one contiguous batch
    n_rows = X.shape[0]
    work = Workspace.allocate(layout, n_rows, params.dtype)
    parallel = parallel_for(layout, n_rows)
    _forward_pass(layout, params, X, work.Z, work.A, parallel)
    _error_pass(layout, params, X, Y, work.Z, work.A, work.D, parallel)
    n_out = int(layout.sizes[-1])
    Z_out = work.Z[work.Z.shape[0] - n_rows * n_out :].reshape(n_rows, n_out)
    seconds = time.perf_counter() - started
    return ShardErrors(X, Y, Z_out.copy(), work.A, work.D, seconds)


def gradient_rows(parts, positions, layout, pieces, outputs):
    """Rows of dC/dW^l and dC/dbias^l, summed over the whole mini-batch.

    The second half of a sync step. ``parts`` are the ``ShardErrors`` of the
    mini-batch's shards and ``positions[i]`` the places of ``parts[i]``'s rows
    in the mini-batch: put back in its order, the rows give the arrays
    ``Network.fit`` sums, and each sum over the examples is the one ``fit``
    adds, term for term in its order (rows j split at multiples of
    ``_tiles.TILE``, as ``fit``'s threads split them). On one thread: the rows
    are split over the workers' tasks instead.

    Parameters
    ----------
    parts : list of ShardErrors
    positions : list of ndarray of int64
    layout : Layout
    pieces : list of (int, int, int)
        ``(layer, start, stop)``: the rows j = start..stop-1 of that layer's W
        (and bias) to sum; ``start`` a multiple of ``_tiles.TILE``.
    outputs : bool
        Whether to return the mini-batch's output layer and targets too.

    Returns
    -------
    gradients : list of (ndarray, ndarray or None)
        Per piece, its rows of dC/dW, shape (stop - start, n_prev), and of
        dC/dbias (None without biases).
    batch_outputs : (Z_out, A_out, Y) or None
        The mini-batch's z^L, a^L and targets in its order, when ``outputs``.
    seconds : float
        The slowest part's compute time plus this task's.
    """
    started = time.perf_counter()
    _use_threads()
    sizes = [int(n) for n in layout.sizes]
    n_layers = len(sizes) - 1
    counts = [part.X.shape[0] for part in parts]
    n_batch = sum(counts)
    offsets = [np.cumsum([0] + [n * count for n in sizes[1:]]) for count in counts]

    def in_order(layer, buffers):
        """Layer ``layer``'s (n_batch, n_l) block of ``buffers``, in batch order."""
        n_l = sizes[layer + 1]
        whole = np.empty((n_batch, n_l), dtype=parts[0].X.dtype)
        for buffer, start, place in zip(buffers, offsets, positions, strict=True):
            whole[place] = buffer[start[layer] : start[layer + 1]].reshape(-1, n_l)
        return whole

    def stacked(arrays):
        whole = np.empty((n_batch, arrays[0].shape[1]), dtype=arrays[0].dtype)
        for array, place in zip(arrays, positions, strict=True):
            whole[place] = array
        return whole

    deltas, inputs, results = {}, {}, []
    for layer, start, stop in pieces:
        if layer not in deltas:
            deltas[layer] = in_order(layer, [part.D for part in parts])
            inputs[layer] = (
                stacked([part.X for part in parts])
                if layer == 0
                else in_order(layer - 1, [part.A for part in parts])
            )
        delta = np.ascontiguousarray(deltas[layer][:, start:stop])
        dW = np.empty((stop - start, sizes[layer]), dtype=delta.dtype)
        _weight_gradient(delta, inputs[layer], dW)
        dbias = None
        if layout.b_offsets[layer] >= 0:
            dbias = np.empty(stop - start, dtype=delta.dtype)
            _bias_gradient(delta, dbias)
        results.append((dW, dbias))
    batch_outputs = None
    if outputs:
        last = n_layers - 1
        batch_outputs = (
            stacked([part.Z_out for part in parts]),
            in_order(last, [part.A for part in parts]),
            stacked([part.Y for part in parts]),
        )
    seconds = max(part.seconds for part in parts) + time.perf_counter() - started
    return results, batch_outputs, seconds


def local_round(shard, params, state, rows, batch_size, layout, step):
    """Train a copy of ``params`` on mini-batches of ``rows``; loopnet's fit loop.

    Mini-batch i is ``rows[i * batch_size : (i + 1) * batch_size]`` (indexes
    into the shard), the last one possibly shorter, each stepped by the
    compiled loop of ``Network.fit`` (``_train_batches``) from ``state``.

    Returns
    -------
    params, state
        Copies, trained; the inputs are left alone (Dask may hand the same
        objects to other tasks of this worker).
    cost : float
        sum of C_b over ``rows``, each taken before its mini-batch's step.
    seconds : float
        Compute time of the task.
    """
    started = time.perf_counter()
    _use_threads()
    X, Y = shard[0][rows], shard[1][rows]  # this round's examples, in order
    params = params.copy()
    state = OptimizerState(*(array.copy() for array in state))
    n_examples = X.shape[0]
    work = TrainingWorkspace.allocate(layout, min(batch_size, n_examples), X.dtype)
    n_batches = -(-n_examples // batch_size)
    order = np.arange(n_examples, dtype=np.int64)
    parallel = parallel_for(layout, work.X_batch.shape[0])
    cost = _train_batches(
        layout,
        params,
        X,
        Y,
        order,
        0,
        n_batches,
        batch_size,
        step,
        state,
        work,
        0.0,
        parallel,
    )
    return params, state, float(cost), time.perf_counter() - started
