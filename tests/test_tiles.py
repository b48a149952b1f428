"""The register tiles of ``loopnet.kernels._tiles``: dot products, transposes, blocks.

``_dot_rows`` computes rows of a matrix product in register tiles (4 x 3, or
5 x 5 with AVX-512; both shapes are checked on every machine) whose layout
depends on the shapes only, so any tile-aligned split of the rows (as the
parallel kernels make) gives the same bits; the transposes are exact copies; the
blocks a parallel kernel hands to threads are whole tiles.
"""

import numpy as np
import pytest

from loopnet.kernels._tiles import (
    TILE,
    _block_rows,
    _dot_column_4,
    _dot_column_5,
    _dot_rows,
    _dot_tile_4x3,
    _dot_tile_5x5,
    _transpose_parallel,
    _transpose_rows,
    _transposed,
)
from tests.helpers import DTYPES, PRODUCT_SHAPES, TOL


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n_i, n_n, n_p", PRODUCT_SHAPES)
def test_dot_rows_matches_matrix_product_and_any_row_split(rng, dtype, n_i, n_n, n_p):
    S = (rng.standard_normal((n_i, n_p)) / np.sqrt(n_p)).astype(dtype)
    T = rng.standard_normal((n_n, n_p)).astype(dtype)
    whole = np.empty((n_i, n_n), dtype=dtype)
    _dot_rows(S, T, whole, 0, n_i)
    np.testing.assert_allclose(whole, S @ T.T, **TOL[dtype])
    split = np.full((n_i, n_n), np.nan, dtype=dtype)
    for start in range(0, n_i, TILE):  # every tile-aligned split gives the same bits
        _dot_rows(S, T, split, start, min(start + TILE, n_i))
    np.testing.assert_array_equal(split, whole)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "tile, n_rows, n_columns",
    [
        (_dot_tile_4x3, 4, 3),
        (_dot_tile_5x5, 5, 5),
        (_dot_column_4, 4, 1),
        (_dot_column_5, 5, 1),
    ],
)
@pytest.mark.parametrize("n_p", [1, 7, 784])
def test_each_tile_shape_computes_its_block(rng, dtype, tile, n_rows, n_columns, n_p):
    """The tiles of both instruction sets, whichever ``_dot_rows`` uses here."""
    S = rng.standard_normal((n_rows + 2, n_p)).astype(dtype)
    T = rng.standard_normal((n_columns + 3, n_p)).astype(dtype)
    C = np.full((n_rows + 2, n_columns + 3), np.nan, dtype=dtype)
    tile(S, T, C, 1, 2)
    expected = S[1 : 1 + n_rows] @ T[2 : 2 + n_columns].T
    np.testing.assert_allclose(
        C[1 : 1 + n_rows, 2 : 2 + n_columns], expected, **TOL[dtype]
    )
    C[1 : 1 + n_rows, 2 : 2 + n_columns] = np.nan
    assert np.isnan(C).all()  # nothing outside the tile is written


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(1, 1), (3, 40), (37, 5), (300, 1000)])
def test_transposes_are_exact(rng, dtype, shape):
    X = rng.standard_normal(shape).astype(dtype)
    np.testing.assert_array_equal(_transposed(X), X.T)
    XT = np.empty(shape[::-1], dtype=dtype)
    _transpose_parallel(X, XT)
    np.testing.assert_array_equal(XT, X.T)
    XT[...] = 0
    _transpose_rows(X, XT, 0, shape[1])
    np.testing.assert_array_equal(XT, X.T)


@pytest.mark.parametrize("n_rows", [1, 3, 4, 5, 63, 64, 65, 1000])
def test_parallel_blocks_are_whole_tiles(n_rows):
    height = _block_rows(n_rows)
    assert height % TILE == 0 and height >= TILE
    assert (n_rows + height - 1) // height <= max(16, n_rows // TILE)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n_i, n_n, n_p", PRODUCT_SHAPES)
def test_a_row_gives_the_same_bits_wherever_it_is(rng, dtype, n_i, n_n, n_p):
    """Rows left over past the last whole tile go through the same tiles (padded).

    So an example's z, a and delta do not depend on its place in the batch.
    """
    S = rng.standard_normal((n_i, n_p)).astype(dtype)
    T = rng.standard_normal((n_n, n_p)).astype(dtype)
    order = rng.permutation(n_i)
    C = np.empty((n_i, n_n), dtype=dtype)
    C_permuted = np.empty_like(C)
    _dot_rows(S, T, C, 0, n_i)
    _dot_rows(np.ascontiguousarray(S[order]), T, C_permuted, 0, n_i)
    np.testing.assert_array_equal(C_permuted, C[order])
