"""``loopnet._exp.exp``: accuracy against a correctly rounded exp, edge cases, vectors.

The reference is exp in a wider type: x86's 80-bit long double for float64
(64 bits of mantissa, 11 more than float64) and float64 for float32; its own
error is far below the bound tested.
"""

import re

import numpy as np
import pytest
from llvmlite import binding
from numba import njit

from loopnet._exp import exp
from loopnet.activations import sigmoid
from tests.helpers import DTYPES, NO_JIT

# Arguments whose exp is a normal number, then a subnormal one.
NORMAL = {np.float64: (-708.0, 709.7), np.float32: (-87.3, 88.7)}
SUBNORMAL = {np.float64: (-745.1, -708.5), np.float32: (-103.9, -87.4)}
SAMPLES = 20_001 if NO_JIT else 2_000_001
ULP_BOUND = 1.25

needs_long_double = pytest.mark.skipif(
    np.finfo(np.longdouble).nmant < 63, reason="no 80-bit long double for the reference"
)


@njit
def exp_all(x, out):
    for i in range(x.shape[0]):
        out[i] = exp(x[i])


@njit
def sigmoid_all(z, out):
    for i in range(z.shape[0]):
        out[i] = sigmoid(z[i])


def _exp_and_reference(dtype, low, high):
    x = np.linspace(low, high, SAMPLES).astype(dtype)
    y = np.empty_like(x)
    exp_all(x, y)
    wider = np.longdouble if dtype == np.float64 else np.float64
    return y.astype(np.longdouble), np.exp(x.astype(wider)).astype(np.longdouble)


@needs_long_double
@pytest.mark.parametrize("dtype", DTYPES)
def test_within_bound_of_the_true_exp(dtype):
    y, true = _exp_and_reference(dtype, *NORMAL[dtype])
    ulp = np.spacing(true.astype(dtype)).astype(np.longdouble)
    errors = np.abs(y - true) / ulp
    assert errors.max() <= ULP_BOUND
    assert np.mean(errors <= 0.5) > 0.85  # most results are the nearest float


@needs_long_double
@pytest.mark.parametrize("dtype", DTYPES)
def test_subnormal_results_round_once(dtype):
    y, true = _exp_and_reference(dtype, *SUBNORMAL[dtype])
    smallest = np.finfo(dtype).smallest_subnormal
    # The spacing of subnormals is the smallest one; the relative error of the
    # polynomial adds well under half of it.
    ulp = np.maximum(np.spacing(true.astype(dtype)), smallest).astype(np.longdouble)
    assert (np.abs(y - true) / ulp).max() <= ULP_BOUND


@pytest.mark.parametrize("dtype", DTYPES)
def test_edge_cases_equal_numpy(dtype):
    info = np.finfo(dtype)
    overflow = np.log(info.max.astype(np.float64))
    underflow = np.log(info.smallest_subnormal.astype(np.float64)) - np.log(2)
    x = np.array(
        [0.0, -0.0, np.inf, -np.inf, np.nan, -np.nan, 1e30, -1e30, overflow + 0.01]
        + [underflow - 0.01, -1e-30, 1e-30, 2.0**-60],
        dtype=dtype,
    )
    y = np.empty_like(x)
    exp_all(x, y)
    with np.errstate(over="ignore"):
        np.testing.assert_array_equal(y, np.exp(x))
    assert y.dtype == dtype


@pytest.mark.parametrize("dtype", DTYPES)
def test_a_call_from_python_gives_the_compiled_loops_bits(dtype):
    x = np.linspace(-30, 30, 61).astype(dtype)
    y = np.empty_like(x)
    exp_all(x, y)
    assert [dtype(exp(value)) for value in x] == list(y)


@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_stays_within_a_few_ulp_of_numpy(dtype):
    z = np.linspace(-60, 60, 100_001).astype(dtype)
    s = np.empty_like(z)
    sigmoid_all(z, s)
    e = np.exp(-np.abs(z.astype(np.float64)))
    true = np.where(z >= 0, 1 / (1 + e), e / (1 + e))
    ulp = np.spacing(true.astype(dtype)).astype(np.float64)
    # exp's 1.25 ulp, then one rounding each for 1 + e and the quotient.
    assert (np.abs(s - true) / ulp).max() <= ULP_BOUND + 1.5


@pytest.mark.skipif(NO_JIT, reason="no machine code under NUMBA_DISABLE_JIT")
@pytest.mark.skipif(
    "+avx2" not in binding.get_host_cpu_features().flatten(), reason="no AVX2 vectors"
)
@pytest.mark.parametrize("dtype", DTYPES)
def test_a_loop_over_sigmoid_compiles_to_vector_arithmetic(dtype):
    z = np.zeros(7, dtype)
    sigmoid_all(z, np.empty_like(z))
    name = np.dtype(dtype).name
    signature = next(s for s in sigmoid_all.signatures if str(s[0].dtype) == name)
    assembly = sigmoid_all.inspect_asm(signature)
    suffix = "pd" if dtype == np.float64 else "ps"
    packed = re.findall(rf"\bvmul{suffix}\s[^\n]*%[yz]mm", assembly)
    assert len(packed) >= 10  # the polynomial's multiplications, several lanes each
