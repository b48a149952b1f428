"""Central differences agree with the gradient for every pairing.

A deliberately wrong gradient fails the check.
"""

import numpy as np
import pytest

import loopnet as ln
from loopnet.network import Gradient
from tests.helpers import HIDDEN, PAIRINGS, targets


def _problem(
    rng, output, cost, activation="tanh", sizes=(4, 5, 3), bias=True, dtype="float64"
):
    net = ln.Network(list(sizes), activation, output, cost, bias, dtype, seed=7)
    X = rng.uniform(-1, 1, (6, sizes[0]))
    Y = targets(rng, output, cost, 6, sizes[-1])
    return net, X, Y


@pytest.mark.parametrize("output, cost", PAIRINGS)
@pytest.mark.parametrize("method", ["loop", "matrix"])
@pytest.mark.parametrize("reduction, l2", [("mean", 0.0), ("sum", 0.2)])
def test_gradcheck_passes_for_every_pairing(rng, output, cost, method, reduction, l2):
    net, X, Y = _problem(rng, output, cost)
    before = net.params.copy()
    result = ln.gradcheck(net, X, Y, reduction=reduction, l2=l2, method=method)
    assert result.ok, result
    assert result.max_rel_error < 1e-6
    assert result.n_checked == net.n_params
    np.testing.assert_array_equal(net.params, before)  # perturbations undone exactly


@pytest.mark.parametrize("activation", HIDDEN)
@pytest.mark.parametrize("bias", [True, False])
def test_gradcheck_passes_for_every_hidden_activation(rng, activation, bias):
    net, X, Y = _problem(
        rng, "sigmoid", "cross_entropy", activation, (3, 4, 4, 2), bias
    )
    if activation == "relu":
        # Keep every hidden z away from relu's kink: positive first-layer z, so no
        # unit of the second layer sees all-zero inputs (z = 0 exactly).
        X = np.abs(X) + 0.1
        net.weights[0][...] = np.abs(net.weights[0])
        Z, _ = ln.reference.forward(net.weights, net.biases, X, net.activations)
        assert min(np.abs(Z[layer]).min() for layer in range(2)) > 1e-4
    assert ln.gradcheck(net, X, Y).ok


def test_gradcheck_fails_on_a_wrong_gradient(rng, monkeypatch):
    net, X, Y = _problem(rng, "sigmoid", "quadratic")
    true_gradient = net.gradient

    def wrong_gradient(*args, **kwargs):
        g = true_gradient(*args, **kwargs)
        flat = g.flat.copy()
        flat[3] += 1e-3  # one entry off
        return Gradient(flat, g.weights, g.biases)

    monkeypatch.setattr(net, "gradient", wrong_gradient)
    result = ln.gradcheck(net, X, Y)
    assert not result.ok
    assert result.worst_index == 3
    assert result.max_rel_error > 1e-4


def test_gradcheck_samples_large_networks(rng):
    net = ln.Network([50, 40, 10], seed=1)
    X = rng.random((3, 50))
    Y = rng.random((3, 10))
    result = ln.gradcheck(net, X, Y, max_params=120)
    assert result.n_checked == 120 and result.ok


def test_gradcheck_of_float32_network_uses_float64_differences(rng):
    net, X, Y = _problem(rng, "softmax", "log_likelihood", dtype="float32")
    result = ln.gradcheck(net, X, Y)
    assert result.ok and result.tol == 1e-3
    assert net.params.dtype == np.float32


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"eps": 0.0}, ValueError, "eps"),
        ({"eps": "small"}, TypeError, "eps"),
        ({"max_params": 0}, ValueError, "max_params"),
        ({"method": "symbolic"}, ValueError, "method"),
        ({"reduction": "max"}, ValueError, "reduction"),
    ],
)
def test_gradcheck_rejects_bad_arguments(rng, kwargs, error, match):
    net, X, Y = _problem(rng, "sigmoid", "quadratic")
    with pytest.raises(error, match=match):
        ln.gradcheck(net, X, Y, **kwargs)
