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

The threading layer (``docs/robustness.md`` has the measurements): loopnet
depends on the ``tbb`` package where it has wheels (Linux on x86-64), and
``load_tbb`` loads its ``libtbb`` before Numba chooses a layer, so that Numba's
default order (TBB, OpenMP, workqueue) finds it: pip puts the library in the
environment's ``lib`` folder, where the dynamic loader does not look, and Numba
then took GNU OpenMP. TBB is safe under ``fork`` and under concurrent Python
threads; GNU OpenMP is not fork-safe: a child forked after the parent's first
``prange`` loop was killed at its own first one ("fork() called from a process
already using GNU OpenMP"). Where Numba runs GNU OpenMP all the same (no TBB
wheel for the platform, or ``NUMBA_THREADING_LAYER=omp`` set by the user, whose
choice always wins), an at-fork handler makes such a child run every kernel
serially (``serial_only``): the same bits, since the parallel kernels give the
serial ones, and no OpenMP call.

Unless the environment already says otherwise, importing loopnet sets
``OMP_WAIT_POLICY=PASSIVE``, read when the OpenMP runtime of Numba's OpenMP
threading layer starts: its idle threads then sleep instead of spinning. On the
project's 2-core machine, spinning OpenMP threads and OpenBLAS's own threads took
the cores from each other whenever loop and matrix forms alternated, and the
loops of ``loopnet compare`` ran many times slower (``benchmarks/NOTES.md``,
"Spinning threads").
"""

import ctypes
import functools
import importlib.metadata
import os
import sys

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before Numba starts OpenMP

import numba
import numpy as np
from llvmlite import binding, ir
from numba import njit, types
from numba.extending import intrinsic

from loopnet import _cache_stamp
from loopnet._cache import CACHE

_cache_stamp.install()  # before any kernel is decorated: each reads its stamp then

TBB_LIBRARY = {"linux": "libtbb.so.12", "darwin": "libtbb.12.dylib"}.get(sys.platform)
"""The file of the ``tbb`` package that Numba's TBB layer links to, by platform."""


def load_tbb():
    """Load the ``tbb`` package's library, so that Numba's TBB layer can start.

    Numba's TBB layer is a compiled module linked to ``libtbb.so.12``, which the
    dynamic loader looks for on its own path; pip installs the ``tbb`` package's
    copy in the environment's ``lib`` folder, off that path, and Numba then
    silently takes its next layer, GNU OpenMP, which is not fork-safe. Loaded
    here by its full path, the library is found by its name when Numba loads the
    layer. Nothing is loaded when ``NUMBA_THREADING_LAYER`` names another layer
    (the user's choice wins) or the package is not installed.

    Returns
    -------
    str or None
        The path loaded, or None.
    """
    if TBB_LIBRARY is None or numba.config.THREADING_LAYER in ("omp", "workqueue"):
        return None
    try:
        files = importlib.metadata.files("tbb") or ()
    except importlib.metadata.PackageNotFoundError:
        return None
    for file in files:
        if file.name == TBB_LIBRARY:
            path = os.path.normpath(file.locate())
            try:
                ctypes.CDLL(path)
            except OSError:  # then Numba chooses as it would have
                return None
            return path
    return None


TBB_PATH = load_tbb()
"""The ``libtbb`` loaded at import (``load_tbb``), or None."""

_SERIAL_SYMBOL = "loopnet_jit_serial_only"
_serial = ctypes.c_int32(0)
# Compiled code reads the flag through a symbol the JIT links by name when it
# loads a kernel, so the cached machine code holds no address of this process.
binding.add_symbol(_SERIAL_SYMBOL, ctypes.addressof(_serial))


def _gnu_openmp_started():
    """Whether this process has started Numba's GNU OpenMP thread pool.

    Read from Numba's private state (``numba.np.ufunc.parallel``); where it is
    not as expected the answer is True, the safe one for ``_after_fork``.
    """
    try:
        parallel = sys.modules.get("numba.np.ufunc.parallel")
        if parallel is None or not parallel._is_initialized:
            return False
        if numba.threading_layer() != "omp":
            return False
        omppool = sys.modules.get("numba.np.ufunc.omppool")
        return getattr(omppool, "openmp_vendor", "GNU") == "GNU"
    except (AttributeError, ValueError):  # Numba's internals moved: be safe
        return True


def _after_fork():
    """In a forked child of a GNU OpenMP process: never start threads again."""
    if _gnu_openmp_started():
        _serial.value = 1


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)


def serial_only():
    """Whether every kernel of this process runs serially, whatever its size.

    True in a child forked from a process that had started Numba's GNU OpenMP
    thread pool, where GNU OpenMP cannot run again (its first parallel loop
    would end the process); its grandchildren inherit it. The kernels then give
    the same bits on one thread as they would on many.

    Examples
    --------
    >>> from loopnet._jit import serial_only
    >>> serial_only()
    False
    """
    return bool(_serial.value)


if numba.config.DISABLE_JIT:  # the kernels run as Python, so does use_threads

    def _serial_flag():
        return _serial.value

else:

    @intrinsic
    def _serial_flag(typingctx):
        """The flag ``serial_only`` reads, loaded from compiled code (int32)."""

        def codegen(context, builder, signature, args):
            flag = builder.module.globals.get(_SERIAL_SYMBOL)
            if flag is None:
                flag = ir.GlobalVariable(builder.module, ir.IntType(32), _SERIAL_SYMBOL)
                flag.linkage = "external"
            return builder.load(flag)

        return types.int32(), codegen


KERNELS_VARIABLE = "LOOPNET_KERNELS"
"""The environment variable that chooses between the fast kernels and the plain ones."""


def kernels_choice(environ=os.environ):
    """``"fast"`` or ``"plain"``: the kernels the loop backend runs, by the environment.

    ``LOOPNET_KERNELS=plain`` makes ``Network.gradient``, ``fit``, ``forward``,
    ``predict`` and the estimators run the plain siblings of the fast kernels
    (``loopnet.kernels.siblings``): each equation as loops in index order, no
    register tiles, vector intrinsics or prefetch. An escape hatch for a CPU or a
    Numba that miscompiles a fast path, and a way to watch the equations run.
    Unset or empty means ``"fast"``.

    Raises
    ------
    ValueError
        For any other value, naming the variable.

    Examples
    --------
    >>> kernels_choice({"LOOPNET_KERNELS": "plain"})
    'plain'
    >>> kernels_choice({})
    'fast'
    """
    value = environ.get(KERNELS_VARIABLE, "") or "fast"
    if value not in ("fast", "plain"):
        raise ValueError(
            f"{KERNELS_VARIABLE} must be 'fast' or 'plain' (or unset), not {value!r}"
        )
    return value


KERNELS = kernels_choice()
"""The kernels this process runs, read once at import (``kernels_choice``)."""

FASTMATH = False
JIT = {"cache": CACHE, "fastmath": FASTMATH, "error_model": "numpy"}
DOT_FASTMATH = {"reassoc", "contract"}
JIT_DOT = {**JIT, "fastmath": DOT_FASTMATH}
PARALLEL = {**JIT, "parallel": True}

FIRST_ROW = np.int64(0)
"""Row 0, for the kernels that take a range of rows: an int64, not a literal ``0``.

Numba compiles a function called from compiled code once per literal argument
type, so ``f(X, 0, n)`` beside ``f(X, start, n)`` compiles ``f``, and all it
calls, twice.
"""

MIN_PARALLEL_WORK = 2**18
"""Multiply-adds below which a kernel runs serially, whatever the thread count.

Starting the threads of one ``prange`` loop costs microseconds when the second
core is free, and far more when another process holds it, while a small layer's
arithmetic takes microseconds too. 2**18 (262 144, a [784, 30] layer on 11
examples) keeps the small layers serial, where threads cannot pay for their
start. On the project's shared 2-core machine two threads showed no stable
crossover (``benchmarks/thresholds.py crossover``; the figures are in
``benchmarks/NOTES.md``): they won at some sizes above 2**17 multiply-adds with
the other core mostly free, and lost at every size with it busy.
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


def parallel_flag(work):
    """The ``parallel`` argument of a kernel call of up to ``work`` multiply-adds.

    True when a kernel of that size may split its rows over threads: Numba has
    more than one thread, ``work`` reaches ``MIN_PARALLEL_WORK`` and this
    process may start threads (``serial_only``). Otherwise None: the kernels
    then take their serial branch only, and Numba prunes the parallel one
    before compiling it (a branch on ``parallel is not None`` with an argument
    that is None), so a process that never needs threads never compiles a
    ``prange`` loop, a large part of the cold compile. The bits are the same either
    way: the parallel kernels give the serial results.

    Examples
    --------
    >>> parallel_flag(10) is None
    True
    """
    if work < MIN_PARALLEL_WORK or serial_only():
        return None
    return True if numba.get_num_threads() > 1 else None  # starts the pool too


@njit(**JIT)
def use_threads(work):
    """Whether a kernel of ``work`` multiply-adds should split its rows over threads.

    The parallel kernels run on however many threads Numba has
    (``numba.set_num_threads``); with one, they give the serial results. The
    thread count is not asked here: ``numba.get_num_threads`` in compiled code
    would keep every caller out of the on-disk cache. Never where
    ``serial_only()`` holds (a forked child of a GNU OpenMP process).
    """
    return work >= MIN_PARALLEL_WORK and _serial_flag() == 0
