"""Forward kernels against the matrix twin: Z = A_prev W^T + bias, A = sigma(Z)."""

import numpy as np
import pytest

from loopnet import kernels, reference
from loopnet.activations import ACTIVATIONS
from tests.helpers import DTYPES, LAYER_SHAPES, TOL


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n_batch, n_l, n_prev", LAYER_SHAPES)
@pytest.mark.parametrize("activation", list(ACTIVATIONS))
@pytest.mark.parametrize("with_bias", [True, False])
def test_forward_layer_matches_reference(
    rng, dtype, n_batch, n_l, n_prev, activation, with_bias
):
    W = (rng.standard_normal((n_l, n_prev)) / np.sqrt(n_prev)).astype(dtype)
    A_prev = rng.random((n_batch, n_prev)).astype(dtype)
    bias = rng.standard_normal(n_l).astype(dtype) if with_bias else None
    Z, A = kernels.forward_layer(W, A_prev, bias, activation)
    Z_ref, A_ref = reference.forward_layer(W, A_prev, bias, activation)
    assert Z.dtype == A.dtype == dtype
    assert Z_ref.dtype == A_ref.dtype == dtype
    np.testing.assert_allclose(Z, Z_ref, **TOL[dtype])
    np.testing.assert_allclose(A, A_ref, **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_forward_layer_example_is_row_of_batched(rng, dtype, activation):
    """To rounding: the batched dot products are reassociated (``kernels._tiles``)."""
    W = rng.standard_normal((4, 6)).astype(dtype)
    A_prev = rng.random((3, 6)).astype(dtype)
    bias = rng.standard_normal(4).astype(dtype)
    Z, A = kernels.forward_layer(W, A_prev, bias, activation)
    for b in range(3):
        z, a = kernels.forward_layer_example(W, A_prev[b], bias, activation)
        np.testing.assert_allclose(z, Z[b], **TOL[dtype])
        np.testing.assert_allclose(a, A[b], **TOL[dtype])
        _, a_ref = reference.forward_layer_example(W, A_prev[b], bias, activation)
        np.testing.assert_allclose(a, a_ref, **TOL[dtype])


def test_forward_layer_accepts_fortran_and_strided_inputs(rng):
    W = rng.standard_normal((5, 8))
    A_prev = rng.random((6, 8))
    expected = kernels.forward_layer(W, A_prev)
    strided = np.zeros((12, 16))
    strided[::2, ::2] = A_prev
    for W_in, A_in in [
        (np.asfortranarray(W), np.asfortranarray(A_prev)),
        (W, strided[::2, ::2]),
    ]:
        Z, A = kernels.forward_layer(W_in, A_in)
        np.testing.assert_array_equal(Z, expected[0])
        np.testing.assert_array_equal(A, expected[1])
