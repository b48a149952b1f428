"""Whole-network forward pass and gradient, over the flat parameter array.

The parameters of every layer live in one 1-D array ``params``, laid out as
``loopnet.layout.Layout`` describes: for layer l (``layer = l - 1`` in code) its
weights ``W`` (row-major, ``W[j, k]``) then, with biases, its ``bias``. Every
driver takes the layout as one argument and reads ``layout.sizes``,
``layout.w_offsets``, ``layout.b_offsets``, ``layout.activations`` and
``layout.cost``. Activations of the batch are kept in the flat buffers of a
``Workspace``, with one ``(n_batch, n_l)`` block per layer (``_unit_offsets``).

Three drivers compute the same gradient:

- ``_network_gradient``: layer by layer over the whole batch (the product);
- ``_network_gradient_plain``: the same layers by the plain siblings of its
  kernels, each equation as a triple loop (what ``loopnet trace`` shows, and
  what ``LOOPNET_KERNELS=plain`` runs: ``_forward_pass_plain``,
  ``_backward_pass_plain``);
- ``_network_gradient_by_example``: the seeds' algorithm, one example at a time
  (feedforward, output error, backpropagate, Delta += delta a^T), written to be
  read.

``_error_pass`` (and its plain sibling) is the backward pass's deltas alone.

The plain and per-example drivers sum in index order; the batched driver sums
long dot products in register tiles (``_tiles``), so they agree to rounding, not
bit for bit.
"""

import itertools
from typing import NamedTuple

import numpy as np
from numba import njit

from loopnet._jit import JIT, parallel_flag
from loopnet.kernels.errors import (
    _hidden_error_example,
    _hidden_error_from_outputs,
    _hidden_error_plain,
    _output_error,
    _output_error_example,
    _output_error_from_outputs,
)
from loopnet.kernels.forward import (
    _forward_layer,
    _forward_layer_example,
    _forward_layer_plain,
)
from loopnet.kernels.gradients import (
    _accumulate_gradient_example,
    _bias_gradient,
    _regularize_rows,
    _scale,
    _weight_gradient,
    _weight_gradient_plain,
)


class Workspace(NamedTuple):
    """Flat buffers of one batch's z^l, a^l and delta^l, every layer's block in turn.

    Attributes
    ----------
    Z, A, D : ndarray, shape (_unit_offsets(sizes, capacity)[-1],)
        Layer l's block, at ``_unit_offsets(sizes, n_batch)[layer]``, holds the
        ``(n_batch, n_l)`` values of z^l, a^l or delta^l; a batch smaller than the
        capacity uses a prefix of each buffer.
    """

    Z: np.ndarray
    A: np.ndarray
    D: np.ndarray

    @classmethod
    def allocate(cls, layout, capacity, dtype):
        """Buffers for batches of up to ``capacity`` examples of ``layout``."""
        n_units = capacity * sum(layout.sizes.tolist()[1:])
        Z, A, D = np.empty((3, n_units), dtype=dtype)  # one allocation
        return cls(Z, A, D)


def parallel_for(layout, n_batch):
    """The drivers' ``parallel`` argument for a batch of ``n_batch`` examples.

    ``_jit.parallel_flag`` of the largest layer's work, n_batch * n_l * n_prev
    multiply-adds: True where some layer may split over threads, else None
    (the drivers then compile and run their serial kernels only).
    """
    sizes = layout.sizes.tolist()
    largest = max(n_l * n_prev for n_prev, n_l in itertools.pairwise(sizes))
    return parallel_flag(n_batch * largest)


@njit(**JIT)
def _unit_offsets(sizes, n_batch):
    """Start of layer l's ``(n_batch, n_l)`` block in a flat activation buffer.

    Entry ``layer`` is the start of layer l = layer + 1; the last entry is the
    buffer's total length. The input layer has no block: it is ``X`` itself.
    """
    n_layers = sizes.shape[0] - 1
    offsets = np.empty(n_layers + 1, dtype=np.int64)
    offsets[0] = 0
    for layer in range(n_layers):
        offsets[layer + 1] = offsets[layer] + n_batch * sizes[layer + 1]
    return offsets


@njit(**JIT)
def _weights(layout, flat, layer):
    """View of layer l's ``W[j, k]``, shape (n_l, n_prev), into a flat array."""
    n_l, n_prev = layout.sizes[layer + 1], layout.sizes[layer]
    start = layout.w_offsets[layer]
    return flat[start : start + n_l * n_prev].reshape((n_l, n_prev))


@njit(**JIT)
def _bias(layout, flat, layer, zeros):
    """View of layer l's bias, shape (n_l,), into a flat array; ``zeros`` if none."""
    n_l = layout.sizes[layer + 1]
    start = layout.b_offsets[layer]
    if start < 0:
        return zeros[:n_l]
    return flat[start : start + n_l]


@njit(**JIT)
def _block(buffer, offsets, layer, n_batch, n_l):
    """View of layer l's ``(n_batch, n_l)`` block of a flat activation buffer."""
    return buffer[offsets[layer] : offsets[layer + 1]].reshape((n_batch, n_l))


@njit(**JIT)
def _forward_pass(layout, params, X, Z, A, parallel=None):
    """Write z^l and a^l of every layer for the batch ``X`` into ``Z`` and ``A``.

    Parameters
    ----------
    layout : Layout
        Sizes, offsets and activation codes of the network.
    params : ndarray, shape (n_params,)
        Flat parameters.
    X : ndarray, shape (n_batch, n_0)
        Inputs, one example per row.
    Z, A : ndarray, shape (unit_offsets[-1],) or longer
        Flat outputs, overwritten: layer l's block is z^l (a^l) of every example.
    parallel : True or None
        Whether a layer may split its rows over threads (``_jit.parallel_flag``);
        None compiles and runs the serial kernels only.
    """
    sizes = layout.sizes
    n_batch = X.shape[0]
    offsets = _unit_offsets(sizes, n_batch)
    zeros = np.zeros(sizes.max(), dtype=params.dtype)
    A_prev = X
    for layer in range(sizes.shape[0] - 1):
        n_l = sizes[layer + 1]
        Z_l = _block(Z, offsets, layer, n_batch, n_l)
        A_l = _block(A, offsets, layer, n_batch, n_l)
        _forward_layer(
            _weights(layout, params, layer),
            _bias(layout, params, layer, zeros),
            A_prev,
            layout.activations[layer],
            Z_l,
            A_l,
            parallel,
        )
        A_prev = A_l


@njit(**JIT)
def _scale_and_regularize(layout, params, scale, l2, grad):
    """grad_W := scale * (grad_W + l2 * W); grad_bias := scale * grad_bias.

    ``scale`` is 1 for the summed cost and 1/n_batch for the mean; the L2 term
    l2/2 * sum W^2 (over weights only, never biases) is scaled with it.
    """
    for layer in range(layout.sizes.shape[0] - 1):
        _regularize_rows(
            _weights(layout, grad, layer), _weights(layout, params, layer), scale, l2
        )
        if layout.b_offsets[layer] >= 0:
            _scale(_bias(layout, grad, layer, grad), scale)


@njit(**JIT)
def _backward_pass(layout, params, X, Y, Z, A, D, grad, scale, l2, parallel=None):
    """Write every layer's delta^l into ``D`` and scale * (sum_b dC_b + l2 W) into grad.

    Parameters
    ----------
    layout, params, X
        As ``_forward_pass``.
    Y : ndarray, shape (n_batch, n_L)
        Targets.
    Z, A : ndarray
        The forward pass's flat buffers.
    D : ndarray, shape like ``Z``
        Output, overwritten with delta^l of every layer and example.
    grad : ndarray, shape (n_params,)
        Output, overwritten with dC/dparams summed over the batch, scaled and
        regularized as ``_scale_and_regularize`` would leave it (the same bits),
        each block of weights as its sums are stored.
    scale, l2 : float
        As ``_network_gradient``, in the params' dtype; 1 and 0 leave the sum
        (but for the sign of a zero: +0 where the sum is -0).
    parallel : True or None
        As ``_forward_pass``.

    Notes
    -----
    Output error delta^L, then for l = L, ..., 1: dW^l = delta^l^T a^{l-1},
    dbias^l = sum_b delta^l, and delta^{l-1} = (delta^l W^l) * sigma'(z^{l-1}),
    with sigma'(z) taken from a (``_output_error_from_outputs``,
    ``_hidden_error_from_outputs``).
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
        delta = _block(D, offsets, layer, n_batch, sizes[layer + 1])
        A_prev = (
            X if layer == 0 else _block(A, offsets, layer - 1, n_batch, sizes[layer])
        )
        # One compiled form: an optional scaling would compile a second tree
        # of blocks, since Numba prunes a branch only on an argument that is None.
        W = _weights(layout, params, layer)
        _weight_gradient(
            delta, A_prev, _weights(layout, grad, layer), (W, scale, l2), parallel
        )
        if layout.b_offsets[layer] >= 0:
            dbias = _bias(layout, grad, layer, grad)
            _bias_gradient(delta, dbias)
            _scale(dbias, scale)
        if layer > 0:
            _hidden_error_from_outputs(
                delta,
                _weights(layout, params, layer),
                _block(A, offsets, layer - 1, n_batch, sizes[layer]),
                activations[layer - 1],
                _block(D, offsets, layer - 1, n_batch, sizes[layer]),
                parallel,
            )


@njit(**JIT)
def _error_pass(layout, params, X, Y, Z, A, D, parallel=None):
    """Write every layer's delta^l into ``D``: ``_backward_pass`` without dC/dparams.

    The output error delta^L, then delta^{l-1} = (delta^l W^l) * sigma'(z^{l-1})
    for l = L, ..., 2, by the kernels ``_backward_pass`` calls, so ``D`` gets its
    bits. For work that sums the parameters' gradients elsewhere: the
    distributed sync step, whose workers find the errors of their rows and sum
    the gradient of each row of W^l over the whole mini-batch.

    Arguments as ``_backward_pass``, without ``grad``, ``scale`` and ``l2``.
    """
    sizes, activations = layout.sizes, layout.activations
    n_batch = X.shape[0]
    last = sizes.shape[0] - 2
    offsets = _unit_offsets(sizes, n_batch)
    _output_error_from_outputs(
        _block(Z, offsets, last, n_batch, sizes[last + 1]),
        _block(A, offsets, last, n_batch, sizes[last + 1]),
        Y,
        activations[last],
        layout.cost,
        _block(D, offsets, last, n_batch, sizes[last + 1]),
    )
    for layer in range(last, 0, -1):
        _hidden_error_from_outputs(
            _block(D, offsets, layer, n_batch, sizes[layer + 1]),
            _weights(layout, params, layer),
            _block(A, offsets, layer - 1, n_batch, sizes[layer]),
            activations[layer - 1],
            _block(D, offsets, layer - 1, n_batch, sizes[layer]),
            parallel,
        )


@njit(**JIT)
def _network_gradient(layout, params, X, Y, scale, l2, work, grad, parallel=None):
    """Write the gradient of the cost (scaled, with L2) into ``grad``, batch at a time.

    Parameters
    ----------
    layout, params, X, Y
        As ``_backward_pass``.
    scale : float
        1 for the summed cost, 1 / n_batch for the mean, in the params' dtype.
    l2 : float
        L2 strength, in the params' dtype.
    work : Workspace
        Buffers for at least ``X.shape[0]`` examples; on return they hold the
        batch's z^l, a^l and delta^l (``loopnet.compare`` reads them).
    grad : ndarray, shape (n_params,)
        Output, overwritten; same layout as ``params``.
    parallel : True or None
        As ``_forward_pass``.
    """
    _forward_pass(layout, params, X, work.Z, work.A, parallel)
    _backward_pass(
        layout, params, X, Y, work.Z, work.A, work.D, grad, scale, l2, parallel
    )


@njit(**JIT)
def _forward_pass_plain(layout, params, X, Z, A, parallel=None):
    """``_forward_pass`` by ``_forward_layer_plain``: z^l = W^l a^{l-1} + b^l as loops.

    Arguments as ``_forward_pass``; each sum over k adds its terms in index
    order, starting from the bias, on one thread (``parallel`` is taken for the
    fast path's signature).
    """
    sizes = layout.sizes
    n_batch = X.shape[0]
    offsets = _unit_offsets(sizes, n_batch)
    zeros = np.zeros(sizes.max(), dtype=params.dtype)
    A_prev = X
    for layer in range(sizes.shape[0] - 1):
        n_l = sizes[layer + 1]
        A_l = _block(A, offsets, layer, n_batch, n_l)
        _forward_layer_plain(
            _weights(layout, params, layer),
            _bias(layout, params, layer, zeros),
            A_prev,
            layout.activations[layer],
            _block(Z, offsets, layer, n_batch, n_l),
            A_l,
        )
        A_prev = A_l


@njit(**JIT)
def _backward_pass_plain(layout, params, X, Y, Z, A, D, grad, scale, l2, parallel=None):
    """``_backward_pass`` by the plain siblings; ``grad`` holds the summed gradient.

    delta^L by ``_output_error`` (sigma'(z) from z); then for l = L, ..., 1:
    dC/dW^l by ``_weight_gradient_plain``, dC/db^l by ``_bias_gradient``, and
    delta^{l-1} = (delta^l W^l) * sigma'(z^{l-1}) by ``_hidden_error_plain``.
    Then ``_scale_and_regularize``. Arguments as ``_backward_pass``; one thread,
    as ``_forward_pass_plain``.
    """
    sizes, activations = layout.sizes, layout.activations
    n_batch = X.shape[0]
    n_layers = sizes.shape[0] - 1
    offsets = _unit_offsets(sizes, n_batch)
    last = n_layers - 1
    n_out = sizes[n_layers]
    _output_error(
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
        _weight_gradient_plain(delta, A_prev, _weights(layout, grad, layer))
        if layout.b_offsets[layer] >= 0:
            _bias_gradient(delta, _bias(layout, grad, layer, grad))
        if layer > 0:
            _hidden_error_plain(
                delta,
                _weights(layout, params, layer),
                _block(Z, offsets, layer - 1, n_batch, n_prev),
                activations[layer - 1],
                _block(D, offsets, layer - 1, n_batch, n_prev),
            )
    _scale_and_regularize(layout, params, scale, l2, grad)


@njit(**JIT)
def _error_pass_plain(layout, params, X, Y, Z, A, D, parallel=None):
    """``_error_pass`` by the plain siblings: the deltas of ``_backward_pass_plain``.

    delta^L by ``_output_error`` (sigma'(z) from z), delta^{l-1} by
    ``_hidden_error_plain``; arguments as ``_error_pass``, on one thread.
    """
    sizes, activations = layout.sizes, layout.activations
    n_batch = X.shape[0]
    last = sizes.shape[0] - 2
    offsets = _unit_offsets(sizes, n_batch)
    _output_error(
        _block(Z, offsets, last, n_batch, sizes[last + 1]),
        _block(A, offsets, last, n_batch, sizes[last + 1]),
        Y,
        activations[last],
        layout.cost,
        _block(D, offsets, last, n_batch, sizes[last + 1]),
    )
    for layer in range(last, 0, -1):
        _hidden_error_plain(
            _block(D, offsets, layer, n_batch, sizes[layer + 1]),
            _weights(layout, params, layer),
            _block(Z, offsets, layer - 1, n_batch, sizes[layer]),
            activations[layer - 1],
            _block(D, offsets, layer - 1, n_batch, sizes[layer]),
        )


@njit(**JIT)
def _network_gradient_plain(layout, params, X, Y, scale, l2, work, grad, parallel=None):
    """``_network_gradient`` by the plain siblings: each equation as a triple loop.

    ``_forward_pass_plain``, then ``_backward_pass_plain``. Arguments and result
    as ``_network_gradient``; the workspace then holds the plain loops' z^l, a^l
    and delta^l. One thread, as ``_forward_pass_plain``.
    """
    _forward_pass_plain(layout, params, X, work.Z, work.A)
    _backward_pass_plain(layout, params, X, Y, work.Z, work.A, work.D, grad, scale, l2)


@njit(**JIT)
def _network_gradient_by_example(layout, params, X, Y, scale, l2, grad):
    """The seeds' per-example backpropagation, accumulating Delta += delta a^T.

    Same arguments and result as ``_network_gradient``, without a workspace. For
    each example x: feedforward z^l = W^l a^{l-1} + b^l, a^l = sigma(z^l); output
    error delta^L; backpropagate delta^l = ((W^{l+1})^T delta^{l+1}) * sigma'(z^l);
    accumulate dC/dW^l += delta^l (a^{l-1})^T and dC/db^l += delta^l. Written
    with 1-D vectors only, to be read beside the seeds' pseudo-code.
    """
    sizes, activations = layout.sizes, layout.activations
    n_layers = sizes.shape[0] - 1
    offsets = _unit_offsets(sizes, 1)  # one example's z^l, a^l, delta^l
    z = np.empty(offsets[-1], dtype=params.dtype)
    a = np.empty(offsets[-1], dtype=params.dtype)
    delta = np.empty(offsets[-1], dtype=params.dtype)
    scratch = np.empty(sizes[n_layers], dtype=params.dtype)
    zeros = np.zeros(sizes.max(), dtype=params.dtype)
    no_bias = np.empty(0, dtype=params.dtype)
    grad[:] = 0
    for b in range(X.shape[0]):
        for layer in range(n_layers):  # feedforward
            a_prev = X[b] if layer == 0 else a[offsets[layer - 1] : offsets[layer]]
            _forward_layer_example(
                _weights(layout, params, layer),
                _bias(layout, params, layer, zeros),
                a_prev,
                activations[layer],
                z[offsets[layer] : offsets[layer + 1]],
                a[offsets[layer] : offsets[layer + 1]],
            )
        last = n_layers - 1
        _output_error_example(
            z[offsets[last] :],
            a[offsets[last] :],
            Y[b],
            activations[last],
            layout.cost,
            scratch,
            delta[offsets[last] :],
        )
        for layer in range(last, -1, -1):  # backpropagate and accumulate
            delta_l = delta[offsets[layer] : offsets[layer + 1]]
            a_prev = X[b] if layer == 0 else a[offsets[layer - 1] : offsets[layer]]
            dbias = no_bias
            if layout.b_offsets[layer] >= 0:
                dbias = _bias(layout, grad, layer, zeros)
            _accumulate_gradient_example(
                delta_l, a_prev, _weights(layout, grad, layer), dbias
            )
            if layer > 0:
                _hidden_error_example(
                    delta_l,
                    _weights(layout, params, layer),
                    z[offsets[layer - 1] : offsets[layer]],
                    activations[layer - 1],
                    delta[offsets[layer - 1] : offsets[layer]],
                )
    _scale_and_regularize(layout, params, scale, l2, grad)
