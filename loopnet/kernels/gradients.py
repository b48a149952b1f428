"""Parameter gradients of one layer, summed over the batch.

dC/dW[j, k] = sum_b delta[b, j] * a_prev[b, k] and dC/dbias[j] = sum_b delta[b, j].
"""

import numpy as np
from numba import njit, prange

from loopnet import _validation as check
from loopnet._jit import FIRST_ROW, JIT, PARALLEL, parallel_flag, use_threads
from loopnet.kernels._tiles import (
    _outer_product_rows,
    _outer_product_scaled_rows,
    _packed_block_rows,
)
from loopnet.kernels._vectors import FUSED_BLOCK_ROWS


@njit(**JIT)
def _accumulate_gradient_example(delta, a_prev, dW, dbias):
    """Add one example's gradient: dW[j, k] += delta[j] a_prev[k], dbias[j] += delta[j].

    Parameters
    ----------
    delta : ndarray, shape (n_l,)
        Errors of layer l for one example.
    a_prev : ndarray, shape (n_prev,)
        Activations of layer l-1 for the same example.
    dW : ndarray, shape (n_l, n_prev)
        Accumulator, updated in place.
    dbias : ndarray, shape (n_l,)
        Accumulator, updated in place; a zero-length array skips the bias.

    Notes
    -----
    The seeds' accumulator, Delta^l := Delta^l + delta^l (a^{l-1})^T, one example
    at a time. Summed over the batch in example order it gives
    ``_bias_gradient`` bit for bit, and ``_weight_gradient`` bit for bit for
    batches below ``MIN_TILED_BATCH`` examples (both add the terms of each
    dW[j, k] in increasing b); longer batches add each term by a fused
    multiply-add and agree to rounding.
    """
    n_l, n_prev = dW.shape
    for j in range(n_l):
        d = delta[j]
        for k in range(n_prev):
            dW[j, k] += d * a_prev[k]
    for j in range(dbias.shape[0]):
        dbias[j] += delta[j]


@njit(**JIT)
def _weight_gradient_plain(delta, A_prev, dW):
    """dC/dW[j, k] = sum_b delta[b, j] * A_prev[b, k], b increasing: the equation.

    Parameters
    ----------
    delta : ndarray, shape (n_batch, n_l)
        Errors of layer l.
    A_prev : ndarray, shape (n_batch, n_prev)
        Activations of layer l-1, one example per row.
    dW : ndarray, shape (n_l, n_prev)
        Output, overwritten.

    Notes
    -----
    The triple loop as written, one sum per entry. ``_weight_gradient`` computes
    the same sums in blocks, bit for bit below ``MIN_TILED_BATCH`` examples.
    Matrix form: ``delta.T @ A_prev``.
    """
    n_batch, n_l = delta.shape
    for j in range(n_l):
        for k in range(A_prev.shape[1]):
            total = dW.dtype.type(0)
            for b in range(n_batch):
                total += delta[b, j] * A_prev[b, k]
            dW[j, k] = total


@njit(**JIT)
def _regularize_rows(rows, W_rows, scale, l2):
    """rows[i, k] := scale * (rows[i, k] + l2 * W_rows[i, k]): a gradient scaled.

    ``scale`` is 1 / n_batch for the mean cost, ``l2`` the L2 strength; the
    expression of ``backprop._scale_and_regularize``.
    """
    for i in range(rows.shape[0]):
        for k in range(rows.shape[1]):
            rows[i, k] = scale * (rows[i, k] + l2 * W_rows[i, k])


@njit(**JIT)
def _scale(values, scale):
    """values[j] := scale * values[j]: a bias gradient's mean (no L2 term)."""
    for j in range(values.shape[0]):
        values[j] = scale * values[j]


@njit(**JIT)
def _weight_gradient_rows(delta, A_prev, rows, j_start, j_stop, regularize):
    """Write rows[j - j_start, k] = dC/dW[j, k] = sum_b delta[b, j] * A_prev[b, k].

    For j_start <= j < j_stop; ``rows`` is that block of ``dW`` or scratch of
    its shape. With ``regularize`` = (W_rows, scale, l2), W_rows the same rows of
    W, each entry is stored as scale * (dC/dW[j, k] + l2 * W[j, k]) instead.
    Other arguments as ``_weight_gradient``.

    Notes
    -----
    ``_tiles._outer_product_rows`` adds the terms of each dW[j, k] in increasing
    b (fused multiply-adds from ``MIN_TILED_BATCH`` examples on), scaled if asked
    as they are stored. Any split of the rows gives the same bits.
    """
    if regularize is None:
        _outer_product_rows(delta, A_prev, rows, j_start, j_stop)
    else:
        W_rows, scale, l2 = regularize
        _outer_product_scaled_rows(
            delta, A_prev, rows, W_rows, scale, l2, j_start, j_stop
        )


@njit(**PARALLEL)
def _weight_gradient_parallel(delta, A_prev, dW, regularize):
    """``_weight_gradient_rows`` over all rows, blocks of rows j split over threads.

    Each block of rows of ``dW`` is written by one thread only.
    """
    n_l = dW.shape[0]
    height = _packed_block_rows(n_l, FUSED_BLOCK_ROWS)
    for block in prange((n_l + height - 1) // height):
        start = block * height
        stop = min(start + height, n_l)
        _weight_gradient_rows(
            delta,
            A_prev,
            dW[start:stop],
            start,
            stop,
            _rows_of(regularize, start, stop),
        )


@njit(**JIT)
def _rows_of(regularize, start, stop):
    """``regularize`` with only rows start..stop-1 of its W (None stays None)."""
    if regularize is None:
        return None
    W, scale, l2 = regularize
    return W[start:stop], scale, l2


@njit(**JIT)
def _weight_gradient(delta, A_prev, dW, regularize=None, parallel=None):
    """Write dC/dW[j, k] = sum_b delta[b, j] * A_prev[b, k] into ``dW``.

    Parameters
    ----------
    delta : ndarray, shape (n_batch, n_l)
        Errors of layer l; ``delta[b, j]`` is dC_b/dz[b, j].
    A_prev : ndarray, shape (n_batch, n_prev)
        Activations of layer l-1, one example per row.
    dW : ndarray, shape (n_l, n_prev)
        Output, overwritten. Row j is neuron j of layer l, column k neuron k of l-1.
    regularize : (W, scale, l2) or None
        If given, dW[j, k] is written as scale * (dC/dW[j, k] + l2 * W[j, k]),
        the mean and L2 term of ``backprop._scale_and_regularize`` with the same
        bits, without a pass of its own over dW.
    parallel : True or None
        True lets rows j go to separate threads above ``MIN_PARALLEL_WORK``
        multiply-adds; None (the default) runs one thread and compiles no
        parallel kernel (``_jit.parallel_flag``).

    Notes
    -----
    Each dW[j, k] adds its terms in increasing b, as the per-example
    accumulator does: bit for bit below ``MIN_TILED_BATCH`` examples, by fused
    multiply-adds from it on (differing from the accumulator by rounding only).
    Rows j of ``dW`` are independent: with ``parallel``, above
    ``MIN_PARALLEL_WORK`` multiply-adds, blocks of rows go to separate threads,
    never two threads summing into one entry, with the same results for any
    thread count. Matrix form: ``delta.T @ A_prev``.
    """
    n_batch, n_l = delta.shape
    if parallel is not None and use_threads(n_batch * n_l * A_prev.shape[1]):
        _weight_gradient_parallel(delta, A_prev, dW, regularize)
    else:
        _weight_gradient_rows(delta, A_prev, dW, FIRST_ROW, n_l, regularize)


@njit(**JIT)
def _bias_gradient(delta, dbias):
    """Write dC/dbias[j] = sum_b delta[b, j] into ``dbias``.

    Parameters
    ----------
    delta : ndarray, shape (n_batch, n_l)
        Errors of layer l.
    dbias : ndarray, shape (n_l,)
        Output, overwritten.

    Notes
    -----
    Loops b outer, j inner: rows of ``delta`` are read contiguously, and each
    dbias[j] still sums in increasing b. Matrix form: ``delta.sum(axis=0)``.
    """
    n_batch, n_l = delta.shape
    for j in range(n_l):
        dbias[j] = 0
    for b in range(n_batch):
        for j in range(n_l):
            dbias[j] += delta[b, j]


def weight_gradient(delta, A_prev):
    """Weight gradient of one layer, summed over the batch: dW = delta^T A_prev.

    Parameters
    ----------
    delta : array_like, shape (n_batch, n_l)
        Errors of layer l, float32 or float64.
    A_prev : array_like, shape (n_batch, n_prev)
        Activations of layer l-1, same dtype.

    Returns
    -------
    dW : ndarray, shape (n_l, n_prev)
        ``dW[j, k]`` = sum_b delta[b, j] * A_prev[b, k].

    Examples
    --------
    >>> import numpy as np
    >>> from loopnet import kernels
    >>> delta = np.array([[1.0], [2.0]])
    >>> kernels.weight_gradient(delta, np.array([[1.0, 0.0], [1.0, 1.0]]))
    array([[3., 2.]])
    """
    delta = check.kernel_array(delta, "delta", 2)
    A_prev = check.kernel_array(A_prev, "A_prev", 2, delta.dtype, "delta")
    check.check_length(
        A_prev.shape[0],
        delta.shape[0],
        f"A_prev has {A_prev.shape[0]} rows; delta has {delta.shape[0]}"
        " (one per example)",
    )
    dW = np.empty((delta.shape[1], A_prev.shape[1]), dtype=delta.dtype)
    parallel = parallel_flag(delta.size * A_prev.shape[1])
    _weight_gradient(delta, A_prev, dW, None, parallel)
    return check.check_finite_result(dW, "dW", "delta and A_prev")


def bias_gradient(delta):
    """Bias gradient of one layer, summed over the batch: dbias[j] = sum_b delta[b, j].

    Parameters
    ----------
    delta : array_like, shape (n_batch, n_l)
        Errors of layer l, float32 or float64.

    Returns
    -------
    dbias : ndarray, shape (n_l,)

    Examples
    --------
    >>> import numpy as np
    >>> from loopnet import kernels
    >>> kernels.bias_gradient(np.array([[1.0, 2.0], [3.0, 4.0]]))
    array([4., 6.])
    """
    delta = check.kernel_array(delta, "delta", 2)
    dbias = np.empty(delta.shape[1], dtype=delta.dtype)
    _bias_gradient(delta, dbias)
    return check.check_finite_result(dbias, "dbias", "delta")


def weight_gradient_example(delta, a_prev):
    """One example's weight gradient, the outer product delta a_prev^T.

    Parameters
    ----------
    delta : array_like, shape (n_l,)
        Errors of layer l for one example.
    a_prev : array_like, shape (n_prev,)
        Activations of layer l-1 for that example, same dtype.

    Returns
    -------
    dW : ndarray, shape (n_l, n_prev)
        ``dW[j, k] = delta[j] * a_prev[k]``; its bias gradient is ``delta`` itself.

    Examples
    --------
    >>> import numpy as np
    >>> from loopnet import kernels
    >>> kernels.weight_gradient_example(np.array([1.0, 2.0]), np.array([3.0]))
    array([[3.],
           [6.]])
    """
    delta = check.kernel_array(delta, "delta", 1)
    a_prev = check.kernel_array(a_prev, "a_prev", 1, delta.dtype, "delta")
    dW = np.zeros((delta.shape[0], a_prev.shape[0]), dtype=delta.dtype)
    _accumulate_gradient_example(delta, a_prev, dW, np.empty(0, dtype=delta.dtype))
    return check.check_finite_result(dW, "dW", "delta and a_prev")
