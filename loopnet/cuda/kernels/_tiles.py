"""Launch geometry and the shared-memory tiling of the kernels' sums.

Three kernels compute a sum of products over one index, for every pair of the other
two: the forward pass (z[b, j] sums over k), the hidden error (over m) and the
weight gradient (dW[j, k] sums over b). Each is written here as one output table
C[r, c] = sum_t P(r, t) * Q(t, c), with P and Q read from the kernel's own arrays
in whichever orientation they are stored.

A block of ``THREADS x THREADS`` threads owns a ``TILE x TILE`` block of outputs,
and thread (ty, tx) owns the ``PER_THREAD x PER_THREAD`` outputs
(r0 + ty + THREADS * i, c0 + tx + THREADS * jj). The sum runs over t in slices
of ``TILE_T`` terms: the block stages P's and Q's slices in shared memory, each
element read from global memory once per block instead of once per output, then
every thread adds the slice's terms to its outputs in increasing t, as the CPU
loops do. Each thread keeps its 2 x 2 sums in registers, so that each value read
from shared memory serves two outputs.

The geometry (32 x 32 tiles, 16 x 16 threads, slices of 32 terms) was the fastest
of seven measured on an H100 for the [1024, 1024, 1024, 10] batch-256 gradient's
kernels: 4 x 4 sums per thread in 8 x 8 threads left too few warps per
multiprocessor at batch 256 (docs/gpu.md).
"""

import functools
import math
import warnings

from loopnet.cuda._backend import numba_cuda, simulator

cuda = numba_cuda()


# The simulator runs every GPU thread as a Python thread: it gets small tiles, on
# which the tests cross tile edges at small sizes.
_SMALL = simulator()

TILE = 8 if _SMALL else 32
"""Outputs per side of a block's tile."""
TILE_T = 8 if _SMALL else 32
"""Terms of the sum staged in shared memory at a time."""
THREADS = 4 if _SMALL else 16
"""Threads per side of a tiled kernel's block."""
PER_THREAD = TILE // THREADS
"""Outputs per side of one thread's share of the tile."""
TILE_BLOCK = (THREADS, THREADS)
"""Block shape of the tiled kernels."""
SHARED_SHAPE = (TILE_T, TILE + 1)
"""Shape of a staged slice; the extra column puts a column's elements in
distinct shared-memory banks when consecutive threads store down a column."""
ACC_SHAPE = (PER_THREAD, PER_THREAD)
"""Shape of a thread's register block of running sums."""

ELEMENT_BLOCK = 32 if _SMALL else 128
"""Threads per block of the one-thread-per-output kernels."""


@functools.lru_cache(maxsize=512)
def launcher(kernel, grid, block):
    """``kernel[grid, block]``, configured once per geometry and reused.

    Small grids are deliberate here (an output layer of 10 units fills one tile,
    the fused training kernel is one block), so numba-cuda's low-occupancy
    warning is silenced for these launches; reusing the configuration also
    spares its construction at every launch.
    """
    with warnings.catch_warnings():
        # numba-cuda prefixes the message with terminal highlighting
        warnings.filterwarnings("ignore", message=r".*Grid size \d+ will likely")
        return kernel[grid, block]


def tiled(kernel, n_rows, n_cols):
    """Configure a tiled kernel to cover an ``(n_rows, n_cols)`` output table.

    Parameters
    ----------
    kernel : CUDA kernel
        Written for blocks of ``TILE_BLOCK`` threads, each owning a ``TILE x
        TILE`` tile; blockIdx.x walks the columns c, blockIdx.y the rows r.
    n_rows, n_cols : int
        Size of the output table C[r, c].

    Returns
    -------
    configured kernel
        Call it with the kernel's arguments.
    """
    grid = (math.ceil(n_cols / TILE), math.ceil(n_rows / TILE))
    return launcher(kernel, grid, TILE_BLOCK)


def elementwise(kernel, n_outputs):
    """Configure a one-thread-per-output kernel for ``n_outputs`` outputs.

    Blocks of ``ELEMENT_BLOCK`` threads; the kernel skips indexes beyond its
    outputs.
    """
    return launcher(kernel, math.ceil(n_outputs / ELEMENT_BLOCK), ELEMENT_BLOCK)


@cuda.jit(device=True)
def stage(S, M, outer0, n_outer, inner0, n_inner, outer_first):
    """Write the slice S[t, o] of one operand into shared memory; 0 outside ``M``.

    S[t, o] = M[outer0 + o, inner0 + t] when ``outer_first`` (M indexed [outer,
    inner], as A_prev[b, k] or W[j, k]), else M[inner0 + t, outer0 + o].

    Parameters
    ----------
    S : shared array, shape SHARED_SHAPE
        Output, overwritten.
    M : device array, 2-D
        The operand.
    outer0, inner0 : int
        First outer (r or c) and inner (t) index of the slice.
    n_outer, n_inner : int
        Extent of the operand along them; the rows of a buffer beyond the batch
        are outside.
    outer_first : bool
        Orientation of ``M``.

    Notes
    -----
    Consecutive threads read consecutive elements of M's contiguous axis, so
    each warp's loads coalesce.
    """
    thread = cuda.threadIdx.y * THREADS + cuda.threadIdx.x
    for e in range(thread, TILE_T * TILE, THREADS * THREADS):
        if outer_first:
            t = e % TILE_T
            o = e // TILE_T
        else:
            o = e % TILE
            t = e // TILE
        outer = outer0 + o
        inner = inner0 + t
        if outer < n_outer and inner < n_inner:
            S[t, o] = M[outer, inner] if outer_first else M[inner, outer]
        else:
            S[t, o] = 0


@cuda.jit(device=True)
def tile_sums(P, p_outer_first, Q, q_outer_first, r0, n_rows, c0, n_cols, n_terms, acc):
    """Add sum_t P(r, t) * Q(t, c) to this thread's running sums ``acc``.

    Parameters
    ----------
    P : device array, 2-D
        P(r, t) is ``P[r, t]`` when ``p_outer_first``, else ``P[t, r]``.
    Q : device array, 2-D
        Q(t, c) is ``Q[c, t]`` when ``q_outer_first``, else ``Q[t, c]``.
    r0, c0 : int
        First row and column of the block's tile.
    n_rows, n_cols, n_terms : int
        Extents of r, c and t.
    acc : local array, shape ACC_SHAPE
        ``acc[i, jj]`` is the sum of output (r0 + ty + THREADS * i,
        c0 + tx + THREADS * jj); added to, in increasing t.

    Notes
    -----
    Every thread of the block must call this (it synchronizes the block). Terms
    beyond ``n_terms`` are staged as zeros and add exactly 0.
    """
    Ps = cuda.shared.array(SHARED_SHAPE, dtype=acc.dtype)
    Qs = cuda.shared.array(SHARED_SHAPE, dtype=acc.dtype)
    p = cuda.local.array(PER_THREAD, dtype=acc.dtype)
    q = cuda.local.array(PER_THREAD, dtype=acc.dtype)
    ty = cuda.threadIdx.y
    tx = cuda.threadIdx.x
    for t0 in range(0, n_terms, TILE_T):
        stage(Ps, P, r0, n_rows, t0, n_terms, p_outer_first)
        stage(Qs, Q, c0, n_cols, t0, n_terms, q_outer_first)
        cuda.syncthreads()
        for t in range(TILE_T):
            for i in range(PER_THREAD):
                p[i] = Ps[t, ty + THREADS * i]
                q[i] = Qs[t, tx + THREADS * i]
            for i in range(PER_THREAD):
                for jj in range(PER_THREAD):
                    acc[i, jj] += p[i] * q[jj]
        cuda.syncthreads()
