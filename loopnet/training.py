"""``Network.fit``'s Python side: checks, shuffling, chunks, progress bar, history.

The mini-batches themselves run in the backend ``method`` names
(``loopnet.backends``; for ``"loop"``, the compiled ``kernels.training``); this
module calls it once per chunk of mini-batches, so that the progress bar advances
within an epoch and Ctrl-C (which Python handles only between compiled calls)
stops training after a completed step, never in the middle of one.

Between epochs: the learning rate of a schedule changes (``trainer.set_lr``),
early stopping keeps a copy of the best epoch's state and puts it back at the
end, and the callback sees the epoch's history row. After the call the
trainer's optimizer state stays on the network (``SavedOptimizer``), for
``warm_start``.

Divergence: before each chunk the trainer's state (parameters and optimizer
state) is copied; after it, the parameters and the chunk's running cost are
checked to be finite. When they are not, the copy is put back and the chunk is
run again one mini-batch at a time (chunking never changes a result, so the
replay gives the same bits) up to the first mini-batch whose step is not finite;
its state is put back too, and ``DivergenceError`` says where it happened. So
``fit`` never leaves NaN or infinite parameters behind.

Inputs (``_FiniteInputs``, where ``fit`` decides it): the ``"loop"`` trainer
finds a NaN or an infinity in ``X`` as it gathers each mini-batch
(``TRAINER_CHECKS_INPUTS``), which spares ``fit`` a pass of its own over all of
``X``. A chunk that is not finite is first checked against ``X``: if ``X`` is
not finite, the state from before the call is put back and ``fit`` raises the
ValueError of the up-front check, wherever in the first epoch the bad row comes.
"""

import math
import numbers
import sys
import time
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
from tqdm import tqdm

from loopnet import _validation as check
from loopnet import backends, schedules
from loopnet.backends import loop
from loopnet.steps import StepRule

CHUNK_WORK = 1 << 28
"""Work per compiled call, in multiply-adds: a fraction of a second of training.

It sets how often the bar advances and how soon Ctrl-C is handled.
"""


@dataclass
class History:
    """What ``Network.fit`` recorded, one entry per epoch.

    Attributes
    ----------
    cost : list of float
        Training cost of each epoch: the mean over the N training examples of
        C_b, each example's cost taken in its mini-batch's forward pass (before
        that mini-batch's step), as frameworks report a running loss. It costs
        no extra pass over the data. The L2 term is not included.
    val_cost : list of float
        Mean cost over the validation set at the end of each epoch (L2 term not
        included); empty without ``validation``.
    val_accuracy : list of float
        ``Network.score`` of the validation set at the end of each epoch; empty
        without ``validation``.
    seconds : list of float
        Wall time of each epoch's training (shuffle and mini-batches), without
        the validation pass and without compilation.
    lr : list of float
        The learning rate of each epoch (the schedule's lr(e), e from 0).
    compile_seconds : float
        Time of the first call into the compiled loop: JIT compilation, or
        loading it from Numba's cache.
    best_epoch : int or None
        With ``early_stopping``: the epoch (from 1) of the lowest validation
        cost, whose parameters ``fit`` put back; ``None`` otherwise.
    stopped_by : {None, "early_stopping", "callback"}
        What ended training before ``epochs``; ``None`` when all ran.

    Examples
    --------
    >>> import numpy as np
    >>> import loopnet as ln
    >>> X, Y = np.eye(4), np.eye(4)
    >>> history = ln.Network([4, 4], seed=0).fit(X, Y, epochs=3, lr=1.0, seed=0)
    >>> history.epochs, len(history.cost), sorted(history.as_dict())
    (3, 3, ['cost', 'epoch', 'lr', 'seconds'])
    >>> history.row(0)["lr"], history.stopped_by
    (1.0, None)
    """

    cost: list = field(default_factory=list)
    val_cost: list = field(default_factory=list)
    val_accuracy: list = field(default_factory=list)
    seconds: list = field(default_factory=list)
    lr: list = field(default_factory=list)
    compile_seconds: float = 0.0
    best_epoch: int | None = None
    stopped_by: str | None = None

    @property
    def epochs(self):
        """Number of epochs recorded."""
        return len(self.cost)

    def as_dict(self):
        """Per-epoch columns, ready for ``pandas.DataFrame`` or ``json.dumps``.

        Returns
        -------
        dict of str to list
            ``epoch`` (1, 2, ...), ``cost``, ``lr``, ``seconds`` and, when
            validation was given, ``val_cost`` and ``val_accuracy``.
        """
        columns = {"epoch": list(range(1, self.epochs + 1)), "cost": list(self.cost)}
        if self.val_cost:
            columns["val_cost"] = list(self.val_cost)
            columns["val_accuracy"] = list(self.val_accuracy)
        columns["lr"] = list(self.lr)
        columns["seconds"] = list(self.seconds)
        return columns

    def row(self, epoch):
        """Epoch ``epoch``'s entries (from 0): one row of ``as_dict``.

        Returns
        -------
        dict
            ``epoch`` (from 1), ``cost``, ``lr``, ``seconds`` and, with
            validation, ``val_cost`` and ``val_accuracy``: what ``fit`` passes
            its ``callback`` after each epoch.
        """
        row = {"epoch": epoch + 1, "cost": self.cost[epoch]}
        if self.val_cost:
            row["val_cost"] = self.val_cost[epoch]
            row["val_accuracy"] = self.val_accuracy[epoch]
        row["lr"], row["seconds"] = self.lr[epoch], self.seconds[epoch]
        return row


class DivergenceError(FloatingPointError):
    """Training diverged: a mini-batch's cost or step was not finite.

    A mini-batch diverges when the parameters after its step are not all finite,
    or (for the CPU backends, which keep a running cost) when the cost of its
    examples, taken in its forward pass, is not.

    Raised by ``Network.fit`` after it has put back the parameters (and the
    optimizer state) of the last step that left them finite, the step before
    the one named here.

    Attributes
    ----------
    history : History
        What ``fit`` recorded until then: the epochs completed before the one
        that diverged.
    epoch : int
        The epoch that diverged, counted from 1.
    batch : int
        The mini-batch whose step diverged, counted from 1 within its epoch;
        the parameters are those after mini-batch ``batch - 1`` (of the
        previous epoch's last one when ``batch`` is 1).

    Examples
    --------
    >>> import numpy as np
    >>> import loopnet as ln
    >>> net = ln.Network([1, 1], activation="identity", output="identity", seed=0)
    >>> X, Y = np.full((4, 1), 1e3), np.zeros((4, 1))
    >>> try:
    ...     net.fit(X, Y, epochs=10, batch_size=1, lr=1e6, seed=0)
    ... except ln.DivergenceError as error:
    ...     print(error.epoch, error.batch, error.history.epochs)
    4 2 3
    >>> bool(np.all(np.isfinite(net.params)))
    True
    """

    def __init__(self, message, history, epoch, batch):
        super().__init__(message)
        self.history, self.epoch, self.batch = history, epoch, batch


def _check_validation(layout, dtype, validation):
    """Return ``validation`` as a checked ``(X_val, Y_val)`` pair, or None."""
    if validation is None:
        return None
    if not isinstance(validation, tuple | list):
        raise TypeError(
            "validation must be a pair (X_val, Y_val) or None; got"
            f" {type(validation).__name__}"
        )
    if len(validation) != 2:
        raise ValueError(
            f"validation must be a pair (X_val, Y_val); got {len(validation)} items"
        )
    try:
        return layout.check_examples(*validation, dtype)
    except (TypeError, ValueError) as error:
        raise type(error)(f"validation (X_val, Y_val): {error}") from error


def _show_progress(progress):
    """Whether to draw the bar: asked for, and standard error is a terminal."""
    if not isinstance(progress, bool | np.bool_):
        raise TypeError(f"progress must be True or False, got {progress!r}")
    isatty = getattr(sys.stderr, "isatty", None)
    return bool(progress) and isatty is not None and isatty()


def epoch_bar(epochs, n_examples, show):
    """The progress bar of ``epochs`` passes over ``n_examples``, on standard error."""
    return tqdm(
        total=epochs * n_examples,
        desc=f"epoch 1/{epochs}",
        disable=not show,
        unit="ex",
        unit_scale=True,
        file=sys.stderr,
        dynamic_ncols=True,
    )


def chunk_batches(n_params, batch_size, n_batches):
    """Mini-batches per compiled call: about ``CHUNK_WORK`` multiply-adds each.

    One example costs about 3 * n_params multiply-adds (forward, weight gradient,
    backpropagated error). Chunking never changes a result, only how often
    Python regains control.
    """
    per_batch = 3 * n_params * batch_size
    return max(1, min(n_batches, CHUNK_WORK // per_batch))


OPTIMIZERS = ("sgd", "nesterov", "adam")
"""``fit``'s optimizers: SGD (classical momentum when mu > 0), Nesterov, Adam."""


class SavedOptimizer(NamedTuple):
    """The optimizer state a ``fit`` left, kept as ``Network.optimizer_state``.

    Attributes
    ----------
    optimizer : str
        The optimizer it belongs to, a name of ``OPTIMIZERS``.
    state : loopnet.kernels.update.OptimizerState
        Its velocity (SGD's mu v - lr g, Nesterov's sum of gradients), Adam's
        moments m and v, and the steps taken t, laid out like ``params``.
    """

    optimizer: str
    state: tuple


@dataclass(frozen=True)
class Options:
    """``fit``'s checked arguments beyond the data (see ``Network.fit``)."""

    epochs: int
    batch_size: int
    rates: list
    l2: float
    momentum: float
    optimizer: str
    betas: tuple
    early_stopping: bool
    validation_fraction: float
    patience: int
    tol: float
    callback: object
    state: object


def check_options(net, epochs, batch_size, lr, l2, momentum, method, extra):
    """``Options`` of checked arguments, every one named when it is refused.

    ``extra`` holds the keyword arguments of ``Network.fit`` after ``device``.
    A schedule's rate of every epoch is computed (and checked) here, so a bad
    one raises before anything changes.
    """
    dtype = net.dtype
    epochs = check.check_count(epochs, "epochs")
    batch_size = check.check_count(batch_size, "batch_size")
    if isinstance(lr, numbers.Real) and not isinstance(lr, bool):
        lr = check.check_real(lr, "lr", 0.0, low_open=True, dtype=dtype)
    schedule = schedules.as_schedule(lr)
    if isinstance(schedule, schedules.Constant):  # one check for every epoch
        rates = [schedule(0, dtype)] * epochs
    else:
        rates = [schedule(epoch, dtype) for epoch in range(epochs)]
    l2 = check.check_l2(l2, dtype)
    momentum = check.check_real(momentum, "momentum", 0.0, 1.0)
    optimizer = check.check_choice(extra["optimizer"], "optimizer", OPTIMIZERS)
    if optimizer == "adam" and momentum != 0:
        raise ValueError(
            f"momentum={momentum!r} is not used by optimizer='adam' (beta1 is its"
            " momentum); pass momentum=0"
        )
    betas = (
        check.check_real(extra["beta1"], "beta1", 0.0, 1.0),
        check.check_real(extra["beta2"], "beta2", 0.0, 1.0),
        check.check_real(extra["eps"], "eps", 0.0, low_open=True, dtype=dtype),
    )
    early_stopping = _check_flag(extra["early_stopping"], "early_stopping")
    fraction = check.check_real(
        extra["validation_fraction"], "validation_fraction", 0.0, 1.0, low_open=True
    )
    patience = check.check_count(extra["patience"], "patience")
    tol = check.check_real(extra["tol"], "tol", 0.0)
    callback = extra["callback"]
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be None or a callable, got {callback!r}")
    state = None
    if _check_flag(extra["warm_start"], "warm_start"):
        if method == "cuda":
            raise ValueError(
                "warm_start=True needs a CPU backend: the cuda backend keeps no"
                " optimizer state between calls"
            )
        saved = net.optimizer_state
        if saved is not None and saved.optimizer != optimizer:
            raise ValueError(
                f"warm_start=True continues the state of optimizer={saved.optimizer!r}"
                f" from the last fit; got optimizer={optimizer!r} (pass"
                " warm_start=False to start at rest)"
            )
        state = None if saved is None else saved.state
    return Options(
        epochs,
        batch_size,
        rates,
        l2,
        momentum,
        optimizer,
        betas,
        early_stopping,
        fraction,
        patience,
        tol,
        callback,
        state,
    )


def _check_flag(value, name):
    """``value`` as a bool; anything but True, False (or NumPy's) is refused."""
    if not isinstance(value, bool | np.bool_):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def _split(X, Y, fraction, rng):
    """Training and validation rows: a random ``fraction`` of them held out.

    At least one row on each side; the split is ``rng``'s first draw.
    """
    n_examples = X.shape[0]
    n_val = max(1, round(fraction * n_examples))
    if n_val >= n_examples:
        raise ValueError(
            f"early_stopping holds out validation_fraction={fraction!r} of the"
            f" {n_examples} examples, leaving none to train on; pass validation="
            " or more examples"
        )
    order = rng.permutation(n_examples)
    held, kept = np.sort(order[:n_val]), np.sort(order[n_val:])
    return X[kept], Y[kept], (X[held], Y[held])


def fit(
    net,
    X,
    Y,
    *,
    epochs,
    batch_size,
    lr,
    l2,
    momentum,
    seed,
    validation,
    progress,
    method,
    **extra,
):
    """Train ``net`` in place; ``Network.fit`` documents the arguments.

    Every argument is checked before the parameters are touched (the entries of
    X by the trainer, where it checks them as it goes: ``fit`` then puts back
    the parameters and optimizer state from before the call), so a call that
    raises on its arguments leaves the network as it was. ``extra`` holds every
    keyword argument of ``Network.fit`` after ``device``.
    """
    backends.check_name(method)
    layout, params = net.layout, net.params
    X_given = X
    X, Y = layout.check_examples(X, Y, net.dtype, finite_X=False)  # X: below
    options = check_options(net, epochs, batch_size, lr, l2, momentum, method, extra)
    rng = check.check_seed(seed)
    validation = _check_validation(layout, net.dtype, validation)
    show = _show_progress(progress)
    layout.check_params(params)
    backend = backends.get(method)
    if options.optimizer not in backend.OPTIMIZERS:
        raise ValueError(
            f"optimizer={options.optimizer!r} is not available with"
            f" method={method!r}, which has {', '.join(map(repr, backend.OPTIMIZERS))}"
        )
    inputs = _FiniteInputs(backend, X_given)
    inputs.check_before_split(X)
    if options.early_stopping and validation is None:
        X, Y, validation = _split(X, Y, options.validation_fraction, rng)
        inputs.check_held_out(validation[0])

    trainer = _trainer(backend, layout, params, X, Y, options)
    before = trainer.snapshot() if inputs.deferred else None
    try:
        return _train(
            net, trainer, X, Y, options, rng, validation, show, method, inputs
        )
    except _InputsNotFinite:
        trainer.restore(before)
        trainer = None  # the optimizer state stays as it was, too
        raise
    finally:
        if trainer is not None:
            state = getattr(trainer, "state", None)  # the CPU backends keep one
            net.optimizer_state = (
                None if state is None else SavedOptimizer(options.optimizer, state)
            )


def _trainer(backend, layout, params, X, Y, options):
    """The backend's trainer of ``params`` on checked ``X``, ``Y`` and ``options``."""
    n_examples = X.shape[0]
    batch_size = min(options.batch_size, n_examples)  # larger is the same full batch
    beta1, beta2, eps = options.betas
    # l2 / N in float64; the backend rounds it once to the network's dtype.
    rule = StepRule(
        options.optimizer,
        options.rates[0],
        options.l2 / n_examples,
        options.momentum,
        beta1,
        beta2,
        eps,
        options.state,
    )
    return backend.trainer(layout, params, X, Y, batch_size, rule)


def _train(net, trainer, X, Y, options, rng, validation, show, method, inputs):
    """The epochs of ``fit``: shuffles, chunks, bar, history, stopping."""
    layout, params = net.layout, net.params
    epochs = options.epochs
    n_examples = X.shape[0]
    batch_size = min(options.batch_size, n_examples)
    n_batches = math.ceil(n_examples / batch_size)
    chunk = chunk_batches(net.n_params, batch_size, n_batches)
    run, running_cost = trainer.run, trainer.running_cost
    if show:
        entries = ("fit",) if method == "loop" else ()
        if validation is not None or not running_cost:
            entries += ("forward",)  # loop.evaluate, after each epoch
        loop.compile_notice(entries, (net.dtype,))
    history = History()
    started = time.perf_counter()
    run(np.arange(n_examples), 0, 0, 0.0)  # compiles; trains nothing
    history.compile_seconds = time.perf_counter() - started
    stopping = _EarlyStopping(options) if options.early_stopping else None
    with epoch_bar(epochs, n_examples, show) as bar:
        for epoch in range(epochs):
            bar.set_description(f"epoch {epoch + 1}/{epochs}")
            rate = options.rates[epoch]
            if epoch > 0 and rate != options.rates[epoch - 1]:
                trainer.set_lr(rate)
            started = time.perf_counter()
            order = rng.permutation(n_examples).astype(np.int64, copy=False)
            cost_sum = 0.0
            for first in range(0, n_batches, chunk):
                stop = min(first + chunk, n_batches)
                saved = trainer.snapshot()
                after = run(order, first, stop, cost_sum)
                if not _finite(params, after):
                    trainer.restore(saved)
                    inputs.check_after_divergence(X)  # the inputs, not the step?
                    batch, n_bad = _replay_to_divergence(
                        trainer, params, order, first, stop, cost_sum
                    )
                    raise _divergence(history, epoch, batch, n_bad, params, rate, X)
                cost_sum = after
                done = min(stop * batch_size, n_examples)
                bar.update(done - first * batch_size)
                if running_cost:
                    bar.set_postfix(cost=f"{cost_sum / done:.4g}", refresh=False)
            history.seconds.append(time.perf_counter() - started)
            history.lr.append(rate)
            if running_cost:
                history.cost.append(float(cost_sum / n_examples))
            else:
                history.cost.append(loop.evaluate(layout, params, X, Y)[0])
            if validation is not None:
                val_cost, val_accuracy = loop.evaluate(layout, params, *validation)
                history.val_cost.append(val_cost)
                history.val_accuracy.append(val_accuracy)
                bar.set_postfix(
                    cost=f"{history.cost[-1]:.4g}", val_accuracy=f"{val_accuracy:.4f}"
                )
            if stopping is not None and stopping.update(history, trainer):
                history.stopped_by = "early_stopping"
            if options.callback is not None and options.callback(history.row(epoch)):
                history.stopped_by = history.stopped_by or "callback"
            if history.stopped_by is not None:
                break
    if stopping is not None:
        stopping.restore(history, trainer)
    return history


class _InputsNotFinite(ValueError):
    """A chunk of ``_train`` met a NaN or an infinity in X (``fit`` restores)."""


class _FiniteInputs:
    """``fit``'s one decision on whether the entries of X are finite.

    A trainer that finds a NaN or an infinity as it gathers each mini-batch
    (``TRAINER_CHECKS_INPUTS``) defers the check: it spares a pass over all of
    X, the rows split off for validation (which it never sees) are checked up
    front, and all of X only after a chunk whose step was not finite. Otherwise
    all of X is checked before the split. Each check gives the same message.
    """

    def __init__(self, backend, X_given):
        self.deferred = getattr(backend, "TRAINER_CHECKS_INPUTS", False)
        self._given = X_given

    def check_before_split(self, X):
        """Raise ValueError if X is not finite, unless the trainer checks it."""
        if not self.deferred:
            check.check_finite_data(X, self._given, "X")

    def check_held_out(self, X_held_out):
        """Raise ValueError if the validation rows split off X are not finite."""
        if self.deferred:  # otherwise checked with the rest of X, before the split
            check.check_finite_data(X_held_out, self._given, "X")

    def check_after_divergence(self, X):
        """Raise ``_InputsNotFinite`` if a chunk diverged because X is not finite."""
        problem = check.finite_data_problem(X, self._given, "X")
        if problem is not None:
            raise _InputsNotFinite(problem)


class _EarlyStopping:
    """The validation cost's best epoch so far, and the epochs since it."""

    def __init__(self, options):
        self.patience, self.tol = options.patience, options.tol
        self.best, self.best_epoch, self.saved, self.waited = math.inf, None, None, 0

    def update(self, history, trainer):
        """Record the epoch just ended; return whether to stop training."""
        cost = history.val_cost[-1]
        if cost < self.best - self.tol:  # NaN is never an improvement
            self.best, self.best_epoch, self.waited = cost, history.epochs, 0
            self.saved = trainer.snapshot()
        else:
            self.waited += 1
        return self.waited >= self.patience

    def restore(self, history, trainer):
        """Put back the best epoch's parameters and optimizer state."""
        history.best_epoch = self.best_epoch
        if self.saved is not None and self.best_epoch != history.epochs:
            trainer.restore(self.saved)


def _finite(params, cost_sum):
    """Whether a step left finite parameters and, if it keeps one, a finite cost."""
    return bool(np.isfinite(params).all()) and (
        cost_sum is None or math.isfinite(cost_sum)
    )


def _replay_to_divergence(trainer, params, order, first, stop, cost_sum):
    """Replay mini-batches ``first .. stop - 1`` singly; stop before the bad one.

    The trainer holds the state from before mini-batch ``first``. Each
    mini-batch runs alone from a copy of the state; the first that leaves it
    non-finite is undone.

    Returns
    -------
    batch : int
        The mini-batch that diverged (0-based within the epoch).
    n_bad : int or None
        How many parameters its step made NaN or infinite (0: the parameters
        stayed finite but its running cost did not).
    """
    for batch in range(first, stop):
        saved = trainer.snapshot()
        after = trainer.run(order, batch, batch + 1, cost_sum)
        if not _finite(params, after):
            n_bad = int(np.count_nonzero(~np.isfinite(params)))
            trainer.restore(saved)
            return batch, n_bad
        cost_sum = after
    # A replay gives the chunk's bits, so this is never reached; if it were,
    # the whole chunk is undone rather than trusted.
    trainer.restore(saved)
    return first, None


def _divergence(history, epoch, batch, n_bad, params, lr, X):
    """The ``DivergenceError`` of mini-batch ``batch`` of ``epoch`` (0-based)."""
    if n_bad == 0:
        what = "the cost of its examples (its forward pass) is not finite"
    else:
        count = "some" if n_bad is None else str(n_bad)
        what = f"its step made {count} of the {params.size} parameters NaN or infinite"
    return DivergenceError(
        f"training diverged in epoch {epoch + 1}, mini-batch {batch + 1}: {what}."
        " fit put back the parameters (and the optimizer's state) from before that"
        f" step and stopped. Try a smaller lr (lr={lr:g}) or rescale the inputs"
        f" (max |X| = {np.abs(X).max():.3g}).",
        history,
        epoch + 1,
        batch + 1,
    )
