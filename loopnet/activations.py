"""Activations sigma and their derivatives sigma', in loop form and array form.

Each activation appears twice, side by side: a scalar function compiled with Numba
for the loop kernels (``sigmoid``, ``sigmoid_prime``) and a NumPy function over
whole arrays for the matrix twin (``ARRAY_FORMS["sigmoid"]``). Kernels refer to an
activation by an integer code (``SIGMOID`` ...); users by name (``"sigmoid"``).

All forms are numerically stable for pre-activations up to at least |z| = 1e4:
the sigmoid never evaluates ``exp`` of a positive number and the softmax subtracts
each row's maximum before exponentiating. The scalar forms take exp from
``loopnet._exp``, arithmetic LLVM vectorizes, instead of a call to the C library
per unit; the array forms take NumPy's.
"""

import numpy as np
from numba import njit

from loopnet._exp import exp
from loopnet._jit import JIT

SIGMOID, TANH, RELU, IDENTITY, SOFTMAX = 0, 1, 2, 3, 4

ACTIVATIONS = {
    "sigmoid": SIGMOID,
    "tanh": TANH,
    "relu": RELU,
    "identity": IDENTITY,
    "softmax": SOFTMAX,
}
"""Activation name -> integer code used by the compiled kernels."""

HIDDEN_ACTIVATIONS = ("sigmoid", "tanh", "relu", "identity")
"""Activations allowed in hidden layers; softmax couples a layer's units and is
allowed in the output layer only."""


# --- scalar forms, for the loop kernels ----------------------------------------
# ``type(z)(1)`` keeps float32 arithmetic in float32: a bare ``1.0`` is a float64
# literal in Numba and would silently upcast.


@njit(**JIT)
def sigmoid(z):
    """Logistic sigmoid sigma(z) = 1 / (1 + exp(-z)), evaluated without overflow.

    With e = exp(-|z|): 1 / (1 + e) for z >= 0, e / (1 + e) below, as
    ``sigmoid_array``; the choice is a select, not a branch, so a loop over
    units vectorizes.
    """
    one = type(z)(1)
    e = exp(-abs(z))
    return (one if z >= 0 else e) / (one + e)


@njit(**JIT)
def sigmoid_prime(z):
    """Derivative sigma'(z) = sigma(z) * (1 - sigma(z))."""
    s = sigmoid(z)
    return s * (type(z)(1) - s)


@njit(**JIT)
def tanh_prime(z):
    """Derivative of tanh: 1 - tanh(z)**2."""
    t = np.tanh(z)
    return type(z)(1) - t * t


@njit(**JIT)
def relu(z):
    """Rectified linear unit max(z, 0)."""
    return z if z > 0 else type(z)(0)


@njit(**JIT)
def relu_prime(z):
    """Derivative of relu: 1 for z > 0, else 0 (the kink at 0 takes 0)."""
    return type(z)(1) if z > 0 else type(z)(0)


@njit(**JIT)
def activate_example(activation, z, a):
    """Write a[j] = sigma(z[j]) for one example; softmax uses the whole row.

    Parameters
    ----------
    activation : int
        Activation code (``SIGMOID`` ...).
    z : ndarray, shape (n_l,)
        Weighted inputs of layer l for one example.
    a : ndarray, shape (n_l,)
        Output, overwritten with the activations.

    Notes
    -----
    The branch on ``activation`` sits outside the loop over j so that each loop
    body is a plain elementwise expression LLVM can vectorize.
    Softmax: a_j = exp(z_j - max_i z_i) / sum_i exp(z_i - max_i z_i).
    """
    n_l = z.shape[0]
    if activation == SIGMOID:
        for j in range(n_l):
            a[j] = sigmoid(z[j])
    elif activation == TANH:
        for j in range(n_l):
            a[j] = np.tanh(z[j])
    elif activation == RELU:
        for j in range(n_l):
            a[j] = relu(z[j])
    elif activation == IDENTITY:
        for j in range(n_l):
            a[j] = z[j]
    else:  # SOFTMAX
        z_max = z[0]
        for j in range(1, n_l):
            z_max = max(z_max, z[j])
        total = a.dtype.type(0)
        for j in range(n_l):
            a[j] = exp(z[j] - z_max)
            total += a[j]
        for j in range(n_l):
            a[j] /= total


@njit(**JIT)
def activate_rows(activation, Z, A):
    """Write A[b, j] = sigma(Z[b, j]) for every row b of C-contiguous Z and A.

    An elementwise activation runs over all the entries as one flat row (the
    same arithmetic per entry as ``activate_example`` row by row, without a
    view of each row); softmax goes row by row.
    """
    if activation == SOFTMAX:
        for b in range(Z.shape[0]):
            activate_example(activation, Z[b], A[b])
    else:
        activate_example(activation, Z.reshape(-1), A.reshape(-1))


@njit(**JIT)
def multiply_by_derivative_example(activation, z, delta):
    """Multiply delta[j] by sigma'(z[j]) in place, for an elementwise activation.

    Parameters
    ----------
    activation : int
        Code of an elementwise activation (not ``SOFTMAX``).
    z : ndarray, shape (n_l,)
        Weighted inputs of layer l for one example.
    delta : ndarray, shape (n_l,)
        Multiplied in place.
    """
    n_l = z.shape[0]
    if activation == SIGMOID:
        for j in range(n_l):
            delta[j] *= sigmoid_prime(z[j])
    elif activation == TANH:
        for j in range(n_l):
            delta[j] *= tanh_prime(z[j])
    elif activation == RELU:
        for j in range(n_l):
            delta[j] *= relu_prime(z[j])
    # IDENTITY: sigma'(z) = 1, nothing to do.


@njit(**JIT)
def multiply_by_derivative_of_output_example(activation, a, delta):
    """Multiply delta[j] by sigma'(z[j]) in place, given a[j] = sigma(z[j]).

    Parameters
    ----------
    activation : int
        Code of an elementwise activation (not ``SOFTMAX``).
    a : ndarray, shape (n_l,)
        Activations of layer l for one example, as the forward pass wrote them.
    delta : ndarray, shape (n_l,)
        Multiplied in place.

    Notes
    -----
    sigmoid: a (1 - a); tanh: 1 - a^2; relu: 1 where a > 0 (a > 0 exactly where
    z > 0), else 0; identity: 1. These are the expressions ``sigmoid_prime``,
    ``tanh_prime`` and ``relu_prime`` evaluate after recomputing a = sigma(z)
    with the same functions, so the products are bit for bit those of
    ``multiply_by_derivative_example``, without one ``exp`` or ``tanh`` per unit.
    """
    n_l = a.shape[0]
    one = a.dtype.type(1)
    if activation == SIGMOID:
        for j in range(n_l):
            delta[j] *= a[j] * (one - a[j])
    elif activation == TANH:
        for j in range(n_l):
            delta[j] *= one - a[j] * a[j]
    elif activation == RELU:
        for j in range(n_l):
            delta[j] *= one if a[j] > 0 else a.dtype.type(0)
    # IDENTITY: sigma'(z) = 1, nothing to do.


@njit(**JIT)
def jacobian_transpose_product_example(activation, z, a, g, delta):
    """Write delta_j = sum_i J[i, j] * g_i, with J[i, j] = d a_i / d z_j.

    Parameters
    ----------
    activation : int
        Activation code.
    z, a : ndarray, shape (n_l,)
        Weighted inputs and activations of one example.
    g : ndarray, shape (n_l,)
        The vector multiplied, for the output error grad_a C.
    delta : ndarray, shape (n_l,)
        Output, overwritten.

    Notes
    -----
    For an elementwise activation J is diagonal, J[j, j] = sigma'(z_j), and the
    product is delta_j = sigma'(z_j) * g_j. For softmax every a_i depends on every
    z_j, J[i, j] = a_i * (1[i == j] - a_j), and the product is the full double
    sum, computed here as written.
    """
    n_l = z.shape[0]
    if activation == SOFTMAX:
        for j in range(n_l):
            total = delta.dtype.type(0)
            for i in range(n_l):
                kronecker = type(a[i])(1) if i == j else type(a[i])(0)
                total += a[i] * (kronecker - a[j]) * g[i]
            delta[j] = total
    else:
        for j in range(n_l):
            delta[j] = g[j]
        multiply_by_derivative_example(activation, z, delta)


# --- array forms, for the NumPy matrix twin ------------------------------------


def sigmoid_array(Z):
    """Sigmoid of every element, stable for large |z|: exp only of -|z|."""
    e = np.exp(-np.abs(Z))
    return np.where(Z >= 0, 1 / (1 + e), e / (1 + e)).astype(Z.dtype, copy=False)


def sigmoid_prime_array(Z):
    """sigma'(Z) = sigma(Z) * (1 - sigma(Z)), elementwise."""
    s = sigmoid_array(Z)
    return s * (1 - s)


def tanh_prime_array(Z):
    """1 - tanh(Z)**2, elementwise."""
    return 1 - np.tanh(Z) ** 2


def relu_array(Z):
    """max(Z, 0), elementwise."""
    return np.maximum(Z, 0)


def relu_prime_array(Z):
    """1 where Z > 0, else 0."""
    return (Z > 0).astype(Z.dtype)


def identity_array(Z):
    """Z itself."""
    return Z.copy()


def identity_prime_array(Z):
    """Ones shaped like Z."""
    return np.ones_like(Z)


def softmax_array(Z):
    """Softmax of each row: exp(Z - max) / sum(exp(Z - max))."""
    E = np.exp(Z - Z.max(axis=1, keepdims=True))
    return E / E.sum(axis=1, keepdims=True)


ARRAY_FORMS = {
    "sigmoid": (sigmoid_array, sigmoid_prime_array),
    "tanh": (np.tanh, tanh_prime_array),
    "relu": (relu_array, relu_prime_array),
    "identity": (identity_array, identity_prime_array),
    "softmax": (softmax_array, None),
}
"""Activation name -> (sigma, sigma') over arrays. Softmax has no elementwise
derivative: its Jacobian product is ``reference.jacobian_transpose_product``."""
