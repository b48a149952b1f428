"""Activations sigma, derivatives sigma' and the costs' dC/da as CUDA device functions.

The scalar forms of ``loopnet.activations`` and ``loopnet.costs``, written for one
index: the GPU kernels call them once per (b, j). They keep their inputs' precision
(``type(z)(1)``: a bare ``1.0`` is float64 and would promote float32 arithmetic)
and are as stable as the CPU forms: the sigmoid never takes ``exp`` of a positive
number and the softmax subtracts its row's maximum.
"""

import math

from loopnet.activations import RELU, SIGMOID, TANH
from loopnet.costs import CROSS_ENTROPY, QUADRATIC
from loopnet.cuda._backend import numba_cuda

cuda = numba_cuda()


@cuda.jit(device=True)
def sigmoid(z):
    """Logistic sigmoid sigma(z) = 1 / (1 + exp(-z)), evaluated without overflow."""
    one = type(z)(1)
    if z >= 0:
        return one / (one + math.exp(-z))
    e = math.exp(z)
    return e / (one + e)


@cuda.jit(device=True)
def activate(activation, z):
    """sigma(z) for an elementwise activation code (not ``SOFTMAX``)."""
    if activation == SIGMOID:
        return sigmoid(z)
    if activation == TANH:
        return math.tanh(z)
    if activation == RELU:
        return z if z > 0 else type(z)(0)
    return z  # IDENTITY


@cuda.jit(device=True)
def derivative(activation, z):
    """sigma'(z) for an elementwise activation code (relu's kink at 0 takes 0)."""
    one = type(z)(1)
    if activation == SIGMOID:
        s = sigmoid(z)
        return s * (one - s)
    if activation == TANH:
        t = math.tanh(z)
        return one - t * t
    if activation == RELU:
        return one if z > 0 else type(z)(0)
    return one  # IDENTITY


@cuda.jit(device=True)
def softmax_at(Z, b, j):
    """a[b, j] = exp(z_j - max_i z_i) / sum_i exp(z_i - max_i z_i) over row b of ``Z``.

    Each (b, j) recomputes its row's maximum and sum: O(n_l) work per output,
    in the CPU kernel's order, so the row sums to one as there.
    """
    n_l = Z.shape[1]
    z_max = Z[b, 0]
    for i in range(1, n_l):
        z_max = max(z_max, Z[b, i])
    total = type(z_max)(0)
    for i in range(n_l):
        total += math.exp(Z[b, i] - z_max)
    return math.exp(Z[b, j] - z_max) / total


@cuda.jit(device=True)
def cost_gradient(cost, a, y):
    """dC/da of one output unit: a - y, (a - y) / (a (1 - a)) or -y / a.

    The textbook general form; the log costs divide by a or 1 - a, which the output
    error's closed forms avoid where outputs saturate.
    """
    if cost == QUADRATIC:
        return a - y
    if cost == CROSS_ENTROPY:
        return (a - y) / (a * (type(a)(1) - a))
    return -y / a  # LOG_LIKELIHOOD
