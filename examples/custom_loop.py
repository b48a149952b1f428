"""A cost of your own, written in Numba, trained beside loopnet's compiled kernels.

The pseudo-Huber cost of one example, with residuals r_j = a_j - y_j and a scale
s, is

    C = sum_j s^2 (sqrt(1 + (r_j / s)^2) - 1),   dC/da_j = r_j / sqrt(1 + (r_j / s)^2):

quadratic for small residuals, linear for large ones, so a few wild targets pull
the fit far less than under the quadratic cost. ``pseudo_huber`` below computes
it and its gradient in ``@numba.njit``; ``train_epoch`` is a whole training
epoch in Numba, calling only ``loopnet.kernels.compiled``: the forward pass of
the network (``forward_pass``), the output error of the hand-written gradient
(``output_error_from_gradient``), then layer by layer, last first, the weight
and bias gradients and the error of the layer below, and one SGD step of the
flat parameters per mini-batch.

The data are made here: y = sin(x) on [-3, 3] with one target in ten replaced by
a wild value. The script prints the cost of each epoch, then the mean |a - y|
on clean test targets of this network and of the same network trained by
``Network.fit`` on the quadratic cost. After ``pip install -e .``:
``python examples/custom_loop.py [--epochs 30]``.
"""

import argparse

import numba
import numpy as np

import loopnet as ln
from loopnet.kernels import compiled

SIZES = (1, 20, 1)
SCALE = 0.1  # s: residuals much larger than this count linearly
BATCH_SIZE = 10
LR = 0.05


@numba.njit(cache=True)
def pseudo_huber(A, Y, scale, G):
    """Return sum_b C_b, the pseudo-Huber cost of the batch; write G = dC_b/dA.

    Parameters
    ----------
    A, Y : ndarray, shape (n_batch, n_L)
        Output activations and targets, one example per row.
    scale : float
        s, in the dtype of ``A``.
    G : ndarray, shape (n_batch, n_L)
        Output, overwritten: G[b, j] = (A[b, j] - Y[b, j]) / sqrt(1 + (r / s)^2).
    """
    one = A.dtype.type(1)
    total = 0.0
    for b in range(A.shape[0]):
        for j in range(A.shape[1]):
            residual = A[b, j] - Y[b, j]
            root = np.sqrt(one + (residual / scale) ** 2)
            total += scale * scale * (root - one)
            G[b, j] = residual / root
    return total


@numba.njit(cache=True)
def train_epoch(layout, params, X, Y, order, batch_size, lr, scale, buffers):
    """One epoch of mini-batch SGD on the pseudo-Huber cost; return its mean cost.

    ``buffers`` holds the flat Z, A, D (forward and backward values of every
    layer), G (the cost's gradient, at least batch_size rows) and grad (the
    gradient, laid out as ``params``). The cost of each mini-batch is taken
    before its step.
    """
    Z, A, D, G, grad = buffers
    sizes, last = layout.sizes, layout.sizes.shape[0] - 2
    no_velocity = params[:0]  # plain SGD keeps no velocity
    zero = params.dtype.type(0)
    total = 0.0
    for start in range(0, order.shape[0], batch_size):
        rows = order[start : start + batch_size]
        m = rows.shape[0]
        X_b, Y_b = X[rows], Y[rows]  # gathered: C-contiguous copies
        offsets = compiled.unit_offsets(sizes, m)
        compiled.forward_pass(layout, params, X_b, Z, A)
        n_out = sizes[last + 1]
        Z_out = Z[offsets[last] : offsets[last + 1]].reshape((m, n_out))
        A_out = A[offsets[last] : offsets[last + 1]].reshape((m, n_out))
        total += pseudo_huber(A_out, Y_b, scale, G[:m])
        output = layout.activations[last]
        delta = D[offsets[last] : offsets[last + 1]].reshape((m, n_out))
        compiled.output_error_from_gradient(Z_out, A_out, G[:m], output, delta)
        for layer in range(last, -1, -1):
            n_l, n_prev = sizes[layer + 1], sizes[layer]
            delta = D[offsets[layer] : offsets[layer + 1]].reshape((m, n_l))
            if layer == 0:
                A_prev = X_b
            else:
                A_prev = A[offsets[layer - 1] : offsets[layer]].reshape((m, n_prev))
            w = layout.w_offsets[layer]
            dW = grad[w : w + n_l * n_prev].reshape((n_l, n_prev))
            compiled.weight_gradient(delta, A_prev, dW)
            b = layout.b_offsets[layer]
            if b >= 0:
                compiled.bias_gradient(delta, grad[b : b + n_l])
            if layer > 0:  # the error of the layer below, through this W
                below = slice(offsets[layer - 1], offsets[layer])
                compiled.hidden_error(
                    delta,
                    params[w : w + n_l * n_prev].reshape((n_l, n_prev)),
                    Z[below].reshape((m, n_prev)),
                    layout.activations[layer - 1],
                    D[below].reshape((m, n_prev)),
                )
        mean = params.dtype.type(1 / m)
        compiled.sgd_step(params, grad, no_velocity, lr, mean, zero, zero)
    return total / order.shape[0]


def data(rng, n, wild):
    """n points of y = sin(x), x in [-3, 3]; a fraction ``wild`` of y replaced."""
    X = rng.uniform(-3, 3, (n, 1))
    Y = np.sin(X)
    outliers = rng.random(n) < wild
    Y[outliers, 0] = rng.uniform(-6, 6, outliers.sum())
    return X, Y


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    epochs = parser.parse_args().epochs
    rng = np.random.default_rng(0)
    X, Y = data(rng, 400, wild=0.1)
    X_test, Y_test = data(rng, 400, wild=0.0)

    net = ln.Network(SIZES, "tanh", "identity", seed=0)
    layout = net.layout
    n_units = compiled.unit_offsets(layout.sizes, BATCH_SIZE)[-1]
    buffers = (
        *np.empty((3, n_units)),
        np.empty((BATCH_SIZE, SIZES[-1])),
        np.empty_like(net.params),
    )
    for epoch in range(epochs):
        order = rng.permutation(X.shape[0])
        cost = train_epoch(
            layout, net.params, X, Y, order, BATCH_SIZE, LR, SCALE, buffers
        )
        print(f"epoch {epoch + 1:2d}  pseudo-Huber cost {cost:.6f}")

    quadratic = ln.Network(SIZES, "tanh", "identity", seed=0)
    quadratic.fit(
        X, Y, epochs=epochs, batch_size=BATCH_SIZE, lr=LR, seed=0, progress=False
    )
    for name, trained in (("pseudo-Huber", net), ("quadratic (fit)", quadratic)):
        error = np.abs(trained.forward(X_test) - Y_test).mean()
        print(f"{name:15}  mean |a - y| on clean test targets {error:.4f}")


if __name__ == "__main__":
    main()
