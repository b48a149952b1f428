"""Backpropagation in vectorized NumPy: the matrix form, read beside the derivation.

The twin of every kernel in ``loopnet.kernels``, with the same names and arguments,
and the whole-network ``forward``, ``backward`` and ``gradient``. One example per
row: ``X`` is (n_batch, n_0), ``W`` of layer l is (n_l, n_prev). Per layer:

    Z^l     = A^{l-1} W^l.T + bias^l            A^l = sigma(Z^l)
    delta^L = grad_a C (x) sigma'(Z^L)          (a Jacobian product for softmax)
    delta^l = (delta^{l+1} W^{l+1}) * sigma'(Z^l)
    dW^l    = delta^l.T A^{l-1}                 dbias^l = delta^l summed over rows
"""

import numpy as np

from loopnet.activations import ARRAY_FORMS
from loopnet.costs import cost_gradient, logsumexp_without_each


def forward_layer(W, A_prev, bias=None, activation="sigmoid"):
    """Z = A_prev @ W.T + bias, A = sigma(Z)."""
    Z = A_prev @ W.T
    if bias is not None:
        Z = Z + bias
    return Z, ARRAY_FORMS[activation][0](Z)


def jacobian_transpose_product(Z, A, G, activation):
    """Row b of the result is J_b^T G[b], J_b the activation's Jacobian at Z[b].

    Elementwise activations: J is diagonal, the product is sigma'(Z) * G. Softmax:
    J[i, j] = a_i (1[i == j] - a_j), so J^T g = a * (g - sum_i a_i g_i).
    """
    if activation == "softmax":
        return A * (G - np.sum(A * G, axis=1, keepdims=True))
    return ARRAY_FORMS[activation][1](Z) * G


def output_error_general(Z, A, Y, output="sigmoid", cost="quadratic"):
    """delta^L = J_sigma(Z)^T grad_a C, the general form for every pairing."""
    return jacobian_transpose_product(Z, A, cost_gradient(cost, A, Y), output)


def output_error(Z, A, Y, output="sigmoid", cost="quadratic"):
    """delta^L by the closed form of the pairing if it has one, else the general form.

    sigmoid + cross_entropy: A - Y; softmax + log_likelihood: A * sum(Y) - Y;
    sigmoid + log_likelihood: -Y * (1 - A); softmax + cross_entropy:
    n A - Y - sum_{i != j} (1 - Y_i) exp(Z_j - lse_{m != i} Z).
    """
    pairing = (output, cost)
    if pairing == ("sigmoid", "cross_entropy"):
        return A - Y
    if pairing == ("softmax", "log_likelihood"):
        return A * Y.sum(axis=1, keepdims=True) - Y
    if pairing == ("sigmoid", "log_likelihood"):
        return -Y * (1 - A)
    if pairing == ("softmax", "cross_entropy"):
        n_l = Z.shape[1]
        if n_l == 1:
            return np.zeros_like(Z)
        L = logsumexp_without_each(Z)  # L[b, i] = ln sum_{m != i} exp(Z[b, m])
        exponent = Z[:, None, :] - L[:, :, None]  # [b, i, j] = Z[b, j] - L[b, i]
        exponent[:, np.arange(n_l), np.arange(n_l)] = -np.inf  # only i != j enters
        return n_l * A - Y - np.einsum("bi,bij->bj", 1 - Y, np.exp(exponent))
    return output_error_general(Z, A, Y, output, cost)


def hidden_error(delta_next, W_next, Z, activation="sigmoid"):
    """delta = (delta_next @ W_next) * sigma'(Z)."""
    return (delta_next @ W_next) * ARRAY_FORMS[activation][1](Z)


def weight_gradient(delta, A_prev):
    """Matrix form of ``kernels.weight_gradient``: dC/dW = delta.T @ A_prev."""
    return delta.T @ A_prev


def bias_gradient(delta):
    """Matrix form of ``kernels.bias_gradient``: dC/dbias = delta summed over rows."""
    return delta.sum(axis=0)


def forward_layer_example(W, a_prev, bias=None, activation="sigmoid"):
    """z = W @ a_prev + bias, a = sigma(z), for one example."""
    Z, A = forward_layer(W, a_prev[None, :], bias, activation)
    return Z[0], A[0]


def output_error_example(z, a, y, output="sigmoid", cost="quadratic"):
    """delta^L of one example."""
    return output_error(z[None, :], a[None, :], y[None, :], output, cost)[0]


def hidden_error_example(delta_next, W_next, z, activation="sigmoid"):
    """delta = (W_next.T @ delta_next) * sigma'(z), for one example."""
    return hidden_error(delta_next[None, :], W_next, z[None, :], activation)[0]


def weight_gradient_example(delta, a_prev):
    """One example's weight gradient, the outer product delta a_prev^T."""
    return np.outer(delta, a_prev)


def forward(weights, biases, X, activations):
    """Z^l and A^l of every layer, as two lists (layer 1 first).

    ``biases`` holds one vector or ``None`` per layer; ``activations`` one name per
    layer.
    """
    Zs, As = [], []
    A_prev = X
    for W, bias, activation in zip(weights, biases, activations, strict=True):
        Z, A_prev = forward_layer(W, A_prev, bias, activation)
        Zs.append(Z)
        As.append(A_prev)
    return Zs, As


def backward(weights, Zs, As, Y, activations, cost):
    """delta^l of every layer (layer 1 first), from the forward pass's Zs and As."""
    deltas = [output_error(Zs[-1], As[-1], Y, activations[-1], cost)]
    for layer in range(len(weights) - 1, 0, -1):
        deltas.append(
            hidden_error(
                deltas[-1], weights[layer], Zs[layer - 1], activations[layer - 1]
            )
        )
    return deltas[::-1]


def gradient(weights, biases, X, Y, activations, cost, reduction="mean", l2=0.0):
    """dC/dW^l and dC/dbias^l of every layer, as two lists (``None`` for no bias).

    With ``reduction="mean"`` the cost is (1/n) sum_b C_b + l2/(2n) sum W^2; with
    ``"sum"`` it is sum_b C_b + l2/2 sum W^2. Biases are never regularized.
    """
    Zs, As = forward(weights, biases, X, activations)
    deltas = backward(weights, Zs, As, Y, activations, cost)
    scale = 1 / X.shape[0] if reduction == "mean" else 1
    scale = np.asarray(scale, dtype=X.dtype)
    l2 = np.asarray(l2, dtype=X.dtype)
    A_prevs = [X, *As[:-1]]
    dWs = [
        scale * (weight_gradient(delta, A_prev) + l2 * W)
        for delta, A_prev, W in zip(deltas, A_prevs, weights, strict=True)
    ]
    dbiases = [
        None if bias is None else scale * bias_gradient(delta)
        for delta, bias in zip(deltas, biases, strict=True)
    ]
    return dWs, dbiases


def sgd_step(W, dW, lr, decay=0.0, momentum=0.0, velocity=None):
    """Matrix form of ``kernels.sgd_step``: v' = mu v - lr (dW + decay W), W' = W + v'.

    With ``momentum == 0``: W' = W - lr (dW + decay W), and the velocity is
    returned unchanged (zeros when ``None``).
    """
    to = W.dtype.type
    lr, decay, momentum = to(lr), to(decay), to(momentum)
    if velocity is None:
        velocity = np.zeros_like(W)
    velocity = np.array(velocity, dtype=W.dtype)
    step = dW + decay * W
    if momentum == 0:
        return W - lr * step, velocity
    velocity = momentum * velocity - lr * step
    return W + velocity, velocity


def nesterov_step(W, dW, lr, decay=0.0, momentum=0.9, velocity=None):
    """Matrix form of ``kernels.nesterov_step``: v' = mu v + g, W' = W - lr (g + mu v').

    g = dW + decay W; the velocity starts at zeros when ``None``.
    """
    to = W.dtype.type
    lr, decay, momentum = to(lr), to(decay), to(momentum)
    if velocity is None:
        velocity = np.zeros_like(W)
    g = dW + decay * W
    velocity = momentum * np.asarray(velocity, dtype=W.dtype) + g
    return W - lr * (g + momentum * velocity), velocity


def adam_step(
    W,
    dW,
    lr=0.001,
    decay=0.0,
    beta1=0.9,
    beta2=0.999,
    eps=1e-8,
    m=None,
    v=None,
    t=1,
):
    """Matrix form of ``kernels.adam_step``: Kingma and Ba 2015, Algorithm 1, step t.

    g = dW + decay W; m' = beta1 m + (1 - beta1) g; v' = beta2 v + (1 - beta2) g^2;
    W' = W - lr m_hat / (sqrt(v_hat) + eps), m_hat = m' / (1 - beta1^t), v_hat =
    v' / (1 - beta2^t). ``m`` and ``v`` start at zeros when ``None``.
    """
    to = W.dtype.type
    lr, decay, beta1, beta2, eps = (to(x) for x in (lr, decay, beta1, beta2, eps))
    m = np.zeros_like(W) if m is None else np.asarray(m, dtype=W.dtype)
    v = np.zeros_like(W) if v is None else np.asarray(v, dtype=W.dtype)
    g = dW + decay * W
    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * g**2
    m_hat = m / (1 - beta1**t)
    v_hat = v / (1 - beta2**t)
    return W - lr * m_hat / (np.sqrt(v_hat) + eps), m, v
