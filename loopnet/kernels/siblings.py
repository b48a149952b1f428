"""Every fast path of the loop backend beside its plain sibling, and the switch.

``PLAIN`` maps each compiled fast path to its plain sibling: the same quantity
computed as the equations are written, loops in index order with no register
tiles, vector intrinsics, prefetch or threads. ``chosen`` is the one place that
reads the switch: under ``LOOPNET_KERNELS=plain`` (``_jit.KERNELS``, read once
at import) the backends and the distributed workers take the siblings.
``tests/test_plain.py`` holds each pair against each other (bit for bit where
both add the same terms in the same order, to a stated bound elsewhere) and
checks that every entry has such a test.
"""

from loopnet._jit import KERNELS
from loopnet.kernels.backprop import (
    _backward_pass,
    _backward_pass_plain,
    _error_pass,
    _error_pass_plain,
    _forward_pass,
    _forward_pass_plain,
    _network_gradient,
    _network_gradient_plain,
)
from loopnet.kernels.errors import _hidden_error, _hidden_error_plain
from loopnet.kernels.forward import _forward_layer, _forward_layer_plain
from loopnet.kernels.gradients import _weight_gradient, _weight_gradient_plain
from loopnet.kernels.training import _train_batches, _train_batches_plain
from loopnet.kernels.update import _weight_step, _weight_step_plain

PLAIN = {
    _forward_layer: _forward_layer_plain,
    _hidden_error: _hidden_error_plain,
    _weight_gradient: _weight_gradient_plain,
    _weight_step: _weight_step_plain,
    _forward_pass: _forward_pass_plain,
    _backward_pass: _backward_pass_plain,
    _error_pass: _error_pass_plain,
    _network_gradient: _network_gradient_plain,
    _train_batches: _train_batches_plain,
}
"""Each fast path (compiled) and its plain sibling, called with the same arguments.

Except for what only a fast path has: the layer kernels' optional ``parallel``
(the drivers' plain siblings take it, and run on one thread), and
``_weight_step``'s scratch, which ``_weight_step_plain`` takes as a whole dW.
"""


def chosen(fast):
    """``fast``, or its plain sibling (``PLAIN[fast]``) under ``LOOPNET_KERNELS=plain``.

    Examples
    --------
    >>> from loopnet.kernels.backprop import _network_gradient
    >>> chosen(_network_gradient) is PLAIN[_network_gradient] or KERNELS == "fast"
    True
    """
    return PLAIN[fast] if KERNELS == "plain" else fast
