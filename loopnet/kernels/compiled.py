r"""The compiled kernels, to call from your own ``@numba.njit`` code.

``loopnet.kernels`` checks its arguments and allocates its results; the names
here are the compiled bodies behind it, which ``Network`` calls too: Numba
dispatchers that check nothing, allocate no output and write into arrays the
caller made, so a training loop written in Numba can call them in its inner
loop. Each is also callable from Python, as any dispatcher is. The integer
codes of the activations and costs, which the kernels take instead of names,
are here as well. Every kernel's matrix form is its namesake in
``loopnet.reference`` (``jacobian_transpose_product`` for
``output_error_from_gradient``, ``forward`` and ``gradient`` for the network
drivers).

Index convention: ``W[j, k]`` of layer l has shape (n_l, n_prev), row j the
neuron j of layer l, column k the neuron k of layer l-1; a batch has one example
per row, b the example: ``A_prev`` is (n_batch, n_prev), ``Z``, ``A`` and
``delta`` are (n_batch, n_l), ``W_next`` and ``delta_next`` belong to layer l+1
(n_next units).

The caller's duty
-----------------
Nothing is checked, so a call must satisfy all of this:

- Shapes exactly as listed below. The kernels take their sizes from some of
  their arguments (n_l and n_prev from ``W``, n_batch from ``A_prev``) and index
  the others with them: a shorter array is read or written out of bounds, which
  returns garbage or ends the process, never an error (``NUMBA_BOUNDSCHECK=1``
  turns it into an IndexError while you develop).
- One float dtype, float32 or float64, for every array of a call, and every
  float scalar in that dtype too (``W.dtype.type(0.1)``, ``np.float32(0.1)``): a
  Python float is a float64 in Numba, and float32 steps would then round
  differently from loopnet's. Mixed dtypes fail to compile in some kernels and
  compute in float64 in others.
- C-contiguous arrays: a row slice ``X[start:stop]`` of a C-contiguous array,
  ``flat[start:stop].reshape(...)`` and a fancy-indexed copy ``X[rows]`` are;
  a transpose or a column slice is not, and with one a kernel either fails to
  compile (a TypingError) or compiles another, slower specialization.
- Outputs allocated by the caller, and no output sharing memory with an input
  of the same call.
- Activation and cost codes from the constants below. A hidden layer's
  activation is elementwise (not ``SOFTMAX``); the log costs pair with the
  ``SIGMOID`` and ``SOFTMAX`` outputs only, with targets in [0, 1]
  (``loopnet.costs.VALID_OUTPUTS``).
- Finite inputs. Results are not checked: an overflow gives infinities or NaN.

The kernels
-----------
One entry per name of ``__all__``; "writes" lists the outputs, overwritten.

``forward_layer(W, bias, A_prev, activation, Z, A, parallel=None)``
    Z[b, j] = sum_k W[j, k] * A_prev[b, k] + bias[j], A[b, j] = sigma(Z[b, j]).
    W (n_l, n_prev), bias (n_l,) (zeros for a layer without biases), A_prev
    (n_batch, n_prev). Writes Z and A, (n_batch, n_l). Rows b may go to threads
    (``parallel``, below).
``output_error(Z, A, Y, output, cost, delta)``
    delta[b, j] = dC_b/dZ[b, j] of the output layer, by the pairing's closed
    form where it has one (sigmoid or softmax with a log cost), else as
    ``output_error_general``. Z, A = sigma(Z) and the targets Y, all
    (n_batch, n_L). Writes delta, (n_batch, n_L). Per example: not averaged.
``output_error_general(Z, A, Y, output, cost, delta)``
    delta[b, j] = sum_i J_b[i, j] * dC_b/dA[b, i], J_b[i, j] = dA[b, i]/dZ[b, j]:
    the general form, for every pairing; infinite where a log cost meets an
    output of exactly 0 or 1. Arguments and result as ``output_error``.
``output_error_from_gradient(Z, A, grad_a, output, delta)``
    delta[b, j] = sum_i J_b[i, j] * grad_a[b, i]: the output error of a cost
    you write yourself, given its gradient grad_a[b, i] = dC_b/dA[b, i].
    Z, A and grad_a (n_batch, n_L). Writes delta, (n_batch, n_L).
``hidden_error(delta_next, W_next, Z, activation, delta, parallel=None)``
    delta[b, j] = sigma'(Z[b, j]) * sum_m delta_next[b, m] * W_next[m, j].
    delta_next (n_batch, n_next), W_next (n_next, n_l), Z (n_batch, n_l).
    Writes delta, (n_batch, n_l). Rows b may go to threads (``parallel``).
``weight_gradient(delta, A_prev, dW, parallel=None)``
    dW[j, k] = sum_b delta[b, j] * A_prev[b, k], summed over the batch (not
    averaged). delta (n_batch, n_l), A_prev (n_batch, n_prev). Writes dW,
    (n_l, n_prev). Rows j may go to threads (``parallel``).
``bias_gradient(delta, dbias)``
    dbias[j] = sum_b delta[b, j]. delta (n_batch, n_l). Writes dbias, (n_l,).
``sgd_step(param, grad, velocity, lr, scale, decay, momentum)``
    param[i] -= lr * (scale * grad[i] + decay * param[i]); with momentum mu > 0,
    velocity[i] = mu * velocity[i] - lr * (scale * grad[i] + decay * param[i])
    and param[i] += velocity[i]. param and grad (n,): 1-D, a weight matrix as
    ``W.reshape(-1)`` or a block of flat parameters; velocity (n,), or any
    length when momentum is 0 (then neither read nor written). scale is 1 / m
    for a gradient summed over m examples, decay the L2 decay l2 / N (0 for
    biases). Updates param and velocity in place.
``nesterov_step(param, grad, velocity, lr, scale, decay, momentum)``
    g = scale * grad[i] + decay * param[i]; velocity[i] = mu * velocity[i] + g;
    param[i] -= lr * (g + mu * velocity[i]) (PyTorch's ``nesterov=True``).
    Arrays (n,), as ``sgd_step``; velocity starts at zeros. Updates param and
    velocity in place.
``adam_step(param, grad, m, v, lr, scale, decay, beta1, beta2, eps, t)``
    Adam's step t = 1, 2, ...: with g as ``nesterov_step``, m[i] = beta1 m[i] +
    (1 - beta1) g, v[i] = beta2 v[i] + (1 - beta2) g^2, param[i] -= lr m_hat /
    (sqrt(v_hat) + eps), m_hat = m[i] / (1 - beta1^t), v_hat = v[i] /
    (1 - beta2^t). Arrays (n,), m and v starting at zeros; t an integer >= 1.
    Updates param, m and v in place.
``add_costs(cost, output, Z, A, Y, total)``
    Returns total + sum_b C_b, the costs of the batch's examples added to a
    running float64 total. Z, A and Y (n_batch, n_L), as ``output_error``.
    Writes nothing.
``forward_pass(layout, params, X, Z, A, parallel=None)``
    Every layer's z^l and a^l of the batch X. layout a ``loopnet.layout.Layout``
    (``net.layout``), params (layout.n_params,) laid out as ``net.params``, X
    (n_batch, sizes[0]). Writes Z and A: flat, at least n_batch * sum(sizes[1:])
    entries each, layer l's (n_batch, n_l) block at ``unit_offsets(sizes,
    n_batch)[l - 1]``, so the outputs are the last block of A.
``network_gradient(layout, params, X, Y, scale, l2, Z, A, D, grad, parallel=None)``
    grad = scale * (sum_b dC_b/dparams + l2 W) (no L2 term on biases): the
    gradient ``Network.gradient`` computes, with scale 1 / n_batch for the mean
    cost, 1 for the sum. Y (n_batch, sizes[-1]); Z, A and D as
    ``forward_pass``'s buffers. Writes z^l, a^l and delta^l into Z, A and D, and
    the gradient into grad, (layout.n_params,).
``unit_offsets(sizes, n_batch)``
    Returns the int64 array of length L + 1 whose entry l - 1 is where layer l's
    block starts in ``forward_pass``'s buffers, and whose last entry is their
    length. Allocates that small array; writes nothing else.
``SIGMOID``, ``TANH``, ``RELU``, ``IDENTITY``, ``SOFTMAX``
    Activation codes (``loopnet.activations.ACTIVATIONS``); ``SOFTMAX`` for an
    output layer only.
``QUADRATIC``, ``CROSS_ENTROPY``, ``LOG_LIKELIHOOD``
    Cost codes (``loopnet.costs.COSTS``).

Notes
-----
``forward_layer``, ``hidden_error``, ``weight_gradient``, ``forward_pass`` and
``network_gradient`` take an optional last argument ``parallel``: None (the
default) runs one thread and compiles no parallel kernel into your function;
True lets rows go to separate threads above ``loopnet._jit.MIN_PARALLEL_WORK``
multiply-adds, on as many as ``numba.set_num_threads`` allows. The bits are the
same either way. Numba starts its thread pool when it loads a parallel kernel,
but a caller compiled with ``cache=True`` in a process that loaded the kernel
from the cache once forgot that it needs it (numba#8578: it crashed up to numba
0.62, below loopnet's floor); importing this module starts the pool
(``loopnet._jit.start_threads``, a few milliseconds) all the same. Under GNU
OpenMP (where the tbb package is missing or ``NUMBA_THREADING_LAYER=omp``) a
child forked after the import runs loopnet's kernels on one thread, with the
same bits.

A function of yours compiled with ``cache=True`` keeps, in its cache, the
machine code of the kernels it was compiled with: Numba watches only its own
file (numba#4908; loopnet's own kernels watch all of loopnet's compiled
modules, ``loopnet._cache_stamp``). Clear that cache (the ``.nbi`` and ``.nbc``
files of your module in ``__pycache__`` or ``NUMBA_CACHE_DIR``) after loopnet
changes.

The bodies are those ``Network`` runs, under names that stay: ``forward_layer``
is ``loopnet.kernels.forward._forward_layer``, and so on. ``weight_gradient``,
``output_error_from_gradient`` and ``network_gradient`` are small compiled
wrappers with a simpler signature than the body they call.

Examples
--------
>>> import numba
>>> import numpy as np
>>> from loopnet.kernels import compiled
>>> @numba.njit
... def first_layer(W, bias, X):
...     Z = np.empty((X.shape[0], W.shape[0]))
...     A = np.empty_like(Z)
...     compiled.forward_layer(W, bias, X, compiled.SIGMOID, Z, A)
...     return A
>>> first_layer(np.ones((3, 2)), np.zeros(3), np.array([[0.3, 1.0]])).round(4)
array([[0.7858, 0.7858, 0.7858]])
"""

from numba import njit

from loopnet._jit import JIT, start_threads
from loopnet.activations import (
    IDENTITY,
    RELU,
    SIGMOID,
    SOFTMAX,
    TANH,
    jacobian_transpose_product_example,
)
from loopnet.costs import CROSS_ENTROPY, LOG_LIKELIHOOD, QUADRATIC, add_costs
from loopnet.kernels.backprop import Workspace, _network_gradient
from loopnet.kernels.backprop import _forward_pass as forward_pass
from loopnet.kernels.backprop import _unit_offsets as unit_offsets
from loopnet.kernels.errors import _hidden_error as hidden_error
from loopnet.kernels.errors import _output_error as output_error
from loopnet.kernels.errors import _output_error_general as output_error_general
from loopnet.kernels.forward import _forward_layer as forward_layer
from loopnet.kernels.gradients import _bias_gradient as bias_gradient
from loopnet.kernels.gradients import _weight_gradient
from loopnet.kernels.optimizers import _adam_step as adam_step
from loopnet.kernels.optimizers import _nesterov_step as nesterov_step
from loopnet.kernels.update import _sgd_step as sgd_step

__all__ = [
    "CROSS_ENTROPY",
    "IDENTITY",
    "LOG_LIKELIHOOD",
    "QUADRATIC",
    "RELU",
    "SIGMOID",
    "SOFTMAX",
    "TANH",
    "adam_step",
    "add_costs",
    "bias_gradient",
    "forward_layer",
    "forward_pass",
    "hidden_error",
    "nesterov_step",
    "network_gradient",
    "output_error",
    "output_error_from_gradient",
    "output_error_general",
    "sgd_step",
    "unit_offsets",
    "weight_gradient",
]


@njit(**JIT)
def weight_gradient(delta, A_prev, dW, parallel=None):
    """Write dW[j, k] = sum_b delta[b, j] * A_prev[b, k], summed over the batch.

    Parameters
    ----------
    delta : ndarray, shape (n_batch, n_l)
        Errors of layer l, one example per row.
    A_prev : ndarray, shape (n_batch, n_prev)
        Activations of layer l-1.
    dW : ndarray, shape (n_l, n_prev)
        Output, overwritten.
    parallel : True or None
        True lets rows j go to threads (the module's Notes).

    Notes
    -----
    ``loopnet.kernels.gradients._weight_gradient`` without its ``regularize``,
    which the network drivers use to fold the mean and the L2 term into the
    store. Matrix form: ``reference.weight_gradient``.
    """
    _weight_gradient(delta, A_prev, dW, None, parallel)


@njit(**JIT)
def output_error_from_gradient(Z, A, grad_a, output, delta):
    """Write delta[b, j] = sum_i J_b[i, j] * grad_a[b, i], the output error of grad_a.

    J_b[i, j] = dA[b, i]/dZ[b, j] is the output activation's Jacobian at Z[b].

    Parameters
    ----------
    Z, A : ndarray, shape (n_batch, n_L)
        Weighted inputs of the output layer and its activations A = sigma(Z).
    grad_a : ndarray, shape (n_batch, n_L)
        dC_b/dA[b, i], the gradient of a cost with respect to the outputs.
    output : int
        Output activation code.
    delta : ndarray, shape (n_batch, n_L)
        Output, overwritten; not ``grad_a`` itself (a softmax row reads all of
        it after writing the first entry).

    Notes
    -----
    Row by row, the Jacobian product of ``output_error_general``: sigma'(z) *
    grad_a for an elementwise output, a * (g - sum_i a_i g_i) for softmax. With
    grad_a = A - Y it gives ``output_error_general``'s quadratic delta bit for
    bit. Matrix form: ``reference.jacobian_transpose_product``.
    """
    for b in range(Z.shape[0]):
        jacobian_transpose_product_example(output, Z[b], A[b], grad_a[b], delta[b])


@njit(**JIT)
def network_gradient(layout, params, X, Y, scale, l2, Z, A, D, grad, parallel=None):
    """Write grad = scale * (sum_b dC_b/dparams + l2 W), biases without the L2 term.

    Parameters
    ----------
    layout : Layout
        The network's layout (``net.layout``).
    params : ndarray, shape (n_params,)
        Flat parameters, laid out as ``net.params``.
    X : ndarray, shape (n_batch, sizes[0])
        Inputs, one example per row.
    Y : ndarray, shape (n_batch, sizes[-1])
        Targets.
    scale : float
        1 / n_batch for the mean cost, 1 for the sum, in the params' dtype.
    l2 : float
        L2 strength, in the params' dtype.
    Z, A, D : ndarray, shape (unit_offsets(sizes, n_batch)[-1],) or longer
        Outputs, overwritten with z^l, a^l and delta^l of every layer.
    grad : ndarray, shape (n_params,)
        Output, overwritten; laid out as ``params``.
    parallel : True or None
        True lets a layer's rows go to threads (the module's Notes).

    Notes
    -----
    ``loopnet.kernels.backprop._network_gradient`` with the workspace's three
    buffers passed one by one, so the same bits as ``Network.gradient``.
    Matrix form: ``reference.gradient``.
    """
    work = Workspace(Z, A, D)
    _network_gradient(layout, params, X, Y, scale, l2, work, grad, parallel)


start_threads()  # numba#8578: see the Notes above
