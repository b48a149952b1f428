"""The fused training loop: mini-batch SGD over an epoch, inside compiled code.

For each mini-batch B of the epoch's shuffled order (m = |B| examples, the last
one possibly smaller), with N training examples:

    forward:   z^l, a^l of every example b in B           (``_forward_pass``)
    backward:  delta^l and sum_{b in B} dC_b/dparams     (``_backward_pass``)
    update:    W <- W - lr * ((1/m) sum_b dC_b/dW + (l2/N) W), bias likewise
               without the L2 term, momentum when asked  (``_network_sgd_step``)

Python calls ``_train_batches`` once per chunk of mini-batches, so a progress
bar can advance and Ctrl-C can stop training between chunks. The caller
allocates every buffer once per ``fit``; only the layer kernels' few small
scratch arrays (offsets, a row of zeros) are made per mini-batch.
"""

from typing import NamedTuple

import numpy as np
from numba import njit

from loopnet._jit import JIT
from loopnet.costs import cost_example
from loopnet.kernels.backprop import (
    _backward_pass,
    _block,
    _forward_pass,
    _unit_offsets,
)
from loopnet.kernels.update import _network_sgd_step


class TrainingWorkspace(NamedTuple):
    """Every buffer of ``_train_batches``, allocated once per ``fit``.

    Attributes
    ----------
    X_batch, Y_batch : ndarray, shape (capacity, n_0), (capacity, n_L)
        The gathered mini-batch, C-contiguous; a smaller last mini-batch uses
        the first rows.
    Z, A, D : ndarray, shape (_unit_offsets(sizes, capacity)[-1],)
        z^l, a^l and delta^l of the mini-batch (``backprop.Workspace``).
    grad : ndarray, shape (n_params,)
        The summed mini-batch gradient.
    velocity : ndarray, shape (n_params,)
        The momentum buffer v, zeros at the start of a ``fit``; unused without
        momentum.
    """

    X_batch: np.ndarray
    Y_batch: np.ndarray
    Z: np.ndarray
    A: np.ndarray
    D: np.ndarray
    grad: np.ndarray
    velocity: np.ndarray

    @classmethod
    def allocate(cls, layout, capacity, dtype):
        """Buffers for mini-batches of up to ``capacity`` examples of ``layout``."""
        sizes = [int(n) for n in layout.sizes]
        n_units = capacity * sum(sizes[1:])
        n_params = layout.n_params
        return cls(
            np.empty((capacity, sizes[0]), dtype=dtype),
            np.empty((capacity, sizes[-1]), dtype=dtype),
            *(np.empty(n_units, dtype=dtype) for _ in range(3)),
            np.empty(n_params, dtype=dtype),
            np.zeros(n_params, dtype=dtype),
        )


@njit(**JIT)
def _train_batches(
    layout, params, X, Y, order, first, stop, batch_size, step, work, cost_sum
):
    """Run mini-batches ``first .. stop - 1`` of ``order``; return the running cost.

    Mini-batch i holds the examples ``order[i * batch_size : (i + 1) *
    batch_size]`` (fewer for the last). For each: gather its rows of ``X`` and
    ``Y`` into the workspace; forward; add its examples' costs C_b to the sum;
    backward; and step every parameter with ``_sgd_step``, scale 1/m, the step's
    decay on weights and 0 on biases.

    Parameters
    ----------
    layout : Layout
        Sizes, offsets, activation and cost codes of the network.
    params : ndarray, shape (n_params,)
        Flat parameters, updated in place.
    X, Y : ndarray, shape (N, n_0), (N, n_L)
        All training inputs and targets, C-contiguous, in the params' dtype.
    order : ndarray of int64, shape (N,)
        The epoch's permutation of the examples.
    first, stop : int
        Range of mini-batch indexes to run.
    batch_size : int
        Examples per mini-batch (the last may have fewer); >= 1.
    step : SGDStep
        Learning rate, L2 decay l2 / N of the weights and momentum mu, in the
        params' dtype.
    work : TrainingWorkspace
        Buffers for mini-batches of ``min(batch_size, N)`` examples; its
        velocity carries over from call to call.
    cost_sum : float
        Running sum of C_b over the epoch's examples so far (float64).

    Returns
    -------
    float
        ``cost_sum`` plus the cost C_b of every example trained on, each taken in
        its mini-batch's forward pass, before that mini-batch's step (float64).

    Notes
    -----
    Strictly sequential: each step reads the parameters the previous one wrote.
    Gathering the rows makes each mini-batch one contiguous block, so the layer
    kernels see the same arrays as in ``Network.gradient``. Running mini-batches
    ``0 .. k - 1`` then ``k .. n - 1`` gives the same bits as ``0 .. n - 1`` in one
    call, the running cost included, so chunking never changes a result.
    """
    sizes = layout.sizes
    n_examples = X.shape[0]
    n_layers = sizes.shape[0] - 1
    n_out = sizes[n_layers]
    output = layout.activations[n_layers - 1]
    one = params.dtype.type(1)
    for i in range(first, stop):
        start = i * batch_size
        m = min(batch_size, n_examples - start)
        for r in range(m):
            work.X_batch[r] = X[order[start + r]]
            work.Y_batch[r] = Y[order[start + r]]
        X_b, Y_b = work.X_batch[:m], work.Y_batch[:m]
        offsets = _unit_offsets(sizes, m)
        n_units = offsets[-1]
        Z_b, A_b, D_b = work.Z[:n_units], work.A[:n_units], work.D[:n_units]
        _forward_pass(layout, params, X_b, Z_b, A_b)
        Z_out = _block(Z_b, offsets, n_layers - 1, m, n_out)
        A_out = _block(A_b, offsets, n_layers - 1, m, n_out)
        for b in range(m):
            cost_sum += cost_example(layout.cost, output, Z_out[b], A_out[b], Y_b[b])
        _backward_pass(layout, params, X_b, Y_b, Z_b, A_b, D_b, work.grad)
        scale = one / params.dtype.type(m)
        _network_sgd_step(layout, params, work.grad, work.velocity, step, scale)
    return cost_sum
