"""The parameter update of stochastic gradient descent, with L2 decay and momentum.

For each parameter p_i with gradient g_i (the mean mini-batch gradient of the
cost) and decay d (l2 / N on weights, 0 on biases):

    without momentum:  p_i <- p_i - lr * (g_i + d * p_i)
    with momentum mu:  v_i <- mu * v_i - lr * (g_i + d * p_i);  p_i <- p_i + v_i

This is the seeds' update (Nielsen's ``update_mini_batch``: w -> (1 - lr l2 / N) w
- (lr / m) sum_b dC_b/dw), with classical momentum added.

The training loop fuses each layer's weight gradient into its step
(``_weight_step``), so no dW array of the layer's size is written or read back.
Plain SGD steps each weight straight from the vector registers that hold its
sum; the other optimizers take the gradient of ``STEP_ROWS`` rows of W at a
time into a scratch block, still in cache, and step from it at once.
``_weight_step_plain`` is the same step as written: the whole dW by its triple
loop, then ``_sgd_step``.
"""

from typing import NamedTuple

import numpy as np
from numba import njit, prange

from loopnet import _validation as check
from loopnet._jit import FIRST_ROW, JIT, PARALLEL, use_threads
from loopnet.kernels._tiles import (
    _outer_product_sgd_rows,
    _packed_block_rows,
)
from loopnet.kernels._vectors import FUSED_BLOCK_ROWS
from loopnet.kernels.gradients import (
    _bias_gradient,
    _weight_gradient_plain,
    _weight_gradient_rows,
)
from loopnet.kernels.optimizers import _adam_step, _nesterov_step


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


SGD, NESTEROV, ADAM = 0, 1, 2
"""Optimizer codes of ``Step.kind``: SGD (classical momentum when mu > 0),
Nesterov momentum (``optimizers._nesterov_step``), Adam (``optimizers._adam_step``)."""


class Step(NamedTuple):
    """The constants of one training step, in the parameters' dtype.

    Attributes
    ----------
    kind : int
        ``SGD``, ``NESTEROV`` or ``ADAM``.
    lr : float
        Learning rate.
    decay : float
        L2 decay of the weights, l2 / N for N training examples.
    momentum : float
        mu in [0, 1) for SGD (0 is plain SGD) and Nesterov; unused by Adam.
    beta1, beta2, eps : float
        Adam's constants; unused by the others.
    """

    kind: int
    lr: float
    decay: float
    momentum: float
    beta1: float
    beta2: float
    eps: float

    @classmethod
    def of(
        cls, kind, dtype, lr, decay=0.0, momentum=0.0, beta1=0.9, beta2=0.999, eps=1e-8
    ):
        """A ``Step`` with every constant rounded once to ``dtype``."""
        to = np.dtype(dtype).type
        return cls(kind, to(lr), to(decay), to(momentum), to(beta1), to(beta2), to(eps))


class OptimizerState(NamedTuple):
    """What an optimizer carries from step to step, laid out like the parameters.

    Attributes
    ----------
    velocity : ndarray, shape (n_params,) or (0,)
        SGD's momentum buffer v (mu v - lr g) or Nesterov's buffer (a sum of
        gradients, PyTorch's); empty for Adam.
    m, v : ndarray, shape (n_params,) or (0,)
        Adam's first and second moments; empty for the others.
    t : ndarray of int64, shape (1,)
        Steps taken so far (Adam's t, counted from 1 at the first step).
    """

    velocity: np.ndarray
    m: np.ndarray
    v: np.ndarray
    t: np.ndarray

    @classmethod
    def zeros(cls, kind, n_params, dtype):
        """The state before the first step: zeros, and t = 0."""
        adam = kind == ADAM
        return cls(
            np.zeros(0 if adam else n_params, dtype=dtype),
            np.zeros(n_params if adam else 0, dtype=dtype),
            np.zeros(n_params if adam else 0, dtype=dtype),
            np.zeros(1, dtype=np.int64),
        )


@njit(**JIT)
def _block_state(state, start, stop):
    """The state of entries start..stop-1 of the flat parameters (views)."""
    return OptimizerState(
        state.velocity[start:stop], state.m[start:stop], state.v[start:stop], state.t
    )


@njit(**JIT)
def _apply_step(param, grad, state, step, scale, decay):
    """Step one block by its optimizer (``_sgd_step``, ``_nesterov_step``, Adam).

    ``param`` and ``grad`` are one block of the flat parameters and its gradient,
    ``state`` that block's state (``_block_state``), ``decay`` the block's L2
    decay (the step's for weights, 0 for biases).
    """
    if step.kind == ADAM:
        _adam_step(
            param,
            grad,
            state.m,
            state.v,
            step.lr,
            scale,
            decay,
            step.beta1,
            step.beta2,
            step.eps,
            state.t[0],
        )
    elif step.kind == NESTEROV:
        _nesterov_step(
            param, grad, state.velocity, step.lr, scale, decay, step.momentum
        )
    else:
        _sgd_step(param, grad, state.velocity, step.lr, scale, decay, step.momentum)


STEP_ROWS = 48
"""Rows of W whose gradient an optimizer with state takes into scratch at once:
whole fused blocks of either vector width (``_vectors.FUSED_BLOCK_ROWS``, 6 or
8), each row of A_prev's panel read by many of them."""


@njit(**JIT)
def _weight_step_rows(W, state, delta, A_prev, step, scale, scratch, start, stop):
    """Step rows j = start..stop-1 of W by dC/dW[j, k].

    ``W`` is the layer's flat (n_l * n_prev,) block and ``state`` its state;
    other arguments as ``_weight_step``. Plain SGD steps straight from the sums'
    registers (``_tiles._outer_product_sgd_rows``). The other optimizers take
    the gradient of as many rows as ``scratch`` holds (``STEP_ROWS`` in
    ``fit``'s workspace, at least one) and ``_apply_step`` applies it while it
    is in cache.
    """
    n_prev = A_prev.shape[1]
    if step.kind == SGD and step.momentum == 0:
        W_rows = W.reshape((W.shape[0] // n_prev, n_prev))
        _outer_product_sgd_rows(
            delta, A_prev, W_rows, step.lr, scale, step.decay, start, stop
        )
        return
    height = max(1, scratch.shape[0] // n_prev)
    for j in range(start, stop, height):
        j_stop = min(j + height, stop)
        n_entries = (j_stop - j) * n_prev
        rows = scratch[:n_entries].reshape((j_stop - j, n_prev))
        _weight_gradient_rows(delta, A_prev, rows, j, j_stop, None)
        first, last = j * n_prev, j_stop * n_prev
        _apply_step(
            W[first:last],
            scratch[:n_entries],
            _block_state(state, first, last),
            step,
            scale,
            step.decay,
        )


@njit(**PARALLEL)
def _weight_step_parallel(W, state, delta, A_prev, step, scale, scratch):
    """``_weight_step_rows`` over all rows, blocks of rows split over threads.

    Block ``block`` of rows is stepped by one thread, through ``scratch[block]``.
    """
    n_l = delta.shape[1]
    height = _packed_block_rows(n_l, FUSED_BLOCK_ROWS)
    for block in prange((n_l + height - 1) // height):
        start = block * height
        stop = min(start + height, n_l)
        _weight_step_rows(
            W, state, delta, A_prev, step, scale, scratch[block], start, stop
        )


@njit(**JIT)
def _weight_step(W, state, delta, A_prev, step, scale, scratch, parallel=None):
    """One step of layer l's weights by dC/dW[j, k] = sum_b delta[b, j] A_prev[b, k].

    SGD: W <- W - lr * (scale * dC/dW + decay * W), or with momentum mu
    v <- mu v - lr (scale dC/dW + decay W), W <- W + v; Nesterov and Adam as
    ``loopnet.kernels.optimizers``. dC/dW is summed exactly as
    ``_weight_gradient`` sums it, and never stored whole.

    Parameters
    ----------
    W : ndarray, shape (n_l * n_prev,)
        The layer's weights, row-major (``W[j, k]`` at ``j * n_prev + k``),
        updated in place.
    state : OptimizerState
        The layer's block of the optimizer's state, updated in place.
    delta : ndarray, shape (n_batch, n_l)
        Errors of layer l, one example per row.
    A_prev : ndarray, shape (n_batch, n_prev)
        Activations of layer l-1.
    step : Step
        The optimizer and its constants, in the weights' dtype.
    scale : float
        1 / n_batch: the mean over the mini-batch.
    scratch : ndarray, shape (PARALLEL_BLOCKS, STEP_ROWS * n_prev) or larger
        Work space; one row per thread's block of rows (fewer columns: fewer
        rows of W at a time).
    parallel : True or None
        True lets rows j go to separate threads above ``MIN_PARALLEL_WORK``
        multiply-adds; None (the default) runs one thread and compiles no
        parallel kernel (``_jit.parallel_flag``).

    Notes
    -----
    Equal bit for bit to ``_weight_step_plain`` for batches under
    ``MIN_TILED_BATCH`` (the same sums in increasing b, the same update
    expression); longer batches add each term by a fused multiply-add and agree
    to rounding.
    With ``parallel``, above ``MIN_PARALLEL_WORK`` multiply-adds, blocks of rows
    go to separate threads, each with its own scratch, with the same bits for any
    thread count.
    """
    n_batch, n_l = delta.shape
    if parallel is not None and use_threads(n_batch * n_l * A_prev.shape[1]):
        _weight_step_parallel(W, state, delta, A_prev, step, scale, scratch)
    else:
        _weight_step_rows(
            W, state, delta, A_prev, step, scale, scratch[0], FIRST_ROW, n_l
        )


@njit(**JIT)
def _weight_step_plain(W, state, delta, A_prev, step, scale, dW):
    """``_weight_step`` as written: dW by ``_weight_gradient_plain``, then the step.

    ``dW`` is scratch of shape (n_l, n_prev).
    """
    _weight_gradient_plain(delta, A_prev, dW)
    _apply_step(W, dW.reshape(-1), state, step, scale, step.decay)


@njit(**JIT)
def _bias_step(bias, state, delta, step, scale, scratch):
    """bias <- its step by dC/dbias[j] = sum_b delta[b, j], with no L2 decay.

    ``state`` is the bias block's state; ``scratch`` holds at least n_l entries.
    """
    dbias = scratch[: bias.shape[0]]
    _bias_gradient(delta, dbias)
    _apply_step(bias, dbias, state, step, scale, bias.dtype.type(0))


@njit(**JIT)
def _network_step(layout, params, grad, state, step, scale):
    """One step of every block of the flat ``params`` from a whole gradient.

    t += 1, then each weight block steps with the step's L2 decay and each bias
    block without (``_apply_step``): the step ``fit`` takes, for a gradient
    computed elsewhere (summed by several workers, say).

    Parameters
    ----------
    layout : Layout
        Sizes and parameter offsets of the network (-1: no bias).
    params, grad : ndarray, shape (n_params,)
        Flat parameters, updated in place, and their gradient.
    state : OptimizerState
        The optimizer's state, updated in place.
    step : Step
        The optimizer and its constants, in the params' dtype.
    scale : float
        As ``_sgd_step``, in the params' dtype: 1 / m for a gradient summed
        over m examples.
    """
    sizes = layout.sizes
    state.t[0] += 1
    for layer in range(sizes.shape[0] - 1):
        start = layout.w_offsets[layer]
        stop = start + sizes[layer + 1] * sizes[layer]
        _apply_step(
            params[start:stop],
            grad[start:stop],
            _block_state(state, start, stop),
            step,
            scale,
            step.decay,
        )
        start = layout.b_offsets[layer]
        if start >= 0:
            stop = start + sizes[layer + 1]
            _apply_step(
                params[start:stop],
                grad[start:stop],
                _block_state(state, start, stop),
                step,
                scale,
                params.dtype.type(0),
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
