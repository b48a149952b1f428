"""fit never leaves NaN or infinite parameters: it stops before the step that diverges.

The contract (``loopnet.training``, docs/training.md "Divergence"): when a
mini-batch's step leaves non-finite parameters (or, on the CPU, its examples' cost
is not finite), ``fit`` puts back the parameters and the momentum velocity from
before that step and raises ``DivergenceError``, a ``FloatingPointError`` naming
the epoch and the mini-batch, with the ``History`` of the completed epochs. These
tests rebuild the expected state with the backend's trainer, run mini-batch by
mini-batch in the order ``fit`` draws, and compare bits.
"""

import math
import warnings

import numpy as np
import pytest

import loopnet as ln
from loopnet import backends, training
from loopnet.steps import StepRule
from tests.helpers import (
    DIVERGING,
    DIVERGING_BATCH_SIZE,
    DIVERGING_SEED,
    NO_JIT,
    diverging_problem,
)

BATCH_SIZE, SEED = DIVERGING_BATCH_SIZE, DIVERGING_SEED
N = diverging_problem()[1].shape[0]
N_BATCHES = math.ceil(N / BATCH_SIZE)
_problem = diverging_problem


def _fit(net, X, Y, method, lr, momentum, epochs=60, **options):
    return net.fit(
        X,
        Y,
        epochs=epochs,
        batch_size=BATCH_SIZE,
        lr=lr,
        momentum=momentum,
        seed=SEED,
        method=method,
        progress=False,
        **options,
    )


def _diverge(net, X, Y, method, lr, momentum, **options):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning any more
        if NO_JIT:  # NumPy scalars warn of overflows where compiled code does not
            warnings.simplefilter("ignore", RuntimeWarning)
        with pytest.raises(ln.DivergenceError) as raised:
            _fit(net, X, Y, method, lr, momentum, **options)
    return raised.value


def _trainer(net, X, Y, method, lr, momentum, params):
    layout = net.layout
    X, Y = layout.check_examples(X, Y, net.dtype)
    rule = StepRule(lr=lr, momentum=momentum)
    return backends.get(method).trainer(layout, params, X, Y, BATCH_SIZE, rule)


def _state_before(net, X, Y, method, lr, momentum, epoch, batch):
    """Params after mini-batch ``batch - 1`` of ``epoch`` (1-based), as fit trains.

    Also returns the trainer and that epoch's order, to run the next mini-batch.
    """
    params = net.params.copy()
    trainer = _trainer(net, X, Y, method, lr, momentum, params)
    rng = np.random.default_rng(SEED)
    for _ in range(epoch - 1):
        trainer.run(rng.permutation(N).astype(np.int64), 0, N_BATCHES, 0.0)
    order = rng.permutation(N).astype(np.int64)
    trainer.run(order, 0, batch - 1, 0.0)
    return params, trainer, order


@pytest.mark.parametrize("how", list(DIVERGING))
@pytest.mark.parametrize("method", ["loop", "matrix"])
def test_fit_stops_before_the_step_that_diverges(method, how):
    lr, momentum = DIVERGING[how]
    net, X, Y = _problem()
    start = net.copy()
    error = _diverge(net, X, Y, method, lr, momentum)
    assert isinstance(error, FloatingPointError)
    assert (error.epoch, error.batch) != (1, 1)  # a mid-training stop, not a refusal
    message = str(error)
    assert f"epoch {error.epoch}, mini-batch {error.batch}" in message
    assert "smaller lr" in message and "lr=0.01" in message
    wanted = "parameters NaN or infinite" if how == "parameters" else "cost"
    assert wanted in message
    # the parameters are exactly those after the last step that stayed finite
    assert np.all(np.isfinite(net.params))
    expected, trainer, order = _state_before(
        start, X, Y, method, lr, momentum, error.epoch, error.batch
    )
    assert net.params.tobytes() == expected.tobytes()
    # ... and the next step is the one that diverges
    cost = trainer.run(order, error.batch - 1, error.batch, 0.0)
    assert not (np.all(np.isfinite(expected)) and math.isfinite(cost))


@pytest.mark.parametrize("method", ["loop", "matrix"])
def test_the_history_so_far_is_attached(method):
    lr, momentum = DIVERGING["parameters"]
    net, X, Y = _problem()
    validation = (X[:7] / 10, Y[:7])
    twin = net.copy()
    error = _diverge(net, X, Y, method, lr, momentum, validation=validation)
    history = error.history
    assert isinstance(history, ln.History)
    assert history.epochs == error.epoch - 1 and len(history.val_cost) == history.epochs
    completed = _fit(
        twin, X, Y, method, lr, momentum, epochs=error.epoch - 1, validation=validation
    )
    assert history.cost == completed.cost and history.val_cost == completed.val_cost


@pytest.mark.parametrize("method", ["loop", "matrix"])
def test_divergence_does_not_depend_on_the_chunks(monkeypatch, method):
    """One mini-batch per compiled call or a whole epoch: the same stop and bits."""
    lr, momentum = DIVERGING["parameters"]
    results = []
    for chunk_work in (1, 1 << 40):
        monkeypatch.setattr(training, "CHUNK_WORK", chunk_work)
        net, X, Y = _problem()
        error = _diverge(net, X, Y, method, lr, momentum)
        results.append((error.epoch, error.batch, net.params.tobytes()))
    assert results[0] == results[1]


@pytest.mark.parametrize("method", ["loop", "matrix"])
def test_snapshot_and_restore_put_back_the_velocity_too(method):
    """After restore, the same mini-batches give the same bits: v came back too."""
    net, X, Y = _problem()
    params = net.params.copy()
    trainer = _trainer(net, X, Y, method, 1e-4, 0.9, params)
    order = np.random.default_rng(0).permutation(N).astype(np.int64)
    trainer.run(order, 0, 2, 0.0)  # a non-zero velocity
    saved = trainer.snapshot()
    before = params.copy()
    trainer.run(order, 2, N_BATCHES, 0.0)
    once = params.copy()
    trainer.restore(saved)
    assert params.tobytes() == before.tobytes()
    trainer.run(order, 2, N_BATCHES, 0.0)
    assert params.tobytes() == once.tobytes()
    # without the velocity's restore the steps would differ: it matters here
    trainer.restore(saved)
    zero = trainer.snapshot()
    # both backends keep the optimizer's whole state, velocity first
    zero[1][0][...] = 0
    trainer.restore(zero)
    trainer.run(order, 2, N_BATCHES, 0.0)
    assert params.tobytes() != once.tobytes()


def test_a_network_that_does_not_diverge_trains_as_before():
    net, X, Y = _problem()
    history = _fit(net, X / 10, Y, "loop", 0.01, 0.9, epochs=5)
    assert history.epochs == 5 and np.all(np.isfinite(net.params))
