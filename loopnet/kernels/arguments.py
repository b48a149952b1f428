"""The checks of the public kernels' arguments, shared by the CPU and CUDA kernels.

Each takes the arrays a public kernel was given (``loopnet.kernels.forward_layer``,
``output_error``, ``hidden_error`` and their ``_example`` and CUDA forms), and
returns them C-contiguous in one float dtype with the codes of their activation
and cost, or raises ``ValueError``/``TypeError`` naming the argument
(``loopnet._validation``).
"""

import numpy as np

from loopnet import _validation as check
from loopnet.activations import ACTIVATIONS, HIDDEN_ACTIVATIONS
from loopnet.costs import COSTS


def layer_arguments(W, a_prev, bias, activation, a_ndim, a_name):
    """Checked ``W``, ``a_prev`` (``a_ndim``-D, named ``a_name``), ``bias``, code.

    ``W`` of shape (n_l, n_prev), the activations with n_prev columns in W's
    dtype, the bias of n_l entries (zeros when None), the activation's code.
    """
    W = check.kernel_array(W, "W", 2)
    a_prev = check.kernel_array(a_prev, a_name, a_ndim, W.dtype, "W")
    n_l, n_prev = W.shape
    check.check_length(
        a_prev.shape[-1],
        n_prev,
        f"{a_name} has {a_prev.shape[-1]} columns; W expects n_prev={n_prev}",
    )
    if bias is None:
        bias = np.zeros(n_l, dtype=W.dtype)
    else:
        bias = check.kernel_array(bias, "bias", 1, W.dtype, "W")
        check.check_length(
            bias.shape[0],
            n_l,
            f"bias has {bias.shape[0]} entries; W has n_l={n_l} rows",
        )
    code = ACTIVATIONS[check.check_choice(activation, "activation", tuple(ACTIVATIONS))]
    return W, a_prev, bias, code


def output_arguments(Z, A, Y, output, cost, ndim):
    """Checked ``Z``, ``A``, ``Y`` (``ndim``-D, one shape, one dtype) and the codes.

    Returns ``Z, A, Y, output_code, cost_code``.
    """
    z_name, a_name, y_name = ("Z", "A", "Y") if ndim == 2 else ("z", "a", "y")
    Z = check.kernel_array(Z, z_name, ndim)
    A = check.kernel_array(A, a_name, ndim, Z.dtype, z_name)
    Y = check.kernel_array(Y, y_name, ndim, Z.dtype, z_name)
    for name, array in ((a_name, A), (y_name, Y)):
        check.check_length(
            array.shape,
            Z.shape,
            f"{name} has shape {array.shape}; {z_name} has shape {Z.shape}",
        )
    check.check_choice(output, "output", tuple(ACTIVATIONS))
    check.check_choice(cost, "cost", tuple(COSTS))
    return Z, A, Y, ACTIVATIONS[output], COSTS[cost]


def hidden_arguments(delta_next, W_next, Z, activation, ndim, names):
    """Checked ``delta_next``, ``W_next``, ``Z`` (named ``names``) and the code.

    ``W_next`` of shape (n_next, n_l); ``delta_next`` with n_next columns and
    ``Z`` with n_l, as many rows, in W_next's dtype; a hidden activation.
    """
    delta_name, z_name = names
    W_next = check.kernel_array(W_next, "W_next", 2)
    delta_next = check.kernel_array(
        delta_next, delta_name, ndim, W_next.dtype, "W_next"
    )
    Z = check.kernel_array(Z, z_name, ndim, W_next.dtype, "W_next")
    n_next, n_l = W_next.shape
    check.check_length(
        delta_next.shape[-1],
        n_next,
        f"{delta_name} has {delta_next.shape[-1]} columns;"
        f" W_next has n_next={n_next} rows",
    )
    check.check_length(
        Z.shape[-1],
        n_l,
        f"{z_name} has {Z.shape[-1]} columns; W_next has n_l={n_l} columns",
    )
    check.check_length(
        delta_next.shape[:-1],
        Z.shape[:-1],
        f"{delta_name} has {delta_next.shape[0]} rows but {z_name} has {Z.shape[0]}",
    )
    check.check_choice(activation, "activation", HIDDEN_ACTIVATIONS)
    return delta_next, W_next, Z, ACTIVATIONS[activation]
