"""Parallel kernels: serial and parallel forms agree bit for bit, and when each runs.

The batched kernels split rows (b of Z and delta, j of dW) between threads with
``prange`` from ``MIN_PARALLEL_WORK`` multiply-adds on, and use register tiles
(``kernels._tiles``, tested in ``test_tiles.py``) whose layout depends on the
shapes only. These tests pin that down: each kernel's serial and parallel forms,
and the dispatcher choosing between them, give the same bits, and the dispatcher
chooses the parallel form exactly from ``MIN_PARALLEL_WORK`` multiply-adds on. The
same bits for 1, 2 and all threads are tested in ``test_threads.py``.
"""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import loopnet as ln
from loopnet import reference
from loopnet._jit import MIN_PARALLEL_WORK
from loopnet.activations import ACTIVATIONS
from loopnet.kernels import _tiles, errors, forward, gradients
from loopnet.kernels._tiles import MIN_DOT_LENGTH, MIN_TILED_BATCH
from loopnet.kernels.errors import (
    _hidden_error,
    _hidden_error_parallel,
    _hidden_error_rows,
)
from loopnet.kernels.forward import _forward_layer_parallel, _forward_rows
from loopnet.kernels.gradients import (
    _weight_gradient,
    _weight_gradient_parallel,
    _weight_gradient_rows,
)
from tests.helpers import DTYPES, NO_JIT, PRODUCT_SHAPES, TOL

SHAPES = PRODUCT_SHAPES


def _layer(rng, dtype, n_batch, n_l, n_prev):
    W = (rng.standard_normal((n_l, n_prev)) / np.sqrt(n_prev)).astype(dtype)
    A_prev = rng.random((n_batch, n_prev)).astype(dtype)
    bias = rng.standard_normal(n_l).astype(dtype)
    return W, A_prev, bias


# --- when the parallel form runs ------------------------------------------------


def _python(kernel):
    """The Python source of a compiled kernel (itself without the JIT).

    Run as Python, a dispatcher looks up the kernels it calls in its module when
    it calls them, so a test can see which one it chose; compiled, it would not.
    """
    return getattr(kernel, "py_func", kernel)


def _recorder(taken, form):
    """A stand-in for the kernel ``form`` that only notes it was called."""
    return lambda *args: taken.append(form)


def _forward_call(n_batch, n_l, n_prev):
    W, A_prev, bias = np.ones((n_l, n_prev)), np.ones((n_batch, n_prev)), np.ones(n_l)
    Z, A = np.empty((2, n_batch, n_l))
    args = (W, bias, A_prev, ACTIVATIONS["tanh"], Z, A, True)
    return forward, "_forward_layer", args


def _hidden_error_call(n_batch, n_next, n_l):
    delta_next, W_next = np.ones((n_batch, n_next)), np.ones((n_next, n_l))
    Z, delta = np.ones((n_batch, n_l)), np.empty((n_batch, n_l))
    code = ACTIVATIONS["sigmoid"]
    args = (delta_next, W_next, Z, False, code, delta, True)
    return errors, "_hidden_error_dispatch", args


def _weight_gradient_call(n_batch, n_l, n_prev):
    delta, A_prev = np.ones((n_batch, n_l)), np.ones((n_batch, n_prev))
    args = (delta, A_prev, np.empty((n_l, n_prev)), None, True)
    return gradients, "_weight_gradient", args


def _transposed_call(n_rows, n_cols, _):
    return _tiles, "_transposed", (np.ones((n_rows, n_cols)), True)


# Each dispatcher: how to call it on a batch of a layer (n_out, n_in), the number
# of multiply-adds it weighs, and its (parallel, serial) forms.
DISPATCHERS = {
    "forward_layer": (
        _forward_call,
        lambda n_batch, n_out, n_in: n_batch * n_out * n_in,
        ("_forward_layer_parallel", "_forward_rows"),
    ),
    "hidden_error": (
        _hidden_error_call,
        lambda n_batch, n_out, n_in: n_batch * n_out * n_in,
        ("_hidden_error_parallel", "_hidden_error_rows"),
    ),
    "weight_gradient": (
        _weight_gradient_call,
        lambda n_batch, n_out, n_in: n_batch * n_out * n_in,
        ("_weight_gradient_parallel", "_weight_gradient_rows"),
    ),
    "transposed": (  # of delta (n_batch, n_out), as weight_gradient transposes it
        _transposed_call,
        lambda n_batch, n_out, n_in: n_batch * n_out,
        ("_transpose_parallel", "_transpose_rows"),
    ),
}

# The layers (n_out, n_in) of SHAPES and of the problems of test_threads.py; with
# (1, 1) the threshold itself is a batch size.
THREAD_TEST_LAYERS = {(160, 160), (10, 160), (61, 200), (70, 300), (37, 70), (5, 37)}
LAYERS = sorted({(n_out, n_in) for _, n_out, n_in in SHAPES} | THREAD_TEST_LAYERS)


@pytest.mark.parametrize("n_out, n_in", LAYERS)
@pytest.mark.parametrize("kernel", list(DISPATCHERS))
def test_parallel_form_runs_from_min_parallel_work_on(monkeypatch, kernel, n_out, n_in):
    """Just below MIN_PARALLEL_WORK the serial form runs, from it the parallel one.

    For each layer, the batch sizes on either side of the threshold; the branch
    taken is recorded by replacing both forms in the kernel's module.
    """
    call, work, (parallel, serial) = DISPATCHERS[kernel]
    per_example = work(1, n_out, n_in)
    first = -(-MIN_PARALLEL_WORK // per_example)  # smallest batch at the threshold
    for n_batch, expected in [(first - 1, serial), (first, parallel)]:
        module, dispatcher, args = call(n_batch, n_out, n_in)
        taken = []
        for form in (parallel, serial):
            monkeypatch.setattr(module, form, _recorder(taken, form))
        _python(getattr(module, dispatcher))(*args)
        monkeypatch.undo()
        assert taken == [expected], (n_batch, work(n_batch, n_out, n_in))


@pytest.mark.parametrize("kernel", list(DISPATCHERS))
def test_without_parallel_the_serial_form_runs_at_any_size(monkeypatch, kernel):
    """``parallel=None`` (the default) keeps a dispatcher on one thread."""
    call, _, (parallel, serial) = DISPATCHERS[kernel]
    module, dispatcher, args = call(2 * MIN_PARALLEL_WORK, 1, 1)
    taken = []
    for form in (parallel, serial):
        monkeypatch.setattr(module, form, _recorder(taken, form))
    _python(getattr(module, dispatcher))(*args[:-1], None)
    assert taken == [serial]


# --- serial and parallel forms agree ----------------------------------------------


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


def hidden_error_operand(delta_next, W_next):
    """The transposed copy ``_hidden_error_dispatch`` makes for these shapes."""
    n_batch, n_next = delta_next.shape
    if n_next < MIN_DOT_LENGTH:
        return W_next
    if n_batch >= MIN_TILED_BATCH:
        return np.ascontiguousarray(delta_next.T)
    return np.ascontiguousarray(W_next.T)


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
    transposed = hidden_error_operand(delta_next, W_next)
    serial = np.empty((n_batch, n_l), dtype=dtype)
    _hidden_error_rows(
        delta_next, W_next, transposed, Z, False, code, serial, 0, n_batch
    )
    parallel = np.empty_like(serial)
    _hidden_error_parallel(delta_next, W_next, transposed, Z, False, code, parallel)
    np.testing.assert_array_equal(parallel, serial)
    dispatched = np.empty_like(serial)
    _hidden_error(delta_next, W_next, Z, code, dispatched, True)
    np.testing.assert_array_equal(dispatched, serial)
    ref = reference.hidden_error(delta_next, W_next, Z, activation)
    np.testing.assert_allclose(serial, ref, **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n_l, n_prev, n_batch", SHAPES)
def test_weight_gradient_parallel_equals_serial(rng, dtype, n_l, n_prev, n_batch):
    delta = (rng.standard_normal((n_batch, n_l)) / np.sqrt(n_batch)).astype(dtype)
    A_prev = rng.random((n_batch, n_prev)).astype(dtype)
    serial = np.empty((n_l, n_prev), dtype=dtype)
    _weight_gradient_rows(delta, A_prev, serial, 0, n_l, None)
    parallel = np.empty_like(serial)
    _weight_gradient_parallel(delta, A_prev, parallel, None)
    np.testing.assert_array_equal(parallel, serial)
    dispatched = np.empty_like(serial)
    _weight_gradient(delta, A_prev, dispatched, None, True)
    np.testing.assert_array_equal(dispatched, serial)
    np.testing.assert_allclose(serial, delta.T @ A_prev, **TOL[dtype])
    if n_batch < MIN_TILED_BATCH:  # the seeds' accumulator, Delta += delta a^T
        Delta = np.zeros_like(serial)
        for b in range(n_batch):
            Delta += np.outer(delta[b], A_prev[b])
        np.testing.assert_array_equal(serial, Delta)
    # scaled and regularized as stored: the bits of a pass over the sums after
    W = rng.standard_normal((n_l, n_prev)).astype(dtype)
    scale, l2 = dtype(1) / dtype(n_batch), dtype(0.3)
    expected = scale * (serial + l2 * W)
    rows = np.full_like(serial, np.nan)
    _weight_gradient_rows(delta, A_prev, rows, 0, n_l, (W, scale, l2))
    np.testing.assert_array_equal(rows, expected)
    rows[...] = np.nan
    _weight_gradient_parallel(delta, A_prev, rows, (W, scale, l2))
    np.testing.assert_array_equal(rows, expected)
    rows[...] = np.nan
    _weight_gradient(delta, A_prev, rows, (W, scale, l2), True)
    np.testing.assert_array_equal(rows, expected)


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


FIRST_RUN = """
import numpy as np
from numba.core import event
import loopnet as ln

compiled = set()


class Compiles(event.Listener):
    def on_start(self, ev):
        compiled.add(ev.data["dispatcher"].py_func.__name__)

    def on_end(self, ev):
        pass


event.register("numba:compile", Compiles())
net = ln.Network([70, 300, 10], seed=0)
rng = np.random.default_rng(0)
X, Y = rng.random((900, 70)), rng.random((900, 10))
net.gradient(X, Y)
net.fit(X, Y, batch_size=900, progress=False)
print(" ".join(sorted(name for name in compiled if name.endswith("_parallel"))))
"""


@pytest.mark.heavy
@pytest.mark.skipif(NO_JIT, reason="no compiled kernels without the JIT")
@pytest.mark.parametrize("n_threads", ["1", "2"])
def test_a_first_run_on_one_thread_compiles_no_parallel_kernel(tmp_path, n_threads):
    """Cold, on one thread, the drivers get ``parallel=None``: no prange loop compiles.

    A [70, 300, 10] gradient and epoch of 900 examples, above
    ``MIN_PARALLEL_WORK``, in a fresh cache; with two threads every parallel
    kernel compiles.
    """
    env = {**os.environ, "NUMBA_NUM_THREADS": n_threads}
    env["NUMBA_CACHE_DIR"] = str(tmp_path)
    run = [sys.executable, "-c", FIRST_RUN]
    result = subprocess.run(run, env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    expected = [
        "_forward_layer_parallel",
        "_hidden_error_parallel",
        "_transpose_parallel",
        "_weight_gradient_parallel",
        "_weight_step_parallel",
    ]
    assert result.stdout.split() == ([] if n_threads == "1" else expected)


@pytest.mark.parametrize(
    "n_threads, n_batch, flag", [(1, 900, None), (2, 900, True), (2, 12, None)]
)
def test_the_drivers_get_parallel_only_where_threads_can_run(n_threads, n_batch, flag):
    """``parallel_for``: True with threads and a layer above ``MIN_PARALLEL_WORK``."""
    import numba

    from loopnet.kernels.backprop import parallel_for

    if numba.config.NUMBA_NUM_THREADS < n_threads:
        pytest.skip(f"Numba's pool has fewer than {n_threads} threads")
    layout = ln.Network([70, 300, 10], seed=0).layout
    assert 12 * 300 * 70 < MIN_PARALLEL_WORK <= 900 * 300 * 70
    before = numba.get_num_threads()
    numba.set_num_threads(n_threads)
    try:
        assert parallel_for(layout, n_batch) is flag
    finally:
        numba.set_num_threads(before)
