"""The ``"loop"`` backend: the compiled per-index kernels of ``loopnet.kernels``.

Every function takes checked arrays (``Layout.check_examples``) in the dtype of
``params``, allocates what the kernels write into, and calls the compiled
drivers of ``kernels.backprop`` and ``kernels.training``.
"""

import sys

import numpy as np

from loopnet._cache import will_compile
from loopnet._jit import start_threads
from loopnet.costs import example_costs, target_classes
from loopnet.kernels import backprop, training
from loopnet.kernels.backprop import (
    Workspace,
    _network_gradient_plain,
    _unit_offsets,
    parallel_for,
)
from loopnet.kernels.siblings import chosen
from loopnet.kernels.training import TrainingWorkspace
from loopnet.kernels.update import ADAM, NESTEROV, SGD, OptimizerState, Step

# The drivers this backend runs: the fast paths, or their plain siblings under
# LOOPNET_KERNELS=plain (kernels.siblings).
_forward_pass = chosen(backprop._forward_pass)
_network_gradient = chosen(backprop._network_gradient)
_train_batches = chosen(training._train_batches)

COMPILE_NOTICE = "compiling loopnet's kernels (first run, 20-40 s)…"
"""What ``compile_notice`` prints; the time is a first run's from an empty cache
as ``python -m benchmarks.compile_time`` measures it (benchmarks/README.md)."""

OPTIMIZERS = {"sgd": SGD, "nesterov": NESTEROV, "adam": ADAM}
"""The optimizers this backend's trainer takes, by name, and their ``Step.kind``."""

TRAINER_CHECKS_INPUTS = True
"""``Trainer.run`` finds a NaN or an infinity in X or Y as it gathers mini-batches."""

DRIVERS = {
    "gradient": (_network_gradient,),
    "forward": (_forward_pass,),
    "layer_values": (_network_gradient,),
    "fit": (_train_batches,),
}
"""The compiled drivers each Python entry of this backend calls, by entry."""


def will_compile_any(entries, dtypes):
    """Whether running ``entries`` (keys of ``DRIVERS``) in ``dtypes`` compiles."""
    return any(
        will_compile(driver, np.dtype(dtype))
        for entry in entries
        for driver in DRIVERS[entry]
        for dtype in dtypes
    )


def compile_notice(entries, dtypes, stream=None):
    """Print ``COMPILE_NOTICE`` when ``entries`` will compile and ``stream`` is a tty.

    ``stream`` is standard error by default; nothing goes to a pipe or a log.
    The check reads one small cache index per driver (``_cache.will_compile``).

    Returns
    -------
    bool
        Whether the notice was printed.
    """
    stream = sys.stderr if stream is None else stream
    isatty = getattr(stream, "isatty", None)
    if isatty is None or not isatty() or not will_compile_any(entries, dtypes):
        return False
    print(COMPILE_NOTICE, file=stream, flush=True)
    return True


def _layer_blocks(layout, buffer, n_batch):
    """Per-layer ``(n_batch, n_l)`` views of a flat activation buffer."""
    offsets = _unit_offsets(layout.sizes, n_batch)
    return [
        buffer[offsets[layer] : offsets[layer + 1]].reshape(n_batch, int(n_l))
        for layer, n_l in enumerate(layout.sizes[1:])
    ]


def forward(layout, params, X):
    """z^L and a^L, the output layer's weighted inputs and activations, for ``X``.

    Returns
    -------
    Z_L, A_L : ndarray, shape (n_batch, n_L)
        Views into the forward pass's buffers (the caller may keep them).
    """
    n_batch = X.shape[0]
    n_units = _unit_offsets(layout.sizes, n_batch)[-1]
    Z, A = np.empty(n_units, dtype=params.dtype), np.empty(n_units, dtype=params.dtype)
    _forward_pass(layout, params, X, Z, A, parallel_for(layout, n_batch))
    n_out = int(layout.sizes[-1])
    start = n_units - n_batch * n_out
    return Z[start:].reshape(n_batch, n_out), A[start:].reshape(n_batch, n_out)


def gradient(layout, params, X, Y, scale, l2):
    """dC/dparams by ``_network_gradient``: scale * (sum_b dC_b/dparams + l2 W)."""
    work = Workspace.allocate(layout, X.shape[0], params.dtype)
    grad = np.empty_like(params)
    parallel = parallel_for(layout, X.shape[0])
    _network_gradient(layout, params, X, Y, scale, l2, work, grad, parallel)
    return grad


def layer_values(layout, params, X, Y, scale, l2):
    """z^l, a^l, delta^l (every example) and dW^l, dbias^l of every layer.

    The buffers of the driver ``Network.gradient`` runs, ``_network_gradient``
    (one compiled driver for both, not a second one to compile).

    Returns
    -------
    dict of str to list
        Keys ``"z"``, ``"a"``, ``"delta"`` (``(n_batch, n_l)`` arrays), ``"dW"``
        and ``"dbias"`` (``None`` per layer without biases).
    """
    n_batch = X.shape[0]
    work = Workspace.allocate(layout, n_batch, params.dtype)
    grad = np.empty_like(params)
    parallel = parallel_for(layout, n_batch)
    _network_gradient(layout, params, X, Y, scale, l2, work, grad, parallel)
    return _values(layout, work, grad, n_batch)


def layer_values_plain(layout, params, X, Y, scale, l2):
    """``layer_values`` by the plain siblings (``_network_gradient_plain``).

    The equations as triple loops: what ``loopnet trace`` shows beside the
    matrix form.
    """
    n_batch = X.shape[0]
    work = Workspace.allocate(layout, n_batch, params.dtype)
    grad = np.empty_like(params)
    _network_gradient_plain(layout, params, X, Y, scale, l2, work, grad)
    return _values(layout, work, grad, n_batch)


def _values(layout, work, grad, n_batch):
    """The dict of ``layer_values`` from a filled workspace and gradient."""
    values = {
        name: _layer_blocks(layout, buffer, n_batch)
        for name, buffer in (("z", work.Z), ("a", work.A), ("delta", work.D))
    }
    values["dW"], dbiases = layout.views(grad)
    values["dbias"] = dbiases if layout.bias else [None] * layout.n_layers
    return values


def evaluate(layout, params, X, Y):
    """Mean cost C_b (no L2 term) and accuracy of checked ``X``, ``Y``: one forward.

    For ``fit`` after each epoch, when the parameters have already moved: a
    diverged network's cost comes back as inf or NaN, never as an exception or a
    NumPy warning.
    """
    Z_out, A_out = forward(layout, params, X)
    with np.errstate(all="ignore"):
        costs = example_costs(
            Z_out, A_out, Y, layout.activation_names[-1], layout.cost_name
        )
        cost = np.mean(costs)
    accuracy = np.mean(target_classes(A_out) == target_classes(Y))
    return float(cost), float(accuracy)


def compile_parallel(layout, params, X, Y):
    """Compile (or load) the parallel forms of the drivers, on a batch of any size.

    The entry points above hand the drivers ``parallel=True`` only where some
    layer reaches ``MIN_PARALLEL_WORK`` and Numba has threads
    (``backprop.parallel_for``); otherwise they compile without their
    parallel kernels. ``loopnet warmup`` calls this so that a large batch on
    several threads finds those forms in the cache too. ``params`` is left alone.
    """
    n_batch, one, zero = X.shape[0], params.dtype.type(1), params.dtype.type(0)
    work = Workspace.allocate(layout, n_batch, params.dtype)
    _forward_pass(layout, params, X, work.Z, work.A, True)
    _network_gradient(
        layout, params, X, Y, one, zero, work, np.empty_like(params), True
    )
    step = Step.of(SGD, params.dtype, 0.1)
    trained = Trainer(layout, params.copy(), X, Y, n_batch, step)
    _train_batches(
        layout,
        trained.params,
        X,
        Y,
        np.arange(n_batch),
        0,
        1,
        n_batch,
        step,
        trained.state,
        trained.work,
        0.0,
        True,
    )


class Trainer:
    """Mini-batch training in the compiled loop ``_train_batches``; see ``trainer``."""

    running_cost = True

    def __init__(self, layout, params, X, Y, batch_size, step, state=None):
        self.layout, self.params, self.X, self.Y = layout, params, X, Y
        self.batch_size, self.step = batch_size, step
        # One allocation per fit: the optimizer's state (zeros unless a state to
        # continue is given, copied), the gathered mini-batch, the z, a, delta
        # buffers and scratch.
        if state is None:
            state = OptimizerState.zeros(step.kind, params.shape[0], params.dtype)
        self.state = OptimizerState(*(array.copy() for array in state))
        capacity = min(batch_size, X.shape[0])
        self.work = TrainingWorkspace.allocate(layout, capacity, params.dtype)
        start_threads()

    def set_lr(self, lr):
        """Use learning rate ``lr`` from the next step on (a schedule's next epoch)."""
        self.step = self.step._replace(lr=self.params.dtype.type(lr))

    def snapshot(self):
        """A copy of what a step changes: the parameters and the optimizer's state."""
        return self.params.copy(), [array.copy() for array in self.state]

    def restore(self, snapshot):
        """Put back the parameters and optimizer state of ``snapshot()``."""
        params, state = snapshot
        self.params[...] = params
        for array, saved in zip(self.state, state, strict=True):
            array[...] = saved

    def run(self, order, first, stop, cost_sum):
        """Mini-batches ``first .. stop - 1`` of ``order``; return the running cost.

        The running cost is ``cost_sum`` plus C_b of every example trained on,
        each taken in its mini-batch's forward pass; NaN when a mini-batch's rows
        hold a NaN or an infinity (the run stops before that mini-batch's step).
        """
        return _train_batches(
            self.layout,
            self.params,
            self.X,
            self.Y,
            order,
            first,
            stop,
            self.batch_size,
            self.step,
            self.state,
            self.work,
            cost_sum,
            parallel_for(self.layout, self.work.X_batch.shape[0]),
        )


def trainer(layout, params, X, Y, batch_size, rule):
    """A ``Trainer`` of ``params`` in place by ``rule`` (a ``steps.StepRule``).

    The rule's optimizer is a key of ``OPTIMIZERS``; its constants are rounded
    once to the parameters' dtype (``Step.of``); its ``state``, an
    ``OptimizerState`` of the same optimizer, is copied and continued, None
    starts at rest.
    """
    kind = OPTIMIZERS[rule.optimizer]
    constants = (rule.lr, rule.decay, rule.momentum, rule.beta1, rule.beta2, rule.eps)
    step = Step.of(kind, params.dtype, *constants)
    return Trainer(layout, params, X, Y, batch_size, step, rule.state)
