"""Output and hidden error kernels against the matrix twin.

Also: the closed forms of the output error against the general Jacobian product,
and the output and hidden errors from the layer's outputs (sigma'(z) from
a = sigma(z), as the backward pass computes them) against those from its weighted
inputs.
"""

import numpy as np
import pytest

from loopnet import kernels, reference
from loopnet.activations import ACTIVATIONS, activate_example
from loopnet.costs import COSTS
from loopnet.kernels.errors import (
    _hidden_error,
    _hidden_error_from_outputs,
    _output_error,
    _output_error_from_outputs,
)
from tests.helpers import DTYPES, HIDDEN, PAIRINGS, TOL, targets

BATCHES = [1, 3, 17]
WIDTHS = [1, 2, 5]


def _output_layer(rng, n_batch, n_out, output, dtype, scale=1.0):
    Z = (scale * rng.standard_normal((n_batch, n_out))).astype(dtype)
    _, A = reference.forward_layer(np.eye(n_out, dtype=dtype), Z, None, output)
    return Z, A.astype(dtype)


def _widths(output):
    return [w for w in WIDTHS if not (output == "softmax" and w == 1)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("output, cost", PAIRINGS)
@pytest.mark.parametrize("n_batch", BATCHES)
def test_output_error_matches_reference(rng, dtype, output, cost, n_batch):
    for n_out in _widths(output):
        Z, A = _output_layer(rng, n_batch, n_out, output, dtype)
        Y = targets(rng, output, cost, n_batch, n_out, dtype)
        loop = kernels.output_error(Z, A, Y, output, cost)
        ref = reference.output_error(Z, A, Y, output, cost)
        assert loop.dtype == ref.dtype == dtype
        np.testing.assert_allclose(loop, ref, **TOL[dtype])
        general = kernels.output_error_general(Z, A, Y, output, cost)
        general_ref = reference.output_error_general(Z, A, Y, output, cost)
        assert general.dtype == general_ref.dtype == dtype
        np.testing.assert_allclose(general, general_ref, **TOL[dtype])


@pytest.mark.parametrize("output, cost", PAIRINGS)
def test_closed_forms_equal_general_form(rng, output, cost):
    """Each fast path (a - y ...) is the Jacobian product J^T grad_a C, simplified."""
    Z, A = _output_layer(rng, 17, 4, output, np.float64, scale=2.0)
    Y = targets(rng, output, cost, 17, 4)
    Y_soft = rng.uniform(0, 1, Y.shape)  # also targets that do not sum to one
    for Y_case in (Y, Y_soft) if cost != "quadratic" else (Y,):
        fast = kernels.output_error(Z, A, Y_case, output, cost)
        general = kernels.output_error_general(Z, A, Y_case, output, cost)
        np.testing.assert_allclose(fast, general, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(
    "output, cost", [("sigmoid", "cross_entropy"), ("softmax", "log_likelihood")]
)
def test_fast_paths_are_a_minus_y(rng, output, cost):
    Z, A = _output_layer(rng, 5, 3, output, np.float64)
    Y = targets(rng, output, cost, 5, 3)
    np.testing.assert_array_equal(kernels.output_error(Z, A, Y, output, cost), A - Y)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("output, cost", PAIRINGS)
def test_output_error_is_finite_when_outputs_saturate(dtype, output, cost):
    Z = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 3.0]], dtype=dtype)
    _, A = reference.forward_layer(np.eye(3, dtype=dtype), Z, None, output)
    Y = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]], dtype=dtype)
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        ref = reference.output_error(Z, A, Y, output, cost)
    loop = kernels.output_error(Z, A, Y, output, cost)
    assert np.all(np.isfinite(loop)) and np.all(np.isfinite(ref))
    np.testing.assert_allclose(loop, ref, **TOL[dtype])


def test_softmax_cross_entropy_error_matches_finite_difference():
    """The O(n^2) closed form of softmax + binary cross_entropy is dC/dz."""
    from loopnet.costs import example_costs

    z = np.array([[0.3, -1.2, 2.0, 0.1]])
    y = np.array([[0.0, 1.0, 0.25, 0.0]])
    _, a = reference.forward_layer(np.eye(4), z, None, "softmax")
    delta = kernels.output_error(z, a, y, "softmax", "cross_entropy")
    eps = 1e-6
    numeric = np.empty(4)
    for j in range(4):
        step = np.zeros((1, 4))
        step[0, j] = eps
        costs = []
        for sign in (1, -1):
            zs = z + sign * step
            _, a_s = reference.forward_layer(np.eye(4), zs, None, "softmax")
            costs.append(example_costs(zs, a_s, y, "softmax", "cross_entropy")[0])
        numeric[j] = (costs[0] - costs[1]) / (2 * eps)
    np.testing.assert_allclose(delta[0], numeric, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", HIDDEN)
@pytest.mark.parametrize(
    "n_batch, n_l, n_next", [(1, 1, 1), (3, 5, 2), (17, 4, 7), (64, 100, 10)]
)
def test_hidden_error_matches_reference(rng, dtype, activation, n_batch, n_l, n_next):
    delta_next = rng.standard_normal((n_batch, n_next)).astype(dtype)
    W_next = rng.standard_normal((n_next, n_l)).astype(dtype)
    Z = rng.standard_normal((n_batch, n_l)).astype(dtype)
    loop = kernels.hidden_error(delta_next, W_next, Z, activation)
    ref = reference.hidden_error(delta_next, W_next, Z, activation)
    assert loop.dtype == ref.dtype == dtype
    np.testing.assert_allclose(loop, ref, **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu", "identity"])
@pytest.mark.parametrize("n_next", [3, 40])
def test_hidden_error_from_outputs_equals_from_inputs(rng, dtype, activation, n_next):
    """sigma'(z) from a = sigma(z) (no exp) gives the same bits, inf and NaN too."""
    n_batch, n_l = 9, 7
    delta_next = rng.standard_normal((n_batch, n_next)).astype(dtype)
    W_next = rng.standard_normal((n_next, n_l)).astype(dtype)
    Z = (30 * rng.standard_normal((n_batch, n_l))).astype(dtype)
    Z[0, :4] = [np.inf, -np.inf, np.nan, 0.0]
    code = ACTIVATIONS[activation]
    A = np.empty_like(Z)
    for b in range(n_batch):  # as the forward pass writes them
        activate_example(code, Z[b], A[b])
    from_inputs, from_outputs = np.empty((2, n_batch, n_l), dtype=dtype)
    _hidden_error(delta_next, W_next, Z, code, from_inputs)
    _hidden_error_from_outputs(delta_next, W_next, A, code, from_outputs)
    np.testing.assert_array_equal(from_outputs, from_inputs)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("output, cost", PAIRINGS)
def test_output_error_from_outputs_equals_from_inputs(rng, dtype, output, cost):
    """sigma'(z) from a = sigma(z), for the pairings without a closed form too."""
    n_batch = 9
    for n_out in _widths(output):
        Z = (30 * rng.standard_normal((n_batch, n_out))).astype(dtype)
        Z[0, 0] = 0.0
        code = ACTIVATIONS[output]
        A = np.empty_like(Z)
        for b in range(n_batch):  # as the forward pass writes them
            activate_example(code, Z[b], A[b])
        Y = targets(rng, output, cost, n_batch, n_out, dtype)
        from_inputs, from_outputs = np.empty((2, n_batch, n_out), dtype=dtype)
        with np.errstate(all="ignore"):  # saturated log costs divide by zero
            _output_error(Z, A, Y, code, COSTS[cost], from_inputs)
            _output_error_from_outputs(Z, A, Y, code, COSTS[cost], from_outputs)
        np.testing.assert_array_equal(from_outputs, from_inputs)


@pytest.mark.parametrize("dtype", DTYPES)
def test_example_errors_are_rows_of_batched(rng, dtype):
    delta_next = rng.standard_normal((3, 2)).astype(dtype)
    W_next = rng.standard_normal((2, 4)).astype(dtype)
    Z = rng.standard_normal((3, 4)).astype(dtype)
    delta = kernels.hidden_error(delta_next, W_next, Z, "tanh")
    Z_out, A_out = _output_layer(rng, 3, 4, "softmax", dtype)
    Y = targets(rng, "softmax", "log_likelihood", 3, 4, dtype)
    delta_out = kernels.output_error(Z_out, A_out, Y, "softmax", "cross_entropy")
    for b in range(3):
        np.testing.assert_array_equal(
            kernels.hidden_error_example(delta_next[b], W_next, Z[b], "tanh"), delta[b]
        )
        np.testing.assert_array_equal(
            kernels.output_error_example(
                Z_out[b], A_out[b], Y[b], "softmax", "cross_entropy"
            ),
            delta_out[b],
        )
        np.testing.assert_allclose(
            reference.hidden_error_example(delta_next[b], W_next, Z[b], "tanh"),
            delta[b],
            **TOL[dtype],
        )
