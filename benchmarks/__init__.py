"""loopnet's benchmarks: the asv suite, and scripts run as ``python -m benchmarks.X``.

Importing the package first gives OpenBLAS its own kernel: these machines set
``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE``, which pin an older, slower one
(benchmarks/README.md, "Honest baselines"). They are removed here, before NumPy
is imported by any script of this package; asv's runner imports NumPy before the
suite, so asv.conf.json blanks them for its benchmark processes instead (an empty
value makes OpenBLAS detect the CPU, as an absent one does).
"""

import os

SLOW_BLAS_VARIABLES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")

REMOVED_VARIABLES = {
    name: os.environ.pop(name) for name in SLOW_BLAS_VARIABLES if name in os.environ
}
"""What the environment set before this package removed it (for the report)."""
