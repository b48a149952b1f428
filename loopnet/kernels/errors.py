"""The errors delta = dC/dz: at the output layer, and propagated back to hidden layers.

Output layer, general form: delta^L_j = sum_i J[i, j] * dC/da_i, with J the
Jacobian of the output activation (diagonal sigma'(z_j) unless softmax).
Closed forms, in which the divisions by a and 1 - a of the log costs cancel
analytically, stay finite when outputs saturate:

- sigmoid + cross_entropy: delta = a - y (the seeds' fast path);
- softmax + log_likelihood: delta = a * sum_i y_i - y, which is a - y for targets
  that sum to one (the other fast path);
- sigmoid + log_likelihood: delta = -y * (1 - a);
- softmax + cross_entropy: delta_j = n * a_j - y_j
  - sum_{i != j} (1 - y_i) * exp(z_j - lse_{m != i}(z)).

Hidden layer: delta^l_j = sigma'(z^l_j) * sum_m delta^{l+1}_m * W^{l+1}[m, j].
"""

import numpy as np
from numba import njit, prange

from loopnet import _validation as check
from loopnet._jit import FIRST_ROW, JIT, PARALLEL, parallel_flag, use_threads
from loopnet.activations import (
    SIGMOID,
    SOFTMAX,
    jacobian_transpose_product_example,
    multiply_by_derivative_example,
    multiply_by_derivative_of_output_example,
)
from loopnet.costs import CROSS_ENTROPY, LOG_LIKELIHOOD, cost_gradient_example
from loopnet.kernels._tiles import (
    MIN_DOT_LENGTH,
    MIN_TILED_BATCH,
    TILE,
    _block_rows,
    _dot_rows,
    _fused_product_rows,
    _packed_block_rows,
    _transposed,
)
from loopnet.kernels.arguments import hidden_arguments, output_arguments

# --- output error -----------------------------------------------------------------


@njit(**JIT)
def _output_error_general_example(z, a, y, output, cost, grad_a, delta):
    """Write delta_j = sum_i J[i, j] * dC/da_i for one example (the general form).

    Parameters
    ----------
    z, a, y : ndarray, shape (n_L,)
        Weighted inputs, activations and targets of the output layer.
    output, cost : int
        Output activation and cost codes.
    grad_a : ndarray, shape (n_L,)
        Scratch space, overwritten with grad_a C.
    delta : ndarray, shape (n_L,)
        Output, overwritten.
    """
    cost_gradient_example(cost, a, y, grad_a)
    jacobian_transpose_product_example(output, z, a, grad_a, delta)


@njit(**JIT)
def _softmax_cross_entropy_error_example(z, a, y, lse_without, delta):
    """Write the closed-form delta of softmax + binary cross_entropy for one example.

    delta_j = n * a_j - y_j - sum_{i != j} (1 - y_i) * exp(z_j - L_i), with
    L_i = ln sum_{m != i} exp(z_m) (``lse_without``, scratch of shape (n_L,)).

    Notes
    -----
    d ln(1 - a_i) / dz_j = 1[j != i] * exp(z_j - L_i) - a_j, and exp(z_j - L_i)
    <= 1 for j != i, so no term overflows even where 1 - a_i rounds to 0.
    A softmax over one unit is the constant 1, so its error is 0.
    """
    n_l = z.shape[0]
    if n_l == 1:  # a softmax over one unit is the constant 1: nothing depends on z
        delta[0] = 0
        return
    for i in range(n_l):
        z_max = z[1] if i == 0 else z[0]
        for m in range(n_l):
            if m != i and z[m] > z_max:
                z_max = z[m]
        total = z.dtype.type(0)
        for m in range(n_l):
            if m != i:
                total += np.exp(z[m] - z_max)
        lse_without[i] = z_max + np.log(total)
    one = a.dtype.type(1)
    for j in range(n_l):
        total = n_l * a[j] - y[j]
        for i in range(n_l):
            if i != j:
                total -= (one - y[i]) * np.exp(z[j] - lse_without[i])
        delta[j] = total


@njit(**JIT)
def _output_error_example(z, a, y, output, cost, scratch, delta, from_outputs=False):
    """Write the output error delta^L for one example, by the most exact form.

    Parameters
    ----------
    z, a, y : ndarray, shape (n_L,)
        Weighted inputs, activations and targets of the output layer.
    output, cost : int
        Output activation and cost codes.
    scratch : ndarray, shape (n_L,)
        Work space, overwritten.
    delta : ndarray, shape (n_L,)
        Output, overwritten.
    from_outputs : bool
        Whether ``a`` is sigma(z) as the forward pass wrote it: the general form
        of an elementwise output then takes sigma'(z) from a
        (``multiply_by_derivative_of_output_example``), the same bits without one
        ``exp`` per unit.

    Notes
    -----
    The closed forms of the module docstring where the pairing has one, the
    general Jacobian product otherwise (quadratic cost: grad_a C = a - y is always
    finite, so the general form is exact there).
    """
    n_l = z.shape[0]
    if output == SIGMOID and cost == CROSS_ENTROPY:
        for j in range(n_l):
            delta[j] = a[j] - y[j]
    elif output == SOFTMAX and cost == LOG_LIKELIHOOD:
        y_total = y.dtype.type(0)
        for i in range(n_l):
            y_total += y[i]
        for j in range(n_l):
            delta[j] = a[j] * y_total - y[j]
    elif output == SIGMOID and cost == LOG_LIKELIHOOD:
        one = a.dtype.type(1)
        for j in range(n_l):
            delta[j] = -y[j] * (one - a[j])
    elif output == SOFTMAX and cost == CROSS_ENTROPY:
        _softmax_cross_entropy_error_example(z, a, y, scratch, delta)
    elif from_outputs and output != SOFTMAX:  # delta_j = dC/da_j * sigma'(z_j)
        cost_gradient_example(cost, a, y, delta)
        multiply_by_derivative_of_output_example(output, a, delta)
    else:
        _output_error_general_example(z, a, y, output, cost, scratch, delta)


@njit(**JIT)
def _output_error(Z, A, Y, output, cost, delta):
    """Write delta[b, j], the output error of every example b (closed forms first).

    Parameters
    ----------
    Z, A, Y : ndarray, shape (n_batch, n_L)
        Weighted inputs, activations and targets of the output layer.
    output, cost : int
        Output activation and cost codes.
    delta : ndarray, shape (n_batch, n_L)
        Output, overwritten.
    """
    _output_error_rows(Z, A, Y, output, cost, False, delta)


@njit(**JIT)
def _output_error_from_outputs(Z, A, Y, output, cost, delta):
    """``_output_error`` given A = sigma(Z) as the forward pass wrote it.

    For the backward pass: the same bits, with sigma'(z) taken from a
    (``_output_error_example``'s ``from_outputs``) instead of one ``exp`` per unit.
    """
    _output_error_rows(Z, A, Y, output, cost, True, delta)


@njit(**JIT)
def _output_error_rows(Z, A, Y, output, cost, from_outputs, delta):
    """``_output_error_example`` on every row b (C-contiguous arrays).

    A softmax couples the units of a row, so its rows go one at a time. With an
    elementwise output every form is elementwise, and one call covers all the
    batch's entries as one flat row: the same arithmetic per entry, without a
    view of each row, whose reference counting cost 40 times the arithmetic of
    a [10, 10] batch.
    """
    if output == SOFTMAX:
        scratch = np.empty(Z.shape[1], dtype=Z.dtype)
        for b in range(Z.shape[0]):
            _output_error_example(
                Z[b], A[b], Y[b], output, cost, scratch, delta[b], from_outputs
            )
    else:
        scratch = np.empty(Z.size, dtype=Z.dtype)
        _output_error_example(
            Z.reshape(-1),
            A.reshape(-1),
            Y.reshape(-1),
            output,
            cost,
            scratch,
            delta.reshape(-1),
            from_outputs,
        )


@njit(**JIT)
def _output_error_general(Z, A, Y, output, cost, delta):
    """Write delta[b, j] = sum_i J_b[i, j] * dC_b/da[b, i] for every example b.

    The general form, for every pairing; see ``_output_error_general_example``.
    """
    grad_a = np.empty(Z.shape[1], dtype=Z.dtype)
    for b in range(Z.shape[0]):
        _output_error_general_example(Z[b], A[b], Y[b], output, cost, grad_a, delta[b])


# --- hidden error -----------------------------------------------------------------


@njit(**JIT)
def _hidden_error_example(delta_next, W_next, z, activation, delta):
    """Write delta_j = sigma'(z_j) * sum_m delta_next[m] * W_next[m, j].

    Parameters
    ----------
    delta_next : ndarray, shape (n_next,)
        Errors of layer l+1 for one example.
    W_next : ndarray, shape (n_next, n_l)
        Weights of layer l+1; ``W_next[m, j]`` connects neuron j of layer l to
        neuron m of layer l+1.
    z : ndarray, shape (n_l,)
        Weighted inputs of layer l.
    activation : int
        Code of layer l's (elementwise) activation.
    delta : ndarray, shape (n_l,)
        Output, overwritten.

    Notes
    -----
    The sum over m is accumulated with m in the outer loop and j inner, so the
    innermost loop walks row m of ``W_next`` and ``delta`` contiguously (no
    reduction in the inner loop: it vectorizes). Each delta_j still sums its
    terms in increasing m. Matrix form: ``(W_next.T @ delta_next) * sigma'(z)``.
    """
    n_next, n_l = W_next.shape
    for j in range(n_l):
        delta[j] = 0
    for m in range(n_next):
        d = delta_next[m]
        for j in range(n_l):
            delta[j] += d * W_next[m, j]
    multiply_by_derivative_example(activation, z, delta)


@njit(**JIT)
def _hidden_error_plain(delta_next, W_next, Z, activation, delta):
    """delta[b, j] = sigma'(Z[b, j]) sum_m delta_next[b, m] W_next[m, j], as written.

    Arguments as ``_hidden_error``. The triple loop, each sum in increasing m;
    ``_hidden_error`` computes the same sums by rows (bit for bit) or in register
    tiles (to rounding). Matrix form: ``(delta_next @ W_next) * sigma'(Z)``.
    """
    n_next, n_l = W_next.shape
    for b in range(delta_next.shape[0]):
        for j in range(n_l):
            total = delta.dtype.type(0)
            for m in range(n_next):
                total += delta_next[b, m] * W_next[m, j]
            delta[b, j] = total
        multiply_by_derivative_example(activation, Z[b], delta[b])


@njit(**JIT)
def _hidden_error_rows(
    delta_next, W_next, transposed, H, from_outputs, activation, delta, b_start, b_stop
):
    """Write delta[b, j] = sigma'(z[b, j]) * sum_m delta_next[b, m] * W_next[m, j].

    Rows ``b_start`` to ``b_stop - 1`` of ``delta`` (``b_start`` a multiple of
    ``_tiles.TILE``). ``H`` holds layer l's weighted inputs Z, or its activations
    A = sigma(Z) when ``from_outputs`` is true (the derivative is then taken
    from A, without an ``exp`` per unit, to the same bits). ``transposed`` is
    the copy ``_hidden_error_dispatch`` made: ``delta_next`` or ``W_next``
    transposed, or ``W_next`` itself. Other arguments as ``_hidden_error``.

    Notes
    -----
    Long sums (n_next >= ``MIN_DOT_LENGTH``) of a batch of ``MIN_TILED_BATCH``
    or more go through the fused outer-product blocks, from delta_next
    transposed (shape (n_next, n_batch)); those of a shorter batch are dot
    products of rows of ``delta_next`` and of W_next transposed (shape (n_l,
    n_next)), in register tiles. Shorter sums add the rows W_next[m] in
    increasing m, as the per-example kernel does (``transposed`` unused).
    """
    n_next, n_l = W_next.shape
    if n_next >= MIN_DOT_LENGTH and delta_next.shape[0] >= MIN_TILED_BATCH:
        _fused_product_rows(transposed, W_next, delta, b_start, b_stop)
    elif n_next >= MIN_DOT_LENGTH:
        _dot_rows(delta_next, transposed, delta, b_start, b_stop)
    else:
        for b in range(b_start, b_stop):
            for j in range(n_l):
                delta[b, j] = 0
            for m in range(n_next):
                d = delta_next[b, m]
                for j in range(n_l):
                    delta[b, j] += d * W_next[m, j]
    # sigma' of a hidden layer is elementwise: the block of rows as one flat row
    h, d = H[b_start:b_stop].reshape(-1), delta[b_start:b_stop].reshape(-1)
    if from_outputs:
        multiply_by_derivative_of_output_example(activation, h, d)
    else:
        multiply_by_derivative_example(activation, h, d)


@njit(**PARALLEL)
def _hidden_error_parallel(
    delta_next, W_next, transposed, H, from_outputs, activation, delta
):
    """``_hidden_error_rows`` over all rows, blocks of rows b split between threads.

    Each block of rows of ``delta`` is written by one thread only.
    """
    n_batch = delta.shape[0]
    if delta_next.shape[0] >= MIN_TILED_BATCH:  # outer products: fewer, taller blocks
        height = _packed_block_rows(n_batch, TILE)
    else:
        height = _block_rows(n_batch)
    for block in prange((n_batch + height - 1) // height):
        start = block * height
        stop = min(start + height, n_batch)
        _hidden_error_rows(
            delta_next,
            W_next,
            transposed,
            H,
            from_outputs,
            activation,
            delta,
            start,
            stop,
        )


@njit(**JIT)
def _hidden_error_dispatch(
    delta_next, W_next, H, from_outputs, activation, delta, parallel
):
    """Copy the operand the long sums read transposed, then run serially or in parallel.

    delta_next for a batch of ``MIN_TILED_BATCH`` or more, W_next for a shorter
    one (``_hidden_error_rows``); nothing for short sums.
    """
    n_batch, n_next = delta_next.shape
    if n_next < MIN_DOT_LENGTH:
        transposed = W_next
    elif n_batch >= MIN_TILED_BATCH:
        transposed = _transposed(delta_next, parallel)
    else:
        transposed = _transposed(W_next, parallel)
    if parallel is not None and use_threads(n_batch * n_next * W_next.shape[1]):
        _hidden_error_parallel(
            delta_next, W_next, transposed, H, from_outputs, activation, delta
        )
    else:
        _hidden_error_rows(
            delta_next,
            W_next,
            transposed,
            H,
            from_outputs,
            activation,
            delta,
            FIRST_ROW,
            n_batch,
        )


@njit(**JIT)
def _hidden_error(delta_next, W_next, Z, activation, delta, parallel=None):
    """Write delta[b, j] = sigma'(Z[b, j]) * sum_m delta_next[b, m] * W_next[m, j].

    Parameters
    ----------
    delta_next : ndarray, shape (n_batch, n_next)
        Errors of layer l+1, one example per row.
    W_next : ndarray, shape (n_next, n_l)
        Weights of layer l+1.
    Z : ndarray, shape (n_batch, n_l)
        Weighted inputs of layer l.
    activation : int
        Code of layer l's activation.
    delta : ndarray, shape (n_batch, n_l)
        Output, overwritten.
    parallel : True or None
        True lets rows b go to separate threads above ``MIN_PARALLEL_WORK``
        multiply-adds; None (the default) runs one thread and compiles no
        parallel kernel (``_jit.parallel_flag``).

    Notes
    -----
    For sums of n_next >= ``MIN_DOT_LENGTH`` terms, W_next is first copied
    transposed, so that each sum over m is a dot product of two contiguous rows,
    computed in the register tiles of ``_tiles`` (vectorized and
    reassociated: it differs from the per-example kernel's m-order sum by
    rounding only). Shorter sums add the rows of W_next in increasing m, with the
    innermost loop over j, contiguous, as the per-example kernel does. Rows b
    are independent: with ``parallel``, above ``MIN_PARALLEL_WORK`` multiply-adds,
    blocks of rows go to separate threads, with the same results for any thread
    count. Matrix form: ``(delta_next @ W_next) * sigma'(Z)``.
    """
    _hidden_error_dispatch(delta_next, W_next, Z, False, activation, delta, parallel)


@njit(**JIT)
def _hidden_error_from_outputs(delta_next, W_next, A, activation, delta, parallel=None):
    """``_hidden_error`` given A = sigma(Z) instead of Z: the same bits, no ``exp``.

    For the backward pass, which has both: sigma'(z) is a (1 - a) for the
    sigmoid, 1 - a^2 for tanh (``multiply_by_derivative_of_output_example``).
    """
    _hidden_error_dispatch(delta_next, W_next, A, True, activation, delta, parallel)


# --- public wrappers --------------------------------------------------------------


def output_error(Z, A, Y, output="sigmoid", cost="quadratic"):
    """Output error delta^L = dC/dz^L of every example, by the most exact form.

    Parameters
    ----------
    Z, A : array_like, shape (n_batch, n_L)
        Weighted inputs and activations of the output layer (float32 or float64).
    Y : array_like, shape (n_batch, n_L)
        Targets, same dtype.
    output : str
        Output activation name.
    cost : str
        ``"quadratic"``, ``"cross_entropy"`` or ``"log_likelihood"``.

    Returns
    -------
    delta : ndarray, shape (n_batch, n_L)
        ``delta[b, j]`` = dC_b / dz[b, j], the per-example error (not averaged).

    See Also
    --------
    output_error_general : the Jacobian-product form every pairing reduces to.

    Examples
    --------
    >>> import numpy as np
    >>> from loopnet import kernels
    >>> A = np.array([[0.8, 0.2]])
    >>> Z = np.log(A / (1 - A))
    >>> Y = np.array([[1.0, 0.0]])
    >>> kernels.output_error(Z, A, Y, "sigmoid", "cross_entropy").round(12)
    array([[-0.2,  0.2]])
    """
    Z, A, Y, output_code, cost_code = output_arguments(Z, A, Y, output, cost, 2)
    delta = np.empty_like(Z)
    _output_error(Z, A, Y, output_code, cost_code, delta)
    return check.check_finite_result(delta, "delta", "Z, A and Y")


def output_error_general(Z, A, Y, output="sigmoid", cost="quadratic"):
    """Output error by the general form delta^L = J_sigma(z)^T grad_a C (any pairing).

    Exact while outputs stay away from 0 and 1; with saturated outputs the log
    costs' gradient divides by zero, which ``output_error``'s closed forms avoid.
    Arguments and result as ``output_error``.

    Examples
    --------
    >>> import numpy as np
    >>> from loopnet import kernels
    >>> A = np.array([[0.8, 0.2]])
    >>> Z = np.log(A / (1 - A))
    >>> Y = np.array([[1.0, 0.0]])
    >>> kernels.output_error_general(Z, A, Y, "sigmoid", "cross_entropy").round(12)
    array([[-0.2,  0.2]])
    """
    Z, A, Y, output_code, cost_code = output_arguments(Z, A, Y, output, cost, 2)
    delta = np.empty_like(Z)
    _output_error_general(Z, A, Y, output_code, cost_code, delta)
    return check.check_finite_result(
        delta, "delta", "Z, A and Y", _general_form_reason(cost)
    )


def _general_form_reason(cost):
    """Why the general form's delta can fail to be finite, for ``cost``."""
    if cost == "quadratic":
        return None  # grad_a C = a - y: only an overflow of Z, A or Y
    return (
        f"A has outputs of exactly 0 or 1, where {cost}'s gradient grad_a C divides"
        " by zero (output_error's closed forms cancel the division), or Z, A and"
        " Y overflow"
    )


def output_error_example(z, a, y, output="sigmoid", cost="quadratic"):
    """Output error delta^L of one example (1-D arrays), as ``output_error``.

    Examples
    --------
    >>> import numpy as np
    >>> from loopnet import kernels
    >>> kernels.output_error_example(np.zeros(1), np.full(1, 0.5), np.ones(1))
    array([-0.125])
    """
    z, a, y, output_code, cost_code = output_arguments(z, a, y, output, cost, 1)
    delta = np.empty_like(z)
    _output_error_example(z, a, y, output_code, cost_code, np.empty_like(z), delta)
    return check.check_finite_result(delta, "delta", "z, a and y")


def hidden_error(delta_next, W_next, Z, activation="sigmoid"):
    """Hidden error delta[b, j] = sigma'(Z[b, j]) * sum_m delta_next[b, m] W_next[m, j].

    Parameters
    ----------
    delta_next : array_like, shape (n_batch, n_next)
        Errors of layer l+1, one example per row.
    W_next : array_like, shape (n_next, n_l)
        Weights of layer l+1.
    Z : array_like, shape (n_batch, n_l)
        Weighted inputs of layer l.
    activation : str
        Layer l's activation (``"sigmoid"``, ``"tanh"``, ``"relu"``, ``"identity"``).

    Returns
    -------
    delta : ndarray, shape (n_batch, n_l)

    Examples
    --------
    >>> import numpy as np
    >>> from loopnet import kernels
    >>> kernels.hidden_error(np.array([[2.0]]), np.ones((1, 3)), np.zeros((1, 3)))
    array([[0.5, 0.5, 0.5]])
    """
    delta_next, W_next, Z, code = hidden_arguments(
        delta_next, W_next, Z, activation, 2, ("delta_next", "Z")
    )
    delta = np.empty_like(Z)
    parallel = parallel_flag(delta_next.size * W_next.shape[1])
    _hidden_error(delta_next, W_next, Z, code, delta, parallel)
    return check.check_finite_result(delta, "delta", "delta_next, W_next and Z")


def hidden_error_example(delta_next, W_next, z, activation="sigmoid"):
    """delta_j = sigma'(z_j) * sum_m delta_next[m] * W_next[m, j], for one example.

    Examples
    --------
    >>> import numpy as np
    >>> from loopnet import kernels
    >>> kernels.hidden_error_example(np.array([2.0]), np.ones((1, 2)), np.zeros(2))
    array([0.5, 0.5])
    """
    delta_next, W_next, z, code = hidden_arguments(
        delta_next, W_next, z, activation, 1, ("delta_next", "z")
    )
    delta = np.empty_like(z)
    _hidden_error_example(delta_next, W_next, z, code, delta)
    return check.check_finite_result(delta, "delta", "delta_next, W_next and z")
