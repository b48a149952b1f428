"""A software prefetch of one row of a matrix: LLVM's ``llvm.prefetch``, per line.

``fit``'s epoch loop gathers each mini-batch's rows of X from wherever the
shuffle put them, an array far larger than the caches, so each row starts with
a wait on memory. While it copies row r of this mini-batch it asks for row r
of the next one (``_prefetch_row``), whose lines then arrive during this
mini-batch's arithmetic. A prefetch is a hint: it changes no value, cannot
fault, and is dropped when the memory system is busy.

Under ``NUMBA_DISABLE_JIT`` there is no machine code to hint, and ``_prefetch``
does nothing.
"""

import numba
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from loopnet._jit import JIT
from loopnet.kernels._llvm import call_intrinsic

CACHE_LINE_BYTES = 64
"""Bytes of one cache line on x86-64 and most AArch64 cores."""

if numba.config.DISABLE_JIT:

    def _prefetch(matrix, i, j):
        """Nothing to hint in Python."""

else:

    @intrinsic
    def _prefetch(typingctx, matrix, i, j):
        """Ask for the cache line of ``matrix[i, j]``, into every cache level.

        The address is computed without a bounds check (a prefetch cannot
        fault); the callers pass indexes inside the matrix.
        """
        if not (
            isinstance(matrix, types.Array)
            and matrix.ndim == 2
            and all(isinstance(index, types.Integer) for index in (i, j))
        ):
            return None

        def codegen(context, builder, signature, args):
            array_type = signature.args[0]
            array = context.make_array(array_type)(context, builder, args[0])
            indexes = [
                context.cast(builder, index, index_type, types.intp)
                for index, index_type in zip(args[1:], signature.args[1:], strict=True)
            ]
            pointer = cgutils.get_item_pointer(
                context, builder, array_type, array, indexes, wraparound=False
            )
            # as i8*: one declaration per module, whatever the matrix's dtype
            pointer = builder.bitcast(pointer, ir.IntType(8).as_pointer())
            i32 = ir.IntType(32)
            # read (0), the highest locality (3: every level), the data cache (1)
            operands = [pointer, i32(0), i32(3), i32(1)]
            call_intrinsic(
                builder, "llvm.prefetch", ir.VoidType(), operands, [pointer.type]
            )
            return context.get_dummy_value()

        return types.void(matrix, i, j), codegen


@njit(**JIT)
def _prefetch_row(matrix, i):
    """Prefetch every cache line of row ``i`` of a C-contiguous ``matrix``."""
    step = max(1, CACHE_LINE_BYTES // matrix.itemsize)
    for j in range(0, matrix.shape[1], step):
        _prefetch(matrix, i, j)
