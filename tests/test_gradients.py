"""Weight and bias gradient kernels against the matrix twin."""

import numpy as np
import pytest

from loopnet import kernels, reference
from tests.helpers import DTYPES, LAYER_SHAPES, TOL


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n_batch, n_l, n_prev", LAYER_SHAPES)
def test_weight_gradient_matches_reference(rng, dtype, n_batch, n_l, n_prev):
    delta = rng.standard_normal((n_batch, n_l)).astype(dtype)
    A_prev = rng.random((n_batch, n_prev)).astype(dtype)
    loop = kernels.weight_gradient(delta, A_prev)
    ref = reference.weight_gradient(delta, A_prev)
    assert loop.dtype == dtype and loop.shape == ref.shape == (n_l, n_prev)
    np.testing.assert_allclose(loop, ref, **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n_batch, n_l, n_prev", LAYER_SHAPES)
def test_bias_gradient_matches_reference(rng, dtype, n_batch, n_l, n_prev):
    delta = rng.standard_normal((n_batch, n_l)).astype(dtype)
    loop = kernels.bias_gradient(delta)
    ref = reference.bias_gradient(delta)
    assert loop.dtype == dtype and loop.shape == (n_l,)
    np.testing.assert_allclose(loop, ref, **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
def test_example_gradients_sum_to_batched_bit_for_bit(rng, dtype):
    """The seeds' accumulator, Delta += delta a^T, adds terms in the batched order.

    That holds for batches below ``MIN_TILED_BATCH`` (here 9 examples); longer ones
    are summed in register tiles and checked against the twin to ``TOL``.
    """
    delta = rng.standard_normal((9, 4)).astype(dtype)
    A_prev = rng.random((9, 5)).astype(dtype)
    Delta = np.zeros((4, 5), dtype=dtype)
    for b in range(9):
        Delta += kernels.weight_gradient_example(delta[b], A_prev[b])
    np.testing.assert_array_equal(Delta, kernels.weight_gradient(delta, A_prev))
    np.testing.assert_array_equal(
        kernels.weight_gradient_example(delta[0], A_prev[0]),
        reference.weight_gradient_example(delta[0], A_prev[0]),
    )
