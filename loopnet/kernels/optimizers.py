"""Optimizers beyond plain SGD: Nesterov momentum and Adam, one index at a time.

For each parameter p_i of a block of the flat parameters, with gradient grad_i
(summed or averaged over the mini-batch), scale s (1 / m turns a sum over m
examples into the mean) and L2 decay d (l2 / N on weights, 0 on biases), the
gradient that steps is

    g_i = s * grad_i + d * p_i

(L2 coupled into the gradient, as ``_sgd_step`` and PyTorch's ``weight_decay``
do; not AdamW's decoupled decay). Then:

    Nesterov, momentum mu:   v_i <- mu v_i + g_i
                             p_i <- p_i - lr (g_i + mu v_i)
    Adam, step t = 1, 2, ...:
                             m_i <- beta1 m_i + (1 - beta1) g_i
                             v_i <- beta2 v_i + (1 - beta2) g_i^2
                             m_hat_i = m_i / (1 - beta1^t)
                             v_hat_i = v_i / (1 - beta2^t)
                             p_i <- p_i - lr m_hat_i / (sqrt(v_hat_i) + eps)

Nesterov is PyTorch's ``SGD(nesterov=True)`` step (Sutskever et al. 2013,
rewritten in the parameters of the look-ahead point), so its ``velocity`` is
PyTorch's momentum buffer, a sum of gradients without the learning rate: not the
``velocity`` of ``_sgd_step``, which holds mu v - lr g. Adam is Kingma and Ba
2015, Algorithm 1, with the step t counted from 1.

The compiled bodies ``_nesterov_step`` and ``_adam_step`` take any 1-D block of
the flat parameters (a weight matrix row-major, or a bias vector), as
``_sgd_step`` does, so the training loop can call them block by block.
"""

import numpy as np
from numba import njit

from loopnet import _validation as check
from loopnet._jit import JIT


@njit(**JIT)
def _nesterov_step(param, grad, velocity, lr, scale, decay, momentum):
    """v_i <- mu v_i + g_i, p_i <- p_i - lr (g_i + mu v_i), g_i = s grad_i + d p_i.

    Parameters
    ----------
    param : ndarray, shape (n,)
        Parameters (one block of the flat array: a weight matrix row-major, or a
        bias vector), updated in place.
    grad : ndarray, shape (n,)
        Gradient of the cost for ``param``, summed or averaged over the batch.
    velocity : ndarray, shape (n,)
        Momentum buffer v_i (zeros before the first step), updated in place.
    lr : float
        Learning rate, in the parameters' dtype.
    scale : float
        Factor s of ``grad``: 1 / m for a sum over a mini-batch of m examples,
        1 for a gradient already averaged.
    decay : float
        L2 decay d: l2 / N for weights, N the number of training examples; 0 for
        biases.
    momentum : float
        mu in [0, 1).

    Notes
    -----
    Elementwise over the flat index i, so any order gives the same bits; serial,
    as ``_sgd_step``: the step reads and writes each entry once and is bound by
    memory, not arithmetic. Every constant is in the parameters' dtype, so
    float32 stays float32. PyTorch starts its buffer at g on the first step;
    mu * 0 + g is exactly g, so zeros here give the same first step.
    Matrix form: ``reference.nesterov_step``.
    """
    for i in range(param.shape[0]):
        g = scale * grad[i] + decay * param[i]
        velocity[i] = momentum * velocity[i] + g
        param[i] -= lr * (g + momentum * velocity[i])


@njit(**JIT)
def _adam_step(param, grad, m, v, lr, scale, decay, beta1, beta2, eps, t):
    """Adam's step t: p_i <- p_i - lr m_hat_i / (sqrt(v_hat_i) + eps).

    With g_i = s grad_i + d p_i: m_i <- beta1 m_i + (1 - beta1) g_i,
    v_i <- beta2 v_i + (1 - beta2) g_i^2, m_hat_i = m_i / (1 - beta1^t) and
    v_hat_i = v_i / (1 - beta2^t).

    Parameters
    ----------
    param : ndarray, shape (n,)
        Parameters (one block of the flat array), updated in place.
    grad : ndarray, shape (n,)
        Gradient of the cost for ``param``, summed or averaged over the batch.
    m, v : ndarray, shape (n,)
        First and second moment estimates (zeros before step 1), updated in
        place; ``v`` >= 0.
    lr : float
        Learning rate (Kingma and Ba's alpha), in the parameters' dtype.
    scale : float
        Factor s of ``grad``, as in ``_nesterov_step``.
    decay : float
        L2 decay d, coupled into the gradient: l2 / N for weights, 0 for biases.
    beta1, beta2 : float
        Decay rates of the moment estimates, in [0, 1).
    eps : float
        Added to sqrt(v_hat_i), > 0.
    t : int
        Number of this step, counted from 1: the bias corrections use beta^t.

    Notes
    -----
    Elementwise over the flat index i, serial (memory-bound, as
    ``_nesterov_step``). The bias corrections 1 - beta^t are computed once per
    call, in the parameters' dtype (a float32 to an integer power stays float32
    in Numba), and every constant is in that dtype, so float32 stays float32.
    Matrix form: ``reference.adam_step``; the same operations in the same order,
    so in float64 the two agree to the last bit or nearly.
    """
    one = param.dtype.type(1)
    correction1 = one - beta1**t
    correction2 = one - beta2**t
    rest1 = one - beta1
    rest2 = one - beta2
    for i in range(param.shape[0]):
        g = scale * grad[i] + decay * param[i]
        m[i] = beta1 * m[i] + rest1 * g
        v[i] = beta2 * v[i] + rest2 * (g * g)
        m_hat = m[i] / correction1
        v_hat = v[i] / correction2
        param[i] -= lr * m_hat / (np.sqrt(v_hat) + eps)


def _state(x, name, W):
    """A copy of an optimizer's state ``x`` checked against ``W``; zeros if None."""
    if x is None:
        return np.zeros_like(W)
    x = check.kernel_array(x, name, W.ndim, W.dtype, "W")
    check.check_length(
        x.shape, W.shape, f"{name} has shape {x.shape}; W has shape {W.shape}"
    )
    return x.copy()


def _check_beta(beta, name, dtype):
    """``beta`` as a float in [0, 1) that stays below 1 when rounded to ``dtype``.

    A beta that rounds to 1 (0.99999999 in float32) would make the bias
    correction 1 - beta^t zero.
    """
    beta = check.check_real(beta, name, 0.0, 1.0)
    if not np.dtype(dtype).type(beta) < 1:
        raise ValueError(
            f"{name}={beta!r} rounds to 1 in {np.dtype(dtype)}; it must stay below 1"
        )
    return beta


def _parameters_and_gradient(W, dW):
    """``W`` and ``dW`` as C-contiguous arrays of one float dtype and one shape."""
    W = check.as_array(W, "W")
    W = check.kernel_array(W, "W", W.ndim)
    dW = check.kernel_array(dW, "dW", W.ndim, W.dtype, "W")
    check.check_length(
        dW.shape, W.shape, f"dW has shape {dW.shape}; W has shape {W.shape}"
    )
    return W, dW


def nesterov_step(W, dW, lr, decay=0.0, momentum=0.9, velocity=None):
    """One Nesterov step: v' = mu v + g, W' = W - lr (g + mu v'), g = dW + decay W.

    The step of ``torch.optim.SGD(nesterov=True, momentum=mu, weight_decay=decay,
    lr=lr)``, with ``velocity`` its momentum buffer.

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
        L2 decay, finite and >= 0, added to the gradient as ``decay * W``:
        ``l2 / N`` for the weights of a network trained on N examples; 0 for
        biases.
    momentum : float
        mu in [0, 1); 0 is plain SGD.
    velocity : array_like, shape like ``W``, optional
        Momentum buffer v from the previous step (zeros when ``None``, the first
        step). Not modified.

    Returns
    -------
    W_new : ndarray, shape like ``W``
        ``W - lr * (g + mu * v_new)``, entry by entry (index convention of ``W``).
    velocity_new : ndarray, shape like ``W``
        ``v_new = mu * v + g``.

    Raises
    ------
    ValueError, TypeError
        For a bad argument, naming it; ValueError when a result would not be
        finite (magnitudes too large for the dtype).

    Examples
    --------
    >>> import numpy as np
    >>> from loopnet import kernels
    >>> W, dW = np.array([1.0, 2.0]), np.array([0.5, -0.5])
    >>> W_new, v = kernels.nesterov_step(W, dW, lr=0.1, momentum=0.9)
    >>> v, np.round(W_new, 12)  # v = g; W - 0.1 (g + 0.9 g)
    (array([ 0.5, -0.5]), array([0.905, 2.095]))
    >>> W_new, v = kernels.nesterov_step(W_new, dW, lr=0.1, velocity=v)
    >>> v, np.round(W_new, 12)  # v = 0.9 v + g = 1.9 g
    (array([ 0.95, -0.95]), array([0.7695, 2.2305]))
    """
    W, dW = _parameters_and_gradient(W, dW)
    lr = check.check_real(lr, "lr", 0.0, low_open=True, dtype=W.dtype)
    decay = check.check_real(decay, "decay", 0.0, dtype=W.dtype)
    momentum = check.check_real(momentum, "momentum", 0.0, 1.0)
    velocity = _state(velocity, "velocity", W)
    W_new = W.copy()
    to = W.dtype.type
    # An overflow is reported once, as the ValueError below; without the JIT the
    # loop runs on NumPy scalars, which would warn first.
    with np.errstate(over="ignore", invalid="ignore"):
        _nesterov_step(
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
    """Adam's step t: W' = W - lr m_hat / (sqrt(v_hat) + eps), Kingma and Ba 2015.

    With g = dW + decay W: m' = beta1 m + (1 - beta1) g, v' = beta2 v + (1 - beta2)
    g^2, m_hat = m' / (1 - beta1^t), v_hat = v' / (1 - beta2^t); the step of
    ``torch.optim.Adam(lr=lr, betas=(beta1, beta2), eps=eps, weight_decay=decay)``.

    Parameters
    ----------
    W : array_like
        Parameters of any shape (a weight matrix ``W[j, k]`` or a bias vector),
        float32 or float64. Not modified.
    dW : array_like, shape like ``W``
        Gradient of the (mean) cost with respect to ``W``, same dtype.
    lr : float
        Learning rate (alpha), finite and > 0.
    decay : float
        L2 decay, finite and >= 0, added to the gradient as ``decay * W`` (coupled
        L2, not AdamW's decoupled decay): ``l2 / N`` for weights; 0 for biases.
    beta1, beta2 : float
        Decay rates of the first and second moment estimates, in [0, 1).
    eps : float
        Added to sqrt(v_hat), finite and > 0 (and above 0 in ``W``'s dtype).
    m, v : array_like, shape like ``W``, optional
        Moment estimates from step t - 1 (zeros when ``None``, for t = 1);
        ``v`` >= 0. Not modified.
    t : int
        Number of this step, >= 1: 1 for the first step of a training run.

    Returns
    -------
    W_new : ndarray, shape like ``W``
        ``W - lr * m_hat / (sqrt(v_hat) + eps)``, entry by entry.
    m_new, v_new : ndarray, shape like ``W``
        ``m'`` and ``v'``, to pass to step t + 1.

    Raises
    ------
    ValueError, TypeError
        For a bad argument, naming it; ValueError when a result would not be
        finite (magnitudes too large for the dtype).

    Examples
    --------
    The first step moves each entry by about lr, against its gradient's sign
    (m_hat = g and v_hat = g^2 at t = 1):

    >>> import numpy as np
    >>> from loopnet import kernels
    >>> W, dW = np.array([1.0, 2.0]), np.array([0.5, -0.5])
    >>> W_new, m, v = kernels.adam_step(W, dW, lr=0.1)
    >>> np.round(W_new, 6), np.round(m, 12), np.round(v, 12)
    (array([0.9, 2.1]), array([ 0.05, -0.05]), array([0.00025, 0.00025]))
    >>> W_new, m, v = kernels.adam_step(W_new, dW, lr=0.1, m=m, v=v, t=2)
    >>> np.round(W_new, 6)
    array([0.8, 2.2])
    """
    W, dW = _parameters_and_gradient(W, dW)
    lr = check.check_real(lr, "lr", 0.0, low_open=True, dtype=W.dtype)
    decay = check.check_real(decay, "decay", 0.0, dtype=W.dtype)
    beta1 = _check_beta(beta1, "beta1", W.dtype)
    beta2 = _check_beta(beta2, "beta2", W.dtype)
    eps = check.check_real(eps, "eps", 0.0, low_open=True, dtype=W.dtype)
    t = check.check_count(t, "t", 1)
    m = _state(m, "m", W)
    v = _state(v, "v", W)
    if np.any(v < 0):
        raise ValueError(
            f"v must be >= 0 (a mean of squared gradients); it holds"
            f" {np.count_nonzero(v < 0)} negative value(s), smallest {float(v.min())}"
        )
    W_new = W.copy()
    to = W.dtype.type
    with np.errstate(over="ignore", invalid="ignore"):  # as in nesterov_step
        _adam_step(
            W_new.reshape(-1),
            dW.reshape(-1),
            m.reshape(-1),
            v.reshape(-1),
            to(lr),
            to(1),
            to(decay),
            to(beta1),
            to(beta2),
            to(eps),
            t,
        )
    arguments = "W, dW, lr, decay, m and v"
    check.check_finite_result(W_new, "W_new", arguments)
    check.check_finite_result(m, "m_new", arguments)
    return W_new, m, check.check_finite_result(v, "v_new", arguments)
