r"""Outer-product register blocks in explicit SIMD vectors, emitted as LLVM IR.

A weight gradient over a small batch,

    dW[j, k] = sum_b delta[b, j] * A_prev[b, k],

runs fastest with the sum over b innermost and its running sums in registers
until the last term, so that no entry of dW is read back and written again per
example. LLVM vectorizes innermost loops only, so as Numba loops that order runs
one lane at a time. Numba has no vector type: these blocks are Numba intrinsics
that emit the vector code themselves, in the widest vectors of the CPU Numba
compiles for (``VECTOR_BYTES``: AVX-512's zmm where it has them, else AVX's ymm).
A block is ``BLOCK_ROWS`` rows j by ``BLOCK_VECTORS`` vectors of columns k
(``BLOCK_BYTES``); for each example b, in increasing order, it loads
A_prev[b, k:k + w] once and broadcasts delta[b, j] once per row:

    sum[i, l] <- sum[i, l] + delta[b, j + i] * A_prev[b, k + l],   sum from +0.

Multiplications and additions stay separate IEEE operations (no fused
multiply-add, nothing reassociated), so each lane adds its terms exactly as the
seeds' per-example accumulator Delta += delta a^T does: the same bits, whatever
the vector width.

``_outer_block``, ``_outer_row`` (one row), ``_outer_long_row`` (one row by
``ROW_BLOCKS`` block widths, for the rows a whole block does not cover) and
``_outer_narrow_block``, ``_outer_narrow_row`` (one vector wide, for columns left
over a block width: only its first ``n_lanes`` lanes are read and written, by
masked loads and stores) store the sums in rows r.. of ``out``; the ``_scaled``
forms store scale * (sum + l2 * W[r, k]), the scaled and regularized gradient
of ``backprop._scale_and_regularize``, without a second pass over it; the
``_sgd`` forms step the weights with them at once,
W[j, k] <- W[j, k] - lr * (scale * sum + decay * W[j, k]), the expression of
``update._sgd_step``, so that dW never exists in memory.

The callers keep every block inside its arrays (rows j.. of ``delta``, r.. of
``out`` and the vectors of columns k.., or the ``n_lanes`` columns k.. of a narrow
block, exist); the intrinsics do not check. Under
``NUMBA_DISABLE_JIT`` the same names are Python loops with the same arithmetic in
the same order, and there every index is checked as Python indexing is.
"""

import numba
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.core.codegen import get_host_cpu_features
from numba.extending import intrinsic


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
ran the rows that 30 units leave over a block at a third of a block's rate."""


STORE, SCALED, SGD = 0, 1, 2
"""What a block does with its sums: store them, store them scaled and
regularized, or step the weights by them."""


def _python_block(out, delta, A_prev, j, r, k, n_rows, n_vectors, finish, n_lanes=None):
    """The blocks' arithmetic as Python loops, for ``NUMBA_DISABLE_JIT``.

    ``finish``: None to store the sums, ``(SCALED, W, scale, l2)`` or ``(SGD, lr,
    scale, decay)``. ``n_lanes``: the columns of a narrow (masked) block; else
    ``n_vectors`` whole vectors.
    """
    zero = A_prev.dtype.type(0)
    if n_lanes is None:
        n_lanes = n_vectors * VECTOR_BYTES // A_prev.itemsize
    for i in range(n_rows):
        for column in range(k, k + n_lanes):
            total = zero
            for b in range(delta.shape[0]):
                total = total + delta[b, j + i] * A_prev[b, column]
            if finish is None:
                out[r + i, column] = total
            elif finish[0] == SCALED:
                _, W, scale, l2 = finish
                out[r + i, column] = scale * (total + l2 * W[r + i, column])
            else:
                _, lr, scale, decay = finish
                w = out[r + i, column]
                out[r + i, column] = w - lr * (scale * total + decay * w)


class _BlockBuilder:
    """IR helpers of one block: element pointers, vector loads, broadcasts."""

    def __init__(self, context, builder, dtype):
        self.context, self.builder = context, builder
        scalar = context.get_value_type(dtype)
        self.align = context.get_abi_sizeof(scalar)
        self.width = VECTOR_BYTES // self.align  # lanes of one vector
        self.vector = ir.VectorType(scalar, self.width)
        self.intp = context.get_value_type(types.intp)

    def pointer(self, array_type, array, row, column):
        """Pointer to ``array[row, column]`` of a C-contiguous 2-D array."""
        view = self.context.make_array(array_type)(self.context, self.builder, array)
        shape = cgutils.unpack_tuple(self.builder, view.shape, 2)
        strides = cgutils.unpack_tuple(self.builder, view.strides, 2)
        return cgutils.get_item_pointer2(
            self.context, self.builder, view.data, shape, strides, "C", [row, column]
        )

    def vector_pointer(self, array_type, array, row, column, index):
        """Pointer to the vector of ``array[row]`` at column + index * width."""
        column = self.builder.add(column, self.intp(index * self.width))
        element = self.pointer(array_type, array, row, column)
        return self.builder.bitcast(element, self.vector.as_pointer())

    def splat(self, value, vector=None):
        """A vector (of type ``vector``, the block's by default) of ``value``."""
        vector = vector or self.vector
        lanes = ir.Constant(ir.VectorType(ir.IntType(32), self.width), [0] * self.width)
        zero = ir.Constant(vector, None)
        first = self.builder.insert_element(zero, value, ir.IntType(32)(0))
        return self.builder.shuffle_vector(first, zero, lanes)

    def lane_mask(self, n_lanes):
        """The mask of a vector's first ``n_lanes`` (an intp) lanes."""
        indexes = ir.VectorType(self.intp, self.width)
        lanes = ir.Constant(indexes, list(range(self.width)))
        return self.builder.icmp_unsigned("<", lanes, self.splat(n_lanes, indexes))

    def _masked(self, operation, *argument_types):
        """The declaration of LLVM's ``llvm.masked.<operation>`` for the vector."""
        scalar = self.vector.element
        bits = 32 if isinstance(scalar, ir.FloatType) else 64
        name = f"llvm.masked.{operation}.v{self.width}f{bits}.p0"
        result = self.vector if operation == "load" else ir.VoidType()
        type_ = ir.FunctionType(result, argument_types)
        return cgutils.get_or_insert_function(self.builder.module, type_, name)

    def load(self, pointer, mask):
        """The vector at ``pointer``; with a ``mask``, its lanes only (others 0)."""
        if mask is None:
            return self.builder.load(pointer, align=self.align)
        function = self._masked(
            "load", pointer.type, ir.IntType(32), mask.type, self.vector
        )
        zero = ir.Constant(self.vector, None)
        return self.builder.call(
            function, [pointer, ir.IntType(32)(self.align), mask, zero]
        )

    def store(self, value, pointer, mask):
        """Store ``value`` at ``pointer``; with a ``mask``, its lanes only."""
        if mask is None:
            self.builder.store(value, pointer, align=self.align)
            return
        function = self._masked(
            "store", self.vector, pointer.type, ir.IntType(32), mask.type
        )
        self.builder.call(function, [value, pointer, ir.IntType(32)(self.align), mask])

    def rows(self, array_type, array):
        """The first dimension of a 2-D array."""
        view = self.context.make_array(array_type)(self.context, self.builder, array)
        return cgutils.unpack_tuple(self.builder, view.shape, 2)[0]


def _emit_block(context, builder, signature, args, n_rows, n_vectors, mode, masked):
    """IR of one block: the sums over b in vectors, then finished as ``mode``."""
    out_type, delta_type, a_type = signature.args[:3]
    out, delta, a_prev, j, r, k = args[:6]
    ir_ = _BlockBuilder(context, builder, a_type.dtype)
    mask = ir_.lane_mask(args[6]) if masked else None
    first = 7 if masked else 6  # of the arguments of mode
    finish, finish_types = args[first:], signature.args[first:]
    vectors = range(n_vectors)  # the vectors of one row
    sums = [
        [
            cgutils.alloca_once_value(builder, ir.Constant(ir_.vector, None))
            for _ in vectors
        ]
        for _ in range(n_rows)
    ]
    with cgutils.for_range(builder, ir_.rows(delta_type, delta)) as loop:
        b = loop.index
        x = [
            ir_.load(ir_.vector_pointer(a_type, a_prev, b, k, h), mask) for h in vectors
        ]
        for i in range(n_rows):
            row = builder.add(j, ir_.intp(i))
            d = ir_.splat(builder.load(ir_.pointer(delta_type, delta, b, row)))
            for h in vectors:  # sum + d * x: two roundings, as the accumulator
                total = builder.fadd(builder.load(sums[i][h]), builder.fmul(d, x[h]))
                builder.store(total, sums[i][h])
    if mode == SCALED:
        W_type, W = finish_types[0], finish[0]
        scale, l2 = (ir_.splat(constant) for constant in finish[1:])
    elif mode == SGD:
        lr, scale, decay = (ir_.splat(constant) for constant in finish)
    for i in range(n_rows):
        row = builder.add(r, ir_.intp(i))
        for h in vectors:
            target = ir_.vector_pointer(out_type, out, row, k, h)
            total = builder.load(sums[i][h])
            if mode == SCALED:  # scale * (sum + l2 * w), as _scale_and_regularize
                w = ir_.load(ir_.vector_pointer(W_type, W, row, k, h), mask)
                total = builder.fmul(scale, builder.fadd(total, builder.fmul(l2, w)))
            elif mode == SGD:  # w - lr * (scale * sum + decay * w), as _sgd_step
                w = ir_.load(target, mask)
                gradient = builder.fadd(
                    builder.fmul(scale, total), builder.fmul(decay, w)
                )
                total = builder.fsub(w, builder.fmul(lr, gradient))
            ir_.store(total, target, mask)
    return context.get_dummy_value()


def _check_block_types(*arrays):
    """Whether array types suit a block: 2-D, C-contiguous, one float dtype.

    ``arrays`` are ``out, delta, a_prev`` and, for a scaled block, ``W``.
    """
    dtype = arrays[2].dtype
    return all(
        isinstance(t, types.Array)
        and t.ndim == 2
        and t.layout == "C"
        and t.dtype == dtype
        and t.dtype in (types.float32, types.float64)
        for t in arrays
    )


def _make_block(n_rows, n_vectors, mode, masked=False):
    """The intrinsic of ``n_rows`` rows by ``n_vectors`` vectors, finished as ``mode``.

    A ``masked`` block (one vector) takes ``n_lanes`` after ``k``; a ``SCALED``
    block then takes ``W, scale, l2``, an ``SGD`` block ``lr, scale, decay``.
    """

    def codegen(context, builder, signature, args):
        return _emit_block(
            context, builder, signature, args, n_rows, n_vectors, mode, masked
        )

    def signature(out, delta, a_prev, finish):
        arrays, constants = (out, delta, a_prev), finish
        if mode == SCALED:
            arrays, constants = (*arrays, finish[0]), finish[1:]
        if not _check_block_types(*arrays):
            return None
        if any(t != a_prev.dtype for t in constants):
            return None
        index = (types.intp,) * (4 if masked else 3)
        return types.void(out, delta, a_prev, *index, *finish), codegen

    if mode != STORE and masked:

        def typer(typingctx, out, delta, a_prev, j, r, k, n_lanes, f0, f1, f2):
            return signature(out, delta, a_prev, (f0, f1, f2))

    elif mode != STORE:

        def typer(typingctx, out, delta, a_prev, j, r, k, f0, f1, f2):
            return signature(out, delta, a_prev, (f0, f1, f2))

    elif masked:

        def typer(typingctx, out, delta, a_prev, j, r, k, n_lanes):
            return signature(out, delta, a_prev, ())

    else:

        def typer(typingctx, out, delta, a_prev, j, r, k):
            return signature(out, delta, a_prev, ())

    return typer


if numba.config.DISABLE_JIT:

    def _outer_block(rows, delta, A_prev, j, r, k):
        _python_block(rows, delta, A_prev, j, r, k, BLOCK_ROWS, BLOCK_VECTORS, None)

    def _outer_row(rows, delta, A_prev, j, r, k):
        _python_block(rows, delta, A_prev, j, r, k, 1, BLOCK_VECTORS, None)

    def _outer_long_row(rows, delta, A_prev, j, r, k):
        _python_block(rows, delta, A_prev, j, r, k, 1, ROW_BLOCKS * BLOCK_VECTORS, None)

    def _outer_narrow_block(rows, delta, A_prev, j, r, k, n_lanes):
        _python_block(rows, delta, A_prev, j, r, k, BLOCK_ROWS, 1, None, n_lanes)

    def _outer_narrow_row(rows, delta, A_prev, j, r, k, n_lanes):
        _python_block(rows, delta, A_prev, j, r, k, 1, 1, None, n_lanes)

    def _outer_block_scaled(rows, delta, A_prev, j, r, k, W, scale, l2):
        finish = (SCALED, W, scale, l2)
        _python_block(rows, delta, A_prev, j, r, k, BLOCK_ROWS, BLOCK_VECTORS, finish)

    def _outer_row_scaled(rows, delta, A_prev, j, r, k, W, scale, l2):
        finish = (SCALED, W, scale, l2)
        _python_block(rows, delta, A_prev, j, r, k, 1, BLOCK_VECTORS, finish)

    def _outer_long_row_scaled(rows, delta, A_prev, j, r, k, W, scale, l2):
        finish = (SCALED, W, scale, l2)
        n_vectors = ROW_BLOCKS * BLOCK_VECTORS
        _python_block(rows, delta, A_prev, j, r, k, 1, n_vectors, finish)

    def _outer_narrow_block_scaled(rows, delta, A_prev, j, r, k, n_lanes, W, scale, l2):
        finish = (SCALED, W, scale, l2)
        _python_block(rows, delta, A_prev, j, r, k, BLOCK_ROWS, 1, finish, n_lanes)

    def _outer_narrow_row_scaled(rows, delta, A_prev, j, r, k, n_lanes, W, scale, l2):
        finish = (SCALED, W, scale, l2)
        _python_block(rows, delta, A_prev, j, r, k, 1, 1, finish, n_lanes)

    def _outer_block_sgd(W, delta, A_prev, j, r, k, lr, scale, decay):
        finish = (SGD, lr, scale, decay)
        _python_block(W, delta, A_prev, j, r, k, BLOCK_ROWS, BLOCK_VECTORS, finish)

    def _outer_row_sgd(W, delta, A_prev, j, r, k, lr, scale, decay):
        finish = (SGD, lr, scale, decay)
        _python_block(W, delta, A_prev, j, r, k, 1, BLOCK_VECTORS, finish)

    def _outer_long_row_sgd(W, delta, A_prev, j, r, k, lr, scale, decay):
        finish = (SGD, lr, scale, decay)
        _python_block(W, delta, A_prev, j, r, k, 1, ROW_BLOCKS * BLOCK_VECTORS, finish)

    def _outer_narrow_block_sgd(W, delta, A_prev, j, r, k, n_lanes, lr, scale, decay):
        finish = (SGD, lr, scale, decay)
        _python_block(W, delta, A_prev, j, r, k, BLOCK_ROWS, 1, finish, n_lanes)

    def _outer_narrow_row_sgd(W, delta, A_prev, j, r, k, n_lanes, lr, scale, decay):
        finish = (SGD, lr, scale, decay)
        _python_block(W, delta, A_prev, j, r, k, 1, 1, finish, n_lanes)

else:
    _LONG_ROW = ROW_BLOCKS * BLOCK_VECTORS
    _outer_block = intrinsic(_make_block(BLOCK_ROWS, BLOCK_VECTORS, STORE))
    _outer_row = intrinsic(_make_block(1, BLOCK_VECTORS, STORE))
    _outer_long_row = intrinsic(_make_block(1, _LONG_ROW, STORE))
    _outer_narrow_block = intrinsic(_make_block(BLOCK_ROWS, 1, STORE, masked=True))
    _outer_narrow_row = intrinsic(_make_block(1, 1, STORE, masked=True))
    _outer_block_scaled = intrinsic(_make_block(BLOCK_ROWS, BLOCK_VECTORS, SCALED))
    _outer_row_scaled = intrinsic(_make_block(1, BLOCK_VECTORS, SCALED))
    _outer_long_row_scaled = intrinsic(_make_block(1, _LONG_ROW, SCALED))
    _outer_narrow_block_scaled = intrinsic(
        _make_block(BLOCK_ROWS, 1, SCALED, masked=True)
    )
    _outer_narrow_row_scaled = intrinsic(_make_block(1, 1, SCALED, masked=True))
    _outer_block_sgd = intrinsic(_make_block(BLOCK_ROWS, BLOCK_VECTORS, SGD))
    _outer_row_sgd = intrinsic(_make_block(1, BLOCK_VECTORS, SGD))
    _outer_long_row_sgd = intrinsic(_make_block(1, _LONG_ROW, SGD))
    _outer_narrow_block_sgd = intrinsic(_make_block(BLOCK_ROWS, 1, SGD, masked=True))
    _outer_narrow_row_sgd = intrinsic(_make_block(1, 1, SGD, masked=True))
