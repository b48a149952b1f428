"""Network.fit's optimizers, schedules, early stopping, callback and warm start."""

import numpy as np
import pytest

import loopnet as ln
from loopnet import training
from loopnet.schedules import Exponential, StepDecay
from tests.helpers import DTYPES, TOL, targets

OPTIMIZERS = [("sgd", 0.0), ("sgd", 0.9), ("nesterov", 0.9), ("adam", 0.0)]


def _problem(rng, dtype=np.float64, sizes=(4, 5, 3), n=23, bias=True):
    net = ln.Network(
        sizes, "tanh", "softmax", "log_likelihood", bias=bias, dtype=dtype, seed=3
    )
    X = rng.standard_normal((n, sizes[0])).astype(dtype)
    Y = targets(rng, "softmax", "log_likelihood", n, sizes[-1], dtype)
    return net, X, Y


def _fit(net, X, Y, **options):
    return net.fit(X, Y, **({"progress": False, "seed": 5} | options))


# --- the optimizers: the compiled loop against the NumPy twins ----------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("optimizer, momentum", OPTIMIZERS)
@pytest.mark.parametrize(
    "sizes, n, batch_size, bias",
    [((4, 5, 3), 23, 5, True), ((3, 2), 1, 4, True), ((2, 3, 1, 2), 9, 2, False)],
)
def test_loop_fit_matches_the_matrix_form(
    rng, dtype, optimizer, momentum, sizes, n, batch_size, bias
):
    """Each optimizer's compiled steps equal reference's, batch 1 and odd sizes."""
    net, X, Y = _problem(rng, dtype, sizes, n, bias)
    matrix = net.copy()
    options = {
        "epochs": 3,
        "batch_size": batch_size,
        "lr": 0.05,
        "l2": 0.3,
        "momentum": momentum,
        "optimizer": optimizer,
    }
    loop_history = _fit(net, X, Y, **options)
    matrix_history = _fit(matrix, X, Y, method="matrix", **options)
    tol = TOL[dtype]
    np.testing.assert_allclose(net.params, matrix.params, **tol)
    np.testing.assert_allclose(loop_history.cost, matrix_history.cost, **tol)
    for got, want in zip(
        net.optimizer_state.state, matrix.optimizer_state.state, strict=True
    ):
        np.testing.assert_allclose(got, want, **tol)
    assert net.optimizer_state.state.t[0] == 3 * -(-n // batch_size)


def test_the_optimizers_train_differently(rng):
    net, X, Y = _problem(rng)
    trained = {}
    for optimizer, momentum in OPTIMIZERS:
        copy = net.copy()
        _fit(copy, X, Y, epochs=2, lr=0.05, optimizer=optimizer, momentum=momentum)
        trained[optimizer, momentum] = copy.params
    values = list(trained.values())
    assert all(
        not np.array_equal(a, b) for i, a in enumerate(values) for b in values[i + 1 :]
    )


def test_adam_state_is_its_moments(rng):
    net, X, Y = _problem(rng)
    _fit(net, X, Y, epochs=1, batch_size=23, optimizer="adam", lr=0.01, momentum=0)
    saved = net.optimizer_state
    assert saved.optimizer == "adam" and saved.state.velocity.size == 0
    assert saved.state.m.shape == saved.state.v.shape == net.params.shape
    assert np.all(saved.state.v >= 0) and saved.state.t[0] == 1


# --- warm start -------------------------------------------------------------------


@pytest.mark.parametrize("optimizer, momentum", OPTIMIZERS[1:])
@pytest.mark.parametrize("method", ["loop", "matrix"])
def test_warm_start_continues_as_one_fit(rng, optimizer, momentum, method):
    """Two warm fits of 2 epochs are one fit of 4 (one shared Generator)."""
    net, X, Y = _problem(rng)
    once, twice = net.copy(), net.copy()
    options = {"lr": 0.05, "optimizer": optimizer, "momentum": momentum}
    _fit(once, X, Y, epochs=4, seed=np.random.default_rng(1), method=method, **options)
    shuffles = np.random.default_rng(1)
    _fit(twice, X, Y, epochs=2, seed=shuffles, method=method, **options)
    _fit(
        twice, X, Y, epochs=2, seed=shuffles, warm_start=True, method=method, **options
    )
    np.testing.assert_array_equal(twice.params, once.params)
    # from rest, the second fit steps differently
    cold = net.copy()
    shuffles = np.random.default_rng(1)
    _fit(cold, X, Y, epochs=2, seed=shuffles, method=method, **options)
    _fit(cold, X, Y, epochs=2, seed=shuffles, method=method, **options)
    assert not np.array_equal(cold.params, once.params)


def test_warm_start_needs_the_same_optimizer(rng):
    net, X, Y = _problem(rng)
    _fit(net, X, Y, epochs=1, optimizer="nesterov", momentum=0.5)
    before = net.params.copy()
    with pytest.raises(ValueError, match="optimizer='nesterov'.*optimizer='adam'"):
        _fit(net, X, Y, epochs=1, optimizer="adam", warm_start=True)
    np.testing.assert_array_equal(net.params, before)
    fresh, _, _ = _problem(rng)  # no state yet: warm_start starts at rest
    _fit(fresh, X, Y, epochs=1, optimizer="adam", warm_start=True)
    assert fresh.optimizer_state.state.t[0] == 3


# --- schedules --------------------------------------------------------------------


@pytest.mark.parametrize(
    "schedule",
    [StepDecay(0.2, drop=0.5, every=2), Exponential(0.2, 0.7), lambda e: 0.2 / (e + 1)],
)
def test_a_schedule_is_each_epoch_its_own_fit(rng, schedule):
    """fit(lr=schedule) equals one warm fit per epoch at the schedule's rate."""
    net, X, Y = _problem(rng)
    stepped = net.copy()
    history = _fit(net, X, Y, epochs=4, lr=schedule, momentum=0.9, seed=2)
    shuffles = np.random.default_rng(2)
    for epoch in range(4):
        rate = history.lr[epoch]
        _fit(stepped, X, Y, lr=rate, momentum=0.9, seed=shuffles, warm_start=epoch > 0)
    np.testing.assert_array_equal(stepped.params, net.params)
    assert history.lr == [ln.schedules.as_schedule(schedule)(e) for e in range(4)]


def test_a_constant_lr_is_the_default_bit_for_bit(rng):
    net, X, Y = _problem(rng)
    scheduled = net.copy()
    _fit(net, X, Y, epochs=3, lr=0.3, momentum=0.5)
    _fit(scheduled, X, Y, epochs=3, lr=lambda e: 0.3, momentum=0.5)
    assert net.params.tobytes() == scheduled.params.tobytes()


def test_a_bad_rate_at_a_later_epoch_raises_before_training(rng):
    net, X, Y = _problem(rng)
    before = net.params.copy()
    with pytest.raises(ValueError, match="lr at epoch 3"):
        _fit(net, X, Y, epochs=5, lr=lambda e: 0.1 if e < 3 else -1.0)
    np.testing.assert_array_equal(net.params, before)


# --- early stopping and the callback ------------------------------------------------


def test_early_stopping_keeps_the_best_epoch(rng):
    """Stops after `patience` epochs without a `tol` gain; the best params stay."""
    net, X, Y = _problem(rng, n=40)
    X_val, Y_val = X[:10] + 0.5, Y[:10]
    options = {"lr": 0.5, "validation": (X_val, Y_val), "momentum": 0.9}
    full = net.copy()
    costs = _fit(full, X, Y, epochs=30, **options).val_cost
    tol, patience = 0.01, 3
    best, best_epoch, waited, stop = np.inf, 0, 0, 30
    for epoch, cost in enumerate(costs, start=1):
        if cost < best - tol:
            best, best_epoch, waited = cost, epoch, 0
        else:
            waited += 1
        if waited == patience:
            stop = epoch
            break
    assert stop < 30, "the problem must stop early for this test to test it"
    history = _fit(
        net, X, Y, epochs=30, early_stopping=True, tol=tol, patience=patience, **options
    )
    assert history.epochs == stop and history.best_epoch == best_epoch
    assert history.stopped_by == "early_stopping"
    at_best = _problem(rng, n=40)[0]
    _fit(at_best, X, Y, epochs=best_epoch, **options)
    np.testing.assert_array_equal(net.params, at_best.params)
    assert net.cost(X_val, Y_val) == pytest.approx(costs[best_epoch - 1], rel=1e-12)


def test_early_stopping_holds_out_a_fraction(rng):
    net, X, Y = _problem(rng, n=40)
    history = _fit(net, X, Y, epochs=3, early_stopping=True, validation_fraction=0.25)
    assert len(history.val_cost) == 3 and history.best_epoch is not None
    with pytest.raises(ValueError, match="validation_fraction"):
        _fit(net, X[:1], Y[:1], early_stopping=True)


def test_the_callback_sees_each_row_and_can_stop(rng):
    net, X, Y = _problem(rng)
    rows = []

    def callback(row):
        rows.append(row)
        return row["epoch"] == 3

    history = _fit(net, X, Y, epochs=10, validation=(X, Y), callback=callback)
    assert history.epochs == 3 and history.stopped_by == "callback"
    assert rows == [history.row(epoch) for epoch in range(3)]
    assert set(rows[0]) == {
        "epoch",
        "cost",
        "val_cost",
        "val_accuracy",
        "lr",
        "seconds",
    }


# --- bad arguments ------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"optimizer": "rmsprop"}, ValueError, "optimizer"),
        ({"optimizer": None}, ValueError, "optimizer"),
        ({"optimizer": "adam", "momentum": 0.9}, ValueError, "momentum"),
        ({"beta1": 1.0}, ValueError, "beta1"),
        ({"beta2": -0.1}, ValueError, "beta2"),
        ({"eps": 0.0}, ValueError, "eps"),
        ({"lr": "fast"}, TypeError, "lr"),
        ({"lr": lambda e: "fast"}, TypeError, "lr at epoch 0"),
        ({"early_stopping": 1}, TypeError, "early_stopping"),
        ({"validation_fraction": 1.0}, ValueError, "validation_fraction"),
        ({"patience": 0}, ValueError, "patience"),
        ({"tol": -1.0}, ValueError, "tol"),
        ({"callback": "print"}, TypeError, "callback"),
        ({"warm_start": "yes"}, TypeError, "warm_start"),
    ],
)
def test_bad_arguments_raise_and_change_nothing(rng, kwargs, error, match):
    net, X, Y = _problem(rng)
    before = net.params.copy()
    with pytest.raises(error, match=match):
        _fit(net, X, Y, epochs=2, **kwargs)
    np.testing.assert_array_equal(net.params, before)
    assert net.optimizer_state is None


# without the JIT the cost is computed by NumPy scalars, which warn as they overflow
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_saved_optimizer_is_recorded_after_a_divergence(rng):
    net = ln.Network([1, 1], activation="identity", output="identity", seed=0)
    X, Y = np.full((4, 1), 1e3), np.zeros((4, 1))
    with pytest.raises(ln.DivergenceError):
        net.fit(X, Y, epochs=10, batch_size=1, lr=1e6, seed=0, momentum=0.5)
    assert isinstance(net.optimizer_state, training.SavedOptimizer)
    assert np.all(np.isfinite(net.optimizer_state.state.velocity))


def test_device_is_deprecated_for_method(rng):
    """``fit(device="cpu")`` still trains as ``method="loop"``, with a warning."""
    X, Y = rng.random((6, 3)), rng.random((6, 2))
    old, new = ln.Network([3, 2], seed=0), ln.Network([3, 2], seed=0)
    with pytest.warns(DeprecationWarning, match="use method='loop'"):
        old.fit(X, Y, epochs=2, seed=0, progress=False, device="cpu")
    new.fit(X, Y, epochs=2, seed=0, progress=False, method="loop")
    np.testing.assert_array_equal(old.params, new.params)
