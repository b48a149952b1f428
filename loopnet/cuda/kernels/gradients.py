"""Weight and bias gradients on the GPU.

dC/dW[j, k] = sum_b delta[b, j] * a[b, k] and dC/dbias[j] = sum_b delta[b, j].

One output per (j, k) for the weights, tiled through shared memory over the batch
index b; one per j for the biases. The network's scale (1 or 1/n_batch) and L2 term
are applied as the sums are written, the CPU's ``_scale_and_regularize`` folded in.
"""

from loopnet import _validation as check
from loopnet.cuda._backend import numba_cuda, require_gpu
from loopnet.cuda.kernels._tiles import (
    ACC_SHAPE,
    PER_THREAD,
    THREADS,
    TILE,
    elementwise,
    tile_sums,
    tiled,
)

cuda = numba_cuda()


@cuda.jit(device=True)
def weight_gradient_at(delta, A_prev, n_batch, j, k):
    """sum_b delta[b, j] * A_prev[b, k] over the examples b < n_batch, b increasing."""
    total = type(delta[0, j])(0)
    for b in range(n_batch):
        total += delta[b, j] * A_prev[b, k]
    return total


@cuda.jit(device=True)
def bias_gradient_at(delta, n_batch, j):
    """sum_b delta[b, j] over the examples b < n_batch, in increasing b."""
    total = type(delta[0, j])(0)
    for b in range(n_batch):
        total += delta[b, j]
    return total


@cuda.jit
def _weight_gradient(delta, A_prev, W, scale, l2, n_batch, dW):
    """Write dW[j, k] = scale * (sum_b delta[b, j] * A_prev[b, k] + l2 * W[j, k]).

    Parameters
    ----------
    delta : device array, shape (>= n_batch, n_l)
        Errors of layer l; ``delta[b, j]`` is dC_b/dz[b, j].
    A_prev : device array, shape (>= n_batch, n_prev)
        Activations of layer l-1, one example per row.
    W : device array, shape (n_l, n_prev)
        Weights of layer l, read only when ``l2 != 0``.
    scale, l2 : float
        1 (summed cost) or 1/n_batch (mean), and the L2 strength, in the arrays'
        dtype.
    n_batch : int
        Examples summed over: rows b < n_batch.
    dW : device array, shape (n_l, n_prev)
        Output, overwritten.

    Notes
    -----
    Launch ``tiled(kernel, n_l, n_prev)``. The
    tiled form of ``weight_gradient_at``: r = j, c = k, t = b, with P(j, b) =
    delta[b, j] and Q = A_prev; each thread owns whole sums, so no two threads
    add into one dW[j, k]. Matrix form: ``scale * (delta.T @ A_prev + l2 * W)``.
    """
    acc = cuda.local.array(ACC_SHAPE, dtype=dW.dtype)
    n_l, n_prev = dW.shape
    j0 = cuda.blockIdx.y * TILE
    k0 = cuda.blockIdx.x * TILE
    for i in range(PER_THREAD):
        for kk in range(PER_THREAD):
            acc[i, kk] = 0
    tile_sums(delta, False, A_prev, False, j0, n_l, k0, n_prev, n_batch, acc)
    for i in range(PER_THREAD):
        j = j0 + cuda.threadIdx.y + THREADS * i
        for kk in range(PER_THREAD):
            k = k0 + cuda.threadIdx.x + THREADS * kk
            if j < n_l and k < n_prev:
                total = acc[i, kk]
                if l2 != 0:
                    total += l2 * W[j, k]
                dW[j, k] = scale * total


@cuda.jit
def _bias_gradient(delta, scale, n_batch, dbias):
    """Write dbias[j] = scale * sum_b delta[b, j] over the examples b < n_batch.

    Notes
    -----
    One thread per j (consecutive threads read consecutive j of a row of
    ``delta``); launch ``elementwise(kernel, n_l)``.
    Matrix form: ``scale * delta.sum(axis=0)``.
    """
    j = cuda.grid(1)
    if j < dbias.shape[0]:
        dbias[j] = scale * bias_gradient_at(delta, n_batch, j)


def launch_weight_gradient(delta, A_prev, W, scale, l2, n_batch, dW):
    """Launch ``_weight_gradient`` on device arrays (no checks)."""
    tiled(_weight_gradient, dW.shape[0], dW.shape[1])(
        delta, A_prev, W, scale, l2, n_batch, dW
    )


def launch_bias_gradient(delta, scale, n_batch, dbias):
    """Launch ``_bias_gradient`` on device arrays (no checks)."""
    elementwise(_bias_gradient, dbias.shape[0])(delta, scale, n_batch, dbias)


def weight_gradient(delta, A_prev):
    """dC/dW[j, k] = sum_b delta[b, j] * A_prev[b, k] on the GPU, summed over the batch.

    Arguments, checks and result as ``loopnet.kernels.weight_gradient``.

    Parameters
    ----------
    delta : array_like, shape (n_batch, n_l)
        Errors of layer l, one example per row (float32 or float64).
    A_prev : array_like, shape (n_batch, n_prev)
        Activations of layer l-1, same dtype.

    Returns
    -------
    dW : ndarray, shape (n_l, n_prev)

    Examples
    --------
    >>> import numpy as np
    >>> from loopnet.cuda import kernels
    >>> delta, A_prev = np.array([[1.0], [2.0]]), np.array([[3.0, 1.0], [1.0, 1.0]])
    >>> kernels.weight_gradient(delta, A_prev)
    array([[5., 3.]])
    """
    delta = check.kernel_array(delta, "delta", 2)
    A_prev = check.kernel_array(A_prev, "A_prev", 2, delta.dtype)
    check.check_length(
        A_prev.shape[0],
        delta.shape[0],
        f"A_prev has {A_prev.shape[0]} rows; delta has {delta.shape[0]}"
        " (one per example)",
    )
    require_gpu()
    dW = cuda.device_array((delta.shape[1], A_prev.shape[1]), dtype=delta.dtype)
    one = delta.dtype.type(1)
    launch_weight_gradient(
        cuda.to_device(delta),
        cuda.to_device(A_prev),
        dW,
        one,
        0 * one,
        delta.shape[0],
        dW,
    )
    return dW.copy_to_host()


def bias_gradient(delta):
    """dC/dbias[j] = sum_b delta[b, j] on the GPU (the batch's summed gradient).

    Parameters
    ----------
    delta : array_like, shape (n_batch, n_l)
        Errors of layer l, one example per row (float32 or float64).

    Returns
    -------
    dbias : ndarray, shape (n_l,)

    Examples
    --------
    >>> import numpy as np
    >>> from loopnet.cuda import kernels
    >>> kernels.bias_gradient(np.array([[1.0, 2.0], [3.0, 4.0]]))
    array([4., 6.])
    """
    delta = check.kernel_array(delta, "delta", 2)
    require_gpu()
    dbias = cuda.device_array(delta.shape[1], dtype=delta.dtype)
    launch_bias_gradient(
        cuda.to_device(delta), delta.dtype.type(1), delta.shape[0], dbias
    )
    return dbias.copy_to_host()
