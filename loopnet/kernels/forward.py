"""Forward pass of one layer.

z[b, j] = sum_k W[j, k] * a[b, k] + bias[j], a[b, j] = sigma(z[b, j]).
"""

import numpy as np
from numba import njit, prange

from loopnet import _validation as check
from loopnet._jit import FIRST_ROW, JIT, PARALLEL, parallel_flag, use_threads
from loopnet.activations import activate_example, activate_rows
from loopnet.kernels._tiles import _block_rows, _dot_rows
from loopnet.kernels.arguments import layer_arguments


@njit(**JIT)
def _forward_layer_example(W, bias, a_prev, activation, z, a):
    """Write z_j = sum_k W[j, k] * a_prev[k] + bias[j] and a_j = sigma(z_j).

    Parameters
    ----------
    W : ndarray, shape (n_l, n_prev)
        Weights of layer l; row j is neuron j, column k neuron k of layer l-1.
    bias : ndarray, shape (n_l,)
        Biases of layer l (zeros for a network without biases).
    a_prev : ndarray, shape (n_prev,)
        Activations of layer l-1 for one example.
    activation : int
        Activation code of layer l.
    z, a : ndarray, shape (n_l,)
        Outputs, overwritten.

    Notes
    -----
    The per-example form of the seeds: one column vector through one layer.
    The innermost loop runs over k, contiguous in both ``W[j]`` and ``a_prev``.
    Matrix form: ``z = W @ a_prev + bias``.
    """
    n_l, n_prev = W.shape
    for j in range(n_l):
        total = bias[j]
        for k in range(n_prev):
            total += W[j, k] * a_prev[k]
        z[j] = total
    activate_example(activation, z, a)


@njit(**JIT)
def _forward_layer_plain(W, bias, A_prev, activation, Z, A):
    """Z[b, j] = sum_k W[j, k] * A_prev[b, k] + bias[j], A = sigma(Z): the equation.

    Arguments as ``_forward_layer``. The triple loop as written, each sum in
    increasing k; ``_forward_layer`` computes the same sums in register tiles
    and agrees to rounding. Matrix form: ``Z = A_prev @ W.T + bias``.
    """
    n_l, n_prev = W.shape
    for b in range(A_prev.shape[0]):
        for j in range(n_l):
            total = bias[j]
            for k in range(n_prev):
                total += W[j, k] * A_prev[b, k]
            Z[b, j] = total
        activate_example(activation, Z[b], A[b])


@njit(**JIT)
def _forward_rows(W, bias, A_prev, activation, Z, A, b_start, b_stop):
    """Write Z[b, j] = sum_k A_prev[b, k] * W[j, k] + bias[j] and A = sigma(Z), rows b.

    Rows ``b_start`` to ``b_stop - 1`` of ``Z`` and ``A`` (``b_start`` a multiple
    of ``_tiles.TILE``); arguments otherwise as ``_forward_layer``.

    Notes
    -----
    The dot products over k come from the register tiles of ``_tiles._dot_rows``
    (S = A_prev, T = W: both read along k, no copy needed); the bias and the
    activation follow over the block of rows, while it is still in cache.
    """
    _dot_rows(A_prev, W, Z, b_start, b_stop)
    for b in range(b_start, b_stop):
        for j in range(W.shape[0]):
            Z[b, j] += bias[j]
    activate_rows(activation, Z[b_start:b_stop], A[b_start:b_stop])


@njit(**PARALLEL)
def _forward_layer_parallel(W, bias, A_prev, activation, Z, A):
    """``_forward_layer`` with blocks of rows b split between threads.

    Each block of rows of ``Z`` and ``A`` is written by one thread only, and every
    entry is computed by the same instructions as in the serial kernel.
    """
    n_batch = A_prev.shape[0]
    height = _block_rows(n_batch)
    for block in prange((n_batch + height - 1) // height):
        start = block * height
        stop = min(start + height, n_batch)
        _forward_rows(W, bias, A_prev, activation, Z, A, start, stop)


@njit(**JIT)
def _forward_layer(W, bias, A_prev, activation, Z, A, parallel=None):
    """Write Z[b, j] = sum_k W[j, k] * A_prev[b, k] + bias[j] and A = sigma(Z).

    Parameters
    ----------
    W : ndarray, shape (n_l, n_prev)
        Weights of layer l.
    bias : ndarray, shape (n_l,)
        Biases of layer l.
    A_prev : ndarray, shape (n_batch, n_prev)
        Activations of layer l-1, one example per row.
    activation : int
        Activation code of layer l.
    Z, A : ndarray, shape (n_batch, n_l)
        Outputs, overwritten.
    parallel : True or None
        True lets rows go to separate threads above ``MIN_PARALLEL_WORK``
        multiply-adds; None (the default) runs one thread and compiles no
        parallel kernel (``_jit.parallel_flag``).

    Notes
    -----
    Rows b of ``Z`` and ``A`` are independent: with ``parallel``, above
    ``MIN_PARALLEL_WORK`` multiply-adds blocks of rows go to separate threads
    (``_forward_layer_parallel``), below it one thread does all. Each z[b, j] is
    a dot product over k computed in a register tile (``_tiles``), so its
    sum is vectorized and reassociated: it differs from the per-example kernel's
    index-order sum by rounding only, and is the same for every thread count.
    Matrix form: ``Z = A_prev @ W.T + bias``.
    """
    n_batch, n_prev = A_prev.shape
    if parallel is not None and use_threads(n_batch * W.shape[0] * n_prev):
        _forward_layer_parallel(W, bias, A_prev, activation, Z, A)
    else:
        _forward_rows(W, bias, A_prev, activation, Z, A, FIRST_ROW, n_batch)


def forward_layer(W, A_prev, bias=None, activation="sigmoid"):
    """Forward one layer over a batch: Z = A_prev W^T + bias, A = sigma(Z).

    Parameters
    ----------
    W : array_like, shape (n_l, n_prev)
        Weights, float32 or float64; ``W[j, k]`` connects neuron k of layer l-1
        to neuron j of layer l.
    A_prev : array_like, shape (n_batch, n_prev)
        Activations of layer l-1, one example per row, same dtype as ``W``.
    bias : array_like, shape (n_l,), optional
        Biases; ``None`` means no bias (zeros).
    activation : str
        ``"sigmoid"``, ``"tanh"``, ``"relu"``, ``"identity"`` or ``"softmax"``.

    Returns
    -------
    Z, A : ndarray, shape (n_batch, n_l)
        Weighted inputs and activations, in the dtype of ``W``.

    Raises
    ------
    TypeError, ValueError
        For bad arguments, naming them; ValueError also when ``Z`` would
        overflow the dtype.

    Examples
    --------
    >>> import numpy as np
    >>> from loopnet import kernels
    >>> Z, A = kernels.forward_layer(np.ones((3, 2)), np.array([[0.3, 1.0]]))
    >>> Z
    array([[1.3, 1.3, 1.3]])
    >>> A.round(4)
    array([[0.7858, 0.7858, 0.7858]])
    """
    W, A_prev, bias, code = layer_arguments(W, A_prev, bias, activation, 2, "A_prev")
    Z = np.empty((A_prev.shape[0], W.shape[0]), dtype=W.dtype)
    A = np.empty_like(Z)
    parallel = parallel_flag(A_prev.shape[0] * W.size)
    _forward_layer(W, bias, A_prev, code, Z, A, parallel)
    check.check_finite_result(Z, "Z", "W, A_prev and bias")
    return Z, A


def forward_layer_example(W, a_prev, bias=None, activation="sigmoid"):
    """Forward one layer for one example: z = W a_prev + bias, a = sigma(z).

    Parameters
    ----------
    W : array_like, shape (n_l, n_prev)
        Weights, float32 or float64.
    a_prev : array_like, shape (n_prev,)
        Activations of layer l-1 for one example, same dtype as ``W``.
    bias : array_like, shape (n_l,), optional
        Biases; ``None`` means no bias.
    activation : str
        Activation name.

    Returns
    -------
    z, a : ndarray, shape (n_l,)

    Examples
    --------
    >>> import numpy as np
    >>> from loopnet import kernels
    >>> z, a = kernels.forward_layer_example(np.ones((3, 2)), np.array([0.3, 1.0]))
    >>> z
    array([1.3, 1.3, 1.3])
    """
    W, a_prev, bias, code = layer_arguments(W, a_prev, bias, activation, 1, "a_prev")
    z = np.empty(W.shape[0], dtype=W.dtype)
    a = np.empty_like(z)
    _forward_layer_example(W, bias, a_prev, code, z, a)
    check.check_finite_result(z, "z", "W, a_prev and bias")
    return z, a
