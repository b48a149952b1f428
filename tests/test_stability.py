"""Pre-activations up to |z| = 1e4: finite results and no floating-point warnings."""

import warnings

import numpy as np
import pytest
from conftest import DTYPES, HIDDEN, PAIRINGS, TOL

import loopnet as ln


def _saturated(output, cost, activation, dtype):
    """A [2, 3, 3] network whose hidden and output z reach +-1e4."""
    net = ln.Network([2, 3, 3], activation, output, cost, dtype=dtype, seed=0)
    net.weights[0][...] = [[1e4, 0.0], [0.0, -1e4], [1e4, -1e4]]
    net.biases[0][...] = 0
    net.weights[1][...] = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
    if activation in ("sigmoid", "tanh"):  # bounded hidden outputs: scale up again
        net.weights[1][...] *= 1e4
    net.biases[1][...] = [0.0, -1e4, 1e4] if activation in ("sigmoid", "tanh") else 0.0
    X = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [-1.0, 0.5]])
    Y = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    return net, X, Y


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("output, cost", PAIRINGS)
@pytest.mark.parametrize("activation", HIDDEN)
def test_saturated_network_stays_finite_without_warnings(
    output, cost, activation, dtype
):
    net, X, Y = _saturated(output, cost, activation, dtype)
    Z, _ = ln.reference.forward(
        net.weights, net.biases, X.astype(dtype), net.activations
    )
    assert max(np.abs(z).max() for z in Z) >= 1e4 * 0.99
    with (
        warnings.catch_warnings(),
        np.errstate(over="raise", divide="raise", invalid="raise"),
    ):
        warnings.simplefilter("error")
        assert np.all(np.isfinite(net.forward(X)))
        assert np.isfinite(net.cost(X, Y))
        loop = net.gradient(X, Y, method="loop").flat
        matrix = net.gradient(X, Y, method="matrix").flat
    assert np.all(np.isfinite(loop)) and np.all(np.isfinite(matrix))
    np.testing.assert_allclose(loop, matrix, **TOL[dtype])


@pytest.mark.parametrize("output", ["sigmoid", "softmax"])
def test_log_costs_are_exact_when_outputs_saturate(output):
    """-ln a for a = sigmoid(-1e4) is 1e4, not the log of a clipped 0."""
    net = ln.Network([1, 2], "sigmoid", output, "log_likelihood", seed=0)
    net.weights[0][...] = [[-1e4], [0.0]]
    net.biases[0][...] = 0
    cost = net.cost([[1.0]], [[1.0, 0.0]], reduction="sum")
    assert cost == pytest.approx(1e4, rel=1e-12)
