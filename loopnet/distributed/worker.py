"""What runs on each Dask worker: its configuration plugin and the training tasks.

Every task is a module-level function of this module, so Dask pickles it by
name and the worker imports it (with the compiled kernels it calls, loaded from
the worker's own Numba cache); no jitted function is ever pickled. Each task
takes its shard (the rows of ``X`` and ``Y`` that live on the worker) and the
row indexes it needs this time, and returns arrays and floats only.

Threads: Dask runs tasks on its own threads and sets no thread count for Numba
(dask/distributed#9075). ``numba.set_num_threads`` is per thread, so each task
sets it first, to the count the plugin was given (one by default: one worker
process per core); the plugin limits BLAS's threads for the whole process.
"""

import asyncio
import time

import llvmlite.binding
import numba
import numpy as np
from distributed.diagnostics.plugin import WorkerPlugin
from threadpoolctl import threadpool_limits

from loopnet._cache import will_compile
from loopnet._jit import start_threads
from loopnet.costs import example_costs
from loopnet.kernels import backprop, training
from loopnet.kernels.backprop import Workspace, parallel_for
from loopnet.kernels.siblings import chosen
from loopnet.kernels.training import TrainingWorkspace
from loopnet.kernels.update import SGD, OptimizerState, Step, _network_step
from loopnet.layout import Layout

# The fast drivers, or their plain siblings under LOOPNET_KERNELS=plain, read when
# the worker imports loopnet (kernels.siblings).
_network_gradient = chosen(backprop._network_gradient)
_train_batches = chosen(training._train_batches)

PLUGIN_NAME = "loopnet"
"""The name the plugin is registered under (registering again replaces it)."""

KERNELS = {
    "gradient": _network_gradient,
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
        shard_gradient((X, Y), params, np.arange(2), layout)
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


def shard_gradient(shard, params, rows, layout):
    """sum_{b in rows} dC_b/dparams and sum_{b in rows} C_b, on this shard.

    The summed gradient (scale 1, no L2: the driver's step adds the decay) of
    the examples ``rows`` (indexes into the shard, in the mini-batch's order),
    by the same compiled driver as ``Network.gradient``.

    Returns
    -------
    grad : ndarray, shape (n_params,)
    cost : float
        sum of C_b, each taken in this forward pass (before the step).
    seconds : float
        Compute time of the task.
    """
    started = time.perf_counter()
    _use_threads()
    X, Y = shard[0][rows], shard[1][rows]  # gathered: one contiguous batch
    n_batch, dtype = X.shape[0], params.dtype
    work = Workspace.allocate(layout, n_batch, dtype)
    grad = np.empty_like(params)
    one, zero, parallel = dtype.type(1), dtype.type(0), parallel_for(layout, n_batch)
    _network_gradient(layout, params, X, Y, one, zero, work, grad, parallel)
    n_out = int(layout.sizes[-1])
    tail = work.Z.shape[0] - n_batch * n_out  # the output layer's block is last
    Z_out = work.Z[tail:].reshape(n_batch, n_out)
    A_out = work.A[tail:].reshape(n_batch, n_out)
    with np.errstate(all="ignore"):  # a diverged cost is reported, not warned
        costs = example_costs(
            Z_out, A_out, Y, layout.activation_names[-1], layout.cost_name
        )
    return grad, float(costs.sum()), time.perf_counter() - started


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
