"""loopnet: backpropagation as explicit per-index loops compiled with Numba.

    delta_j = sigma'(z_j) * sum_m delta_m * w_mj        dC/dw_jk = a_k * delta_j

Every loop kernel (``loopnet.kernels``) has a NumPy matrix twin
(``loopnet.reference``); ``Network`` computes its gradient either way.
"""

from loopnet import backends, datasets, kernels, notation, reference
from loopnet.compare import CompareReport, compare
from loopnet.gradcheck import GradcheckResult, gradcheck
from loopnet.layout import Gradient, Layout
from loopnet.network import Network
from loopnet.trace import trace
from loopnet.training import DivergenceError, History

__version__ = "0.1.0"

__all__ = [
    "CompareReport",
    "DivergenceError",
    "GradcheckResult",
    "Gradient",
    "History",
    "Layout",
    "Network",
    "backends",
    "compare",
    "datasets",
    "gradcheck",
    "kernels",
    "notation",
    "reference",
    "trace",
]
