"""Numba options shared by every kernel: one place, so a change is one decision.

``cache=True`` keeps compiled machine code on disk between processes (the first
call of a process then costs milliseconds, not seconds); ``loopnet._cache``
decides it before any kernel is decorated, moving the cache to a private
temporary folder (or turning it off) with one warning when Numba has no
writable place for it, as in a read-only install. ``error_model="numpy"``
makes division follow IEEE rules (``x / 0`` is inf, never a Python exception), as
NumPy does. ``fastmath`` stays off: it would let LLVM reorder sums and drop NaN
checks, and turning it on is a benchmarked decision, never a per-kernel one.
"""

from loopnet._cache import CACHE

FASTMATH = False
JIT = {"cache": CACHE, "fastmath": FASTMATH, "error_model": "numpy"}
