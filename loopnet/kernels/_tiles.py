r"""The tiles and blocks every batched layer kernel is built from.

The forward pass, the hidden error and the weight gradient are each a matrix of
sums of products:

- forward: Z[b, j] = sum_k A_prev[b, k] * W[j, k];
- hidden error: delta[b, j] = sum_m delta_next[b, m] * W_next[m, j];
- weight gradient: dW[j, k] = sum_b delta[b, j] * A_prev[b, k].

Two forms compute them. Dot products, C[i, n] = sum_p S[i, p] * T[n, p] with
both factors read along rows (``_dot_rows``): the forward pass (S = A_prev,
T = W) and the hidden error of a batch under ``MIN_TILED_BATCH`` (S =
delta_next, T = W_next transposed). Outer products, C[i, n] = sum_p S_T[p, i]
* T[p, n], in the vector register blocks of ``_vectors``: the weight gradient
(S_T = delta, T = A_prev; ``_outer_product_rows``, with its terms in
increasing b, exactly as the seeds' accumulator adds them below
``MIN_TILED_BATCH`` examples and by fused multiply-adds from it on), and the
hidden error of a longer batch (S_T = delta_next transposed, T = W_next;
``_fused_product_rows``). ``_outer_product_sgd_rows`` steps the weights from
the gradient's sums without storing them.

``_dot_rows`` computes rows of C in register tiles of ``TILE`` x
``TILE_COLUMNS`` entries: 4 x 3 with AVX2, 12 running sums that share each loaded
S[i, p] three times and T[n, p] four times, so the loop over p does 12
multiply-adds per 7 loads and stores nothing; 5 x 5 with AVX-512, 25 sums per 10
loads. The sums are reductions over p, which LLVM vectorizes under the
``JIT_DOT`` fastmath flags (see ``_jit``): each sum becomes one vector register
of partial sums. 12 of them with the 3 rows of T leave one of AVX2's 16 vector
registers free (a 4 x 4 tile needs more than 16 and spilled to the stack); 25
fit in AVX-512's 32, and a batch of 10 is two tiles high, none padded (the
measurements: ``benchmarks/NOTES.md``). The rows and columns a
whole tile does not cover are computed by the same tiles on a copy padded with
zeros (rows) and by one-column tiles (columns). Columns of C come in blocks of
``COLUMN_BLOCK`` so that a block of T's rows stays in cache while every row tile
of S passes over it.

Which entries fall in which tile depends only on the shapes, never on which rows
a call is given, as long as a call's first row is a multiple of ``TILE``. Every
entry is therefore computed by the same instructions however the rows are split
between threads: the results are bitwise identical for any thread count.
"""

import numpy as np
from numba import njit, prange

from loopnet._jit import FIRST_ROW, JIT, JIT_DOT, PARALLEL, use_threads
from loopnet.kernels._vectors import (
    SCALED,
    SGD,
    STORE,
    VECTOR_BYTES,
    _fused_outer_product_blocks,
    _outer_product_blocks,
)

WIDE_TILES = VECTOR_BYTES == 64
"""Whether the dot tiles are 5 x 5, for AVX-512's 32 vector registers: 25 running
sums, the loaded row of S and the rows of T (as memory operands) fit. With AVX2's
16 registers a tile is 4 x 3 (``benchmarks/NOTES.md``)."""

TILE = 5 if WIDE_TILES else 4
"""Rows of C (rows of S) in one register tile; row blocks start at its multiples."""

TILE_COLUMNS = 5 if WIDE_TILES else 3
"""Columns of C (rows of T) in one register tile."""

COLUMN_BLOCK = 60 if WIDE_TILES else 63
"""Columns of C (rows of T) per cache block, a multiple of ``TILE_COLUMNS``: 63
rows of 1024 float64 are 504 KiB."""

MIN_DOT_LENGTH = 32
"""Shortest sum (n_p terms) worth a register tile.

Below it the 12 final horizontal additions of a tile cost more than its
vectorized loop saves, and ``errors._hidden_error`` sums by rows instead.
Measured (one thread, both dtypes) on a [64, 100] hidden error: the tiles won
from 24-64 terms on, the rows below. The weight gradient has its own
threshold, ``MIN_TILED_BATCH``.
"""

MIN_TILED_BATCH = 32
"""Shortest batch whose weight-gradient sums add each term by a fused multiply-add.

Shorter batches (the seeds' mini-batch of 10 among them) add each product and
sum as two IEEE operations, in increasing b, as the seeds' per-example
accumulator does, bit for bit; from this batch on
(``_vectors._fused_outer_product_blocks``) each term is one fused multiply-add,
in increasing b, in blocks of twice the rows, and the sums differ from the
accumulator's by rounding. The hidden errors' sums over m of such a batch go
through the same fused blocks (``errors._hidden_error_rows``).
"""

TRANSPOSE_BLOCK = 16
"""Rows and columns of one block of a transposed copy."""

MIN_PACKED_ROWS = 32
"""Fewest rows a block of a parallel kernel of outer products takes
(``_packed_block_rows``): its packed panels then cost a thirty-second of its
multiply-adds or less."""

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
def _dot_tile_4x3(S, T, C, i, n):
    """Write C[i + r, n + c] = sum_p S[i + r, p] * T[n + c, p] for r in 0..3, c in 0..2.

    Notes
    -----
    The 12 sums live in registers for the whole loop over p; each S[i + r, p] is
    used three times and each T[n + c, p] four times. Vectorized over p (fastmath
    ``reassoc``), each sum is split into partial sums, one per SIMD lane, added
    together at the end.
    """
    s0, s1, s2, s3 = S[i], S[i + 1], S[i + 2], S[i + 3]
    t0, t1, t2 = T[n], T[n + 1], T[n + 2]
    c00 = c01 = c02 = C.dtype.type(0)
    c10 = c11 = c12 = C.dtype.type(0)
    c20 = c21 = c22 = C.dtype.type(0)
    c30 = c31 = c32 = C.dtype.type(0)
    for p in range(S.shape[1]):
        x0, x1, x2, x3 = s0[p], s1[p], s2[p], s3[p]
        y0, y1, y2 = t0[p], t1[p], t2[p]
        c00 += x0 * y0
        c01 += x0 * y1
        c02 += x0 * y2
        c10 += x1 * y0
        c11 += x1 * y1
        c12 += x1 * y2
        c20 += x2 * y0
        c21 += x2 * y1
        c22 += x2 * y2
        c30 += x3 * y0
        c31 += x3 * y1
        c32 += x3 * y2
    C[i, n], C[i, n + 1], C[i, n + 2] = c00, c01, c02
    C[i + 1, n], C[i + 1, n + 1], C[i + 1, n + 2] = c10, c11, c12
    C[i + 2, n], C[i + 2, n + 1], C[i + 2, n + 2] = c20, c21, c22
    C[i + 3, n], C[i + 3, n + 1], C[i + 3, n + 2] = c30, c31, c32


@njit(**JIT_DOT)
def _dot_tile_5x5(S, T, C, i, n):
    """Write C[i + r, n + c] = sum_p S[i + r, p] * T[n + c, p] for r, c in 0..4.

    As ``_dot_tile_4x3``, with 25 sums: each S[i + r, p] is used five times and
    each T[n + c, p] five times.
    """
    s0, s1, s2, s3, s4 = S[i], S[i + 1], S[i + 2], S[i + 3], S[i + 4]
    t0, t1, t2, t3, t4 = T[n], T[n + 1], T[n + 2], T[n + 3], T[n + 4]
    c00 = c01 = c02 = c03 = c04 = C.dtype.type(0)
    c10 = c11 = c12 = c13 = c14 = C.dtype.type(0)
    c20 = c21 = c22 = c23 = c24 = C.dtype.type(0)
    c30 = c31 = c32 = c33 = c34 = C.dtype.type(0)
    c40 = c41 = c42 = c43 = c44 = C.dtype.type(0)
    for p in range(S.shape[1]):
        x0, x1, x2, x3, x4 = s0[p], s1[p], s2[p], s3[p], s4[p]
        y0, y1, y2, y3, y4 = t0[p], t1[p], t2[p], t3[p], t4[p]
        c00 += x0 * y0
        c01 += x0 * y1
        c02 += x0 * y2
        c03 += x0 * y3
        c04 += x0 * y4
        c10 += x1 * y0
        c11 += x1 * y1
        c12 += x1 * y2
        c13 += x1 * y3
        c14 += x1 * y4
        c20 += x2 * y0
        c21 += x2 * y1
        c22 += x2 * y2
        c23 += x2 * y3
        c24 += x2 * y4
        c30 += x3 * y0
        c31 += x3 * y1
        c32 += x3 * y2
        c33 += x3 * y3
        c34 += x3 * y4
        c40 += x4 * y0
        c41 += x4 * y1
        c42 += x4 * y2
        c43 += x4 * y3
        c44 += x4 * y4
    C[i, n], C[i, n + 1], C[i, n + 2] = c00, c01, c02
    C[i, n + 3], C[i, n + 4] = c03, c04
    C[i + 1, n], C[i + 1, n + 1], C[i + 1, n + 2] = c10, c11, c12
    C[i + 1, n + 3], C[i + 1, n + 4] = c13, c14
    C[i + 2, n], C[i + 2, n + 1], C[i + 2, n + 2] = c20, c21, c22
    C[i + 2, n + 3], C[i + 2, n + 4] = c23, c24
    C[i + 3, n], C[i + 3, n + 1], C[i + 3, n + 2] = c30, c31, c32
    C[i + 3, n + 3], C[i + 3, n + 4] = c33, c34
    C[i + 4, n], C[i + 4, n + 1], C[i + 4, n + 2] = c40, c41, c42
    C[i + 4, n + 3], C[i + 4, n + 4] = c43, c44


@njit(**JIT_DOT)
def _dot_column_4(S, T, C, i, n):
    """Write C[i + r, n] = sum_p S[i + r, p] * T[n, p] for r in 0..3: one column's."""
    s0, s1, s2, s3 = S[i], S[i + 1], S[i + 2], S[i + 3]
    t0 = T[n]
    c0 = c1 = c2 = c3 = C.dtype.type(0)
    for p in range(S.shape[1]):
        y0 = t0[p]
        c0 += s0[p] * y0
        c1 += s1[p] * y0
        c2 += s2[p] * y0
        c3 += s3[p] * y0
    C[i, n], C[i + 1, n], C[i + 2, n], C[i + 3, n] = c0, c1, c2, c3


@njit(**JIT_DOT)
def _dot_column_5(S, T, C, i, n):
    """Write C[i + r, n] = sum_p S[i + r, p] * T[n, p] for r in 0..4: one column's."""
    s0, s1, s2, s3, s4 = S[i], S[i + 1], S[i + 2], S[i + 3], S[i + 4]
    t0 = T[n]
    c0 = c1 = c2 = c3 = c4 = C.dtype.type(0)
    for p in range(S.shape[1]):
        y0 = t0[p]
        c0 += s0[p] * y0
        c1 += s1[p] * y0
        c2 += s2[p] * y0
        c3 += s3[p] * y0
        c4 += s4[p] * y0
    C[i, n], C[i + 1, n], C[i + 2, n], C[i + 3, n] = c0, c1, c2, c3
    C[i + 4, n] = c4


_dot_tile = _dot_tile_5x5 if WIDE_TILES else _dot_tile_4x3
"""The register tile of ``TILE`` x ``TILE_COLUMNS`` sums."""

_dot_tile_column = _dot_column_5 if WIDE_TILES else _dot_column_4
"""The tile of one column: ``TILE`` sums."""


@njit(**JIT)
def _dot_row_block(S, T, C, i):
    """Rows i..i+TILE-1 of C[i, n] = sum_p S[i, p] * T[n, p], one tile high.

    Columns are visited in blocks of ``COLUMN_BLOCK``, so that a block of T's
    rows stays in cache while the tiles of the rows pass over it.
    """
    n_n = T.shape[0]
    n_tiled = n_n - n_n % TILE_COLUMNS
    for n_block in range(0, n_n, COLUMN_BLOCK):
        n_block_stop = min(n_block + COLUMN_BLOCK, n_n)
        n_block_tiled = min(n_block_stop, n_tiled)
        for n in range(n_block, n_block_tiled, TILE_COLUMNS):
            _dot_tile(S, T, C, i, n)
        for n in range(n_block_tiled, n_block_stop):
            _dot_tile_column(S, T, C, i, n)


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
    Blocks of ``TILE`` rows of register tiles (``_dot_tile``), one-column tiles
    for the last ``n_n % TILE_COLUMNS`` columns (``_dot_row_block``). The last
    ``n_i % TILE`` rows, fewer than a tile, are copied into a block of ``TILE``
    rows padded with zeros and computed by the same tiles: every entry of C is
    then the same sum, rounded the same way, whatever row of S it comes from, so
    an example's values do not depend on its place in the batch.
    Matrix form: ``S @ T.T``.
    """
    n_i = S.shape[0]
    i_tiled = min(i_stop, n_i - n_i % TILE)
    for i in range(i_start, i_tiled, TILE):
        _dot_row_block(S, T, C, i)
    first = max(i_start, i_tiled)
    n_left = i_stop - first
    if n_left > 0:
        padded = np.empty((TILE, S.shape[1]), dtype=S.dtype)
        _copy_rows(S[first:i_stop], padded)
        padded[n_left:] = 0
        rows = np.empty((TILE, C.shape[1]), dtype=C.dtype)
        _dot_row_block(padded, T, rows, FIRST_ROW)
        _copy_rows(rows[:n_left], C[first:i_stop])


@njit(**JIT)
def _copy_rows(source, target):
    """target[r, c] = source[r, c] for each entry of ``source`` (target may be taller).

    An explicit loop: Numba's ``target[...] = source`` first checks whether the
    two arrays overlap and copies through a temporary when it cannot rule it out,
    which slowed the fused training loop's gather of a mini-batch's rows
    (``benchmarks/NOTES.md``).
    """
    for r in range(source.shape[0]):
        for c in range(source.shape[1]):
            target[r, c] = source[r, c]


@njit(**JIT)
def _outer_product_rows(delta, A_prev, rows, j_start, j_stop):
    """rows[j - j_start, k] = sum_b delta[b, j] A_prev[b, k] for j_start <= j < j_stop.

    Parameters
    ----------
    delta : ndarray, shape (n_batch, n_l)
        Errors of layer l, C-contiguous.
    A_prev : ndarray, shape (n_batch, n_prev)
        Activations of layer l-1, C-contiguous.
    rows : ndarray, shape (j_stop - j_start, n_prev)
        Output, overwritten: rows j_start..j_stop-1 of dW (a block of ``dW``
        itself, or scratch), C-contiguous.
    j_start, j_stop : int
        The rows j of dW to compute.

    Notes
    -----
    In the vector register blocks of ``_vectors``. Every dW[j, k] adds its terms
    one by one in increasing b: below ``MIN_TILED_BATCH`` examples with no fused
    multiply-add, so it equals the seeds' per-example accumulator bit for bit,
    and from it on by fused multiply-adds. Either way an entry's bits depend on
    neither the rows a call is given nor the blocks that compute it.
    Matrix form: ``(delta.T @ A_prev)[j_start:j_stop]``.
    """
    if delta.shape[0] >= MIN_TILED_BATCH:
        _fused_outer_product_blocks(
            delta, A_prev, rows, None, j_start, j_start, j_stop, STORE, ()
        )
    else:
        _outer_product_blocks(
            delta, A_prev, rows, None, j_start, j_start, j_stop, STORE, ()
        )


@njit(**JIT)
def _outer_product_scaled_rows(delta, A_prev, rows, W_rows, scale, l2, j_start, j_stop):
    """rows[j - j_start, k] = scale * (sum_b delta[b, j] A_prev[b, k] + l2 W_rows[...]).

    ``_outer_product_rows`` scaled and regularized as its sums are stored, as
    ``backprop._scale_and_regularize`` would do to them after: the same bits,
    without a second pass over the rows. ``W_rows`` (the layer's weights
    j_start..j_stop-1) has the shape of ``rows``.
    """
    constants = (scale, l2)
    if delta.shape[0] >= MIN_TILED_BATCH:
        _fused_outer_product_blocks(
            delta, A_prev, rows, W_rows, j_start, j_start, j_stop, SCALED, constants
        )
    else:
        _outer_product_blocks(
            delta, A_prev, rows, W_rows, j_start, j_start, j_stop, SCALED, constants
        )


@njit(**JIT)
def _outer_product_sgd_rows(delta, A_prev, W, lr, scale, decay, j_start, j_stop):
    """W[j, k] <- W[j, k] - lr (scale sum_b delta[b, j] A_prev[b, k] + decay W[j, k]).

    The plain SGD step of rows j_start..j_stop-1 of ``W`` (shape (n_l, n_prev),
    C-contiguous, updated in place), taken from the sums of
    ``_outer_product_rows`` while they are still in registers: the same sums and
    the same expression as ``update._sgd_step`` applied to them, so the same bits,
    with no dW written or read.
    """
    constants = (lr, scale, decay)
    if delta.shape[0] >= MIN_TILED_BATCH:
        _fused_outer_product_blocks(
            delta, A_prev, W, None, FIRST_ROW, j_start, j_stop, SGD, constants
        )
    else:
        _outer_product_blocks(
            delta, A_prev, W, None, FIRST_ROW, j_start, j_stop, SGD, constants
        )


@njit(**JIT)
def _fused_product_rows(S_T, T, C, i_start, i_stop):
    """C[i, n] = sum_p S_T[p, i] * T[p, n] for i_start <= i < i_stop, fused.

    Each sum by fused multiply-adds in increasing p, in the blocks of
    ``_vectors._fused_outer_product_blocks``: the bits depend on neither the
    rows asked nor the blocks. ``S_T`` (n_p, n_i) is the left factor
    transposed, ``T`` (n_p, n_n) and ``C`` (n_i, n_n), all C-contiguous.
    Matrix form: ``(S_T.T @ T)[i_start:i_stop]``.
    """
    _fused_outer_product_blocks(S_T, T, C, None, FIRST_ROW, i_start, i_stop, STORE, ())


@njit(**JIT)
def _packed_block_rows(n_rows, multiple):
    """Rows per block when a parallel kernel of outer products splits rows.

    A multiple of ``multiple``, at least ``MIN_PACKED_ROWS``, in at most
    ``PARALLEL_BLOCKS`` blocks. Each block's call packs panels of its operands
    again (``_vectors._outer_product_blocks``), so its rows must be enough to
    pay for them: the ``_block_rows`` of a [100, 784] layer's gradient, 10 rows
    a block, packed A_prev ten times and ran slower on two threads than on one.
    """
    n_blocks = min(PARALLEL_BLOCKS, max(1, n_rows // MIN_PACKED_ROWS))
    per_block = (n_rows + n_blocks - 1) // n_blocks
    return multiple * max(1, (per_block + multiple - 1) // multiple)


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
def _transposed(X, parallel=None):
    """X.T as a new C-contiguous array, XT[c, r] = X[r, c].

    Copies are cheap beside the dot products that use them (n_r * n_c elements
    against n_r * n_c * n_p multiply-adds); they make both factors of every dot
    product contiguous. With ``parallel`` (True, not None), blocks of rows of
    XT go to separate threads above ``MIN_PARALLEL_WORK`` entries.
    """
    n_rows, n_cols = X.shape
    XT = np.empty((n_cols, n_rows), dtype=X.dtype)
    if parallel is not None and use_threads(n_rows * n_cols):
        _transpose_parallel(X, XT)
    else:
        _transpose_rows(X, XT, FIRST_ROW, n_cols)
    return XT
