"""The SGD update on the GPU, fused with the gradient it needs: no dW array is written.

For a minibatch of n_batch examples out of N, with ``scale`` = 1/n_batch and
``decay`` = l2/N, each weight and bias takes the step of ``Network.fit``:

    g[j, k] = scale * sum_b delta[b, j] * a[b, k] + decay * W[j, k]
    momentum = 0:  W[j, k] <- W[j, k] - lr * g[j, k]
    momentum > 0:  v[j, k] <- momentum * v[j, k] - lr * g[j, k]
                   W[j, k] <- W[j, k] + v[j, k]

and the same for bias[j] with g[j] = scale * sum_b delta[b, j] (biases take no L2).
"""

import numpy as np

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
from loopnet.cuda.kernels.gradients import bias_gradient_at

cuda = numba_cuda()


@cuda.jit(device=True)
def sgd_update(p, v, g, lr, momentum):
    """One parameter's step from its gradient g: the new (p, v).

    ``(p - lr * g, v)`` without momentum; with it, ``(p + v', v')`` where
    v' = momentum * v - lr * g (classical momentum).
    """
    if momentum == 0:
        return p - lr * g, v
    v = momentum * v - lr * g
    return p + v, v


@cuda.jit
def _sgd_step(W, velocity, delta, A_prev, n_batch, scale, decay, lr, momentum):
    """Step W[j, k] with g = scale * sum_b delta[b, j] * A_prev[b, k] + decay * W[j, k].

    Parameters
    ----------
    W : device array, shape (n_l, n_prev)
        Weights of layer l, updated in place.
    velocity : device array, shape (n_l, n_prev)
        Their velocities, updated in place when ``momentum != 0``.
    delta : device array, shape (>= n_batch, n_l)
        Errors of layer l for the minibatch.
    A_prev : device array, shape (>= n_batch, n_prev)
        Activations of layer l-1 for the minibatch.
    n_batch : int
        Examples in the minibatch.
    scale, decay, lr, momentum : float
        1/n_batch, l2/N, the learning rate and the momentum, in W's dtype.

    Notes
    -----
    Launch ``tiled(kernel, n_l, n_prev)``. The
    gradient's sum is tiled over b as in ``_weight_gradient``; each thread then
    updates the weights whose sums it owns, so every W[j, k] has one writer.
    Layer l-1's error must be computed before this kernel changes W.
    """
    acc = cuda.local.array(ACC_SHAPE, dtype=W.dtype)
    n_l, n_prev = W.shape
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
                g = scale * acc[i, kk] + decay * W[j, k]
                W[j, k], velocity[j, k] = sgd_update(
                    W[j, k], velocity[j, k], g, lr, momentum
                )


@cuda.jit
def _sgd_step_bias(bias, velocity, delta, n_batch, scale, lr, momentum):
    """Step bias[j] with g = scale * sum_b delta[b, j] (no L2 on biases).

    Arguments as ``_sgd_step``; one thread per j, launch
    ``elementwise(kernel, n_l)``.
    """
    j = cuda.grid(1)
    if j < bias.shape[0]:
        g = scale * bias_gradient_at(delta, n_batch, j)
        bias[j], velocity[j] = sgd_update(bias[j], velocity[j], g, lr, momentum)


def launch_sgd_step(W, velocity, delta, A_prev, n_batch, scale, decay, lr, momentum):
    """Launch ``_sgd_step`` on device arrays (no checks)."""
    tiled(_sgd_step, W.shape[0], W.shape[1])(
        W, velocity, delta, A_prev, n_batch, scale, decay, lr, momentum
    )


def launch_sgd_step_bias(bias, velocity, delta, n_batch, scale, lr, momentum):
    """Launch ``_sgd_step_bias`` on device arrays (no checks)."""
    elementwise(_sgd_step_bias, bias.shape[0])(
        bias, velocity, delta, n_batch, scale, lr, momentum
    )


# --- public wrappers --------------------------------------------------------------


def _velocity(velocity, like, name):
    if velocity is None:
        return np.zeros_like(like)
    velocity = check.kernel_array(velocity, name, like.ndim, like.dtype)
    check.check_length(
        velocity.shape,
        like.shape,
        f"{name} has shape {velocity.shape}; expected {like.shape}",
    )
    return velocity


def _step_arguments(delta, n_l, lr, momentum):
    check.check_length(
        delta.shape[1],
        n_l,
        f"delta has {delta.shape[1]} columns; the layer has n_l={n_l}",
    )
    lr = check.check_real(lr, "lr", 0.0, low_open=True, dtype=delta.dtype)
    momentum = check.check_real(momentum, "momentum", 0.0, 1.0)
    real = delta.dtype.type
    return real(1) / real(delta.shape[0]), real(lr), real(momentum)


def sgd_step(W, delta, A_prev, lr, decay=0.0, momentum=0.0, velocity=None):
    """One SGD step of a layer's weights from a minibatch's errors, on the GPU.

    Parameters
    ----------
    W : array_like, shape (n_l, n_prev)
        Weights of layer l (float32 or float64); not modified.
    delta : array_like, shape (n_batch, n_l)
        Errors of layer l for the minibatch's examples, same dtype.
    A_prev : array_like, shape (n_batch, n_prev)
        Activations of layer l-1 for those examples, same dtype.
    lr : float
        Learning rate, finite and > 0.
    decay : float
        l2 / N, the L2 strength over the number of training examples, >= 0.
    momentum : float
        In [0, 1); 0 is plain SGD.
    velocity : array_like, shape (n_l, n_prev), optional
        Velocities before the step; zeros when ``None``.

    Returns
    -------
    W, velocity : ndarray, shape (n_l, n_prev)
        The stepped weights and velocities (the module docstring's update, with
        the mean gradient over the n_batch examples).

    Examples
    --------
    >>> import numpy as np
    >>> from loopnet.cuda import kernels
    >>> W, delta, A_prev = np.ones((1, 1)), np.array([[2.0]]), np.ones((1, 1))
    >>> W, v = kernels.sgd_step(W, delta, A_prev, lr=0.5)
    >>> W
    array([[0.]])
    """
    W = check.kernel_array(W, "W", 2)
    delta = check.kernel_array(delta, "delta", 2, W.dtype)
    A_prev = check.kernel_array(A_prev, "A_prev", 2, W.dtype)
    n_l, n_prev = W.shape
    check.check_length(
        A_prev.shape,
        (delta.shape[0], n_prev),
        f"A_prev has shape {A_prev.shape}; expected ({delta.shape[0]}, {n_prev})",
    )
    scale, lr, momentum = _step_arguments(delta, n_l, lr, momentum)
    decay = W.dtype.type(check.check_real(decay, "decay", 0.0))
    velocity = _velocity(velocity, W, "velocity")
    require_gpu()
    W_device, velocity_device = cuda.to_device(W), cuda.to_device(velocity)
    launch_sgd_step(
        W_device,
        velocity_device,
        cuda.to_device(delta),
        cuda.to_device(A_prev),
        delta.shape[0],
        scale,
        decay,
        lr,
        momentum,
    )
    return W_device.copy_to_host(), velocity_device.copy_to_host()


def sgd_step_bias(bias, delta, lr, momentum=0.0, velocity=None):
    """One SGD step of a layer's biases from a minibatch's errors, on the GPU.

    Parameters
    ----------
    bias : array_like, shape (n_l,)
        Biases of layer l (float32 or float64); not modified.
    delta : array_like, shape (n_batch, n_l)
        Errors of layer l for the minibatch's examples, same dtype.
    lr, momentum : float
        As ``sgd_step``.
    velocity : array_like, shape (n_l,), optional
        Velocities before the step; zeros when ``None``.

    Returns
    -------
    bias, velocity : ndarray, shape (n_l,)

    Examples
    --------
    >>> import numpy as np
    >>> from loopnet.cuda import kernels
    >>> bias, v = kernels.sgd_step_bias(np.ones(1), np.array([[1.0], [3.0]]), lr=0.5)
    >>> bias
    array([0.])
    """
    bias = check.kernel_array(bias, "bias", 1)
    delta = check.kernel_array(delta, "delta", 2, bias.dtype)
    scale, lr, momentum = _step_arguments(delta, bias.shape[0], lr, momentum)
    velocity = _velocity(velocity, bias, "velocity")
    require_gpu()
    bias_device, velocity_device = cuda.to_device(bias), cuda.to_device(velocity)
    launch_sgd_step_bias(
        bias_device,
        velocity_device,
        cuda.to_device(delta),
        delta.shape[0],
        scale,
        lr,
        momentum,
    )
    return bias_device.copy_to_host(), velocity_device.copy_to_host()
