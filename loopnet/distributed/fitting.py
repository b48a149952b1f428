"""The two training loops on Dask: synchronous data-parallel SGD and local SGD.

Synchronous (``mode="sync"``): per mini-batch, in two layers of tasks. Each
shard holding some of its rows runs their forward pass and errors delta^l
(``worker.shard_errors``); then each task of the second layer puts the rows
back in the mini-batch's order and sums, for its rows j of each W^l and bias^l,
sum_{b in B} dC_b/dparams over the whole mini-batch (``worker.gradient_rows``),
adding the terms in ``fit``'s order. The driver puts the rows together and
takes ``fit``'s step with scale 1/m (``kernels.update._network_step``), and
adds the examples' costs to the epoch's as ``fit`` does. Same shuffles, same
sums and same steps as ``Network.fit``: its parameters and history bit for bit,
where the driver and the workers run the same compiled code (the same CPU).

Local SGD (``mode="local_sgd"``): per round, each shard trains a copy of the
parameters by ``fit``'s compiled loop on its next ``sync_every`` mini-batches;
the driver averages the copies (and the optimizer's state) in shard order.

In both the network's parameters change only on the driver, once per step or
round, after every shard's result has arrived: a worker lost in between costs a
retry of that step, never a mix of two.
"""

import math
import sys
import time
from concurrent.futures import CancelledError
from dataclasses import dataclass, field

import numpy as np
from distributed import Client

from loopnet import _validation as check
from loopnet.costs import add_costs
from loopnet.distributed import worker
from loopnet.distributed.shards import Shards, _workers
from loopnet.kernels._tiles import TILE
from loopnet.kernels.update import (
    ADAM,
    NESTEROV,
    SGD,
    OptimizerState,
    Step,
    _network_step,
)
from loopnet.training import (
    DivergenceError,
    History,
    _check_validation,
    _show_progress,
    chunk_batches,
    epoch_bar,
)

MODES = ("sync", "local_sgd")
OPTIMIZERS = {"sgd": SGD, "nesterov": NESTEROV, "adam": ADAM}
INLINE_BYTES = 1 << 16
"""Parameters up to this size travel inside each step's tasks, not scattered."""
RETRIES = 3
"""Times a step is run again after losing a worker, before ``fit`` gives up."""

# What a lost worker looks like from the driver: its scattered data (a shard, the
# step's parameters) cancelled, or its connection closed (CommClosedError is one).
_LOST = (CancelledError, OSError)


class WorkerLostError(RuntimeError):
    """Workers were lost more often than ``retries`` allows within one step.

    ``net.params`` are those after the last completed step (or round), which
    ``error.epoch`` and ``error.step`` name, and ``error.history`` holds the
    epochs completed before.
    """

    def __init__(self, message, history, epoch, step):
        super().__init__(message)
        self.history, self.epoch, self.step = history, epoch, step


@dataclass
class DistributedHistory(History):
    """``History`` with the time of every step (sync) or round (local SGD).

    Attributes
    ----------
    step_seconds : list of float
        Wall time of each step on the driver, from sending the parameters to
        having the new ones.
    compute_seconds : list of float
        The slowest task's compute time in it, on its worker (sync: the
        slowest shard's first task plus the slowest second-layer task).
    reduce_seconds : list of float
        The driver's sum (or average) of the shards' results and its step.
    communication_seconds : list of float
        The rest: scatter of the parameters, Dask's scheduling and the
        gather of the results, ``step - compute - reduce``.
    n_shards : int
        Blocks of rows the steps were split over.
    """

    step_seconds: list = field(default_factory=list)
    compute_seconds: list = field(default_factory=list)
    reduce_seconds: list = field(default_factory=list)
    communication_seconds: list = field(default_factory=list)
    n_shards: int = 0

    def record(self, wall, compute, reduce):
        """Add one step's times."""
        self.step_seconds.append(wall)
        self.compute_seconds.append(compute)
        self.reduce_seconds.append(reduce)
        self.communication_seconds.append(max(0.0, wall - compute - reduce))


def configure(client, threads=1, dtypes=("float64",)):
    """Register ``LoopnetWorkerPlugin`` on every worker; return what each did.

    Parameters
    ----------
    client : distributed.Client
    threads : int
        Numba and BLAS threads per worker process.
    dtypes : sequence of str
        The dtypes whose kernels each worker warms.

    Returns
    -------
    dict of str to dict
        Per worker address: ``compiled`` (the kernels it had to compile, not
        load), ``seconds``, ``cpu`` and ``numba_threads``.
    """
    threads = check.check_count(threads, "threads")
    plugin = worker.LoopnetWorkerPlugin(threads, dtypes)
    for attempt in range(RETRIES + 1):
        try:
            client.register_plugin(plugin, name=worker.PLUGIN_NAME)
            return client.run(worker.worker_report)
        except OSError:  # a worker that died, not yet removed by the scheduler
            if attempt == RETRIES:
                raise
            time.sleep(0.1 * 2**attempt)


def _optimizer_step(optimizer, dtype, lr, momentum, beta1, beta2, eps):
    """The checked ``Step`` of ``optimizer``, in ``dtype``, without L2 decay yet."""
    check.check_choice(optimizer, "optimizer", tuple(OPTIMIZERS))
    lr = check.check_real(lr, "lr", 0.0, low_open=True, dtype=dtype)
    momentum = check.check_real(momentum, "momentum", 0.0, 1.0)
    beta1 = check.check_real(beta1, "beta1", 0.0, 1.0)
    beta2 = check.check_real(beta2, "beta2", 0.0, 1.0)
    eps = check.check_real(eps, "eps", 0.0, low_open=True, dtype=dtype)
    kind = OPTIMIZERS[optimizer]
    return Step.of(kind, dtype, lr, 0.0, momentum, beta1, beta2, eps)


def fit(
    net,
    X,
    Y,
    client,
    mode="sync",
    epochs=1,
    batch_size=10,
    lr=0.1,
    l2=0.0,
    momentum=0.0,
    optimizer="sgd",
    beta1=0.9,
    beta2=0.999,
    eps=1e-8,
    seed=None,
    sync_every=None,
    validation=None,
    progress=True,
    callback=None,
    threads=1,
    retries=RETRIES,
):
    """Train ``net`` in place on a Dask cluster, as ``Network.fit`` does alone.

    Parameters
    ----------
    net : Network
        Trained in place; its parameters change on the driver only.
    X, Y : ndarray or dask.array.Array, shape (N, sizes[0]), (N, sizes[-1])
        NumPy arrays are checked here and scattered once, a block of rows per
        worker; a ``dask.array`` stays where its chunks are, a shard per chunk
        of rows (``Y`` may then be a NumPy array), checked on the workers.
    client : distributed.Client
        The cluster's client.
    mode : {"sync", "local_sgd"}
        ``"sync"``: every mini-batch's gradient summed as ``fit`` sums it,
        then ``fit``'s step: ``fit``'s parameters bit for bit; for networks
        and batches whose step takes well over 10 ms. ``"local_sgd"``: each
        shard trains its own copy for ``sync_every`` mini-batches, then the
        copies are averaged.
    epochs, batch_size, lr, l2, momentum, seed, validation, progress
        As ``Network.fit``: the same shuffle (epoch e trains on the e-th
        ``rng.permutation(N)``), mini-batches, L2 decay l2/N and step.
        ``progress`` shows one bar over steps (sync) or rounds (local SGD).
    optimizer : {"sgd", "nesterov", "adam"}
        SGD (classical momentum when ``momentum > 0``), Nesterov momentum, or
        Adam with ``beta1``, ``beta2``, ``eps`` (``kernels.update.Step``).
    sync_every : int, optional
        Local SGD: mini-batches per shard between averages. By default, enough
        for about ``loopnet.training.CHUNK_WORK`` multiply-adds per task
        (about 0.1 s), far above Dask's per-task cost.
    callback : callable, optional
        ``callback(epoch, step)``, both from 1, after each completed step
        (sync) or round (local SGD); an exception it raises stops ``fit``
        with the parameters of that step.
    threads : int
        Numba and BLAS threads per worker process (``configure``).
    retries : int
        How many times a step may be run again after losing a worker.

    Returns
    -------
    DistributedHistory
        ``History``'s per-epoch entries, and the time of every step split
        into compute, the driver's reduction and communication.

    Raises
    ------
    ValueError, TypeError
        For a bad argument, naming it, before the parameters change.
    DivergenceError
        As ``Network.fit``: the parameters are those before the step (or
        round) that would have made them, or its cost, non-finite.
    WorkerLostError
        When a step lost workers more than ``retries`` times; the parameters
        are those after the last completed step.

    Notes
    -----
    Local SGD averages, per round, the shards that had mini-batches left
    (every one but in an epoch's last round), weights each shard equally,
    and takes Adam's step count t from the furthest.

    Examples
    --------
    >>> import numpy as np
    >>> import loopnet as ln
    >>> from distributed import Client, LocalCluster
    >>> from loopnet import distributed
    >>> cluster = LocalCluster(n_workers=2, threads_per_worker=1,
    ...                        host="127.0.0.1", dashboard_address=None)
    >>> client = Client(cluster)
    >>> X = np.random.default_rng(0).random((40, 4))
    >>> Y = np.eye(2)[(X[:, 0] > 0.5).astype(int)]
    >>> net, alone = ln.Network([4, 3, 2], seed=0), ln.Network([4, 3, 2], seed=0)
    >>> _ = alone.fit(X, Y, epochs=2, batch_size=8, seed=0, progress=False)
    >>> _ = distributed.fit(net, X, Y, client, epochs=2, batch_size=8, seed=0,
    ...                     progress=False)
    >>> bool(np.array_equal(net.params, alone.params))
    True
    >>> client.close(); cluster.close()
    """
    if not isinstance(client, Client):
        raise TypeError(
            f"client must be a distributed.Client, got {type(client).__name__}"
        )
    check.check_choice(mode, "mode", MODES)
    epochs = check.check_count(epochs, "epochs")
    batch_size = check.check_count(batch_size, "batch_size")
    l2 = check.check_l2(l2, net.dtype)
    rng = check.check_seed(seed)
    validation = _check_validation(net.layout, net.dtype, validation)
    show = _show_progress(progress)
    if sync_every is not None:
        sync_every = check.check_count(sync_every, "sync_every")
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable, got {callback!r}")
    retries = check.check_count(retries, "retries", 0)
    threads = check.check_count(threads, "threads")
    net.layout.check_params(net.params)
    step = _optimizer_step(optimizer, net.dtype, lr, momentum, beta1, beta2, eps)
    history = DistributedHistory()
    started = time.perf_counter()
    configure(client, threads, (net.dtype.name,))
    history.compile_seconds = time.perf_counter() - started
    shards = Shards.place(client, net, X, Y)
    history.n_shards, n_examples = len(shards), shards.n_examples
    # l2 / N in float64, rounded once to the network's dtype, as fit does
    step = step._replace(decay=net.dtype.type(l2 / n_examples))
    batch_size = min(batch_size, n_examples)
    trainer = (_SyncTrainer if mode == "sync" else _LocalTrainer)(
        net, shards, step, batch_size, retries, history
    )
    if mode == "sync":
        trainer.pieces = _gradient_pieces(net.layout, len(_workers(client)))
    else:
        trainer.sync_every = sync_every or _default_sync_every(net, batch_size)
    try:
        _epochs(net, trainer, rng, epochs, validation, show, callback, history)
    finally:
        shards.release()
    return history


def _default_sync_every(net, batch_size):
    """Mini-batches of about ``CHUNK_WORK`` multiply-adds (``fit``'s chunks)."""
    return chunk_batches(net.n_params, batch_size, sys.maxsize)


def _gradient_pieces(layout, n_tasks):
    """The rows of the weight gradients each second-layer sync task sums.

    Each layer's rows j in up to ``n_tasks`` blocks that start at multiples of
    ``_tiles.TILE`` (as ``fit``'s threads split them: the same bits), handed
    out in turn, so that the blocks of small layers go to different tasks.

    Returns
    -------
    list of list of (int, int, int)
        Per task (none empty), its ``(layer, start, stop)`` blocks.
    """
    tasks = [[] for _ in range(n_tasks)]
    sizes = layout.sizes.tolist()
    turn = 0
    for layer in range(len(sizes) - 1):
        n_l = sizes[layer + 1]
        height = TILE * math.ceil(math.ceil(n_l / TILE) / n_tasks)
        for start in range(0, n_l, height):
            tasks[turn % n_tasks].append((layer, start, min(start + height, n_l)))
            turn += 1
    return [pieces for pieces in tasks if pieces]


def _epochs(net, trainer, rng, epochs, validation, show, callback, history):
    """The epochs: shuffle, steps (or rounds), bar, history, validation.

    ``trainer.epoch`` yields, per step (or round), its examples and the epoch's
    running cost sum after it.
    """
    n_examples = trainer.shards.n_examples
    with epoch_bar(epochs, n_examples, show) as bar:
        for epoch in range(epochs):
            bar.set_description(f"epoch {epoch + 1}/{epochs}")
            started = time.perf_counter()
            order = rng.permutation(n_examples).astype(np.int64, copy=False)
            cost_sum, done = 0.0, 0
            for number, (n_done, cost_sum) in enumerate(trainer.epoch(order, epoch), 1):
                done += n_done
                bar.update(n_done)
                bar.set_postfix(cost=f"{cost_sum / done:.4g}", refresh=False)
                if callback is not None:
                    callback(epoch + 1, number)
            history.seconds.append(time.perf_counter() - started)
            history.cost.append(float(cost_sum / n_examples))
            if validation is not None:
                X_val, Y_val = validation
                history.val_cost.append(float(net.cost(X_val, Y_val)))
                history.val_accuracy.append(net.score(X_val, Y_val))


class _Trainer:
    """What both modes share: the step's constants, its state, retries."""

    def __init__(self, net, shards, step, batch_size, retries, history):
        self.net, self.shards, self.step = net, shards, step
        self.batch_size, self.retries, self.history = batch_size, retries, history
        self.client = shards.client
        self.state = OptimizerState.zeros(step.kind, net.n_params, net.dtype)

    def _run(self, submit, epoch, step):
        """``client.gather(submit())``, submitted again after a lost worker."""
        for attempt in range(self.retries + 1):
            try:
                if attempt:
                    # give the scheduler time to see the loss, a nanny to restart
                    time.sleep(0.1 * 2**attempt)
                    self.shards.refresh()
                return self.client.gather(submit())
            except _LOST as error:
                lost = error
        raise WorkerLostError(
            f"epoch {epoch + 1}, step {step + 1}: workers were lost"
            f" {self.retries + 1} times ({type(lost).__name__}: {lost}). The"
            " network's parameters are those after the last completed step;"
            " retries= allows more attempts",
            self.history,
            epoch + 1,
            step,
        ) from lost

    def _share(self, value):
        """``value`` for this step's tasks: in them when small, else scattered.

        Dask copies a task's arguments through the scheduler; a large array is
        sent once to one worker, and the others fetch it from there.
        """
        arrays = value if isinstance(value, tuple) else (value,)
        if sum(array.nbytes for array in arrays) <= INLINE_BYTES:
            return value
        return self.client.scatter(value, hash=False)

    def _diverged(self, epoch, batch, what):
        return DivergenceError(
            f"training diverged in epoch {epoch + 1}, mini-batch {batch + 1}: {what}."
            " fit kept the parameters from before that step and stopped. Try a"
            f" smaller lr (lr={self.step.lr:g}) or rescale the inputs.",
            self.history,
            epoch + 1,
            batch + 1,
        )


class _SyncTrainer(_Trainer):
    """Synchronous data-parallel SGD: ``fit``'s sums and steps, over the shards."""

    pieces = ()  # per second-layer task, its blocks of rows (_gradient_pieces)

    def epoch(self, order, epoch):
        """Step through the epoch's mini-batches; yield (examples, running cost)."""
        net, layout, params = self.net, self.net.layout, self.net.params
        output = int(layout.activations[-1])
        n_examples, cost_sum = order.shape[0], 0.0
        for batch, first in enumerate(range(0, n_examples, self.batch_size)):
            rows = order[first : first + self.batch_size]
            parts = self.shards.split(rows)
            started = time.perf_counter()

            def submit(parts=parts):
                params_future = self._share(params)
                errors = [
                    self.client.submit(
                        worker.shard_errors,
                        self.shards.futures[s],
                        params_future,
                        local,
                        layout,
                        pure=False,
                    )
                    for s, local, _ in parts
                ]
                places = [places for _, _, places in parts]
                return [
                    self.client.submit(
                        worker.gradient_rows,
                        errors,
                        places,
                        layout,
                        pieces,
                        task == 0,  # the first also sends the outputs back
                        pure=False,
                    )
                    for task, pieces in enumerate(self.pieces)
                ]

            results = self._run(submit, epoch, batch)
            reduced = time.perf_counter()
            grad = self._gradient(results)
            # fit's running cost: each example's C_b added in the mini-batch's
            # order; a diverged one is reported below, not warned (without the JIT)
            with np.errstate(all="ignore"):
                after = add_costs(layout.cost, output, *results[0][1], cost_sum)
            if not (math.isfinite(after) and np.isfinite(grad).all()):
                raise self._diverged(epoch, batch, "its cost or gradient is not finite")
            saved = params.copy(), [array.copy() for array in self.state]
            scale = net.dtype.type(1) / net.dtype.type(rows.shape[0])
            _network_step(layout, params, grad, self.state, self.step, scale)
            if not np.isfinite(params).all():
                params[...] = saved[0]
                for array, old in zip(self.state, saved[1], strict=True):
                    array[...] = old
                what = "its step made parameters non-finite"
                raise self._diverged(epoch, batch, what)
            cost_sum = after
            now = time.perf_counter()
            compute = max(seconds for _, _, seconds in results)
            self.history.record(now - started, compute, now - reduced)
            yield rows.shape[0], cost_sum

    def _gradient(self, results):
        """The whole gradient from the second-layer tasks' blocks of rows."""
        layout = self.net.layout
        grad = np.empty(self.net.n_params, dtype=self.net.dtype)
        for pieces, (blocks, _, _) in zip(self.pieces, results, strict=True):
            for (layer, start, stop), (dW, dbias) in zip(pieces, blocks, strict=True):
                first = layout.w_offsets[layer] + start * layout.sizes[layer]
                grad[first : first + dW.size] = dW.reshape(-1)
                if dbias is not None:
                    first = layout.b_offsets[layer]
                    grad[first + start : first + stop] = dbias
        return grad


class _LocalTrainer(_Trainer):
    """Local SGD: shards train copies for ``sync_every`` mini-batches; average."""

    sync_every = 1

    def epoch(self, order, epoch):
        """Run the epoch's rounds; yield (examples, running cost) per round."""
        params, starts = self.net.params, self.shards.starts
        owner = np.searchsorted(starts, order, side="right") - 1
        # each shard's rows in the epoch's order: fit's shuffle, restricted
        local = [order[owner == s] - starts[s] for s in range(len(self.shards))]
        per_round = self.sync_every * self.batch_size
        n_rounds = max(math.ceil(rows.shape[0] / per_round) for rows in local)
        cost_sum = 0.0
        for round_ in range(n_rounds):
            segment = slice(round_ * per_round, (round_ + 1) * per_round)
            parts = [(s, rows[segment]) for s, rows in enumerate(local)]
            parts = [(s, rows) for s, rows in parts if rows.size]
            started = time.perf_counter()

            def submit(parts=parts):
                params_future = self._share(params)
                state_future = self._share(tuple(self.state))
                return [
                    self.client.submit(
                        worker.local_round,
                        self.shards.futures[s],
                        params_future,
                        state_future,
                        rows,
                        self.batch_size,
                        self.net.layout,
                        self.step,
                        pure=False,
                    )
                    for s, rows in parts
                ]

            results = self._run(submit, epoch, round_)
            reduced = time.perf_counter()
            mean = _mean([result[0] for result in results])
            states = [result[1] for result in results]
            cost = cost_sum + sum(result[2] for result in results)
            batch = round_ * self.sync_every
            if not (math.isfinite(cost) and np.isfinite(mean).all()):
                what = "a shard's round made its cost or parameters non-finite"
                raise self._diverged(epoch, batch, what)
            params[...] = mean  # one assignment: never half a round
            for name in ("velocity", "m", "v"):
                arrays = [getattr(state, name) for state in states]
                getattr(self.state, name)[...] = _mean(arrays)
            self.state.t[0] = max(int(state.t[0]) for state in states)
            cost_sum = cost
            now = time.perf_counter()
            compute = max(result[3] for result in results)
            self.history.record(now - started, compute, now - reduced)
            yield sum(rows.size for _, rows in parts), cost_sum


def _mean(arrays):
    """(1/n) sum_i arrays[i], added in order (the same bits every run)."""
    total = arrays[0].copy()
    for array in arrays[1:]:
        total += array
    total /= total.dtype.type(len(arrays))
    return total
