"""The machine a benchmark ran on, said in full, and its single-thread BLAS rate.

Every speed figure of loopnet names the machine, the commit and the thread
pools it was measured with; ``describe`` gathers them, ``blas_rate`` measures
the yardstick: the GFLOP/s of one 1024 x 1024 product on one thread, which the
scripts print beside each time as the fraction of the machine's BLAS rate.
"""

import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numba
import numpy as np

from benchmarks import REMOVED_VARIABLES, SLOW_BLAS_VARIABLES

ROOT = Path(__file__).resolve().parents[1]


def cpu_name():
    """The CPU's model name from /proc/cpuinfo (or what ``platform`` says)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def llvm_target():
    """The CPU name LLVM compiles Numba's kernels for (``znver3``, ...)."""
    import llvmlite.binding as llvm

    return llvm.get_host_cpu_name()


def commit():
    """``git describe`` of the checkout: the commit and whether it was edited."""
    try:
        result = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--abbrev=10"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return result.stdout.strip()


def blas_pools():
    """threadpoolctl's BLAS pools: (owner, library, version, kernel, threads) each.

    The owner is the package whose folder holds the library (NumPy's own, or
    SciPy's, which Numba loads too).
    """
    from threadpoolctl import threadpool_info

    pools = []
    for pool in threadpool_info():
        if pool["user_api"] != "blas":
            continue
        folder = Path(pool["filepath"]).parent.name  # numpy.libs, scipy.libs, ...
        pools.append(
            (
                folder.removesuffix(".libs"),
                pool["internal_api"],
                pool["version"],
                pool.get("architecture"),
                pool["num_threads"],
            )
        )
    return pools


def threading_layer():
    """The threading layer Numba runs ``prange`` loops on, starting it if need be."""
    from loopnet import kernels

    kernels.weight_gradient(np.ones((1, 1)), np.ones((1, 1)))  # starts the pool
    try:
        return numba.threading_layer()
    except ValueError:  # no parallel kernel has run: the pool is not started
        return f"{numba.config.THREADING_LAYER} (not started)"


def describe():
    """Lines naming the machine, the software, the thread pools and the commit."""
    machine_line = (
        f"machine: {cpu_name()} (LLVM target {llvm_target()}), {os.cpu_count()}"
        f" cores, load average {os.getloadavg()[0]:.2f}"
    )
    software_line = (
        f"software: Python {platform.python_version()}, NumPy {np.__version__},"
        f" Numba {numba.__version__} ({threading_layer()} threading layer,"
        f" {numba.get_num_threads()} thread(s))"
    )
    lines = [machine_line, software_line]
    for owner, library, version, kernel, threads in blas_pools():
        lines.append(
            f"BLAS ({owner}): {library} {version}, kernel {kernel}, {threads}"
            " thread(s) (threadpoolctl)"
        )
    removed = ", ".join(f"{k}={v}" for k, v in REMOVED_VARIABLES.items()) or "none"
    blanked = [name for name in SLOW_BLAS_VARIABLES if os.environ.get(name)]
    lines.append(f"removed from the environment: {removed}")
    if blanked:
        lines.append(f"WARNING: still set: {', '.join(blanked)}")
    if hasattr(os, "sched_getaffinity"):
        cpus = ",".join(map(str, sorted(os.sched_getaffinity(0))))
        lines.append(f"runs on CPU(s): {cpus} of {os.cpu_count()}")
    else:
        lines.append("runs on CPU(s): any (affinity cannot be set here)")
    lines.append(f"commit: {commit()}")
    return lines


def blas_rate(dtype, n=1024, repeat=7):
    """GFLOP/s of an n x n by n x n product (2 n^3 flops), median of ``repeat``."""
    rng = np.random.default_rng(0)
    A = rng.random((n, n)).astype(dtype)
    B = rng.random((n, n)).astype(dtype)
    A @ B
    seconds = []
    for _ in range(repeat):
        start = time.perf_counter()
        A @ B
        seconds.append(time.perf_counter() - start)
    return 2 * n**3 / statistics.median(seconds) / 1e9


if __name__ == "__main__":
    print("\n".join(describe()))
    for dtype in ("float64", "float32"):
        print(f"{dtype}: {blas_rate(dtype):.1f} GFLOP/s (1024 x 1024 product)")
    sys.exit(0)
