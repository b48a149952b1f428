"""Costs C, their gradients grad_a C, and which output activations each pairs with.

Per example, with a the output activations and y the target:

- ``quadratic``: C = 1/2 sum_j (a_j - y_j)^2, grad_a C = a - y;
- ``cross_entropy`` (binary, per output unit): C = -sum_j [y_j ln a_j +
  (1 - y_j) ln(1 - a_j)], grad_a C = (a - y) / (a (1 - a));
- ``log_likelihood`` (categorical): C = -sum_j y_j ln a_j, grad_a C = -y / a.

The two log costs need outputs in (0, 1), so they pair with the sigmoid and softmax
outputs only (``VALID_OUTPUTS``), and their targets must lie in [0, 1]. Cost values
are computed from the weighted inputs z through log-sigmoid and log-softmax, never
as ``log(a)``, so they stay finite when an output saturates to exactly 0 or 1.

The gradient scalars are compiled for the general output-error kernel; the cost
values are NumPy, shared by both forms.
"""

import numpy as np
from numba import njit

from loopnet._jit import JIT
from loopnet.activations import SOFTMAX

QUADRATIC, CROSS_ENTROPY, LOG_LIKELIHOOD = 0, 1, 2

COSTS = {
    "quadratic": QUADRATIC,
    "cross_entropy": CROSS_ENTROPY,
    "log_likelihood": LOG_LIKELIHOOD,
}
"""Cost name -> integer code used by the compiled kernels."""

VALID_OUTPUTS = {
    "quadratic": ("sigmoid", "tanh", "relu", "identity", "softmax"),
    "cross_entropy": ("sigmoid", "softmax"),
    "log_likelihood": ("sigmoid", "softmax"),
}
"""Cost name -> output activations it is defined for."""

PROBABILITY_TARGETS = ("cross_entropy", "log_likelihood")
"""Costs whose targets are probabilities, checked to lie in [0, 1]."""


# --- loop form ------------------------------------------------------------------


@njit(**JIT)
def cost_gradient_example(cost, a, y, g):
    """Write g_j = dC/da_j for one example.

    Parameters
    ----------
    cost : int
        Cost code (``QUADRATIC`` ...).
    a, y : ndarray, shape (n_L,)
        Output activations and targets of one example.
    g : ndarray, shape (n_L,)
        Output, overwritten.

    Notes
    -----
    The log costs divide by a or 1 - a: this is the textbook general form, exact
    while the outputs are away from 0 and 1. The output-error kernels use closed
    forms that cancel those divisions analytically for the sigmoid and softmax
    outputs.
    """
    n_l = a.shape[0]
    one = a.dtype.type(1)
    if cost == QUADRATIC:
        for j in range(n_l):
            g[j] = a[j] - y[j]
    elif cost == CROSS_ENTROPY:
        for j in range(n_l):
            g[j] = (a[j] - y[j]) / (a[j] * (one - a[j]))
    else:  # LOG_LIKELIHOOD
        for j in range(n_l):
            g[j] = -y[j] / a[j]


@njit(**JIT)
def log1p_exp(x):
    """Softplus ln(1 + exp(x)) = max(x, 0) + ln(1 + exp(-|x|)), without overflow."""
    return max(x, type(x)(0)) + np.log1p(np.exp(-abs(x)))


@njit(**JIT)
def cost_example(cost, output, z, a, y):
    """C = the cost of one example, from its output layer's z, a and target y.

    Parameters
    ----------
    cost, output : int
        Cost and output activation codes.
    z, a, y : ndarray, shape (n_L,)
        Weighted inputs, activations and targets of the output layer.

    Returns
    -------
    float
        In the dtype of ``a``.

    Notes
    -----
    The loop twin of ``example_costs`` (one row). The log costs take ln a and
    ln(1 - a) from z, never as ``log(a)``: for a sigmoid output ln a_j =
    -softplus(-z_j) and ln(1 - a_j) = -softplus(z_j); for softmax ln a_j =
    z_j - lse(z) and ln(1 - a_j) = lse_{m != j}(z) - lse(z). A term whose
    coefficient y_j (or 1 - y_j) is zero is skipped, its limit 0 * ln 0 = 0.
    """
    n_l = z.shape[0]
    zero, one = a.dtype.type(0), a.dtype.type(1)
    total = zero
    if cost == QUADRATIC:
        for j in range(n_l):
            total += (a[j] - y[j]) * (a[j] - y[j])
        return a.dtype.type(0.5) * total
    lse = zero
    if output == SOFTMAX:
        z_max = z[0]
        for j in range(1, n_l):
            z_max = max(z_max, z[j])
        for j in range(n_l):
            lse += np.exp(z[j] - z_max)
        lse = z_max + np.log(lse)
    for j in range(n_l):
        if y[j] != zero:
            log_a = z[j] - lse if output == SOFTMAX else -log1p_exp(-z[j])
            total -= y[j] * log_a
        if cost == CROSS_ENTROPY and y[j] != one:
            if output == SOFTMAX:
                z_max = z[1] if j == 0 else z[0]
                for m in range(n_l):
                    if m != j:
                        z_max = max(z_max, z[m])
                lse_without = zero
                for m in range(n_l):
                    if m != j:
                        lse_without += np.exp(z[m] - z_max)
                log_1ma = z_max + np.log(lse_without) - lse
            else:
                log_1ma = -log1p_exp(z[j])
            total -= (one - y[j]) * log_1ma
    return total


@njit(**JIT)
def add_costs(cost, output, Z, A, Y, total):
    """``total`` + C_b of every row b of the batch, added one by one in increasing b.

    Parameters
    ----------
    cost, output : int
        Cost and output activation codes.
    Z, A, Y : ndarray, shape (n_batch, n_L)
        The output layer's weighted inputs, activations and targets,
        C-contiguous.
    total : float
        The running cost so far (float64).

    Returns
    -------
    float
        ``total`` plus each ``cost_example`` of the rows, with the same bits.

    Notes
    -----
    The branch on ``cost`` sits outside the loop over b: the quadratic cost is
    summed from the 2-D arrays directly, as ``cost_example`` sums one row,
    without a view of each row (whose reference counting cost more than the
    arithmetic, in the epoch loop); the log costs call ``cost_example`` per row.
    """
    n_batch, n_l = A.shape
    if cost == QUADRATIC:
        half = A.dtype.type(0.5)
        for b in range(n_batch):
            row_total = A.dtype.type(0)
            for j in range(n_l):
                row_total += (A[b, j] - Y[b, j]) * (A[b, j] - Y[b, j])
            total += half * row_total
    else:
        for b in range(n_batch):
            total += cost_example(cost, output, Z[b], A[b], Y[b])
    return total


# --- array form -----------------------------------------------------------------


def cost_gradient(cost, A, Y):
    """grad_a C for every example (row) at once: the matrix form of the above."""
    if cost == "quadratic":
        return A - Y
    if cost == "cross_entropy":
        return (A - Y) / (A * (1 - A))
    return -Y / A


def _softplus(X):
    """ln(1 + exp(x)) without overflow: max(x, 0) + ln(1 + exp(-|x|))."""
    return np.maximum(X, 0) + np.log1p(np.exp(-np.abs(X)))


def _logsumexp(Z, axis=-1):
    """ln sum exp(Z) along ``axis``, max-subtracted; entries of -inf count as 0."""
    Z_max = Z.max(axis=axis, keepdims=True)
    return np.squeeze(Z_max, axis) + np.log(np.exp(Z - Z_max).sum(axis=axis))


def logsumexp_without_each(Z):
    """L[b, i] = ln sum_{m != i} exp(Z[b, m]): the log of one minus a softmax unit.

    ln(1 - a_i) = L[b, i] - ln sum_m exp(Z[b, m]) for a softmax output, finite even
    where a_i rounds to 1. Needs at least two units per row.
    """
    n_l = Z.shape[1]
    masked = np.repeat(Z[:, None, :], n_l, axis=1)
    masked[:, np.arange(n_l), np.arange(n_l)] = -np.inf
    return _logsumexp(masked, axis=2)


def log_outputs(Z, output):
    """(ln a, ln(1 - a)) for a sigmoid or softmax output, computed from z.

    Sigmoid: ln a = -softplus(-z), ln(1 - a) = -softplus(z). Softmax:
    ln a_j = z_j - lse(z), ln(1 - a_j) = lse_{m != j}(z) - lse(z).
    """
    if output == "sigmoid":
        return -_softplus(-Z), -_softplus(Z)
    lse = _logsumexp(Z)[:, None]
    return Z - lse, logsumexp_without_each(Z) - lse


def example_costs(Z, A, Y, output, cost):
    """C_b, the cost of each example (row), shape (n_batch,).

    Parameters
    ----------
    Z, A : ndarray, shape (n_batch, n_L)
        Weighted inputs and activations of the output layer.
    Y : ndarray, shape (n_batch, n_L)
        Targets.
    output, cost : str
        Output activation and cost names.

    Notes
    -----
    Terms with a zero coefficient are dropped (0 * ln 0 = 0, the limit), so a
    target of exactly 0 or 1 never multiplies an infinite log.
    """
    if cost == "quadratic":
        return 0.5 * np.sum((A - Y) ** 2, axis=1)
    log_a, log_1ma = log_outputs(Z, output)
    terms = -np.where(Y != 0, Y * log_a, 0)
    if cost == "cross_entropy":
        terms -= np.where(Y != 1, (1 - Y) * log_1ma, 0)
    return terms.sum(axis=1)


def target_classes(T):
    """Class of each row of outputs or targets: argmax, or > 0.5 for one column.

    Parameters
    ----------
    T : ndarray, shape (n_batch, n_L)
        Output activations, or targets read the same way (one-hot rows).

    Returns
    -------
    ndarray of int64, shape (n_batch,)
        The index of each row's largest entry (the first on a tie); for one
        column, 1 where it exceeds 0.5 (a sigmoid read as the probability of
        class 1), else 0.
    """
    if T.shape[1] == 1:
        return (T[:, 0] > 0.5).astype(np.int64)
    return T.argmax(axis=1).astype(np.int64)
