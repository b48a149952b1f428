"""The parameter update of stochastic gradient descent, with L2 decay and momentum.

For each parameter p_i with gradient g_i (the mean mini-batch gradient of the
cost) and decay d (l2 / N on weights, 0 on biases):

    without momentum:  p_i <- p_i - lr * (g_i + d * p_i)
    with momentum mu:  v_i <- mu * v_i - lr * (g_i + d * p_i);  p_i <- p_i + v_i

This is the seeds' update (Nielsen's ``update_mini_batch``: w -> (1 - lr l2 / N) w
- (lr / m) sum_b dC_b/dw), with classical momentum added.
"""

from typing import NamedTuple

import numpy as np
from numba import njit

from loopnet import _validation as check
from loopnet._jit import JIT


@njit(**JIT)
def _sgd_step(param, grad, velocity, lr, scale, decay, momentum):
    """Update p_i <- p_i - lr * (scale * grad_i + decay * p_i), or its momentum form.

    Parameters
    ----------
    param : ndarray, shape (n,)
        Parameters (one block of the flat array: a weight matrix row-major, or a
        bias vector), updated in place.
    grad : ndarray, shape (n,)
        Gradient of the cost for ``param``, summed or averaged over the batch.
    velocity : ndarray, shape (n,)
        Momentum buffer v_i, updated in place when ``momentum > 0``; neither read
        nor written when ``momentum == 0`` (plain SGD keeps no velocity).
    lr : float
        Learning rate, in the parameters' dtype.
    scale : float
        Factor of ``grad``: 1 / m turns the sum over a mini-batch of m examples
        into the mean (the training loop); 1 for a gradient already averaged.
    decay : float
        L2 decay d: l2 / N for weights, N the number of training examples; 0 for
        biases, which are never regularized.
    momentum : float
        mu in [0, 1).

    Notes
    -----
    Elementwise, so any index order gives the same bits. With ``momentum == 0``
    the momentum form would give the same parameters (mu v = 0 and p + (-lr g)
    equals p - lr g exactly); the separate branch only saves the velocity traffic.
    Every constant is in the parameters' dtype, so float32 stays float32.
    Matrix form: ``reference.sgd_step``.
    """
    n = param.shape[0]
    if momentum == 0:
        for i in range(n):
            param[i] -= lr * (scale * grad[i] + decay * param[i])
    else:
        for i in range(n):
            velocity[i] = momentum * velocity[i] - lr * (
                scale * grad[i] + decay * param[i]
            )
            param[i] += velocity[i]


class SGDStep(NamedTuple):
    """The constants of one training step, in the parameters' dtype.

    Attributes
    ----------
    lr : float
        Learning rate.
    decay : float
        L2 decay of the weights, l2 / N for N training examples.
    momentum : float
        mu in [0, 1); 0 is plain SGD.
    """

    lr: float
    decay: float
    momentum: float


@njit(**JIT)
def _network_sgd_step(layout, params, grad, velocity, step, scale):
    """Step every block of the flat ``params``: weights with L2 decay, biases without.

    Parameters
    ----------
    layout : Layout
        Sizes and parameter offsets of the network (-1: no bias).
    params, grad, velocity : ndarray, shape (n_params,)
        Flat parameters, gradient and momentum buffer; ``params`` and
        ``velocity`` are updated in place.
    step : SGDStep
        lr, decay (applied to the weights) and momentum, in the params' dtype.
    scale : float
        As ``_sgd_step``, in the params' dtype.
    """
    sizes = layout.sizes
    no_decay = params.dtype.type(0)
    for layer in range(sizes.shape[0] - 1):
        start = layout.w_offsets[layer]
        stop = start + sizes[layer + 1] * sizes[layer]
        _sgd_step(
            params[start:stop],
            grad[start:stop],
            velocity[start:stop],
            step.lr,
            scale,
            step.decay,
            step.momentum,
        )
        start = layout.b_offsets[layer]
        if start >= 0:
            stop = start + sizes[layer + 1]
            _sgd_step(
                params[start:stop],
                grad[start:stop],
                velocity[start:stop],
                step.lr,
                scale,
                no_decay,
                step.momentum,
            )


def sgd_step(W, dW, lr, decay=0.0, momentum=0.0, velocity=None):
    """One SGD step: W - lr * (dW + decay * W), or with momentum v' = mu v - lr (...).

    Parameters
    ----------
    W : array_like
        Parameters of any shape (a weight matrix ``W[j, k]`` or a bias vector),
        float32 or float64. Not modified.
    dW : array_like, shape like ``W``
        Gradient of the (mean) cost with respect to ``W``, same dtype.
    lr : float
        Learning rate, finite and > 0.
    decay : float
        L2 decay, finite and >= 0: ``l2 / N`` for the weights of a network trained
        on N examples with ``l2/(2N) * sum W^2`` added to its mean cost; 0 for
        biases.
    momentum : float
        mu in [0, 1); 0 is plain SGD.
    velocity : array_like, shape like ``W``, optional
        Momentum buffer v from the previous step (zeros when ``None``).

    Returns
    -------
    W_new : ndarray, shape like ``W``
        ``W + v_new`` with ``v_new = mu * v - lr * (dW + decay * W)``; for
        ``momentum == 0``, ``W - lr * (dW + decay * W)``.
    velocity_new : ndarray, shape like ``W``
        ``v_new``; for ``momentum == 0`` a copy of ``velocity`` (plain SGD keeps
        no velocity).

    Examples
    --------
    >>> import numpy as np
    >>> from loopnet import kernels
    >>> W, dW = np.array([1.0, 2.0]), np.array([0.5, -0.5])
    >>> kernels.sgd_step(W, dW, lr=0.1, decay=0.1)[0]
    array([0.94, 2.03])
    >>> W_new, v = kernels.sgd_step(W, dW, lr=0.1, momentum=0.9, velocity=[1.0, 0.0])
    >>> W_new, v
    (array([1.85, 2.05]), array([0.85, 0.05]))
    """
    W = check.as_array(W, "W")
    W = check.kernel_array(W, "W", W.ndim)
    dW = check.kernel_array(dW, "dW", W.ndim, W.dtype, "W")
    check.check_length(
        dW.shape, W.shape, f"dW has shape {dW.shape}; W has shape {W.shape}"
    )
    lr = check.check_real(lr, "lr", 0.0, low_open=True, dtype=W.dtype)
    decay = check.check_real(decay, "decay", 0.0, dtype=W.dtype)
    momentum = check.check_real(momentum, "momentum", 0.0, 1.0)
    if velocity is None:
        velocity = np.zeros_like(W)
    else:
        velocity = check.kernel_array(velocity, "velocity", W.ndim, W.dtype, "W")
        velocity = velocity.copy()
        check.check_length(
            velocity.shape,
            W.shape,
            f"velocity has shape {velocity.shape}; W has shape {W.shape}",
        )
    W_new = W.copy()
    to = W.dtype.type
    _sgd_step(
        W_new.reshape(-1),
        dW.reshape(-1),
        velocity.reshape(-1),
        to(lr),
        to(1),
        to(decay),
        to(momentum),
    )
    arguments = "W, dW, lr, decay and velocity"
    check.check_finite_result(W_new, "W_new", arguments)
    return W_new, check.check_finite_result(velocity, "velocity_new", arguments)
