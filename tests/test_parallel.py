"""Parallel kernels: serial and parallel forms agree bit for bit.

The batched kernels split rows (b of Z and delta, j of dW) between threads with
``prange`` above ``MIN_PARALLEL_WORK`` multiply-adds, and use register tiles
(``kernels._tiles``, tested in ``test_tiles.py``) whose layout depends on the
shapes only. These tests pin that down: each kernel's serial and parallel forms,
and the dispatcher choosing between them, give the same bits. The same bits for
1, 2 and all threads are tested in ``test_threads.py``.
"""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from loopnet import reference
from loopnet._jit import MIN_PARALLEL_WORK, use_threads
from loopnet.activations import ACTIVATIONS
from loopnet.kernels._tiles import (
    MIN_DOT_LENGTH,
)
from loopnet.kernels.errors import (
    _hidden_error,
    _hidden_error_parallel,
    _hidden_error_rows,
)
from loopnet.kernels.forward import (
    _forward_layer_parallel,
    _forward_rows,
)
from loopnet.kernels.gradients import (
    MIN_TILED_BATCH,
    _weight_gradient,
    _weight_gradient_parallel,
    _weight_gradient_rows,
)
from tests.helpers import DTYPES, PRODUCT_SHAPES, TOL

SHAPES = PRODUCT_SHAPES


def _layer(rng, dtype, n_batch, n_l, n_prev):
    W = (rng.standard_normal((n_l, n_prev)) / np.sqrt(n_prev)).astype(dtype)
    A_prev = rng.random((n_batch, n_prev)).astype(dtype)
    bias = rng.standard_normal(n_l).astype(dtype)
    return W, A_prev, bias


def test_threshold():
    assert not use_threads(MIN_PARALLEL_WORK - 1)
    assert use_threads(MIN_PARALLEL_WORK)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", list(ACTIVATIONS))
@pytest.mark.parametrize("n_batch, n_l, n_prev", SHAPES)
def test_forward_parallel_equals_serial(rng, dtype, activation, n_batch, n_l, n_prev):
    W, A_prev, bias = _layer(rng, dtype, n_batch, n_l, n_prev)
    code = ACTIVATIONS[activation]
    Z, A = np.empty((2, n_batch, n_l), dtype=dtype)
    _forward_rows(W, bias, A_prev, code, Z, A, 0, n_batch)
    Z_par, A_par = np.empty((2, n_batch, n_l), dtype=dtype)
    _forward_layer_parallel(W, bias, A_prev, code, Z_par, A_par)
    np.testing.assert_array_equal(Z_par, Z)
    np.testing.assert_array_equal(A_par, A)
    Z_ref, _ = reference.forward_layer(W, A_prev, bias, activation)
    np.testing.assert_allclose(Z, Z_ref, **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu", "identity"])
@pytest.mark.parametrize("n_batch, n_l, n_next", SHAPES)
def test_hidden_error_parallel_equals_serial(
    rng, dtype, activation, n_batch, n_l, n_next
):
    delta_next = rng.standard_normal((n_batch, n_next)).astype(dtype)
    W_next = (rng.standard_normal((n_next, n_l)) / np.sqrt(n_next)).astype(dtype)
    Z = rng.standard_normal((n_batch, n_l)).astype(dtype)
    code = ACTIVATIONS[activation]
    W_next_T = np.ascontiguousarray(W_next.T)
    serial = np.empty((n_batch, n_l), dtype=dtype)
    _hidden_error_rows(delta_next, W_next, W_next_T, Z, False, code, serial, 0, n_batch)
    parallel = np.empty_like(serial)
    _hidden_error_parallel(delta_next, W_next, W_next_T, Z, False, code, parallel)
    np.testing.assert_array_equal(parallel, serial)
    dispatched = np.empty_like(serial)
    _hidden_error(delta_next, W_next, Z, code, dispatched)
    np.testing.assert_array_equal(dispatched, serial)
    ref = reference.hidden_error(delta_next, W_next, Z, activation)
    np.testing.assert_allclose(serial, ref, **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n_l, n_prev, n_batch", SHAPES)
def test_weight_gradient_parallel_equals_serial(rng, dtype, n_l, n_prev, n_batch):
    delta = (rng.standard_normal((n_batch, n_l)) / np.sqrt(n_batch)).astype(dtype)
    A_prev = rng.random((n_batch, n_prev)).astype(dtype)
    delta_T, A_prev_T = np.ascontiguousarray(delta.T), np.ascontiguousarray(A_prev.T)
    serial = np.empty((n_l, n_prev), dtype=dtype)
    _weight_gradient_rows(delta, A_prev, delta_T, A_prev_T, serial, 0, n_l)
    parallel = np.empty_like(serial)
    _weight_gradient_parallel(delta, A_prev, delta_T, A_prev_T, parallel)
    np.testing.assert_array_equal(parallel, serial)
    dispatched = np.empty_like(serial)
    _weight_gradient(delta, A_prev, dispatched)
    np.testing.assert_array_equal(dispatched, serial)
    np.testing.assert_allclose(serial, delta.T @ A_prev, **TOL[dtype])
    if n_batch < MIN_TILED_BATCH:  # the seeds' accumulator, Delta += delta a^T
        Delta = np.zeros_like(serial)
        for b in range(n_batch):
            Delta += np.outer(delta[b], A_prev[b])
        np.testing.assert_array_equal(serial, Delta)


def test_shapes_cover_both_sum_forms():
    n_sums = [n_p for _, _, n_p in SHAPES]
    assert min(n_sums) < MIN_DOT_LENGTH <= max(n_sums)
    assert min(n_sums) < MIN_TILED_BATCH <= max(n_sums)


@pytest.mark.parametrize("given, expected", [(None, "PASSIVE"), ("active", "active")])
def test_import_makes_idle_openmp_threads_sleep_unless_told(given, expected):
    """Spinning OpenMP threads starved OpenBLAS's (and back) on two cores."""
    env = {key: value for key, value in os.environ.items() if key != "OMP_WAIT_POLICY"}
    if given is not None:
        env["OMP_WAIT_POLICY"] = given
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1])
    script = "import os, loopnet; print(os.environ['OMP_WAIT_POLICY'])"
    result = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert result.stdout.strip() == expected
