"""The SGD step: kernel against its NumPy twin, the flat-layout step, bad input."""

import numpy as np
import pytest

import loopnet as ln
from loopnet import kernels, reference
from loopnet.kernels.update import (
    ADAM,
    NESTEROV,
    SGD,
    OptimizerState,
    Step,
    _network_step,
)
from tests.helpers import DTYPES, TOL

SHAPES = [(1,), (3, 2), (30, 784)]
RATES = [(0.0, 0.0), (0.01, 0.0), (0.0, 0.9), (0.01, 0.9)]  # (decay, momentum)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("decay, momentum", RATES)
@pytest.mark.parametrize("with_velocity", [False, True])
def test_sgd_step_matches_reference(rng, dtype, shape, decay, momentum, with_velocity):
    W = rng.standard_normal(shape).astype(dtype)
    dW = rng.standard_normal(shape).astype(dtype)
    velocity = rng.standard_normal(shape).astype(dtype) if with_velocity else None
    W_before, dW_before = W.copy(), dW.copy()
    loop = kernels.sgd_step(W, dW, 0.3, decay, momentum, velocity)
    ref = reference.sgd_step(W, dW, 0.3, decay, momentum, velocity)
    for got, want in zip(loop, ref, strict=True):
        assert got.dtype == dtype and got.shape == shape
        np.testing.assert_allclose(got, want, **TOL[dtype])
    # inputs are never modified
    np.testing.assert_array_equal(W, W_before)
    np.testing.assert_array_equal(dW, dW_before)


def test_sgd_step_by_hand():
    W, dW = np.array([1.0, 2.0]), np.array([0.5, -0.5])
    W_new, v = kernels.sgd_step(W, dW, lr=0.1, decay=0.1)
    np.testing.assert_allclose(W_new, [1 - 0.1 * (0.5 + 0.1), 2 - 0.1 * (-0.5 + 0.2)])
    np.testing.assert_array_equal(v, [0.0, 0.0])  # plain SGD keeps no velocity
    W_new, v = kernels.sgd_step(W, dW, lr=0.1, momentum=0.9, velocity=[1.0, 0.0])
    np.testing.assert_allclose(v, [0.9 - 0.05, 0.05])
    np.testing.assert_allclose(W_new, W + v)


def test_momentum_zero_equals_momentum_form(rng):
    """The plain branch gives the bits of mu = 0 in the momentum formula."""
    W, dW = rng.standard_normal(50), rng.standard_normal(50)
    plain, _ = kernels.sgd_step(W, dW, 0.3, decay=0.01)
    velocity = -0.3 * (dW + 0.01 * W)
    np.testing.assert_array_equal(plain, W + velocity)


def _reference_step(kind, param, grad, lr, decay, momentum, state, t):
    """One block's step by the NumPy twin of optimizer ``kind``."""
    if kind == ADAM:
        new, _, _ = reference.adam_step(
            param, grad, lr, decay, m=state[0], v=state[1], t=t
        )
        return new
    if kind == NESTEROV:
        return reference.nesterov_step(param, grad, lr, decay, momentum, state[0])[0]
    return reference.sgd_step(param, grad, lr, decay, momentum, state[0])[0]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", [SGD, NESTEROV, ADAM])
def test_network_step_decays_weights_not_biases(rng, dtype, kind):
    """``_network_step`` is each block's twin step: weights decay by L2, biases not."""
    net = ln.Network([4, 3, 2], dtype=dtype, seed=0)
    grad = rng.standard_normal(net.n_params).astype(dtype)
    state = OptimizerState.zeros(kind, net.n_params, dtype)
    for array in state[:3]:
        array[...] = rng.random(array.shape)  # moments and velocities of past steps
    state.t[0] = 4
    before = [array.copy() for array in state[:3]]
    params = net.params.copy()
    scale = np.dtype(dtype).type(0.25)
    step = Step.of(kind, dtype, lr=0.5, decay=0.1, momentum=0.5)
    _network_step(net.layout, params, grad, state, step, scale)
    assert state.t[0] == 5
    g = net.layout.views(scale * grad)
    views = [net.layout.views(array) if array.size else None for array in before]
    got_W, got_b = net.layout.views(params)
    for layer in range(2):
        for got, param, grad_block, decay, part in (
            (got_W, net.weights, g[0], step.decay, 0),
            (got_b, net.biases, g[1], 0.0, 1),
        ):
            block_state = [None if v is None else v[part][layer] for v in views]
            if kind == ADAM:
                block_state = block_state[1:]
            want = _reference_step(
                kind,
                param[layer],
                grad_block[layer],
                step.lr,
                decay,
                step.momentum,
                block_state,
                5,
            )
            np.testing.assert_allclose(got[layer], want, **TOL[dtype])


def test_network_step_without_biases(rng):
    net = ln.Network([3, 2], bias=False, seed=0)
    grad = rng.standard_normal(net.n_params)
    params = net.params.copy()
    state = OptimizerState.zeros(SGD, net.n_params, np.float64)
    _network_step(net.layout, params, grad, state, Step.of(SGD, np.float64, 1.0), 1.0)
    np.testing.assert_array_equal(params, net.params - grad)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"dW": np.zeros(3)}, ValueError, "dW has shape"),
        ({"dW": np.zeros(2, dtype=np.float32)}, TypeError, "dW is float32"),
        ({"lr": 0.0}, ValueError, "lr"),
        ({"lr": -1.0}, ValueError, "lr"),
        ({"lr": np.nan}, ValueError, "lr"),
        ({"lr": "0.1"}, TypeError, "lr"),
        ({"decay": -0.1}, ValueError, "decay"),
        ({"momentum": 1.0}, ValueError, "momentum"),
        ({"momentum": -0.1}, ValueError, "momentum"),
        ({"velocity": np.zeros(3)}, ValueError, "velocity has shape"),
        ({"W": np.array([1, 2])}, TypeError, "W must be a float32 or float64"),
        ({"W": np.array([np.inf, 0.0])}, ValueError, "W must be finite"),
    ],
)
def test_sgd_step_rejects_bad_input(kwargs, error, match):
    arguments = {"W": np.zeros(2), "dW": np.zeros(2), "lr": 0.1} | kwargs
    with pytest.raises(error, match=match):
        kernels.sgd_step(**arguments)
