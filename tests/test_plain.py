"""Every fast kernel against its plain sibling, the equation as a triple loop.

Bit for bit where both add the same terms in the same order (the weight gradient
and the fused weight step below ``MIN_TILED_BATCH`` examples, the hidden error
below ``MIN_DOT_LENGTH`` terms, the training loop against the gradient-then-step
composition), to ``TOL`` where the fast kernel sums in register tiles.
"""

import os
import subprocess
import sys

import numpy as np
import pytest

import loopnet as ln
from loopnet._jit import MIN_PARALLEL_WORK
from loopnet.activations import ACTIVATIONS, ARRAY_FORMS
from loopnet.kernels._tiles import (
    MIN_DOT_LENGTH,
    MIN_TILED_BATCH,
    PARALLEL_BLOCKS,
    TILE,
)
from loopnet.kernels.backprop import (
    Workspace,
    _backward_pass,
    _backward_pass_plain,
    _error_pass,
    _error_pass_plain,
    _forward_pass,
    _forward_pass_plain,
    _network_gradient,
    _network_gradient_plain,
)
from loopnet.kernels.errors import _hidden_error, _hidden_error_plain
from loopnet.kernels.forward import _forward_layer, _forward_layer_plain
from loopnet.kernels.gradients import (
    _weight_gradient,
    _weight_gradient_plain,
)
from loopnet.kernels.siblings import PLAIN
from loopnet.kernels.training import (
    TrainingWorkspace,
    _train_batches,
    _train_batches_plain,
)
from loopnet.kernels.update import (
    ADAM,
    NESTEROV,
    SGD,
    OptimizerState,
    Step,
    _network_step,
    _weight_step,
    _weight_step_plain,
)
from tests.helpers import DTYPES, HIDDEN, NO_JIT, PAIRINGS, PRODUCT_SHAPES, TOL, targets


def sum_bound(magnitude, n_terms, dtype):
    """gamma_n * magnitude: how far any float sum of n terms can be from the exact.

    For any order of summation, |fl(sum) - sum| <= gamma_n * sum |terms| with
    gamma_n = n u / (1 - n u), u the unit roundoff (Higham, Accuracy and
    Stability of Numerical Algorithms, 2nd ed., eq. 4.4); ``magnitude`` is
    sum |terms| per entry, in float64. In float32 a sum of 784 terms in index
    order (the plain loops) misses float32's ``TOL`` where the terms cancel:
    both forms are held to this bound instead.
    """
    u = np.finfo(dtype).eps / 2
    return n_terms * u / (1 - n_terms * u) * magnitude


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", list(ACTIVATIONS))
@pytest.mark.parametrize("n_batch, n_l, n_prev", PRODUCT_SHAPES)
def test_forward_layer_equals_its_plain_sibling(
    rng, dtype, activation, n_batch, n_l, n_prev
):
    if activation == "softmax" and n_l < 2:
        n_l = 2
    W = rng.standard_normal((n_l, n_prev)).astype(dtype)
    bias = rng.standard_normal(n_l).astype(dtype)
    A_prev = rng.random((n_batch, n_prev)).astype(dtype)
    fast = [np.empty((n_batch, n_l), dtype=dtype) for _ in range(2)]
    plain = [np.empty((n_batch, n_l), dtype=dtype) for _ in range(2)]
    code = ACTIVATIONS[activation]
    _forward_layer(W, bias, A_prev, code, *fast)
    _forward_layer_plain(W, bias, A_prev, code, *plain)
    if dtype == np.float64:
        for got, want in zip(fast, plain, strict=True):
            np.testing.assert_allclose(got, want, **TOL[dtype])
        return
    W64, bias64, A64 = (x.astype(np.float64) for x in (W, bias, A_prev))
    exact = A64 @ W64.T + bias64
    bound = sum_bound(np.abs(A64) @ np.abs(W64).T + np.abs(bias64), n_prev + 1, dtype)
    for Z in (fast[0], plain[0]):
        assert np.all(np.abs(Z - exact) <= bound)
    # every activation moves its outputs by at most as much as its inputs moved
    # (Lipschitz constant 1), plus one rounding of the output
    step = 2 * bound.max() + np.finfo(dtype).eps
    np.testing.assert_allclose(fast[1], plain[1], rtol=0, atol=step)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", HIDDEN)
@pytest.mark.parametrize("n_batch, n_l, n_next", PRODUCT_SHAPES)
def test_hidden_error_equals_its_plain_sibling(
    rng, dtype, activation, n_batch, n_l, n_next
):
    W_next = rng.standard_normal((n_next, n_l)).astype(dtype)
    delta_next = rng.standard_normal((n_batch, n_next)).astype(dtype)
    Z = rng.standard_normal((n_batch, n_l)).astype(dtype) + 0.1
    fast = np.empty((n_batch, n_l), dtype=dtype)
    plain = np.empty((n_batch, n_l), dtype=dtype)
    _hidden_error(delta_next, W_next, Z, ACTIVATIONS[activation], fast)
    _hidden_error_plain(delta_next, W_next, Z, ACTIVATIONS[activation], plain)
    if n_next < MIN_DOT_LENGTH:  # both add the rows W_next[m] in increasing m
        np.testing.assert_array_equal(fast, plain)
    elif dtype == np.float64:
        np.testing.assert_allclose(fast, plain, **TOL[dtype])
    else:
        derivative = ARRAY_FORMS[activation][1](Z.astype(np.float64))
        D64, W64 = delta_next.astype(np.float64), W_next.astype(np.float64)
        exact = (D64 @ W64) * derivative
        magnitude = (np.abs(D64) @ np.abs(W64)) * np.abs(derivative)
        bound = sum_bound(magnitude, n_next + 2, dtype)  # + the product by sigma'
        for delta in (fast, plain):
            assert np.all(np.abs(delta - exact) <= bound)


WEIGHT_SHAPES = [*PRODUCT_SHAPES, (MIN_TILED_BATCH, 9, 21), (5, 2 * TILE + 1, 3)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n_batch, n_l, n_prev", WEIGHT_SHAPES)
def test_weight_gradient_equals_its_plain_sibling(rng, dtype, n_batch, n_l, n_prev):
    delta = rng.standard_normal((n_batch, n_l)).astype(dtype)
    A_prev = rng.random((n_batch, n_prev)).astype(dtype)
    fast = np.empty((n_l, n_prev), dtype=dtype)
    plain = np.empty((n_l, n_prev), dtype=dtype)
    _weight_gradient(delta, A_prev, fast)
    _weight_gradient_plain(delta, A_prev, plain)
    if n_batch < MIN_TILED_BATCH:  # both add the terms in increasing b
        np.testing.assert_array_equal(fast, plain)
    else:
        np.testing.assert_allclose(fast, plain, **TOL[dtype])


def _step_problem(rng, dtype, n_batch, n_l, n_prev):
    W = rng.standard_normal(n_l * n_prev).astype(dtype)
    velocity = rng.standard_normal(n_l * n_prev).astype(dtype)
    delta = rng.standard_normal((n_batch, n_l)).astype(dtype)
    A_prev = rng.random((n_batch, n_prev)).astype(dtype)
    return W, velocity, delta, A_prev


# the last shape is large enough for the rows to be split between threads
STEP_SHAPES = [*WEIGHT_SHAPES, (16, 40, MIN_PARALLEL_WORK // 16 // 40 + 1)]
if NO_JIT:
    STEP_SHAPES = STEP_SHAPES[:-1]


# (optimizer, momentum): plain SGD, classical momentum, Nesterov, Adam
OPTIMIZERS = [(SGD, 0.0), (SGD, 0.9), (NESTEROV, 0.9), (ADAM, 0.0)]


def _state(rng, kind, n, dtype):
    """An optimizer state as after a few steps: random buffers, t = 3."""
    state = OptimizerState.zeros(kind, n, dtype)
    for array in state[:3]:
        array[...] = rng.random(array.shape)
    state.t[0] = 3
    return state


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind, momentum", OPTIMIZERS)
@pytest.mark.parametrize("n_batch, n_l, n_prev", STEP_SHAPES)
def test_fused_weight_step_equals_gradient_then_step(
    rng, dtype, kind, momentum, n_batch, n_l, n_prev
):
    """``_weight_step`` never stores dC/dW whole, yet moves W as the plain step."""
    W, _, delta, A_prev = _step_problem(rng, dtype, n_batch, n_l, n_prev)
    step = Step.of(kind, dtype, lr=0.3, decay=0.01, momentum=momentum)
    scale = np.dtype(dtype).type(1) / np.dtype(dtype).type(n_batch)
    state = _state(rng, kind, W.shape[0], dtype)
    fast_W, fast_state = W.copy(), OptimizerState(*(a.copy() for a in state))
    scratch = np.empty((PARALLEL_BLOCKS, TILE * n_prev), dtype=dtype)
    _weight_step(fast_W, fast_state, delta, A_prev, step, scale, scratch)
    plain_W, plain_state = W.copy(), OptimizerState(*(a.copy() for a in state))
    dW = np.empty((n_l, n_prev), dtype=dtype)
    _weight_step_plain(plain_W, plain_state, delta, A_prev, step, scale, dW)
    for fast, plain in zip((fast_W, *fast_state), (plain_W, *plain_state), strict=True):
        if n_batch < MIN_TILED_BATCH:
            np.testing.assert_array_equal(fast, plain)
        else:
            np.testing.assert_allclose(fast, plain, **TOL[dtype])
    assert not np.array_equal(fast_W, W)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("output, cost", PAIRINGS)
@pytest.mark.parametrize("bias", [True, False])
def test_network_gradient_equals_its_plain_driver(rng, dtype, output, cost, bias):
    net = ln.Network([7, 40, 9, 3], "tanh", output, cost, bias, dtype, seed=3)
    X = rng.random((11, 7)).astype(dtype)
    Y = targets(rng, output, cost, 11, 3, dtype)
    to = np.dtype(dtype).type
    grads, works = [], []
    for driver in (_network_gradient, _network_gradient_plain):
        work = Workspace.allocate(net.layout, 11, dtype)
        grad = np.empty_like(net.params)
        driver(net.layout, net.params, X, Y, to(1 / 11), to(0.1), work, grad)
        grads.append(grad)
        works.append(work)
    np.testing.assert_allclose(grads[0], grads[1], **TOL[dtype])
    for fast, plain in zip(works[0], works[1], strict=True):
        np.testing.assert_allclose(fast, plain, **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("output, cost", PAIRINGS)
@pytest.mark.parametrize("kind, momentum", OPTIMIZERS)
def test_training_loop_equals_gradient_then_step(
    rng, dtype, output, cost, kind, momentum
):
    """The fused loop takes the old loop's steps bit for bit (batches < 128).

    The old loop: forward, the whole backward pass into a gradient array, then
    every block's step (``_network_step``).
    """
    net = ln.Network([6, 9, 4], "sigmoid", output, cost, True, dtype, seed=5)
    X = rng.random((23, 6)).astype(dtype)
    Y = targets(rng, output, cost, 23, 4, dtype)
    order = rng.permutation(23).astype(np.int64)
    to = np.dtype(dtype).type
    step = Step.of(kind, dtype, lr=0.4, decay=0.02, momentum=momentum)
    batch_size, layout = 5, net.layout
    fused = net.params.copy()
    fused_state = OptimizerState.zeros(kind, net.n_params, dtype)
    work = TrainingWorkspace.allocate(layout, batch_size, dtype)
    _train_batches(
        layout, fused, X, Y, order, 0, 5, batch_size, step, fused_state, work, 0.0
    )
    params = net.params.copy()
    state = OptimizerState.zeros(kind, net.n_params, dtype)
    for first in range(0, 23, batch_size):
        rows = order[first : first + batch_size]
        buffers = Workspace.allocate(layout, rows.shape[0], dtype)
        grad = np.empty_like(params)
        _forward_pass(layout, params, X[rows], buffers.Z, buffers.A)
        _backward_pass(
            layout,
            params,
            X[rows],
            Y[rows],
            buffers.Z,
            buffers.A,
            buffers.D,
            grad,
            to(1),
            to(0),
        )
        scale = to(1) / to(rows.shape[0])
        _network_step(layout, params, grad, state, step, scale)
    np.testing.assert_array_equal(fused, params)
    for fused_array, array in zip(fused_state, state, strict=True):
        np.testing.assert_array_equal(fused_array, array)


def _epoch(epoch, net, X, Y, order, kind, momentum, batch_size):
    """Parameters, optimizer state and running cost after ``epoch`` runs ``order``."""
    dtype = net.dtype
    step = Step.of(kind, dtype, lr=0.4, decay=0.02, momentum=momentum)
    params = net.params.copy()
    state = OptimizerState.zeros(kind, net.n_params, dtype)
    work = TrainingWorkspace.allocate(net.layout, batch_size, dtype)
    n_batches = -(-X.shape[0] // batch_size)
    cost = epoch(
        net.layout,
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
    )
    return params, state, cost


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("output, cost", PAIRINGS)
@pytest.mark.parametrize("kind, momentum", OPTIMIZERS)
@pytest.mark.parametrize("batch_size", [1, 5, 23])
def test_training_loop_equals_its_plain_sibling(
    rng, dtype, output, cost, kind, momentum, batch_size
):
    """The fused epoch takes the seeds' steps bit for bit where the sums agree.

    With one unit feeding each unit (sizes [1, 1, 4]) every forward sum has one
    term, so the dot tiles have nothing to reorder, and the output layer's
    fan-out is below ``MIN_DOT_LENGTH``; the weight sums over b keep the seeds'
    order below ``MIN_TILED_BATCH``. Every bit of the parameters, the optimizer
    state and the running cost then agrees.
    """
    net = ln.Network([1, 1, 4], "tanh", output, cost, True, dtype, seed=5)
    X = rng.standard_normal((23, 1)).astype(dtype)
    Y = targets(rng, output, cost, 23, 4, dtype)
    order = rng.permutation(23).astype(np.int64)
    fast = _epoch(_train_batches, net, X, Y, order, kind, momentum, batch_size)
    plain = _epoch(_train_batches_plain, net, X, Y, order, kind, momentum, batch_size)
    np.testing.assert_array_equal(fast[0], plain[0])
    for fast_array, plain_array in zip(fast[1], plain[1], strict=True):
        np.testing.assert_array_equal(fast_array, plain_array)
    assert fast[2] == plain[2]
    assert not np.array_equal(fast[0], net.params)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("output, cost", PAIRINGS)
@pytest.mark.parametrize("kind, momentum", OPTIMIZERS)
def test_training_loop_is_its_plain_sibling_to_rounding(
    rng, dtype, output, cost, kind, momentum
):
    """Wider layers: the tiles reorder the forward sums, and only rounding differs.

    Five steps of [40, 37, 9, 3] at batch 5 and a last mini-batch of 3: the
    parameters agree to ``TOL``, as one gradient of the two forms does.
    """
    net = ln.Network([40, 37, 9, 3], "sigmoid", output, cost, True, dtype, seed=5)
    X = rng.random((23, 40)).astype(dtype)
    Y = targets(rng, output, cost, 23, 3, dtype)
    order = rng.permutation(23).astype(np.int64)
    fast = _epoch(_train_batches, net, X, Y, order, kind, momentum, 5)
    plain = _epoch(_train_batches_plain, net, X, Y, order, kind, momentum, 5)
    np.testing.assert_allclose(fast[0], plain[0], **TOL[dtype])
    for fast_array, plain_array in zip(fast[1], plain[1], strict=True):
        np.testing.assert_allclose(fast_array, plain_array, **TOL[dtype])
    np.testing.assert_allclose(fast[2], plain[2], rtol=TOL[dtype]["rtol"])


def test_plain_training_loop_stops_at_a_non_finite_row(rng):
    """As the fast loop: NaN back, and no step for the mini-batch holding the row."""
    net = ln.Network([3, 4, 2], seed=1)
    X, Y = rng.random((10, 3)), rng.random((10, 2))
    X[7, 1] = np.nan
    order = np.arange(10, dtype=np.int64)
    results = [
        _epoch(epoch, net, X, Y, order, SGD, 0.0, 5)
        for epoch in (_train_batches, _train_batches_plain)
    ]
    for _, state, cost in results:
        assert np.isnan(cost)
        assert state.t[0] == 1  # the first mini-batch stepped, the second did not
    np.testing.assert_allclose(results[0][0], results[1][0], **TOL[np.float64])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("output, cost", PAIRINGS)
def test_passes_equal_their_plain_siblings(rng, dtype, output, cost):
    """``_forward_pass``, ``_backward_pass`` and ``_error_pass`` against their siblings.

    Each error pass leaves its backward pass's deltas, bit for bit.
    """
    net = ln.Network([33, 40, 9, 3], "relu", output, cost, True, dtype, seed=3)
    X = rng.random((11, 33)).astype(dtype)
    Y = targets(rng, output, cost, 11, 3, dtype)
    works, grads = [], []
    for forward, backward, errors in (
        (_forward_pass, _backward_pass, _error_pass),
        (_forward_pass_plain, _backward_pass_plain, _error_pass_plain),
    ):
        work = Workspace.allocate(net.layout, 11, dtype)
        grad = np.empty_like(net.params)
        forward(net.layout, net.params, X, work.Z, work.A)
        scale, l2 = dtype(1 / 11), dtype(0.1)
        backward(net.layout, net.params, X, Y, work.Z, work.A, work.D, grad, scale, l2)
        D = np.full_like(work.D, np.nan)
        errors(net.layout, net.params, X, Y, work.Z, work.A, D)
        assert np.array_equal(D, work.D)
        works.append(work)
        grads.append(grad)
    for fast, plain in zip(works[0], works[1], strict=True):
        np.testing.assert_allclose(fast, plain, **TOL[dtype])
    np.testing.assert_allclose(grads[0], grads[1], **TOL[dtype])


COMPARED = {
    "_forward_layer": test_forward_layer_equals_its_plain_sibling,
    "_hidden_error": test_hidden_error_equals_its_plain_sibling,
    "_weight_gradient": test_weight_gradient_equals_its_plain_sibling,
    "_weight_step": test_fused_weight_step_equals_gradient_then_step,
    "_forward_pass": test_passes_equal_their_plain_siblings,
    "_backward_pass": test_passes_equal_their_plain_siblings,
    "_error_pass": test_passes_equal_their_plain_siblings,
    "_network_gradient": test_network_gradient_equals_its_plain_driver,
    "_train_batches": test_training_loop_equals_its_plain_sibling,
}
"""The test of this file that holds each fast path of ``siblings.PLAIN`` against
its sibling."""


def test_every_fast_path_has_a_plain_sibling_and_a_test():
    """``siblings.PLAIN`` covers the loop backend's drivers; each pair is tested."""
    from loopnet.backends import loop

    assert {fast.__name__ for fast in PLAIN} == set(COMPARED)
    for fast, plain in PLAIN.items():
        assert plain.__name__ == fast.__name__ + "_plain"
    drivers = {driver for entry in loop.DRIVERS.values() for driver in entry}
    assert drivers <= set(PLAIN) | set(PLAIN.values())  # fast, or plain if chosen


def _run(code, **environ):
    """Run ``code`` in a fresh interpreter with ``environ`` added; its result."""
    env = {**os.environ, **environ}
    return subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


DRIVERS = {
    "loopnet.backends.loop": ("_forward_pass", "_network_gradient", "_train_batches"),
    "loopnet.distributed.worker": (
        "_forward_pass",
        "_error_pass",
        "_weight_gradient",
        "_train_batches",
    ),
}
"""The drivers each module calls, which ``LOOPNET_KERNELS`` chooses."""


@pytest.mark.parametrize("module", list(DRIVERS))
@pytest.mark.parametrize(
    "choice, suffix", [("plain", "_plain"), ("fast", ""), ("", "")]
)
def test_loopnet_kernels_chooses_the_drivers(module, choice, suffix):
    """``LOOPNET_KERNELS`` is read at import and picks every driver a backend runs."""
    if module == "loopnet.distributed.worker":
        pytest.importorskip("distributed", reason='needs pip install -e ".[test]"')
    names = DRIVERS[module]
    code = (
        f"import {module} as module\n"
        f"print(' '.join(getattr(module, name).__name__ for name in {names!r}))"
    )
    result = _run(code, LOOPNET_KERNELS=choice)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [name + suffix for name in names]


def test_loopnet_kernels_rejects_an_unknown_choice():
    result = _run("import loopnet", LOOPNET_KERNELS="fastest")
    assert result.returncode == 1
    message = "LOOPNET_KERNELS must be 'fast' or 'plain' (or unset), not 'fastest'"
    assert f"ValueError: {message}" in result.stderr
