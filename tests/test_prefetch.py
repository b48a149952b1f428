"""The epoch loop's gather: rows copied exactly, inputs checked, the next rows hinted.

A prefetch changes no value, so what is tested is that the gather's results do
not depend on the rows it is told to prefetch, and that the hint is really in
the machine code.
"""

import platform
import re

import numpy as np
import pytest
from numba import njit

from loopnet.kernels._prefetch import _prefetch_row
from loopnet.kernels.training import _gather_rows
from tests.helpers import DTYPES, NO_JIT


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n_ahead", [0, 2, 3])
@pytest.mark.parametrize("n_columns", [1, 5, 17, 784])
def test_the_gather_copies_rows_whatever_it_prefetches(rng, dtype, n_ahead, n_columns):
    source = rng.standard_normal((11, n_columns)).astype(dtype)
    order = rng.permutation(11).astype(np.int64)
    rows, ahead = order[:3], order[3 : 3 + n_ahead]
    target = np.full((3, n_columns), np.nan, dtype=dtype)
    assert _gather_rows(source, rows, ahead, target)
    np.testing.assert_array_equal(target, source[rows])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_the_gather_finds_a_bad_entry_in_the_rows_it_copies_only(rng, dtype, bad):
    source = rng.standard_normal((6, 40)).astype(dtype)
    finfo = np.finfo(dtype)
    source[0, :4] = [finfo.max, -finfo.max, finfo.smallest_subnormal, -0.0]
    source[5, 39] = bad
    target = np.empty((2, 40), dtype=dtype)
    rows = np.array([0, 2], dtype=np.int64)
    assert _gather_rows(source, rows, np.array([5, 4], dtype=np.int64), target)
    assert not _gather_rows(source, np.array([1, 5], dtype=np.int64), rows, target)


@njit
def _prefetch_rows(matrix, rows):
    for i in rows:
        _prefetch_row(matrix, i)


@pytest.mark.skipif(NO_JIT, reason="no machine code under NUMBA_DISABLE_JIT")
@pytest.mark.skipif(
    platform.machine() not in ("x86_64", "AMD64"), reason="x86's prefetch instruction"
)
def test_a_row_is_prefetched_line_by_line():
    matrix = np.zeros((3, 100))
    _prefetch_rows(matrix, np.arange(3))
    assembly = _prefetch_rows.inspect_asm(_prefetch_rows.signatures[0])
    assert re.search(r"\bprefetcht0\b", assembly)
