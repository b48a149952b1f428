"""The compiled loop kernels, importable one by one.

Each public function validates its arguments, allocates its outputs and calls a
compiled ``_`` kernel that writes into preallocated arrays, then checks that the
result is finite (a ValueError names the arguments whose magnitudes overflowed
the dtype, instead of handing back infinities or NaN); validated callers
(``Network``, the training loop) call the ``_`` kernels directly. Every kernel has
a NumPy twin of the same name in ``loopnet.reference``.

``loopnet.kernels.compiled`` exports the compiled kernels under public names, for
a user's own Numba-compiled code (imported on its own: it is not loaded here).
"""

from loopnet.kernels.errors import (
    hidden_error,
    hidden_error_example,
    output_error,
    output_error_example,
    output_error_general,
)
from loopnet.kernels.forward import forward_layer, forward_layer_example
from loopnet.kernels.gradients import (
    bias_gradient,
    weight_gradient,
    weight_gradient_example,
)
from loopnet.kernels.optimizers import adam_step, nesterov_step
from loopnet.kernels.update import sgd_step

__all__ = [
    "adam_step",
    "bias_gradient",
    "forward_layer",
    "forward_layer_example",
    "hidden_error",
    "hidden_error_example",
    "nesterov_step",
    "output_error",
    "output_error_example",
    "output_error_general",
    "sgd_step",
    "weight_gradient",
    "weight_gradient_example",
]
