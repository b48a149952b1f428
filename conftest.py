"""Numba's CUDA simulator where no GPU answers, chosen before any test is collected.

``tests/test_cuda.py`` and the doctests of ``loopnet.cuda`` (collected from
``loopnet/``) need a GPU or Numba's CUDA simulator, and the simulator must be
switched on (``NUMBA_ENABLE_CUDASIM=1``) before ``numba.cuda`` is first imported.
Deciding here, in the root conftest, makes it hold for any selection of tests:
the CUDA doctests used to pass only when ``tests/test_cuda.py`` was collected
too, and failed under ``pytest loopnet`` on a machine without a GPU.
``NUMBA_ENABLE_CUDASIM`` set by hand wins: ``=1`` forces the simulator, ``=0``
the GPU.
"""

import ctypes
import os

from numba.core import config


def gpu_present():
    """Whether the CUDA driver answers with at least one device (without numba.cuda)."""
    try:
        libcuda = ctypes.CDLL("libcuda.so.1")
    except OSError:
        return False
    count = ctypes.c_int(0)
    return (
        libcuda.cuInit(0) == 0
        and libcuda.cuDeviceGetCount(ctypes.byref(count)) == 0
        and count.value > 0
    )


if "NUMBA_ENABLE_CUDASIM" not in os.environ and not gpu_present():
    os.environ["NUMBA_ENABLE_CUDASIM"] = "1"
    config.reload_config()
