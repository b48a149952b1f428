r"""Outer-product register blocks in explicit SIMD vectors, emitted as LLVM IR.

A weight gradient over a small batch,

    dW[j, k] = sum_b delta[b, j] * A_prev[b, k],

runs fastest with the sum over b innermost and its running sums in registers
until the last term, so that no entry of dW is read back and written again per
example. LLVM vectorizes innermost loops only, so as Numba loops that order runs
one lane at a time. Numba has no vector type: these blocks are Numba intrinsics
that emit the vector code themselves. A block is ``BLOCK_ROWS`` rows j by one
cache line of columns k (``BLOCK_BYTES``: two AVX vectors of each row); for each
example b, in increasing order, it loads A_prev[b, k:k + w] once and broadcasts
delta[b, j] once per row:

    sum[i, l] <- sum[i, l] + delta[b, j + i] * A_prev[b, k + l],   sum from +0.

Multiplications and additions stay separate IEEE operations (no fused
multiply-add, nothing reassociated), so each lane adds its terms exactly as the
seeds' per-example accumulator Delta += delta a^T does: the same bits.

``_outer_block`` and ``_outer_row`` (one row) store the sums in rows r.. of
``out``; ``_outer_block_sgd`` and ``_outer_row_sgd`` step the weights with them at
once, W[j, k] <- W[j, k] - lr * (scale * sum + decay * W[j, k]), the expression of
``update._sgd_step``, so that dW never exists in memory.

The callers keep every block inside its arrays (rows j.. of ``delta``, r.. of
``out`` and the line of columns k.. exist); the intrinsics do not check. Under
``NUMBA_DISABLE_JIT`` the same names are Python loops with the same arithmetic in
the same order, and there every index is checked as Python indexing is.
"""

import numba
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

BLOCK_ROWS = 4
"""Rows j of one block: 8 vectors of running sums, with the 2 of A_prev and a
broadcast of delta, 11 of AVX2's 16 vector registers."""

BLOCK_BYTES = 64
"""Bytes of one row of a block: two 32-byte AVX vectors, one cache line; its
columns k are ``BLOCK_BYTES // itemsize``, 8 in float64 and 16 in float32."""


def _python_block(out, delta, A_prev, j, r, k, n_rows, step=None):
    """The blocks' arithmetic as Python loops, for ``NUMBA_DISABLE_JIT``."""
    zero = A_prev.dtype.type(0)
    for i in range(n_rows):
        for l in range(BLOCK_BYTES // A_prev.itemsize):
            total = zero
            for b in range(delta.shape[0]):
                total = total + delta[b, j + i] * A_prev[b, k + l]
            if step is None:
                out[r + i, k + l] = total
            else:
                lr, scale, decay = step
                w = out[r + i, k + l]
                out[r + i, k + l] = w - lr * (scale * total + decay * w)


def _element_pointer(context, builder, array_type, array, row, column):
    """Pointer to ``array[row, column]`` of a C-contiguous 2-D array (unchecked)."""
    view = context.make_array(array_type)(context, builder, array)
    shape = cgutils.unpack_tuple(builder, view.shape, 2)
    strides = cgutils.unpack_tuple(builder, view.strides, 2)
    return cgutils.get_item_pointer2(
        context, builder, view.data, shape, strides, "C", [row, column]
    )


def _emit_block(context, builder, signature, args, n_rows, sgd):
    """IR of one block: the sums over b in vectors, then store or SGD step."""
    out_type, delta_type, a_type = signature.args[:3]
    out, delta, a_prev, j, r, k = args[:6]
    scalar = context.get_value_type(a_type.dtype)
    width = BLOCK_BYTES // 2 // context.get_abi_sizeof(scalar)
    vector = ir.VectorType(scalar, width)
    pointer = vector.as_pointer()
    align = context.get_abi_sizeof(scalar)
    zeros = ir.Constant(ir.VectorType(ir.IntType(32), width), [0] * width)
    intp = context.get_value_type(types.intp)
    sums = [
        [cgutils.alloca_once_value(builder, ir.Constant(vector, None)) for _ in "01"]
        for _ in range(n_rows)
    ]

    def vector_at(array_type, array, row, column, half):
        column = builder.add(column, intp(half * width))
        element = _element_pointer(context, builder, array_type, array, row, column)
        return builder.bitcast(element, pointer)

    n_batch = cgutils.unpack_tuple(
        builder, context.make_array(delta_type)(context, builder, delta).shape, 2
    )[0]
    with cgutils.for_range(builder, n_batch) as loop:
        b = loop.index
        x = [
            builder.load(vector_at(a_type, a_prev, b, k, half), align=align)
            for half in (0, 1)
        ]
        for i in range(n_rows):
            row = builder.add(j, intp(i))
            d = builder.load(
                _element_pointer(context, builder, delta_type, delta, b, row)
            )
            d = builder.insert_element(ir.Constant(vector, None), d, ir.IntType(32)(0))
            d = builder.shuffle_vector(d, ir.Constant(vector, None), zeros)
            for half in (0, 1):
                total = builder.load(sums[i][half])
                total = builder.fadd(total, builder.fmul(d, x[half]))
                builder.store(total, sums[i][half])
    if sgd:
        lr, scale, decay = (
            builder.shuffle_vector(
                builder.insert_element(ir.Constant(vector, None), c, ir.IntType(32)(0)),
                ir.Constant(vector, None),
                zeros,
            )
            for c in args[6:9]
        )
    for i in range(n_rows):
        row = builder.add(r, intp(i))
        for half in (0, 1):
            target = vector_at(out_type, out, row, k, half)
            total = builder.load(sums[i][half])
            if sgd:  # w - lr * (scale * sum + decay * w), as _sgd_step
                w = builder.load(target, align=align)
                gradient = builder.fadd(
                    builder.fmul(scale, total), builder.fmul(decay, w)
                )
                total = builder.fsub(w, builder.fmul(lr, gradient))
            builder.store(total, target, align=align)
    return context.get_dummy_value()


def _check_block_types(out, delta, a_prev):
    """Whether three array types suit a block: 2-D, C-contiguous, one float dtype."""
    arrays = (out, delta, a_prev)
    return all(
        isinstance(t, types.Array)
        and t.ndim == 2
        and t.layout == "C"
        and t.dtype == a_prev.dtype
        and t.dtype in (types.float32, types.float64)
        for t in arrays
    )


def _make_block(n_rows, sgd):
    """The intrinsic of one block shape: ``n_rows`` rows, sums stored or stepped."""

    def codegen(context, builder, signature, args):
        return _emit_block(context, builder, signature, args, n_rows, sgd)

    def signature(out, delta, a_prev, step):
        if not _check_block_types(out, delta, a_prev):
            return None
        if any(t != a_prev.dtype for t in step):
            return None
        index = (types.intp,) * 3
        return types.void(out, delta, a_prev, *index, *step), codegen

    if sgd:

        def typer(typingctx, out, delta, a_prev, j, r, k, lr, scale, decay):
            return signature(out, delta, a_prev, (lr, scale, decay))

    else:

        def typer(typingctx, out, delta, a_prev, j, r, k):
            return signature(out, delta, a_prev, ())

    return typer


if numba.config.DISABLE_JIT:

    def _outer_block(rows, delta, A_prev, j, r, k):
        _python_block(rows, delta, A_prev, j, r, k, BLOCK_ROWS)

    def _outer_row(rows, delta, A_prev, j, r, k):
        _python_block(rows, delta, A_prev, j, r, k, 1)

    def _outer_block_sgd(W, delta, A_prev, j, r, k, lr, scale, decay):
        _python_block(W, delta, A_prev, j, r, k, BLOCK_ROWS, (lr, scale, decay))

    def _outer_row_sgd(W, delta, A_prev, j, r, k, lr, scale, decay):
        _python_block(W, delta, A_prev, j, r, k, 1, (lr, scale, decay))

else:
    _outer_block = intrinsic(_make_block(BLOCK_ROWS, False))
    _outer_row = intrinsic(_make_block(1, False))
    _outer_block_sgd = intrinsic(_make_block(BLOCK_ROWS, True))
    _outer_row_sgd = intrinsic(_make_block(1, True))
