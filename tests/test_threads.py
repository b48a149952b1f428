"""The same seed gives the same bits, in any process, with any thread count.

Run to run, process to process, and with 1 Numba thread, 2 and all of them.
Every reduction in the kernels keeps one summation order whatever the thread
count (STYLE: parallel loops only over an index whose writes are disjoint), so
these tests compare with ``np.array_equal``, not a tolerance. The kernels split
their rows between threads only above ``MIN_PARALLEL_WORK`` multiply-adds, so
every problem here is larger than that (checked by
``test_problems_take_the_parallel_kernels``): with tiny layers every thread
count would run the same serial code, and the tests would prove nothing.
"""

import contextlib
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import numba
import numpy as np
import pytest

import loopnet as ln
from loopnet import kernels
from loopnet._jit import use_threads
from tests.helpers import DTYPES, NO_JIT, PAIRINGS, targets

ROOT = Path(__file__).resolve().parents[1]
MAX_THREADS = numba.config.NUMBA_NUM_THREADS
THREAD_COUNTS = sorted({1, 2, MAX_THREADS})
needs_two_threads = pytest.mark.skipif(
    MAX_THREADS < 2, reason="Numba has a single thread (NUMBA_NUM_THREADS=1)"
)
WIDTH, BATCH, BATCH_SIZE = (12, 16, 4) if NO_JIT else (160, 256, 32)
# fit_digest's network and data: its first layer goes parallel in every mini-batch
DIGEST_SIZES, DIGEST_EXAMPLES, DIGEST_BATCH_SIZE = [256, 128, 3], 96, 32


@contextlib.contextmanager
def threads(n):
    """Run the block with ``n`` Numba threads, restoring the count after."""
    before = numba.get_num_threads()
    numba.set_num_threads(n)
    try:
        yield
    finally:
        numba.set_num_threads(before)


def problem(dtype, output="sigmoid", cost="quadratic", seed=0):
    net = ln.Network([WIDTH, WIDTH, 10], "tanh", output, cost, dtype=dtype, seed=seed)
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((BATCH, WIDTH)).astype(dtype)
    return net, X, targets(rng, output, cost, BATCH, 10, dtype)


def trained(dtype, seed=0, momentum=0.9):
    """Params and History of a seeded fit, from a fresh network."""
    net, X, Y = problem(dtype)
    history = net.fit(
        X,
        Y,
        epochs=3,
        batch_size=BATCH_SIZE,
        lr=0.5,
        l2=0.1,
        momentum=momentum,
        seed=seed,
    )
    return net.params.copy(), history


@pytest.mark.skipif(NO_JIT, reason="sizes shrink without the JIT; no threads")
def test_problems_take_the_parallel_kernels():
    """Each test's largest layer is above the threshold where rows split."""
    assert use_threads(BATCH * WIDTH * WIDTH)  # gradient, kernels
    assert use_threads(BATCH * 10 * WIDTH)  # the gradient's output layer too
    assert use_threads(BATCH_SIZE * WIDTH * WIDTH)  # every mini-batch of fit
    assert use_threads(DIGEST_BATCH_SIZE * DIGEST_SIZES[0] * DIGEST_SIZES[1])


@pytest.mark.parametrize("dtype", DTYPES)
def test_fit_is_bitwise_reproducible(dtype):
    params, history = trained(dtype)
    again, history_again = trained(dtype)
    assert np.array_equal(params, again)
    assert history.cost == history_again.cost
    other, _ = trained(dtype, seed=1)
    assert not np.array_equal(params, other)  # the seed does matter


@needs_two_threads
@pytest.mark.parametrize("dtype", DTYPES)
def test_fit_is_bitwise_equal_with_one_thread_and_more(dtype):
    results = []
    for n_threads in THREAD_COUNTS:
        with threads(n_threads):
            results.append(trained(dtype))
    one, history_one = results[0]
    for params, history in results[1:]:
        assert np.array_equal(params, one)
        assert history.cost == history_one.cost


@needs_two_threads
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("output, cost", PAIRINGS)
def test_gradient_is_bitwise_equal_with_one_thread_and_more(dtype, output, cost):
    net, X, Y = problem(dtype, output, cost)
    results = []
    for n_threads in THREAD_COUNTS:
        with threads(n_threads):
            results.append((net.gradient(X, Y, l2=0.1).flat, net.cost(X, Y, l2=0.1)))
    one, cost_one = results[0]
    for gradient, cost_more in results[1:]:
        assert np.array_equal(gradient, one)
        assert cost_more == cost_one


@needs_two_threads
@pytest.mark.parametrize("dtype", DTYPES)
def test_kernels_are_bitwise_equal_with_one_thread_and_more(dtype):
    rng = np.random.default_rng(0)
    W = rng.standard_normal((WIDTH, WIDTH)).astype(dtype)
    A_prev = rng.random((BATCH, WIDTH)).astype(dtype)
    delta = rng.standard_normal((BATCH, WIDTH)).astype(dtype)
    Y = rng.random((BATCH, WIDTH)).astype(dtype)
    calls = [
        lambda: kernels.forward_layer(W, A_prev, W[0], "softmax"),
        lambda: kernels.output_error(A_prev, A_prev, Y, "softmax", "cross_entropy"),
        lambda: kernels.output_error_general(A_prev, Y, Y, "sigmoid", "quadratic"),
        lambda: kernels.hidden_error(delta, W, A_prev, "sigmoid"),
        lambda: kernels.weight_gradient(delta, A_prev),
        lambda: kernels.bias_gradient(delta),
        lambda: kernels.sgd_step(W, W, 0.1, 0.01, 0.9, W),
    ]
    for kernel in calls:
        with threads(1):
            one = kernel()
        for n_threads in THREAD_COUNTS[1:]:
            with threads(n_threads):
                more = kernel()
            for a, b in zip(np.atleast_1d(one), np.atleast_1d(more), strict=True):
                assert np.array_equal(a, b)


def fit_digest():
    """SHA-256 of the parameters after a seeded fit, and the thread count used."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((DIGEST_EXAMPLES, DIGEST_SIZES[0]))
    Y = rng.random((DIGEST_EXAMPLES, DIGEST_SIZES[-1]))
    net = ln.Network(DIGEST_SIZES, "relu", "sigmoid", "cross_entropy", seed=0)
    net.fit(X, Y, epochs=3, batch_size=DIGEST_BATCH_SIZE, lr=0.5, momentum=0.5, seed=0)
    return numba.get_num_threads(), hashlib.sha256(net.params.tobytes()).hexdigest()


@pytest.mark.skipif(NO_JIT, reason="compares compiled runs in fresh processes")
def test_fit_is_bitwise_equal_across_processes_and_thread_counts():
    """Fresh processes, started with 1 thread, 2 and all, agree with this one.

    ``NUMBA_NUM_THREADS`` may exceed the machine's cores, so the processes run
    with 2 threads even on a single core.
    """
    script = "from tests.test_threads import fit_digest; print(*fit_digest())"
    digests = {fit_digest()[1]}
    for n_threads in THREAD_COUNTS:
        env = dict(os.environ, PYTHONPATH=str(ROOT), NUMBA_NUM_THREADS=str(n_threads))
        result = subprocess.run(
            [sys.executable, "-c", script],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=True,
        )
        threads_used, digest = result.stdout.split()
        assert int(threads_used) == n_threads
        digests.add(digest)
    assert len(digests) == 1
