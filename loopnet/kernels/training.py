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

from numba import njit

from loopnet.costs import cost_example
from loopnet.kernels._jit import JIT
from loopnet.kernels.backprop import (
    _backward_pass,
    _block,
    _forward_pass,
    _unit_offsets,
)
from loopnet.kernels.update import _network_sgd_step


@njit(**JIT)
def _train_batches(
    params,
    sizes,
    w_offsets,
    b_offsets,
    activations,
    cost,
    X,
    Y,
    order,
    first,
    stop,
    batch_size,
    lr,
    decay,
    momentum,
    cost_sum,
    velocity,
    grad,
    X_batch,
    Y_batch,
    Z,
    A,
    D,
):
    """Run mini-batches ``first .. stop - 1`` of ``order``; return the running cost.

    Mini-batch i holds the examples ``order[i * batch_size : (i + 1) *
    batch_size]`` (fewer for the last). For each: gather its rows of ``X`` and
    ``Y`` into ``X_batch``, ``Y_batch``; forward; add its examples' costs C_b to
    the sum; backward; and step every parameter with ``_sgd_step``, scale 1/m,
    decay ``decay`` on weights and 0 on biases.

    Parameters
    ----------
    params : ndarray, shape (n_params,)
        Flat parameters (``kernels.backprop``), updated in place.
    sizes, w_offsets, b_offsets : ndarray of int64
        Layer sizes and parameter block offsets.
    activations : ndarray of int64, shape (L,)
        Activation code of each layer.
    cost : int
        Cost code.
    X, Y : ndarray, shape (N, n_0), (N, n_L)
        All training inputs and targets, C-contiguous, in the params' dtype.
    order : ndarray of int64, shape (N,)
        The epoch's permutation of the examples.
    first, stop : int
        Range of mini-batch indexes to run.
    batch_size : int
        Examples per mini-batch (the last may have fewer); >= 1.
    lr, decay, momentum : float
        Learning rate, L2 decay l2 / N of the weights, momentum mu, in the
        params' dtype.
    cost_sum : float
        Running sum of C_b over the epoch's examples so far (float64).
    velocity : ndarray, shape (n_params,)
        Momentum buffer, updated in place when ``momentum > 0``.
    grad : ndarray, shape (n_params,)
        Scratch for the summed mini-batch gradient.
    X_batch, Y_batch : ndarray, shape (min(batch_size, N), n_0), (.., n_L)
        Scratch for the gathered mini-batch, C-contiguous.
    Z, A, D : ndarray, shape (unit_offsets(sizes, min(batch_size, N))[-1],)
        Scratch for z^l, a^l and delta^l; a smaller last mini-batch uses a prefix.

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
    n_examples = X.shape[0]
    n_layers = sizes.shape[0] - 1
    n_out = sizes[n_layers]
    output = activations[n_layers - 1]
    one = params.dtype.type(1)
    for i in range(first, stop):
        start = i * batch_size
        m = min(batch_size, n_examples - start)
        for r in range(m):
            X_batch[r] = X[order[start + r]]
            Y_batch[r] = Y[order[start + r]]
        X_b, Y_b = X_batch[:m], Y_batch[:m]
        offsets = _unit_offsets(sizes, m)
        Z_b, A_b, D_b = Z[: offsets[-1]], A[: offsets[-1]], D[: offsets[-1]]
        _forward_pass(params, sizes, w_offsets, b_offsets, activations, X_b, Z_b, A_b)
        Z_out = _block(Z_b, offsets, n_layers - 1, m, n_out)
        A_out = _block(A_b, offsets, n_layers - 1, m, n_out)
        for b in range(m):
            cost_sum += cost_example(cost, output, Z_out[b], A_out[b], Y_b[b])
        _backward_pass(
            params,
            sizes,
            w_offsets,
            b_offsets,
            activations,
            cost,
            X_b,
            Y_b,
            Z_b,
            A_b,
            D_b,
            grad,
        )
        scale = one / params.dtype.type(m)
        _network_sgd_step(
            params,
            grad,
            velocity,
            sizes,
            w_offsets,
            b_offsets,
            lr,
            scale,
            decay,
            momentum,
        )
    return cost_sum
