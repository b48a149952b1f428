"""The CUDA kernels, importable one by one: ``loopnet.kernels``' equations on the GPU.

Each public function checks its arguments as its CPU twin of the same name does,
copies them to the GPU, launches the kernels and copies the results back; each
``launch_*`` function launches on device arrays without checks, for validated
callers (``DeviceNetwork``, ``Trainer``). The per-index device functions
(``weighted_input_at``, ``output_error_at``, ``hidden_error_at``,
``weight_gradient_at``, ``bias_gradient_at``, ``sgd_update``) hold the equations
for one index, shared by the tiled kernels and the fused training kernel.

Importing this module needs numba-cuda (the ``cuda`` extra:
``pip install -e ".[cuda]"``).
"""

from loopnet.cuda.kernels.errors import hidden_error, output_error, output_error_general
from loopnet.cuda.kernels.forward import forward_layer
from loopnet.cuda.kernels.gradients import bias_gradient, weight_gradient
from loopnet.cuda.kernels.update import sgd_step, sgd_step_bias

__all__ = [
    "bias_gradient",
    "forward_layer",
    "hidden_error",
    "output_error",
    "output_error_general",
    "sgd_step",
    "sgd_step_bias",
    "weight_gradient",
]
