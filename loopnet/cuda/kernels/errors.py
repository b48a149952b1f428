"""The errors delta = dC/dz on the GPU: at the output layer and at hidden layers.

The equations of ``loopnet.kernels.errors``, one (b, j) at a time. Output layer,
general form: delta[b, j] = sum_i J_b[i, j] * dC_b/da[b, i], with J the Jacobian of
the output activation (diagonal sigma'(z) unless softmax); the same closed forms as
the CPU where a pairing has one (sigmoid + cross_entropy: a - y; softmax +
log_likelihood: a * sum_i y_i - y; sigmoid + log_likelihood: -y (1 - a); softmax +
cross_entropy: n a_j - y_j - sum_{i != j} (1 - y_i) exp(z_j - lse_{m != i} z)).
Hidden layer: delta[b, j] = sigma'(z[b, j]) * sum_m delta_next[b, m] * W_next[m, j],
tiled through shared memory like the forward pass.
"""

import math

from loopnet.activations import SIGMOID, SOFTMAX
from loopnet.costs import CROSS_ENTROPY, LOG_LIKELIHOOD
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
from loopnet.cuda.kernels.activations import cost_gradient, derivative
from loopnet.kernels.arguments import hidden_arguments, output_arguments

cuda = numba_cuda()

# --- output error -----------------------------------------------------------------


@cuda.jit(device=True)
def output_error_general_at(Z, A, Y, output, cost, b, j):
    """delta[b, j] = sum_i J_b[i, j] * dC_b/da[b, i], the general form, for one (b, j).

    Notes
    -----
    Elementwise output: J is diagonal and delta[b, j] = sigma'(z[b, j]) *
    dC_b/da[b, j]. Softmax: J[i, j] = a_i (1[i == j] - a_j), summed over i as
    written, as the CPU kernel does.
    """
    if output != SOFTMAX:
        return cost_gradient(cost, A[b, j], Y[b, j]) * derivative(output, Z[b, j])
    a_j = A[b, j]
    one = type(a_j)(1)
    zero = type(a_j)(0)
    total = zero
    for i in range(A.shape[1]):
        kronecker = one if i == j else zero
        total += A[b, i] * (kronecker - a_j) * cost_gradient(cost, A[b, i], Y[b, i])
    return total


@cuda.jit(device=True)
def logsumexp_without_at(Z, b, i):
    """L[b, i] = ln sum_{m != i} exp(Z[b, m]), max-subtracted: ln(1 - a_i) + lse(z)."""
    n_l = Z.shape[1]
    z_max = Z[b, 1] if i == 0 else Z[b, 0]
    for m in range(n_l):
        if m != i and Z[b, m] > z_max:
            z_max = Z[b, m]
    total = type(z_max)(0)
    for m in range(n_l):
        if m != i:
            total += math.exp(Z[b, m] - z_max)
    return z_max + math.log(total)


@cuda.jit(device=True)
def softmax_cross_entropy_error_at(Z, A, Y, b, j):
    """delta[b, j] of softmax + cross_entropy, in closed form.

    delta[b, j] = n a_j - y_j - sum_{i != j} (1 - y_i) exp(z_j - L_i).

    Notes
    -----
    L_i = ``logsumexp_without_at(Z, b, i)``, recomputed for each j: O(n_L^2)
    work per output, small for output layers. exp(z_j - L_i) <= 1 for j != i, so
    no term overflows where 1 - a_i rounds to 0. A softmax over one unit is
    constant: its error is 0.
    """
    n_l = Z.shape[1]
    a_j = A[b, j]
    if n_l == 1:
        return type(a_j)(0)
    one = type(a_j)(1)
    total = type(a_j)(n_l) * a_j - Y[b, j]
    for i in range(n_l):
        if i != j:
            total -= (one - Y[b, i]) * math.exp(Z[b, j] - logsumexp_without_at(Z, b, i))
    return total


@cuda.jit(device=True)
def output_error_at(Z, A, Y, output, cost, b, j):
    """Compute the output error delta[b, j] by the most exact form: closed forms first.

    Parameters
    ----------
    Z, A, Y : device array, shape (>= b + 1, n_L)
        Weighted inputs, activations and targets of the output layer.
    output, cost : int
        Output activation and cost codes.
    b, j : int
        The example and the output unit.
    """
    if output == SIGMOID and cost == CROSS_ENTROPY:
        return A[b, j] - Y[b, j]
    if output == SOFTMAX and cost == LOG_LIKELIHOOD:
        y_total = type(Y[b, j])(0)
        for i in range(Y.shape[1]):
            y_total += Y[b, i]
        return A[b, j] * y_total - Y[b, j]
    if output == SIGMOID and cost == LOG_LIKELIHOOD:
        return -Y[b, j] * (type(A[b, j])(1) - A[b, j])
    if output == SOFTMAX and cost == CROSS_ENTROPY:
        return softmax_cross_entropy_error_at(Z, A, Y, b, j)
    return output_error_general_at(Z, A, Y, output, cost, b, j)


@cuda.jit
def _output_error(Z, A, Y, output, cost, n_batch, delta):
    """Write delta[b, j], the output error of each example b < n_batch.

    Closed forms first, as ``output_error_at``.

    Parameters
    ----------
    Z, A, Y : device array, shape (>= n_batch, n_L)
        Weighted inputs, activations and targets of the output layer.
    output, cost : int
        Output activation and cost codes.
    n_batch : int
        Examples to compute.
    delta : device array, shape (>= n_batch, n_L)
        Output, overwritten in its first n_batch rows.

    Notes
    -----
    One thread per (b, j), j fastest; launch
    ``elementwise(kernel, n_batch * n_L)``.
    """
    n_l = Z.shape[1]
    index = cuda.grid(1)
    if index < n_batch * n_l:
        b = index // n_l
        j = index % n_l
        delta[b, j] = output_error_at(Z, A, Y, output, cost, b, j)


@cuda.jit
def _output_error_general(Z, A, Y, output, cost, n_batch, delta):
    """Write delta[b, j] = sum_i J_b[i, j] * dC_b/da[b, i] for every b < n_batch.

    The general form for every pairing; arguments and launch as ``_output_error``.
    """
    n_l = Z.shape[1]
    index = cuda.grid(1)
    if index < n_batch * n_l:
        b = index // n_l
        j = index % n_l
        delta[b, j] = output_error_general_at(Z, A, Y, output, cost, b, j)


def launch_output_error(Z, A, Y, output, cost, n_batch, delta):
    """Launch ``_output_error`` on device arrays (no checks)."""
    n_outputs = n_batch * Z.shape[1]
    elementwise(_output_error, n_outputs)(Z, A, Y, output, cost, n_batch, delta)


# --- hidden error -----------------------------------------------------------------


@cuda.jit(device=True)
def hidden_error_at(delta_next, W_next, Z, activation, b, j):
    """delta[b, j] = sigma'(Z[b, j]) * sum_m delta_next[b, m] * W_next[m, j].

    For one (b, j); the sum adds the terms in increasing m, as the CPU kernel does.
    """
    total = type(Z[b, j])(0)
    for m in range(W_next.shape[0]):
        total += delta_next[b, m] * W_next[m, j]
    return total * derivative(activation, Z[b, j])


@cuda.jit
def _hidden_error(delta_next, W_next, Z, activation, n_batch, delta):
    """Write delta[b, j] = sigma'(Z[b, j]) * sum_m delta_next[b, m] * W_next[m, j].

    Parameters
    ----------
    delta_next : device array, shape (>= n_batch, n_next)
        Errors of layer l+1, one example per row.
    W_next : device array, shape (n_next, n_l)
        Weights of layer l+1.
    Z : device array, shape (>= n_batch, n_l)
        Weighted inputs of layer l.
    activation : int
        Code of layer l's (elementwise) activation.
    n_batch : int
        Examples to compute.
    delta : device array, shape (>= n_batch, n_l)
        Output, overwritten in its first n_batch rows.

    Notes
    -----
    Launch ``tiled(kernel, n_batch, n_l)``. The
    tiled form of ``hidden_error_at``: r = b, c = j, t = m, with P = delta_next
    and Q = W_next. Matrix form: ``(delta_next @ W_next) * sigma'(Z)``.
    """
    acc = cuda.local.array(ACC_SHAPE, dtype=Z.dtype)
    n_next, n_l = W_next.shape
    b0 = cuda.blockIdx.y * TILE
    j0 = cuda.blockIdx.x * TILE
    for i in range(PER_THREAD):
        for jj in range(PER_THREAD):
            acc[i, jj] = 0
    tile_sums(delta_next, True, W_next, False, b0, n_batch, j0, n_l, n_next, acc)
    for i in range(PER_THREAD):
        b = b0 + cuda.threadIdx.y + THREADS * i
        for jj in range(PER_THREAD):
            j = j0 + cuda.threadIdx.x + THREADS * jj
            if b < n_batch and j < n_l:
                delta[b, j] = acc[i, jj] * derivative(activation, Z[b, j])


def launch_hidden_error(delta_next, W_next, Z, activation, n_batch, delta):
    """Launch ``_hidden_error`` on device arrays (no checks)."""
    tiled(_hidden_error, n_batch, W_next.shape[1])(
        delta_next, W_next, Z, activation, n_batch, delta
    )


# --- public wrappers --------------------------------------------------------------


def _output_error_on_gpu(kernel, Z, A, Y, output, cost):
    Z, A, Y, output_code, cost_code = output_arguments(Z, A, Y, output, cost, 2)
    require_gpu()
    n_batch = Z.shape[0]
    delta = cuda.device_array(Z.shape, dtype=Z.dtype)
    elementwise(kernel, Z.size)(
        cuda.to_device(Z),
        cuda.to_device(A),
        cuda.to_device(Y),
        output_code,
        cost_code,
        n_batch,
        delta,
    )
    return delta.copy_to_host()


def output_error(Z, A, Y, output="sigmoid", cost="quadratic"):
    """Output error delta^L = dC/dz^L of every example on the GPU.

    The closed forms first, as ``loopnet.kernels.output_error``.

    Arguments, checks and result as ``loopnet.kernels.output_error``.

    Parameters
    ----------
    Z, A : array_like, shape (n_batch, n_L)
        Weighted inputs and activations of the output layer (float32 or float64).
    Y : array_like, shape (n_batch, n_L)
        Targets, same dtype.
    output : str
        Output activation name.
    cost : str
        ``"quadratic"``, ``"cross_entropy"`` or ``"log_likelihood"``.

    Returns
    -------
    delta : ndarray, shape (n_batch, n_L)
        ``delta[b, j]`` = dC_b / dz[b, j], the per-example error.

    Examples
    --------
    >>> import numpy as np
    >>> from loopnet.cuda import kernels
    >>> A = np.array([[0.8, 0.2]])
    >>> Z = np.log(A / (1 - A))
    >>> kernels.output_error(Z, A, np.array([[1.0, 0.0]]), "sigmoid", "cross_entropy")
    array([[-0.2,  0.2]])
    """
    return _output_error_on_gpu(_output_error, Z, A, Y, output, cost)


def output_error_general(Z, A, Y, output="sigmoid", cost="quadratic"):
    """Output error on the GPU by the general form delta^L = J_sigma(z)^T grad_a C.

    Arguments and result as ``output_error``; see
    ``loopnet.kernels.output_error_general``.

    Examples
    --------
    >>> import numpy as np
    >>> from loopnet.cuda import kernels
    >>> Z, A, Y = np.zeros((1, 1)), np.full((1, 1), 0.5), np.ones((1, 1))
    >>> kernels.output_error_general(Z, A, Y)
    array([[-0.125]])
    """
    return _output_error_on_gpu(_output_error_general, Z, A, Y, output, cost)


def hidden_error(delta_next, W_next, Z, activation="sigmoid"):
    """Hidden error on the GPU: delta[b, j] = sigma'(Z[b, j]) (delta_next W_next)[b, j].

    Arguments, checks and result as ``loopnet.kernels.hidden_error``.

    Parameters
    ----------
    delta_next : array_like, shape (n_batch, n_next)
        Errors of layer l+1, one example per row.
    W_next : array_like, shape (n_next, n_l)
        Weights of layer l+1.
    Z : array_like, shape (n_batch, n_l)
        Weighted inputs of layer l.
    activation : str
        Layer l's activation (``"sigmoid"``, ``"tanh"``, ``"relu"``, ``"identity"``).

    Returns
    -------
    delta : ndarray, shape (n_batch, n_l)

    Examples
    --------
    >>> import numpy as np
    >>> from loopnet.cuda import kernels
    >>> kernels.hidden_error(np.array([[2.0]]), np.ones((1, 3)), np.zeros((1, 3)))
    array([[0.5, 0.5, 0.5]])
    """
    delta_next, W_next, Z, code = hidden_arguments(
        delta_next, W_next, Z, activation, 2, ("delta_next", "Z")
    )
    require_gpu()
    delta = cuda.device_array(Z.shape, dtype=Z.dtype)
    launch_hidden_error(
        cuda.to_device(delta_next),
        cuda.to_device(W_next),
        cuda.to_device(Z),
        code,
        Z.shape[0],
        delta,
    )
    return delta.copy_to_host()
