"""The fused training loop: mini-batch SGD over an epoch, inside compiled code.

For each mini-batch B of the epoch's shuffled order (m = |B| examples, the last
one possibly smaller), with N training examples:

    forward:   z^l, a^l of every example b in B           (``_forward_pass``)
    backward:  delta^l, then for each layer, last first,
    update:    W <- W - lr * ((1/m) sum_b dC_b/dW + (l2/N) W), bias likewise
               without the L2 term, momentum when asked  (``_backward_step``)

Each layer's weights step as soon as the error of the layer below has been
propagated through them (``update._weight_step``), so the gradient is never
stored whole: the pass over W that computes dC/dW also moves W.

Python calls ``_train_batches`` once per chunk of mini-batches, so a progress
bar can advance and Ctrl-C can stop training between chunks. The caller
allocates every buffer once per ``fit``; only the layer kernels' few small
scratch arrays (offsets, a row of zeros) are made per mini-batch.
"""

from typing import NamedTuple

import numpy as np
from numba import njit

from loopnet._jit import JIT
from loopnet.costs import add_costs
from loopnet.kernels._prefetch import _prefetch_row
from loopnet.kernels._tiles import PARALLEL_BLOCKS
from loopnet.kernels.backprop import (
    _backward_pass_plain,
    _block,
    _forward_pass,
    _forward_pass_plain,
    _unit_offsets,
    _weights,
)
from loopnet.kernels.errors import (
    _hidden_error_from_outputs,
    _output_error_from_outputs,
)
from loopnet.kernels.update import (
    STEP_ROWS,
    _bias_step,
    _block_state,
    _network_step,
    _weight_step,
)


class TrainingWorkspace(NamedTuple):
    """Every buffer of ``_train_batches``, allocated once per ``fit``.

    Attributes
    ----------
    X_batch, Y_batch : ndarray, shape (capacity, n_0), (capacity, n_L)
        The gathered mini-batch, C-contiguous; a smaller last mini-batch uses
        the first rows.
    Z, A, D : ndarray, shape (_unit_offsets(sizes, capacity)[-1],)
        z^l, a^l and delta^l of the mini-batch (``backprop.Workspace``).
    scratch : ndarray, shape (PARALLEL_BLOCKS, n_scratch)
        Blocks of ``STEP_ROWS`` rows of dC/dW on their way into W
        (``_weight_step``), one row per thread, and dC/dbias.
    """

    X_batch: np.ndarray
    Y_batch: np.ndarray
    Z: np.ndarray
    A: np.ndarray
    D: np.ndarray
    scratch: np.ndarray

    @classmethod
    def allocate(cls, layout, capacity, dtype):
        """Buffers for mini-batches of up to ``capacity`` examples of ``layout``."""
        sizes = [int(n) for n in layout.sizes]
        n_units = capacity * sum(sizes[1:])
        n_scratch = max(STEP_ROWS * max(sizes[:-1]), max(sizes[1:]))
        return cls(
            np.empty((capacity, sizes[0]), dtype=dtype),
            np.empty((capacity, sizes[-1]), dtype=dtype),
            *(np.empty(n_units, dtype=dtype) for _ in range(3)),
            np.empty((PARALLEL_BLOCKS, n_scratch), dtype=dtype),
        )


@njit(**JIT)
def _gather_rows(source, rows, ahead, target):
    """target[r, c] = source[rows[r], c]: a mini-batch's rows, gathered.

    Returns whether every entry gathered is finite (x - x == 0 fails for NaN and
    infinities only), found on the way: ``fit`` checks its inputs here rather
    than in a pass of its own over them. Row ``ahead[r]`` (the next
    mini-batch's, fewer or none for the last) is prefetched as row r is copied
    (``_prefetch``), so that its lines arrive during this mini-batch's
    arithmetic rather than at the next gather. An explicit loop, as
    ``_tiles._copy_rows`` and for its reason (Numba's ``target[r] = source[i]``
    goes through an overlap check and a temporary).
    """
    zero = source.dtype.type(0)
    finite = True
    for r in range(rows.shape[0]):
        if r < ahead.shape[0]:
            _prefetch_row(source, ahead[r])
        row = source[rows[r]]
        for c in range(source.shape[1]):
            value = row[c]
            target[r, c] = value
            finite &= value - value == zero
    return finite


@njit(**JIT)
def _backward_step(
    layout, params, state, X, Y, Z, A, D, step, scale, scratch, parallel=None
):
    """Backpropagate one mini-batch and step every layer's parameters, last first.

    delta^L = the output error; then for l = L, ..., 1: delta^{l-1} = (delta^l
    W^l) * sigma'(z^{l-1}) through W^l as it was, and only then W^l and bias^l
    step by their gradients (``_weight_step``, ``_bias_step``): the same
    parameters as computing every gradient first and stepping after, bit for
    bit.

    Parameters
    ----------
    layout, params, X, Y, Z, A, D
        As ``backprop._backward_pass`` (``D`` is overwritten with the deltas).
    state : OptimizerState
        The optimizer's state, updated in place.
    step : Step
        The optimizer and its constants, in the params' dtype.
    scale : float
        1 / m for a mini-batch of m examples.
    scratch : ndarray
        ``TrainingWorkspace.scratch``.
    parallel : True or None
        As ``backprop._forward_pass``.
    """
    sizes, activations = layout.sizes, layout.activations
    n_batch = X.shape[0]
    n_layers = sizes.shape[0] - 1
    offsets = _unit_offsets(sizes, n_batch)
    last = n_layers - 1
    n_out = sizes[n_layers]
    _output_error_from_outputs(
        _block(Z, offsets, last, n_batch, n_out),
        _block(A, offsets, last, n_batch, n_out),
        Y,
        activations[last],
        layout.cost,
        _block(D, offsets, last, n_batch, n_out),
    )
    for layer in range(last, -1, -1):
        n_l, n_prev = sizes[layer + 1], sizes[layer]
        delta = _block(D, offsets, layer, n_batch, n_l)
        A_prev = X if layer == 0 else _block(A, offsets, layer - 1, n_batch, n_prev)
        if layer > 0:  # through W^l before it steps
            _hidden_error_from_outputs(
                delta,
                _weights(layout, params, layer),
                A_prev,
                activations[layer - 1],
                _block(D, offsets, layer - 1, n_batch, n_prev),
                parallel,
            )
        start = layout.w_offsets[layer]
        stop = start + n_l * n_prev
        _weight_step(
            params[start:stop],
            _block_state(state, start, stop),
            delta,
            A_prev,
            step,
            scale,
            scratch,
            parallel,
        )
        start = layout.b_offsets[layer]
        if start >= 0:
            stop = start + n_l
            _bias_step(
                params[start:stop],
                _block_state(state, start, stop),
                delta,
                step,
                scale,
                scratch[0],
            )


@njit(**JIT)
def _train_batches(
    layout,
    params,
    X,
    Y,
    order,
    first,
    stop,
    batch_size,
    step,
    state,
    work,
    cost_sum,
    parallel=None,
):
    """Run mini-batches ``first .. stop - 1`` of ``order``; return the running cost.

    Mini-batch i holds the examples ``order[i * batch_size : (i + 1) *
    batch_size]`` (fewer for the last). For each: gather its rows of ``X`` and
    ``Y`` into the workspace; forward; add its examples' costs C_b to the sum;
    count the step (t += 1); backward and step (``_backward_step``: scale 1/m,
    the step's decay on weights and 0 on biases).

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
    step : Step
        The optimizer, its learning rate, the L2 decay l2 / N of the weights and
        its other constants, in the params' dtype.
    state : OptimizerState
        The optimizer's state (velocity, moments, steps taken), updated in
        place; it carries over from call to call.
    work : TrainingWorkspace
        Buffers for mini-batches of ``min(batch_size, N)`` examples.
    cost_sum : float
        Running sum of C_b over the epoch's examples so far (float64).
    parallel : True or None
        As ``backprop._forward_pass``.

    Returns
    -------
    float
        ``cost_sum`` plus the cost C_b of every example trained on, each taken in
        its mini-batch's forward pass, before that mini-batch's step (float64).
        NaN when a mini-batch's rows of ``X`` or ``Y`` hold a NaN or an
        infinity: the loop stops at that mini-batch, before its step.

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
        X_b, Y_b = work.X_batch[:m], work.Y_batch[:m]
        rows, ahead = order[start : start + m], order[start + m : start + 2 * m]
        finite = _gather_rows(X, rows, ahead, X_b)
        if not (_gather_rows(Y, rows, ahead, Y_b) and finite):
            return np.nan  # the caller finds the NaN or infinity in X or Y
        offsets = _unit_offsets(sizes, m)
        n_units = offsets[-1]
        Z_b, A_b, D_b = work.Z[:n_units], work.A[:n_units], work.D[:n_units]
        _forward_pass(layout, params, X_b, Z_b, A_b, parallel)
        Z_out = _block(Z_b, offsets, n_layers - 1, m, n_out)
        A_out = _block(A_b, offsets, n_layers - 1, m, n_out)
        cost_sum = add_costs(layout.cost, output, Z_out, A_out, Y_b, cost_sum)
        scale = one / params.dtype.type(m)
        state.t[0] += 1
        _backward_step(
            layout,
            params,
            state,
            X_b,
            Y_b,
            Z_b,
            A_b,
            D_b,
            step,
            scale,
            work.scratch,
            parallel,
        )
    return cost_sum


@njit(**JIT)
def _train_batches_plain(
    layout,
    params,
    X,
    Y,
    order,
    first,
    stop,
    batch_size,
    step,
    state,
    work,
    cost_sum,
    parallel=None,
):
    """``_train_batches`` as the seeds' algorithm: per mini-batch, gradient then step.

    For each mini-batch: gather its rows by indexing; z^l, a^l by
    ``_forward_pass_plain``; add its costs C_b; the summed gradient by
    ``_backward_pass_plain``; then every block steps at once (``_network_step``:
    t += 1, scale 1/m, the step's decay on weights and 0 on biases). No register
    tiles, vector intrinsics, prefetch or threads (``parallel`` is taken for the
    fast path's signature); the gradient is stored whole.
    Arguments and result as ``_train_batches``, whose steps it takes: the same
    bits wherever the fast epoch's sums add their terms in the same order
    (``tests/test_plain.py``).
    """
    sizes = layout.sizes
    n_layers = sizes.shape[0] - 1
    n_out = sizes[n_layers]
    output = layout.activations[n_layers - 1]
    one, zero = params.dtype.type(1), params.dtype.type(0)
    grad = np.empty_like(params)
    for i in range(first, stop):
        start = i * batch_size
        m = min(batch_size, X.shape[0] - start)
        X_b, Y_b = work.X_batch[:m], work.Y_batch[:m]
        for r in range(m):
            X_b[r] = X[order[start + r]]
            Y_b[r] = Y[order[start + r]]
        if not (np.isfinite(X_b).all() and np.isfinite(Y_b).all()):
            return np.nan  # the caller finds the NaN or infinity in X or Y
        offsets = _unit_offsets(sizes, m)
        n_units = offsets[-1]
        Z_b, A_b, D_b = work.Z[:n_units], work.A[:n_units], work.D[:n_units]
        _forward_pass_plain(layout, params, X_b, Z_b, A_b)
        Z_out = _block(Z_b, offsets, n_layers - 1, m, n_out)
        A_out = _block(A_b, offsets, n_layers - 1, m, n_out)
        cost_sum = add_costs(layout.cost, output, Z_out, A_out, Y_b, cost_sum)
        _backward_pass_plain(layout, params, X_b, Y_b, Z_b, A_b, D_b, grad, one, zero)
        _network_step(layout, params, grad, state, step, one / params.dtype.type(m))
    return cost_sum
