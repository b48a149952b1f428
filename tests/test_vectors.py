"""The vector register blocks of ``loopnet.kernels._vectors`` and their traversals.

Each exact block adds the terms delta[b, j] * A_prev[b, k] of a weight gradient
in increasing b with separate IEEE multiplications and additions, so the sums,
and the SGD step taken from them, equal the seeds' per-example accumulator bit
for bit, whatever rows, columns and chunks the blocks and the entries left over
cover. Each fused block adds them by fused multiply-adds, in increasing b: the
chain of ``fma`` per entry, bit for bit, whatever block computes it.
"""

import numpy as np
import pytest
from llvmlite import binding
from numba import njit

from loopnet.kernels._tiles import (
    MIN_TILED_BATCH,
    _outer_product_rows,
    _outer_product_scaled_rows,
    _outer_product_sgd_rows,
)
from loopnet.kernels._vectors import (
    BLOCK_BYTES,
    BLOCK_ROWS,
    BLOCK_VECTORS,
    FUSED_BLOCK_ROWS,
    OUTER_CHUNK_BLOCKS,
    OUTER_CHUNK_ROWS,
    SCALED,
    SGD,
    STORE,
    VECTOR_BYTES,
    _exact_fma,
    _fused_outer_product_blocks,
    _outer_block,
    fma,
)
from tests.helpers import DTYPES, NO_JIT

WIDE = BLOCK_BYTES // 4  # float32 columns of a block width, two of float64's
LANES = VECTOR_BYTES // 4  # float32 columns of one vector

# (n_batch, n_l, n_prev): batch 1; whole blocks only; rows and columns left over,
# by whole vectors (narrow blocks) and entries; more than one chunk of rows and
# of block widths (float64 and float32).
SHAPES = [
    (1, 1, 1),
    (1, BLOCK_ROWS, 2 * WIDE),
    (3, 5, 7),
    (10, 30, 784),
    (
        MIN_TILED_BATCH - 1,
        OUTER_CHUNK_ROWS + BLOCK_ROWS + 1,
        WIDE * OUTER_CHUNK_BLOCKS + WIDE + 5,
    ),
    (13, 41, 70),
    (5, 2 * BLOCK_ROWS + 3, 2 * WIDE + LANES + 3),
]


def accumulated(delta, A_prev):
    """Delta += delta_b a_b^T for b = 0, 1, ...: the seeds' accumulator in NumPy."""
    dW = np.zeros((delta.shape[1], A_prev.shape[1]), dtype=A_prev.dtype)
    for d, a in zip(delta, A_prev, strict=True):
        dW += np.multiply.outer(d, a)
    return dW


@pytest.fixture(
    params=[(d, s) for d in DTYPES for s in SHAPES],
    ids=lambda p: f"{np.dtype(p[0]).name}-{'x'.join(map(str, p[1]))}",
)
def problem(request, rng):
    """delta and A_prev of one dtype and shape (n_batch, n_l, n_prev)."""
    dtype, (n_batch, n_l, n_prev) = request.param
    delta = rng.standard_normal((n_batch, n_l)).astype(dtype)
    return delta, rng.random((n_batch, n_prev)).astype(dtype)


def test_outer_products_equal_the_per_example_accumulator(problem):
    delta, A_prev = problem
    (n_l, n_prev), dtype = (delta.shape[1], A_prev.shape[1]), A_prev.dtype
    exact = accumulated(delta, A_prev)
    rows = np.full((n_l, n_prev), np.nan, dtype=dtype)
    _outer_product_rows(delta, A_prev, rows, 0, n_l)
    np.testing.assert_array_equal(rows, exact)
    j_start = min(BLOCK_ROWS, n_l - 1)  # a range that does not start at row 0
    part = np.full((n_l - j_start, n_prev), np.nan, dtype=dtype)
    _outer_product_rows(delta, A_prev, part, j_start, n_l)
    np.testing.assert_array_equal(part, exact[j_start:])


def test_sgd_from_the_blocks_equals_the_step_from_the_sums(rng, problem):
    delta, A_prev = problem
    (n_batch, n_l), n_prev = delta.shape, A_prev.shape[1]
    W = rng.standard_normal((n_l, n_prev)).astype(A_prev.dtype)
    to = A_prev.dtype.type
    lr, scale, decay = to(0.3), to(1) / to(n_batch), to(0.01)
    expected = W - lr * (scale * accumulated(delta, A_prev) + decay * W)
    j_start = min(BLOCK_ROWS, n_l - 1)
    stepped = W.copy()
    _outer_product_sgd_rows(delta, A_prev, stepped, lr, scale, decay, j_start, n_l)
    np.testing.assert_array_equal(stepped[j_start:], expected[j_start:])
    np.testing.assert_array_equal(stepped[:j_start], W[:j_start])  # rows not asked


def test_scaled_blocks_equal_the_scale_after_the_sums(rng, problem):
    delta, A_prev = problem
    (n_batch, n_l), n_prev = delta.shape, A_prev.shape[1]
    W = rng.standard_normal((n_l, n_prev)).astype(A_prev.dtype)
    to = A_prev.dtype.type
    scale, l2 = to(1) / to(n_batch), to(0.01)
    expected = scale * (accumulated(delta, A_prev) + l2 * W)
    j_start = min(BLOCK_ROWS, n_l - 1)
    rows = np.full((n_l - j_start, n_prev), np.nan, dtype=A_prev.dtype)
    _outer_product_scaled_rows(
        delta, A_prev, rows, W[j_start:], scale, l2, j_start, n_l
    )
    np.testing.assert_array_equal(rows, expected[j_start:])


def test_scaled_blocks_refuse_weights_of_another_shape():
    delta, A_prev, rows = np.ones((3, 5)), np.ones((3, 16)), np.zeros((5, 16))
    with pytest.raises(ValueError, match="W and out do not match"):
        _outer_product_scaled_rows(
            delta, A_prev, rows, np.ones((4, 16)), 1.0, 0.0, 0, 5
        )


@pytest.mark.parametrize(
    "A_rows, rows_shape, j_start, j_stop",
    [
        (2, (5, 16), 0, 5),  # A_prev with fewer examples than delta
        (3, (5, 15), 0, 5),  # out narrower than A_prev
        (3, (4, 16), 0, 5),  # fewer rows of out than rows asked
        (3, (5, 16), 0, 6),  # rows beyond delta's units
        (3, (5, 16), 3, 2),  # a range that ends before it starts
    ],
)
def test_blocks_refuse_arrays_they_could_leave(A_rows, rows_shape, j_start, j_stop):
    delta = np.ones((3, 5))
    A_prev = np.ones((A_rows, 16))
    rows = np.zeros(rows_shape)
    with pytest.raises(ValueError, match="do not match"):
        _outer_product_rows(delta, A_prev, rows, j_start, j_stop)
    W = np.zeros(rows_shape)
    with pytest.raises(ValueError, match="do not match"):
        _outer_product_sgd_rows(delta, A_prev, W, 0.1, 1.0, 0.0, j_start, j_stop)


@pytest.mark.skipif(NO_JIT, reason="no machine code under NUMBA_DISABLE_JIT")
@pytest.mark.skipif(
    not binding.get_host_cpu_features().flatten().count("+avx2"),
    reason="the blocks' vectors are AVX or AVX-512 registers; this CPU has no AVX2",
)
@pytest.mark.skipif(
    VECTOR_BYTES == 64 and not binding.get_host_cpu_name().startswith("znver"),
    reason="LLVM splits 64-byte vectors into ymm pairs on the Intel cores it tunes "
    "for 256-bit vectors; checked on AMD's AVX-512 cores",
)
@pytest.mark.parametrize("dtype, suffix", [(np.float64, "pd"), (np.float32, "ps")])
def test_a_block_runs_in_the_widest_vectors_without_fused_multiply_adds(dtype, suffix):
    """The products and sums are whole zmm (AVX-512) or ymm registers, never fused."""

    @njit(cache=False)
    def one_block(out, delta, A_prev):  # rows 0.. by whole vectors from column 0
        _outer_block(
            delta,
            A_prev,
            out,
            out,
            0,
            0,
            0,
            0,
            None,
            BLOCK_ROWS,
            BLOCK_VECTORS,
            STORE,
            (),
            False,
        )

    width = BLOCK_BYTES // np.dtype(dtype).itemsize
    delta = np.ones((3, BLOCK_ROWS), dtype=dtype)
    A_prev = np.ones((3, width), dtype=dtype)
    rows = np.empty((BLOCK_ROWS, width), dtype=dtype)
    one_block(rows, delta, A_prev)
    np.testing.assert_array_equal(rows, 3)
    assembly = next(iter(one_block.inspect_asm().values()))
    register = "%zmm" if VECTOR_BYTES == 64 else "%ymm"
    products = [line for line in assembly.splitlines() if f"vmul{suffix}" in line]
    assert products and all(register in line for line in products)
    assert f"vadd{suffix}" in assembly
    assert "vfmadd" not in assembly and "vfnmadd" not in assembly


# The fused blocks: every term one fused multiply-add, in increasing b.
FUSED_SHAPES = [
    *SHAPES,
    (MIN_TILED_BATCH, FUSED_BLOCK_ROWS + 3, 2 * WIDE + LANES + 3),
    (7, 2 * FUSED_BLOCK_ROWS, WIDE),
]
if NO_JIT:  # each term is an exact fraction in Python: keep to small sums
    FUSED_SHAPES = [s for s in FUSED_SHAPES if s[0] * s[1] * s[2] <= 30_000]


@njit
def fused_chains(delta, A_prev):
    """dW[j, k] = fma(delta[b, j], A_prev[b, k], dW[j, k]) for b = 0, 1, ..."""
    dW = np.zeros((delta.shape[1], A_prev.shape[1]), dtype=A_prev.dtype)
    for j in range(dW.shape[0]):
        for k in range(dW.shape[1]):
            total = dW.dtype.type(0)
            for b in range(delta.shape[0]):
                total = fma(delta[b, j], A_prev[b, k], total)
            dW[j, k] = total
    return dW


@njit
def fused_store(delta, A_prev, rows, j_start, j_stop):
    """The fused blocks' sums of rows j_start..j_stop-1 into ``rows``."""
    _fused_outer_product_blocks(
        delta, A_prev, rows, None, j_start, j_start, j_stop, STORE, ()
    )


@njit
def fused_scaled(delta, A_prev, rows, W, scale, l2):
    """The fused blocks' scale * (sum + l2 * W) of every row into ``rows``."""
    n_l = delta.shape[1]
    _fused_outer_product_blocks(delta, A_prev, rows, W, 0, 0, n_l, SCALED, (scale, l2))


@njit
def fused_sgd(delta, A_prev, W, lr, scale, decay):
    """The fused blocks' SGD step of every row of ``W``, in place."""
    n_l = delta.shape[1]
    _fused_outer_product_blocks(
        delta, A_prev, W, None, 0, 0, n_l, SGD, (lr, scale, decay)
    )


@pytest.fixture(
    params=[(d, s) for d in DTYPES for s in FUSED_SHAPES],
    ids=lambda p: f"{np.dtype(p[0]).name}-{'x'.join(map(str, p[1]))}",
)
def fused_problem(request, rng):
    """delta, A_prev and their fused chains, one dtype and shape."""
    dtype, (n_batch, n_l, n_prev) = request.param
    delta = rng.standard_normal((n_batch, n_l)).astype(dtype)
    A_prev = rng.random((n_batch, n_prev)).astype(dtype)
    return delta, A_prev, fused_chains(delta, A_prev)


def test_fused_blocks_are_chains_of_fused_multiply_adds(fused_problem):
    """Every entry, whatever block or leftover row or column computes it."""
    delta, A_prev, chains = fused_problem
    n_l = delta.shape[1]
    for j_start in (0, min(FUSED_BLOCK_ROWS - 1, n_l - 1)):
        rows = np.full((n_l - j_start, A_prev.shape[1]), np.nan, dtype=A_prev.dtype)
        fused_store(delta, A_prev, rows, j_start, n_l)
        np.testing.assert_array_equal(rows, chains[j_start:])


def test_fused_blocks_finish_as_the_exact_ones(rng, fused_problem):
    """The scaled sums and the SGD step: the modes' expressions on the chains."""
    delta, A_prev, chains = fused_problem
    n_batch = delta.shape[0]
    to = A_prev.dtype.type
    W = rng.standard_normal(chains.shape).astype(A_prev.dtype)
    scale, l2, lr = to(1) / to(n_batch), to(0.01), to(0.3)
    rows = np.full_like(W, np.nan)
    fused_scaled(delta, A_prev, rows, W, scale, l2)
    np.testing.assert_array_equal(rows, scale * (chains + l2 * W))
    stepped = W.copy()
    fused_sgd(delta, A_prev, stepped, lr, scale, l2)
    np.testing.assert_array_equal(stepped, W - lr * (scale * chains + l2 * W))


@pytest.mark.parametrize("dtype", DTYPES)
def test_the_sums_fuse_from_min_tiled_batch_on(rng, dtype):
    """Below it the seeds' accumulator, bit for bit; from it on the fused chains."""
    for n_batch in (MIN_TILED_BATCH - 1, MIN_TILED_BATCH):
        delta = rng.standard_normal((n_batch, 9)).astype(dtype)
        A_prev = rng.random((n_batch, 21)).astype(dtype)
        rows = np.empty((9, 21), dtype=dtype)
        _outer_product_rows(delta, A_prev, rows, 0, 9)
        exact, chains = accumulated(delta, A_prev), fused_chains(delta, A_prev)
        assert np.any(exact != chains)  # so the two forms can be told apart
        expected = exact if n_batch < MIN_TILED_BATCH else chains
        np.testing.assert_array_equal(rows, expected)


@pytest.mark.skipif(NO_JIT, reason="the hardware's fma runs in compiled code only")
@pytest.mark.parametrize("dtype", DTYPES)
def test_the_python_fma_is_the_hardware_one(rng, dtype):
    """``_exact_fma`` (NUMBA_DISABLE_JIT's) rounds as the CPU's fused multiply-add.

    Cancelling sums (z = -x * y rounded) and ties at float32's precision among
    random triples.
    """
    x = rng.standard_normal(400).astype(dtype)
    y = rng.standard_normal(400).astype(dtype)
    z = np.concatenate(
        [rng.standard_normal(200), -(x[200:] * y[200:])]  # cancellation
    ).astype(dtype)
    hardware = njit(lambda a, b, c: fma(a, b, c))
    for a, b, c in zip(x, y, z, strict=True):
        assert _exact_fma(a, b, c) == hardware(a, b, c)
        assert type(_exact_fma(a, b, c)) is np.dtype(dtype).type
    info, one = np.finfo(dtype), dtype(1)
    edges = [
        (one + info.eps, one - info.eps, -one),  # only the rounded-off bits remain
        (info.tiny, dtype(0.75), info.smallest_subnormal),  # subnormal results
        (info.max / 4, dtype(3), -info.max / 2),  # a product beyond the range
        (dtype(1e-30), dtype(1e-30), one),  # a product far below the sum
        (dtype(0), dtype(5), dtype(-0.0)),
        (info.max / 2, dtype(2) ** -60, info.tiny),  # a factor too large to split
    ]
    for a, b, c in (map(dtype, edge) for edge in edges):  # NumPy 1 widens some
        assert _exact_fma(a, b, c) == hardware(a, b, c), (a, b, c)


@pytest.mark.skipif(NO_JIT, reason="no machine code under NUMBA_DISABLE_JIT")
@pytest.mark.skipif(
    not binding.get_host_cpu_features().flatten().count("+fma"),
    reason="this CPU has no fused multiply-add",
)
def test_a_fused_block_runs_as_fused_multiply_adds():
    fused_rows = njit(cache=False)(fused_store.py_func)
    delta = np.ones((3, FUSED_BLOCK_ROWS))
    A_prev = np.ones((3, BLOCK_BYTES // 8))
    rows = np.empty((FUSED_BLOCK_ROWS, BLOCK_BYTES // 8))
    fused_rows(delta, A_prev, rows, 0, FUSED_BLOCK_ROWS)
    np.testing.assert_array_equal(rows, 3)
    assembly = next(iter(fused_rows.inspect_asm().values()))
    assert "vfmadd" in assembly
