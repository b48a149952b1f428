r"""The dot-product tiles every batched layer kernel is built from.

The forward pass, the hidden error and the weight gradient are each a matrix of
dot products,

    C[i, n] = sum_p S[i, p] * T[n, p],

with both ``S`` and ``T`` read along rows (contiguous in p):

- forward: Z[b, j] = sum_k A_prev[b, k] * W[j, k]            (S = A_prev, T = W);
- hidden error: delta[b, j] = sum_m delta_next[b, m] * W_next[m, j]
  (S = delta_next, T = W_next transposed);
- weight gradient: dW[j, k] = sum_b delta[b, j] * A_prev[b, k]
  (S = delta transposed, T = A_prev transposed).

``_dot_rows`` computes rows of C in register tiles of 4 x 4 entries: 16 running
sums that share each loaded S[i, p] and T[n, p] four times, so the loop over p
does 16 multiply-adds per 8 loads and stores nothing. The sums are reductions over
p, which LLVM vectorizes under the ``JIT_DOT`` fastmath flags (see ``_jit``).
Columns of C come in blocks of ``COLUMN_BLOCK`` so that a block of T's rows stays
in cache while every row tile of S passes over it.

Which entries fall in a 4 x 4 tile depends only on the shapes (rows and columns
below the largest multiple of 4), never on which rows a call is given, as long as
a call's first row is a multiple of ``TILE``. Every entry is therefore computed by
the same instructions however the rows are split between threads: the results are
bitwise identical for any thread count.
"""

import numpy as np
from numba import njit, prange

from loopnet._jit import JIT, JIT_DOT, PARALLEL, use_threads

TILE = 4
"""Rows and columns of C in one register tile."""

COLUMN_BLOCK = 64
"""Columns of C (rows of T) per cache block: 64 rows of 1024 float64 are 512 KiB."""

MIN_DOT_LENGTH = 32
"""Shortest sum (n_p terms) worth a register tile.

Below it the 16 final horizontal additions of a tile cost more than its
vectorized loop saves, and ``errors._hidden_error`` sums by rows instead.
Measured (one thread, both dtypes) on a [64, 100] hidden error: the tiles won
from 24-64 terms on, the rows below. The weight gradient has its own, higher
threshold, ``gradients.MIN_TILED_BATCH``.
"""

TRANSPOSE_BLOCK = 16
"""Rows and columns of one block of a transposed copy."""

PARALLEL_BLOCKS = 16
"""Row blocks a parallel kernel aims for: 8 per thread on 2 cores, so that uneven
blocks balance, and enough to keep 16 threads busy."""


@njit(**JIT_DOT)
def _dot(x, y):
    """sum_p x[p] * y[p], for two vectors of the same length."""
    total = x.dtype.type(0)
    for p in range(x.shape[0]):
        total += x[p] * y[p]
    return total


@njit(**JIT_DOT)
def _dot_tile(S, T, C, i, n):
    """Write C[i + r, n + c] = sum_p S[i + r, p] * T[n + c, p] for r, c in 0..3.

    Notes
    -----
    The 16 sums live in registers for the whole loop over p; each S[i + r, p] is
    used four times and each T[n + c, p] four times. Vectorized over p (fastmath
    ``reassoc``), each sum is split into partial sums, one per SIMD lane, added
    together at the end.
    """
    s0, s1, s2, s3 = S[i], S[i + 1], S[i + 2], S[i + 3]
    t0, t1, t2, t3 = T[n], T[n + 1], T[n + 2], T[n + 3]
    c00 = c01 = c02 = c03 = C.dtype.type(0)
    c10 = c11 = c12 = c13 = C.dtype.type(0)
    c20 = c21 = c22 = c23 = C.dtype.type(0)
    c30 = c31 = c32 = c33 = C.dtype.type(0)
    for p in range(S.shape[1]):
        x0, x1, x2, x3 = s0[p], s1[p], s2[p], s3[p]
        y0, y1, y2, y3 = t0[p], t1[p], t2[p], t3[p]
        c00 += x0 * y0
        c01 += x0 * y1
        c02 += x0 * y2
        c03 += x0 * y3
        c10 += x1 * y0
        c11 += x1 * y1
        c12 += x1 * y2
        c13 += x1 * y3
        c20 += x2 * y0
        c21 += x2 * y1
        c22 += x2 * y2
        c23 += x2 * y3
        c30 += x3 * y0
        c31 += x3 * y1
        c32 += x3 * y2
        c33 += x3 * y3
    C[i, n], C[i, n + 1], C[i, n + 2], C[i, n + 3] = c00, c01, c02, c03
    C[i + 1, n], C[i + 1, n + 1], C[i + 1, n + 2], C[i + 1, n + 3] = c10, c11, c12, c13
    C[i + 2, n], C[i + 2, n + 1], C[i + 2, n + 2], C[i + 2, n + 3] = c20, c21, c22, c23
    C[i + 3, n], C[i + 3, n + 1], C[i + 3, n + 2], C[i + 3, n + 3] = c30, c31, c32, c33


@njit(**JIT)
def _dot_rows(S, T, C, i_start, i_stop):
    """Write rows i_start..i_stop-1 of C[i, n] = sum_p S[i, p] * T[n, p].

    Parameters
    ----------
    S : ndarray, shape (n_i, n_p)
        Left factor, C-contiguous.
    T : ndarray, shape (n_n, n_p)
        Right factor, one row per column of C, C-contiguous.
    C : ndarray, shape (n_i, n_n)
        Output; rows ``i_start`` to ``i_stop - 1`` are overwritten.
    i_start, i_stop : int
        Rows to compute; ``i_start`` is a multiple of ``TILE``.

    Notes
    -----
    4 x 4 register tiles (``_dot_tile``) wherever rows and columns allow, single
    dot products for the last ``n_i % 4`` rows and ``n_n % 4`` columns. Columns
    are visited in blocks of ``COLUMN_BLOCK``, and within a block every row tile,
    so the block's rows of T are read from cache. Matrix form: ``S @ T.T``.
    """
    n_i = S.shape[0]
    n_n = T.shape[0]
    i_tiled = min(i_stop, n_i - n_i % TILE)
    n_tiled = n_n - n_n % TILE
    for n_block in range(0, n_n, COLUMN_BLOCK):
        n_block_stop = min(n_block + COLUMN_BLOCK, n_n)
        n_block_tiled = min(n_block_stop, n_tiled)
        for i in range(i_start, i_tiled, TILE):
            for n in range(n_block, n_block_tiled, TILE):
                _dot_tile(S, T, C, i, n)
            for n in range(n_block_tiled, n_block_stop):
                for r in range(TILE):
                    C[i + r, n] = _dot(S[i + r], T[n])
    for i in range(max(i_start, i_tiled), i_stop):
        for n in range(n_n):
            C[i, n] = _dot(S[i], T[n])


@njit(**JIT)
def _block_rows(n_rows):
    """Rows per block when a parallel kernel splits ``n_rows`` rows between threads.

    A multiple of ``TILE``, so that tiles never straddle blocks, giving about
    ``PARALLEL_BLOCKS`` blocks.
    """
    n_tiles = (n_rows + TILE - 1) // TILE
    return TILE * max(1, (n_tiles + PARALLEL_BLOCKS - 1) // PARALLEL_BLOCKS)


@njit(**JIT)
def _transpose_rows(X, XT, c_start, c_stop):
    """Write XT[c, r] = X[r, c] for the rows c_start..c_stop-1 of ``XT``.

    In blocks of ``TRANSPOSE_BLOCK`` x ``TRANSPOSE_BLOCK`` entries, so that the
    reads down a column of X and the writes along a row of XT both stay within a
    few cache lines.
    """
    n_rows = X.shape[0]
    for r_block in range(0, n_rows, TRANSPOSE_BLOCK):
        n_r = min(TRANSPOSE_BLOCK, n_rows - r_block)
        for c_block in range(c_start, c_stop, TRANSPOSE_BLOCK):
            n_c = min(TRANSPOSE_BLOCK, c_stop - c_block)
            source = X[r_block : r_block + n_r, c_block : c_block + n_c]
            target = XT[c_block : c_block + n_c, r_block : r_block + n_r]
            for c in range(n_c):
                for r in range(n_r):
                    target[c, r] = source[r, c]


@njit(**PARALLEL)
def _transpose_parallel(X, XT):
    """``_transpose_rows`` over all rows of XT, blocks of rows split over threads.

    Each block of XT's rows is written by one thread only.
    """
    n_cols = X.shape[1]
    height = _block_rows(n_cols)
    for block in prange((n_cols + height - 1) // height):
        start = block * height
        _transpose_rows(X, XT, start, min(start + height, n_cols))


@njit(**JIT)
def _transposed(X):
    """X.T as a new C-contiguous array, XT[c, r] = X[r, c].

    Copies are cheap beside the dot products that use them (n_r * n_c elements
    against n_r * n_c * n_p multiply-adds); they make both factors of every dot
    product contiguous.
    """
    n_rows, n_cols = X.shape
    XT = np.empty((n_cols, n_rows), dtype=X.dtype)
    if use_threads(n_rows * n_cols):
        _transpose_parallel(X, XT)
    else:
        _transpose_rows(X, XT, 0, n_cols)
    return XT
