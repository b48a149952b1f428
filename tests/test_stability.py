"""Hostile magnitudes: finite results and no floating-point warnings, in both forms.

Inputs of magnitude 1e6, weights that saturate every activation, softmax logits
of +-1e4 and targets of exactly 0 and 1 with the log costs: forward, cost and
gradient stay finite and raise no warning (``warnings.simplefilter("error")``
with NumPy's floating-point errors raising), in float32 and float64, by the loop
kernels and by the matrix form, and the two forms agree. Each cost is checked in
its three forms: the array form on the loop forward (``Network.cost``), the
loop form the fused training loop sums (``History.cost``), and the array form on
the matrix forward.
"""

import warnings

import numpy as np
import pytest

import loopnet as ln
from loopnet import reference
from loopnet.costs import example_costs
from tests.helpers import DTYPES, HIDDEN, PAIRINGS, TOL, targets


def _saturated(output, cost, activation, dtype):
    """A [2, 3, 3] network whose hidden and output z reach +-1e4 and beyond."""
    net = ln.Network([2, 3, 3], activation, output, cost, dtype=dtype, seed=0)
    net.weights[0][...] = [[1e4, 0.0], [0.0, -1e4], [1e4, -1e4]]
    net.biases[0][...] = 0
    net.weights[1][...] = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
    if activation in ("sigmoid", "tanh"):  # bounded hidden outputs: scale up again
        net.weights[1][...] *= 1e4
    net.biases[1][...] = [0.0, -1e4, 1e4]  # output units saturate both ways
    X = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [-1.0, 0.5]])
    Y = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    return net, X.astype(dtype), Y.astype(dtype)


def _close(loop, matrix, dtype):
    """loop == matrix within TOL, the absolute part scaled by max |matrix|.

    Entries that cancel to nearly nothing beside entries of 1e12 carry the
    rounding of the large ones.
    """
    tol = TOL[np.dtype(dtype).type]
    scale = max(1.0, float(np.max(np.abs(matrix))))
    np.testing.assert_allclose(loop, matrix, rtol=tol["rtol"], atol=tol["atol"] * scale)


def _both_forms(net, X, Y):
    """Outputs, costs and gradients by the loop kernels and the matrix form.

    Runs with every warning an error and NumPy's overflow, division by zero and
    invalid operations raising; asserts that every value is finite.
    """
    with (
        warnings.catch_warnings(),
        np.errstate(over="raise", divide="raise", invalid="raise"),
    ):
        warnings.simplefilter("error")
        loop = {"forward": net.forward(X), "cost": net.cost(X, Y)}
        loop["gradient"] = net.gradient(X, Y, method="loop").flat
        trainer = net.copy()
        history = trainer.fit(X, Y, batch_size=len(X), lr=1e-3, seed=0, progress=False)
        loop["training cost"] = history.cost[0]  # taken before the step
        Zs, As = reference.forward(net.weights, net.biases, X, net.activations)
        matrix = {"forward": As[-1]}
        matrix["cost"] = example_costs(Zs[-1], As[-1], Y, net.output, net.cost_name)
        matrix["cost"] = matrix["cost"].mean()
        matrix["gradient"] = net.gradient(X, Y, method="matrix").flat
    for name, value in [*loop.items(), *matrix.items()]:
        assert np.all(np.isfinite(value)), name
    assert np.all(np.isfinite(trainer.params))
    return loop, matrix


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("output, cost", PAIRINGS)
@pytest.mark.parametrize("activation", HIDDEN)
def test_saturated_network_stays_finite_without_warnings(
    output, cost, activation, dtype
):
    net, X, Y = _saturated(output, cost, activation, dtype)
    Zs, As = reference.forward(net.weights, net.biases, X, net.activations)
    assert max(np.abs(z).max() for z in Zs) >= 1e4 * 0.99
    if output in ("sigmoid", "softmax"):  # outputs exactly 0 and 1: ln 0 is near
        assert np.any(As[-1] == 0)
    if output == "sigmoid":
        assert np.any(As[-1] == 1)
    loop, matrix = _both_forms(net, X, Y)
    np.testing.assert_allclose(loop["forward"], matrix["forward"], **TOL[dtype])
    for cost_form in ("cost", "training cost"):
        _close(loop[cost_form], matrix["cost"], dtype)
    np.testing.assert_allclose(loop["gradient"], matrix["gradient"], **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("output, cost", PAIRINGS)
@pytest.mark.parametrize("activation", HIDDEN)
def test_inputs_of_a_million_stay_finite_without_warnings(
    rng, output, cost, activation, dtype
):
    """|x| up to 1e6 through the seeded weights: |z| of order 1e6 in every layer."""
    net = ln.Network([3, 4, 3], activation, output, cost, dtype=dtype, seed=1)
    X = rng.uniform(-1e6, 1e6, (6, 3))
    X[0] = [1e6, -1e6, 1e6]
    Y = targets(rng, output, cost, 6, 3)
    if cost != "quadratic":  # exactly 0 and 1, the log costs' edge targets
        Y = np.round(Y)
    X, Y = X.astype(dtype), Y.astype(dtype)
    Zs, _ = reference.forward(net.weights, net.biases, X, net.activations)
    assert np.abs(Zs[0]).max() >= 1e5
    loop, matrix = _both_forms(net, X, Y)
    for quantity in ("forward", "cost", "gradient"):
        _close(loop[quantity], matrix[quantity], dtype)
    _close(loop["training cost"], matrix["cost"], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cost", ["cross_entropy", "log_likelihood"])
def test_softmax_logits_of_ten_thousand(dtype, cost):
    """Logits of 1e4, -1e4 and 0: outputs exactly 1 and 0, costs exact."""
    net = ln.Network([2, 3], "sigmoid", "softmax", cost, dtype=dtype, seed=0)
    net.weights[0][...] = [[1e4, 0.0], [-1e4, 0.0], [0.0, 1e4]]
    net.biases[0][...] = 0
    X = np.array([[1.0, 0.0], [1.0, 0.0]], dtype=dtype)  # logits 1e4, -1e4, 0
    Y = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], dtype=dtype)
    loop, matrix = _both_forms(net, X, Y)
    np.testing.assert_array_equal(loop["forward"], [[1, 0, 0], [1, 0, 0]])
    # -ln a_0 = ln(1 + e^-2e4 + e^-1e4) = 0 and -ln a_1 = 2e4; cross_entropy adds
    # -ln(1 - a_0) = 1e4 for the second example, whose target for unit 0 is 0
    expected = 2e4 / 2 if cost == "log_likelihood" else 3e4 / 2
    for form in (loop["cost"], loop["training cost"], matrix["cost"]):
        assert form == pytest.approx(expected, rel=TOL[dtype]["rtol"])
    _close(loop["gradient"], matrix["gradient"], dtype)


@pytest.mark.parametrize("output", ["sigmoid", "softmax"])
def test_log_costs_are_exact_when_outputs_saturate(output):
    """-ln a for a = sigmoid(-1e4) is 1e4, not the log of a clipped 0."""
    net = ln.Network([1, 2], "sigmoid", output, "log_likelihood", seed=0)
    net.weights[0][...] = [[-1e4], [0.0]]
    net.biases[0][...] = 0
    cost = net.cost([[1.0]], [[1.0, 0.0]], reduction="sum")
    assert cost == pytest.approx(1e4, rel=1e-12)
