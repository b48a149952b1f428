"""loopnet.kernels.compiled: the kernels called from a user's own @njit code.

The training loop below is what a user writes: forward, output error, hidden
error, gradients and an SGD step per mini-batch, in Numba, through the names of
``loopnet.kernels.compiled`` only. It is held against the matrix form (the
``loopnet.reference`` twins in the same loop, and ``Network.fit(method="matrix")``)
after a few steps; every exported name against its docstring and its twin.
"""

import inspect
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numba
import numpy as np
import pytest

import loopnet as ln
from loopnet import reference
from loopnet.kernels import compiled
from tests.helpers import NO_JIT, TOL, targets

ROOT = Path(__file__).resolve().parents[1]

# (hidden activation, output activation, cost): a closed-form output error, the
# general one, and a softmax
ARCHITECTURES = [
    ("tanh", "sigmoid", "cross_entropy"),
    ("sigmoid", "sigmoid", "quadratic"),
    ("relu", "softmax", "log_likelihood"),
]
NAMES = (*ln.activations.ACTIVATIONS, *ln.costs.COSTS)
CODES = {name: getattr(compiled, name.upper()) for name in NAMES}


@numba.njit
def train(W1, b1, W2, b2, X, Y, batch_size, epochs, lr, hidden, output, cost):
    """A user's loop: mini-batch SGD on a two-layer network, in index order."""
    n, n_1, n_2 = X.shape[0], W1.shape[0], W2.shape[0]
    dtype = W1.dtype
    Z1, Z2 = np.empty((batch_size, n_1), dtype), np.empty((batch_size, n_2), dtype)
    A1, A2 = np.empty_like(Z1), np.empty_like(Z2)
    D1, D2 = np.empty_like(Z1), np.empty_like(Z2)
    dW1, db1 = np.empty_like(W1), np.empty_like(b1)
    dW2, db2 = np.empty_like(W2), np.empty_like(b2)
    no_velocity = np.empty(0, dtype)  # plain SGD reads no velocity
    zero = dtype.type(0)
    for _ in range(epochs):
        for start in range(0, n, batch_size):
            m = min(batch_size, n - start)
            X_b, Y_b = X[start : start + m], Y[start : start + m]
            compiled.forward_layer(W1, b1, X_b, hidden, Z1[:m], A1[:m])
            compiled.forward_layer(W2, b2, A1[:m], output, Z2[:m], A2[:m])
            compiled.output_error(Z2[:m], A2[:m], Y_b, output, cost, D2[:m])
            compiled.hidden_error(D2[:m], W2, Z1[:m], hidden, D1[:m])
            compiled.weight_gradient(D2[:m], A1[:m], dW2)
            compiled.bias_gradient(D2[:m], db2)
            compiled.weight_gradient(D1[:m], X_b, dW1)
            compiled.bias_gradient(D1[:m], db1)
            scale = dtype.type(1 / m)  # the mean over the mini-batch
            for param, grad in ((W1, dW1), (W2, dW2)):
                compiled.sgd_step(
                    param.reshape(-1),
                    grad.reshape(-1),
                    no_velocity,
                    lr,
                    scale,
                    zero,
                    zero,
                )
            for param, grad in ((b1, db1), (b2, db2)):
                compiled.sgd_step(param, grad, no_velocity, lr, scale, zero, zero)


def train_by_reference(weights, biases, X, Y, batch_size, epochs, lr, names):
    """``train`` by the matrix-form twins, on copies of the parameters."""
    hidden, output, cost = names
    (W1, W2), (b1, b2) = [W.copy() for W in weights], [b.copy() for b in biases]
    for _ in range(epochs):
        for start in range(0, X.shape[0], batch_size):
            X_b, Y_b = X[start : start + batch_size], Y[start : start + batch_size]
            Z1, A1 = reference.forward_layer(W1, X_b, b1, hidden)
            Z2, A2 = reference.forward_layer(W2, A1, b2, output)
            D2 = reference.output_error(Z2, A2, Y_b, output, cost)
            D1 = reference.hidden_error(D2, W2, Z1, hidden)
            scale = X.dtype.type(1 / X_b.shape[0])
            grads = (
                scale * reference.weight_gradient(D1, X_b),
                scale * reference.bias_gradient(D1),
                scale * reference.weight_gradient(D2, A1),
                scale * reference.bias_gradient(D2),
            )
            W1, b1, W2, b2 = (
                reference.sgd_step(p, g, lr)[0]
                for p, g in zip((W1, b1, W2, b2), grads, strict=True)
            )
    return [W1, W2], [b1, b2]


def _problem(names, dtype, n, seed=0):
    """A [4, 5, 3] network of ``names`` and n examples that suit its cost."""
    hidden, output, cost = names
    rng = np.random.default_rng(seed)
    net = ln.Network([4, 5, 3], hidden, output, cost, dtype=dtype, seed=seed)
    X = rng.standard_normal((n, 4)).astype(dtype)
    return net, X, targets(rng, output, cost, n, 3, dtype)


def _train(net, X, Y, batch_size, epochs, lr, names):
    """``train`` on ``net``'s own parameters (views into ``net.params``)."""
    (W1, W2), (b1, b2) = net.weights, net.biases
    codes = [CODES[name] for name in names]
    train(W1, b1, W2, b2, X, Y, batch_size, epochs, net.dtype.type(lr), *codes)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("batch_size", [1, 5])  # 13 examples: a last batch of 3
@pytest.mark.parametrize("names", ARCHITECTURES)
def test_a_users_loop_trains_as_the_matrix_form(dtype, batch_size, names):
    net, X, Y = _problem(names, dtype, 13)
    weights, biases = train_by_reference(
        net.weights, net.biases, X, Y, batch_size, 2, 0.5, names
    )
    before = net.params.copy()
    _train(net, X, Y, batch_size, 2, 0.5, names)
    assert net.params.dtype == dtype
    assert np.abs(net.params - before).max() > 1e-3  # it did train
    for W, bias, W_ref, bias_ref in zip(
        net.weights, net.biases, weights, biases, strict=True
    ):
        np.testing.assert_allclose(W, W_ref, **TOL[dtype])
        np.testing.assert_allclose(bias, bias_ref, **TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [1, 7])  # one mini-batch of all n: the order is moot
def test_a_users_loop_steps_as_network_fit_by_the_matrix_form(dtype, n):
    names = ARCHITECTURES[0]
    net, X, Y = _problem(names, dtype, n)
    fitted = _problem(names, dtype, n)[0]
    fitted.fit(X, Y, epochs=3, batch_size=n, lr=0.5, progress=False, method="matrix")
    _train(net, X, Y, n, 3, 0.5, names)
    np.testing.assert_allclose(net.params, fitted.params, **TOL[dtype])


def _docstring_entries():
    """The names each entry of the module docstring's table documents."""
    table = compiled.__doc__.split("The kernels\n-----------", 1)[1]
    table = table.split("\nNotes\n", 1)[0]
    names = set()
    for line in table.splitlines():
        if line.startswith("``"):  # an entry's first line, not its indented text
            names.update(re.findall(r"``(\w+)", line))
    return names


def test_every_name_is_a_dispatcher_or_a_code_and_documented():
    assert sorted(compiled.__all__) == compiled.__all__
    documented = _docstring_entries()
    for name in compiled.__all__:
        value = getattr(compiled, name)
        if name.isupper():
            assert isinstance(value, int), name
        elif NO_JIT:  # njit hands back the Python function
            assert inspect.isfunction(value), name
        else:
            assert isinstance(value, numba.core.dispatcher.Dispatcher), name
        assert name in documented, f"{name} has no entry in the docstring's table"
    assert documented == set(compiled.__all__)
    codes = {**ln.activations.ACTIVATIONS, **ln.costs.COSTS}
    assert {name: CODES[name] for name in codes} == codes


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("output", ["sigmoid", "softmax", "identity"])
def test_output_error_from_gradient_is_the_jacobian_product(rng, dtype, output):
    Z = rng.standard_normal((5, 3)).astype(dtype)
    A = reference.forward_layer(np.eye(3, dtype=dtype), Z, None, output)[1]
    Y = targets(rng, output, "quadratic", 5, 3, dtype)
    code = CODES[output]
    delta = np.empty_like(Z)
    compiled.output_error_from_gradient(Z, A, A - Y, code, delta)
    general = np.empty_like(Z)
    compiled.output_error_general(Z, A, Y, code, compiled.QUADRATIC, general)
    np.testing.assert_array_equal(delta, general)  # grad_a C = a - y, the same code
    ref = reference.jacobian_transpose_product(Z, A, A - Y, output)
    np.testing.assert_allclose(delta, ref, **TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_batch", [1, 7])
def test_the_network_drivers_are_networks(dtype, n_batch):
    names = ARCHITECTURES[2]
    net, X, Y = _problem(names, dtype, n_batch)
    layout, to = net.layout, net.dtype.type
    offsets = compiled.unit_offsets(layout.sizes, n_batch)
    assert offsets.tolist() == [0, 5 * n_batch, 8 * n_batch]
    Z, A, D = np.empty((3, offsets[-1]), dtype=dtype)
    compiled.forward_pass(layout, net.params, X, Z, A)
    outputs = A[offsets[-2] : offsets[-1]].reshape(n_batch, 3)
    np.testing.assert_array_equal(outputs, net.forward(X))
    grad = np.empty_like(net.params)
    compiled.network_gradient(
        layout, net.params, X, Y, to(1 / n_batch), to(0.1), Z, A, D, grad
    )
    np.testing.assert_array_equal(grad, net.gradient(X, Y, l2=0.1).flat)
    matrix = net.gradient(X, Y, l2=0.1, method="matrix").flat
    np.testing.assert_allclose(grad, matrix, **TOL[dtype])
    total = compiled.add_costs(
        layout.cost,
        layout.activations[-1],
        Z[offsets[-2] :].reshape(n_batch, 3),
        outputs,
        Y,
        0.0,
    )
    assert total == pytest.approx(
        net.cost(X, Y, reduction="sum"), rel=TOL[dtype]["rtol"]
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_momentum_steps_are_their_twins(rng, dtype):
    to = np.dtype(dtype).type
    W = rng.standard_normal(6).astype(dtype)
    dW = rng.standard_normal(6).astype(dtype)
    velocity = rng.standard_normal(6).astype(dtype)
    lr, decay, mu = to(0.1), to(0.01), to(0.9)
    for step, twin in (
        (compiled.sgd_step, reference.sgd_step),
        (compiled.nesterov_step, reference.nesterov_step),
    ):
        param, v = W.copy(), velocity.copy()
        step(param, dW, v, lr, to(1), decay, mu)
        W_ref, v_ref = twin(W, dW, lr, decay, mu, velocity)
        np.testing.assert_allclose(param, W_ref, **TOL[dtype])
        np.testing.assert_allclose(v, v_ref, **TOL[dtype])
    param, m, v = W.copy(), np.zeros_like(W), np.zeros_like(W)
    for t in (1, 2):
        compiled.adam_step(
            param, dW, m, v, lr, to(1), decay, to(0.9), to(0.999), to(1e-8), t
        )
    W_ref, m_ref, v_ref = reference.adam_step(W, dW, lr, decay)
    W_ref, m_ref, v_ref = reference.adam_step(
        W_ref, dW, lr, decay, m=m_ref, v=v_ref, t=2
    )
    for loop, ref in ((param, W_ref), (m, m_ref), (v, v_ref)):
        np.testing.assert_allclose(loop, ref, **TOL[dtype])


USER_SCRIPT = """
import json
import numba
import numpy as np
from loopnet.kernels import compiled


@numba.njit(cache=True)
def layer(W, bias, X):
    Z = np.empty((X.shape[0], W.shape[0]), dtype=W.dtype)
    A = np.empty_like(Z)
    compiled.forward_layer(W, bias, X, compiled.SIGMOID, Z, A, True)
    return A


rng = np.random.default_rng(0)
W, X = rng.standard_normal((64, 64)), rng.random((64, 64))  # 2**18: parallel
started = numba.np.ufunc.parallel._is_initialized  # by the import alone
A = layer(W, np.zeros(64), X)
print(json.dumps({
    "close": bool(np.allclose(A, 1 / (1 + np.exp(-(X @ W.T))))),
    "started": bool(started),
    "hits": sum(layer.stats.cache_hits.values()),
}))
"""

FILL_CACHE = """
import numpy as np
from loopnet import kernels
kernels.forward_layer(np.ones((64, 64)), np.ones((64, 64)), np.zeros(64))
"""


@pytest.mark.heavy  # three fresh interpreters compiling into a fresh cache
@pytest.mark.skipif(NO_JIT, reason="about compiled code and its cache")
def test_a_cached_user_function_runs_a_parallel_kernel(tmp_path):
    """loopnet's kernels cached first, then a user's cached caller, twice.

    The second process compiles the user's function around the kernels it
    loads from the cache, the third loads it too: numba#8578's case, where the
    third ran a parallel loop without a thread pool and crashed, up to numba 0.62.
    """
    script = tmp_path / "user.py"
    script.write_text(textwrap.dedent(USER_SCRIPT))
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "NUMBA_CACHE_DIR": str(tmp_path / "cache"),
        "NUMBA_NUM_THREADS": "2",
    }
    reports = []
    for command in (["-c", FILL_CACHE], [str(script)], [str(script)]):
        done = subprocess.run(
            [sys.executable, *command],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
            cwd=tmp_path,
        )
        assert done.returncode == 0, (command, done.returncode, done.stderr[-2000:])
        reports.append(done.stdout)
    first, second = (json.loads(report) for report in reports[1:])
    assert first["close"] and second["close"]
    assert first["started"] and second["started"]
    assert first["hits"] == 0 and second["hits"] == 1
