"""Forward pass of one layer on the GPU.

z[b, j] = sum_k W[j, k] * a[b, k] + bias[j], a[b, j] = sigma(z[b, j]).

One output per (b, j): ``weighted_input_at`` is the equation for one index pair,
``_forward_layer`` computes every pair with the sums tiled through shared memory
(``_tiles``), and ``_softmax_layer`` applies the softmax, which needs a whole row
of z, once z is complete.
"""

from loopnet.activations import SOFTMAX
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
from loopnet.cuda.kernels.activations import activate, softmax_at
from loopnet.kernels.arguments import layer_arguments

cuda = numba_cuda()


@cuda.jit(device=True)
def weighted_input_at(W, bias, A_prev, b, j):
    """z[b, j] = sum_k W[j, k] * A_prev[b, k] + bias[j], for one (b, j).

    The sum starts at bias[j] and adds the terms in increasing k, as the CPU
    kernel does.
    """
    total = bias[j]
    for k in range(W.shape[1]):
        total += W[j, k] * A_prev[b, k]
    return total


@cuda.jit
def _forward_layer(W, bias, A_prev, activation, n_batch, Z, A):
    """Write Z[b, j] = sum_k W[j, k] * A_prev[b, k] + bias[j], A[b, j] = sigma(Z[b, j]).

    Parameters
    ----------
    W : device array, shape (n_l, n_prev)
        Weights of layer l.
    bias : device array, shape (n_l,)
        Biases of layer l (zeros for a network without biases).
    A_prev : device array, shape (>= n_batch, n_prev)
        Activations of layer l-1, one example per row.
    activation : int
        Activation code of layer l; for ``SOFTMAX`` only Z is written.
    n_batch : int
        Examples to compute: rows b < n_batch.
    Z, A : device array, shape (>= n_batch, n_l)
        Outputs, overwritten in their first n_batch rows.

    Notes
    -----
    Launch ``tiled(kernel, n_batch, n_l)``. The
    tiled form of ``weighted_input_at``: r = b, c = j, t = k, with P = A_prev
    and Q(k, j) = W[j, k]. Each sum starts at bias[j] and adds k in increasing
    order, like the per-index form. Matrix form: ``Z = A_prev @ W.T + bias``.
    """
    acc = cuda.local.array(ACC_SHAPE, dtype=W.dtype)
    n_l, n_prev = W.shape
    b0 = cuda.blockIdx.y * TILE
    j0 = cuda.blockIdx.x * TILE
    for jj in range(PER_THREAD):
        j = j0 + cuda.threadIdx.x + THREADS * jj
        for i in range(PER_THREAD):
            if j < n_l:
                acc[i, jj] = bias[j]
            else:
                acc[i, jj] = 0
    tile_sums(A_prev, True, W, True, b0, n_batch, j0, n_l, n_prev, acc)
    for i in range(PER_THREAD):
        b = b0 + cuda.threadIdx.y + THREADS * i
        for jj in range(PER_THREAD):
            j = j0 + cuda.threadIdx.x + THREADS * jj
            if b < n_batch and j < n_l:
                Z[b, j] = acc[i, jj]
                if activation != SOFTMAX:
                    A[b, j] = activate(activation, acc[i, jj])


@cuda.jit
def _softmax_layer(Z, n_batch, A):
    """Write the softmax A[b, j] = exp(Z[b, j] - m_b) / sum_i exp(Z[b, i] - m_b).

    m_b = max_i Z[b, i], subtracted so that no exp overflows.

    Parameters
    ----------
    Z : device array, shape (>= n_batch, n_l)
        Weighted inputs of the layer.
    n_batch : int
        Examples to compute.
    A : device array, shape (>= n_batch, n_l)
        Output, overwritten in its first n_batch rows.

    Notes
    -----
    One thread per (b, j), j fastest; launch
    ``elementwise(kernel, n_batch * n_l)``.
    """
    n_l = Z.shape[1]
    index = cuda.grid(1)
    if index < n_batch * n_l:
        b = index // n_l
        j = index % n_l
        A[b, j] = softmax_at(Z, b, j)


def launch_forward_layer(W, bias, A_prev, activation, n_batch, Z, A):
    """Launch the forward pass of one layer on device arrays (no checks).

    Arguments as ``_forward_layer``; the softmax kernel follows when
    ``activation`` is ``SOFTMAX``.
    """
    tiled(_forward_layer, n_batch, W.shape[0])(
        W, bias, A_prev, activation, n_batch, Z, A
    )
    if activation == SOFTMAX:
        elementwise(_softmax_layer, n_batch * W.shape[0])(Z, n_batch, A)


def forward_layer(W, A_prev, bias=None, activation="sigmoid"):
    """Forward one layer over a batch on the GPU: Z = A_prev W^T + bias, A = sigma(Z).

    Arguments, checks and results as ``loopnet.kernels.forward_layer``; the
    arrays are copied to the GPU and the results back.

    Parameters
    ----------
    W : array_like, shape (n_l, n_prev)
        Weights, float32 or float64.
    A_prev : array_like, shape (n_batch, n_prev)
        Activations of layer l-1, one example per row, same dtype as ``W``.
    bias : array_like, shape (n_l,), optional
        Biases; ``None`` means no bias.
    activation : str
        ``"sigmoid"``, ``"tanh"``, ``"relu"``, ``"identity"`` or ``"softmax"``.

    Returns
    -------
    Z, A : ndarray, shape (n_batch, n_l)

    Examples
    --------
    >>> import numpy as np
    >>> from loopnet.cuda import kernels
    >>> Z, A = kernels.forward_layer(np.ones((3, 2)), np.array([[0.3, 1.0]]))
    >>> Z
    array([[1.3, 1.3, 1.3]])
    """
    W, A_prev, bias, code = layer_arguments(W, A_prev, bias, activation, 2, "A_prev")
    require_gpu()
    n_batch, n_l = A_prev.shape[0], W.shape[0]
    Z = cuda.device_array((n_batch, n_l), dtype=W.dtype)
    A = cuda.device_array((n_batch, n_l), dtype=W.dtype)
    launch_forward_layer(
        cuda.to_device(W),
        cuda.to_device(bias),
        cuda.to_device(A_prev),
        code,
        n_batch,
        Z,
        A,
    )
    return Z.copy_to_host(), A.copy_to_host()
