r"""exp(x) as arithmetic LLVM can vectorize: range reduction and a polynomial.

A loop over ``np.exp`` calls the C library once per entry, one lane at a time:
LLVM never vectorizes a call. The same function written as arithmetic,

    exp(x) = 2^n * exp(r),   n = round(x / ln 2),   r = x - n ln 2,

with exp(r) a polynomial on |r| <= ln(2) / 2, is a loop body of multiplies,
adds, a floor and an integer bit pattern, which LLVM compiles to the CPU's
widest vectors (``kernels._vectors.VECTOR_BYTES``). The steps, in each dtype:

- x is clamped to [LOW, HIGH], just past the arguments whose exp underflows to
  0 and overflows to inf, so that n stays in range;
- n = floor(x log2(e) + 1/2);
- r = (x - n LN2_HI) - n LN2_LO (Cody and Waite): LN2_HI holds the leading bits
  of ln 2 with enough trailing zeros that n LN2_HI is exact, LN2_LO the rest;
- exp(r) is its Taylor polynomial sum_{i <= DEGREE} r^i / i!, in Horner form;
  DEGREE is the first whose remainder r^(DEGREE+1) / (DEGREE+1)! is below half
  a unit in the last place;
- 2^n is applied as 2^(n - n // 2) * 2^(n // 2), two powers of two built from
  their bit patterns, each a normal number; the second product rounds once,
  into a subnormal, to 0 or to inf where the true result is there.

NaN gives NaN, exp(-inf) = 0, exp(inf) = inf, exp(+-0) = 1. The results are
within 1.25 units in the last place of the true exp in float64 and float32
(``tests/test_exp.py`` bounds it over dense samples against a correctly
rounded reference): not always the nearest double as a good C library's exp
is, but as close as NumPy's own SIMD exp. Multiplications and additions stay
separate IEEE operations, so the bits do not depend on the CPU or the vector
width.

Under ``NUMBA_DISABLE_JIT`` the same steps run as NumPy scalar arithmetic, to
the same bits.
"""

import math

import numba
import numpy as np
from numba import njit, types
from numba.extending import intrinsic, overload

from loopnet._jit import JIT


def _taylor_coefficients(degree, dtype):
    """1 / i! for i = degree, degree - 1, ..., 0: the order Horner's form uses."""
    return tuple(dtype(1 / math.factorial(i)) for i in range(degree, -1, -1))


# float64: exp(x) overflows above 709.78 and is 0 below -745.13.
_LOW64, _HIGH64 = np.float64(-746.0), np.float64(710.0)
_LOG2E64 = np.float64(1.4426950408889634)
_LN2_HI64 = np.float64(6.93147180369123816490e-01)  # 32 leading bits of ln 2
_LN2_LO64 = np.float64(1.90821492927058770002e-10)
_C64 = _taylor_coefficients(13, np.float64)

# float32: exp(x) overflows above 88.72 and is 0 below -103.97.
_LOW32, _HIGH32 = np.float32(-104.0), np.float32(89.0)
_LOG2E32 = np.float32(1.4426950408889634)
_LN2_HI32 = np.float32(0.693145751953125)  # 15 leading bits of ln 2
_LN2_LO32 = np.float32(1.428606765330187e-06)
_C32 = _taylor_coefficients(7, np.float32)

if numba.config.DISABLE_JIT:

    def _float_from_bits(bits, like):
        """The float of ``like``'s dtype whose bit pattern is the integer ``bits``."""
        if isinstance(like, np.float32):
            return np.array(bits, dtype=np.int32).view(np.float32)[()]
        return np.array(bits, dtype=np.int64).view(np.float64)[()]

else:

    @intrinsic
    def _float_from_bits(typingctx, bits, like):
        """The float of ``like``'s type whose bit pattern is the integer ``bits``.

        ``bits`` is int64 for float64 and int32 for float32: the same width.
        """

        def codegen(context, builder, signature, args):
            float_type = context.get_value_type(signature.return_type)
            return builder.bitcast(args[0], float_type)

        return like(bits, like), codegen


@njit(**JIT)
def _exp64(x):
    """exp(x) for float64 x, by the steps of the module docstring."""
    c = min(max(x, _LOW64), _HIGH64)
    n = np.floor(c * _LOG2E64 + 0.5)
    r = (c - n * _LN2_HI64) - n * _LN2_LO64
    p = _C64[0]
    for coefficient in _C64[1:]:
        p = p * r + coefficient
    k = np.int64(n)
    half = k >> 1
    y = p * _float_from_bits((k - half + 1023) << 52, x)
    y = y * _float_from_bits((half + 1023) << 52, x)
    return x if math.isnan(x) else y


@njit(**JIT)
def _exp32(x):
    """exp(x) for float32 x, by the steps of the module docstring."""
    c = min(max(x, _LOW32), _HIGH32)
    n = np.floor(c * _LOG2E32 + np.float32(0.5))
    r = (c - n * _LN2_HI32) - n * _LN2_LO32
    p = _C32[0]
    for coefficient in _C32[1:]:
        p = p * r + coefficient
    k = np.int32(n)
    half = k >> 1
    y = p * _float_from_bits(np.int32((k - half + 127) << 23), x)
    y = y * _float_from_bits(np.int32((half + 127) << 23), x)
    return x if math.isnan(x) else y


def exp(x):
    """exp(x) for a float32 or float64 x, in x's dtype, as vectorizable arithmetic.

    Examples
    --------
    >>> import math
    >>> import numpy as np
    >>> from loopnet._exp import exp
    >>> float(exp(np.float64(0.0)))
    1.0
    >>> abs(float(exp(np.float64(1.0))) - math.e) <= math.ulp(math.e)
    True
    >>> float(exp(np.float32(-200.0)))
    0.0
    """
    if isinstance(x, np.float32):
        return _exp32(x)
    return _exp64(np.float64(x))


@overload(exp)
def _exp_typed(x):
    """Compiled code calls ``_exp32`` or ``_exp64`` by x's type, with no branch."""
    if x == types.float32:
        return lambda x: _exp32(x)
    if x == types.float64:
        return lambda x: _exp64(x)
    return None
