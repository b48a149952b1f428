"""Numba options shared by every kernel: one place, so a change is one decision.

``cache=True`` keeps compiled machine code on disk between processes (the first
call of a process then costs milliseconds, not seconds); ``loopnet._cache``
decides it before any kernel is decorated, moving the cache to a private
temporary folder (or turning it off) with one warning when Numba has no
writable place for it, as in a read-only install; ``loopnet._cache_stamp`` makes
every cached kernel stale when any of loopnet's compiled modules changes (Numba
alone watches only the file of the function it loads). ``error_model="numpy"``
makes division follow IEEE rules (``x / 0`` is inf, never a Python exception), as
NumPy does. ``fastmath`` stays off: it would let LLVM reorder sums and drop NaN
checks.

One benchmarked exception, ``JIT_DOT``: the dot-product tile kernels of
``loopnet.kernels._tiles`` (and nothing else) are compiled with the fastmath flags
``{"reassoc", "contract"}``. A dot product sum_k x_k y_k is a reduction; LLVM
vectorizes it only when it may reassociate the sum (``reassoc``), and fuses
multiply and add into one FMA only with ``contract``. Without them the forward
products of the [784, 100, 10] network at batch 64 ran at 0.14 (float32) and 0.26
(float64) of OpenBLAS's speed, with them at 1.34 and 1.20 (one thread, on the
project's 2-core AMD EPYC machine; ``benchmarks/thresholds.py fastmath``, figures
in ``benchmarks/README.md``). The two flags change rounding only:
``nnan``, ``ninf`` and ``afn`` stay off, so NaN and infinity propagate and are
tested as before, and float32 stays float32. The sums are still deterministic:
the order is fixed by the compiled code and the tile layout, not by timing or
thread count.

``PARALLEL`` adds ``parallel=True`` for the kernels that split rows over threads
with ``prange``; ``use_threads`` decides when that is worth it, and
``start_threads`` makes sure the thread pool exists before they run.

Unless the environment already says otherwise, importing loopnet sets
``OMP_WAIT_POLICY=PASSIVE``, read when the OpenMP runtime of Numba's default
threading layer starts: its idle threads then sleep instead of spinning. On the
project's 2-core machine, spinning OpenMP threads and OpenBLAS's own threads took
the cores from each other whenever loop and matrix forms alternated:
``loopnet compare``'s default [784, 100, 10] gradient took 14 ms by the loops
instead of 0.65 ms (``benchmarks/README.md``).
"""

import functools
import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before Numba starts OpenMP

import numba
from numba import njit

from loopnet import _cache_stamp
from loopnet._cache import CACHE

_cache_stamp.install()  # before any kernel is decorated: each reads its stamp then

FASTMATH = False
JIT = {"cache": CACHE, "fastmath": FASTMATH, "error_model": "numpy"}
DOT_FASTMATH = {"reassoc", "contract"}
JIT_DOT = {**JIT, "fastmath": DOT_FASTMATH}
PARALLEL = {**JIT, "parallel": True}

MIN_PARALLEL_WORK = 2**18
"""Multiply-adds below which a kernel runs serially, whatever the thread count.

Starting the threads of one ``prange`` loop costs 3-9 us with the OpenMP layer
when the second core is free, and milliseconds when another process holds it;
the tiled kernels do ~15-35 multiply-adds per nanosecond. 2**18 (262 144, a
[784, 30] layer on 11 examples) keeps the small layers serial, where threads
cannot pay for their start. On the project's shared 2-core machine two threads
showed no stable crossover (``benchmarks/thresholds.py crossover``, figures in
``benchmarks/README.md``): they won at some sizes above ~130 000 multiply-adds
with the other core mostly free, and lost at every size with it busy.
"""


@functools.cache
def start_threads():
    """Start Numba's thread pool, once per process, before a kernel is called.

    Numba starts the pool when it loads a kernel holding a ``prange`` loop from
    its cache, but a cached *caller* of such a kernel remembers that only if the
    parallel kernel was compiled, not loaded from the cache, in the process that
    compiled the caller (numba#8578). Loaded later, that caller ran its first
    ``prange`` loop without a pool and the process died of a segmentation fault
    (``fit`` in one process, then ``gradient`` in two more, each reproduced it).
    Every Python entry point into a kernel that may reach a ``prange`` loop calls
    this first. It runs at the first kernel call, where Numba would have started
    the pool anyway, not at import: a process that forks before it computes
    anything keeps a child free to use the OpenMP threading layer.
    """
    numba.get_num_threads()  # starts the pool, as numba.set_num_threads does


@njit(**JIT)
def use_threads(work):
    """Whether a kernel of ``work`` multiply-adds should split its rows over threads.

    The parallel kernels run on however many threads Numba has
    (``numba.set_num_threads``); with one, they give the serial results. The
    thread count is not asked here: ``numba.get_num_threads`` in compiled code
    would keep every caller out of the on-disk cache.
    """
    return work >= MIN_PARALLEL_WORK
