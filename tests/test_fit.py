"""Network.fit: the fused compiled loop against gradient descent and a NumPy twin."""

import io
import sys
import warnings

import numpy as np
import pytest

import loopnet as ln
from loopnet import reference, training
from loopnet.activations import ACTIVATIONS
from loopnet.backends import loop
from loopnet.costs import COSTS, add_costs, cost_example, example_costs
from loopnet.kernels.training import _train_batches
from loopnet.steps import StepRule
from tests.helpers import HIDDEN, NO_JIT, PAIRINGS, targets

FIT_TOL = {"rtol": 1e-10, "atol": 1e-10}


def _problem(
    rng,
    output="sigmoid",
    cost="quadratic",
    hidden="sigmoid",
    n=23,
    sizes=(4, 5, 3),
    dtype=np.float64,
    bias=True,
):
    net = ln.Network(sizes, hidden, output, cost, bias=bias, dtype=dtype, seed=7)
    X = rng.standard_normal((n, sizes[0])).astype(dtype)
    Y = targets(rng, output, cost, n, sizes[-1], dtype)
    return net, X, Y


def numpy_fit(net, X, Y, epochs, batch_size, lr, l2, momentum, seed):
    """Train as ``fit`` does, written out with the matrix form.

    Returns the final (weights, biases) and each epoch's running training cost.
    """
    weights = [W.copy() for W in net.weights]
    biases = [b.copy() if net.bias else None for b in net.biases]
    velocities = [np.zeros_like(p) for p in weights + biases if p is not None]
    n = X.shape[0]
    to = net.dtype.type
    lr, decay, momentum = to(lr), to(l2 / n), to(momentum)
    rng = np.random.default_rng(seed)
    costs = []
    for _ in range(epochs):
        order = rng.permutation(n)
        total = 0.0
        for start in range(0, n, batch_size):
            batch = order[start : start + batch_size]
            Xb, Yb = X[batch], Y[batch]
            Zs, As = reference.forward(weights, biases, Xb, net.activations)
            total += example_costs(Zs[-1], As[-1], Yb, net.output, net.cost_name).sum()
            dWs, dbiases = reference.gradient(
                weights, biases, Xb, Yb, net.activations, net.cost_name
            )
            params = [p for p in weights + biases if p is not None]
            grads = [g for g in dWs + dbiases if g is not None]
            for i, (p, g) in enumerate(zip(params, grads, strict=True)):
                step = g + decay * p if i < len(weights) else g  # biases: no L2
                if momentum:
                    velocities[i] = momentum * velocities[i] - lr * step
                    p += velocities[i]
                else:
                    p -= lr * step
        costs.append(total / n)
    return weights, biases, costs


# --- against gradient descent and the NumPy twin -----------------------------------


@pytest.mark.parametrize("output, cost", PAIRINGS)
def test_full_batch_fit_is_gradient_descent(rng, output, cost):
    hidden = HIDDEN[PAIRINGS.index((output, cost)) % len(HIDDEN)]
    net, X, Y = _problem(rng, output, cost, hidden, n=12)
    expected, cost_before = net.copy(), []
    for _ in range(3):
        cost_before.append(float(expected.cost(X, Y)))
        g = expected.gradient(X, Y, reduction="mean", l2=0.1, method="matrix")
        expected.params[:] -= 0.5 * g.flat
    for batch_size in (12, 100):  # batch_size >= N is one full batch
        trained = net.copy()
        history = trained.fit(X, Y, epochs=3, batch_size=batch_size, lr=0.5, l2=0.1)
        np.testing.assert_allclose(trained.params, expected.params, **FIT_TOL)
        # full batch: the running cost is the cost before each epoch's step
        np.testing.assert_allclose(history.cost, cost_before, **FIT_TOL)


@pytest.mark.parametrize(
    "batch_size, momentum, l2, bias",
    [
        (5, 0.9, 0.5, True),
        (1, 0.0, 0.0, True),
        (7, 0.5, 0.2, False),
        (10, 0.0, 1.0, True),
    ],
)
def test_minibatch_fit_matches_numpy(rng, batch_size, momentum, l2, bias):
    net, X, Y = _problem(rng, "softmax", "log_likelihood", "tanh", bias=bias)
    weights, biases, costs = numpy_fit(net, X, Y, 3, batch_size, 0.2, l2, momentum, 4)
    history = net.fit(
        X, Y, epochs=3, batch_size=batch_size, lr=0.2, l2=l2, momentum=momentum, seed=4
    )
    for got, want in zip(net.weights + net.biases, weights + biases, strict=True):
        if want is not None:
            np.testing.assert_allclose(got, want, **FIT_TOL)
    np.testing.assert_allclose(history.cost, costs, **FIT_TOL)


@pytest.mark.parametrize(
    "sizes, n, batch_size, bias",
    [((3, 2), 1, 10, True), ((2, 1), 5, 2, False), ((3, 1, 4, 2), 9, 4, True)],
)
def test_small_shapes_match_numpy(rng, sizes, n, batch_size, bias):
    """One layer, one example, a layer of one unit, batches larger than N."""
    net, X, Y = _problem(rng, n=n, sizes=sizes, bias=bias)
    weights, biases, costs = numpy_fit(net, X, Y, 2, batch_size, 0.7, 0.3, 0.5, 9)
    history = net.fit(
        X, Y, epochs=2, batch_size=batch_size, lr=0.7, l2=0.3, momentum=0.5, seed=9
    )
    for got, want in zip(net.weights + net.biases, weights + biases, strict=True):
        if want is not None:
            np.testing.assert_allclose(got, want, **FIT_TOL)
    np.testing.assert_allclose(history.cost, costs, **FIT_TOL)


def test_float32_trains_in_float32(rng):
    net, X, Y = _problem(rng, "sigmoid", "cross_entropy", dtype=np.float32)
    params, weights = net.params, net.weights[0]
    X_before = X.copy()
    weights_ref, biases_ref, costs = numpy_fit(net, X, Y, 3, 5, 0.5, 0.1, 0.9, 0)
    history = net.fit(
        X, Y, epochs=3, batch_size=5, lr=0.5, l2=0.1, momentum=0.9, seed=0
    )
    assert net.params is params and net.params.dtype == np.float32
    assert np.shares_memory(net.weights[0], params) and net.weights[0] is weights
    np.testing.assert_array_equal(X, X_before)
    for got, want in zip(
        net.weights + net.biases, weights_ref + biases_ref, strict=True
    ):
        assert want.dtype == np.float32
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(history.cost, costs, rtol=1e-4)


@pytest.mark.skipif(NO_JIT, reason="no compiled signatures without the JIT")
def test_float32_compiles_no_float64_arithmetic(rng):
    """Every float argument of the float32 loop is float32 (no silent upcast)."""
    net, X, Y = _problem(rng, dtype=np.float32)
    net.fit(X, Y, epochs=1, batch_size=5, lr=0.5, momentum=0.5, seed=0)
    for signature in _train_batches.nopython_signatures:
        if str(signature.args[1].dtype) != "float32":  # params
            continue
        floats = [str(getattr(a, "dtype", a)) for a in _flat_types(signature.args)]
        floats = [f for f in floats if f.startswith("float")]
        # cost_sum is the one float64: the running cost is summed in float64
        assert floats.count("float64") == 1, signature.args


def _flat_types(types):
    """Numba types with tuples (the layout, step, workspace) opened up."""
    for t in types:
        if hasattr(t, "types"):
            yield from _flat_types(t.types)
        else:
            yield t


def test_chunking_never_changes_the_result(rng, monkeypatch):
    net, X, Y = _problem(rng, n=31)
    args = {"epochs": 2, "batch_size": 4, "lr": 0.3, "l2": 0.1, "momentum": 0.5}
    whole = net.copy()
    history = whole.fit(X, Y, seed=1, **args)
    per_batch = 3 * net.n_params * args["batch_size"]
    for batches_per_call in (1, 2, 3, 7):
        monkeypatch.setattr(training, "CHUNK_WORK", batches_per_call * per_batch)
        assert training.chunk_batches(net.n_params, 4, 8) == batches_per_call
        chunked = net.copy()
        chunked_history = chunked.fit(X, Y, seed=1, **args)
        np.testing.assert_array_equal(chunked.params, whole.params)
        assert chunked_history.cost == history.cost


def test_shuffling_follows_the_seed(rng):
    net, X, Y = _problem(rng)
    runs = []
    for seed in (3, 3, 4, np.random.default_rng(3)):
        trained = net.copy()
        trained.fit(X, Y, epochs=2, batch_size=4, seed=seed)
        runs.append(trained.params)
    np.testing.assert_array_equal(runs[0], runs[1])
    np.testing.assert_array_equal(runs[0], runs[3])  # a Generator is used as given
    assert not np.array_equal(runs[0], runs[2])
    unseeded = net.copy()
    unseeded.fit(X, Y, epochs=1, batch_size=4)
    assert np.all(np.isfinite(unseeded.params))


# --- the history -------------------------------------------------------------------


def test_history_contents(rng):
    net, X, Y = _problem(rng, "softmax", "log_likelihood")
    X_val, Y_val = X[:9] + 0.1, Y[:9]
    history = net.fit(X, Y, epochs=4, batch_size=6, lr=0.5, validation=[X_val, Y_val])
    assert isinstance(history, ln.History) and history.epochs == 4
    for column in (
        history.cost,
        history.val_cost,
        history.val_accuracy,
        history.seconds,
    ):
        assert len(column) == 4 and all(isinstance(x, float) for x in column)
    assert all(s > 0 for s in history.seconds) and history.compile_seconds >= 0
    # validation is measured after the epoch, on the trained parameters
    assert history.val_cost[-1] == pytest.approx(
        float(net.cost(X_val, Y_val)), rel=1e-12
    )
    assert history.val_accuracy[-1] == net.score(X_val, Y_val)
    assert history.cost[-1] < history.cost[0]
    columns = history.as_dict()
    assert list(columns) == [
        "epoch",
        "cost",
        "val_cost",
        "val_accuracy",
        "lr",
        "seconds",
    ]
    assert columns["epoch"] == [1, 2, 3, 4] and columns["cost"] == history.cost


def test_history_without_validation(rng):
    net, X, Y = _problem(rng)
    history = net.fit(X, Y, epochs=2)
    assert history.val_cost == [] and history.val_accuracy == []
    assert list(history.as_dict()) == ["epoch", "cost", "lr", "seconds"]


def test_divergence_stops_before_the_step_with_finite_parameters(rng):
    """The replaced contract: no RuntimeWarning, and never NaN parameters."""
    net, X, Y = _problem(rng, "identity", "quadratic", "identity")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the old RuntimeWarning is gone
        if NO_JIT:  # NumPy scalars add their own overflow warnings there
            warnings.simplefilter("ignore", RuntimeWarning)
        with pytest.raises(FloatingPointError, match="smaller lr") as raised:
            net.fit(X * 1e3, Y, epochs=6, batch_size=23, lr=1e3)
    assert isinstance(raised.value, ln.DivergenceError)
    assert np.all(np.isfinite(net.params))


@pytest.mark.parametrize("output, cost", PAIRINGS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cost_example_matches_example_costs(rng, output, cost, dtype):
    """The loop form of the running cost against the NumPy one, saturated rows too."""
    Z = (3 * rng.standard_normal((6, 4))).astype(dtype)
    Z[0, 0], Z[1, 1] = 80, -1e4  # outputs that round to exactly 1 and 0
    A = reference.forward_layer(np.eye(4, dtype=dtype), Z, activation=output)[1]
    Y = targets(rng, output, cost, 6, 4, dtype)
    want = example_costs(Z, A, Y, output, cost)
    got = [
        cost_example(COSTS[cost], ACTIVATIONS[output], Z[b], A[b], Y[b])
        for b in range(6)
    ]
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol)


@pytest.mark.parametrize("output, cost", PAIRINGS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_batch, n_out", [(1, 1), (1, 4), (7, 3), (10, 10)])
def test_add_costs_adds_each_cost_example_in_turn(
    rng, output, cost, dtype, n_batch, n_out
):
    """The epoch loop's running cost: the same bits as a cost_example per row."""
    Z = (3 * rng.standard_normal((n_batch, n_out))).astype(dtype)
    A = reference.forward_layer(np.eye(n_out, dtype=dtype), Z, activation=output)[1]
    Y = targets(rng, output, cost, n_batch, n_out, dtype)
    codes = COSTS[cost], ACTIVATIONS[output]
    want = 0.25
    for b in range(n_batch):
        want += cost_example(*codes, Z[b], A[b], Y[b])
    got = add_costs(*codes, Z, A, Y, 0.25)
    assert got == want and np.isfinite(got)


# --- progress bar and interruption ---------------------------------------------


class _Terminal(io.StringIO):
    def isatty(self):
        return True


@pytest.mark.parametrize(
    "progress, tty, shown",
    [(True, True, True), (False, True, False), (True, False, False)],
)
def test_progress_bar(rng, monkeypatch, progress, tty, shown):
    net, X, Y = _problem(rng)
    stream = _Terminal() if tty else io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    net.fit(X, Y, epochs=2, progress=progress)
    output = stream.getvalue()
    assert ("epoch 2/2" in output and "cost=" in output) == shown
    assert shown or output == ""


def test_keyboard_interrupt_keeps_the_last_step(rng, monkeypatch):
    net, X, Y = _problem(rng, n=40)
    initial = net.params.copy()
    snapshots = []

    def interrupted(*args):
        result = _train_batches(*args)
        snapshots.append(net.params.copy())
        if len(snapshots) == 3:  # warm-up call, batch 0, batch 1; Ctrl-C lands here
            raise KeyboardInterrupt
        return result

    monkeypatch.setattr(training, "CHUNK_WORK", 1)  # one mini-batch per call
    monkeypatch.setattr(loop, "_train_batches", interrupted)
    with pytest.raises(KeyboardInterrupt):
        net.fit(X, Y, epochs=3, batch_size=4, lr=0.5)
    np.testing.assert_array_equal(net.params, snapshots[-1])
    assert not np.array_equal(snapshots[-1], snapshots[-2])
    assert not np.array_equal(net.params, initial)


# --- bad arguments -----------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"epochs": 0}, ValueError, "epochs"),
        ({"epochs": 1.5}, TypeError, "epochs"),
        ({"epochs": True}, TypeError, "epochs"),
        ({"batch_size": 0}, ValueError, "batch_size"),
        ({"batch_size": "10"}, TypeError, "batch_size"),
        ({"lr": 0.0}, ValueError, "lr"),
        ({"lr": -0.1}, ValueError, "lr"),
        ({"lr": float("nan")}, ValueError, "lr"),
        ({"lr": float("inf")}, ValueError, "lr"),
        ({"lr": None}, TypeError, "lr"),
        ({"l2": -1.0}, ValueError, "l2"),
        ({"l2": float("nan")}, ValueError, "l2"),
        ({"momentum": 1.0}, ValueError, "momentum"),
        ({"momentum": -0.5}, ValueError, "momentum"),
        ({"seed": -1}, ValueError, "seed"),
        ({"seed": "abc"}, TypeError, "seed"),
        ({"validation": "xy"}, TypeError, "validation"),
        ({"validation": (np.zeros((2, 4)),)}, ValueError, "validation"),
        (
            {"validation": (np.zeros((2, 5)), np.zeros((2, 3)))},
            ValueError,
            "validation.*X",
        ),
        (
            {"validation": (np.zeros((2, 4)), np.zeros((3, 3)))},
            ValueError,
            "validation.*Y",
        ),
        ({"progress": "yes"}, TypeError, "progress"),
        ({"X": np.zeros((23, 3))}, ValueError, "X has 3 columns"),
        ({"Y": np.zeros((22, 3))}, ValueError, "Y has 22 rows"),
        ({"X": np.full((23, 4), np.nan)}, ValueError, "X must be finite"),
    ],
)
def test_bad_arguments_raise_and_change_nothing(rng, kwargs, error, match):
    net, X, Y = _problem(rng)
    before = net.params.copy()
    arguments = {"X": X, "Y": Y, "epochs": 2} | kwargs
    with pytest.raises(error, match=match):
        net.fit(**arguments)
    np.testing.assert_array_equal(net.params, before)


# --- inputs the compiled loop finds not finite ------------------------------------


def _saved_state(net):
    return [array.copy() for array in net.optimizer_state.state]


@pytest.mark.parametrize("method", ["loop", "matrix"])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("row", [0, 150, 299])
def test_a_bad_row_anywhere_raises_and_puts_everything_back(rng, method, bad, row):
    """A bad row found mid-epoch: fit undoes the steps before it.

    The loop trainer finds it in one of 60 mini-batches; the optimizer state is
    put back too.
    """
    net, X, Y = _problem(rng, n=300)
    options = {"batch_size": 5, "lr": 0.1, "momentum": 0.9, "progress": False}
    net.fit(X, Y, epochs=1, seed=0, method=method, **options)  # leaves a velocity
    params, state = net.params.copy(), _saved_state(net)
    saved = net.optimizer_state
    X_bad = X.copy()
    X_bad[row, 2] = bad
    with pytest.raises(ValueError, match=r"X must be finite; it holds 1 NaN or inf"):
        net.fit(X_bad, Y, epochs=2, seed=0, method=method, warm_start=True, **options)
    np.testing.assert_array_equal(net.params, params)
    assert net.optimizer_state is saved
    for array, before in zip(net.optimizer_state.state, state, strict=True):
        np.testing.assert_array_equal(array, before)


def test_the_chunks_before_a_bad_row_ran(rng, monkeypatch):
    """So the row was found by the trainer, not by a pass before training."""
    monkeypatch.setattr(training, "CHUNK_WORK", 1)  # one mini-batch per chunk
    net, X, Y = _problem(rng, n=40)
    X[37, 0] = np.nan
    runs = []
    trainer = loop.Trainer.run

    def counted(self, order, first, stop, cost_sum):
        runs.append(first)
        return trainer(self, order, first, stop, cost_sum)

    monkeypatch.setattr(loop.Trainer, "run", counted)
    before = net.params.copy()
    with pytest.raises(ValueError, match="X must be finite"):
        net.fit(X, Y, epochs=1, batch_size=4, seed=0, progress=False)
    order = np.random.default_rng(0).permutation(40)
    bad_batch = int(np.flatnonzero(order == 37)[0]) // 4
    assert runs[1:] == list(range(bad_batch + 1))  # after the compiling call
    np.testing.assert_array_equal(net.params, before)
    assert net.optimizer_state is None


def test_a_bad_row_is_named_even_after_a_divergence(rng):
    """A step that diverges before the bad row is reached is not the cause."""
    net, X, Y = _problem(rng, n=40, hidden="relu", output="identity")
    arguments = {"epochs": 1, "batch_size": 4, "lr": 1e3, "seed": 0, "progress": False}
    with pytest.raises(ln.DivergenceError, match="mini-batch [1-9]:"):
        net.copy().fit(X, Y, **arguments)
    order = np.random.default_rng(0).permutation(40)
    X[order[-1], 0] = np.inf  # in the last mini-batch
    with pytest.raises(ValueError, match="X must be finite"):
        net.fit(X, Y, **arguments)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_the_compiled_loop_stops_before_a_bad_mini_batch(rng, dtype, bad):
    net, X, Y = _problem(rng, n=12, dtype=dtype)
    X[7, 1] = bad
    tiny = np.finfo(dtype)
    X[2, :] = [tiny.max, -tiny.max, tiny.smallest_subnormal, -0.0]  # all finite
    order = np.arange(12, dtype=np.int64)
    rule = StepRule(lr=0.1)
    trainer = loop.trainer(net.layout, net.params.copy(), X, Y, 3, rule)
    cost = trainer.run(order, 0, 2, 0.0)  # rows 0-5: finite
    assert np.isfinite(cost)
    after_two = trainer.params.copy()
    assert np.isnan(trainer.run(order, 2, 4, cost))  # rows 6-8 hold the bad one
    np.testing.assert_array_equal(trainer.params, after_two)
    assert trainer.state.t[0] == 2


def test_a_value_beyond_float32_is_named_as_such(rng):
    net, X, Y = _problem(rng, n=40, dtype=np.float32)
    X64 = X.astype(np.float64)
    X64[33, 1] = 1e300
    before = net.params.copy()
    with pytest.raises(ValueError, match="X holds values beyond the range of float32"):
        net.fit(X64, Y, epochs=1, batch_size=4, progress=False)
    np.testing.assert_array_equal(net.params, before)


@pytest.mark.parametrize("row", [0, 39])
def test_rows_split_off_for_validation_are_checked_too(rng, row):
    net, X, Y = _problem(rng, n=40)
    X[row, 3] = np.nan
    before = net.params.copy()
    with pytest.raises(ValueError, match="X must be finite"):
        net.fit(X, Y, epochs=3, early_stopping=True, validation_fraction=0.5)
    np.testing.assert_array_equal(net.params, before)
