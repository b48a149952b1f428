"""Scalar (loop) forms of the activations against their array (matrix) forms."""

import numpy as np
import pytest
from numba import njit

from loopnet import activations as act
from tests.helpers import DTYPES, TOL

Z_VALUES = np.array([-1e4, -50.0, -3.0, -1e-3, 0.0, 1e-3, 0.7, 3.0, 50.0, 1e4])


@njit(cache=True)
def _activate_rows(code, Z, A):
    for b in range(Z.shape[0]):
        act.activate_example(code, Z[b], A[b])


@njit(cache=True)
def _derivative_rows(code, Z, D):
    for b in range(Z.shape[0]):
        act.multiply_by_derivative_example(code, Z[b], D[b])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(act.ACTIVATIONS))
def test_activate_example_matches_array_form(dtype, name):
    Z = np.stack([Z_VALUES, Z_VALUES[::-1]]).astype(dtype)
    A = np.empty_like(Z)
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        _activate_rows(act.ACTIVATIONS[name], Z, A)
        ref = act.ARRAY_FORMS[name][0](Z)
    assert ref.dtype == dtype
    assert np.all(np.isfinite(A))
    np.testing.assert_allclose(A, ref, **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", act.HIDDEN_ACTIVATIONS)
def test_derivative_matches_array_form(dtype, name):
    Z = Z_VALUES[None, :].astype(dtype)
    D = np.ones_like(Z)
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        _derivative_rows(act.ACTIVATIONS[name], Z, D)
        ref = act.ARRAY_FORMS[name][1](Z)
    assert ref.dtype == dtype
    np.testing.assert_allclose(D, ref, **TOL[dtype])


@pytest.mark.parametrize("name", act.HIDDEN_ACTIVATIONS)
def test_derivative_matches_central_difference(name):
    z = np.array([[-2.0, -0.4, 0.3, 1.7]])  # away from relu's kink
    sigma, sigma_prime = act.ARRAY_FORMS[name]
    eps = 1e-6
    numeric = (sigma(z + eps) - sigma(z - eps)) / (2 * eps)
    np.testing.assert_allclose(sigma_prime(z), numeric, rtol=1e-8, atol=1e-9)


def test_sigmoid_is_exact_at_known_points():
    assert act.sigmoid(0.0) == 0.5
    assert act.sigmoid(1.3) == pytest.approx(1 / (1 + np.exp(-1.3)), rel=1e-15)
    assert act.sigmoid(-1e4) == 0.0 and act.sigmoid(1e4) == 1.0


def test_softmax_rows_sum_to_one_and_survive_large_logits():
    Z = np.array([[1e4, 0.0, -1e4], [1.0, 2.0, 3.0]])
    A = np.empty_like(Z)
    _activate_rows(act.SOFTMAX, Z, A)
    np.testing.assert_allclose(A.sum(axis=1), 1.0, rtol=1e-15)
    np.testing.assert_array_equal(A[0], [1.0, 0.0, 0.0])


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_jacobian_product_matches_explicit_jacobian(rng, dtype):
    z = rng.standard_normal(5).astype(dtype)
    a = np.empty_like(z)
    _activate_rows(act.SOFTMAX, z[None], a[None])
    g = rng.standard_normal(5).astype(dtype)
    delta = np.empty_like(z)
    act.jacobian_transpose_product_example(act.SOFTMAX, z, a, g, delta)
    J = np.diag(a) - np.outer(a, a)  # J[i, j] = a_i (1[i == j] - a_j)
    np.testing.assert_allclose(delta, J.T @ g, **TOL[dtype])
