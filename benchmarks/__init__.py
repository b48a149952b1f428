"""loopnet's benchmarks: the asv suite, and scripts run as ``python -m benchmarks.X``.

Importing the package first gives OpenBLAS its own kernel: these machines set
``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE``, which pin an older, slower one
(benchmarks/NOTES.md, "History, 2026-11-23"). They are removed here, before NumPy
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

_AFFINITY = hasattr(os, "sched_getaffinity")
ALLOWED_CPUS = sorted(os.sched_getaffinity(0)) if _AFFINITY else []
"""The CPUs this process could run on when the package was imported."""


def use_cpus(n_cpus):
    """Run this process on ``n_cpus`` of the CPUs it was started with (the last ones).

    Thread counts alone do not pin every contender: XLA (JAX) sizes its pool by
    the CPUs a process may use, and JAX 0.10 ignores
    ``--xla_cpu_multi_thread_eigen=false``, so on two CPUs it multiplied on two
    threads while the others had one. Where affinity cannot be set (not Linux)
    this does nothing, and ``machine.describe`` says so.
    """
    if ALLOWED_CPUS:
        os.sched_setaffinity(0, ALLOWED_CPUS[-n_cpus:])
