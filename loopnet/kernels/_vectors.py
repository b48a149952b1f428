r"""The small-batch weight gradient in outer-product blocks of explicit SIMD vectors.

A weight gradient over a small batch,

    dW[j, k] = sum_b delta[b, j] * A_prev[b, k],

runs fastest with the sum over b innermost and its running sums in registers
until the last term, so that no entry of dW is read back and written again per
example. LLVM vectorizes innermost loops only, so as Numba loops that order runs
one lane at a time. Numba has no vector type: the block, ``_outer_block``, is an
intrinsic that emits vector IR itself, in the widest vectors of the CPU Numba
compiles for (``VECTOR_BYTES``: AVX-512's zmm, else AVX's ymm). For each example
b, in increasing order, it loads A_prev[b, k:k + w] once and broadcasts
delta[b, j] once per row:

    sum[i, l] <- sum[i, l] + delta[b, j + i] * A_prev[b, k + l],   sum from +0.

Multiplications and additions stay separate IEEE operations (no fused
multiply-add, nothing reassociated), so each lane adds its terms exactly as the
seeds' per-example accumulator Delta += delta a^T does: the same bits, whatever
the vector width. The block's mode (``FINISH``) then writes each sum as it is,
scaled and regularized (``backprop._scale_and_regularize``'s expression), or as
the SGD step of ``update._sgd_step``, so that dW never exists in memory.

``_outer_product_blocks`` covers the rows and columns with blocks whose shape and
mode are compile-time constants, after checking the arrays' shapes once. Under
``NUMBA_DISABLE_JIT`` the block is a Python loop with the same arithmetic in the
same order, and there every index is checked as Python indexing is.
"""

import math
from fractions import Fraction

import numba
import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.core.codegen import get_host_cpu_features
from numba.extending import intrinsic

from loopnet._jit import JIT
from loopnet.kernels._llvm import call_intrinsic


def _widest_vector_bytes():
    """64 where the CPU Numba compiles for has AVX-512F, else 32.

    The features Numba's code generator uses: ``NUMBA_CPU_FEATURES`` if set,
    else the host's. A cache compiled for other features is never loaded here:
    Numba keys its cache to the CPU name and features.
    """
    features = numba.config.CPU_FEATURES
    if features is None:
        features = get_host_cpu_features()
    return 64 if "+avx512f" in features.split(",") else 32


VECTOR_BYTES = _widest_vector_bytes()
"""Bytes of one vector register: 64 (zmm) with AVX-512, else 32 (ymm)."""

BLOCK_ROWS = 4
"""Rows j of one block: 8 vectors of running sums, with the 2 of A_prev and a
broadcast of delta, 11 vector registers (of AVX2's 16 and AVX-512's 32)."""

BLOCK_VECTORS = 2
"""Vectors of one row of a block."""

BLOCK_BYTES = BLOCK_VECTORS * VECTOR_BYTES
"""Bytes of one row of a block; its columns k are ``BLOCK_BYTES // itemsize``:
one cache line with AVX, 8 columns in float64 and 16 in float32; two lines with
AVX-512, 16 and 32 columns."""

ROW_BLOCKS = 4
"""Block widths of a long row: 8 vectors of running sums, as many as a block's.
A row one block wide has 2, each a chain of additions waiting on the last, and
ran the rows that 30 units leave over a block far below a block's rate."""

LONG_ROW_VECTORS = ROW_BLOCKS * BLOCK_VECTORS
"""Vectors of one long row."""

OUTER_CHUNK_ROWS = 16
"""Rows j of one chunk of blocks (4 blocks)."""

FUSED_BLOCK_ROWS = 8 if VECTOR_BYTES == 64 else 6
"""Rows j of one fused block (``BLOCK_VECTORS`` wide): 16 zmm sums of AVX-512's
32 registers, 12 ymm sums of AVX2's 16, with the 2 vectors of A_prev and a
broadcast of delta beside them. Each term is one instruction, so the sums,
not the loads, must fill the registers."""

FUSED_CHUNK_BLOCKS = 16
"""Blocks of rows whose deltas one packed panel holds: 256 KiB for 256 examples
of float64 with AVX-512, within L2, read again for every block width of A_prev."""

OUTER_CHUNK_BLOCKS = ROW_BLOCKS
"""Block widths of columns k of one chunk of blocks (4 cache lines with AVX, 8
with AVX-512): with 64 examples, at most 32 KiB of A_prev and 8 KiB of delta
(float64), within L1. A row that the chunk's blocks leave over is one long row."""

STORE, SCALED, SGD = 0, 1, 2
"""Modes of a block, indexes of ``FINISH``."""

FINISH = (
    lambda total, w: total,
    lambda total, w, scale, l2: scale * (total + l2 * w),
    lambda total, w, lr, scale, decay: w - lr * (scale * total + decay * w),
)
"""What each mode writes in place of the sum, from it, ``w`` (W[j, k]) and its
constants: the sum, scale * (sum + l2 * w), or w - lr * (scale * sum + decay * w).
The same expression runs on NumPy scalars in Python and on vectors in the IR
(``_Lanes``), each operator one IEEE operation, in Python's order."""


class _Lanes:
    """A vector of the IR whose ``+``, ``-`` and ``*`` are lane-wise IEEE operations."""

    def __init__(self, builder, value):
        self.builder, self.value = builder, value

    def __add__(self, other):
        return _Lanes(self.builder, self.builder.fadd(self.value, other.value))

    def __sub__(self, other):
        return _Lanes(self.builder, self.builder.fsub(self.value, other.value))

    def __mul__(self, other):
        return _Lanes(self.builder, self.builder.fmul(self.value, other.value))


def _emit_block(context, builder, signature, args):
    """IR of ``_outer_block``: the sums over b in vectors, then the mode's writes."""
    delta, a_prev, out, W = (
        None if t == types.none else context.make_array(t)(context, builder, v)
        for t, v in zip(signature.args[:4], args[:4], strict=True)
    )
    W = out if W is None else W
    j, r, k, k_in, n_lanes = args[4:9]
    lanes_type, n_rows, n_vectors, mode, constants_type, fused = signature.args[8:]
    constants = cgutils.unpack_tuple(builder, args[12], len(constants_type))
    scalar = context.get_value_type(signature.args[1].dtype)
    align = context.get_abi_sizeof(scalar)
    width = VECTOR_BYTES // align  # lanes of one vector
    vector, intp, i32 = ir.VectorType(scalar, width), j.type, ir.IntType(32)

    def pointer(array, row, column, to=vector):  # to array[row, column], C order
        n_columns = cgutils.unpack_tuple(builder, array.shape, 2)[1]
        index = builder.add(builder.mul(row, n_columns), column)
        return builder.bitcast(builder.gep(array.data, [index]), to.as_pointer())

    def splat(value):
        zero = ir.Constant(ir.VectorType(value.type, width), None)
        first_lane = builder.insert_element(zero, value, i32(0))
        return builder.shuffle_vector(first_lane, zero, ir.VectorType(i32, width)(None))

    # Every load and store is masked; LLVM makes those of an all-true mask plain.
    if lanes_type == types.none:
        mask = ir.Constant(ir.VectorType(ir.IntType(1), width), [True] * width)
    else:
        indexes = ir.Constant(ir.VectorType(intp, width), list(range(width)))
        mask = builder.icmp_unsigned("<", indexes, splat(n_lanes))

    def at(array, row, h, column=k):  # to the h-th vector of array[row] from column
        return pointer(array, row, builder.add(column, intp(h * width)))

    def load(array, row, h, column=k):  # 0 in the lanes not read
        address = at(array, row, h, column)
        operands = [address, i32(align), mask, vector(None)]
        overloaded = (vector, address.type)
        return _Lanes(
            builder,
            call_intrinsic(builder, "llvm.masked.load", vector, operands, overloaded),
        )

    def store(value, array, row, h):
        address = at(array, row, h)
        operands = [value.value, address, i32(align), mask]
        overloaded = (vector, address.type)
        void = ir.VoidType()
        call_intrinsic(builder, "llvm.masked.store", void, operands, overloaded)

    rows, vectors = range(n_rows.literal_value), range(n_vectors.literal_value)
    sums = [
        [cgutils.alloca_once_value(builder, vector(None)) for _ in vectors]
        for _ in rows
    ]
    n_batch = cgutils.unpack_tuple(builder, delta.shape, 2)[0]
    with cgutils.for_range(builder, n_batch) as b:
        x = [load(a_prev, b.index, h, k_in) for h in vectors]
        for i in rows:
            d = pointer(delta, b.index, builder.add(j, intp(i)), scalar)
            d = _Lanes(builder, splat(builder.load(d)))
            for h in vectors:
                running = builder.load(sums[i][h])
                if fused.literal_value:  # d * x + sum, rounded once
                    operands = [d.value, x[h].value, running]
                    total = call_intrinsic(
                        builder, "llvm.fma", vector, operands, [vector]
                    )
                else:  # sum + d * x: two roundings, as the accumulator
                    total = (_Lanes(builder, running) + d * x[h]).value
                builder.store(total, sums[i][h])
    finish = FINISH[mode.literal_value]
    constants = [_Lanes(builder, splat(c)) for c in constants]
    for i in rows:
        row = builder.add(r, intp(i))
        for h in vectors:
            total = _Lanes(builder, builder.load(sums[i][h]))
            store(finish(total, load(W, row, h), *constants), out, row, h)
    return context.get_dummy_value()


def _exact_fma(x, y, z):
    """x * y + z rounded once to the dtype of the NumPy scalars, as IEEE fma.

    The twin of the hardware's fused multiply-add for Python, where ``math.fma``
    needs 3.13. Rounded to nearest, ties to even; NaN and infinities as
    ``x * y + z``. The exact value is split into floats whose sum it is, an
    error-free transformation (Dekker's product, Knuth's sum), so that one
    correctly rounded sum gives the result; where that cannot be proved (an
    underflow, an overflow, a float32 sum that float64 rounds) it is worked out
    in fractions.
    """
    dtype = type(x)
    if not (np.isfinite(x) and np.isfinite(y) and np.isfinite(z)):
        return dtype(x * y + z)
    a, b, c = float(x), float(y), float(z)
    product = a * b
    splittable = abs(a) < _SAFE_HIGH and abs(b) < _SAFE_HIGH
    if splittable and (_SAFE_LOW < abs(product) < _SAFE_HIGH or product == 0):
        if dtype is np.float64:
            return dtype(math.fsum((product, _product_error(a, b, product), c)))
        total = product + c  # float32 factors: the product is exact in float64
        bb = total - product
        if (product - (total - bb)) + (c - bb) == 0:  # and so is the sum
            return dtype(total)
    return _fraction_fma(dtype, a, b, c)


_SAFE_LOW, _SAFE_HIGH = 2.0**-960, 2.0**960
"""Factors below the high bound split without overflow, and products between
the two have an exact Dekker error term (nothing in it underflows)."""


def _product_error(a, b, product):
    """a * b - product exactly, for ``product`` = a * b rounded (Dekker)."""
    a_high, a_low = _halves(a)
    b_high, b_low = _halves(b)
    high = a_high * b_high - product
    return ((high + a_high * b_low) + a_low * b_high) + a_low * b_low


def _halves(a):
    """a = high + low, each with at most 26 significant bits (Veltkamp)."""
    scaled = 134217729.0 * a  # 2**27 + 1
    high = scaled - (scaled - a)
    return high, a - high


def _fraction_fma(dtype, a, b, c):
    """a * b + c rounded once to ``dtype``, worked out in fractions."""
    exact = Fraction(a) * Fraction(b) + Fraction(c)
    nearest = dtype(float(exact))  # correctly rounded to float64, maybe not below
    if not np.isfinite(nearest):
        return nearest
    candidates = [np.nextafter(nearest, dtype(-np.inf)), nearest]
    candidates.append(np.nextafter(nearest, dtype(np.inf)))
    distance = [abs(Fraction(float(c)) - exact) for c in candidates]
    best = min(distance)
    ties = [c for c, d in zip(candidates, distance, strict=True) if d == best]
    return min(ties, key=lambda c: int(c.view(f"u{c.itemsize}")) & 1)  # even last bit


@intrinsic
def _fma_scalar(ctx, x, y, z):
    """x * y + z rounded once (LLVM's ``llvm.fma``), for floats of one type."""
    if not (x == y == z and x in (types.float32, types.float64)):
        return None

    def emit(context, builder, signature, args):
        kind = context.get_value_type(x)
        return call_intrinsic(builder, "llvm.fma", kind, list(args), [kind])

    return x(x, y, z), emit


if numba.config.DISABLE_JIT:
    fma = _exact_fma
else:
    fma = _fma_scalar
"""x * y + z rounded once, in compiled code and, exactly, in Python."""


if numba.config.DISABLE_JIT:

    def _outer_block(
        delta,
        A_prev,
        out,
        W,
        j,
        r,
        k,
        k_in,
        n_lanes,
        n_rows,
        n_vectors,
        mode,
        constants,
        fused,
    ):
        """The block's arithmetic as Python loops, in the IR's order."""
        W = out if W is None else W
        if n_lanes is None:
            n_lanes = n_vectors * VECTOR_BYTES // A_prev.itemsize
        for i in range(n_rows):
            for column in range(k, k + n_lanes):
                total = A_prev.dtype.type(0)
                for b in range(delta.shape[0]):
                    d, x = delta[b, j + i], A_prev[b, column - k + k_in]
                    total = fma(d, x, total) if fused else total + d * x
                w = W[r + i, column]
                out[r + i, column] = FINISH[mode](total, w, *constants)

else:

    @intrinsic(prefer_literal=True)
    def _outer_block(
        ctx,
        delta,
        A_prev,
        out,
        W,
        j,
        r,
        k,
        k_in,
        n_lanes,
        n_rows,
        n_vectors,
        mode,
        constants,
        fused,
    ):
        """One block: rows j.. by ``n_vectors`` vectors of columns k.., ``n_rows`` high.

        The sums are written as ``FINISH[mode]`` in rows r.. of ``out``, reading W
        (of ``out``'s shape; None: ``out`` itself) there, with ``constants``.
        ``n_rows``, ``n_vectors`` and ``mode`` are literal integers; ``n_lanes``
        None for whole vectors, else the columns of one vector (``n_vectors`` 1),
        masked. Nothing is checked at run time: the caller keeps the block inside
        its arrays.
        """
        arrays = [t for t in (delta, A_prev, out, W) if t != types.none]
        dtype = getattr(A_prev, "dtype", None)
        if not (
            all(isinstance(t, types.IntegerLiteral) for t in (mode, n_rows, n_vectors))
            and (n_lanes == types.none or n_vectors.literal_value == 1)
            and dtype in (types.float32, types.float64)
            and all(isinstance(t, types.Array) for t in arrays)
            and all((t.ndim, t.layout, t.dtype) == (2, "C", dtype) for t in arrays)
            and isinstance(constants, types.BaseTuple)
            and all(t == dtype for t in constants)
            and isinstance(fused, types.BooleanLiteral)
        ):
            return None
        lanes = n_lanes if n_lanes == types.none else types.intp
        indexes = (types.intp,) * 4
        literals = (n_rows, n_vectors, mode)
        operands = (delta, A_prev, out, W, *indexes, lanes, *literals, constants, fused)
        return types.void(*operands), _emit_block


@njit(**JIT)
def _outer_product_blocks(
    delta, A_prev, out, W, first, j_start, j_stop, mode, constants
):
    """dW[j, k] = sum_b delta[b, j] A_prev[b, k], written by ``mode`` in out[j - first].

    For rows j_start <= j < j_stop; ``FINISH[mode]`` (``mode`` a literal integer)
    reads ``W`` (of ``out``'s shape; None: ``out`` itself, to step it or where the
    mode reads nothing) and takes ``constants`` (a tuple of ``A_prev``'s dtype).

    Notes
    -----
    Blocks of ``BLOCK_ROWS`` rows j by one block width of columns k, each entry
    written once; rows the blocks leave over go one at a time, across the
    chunk's widths at once (a long row; one width at a time in a last, narrower
    chunk). Columns left over the block widths go one vector at a time (narrow
    blocks and rows), the last vector masked to the columns that exist. The
    blocks are visited in chunks of ``OUTER_CHUNK_ROWS`` rows by
    ``OUTER_CHUNK_BLOCKS`` widths, so that the chunk's deltas and columns of
    A_prev stay in L1 while its blocks use them again: columns outermost alone
    re-read every delta for each block width, from L2 once the batch holds 64
    examples of a 100-unit layer.

    The blocks read and write through unchecked vector pointers, so the shapes
    are checked here, once per call: ValueError if a block could leave an array.
    """
    _check_blocks(delta, A_prev, out, W, first, j_start, j_stop)
    n_k = A_prev.shape[1]

    # One block of this call's arrays and mode; Numba inlines each call of it, so
    # the shapes reach _outer_block as literals.
    def block(n_rows, n_vectors, j, k, n_lanes):
        r = j - first
        _outer_block(
            delta,
            A_prev,
            out,
            W,
            j,
            r,
            k,
            k,
            n_lanes,
            n_rows,
            n_vectors,
            mode,
            constants,
            False,
        )

    width = BLOCK_BYTES // A_prev.itemsize
    k_blocked = n_k - n_k % width
    j_blocked = j_stop - (j_stop - j_start) % BLOCK_ROWS
    k_chunk = OUTER_CHUNK_BLOCKS * width
    for k_first in range(0, k_blocked, k_chunk):
        k_last = min(k_first + k_chunk, k_blocked)
        for j_first in range(j_start, j_stop, OUTER_CHUNK_ROWS):
            j_last = min(j_first + OUTER_CHUNK_ROWS, j_stop)
            for k in range(k_first, k_last, width):
                for j in range(j_first, min(j_last, j_blocked), BLOCK_ROWS):
                    block(BLOCK_ROWS, BLOCK_VECTORS, j, k, None)
            for j in range(max(j_first, j_blocked), j_last):
                if k_last - k_first == k_chunk:
                    block(1, LONG_ROW_VECTORS, j, k_first, None)
                else:
                    for k in range(k_first, k_last, width):
                        block(1, BLOCK_VECTORS, j, k, None)
    lanes = width // BLOCK_VECTORS
    for k in range(k_blocked, n_k, lanes):
        n_lanes = min(lanes, n_k - k)
        for j in range(j_start, j_blocked, BLOCK_ROWS):
            block(BLOCK_ROWS, 1, j, k, n_lanes)
        for j in range(j_blocked, j_stop):
            block(1, 1, j, k, n_lanes)


@njit(**JIT)
def _fused_outer_product_blocks(
    delta, A_prev, out, W, first, j_start, j_stop, mode, constants
):
    """``_outer_product_blocks`` with every term added by a fused multiply-add.

    dW[j, k] = fma(delta[b, j], A_prev[b, k], dW[j, k]) for b = 0, 1, ...: each
    product rounded with its sum, once, so the sums differ from the seeds'
    accumulator by rounding. Each entry is the same chain of fused
    multiply-adds whatever block computes it, so the bits depend on neither the
    rows a call is given nor the vector width.

    Notes
    -----
    The blocks are ``FUSED_BLOCK_ROWS`` rows j high: twice the sums of an exact
    block per loaded vector of A_prev, one instruction per term. As GEMM
    libraries do, both operands are first copied into panels in the order the
    blocks read them: the deltas of ``FUSED_CHUNK_BLOCKS`` blocks of rows, block
    by block (``_pack_blocks``), and one block width of A_prev's columns
    (``_pack_columns``), which every block of the chunk then reads from L1.
    Read in place, a block's deltas and columns lie a row apart, a page apart
    for a wide layer, and a batch needs more pages than the first-level TLB
    holds. Rows left over the blocks go ``BLOCK_ROWS`` and then one at a time,
    from ``delta`` itself.
    """
    _check_blocks(delta, A_prev, out, W, first, j_start, j_stop)
    n_batch, n_k = A_prev.shape

    # One block of this call's arrays and mode: rows j.. of out from rows
    # j_source.. of ``source`` (delta, or a block of its panel) and the panel of
    # columns k..; inlined, so the shapes reach _outer_block as literals.
    def block(source, j_source, panel, n_rows, n_vectors, j, k, k_in, n_lanes):
        _outer_block(
            source,
            panel,
            out,
            W,
            j_source,
            j - first,
            k,
            k_in,
            n_lanes,
            n_rows,
            n_vectors,
            mode,
            constants,
            True,
        )

    width = BLOCK_BYTES // A_prev.itemsize
    lanes = width // BLOCK_VECTORS

    # The blocks of rows j.. across the panel of columns k.. (n_columns of them).
    def across(source, j_source, panel, n_rows, j, k, n_columns):
        if n_columns == width:
            block(source, j_source, panel, n_rows, BLOCK_VECTORS, j, k, 0, None)
        else:
            for h in range(0, n_columns, lanes):
                n_lanes = min(lanes, n_columns - h)
                block(source, j_source, panel, n_rows, 1, j, k + h, h, n_lanes)

    rows = FUSED_BLOCK_ROWS
    n_blocks = (j_stop - j_start) // rows
    panel = np.empty((n_batch, width), dtype=A_prev.dtype)
    deltas = np.empty((min(n_blocks, FUSED_CHUNK_BLOCKS), n_batch, rows), delta.dtype)
    for first_block in range(0, n_blocks, FUSED_CHUNK_BLOCKS):
        n_chunk = min(FUSED_CHUNK_BLOCKS, n_blocks - first_block)
        j_chunk = j_start + first_block * rows
        _pack_blocks(delta, j_chunk, deltas[:n_chunk])
        for k in range(0, n_k, width):
            n_columns = min(width, n_k - k)
            _pack_columns(A_prev, k, n_columns, panel)
            for i in range(n_chunk):
                j = j_chunk + i * rows
                across(deltas[i], 0, panel, rows, j, k, n_columns)
    j_blocked = j_start + n_blocks * rows
    j_quads = j_stop - (j_stop - j_blocked) % BLOCK_ROWS
    if j_blocked < j_stop:
        for k in range(0, n_k, width):
            n_columns = min(width, n_k - k)
            _pack_columns(A_prev, k, n_columns, panel)
            for j in range(j_blocked, j_quads, BLOCK_ROWS):
                across(delta, j, panel, BLOCK_ROWS, j, k, n_columns)
            for j in range(j_quads, j_stop):
                across(delta, j, panel, 1, j, k, n_columns)


@njit(**JIT)
def _pack_blocks(delta, j_chunk, deltas):
    """deltas[i, b, r] = delta[b, j_chunk + i * rows + r]: blocks of rows, packed."""
    n_blocks, n_batch, rows = deltas.shape
    for i in range(n_blocks):
        for b in range(n_batch):
            for r in range(rows):
                deltas[i, b, r] = delta[b, j_chunk + i * rows + r]


@njit(**JIT)
def _pack_columns(A_prev, k, n_columns, panel):
    """panel[b, c] = A_prev[b, k + c] for c < n_columns: a width of A_prev, packed."""
    for b in range(A_prev.shape[0]):
        for c in range(n_columns):
            panel[b, c] = A_prev[b, k + c]


@njit(**JIT)
def _check_blocks(delta, A_prev, out, W, first, j_start, j_stop):
    """ValueError unless blocks of rows j_start..j_stop-1 stay inside the arrays.

    The blocks read and write through unchecked vector pointers.
    """
    if not (
        A_prev.shape[0] == delta.shape[0]
        and out.shape[1] == A_prev.shape[1]
        and 0 <= first <= j_start <= j_stop <= delta.shape[1]
        and j_stop - first <= out.shape[0]
    ):
        raise ValueError("outer-product blocks: delta, A_prev and out do not match")
    if W is not None and W.shape != out.shape:
        raise ValueError("outer-product blocks: W and out do not match")
