"""Calls of LLVM's overloaded intrinsics, named from their operands' llvmlite types.

An overloaded intrinsic's name ends with one suffix per overloaded type:
``llvm.masked.load.v8f64.p0v8f64`` loads a vector of 8 doubles through a
pointer to one in typed-pointer IR, ``llvm.masked.load.v8f64.p0`` through an
opaque ``ptr``. llvmlite writes typed pointers (from 0.45 on unless
``LLVMLITE_ENABLE_IR_LAYER_TYPED_POINTERS=0``) and names its types
(``intrinsic_name``) in the form it writes. LLVM 14 (llvmlite 0.43) takes the
typed names as they are; the opaque-pointer LLVM of later llvmlite reads typed
pointers as ``ptr`` and renames the declarations to match (``p0v8f64`` to
``p0``). ``call_intrinsic`` takes the suffix from the operands' types, so the
names of ``_vectors``' masked loads and stores and ``_prefetch``'s hint agree
with the IR in every form, without a name written by hand.
"""

from llvmlite import ir
from numba.core import cgutils

_TYPED_NAMES = ir.IntType(8).as_pointer().intrinsic_name != "p0"
"""Whether llvmlite names a pointer with its pointee (``p0i8``, typed-pointer IR)."""


def _mangled(type_):
    """The suffix LLVM gives ``type_`` in an intrinsic's name: f64, v8f64, p0f64, p0.

    llvmlite's own ``intrinsic_name``, which names no vector, nor, in
    typed-pointer IR, a pointer to one.
    """
    if isinstance(type_, ir.VectorType):
        return f"v{type_.count}{_mangled(type_.element)}"
    pointee = getattr(type_, "pointee", None)
    if _TYPED_NAMES and isinstance(pointee, ir.VectorType):
        return f"p{type_.addrspace}{_mangled(pointee)}"
    return type_.intrinsic_name


def call_intrinsic(builder, name, return_type, arguments, overloaded):
    """Call LLVM's intrinsic ``name`` on ``arguments``, declared once per module.

    Parameters
    ----------
    builder : llvmlite.ir.IRBuilder
        Where the call goes.
    name : str
        The intrinsic's name without its suffix, as ``"llvm.prefetch"``.
    return_type : llvmlite.ir.Type
        What it returns (``ir.VoidType()`` for nothing).
    arguments : sequence of llvmlite.ir.Value
        Its operands; their types are the declaration's.
    overloaded : sequence of llvmlite.ir.Type
        The types it is overloaded on, in LLVM's order, each adding a suffix.

    Returns
    -------
    llvmlite.ir.Instruction
        The call.
    """
    suffix = "".join(f".{_mangled(type_)}" for type_ in overloaded)
    function_type = ir.FunctionType(return_type, [value.type for value in arguments])
    function = cgutils.get_or_insert_function(
        builder.module, function_type, name + suffix
    )
    return builder.call(function, arguments)
