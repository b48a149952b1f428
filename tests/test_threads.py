"""The same bits with 1 Numba thread, 2 and all, run to run, in any process or thread.

Every reduction in the kernels keeps one summation order whatever the thread
count (STYLE: parallel loops only over an index whose writes are disjoint), so
these tests compare with ``np.array_equal``, not a tolerance: the kernels one by
one, the network's forward pass, cost and gradient, and fit, in this process and
in fresh ones. The kernels split their rows between threads only from
``MIN_PARALLEL_WORK`` multiply-adds on (``test_parallel.py``), so every problem
here has a layer above that (checked by ``test_problems_take_the_parallel_kernels``):
with tiny layers every thread count would run the same serial code, and the tests
would prove nothing.
"""

import concurrent.futures
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
from tests.helpers import DTYPES, NO_JIT, PAIRINGS, TOL, targets

ROOT = Path(__file__).resolve().parents[1]
MAX_THREADS = numba.config.NUMBA_NUM_THREADS
THREAD_COUNTS = sorted({1, 2, MAX_THREADS})
# Each count once, then 1 and 2 again: a count also gives the same bits twice.
THREAD_SEQUENCE = [*THREAD_COUNTS, 1, 2]
needs_two_threads = pytest.mark.skipif(
    MAX_THREADS < 2, reason="Numba has a single thread (NUMBA_NUM_THREADS=1)"
)
WIDTH, BATCH, BATCH_SIZE = (12, 16, 4) if NO_JIT else (160, 256, 32)
# One layer's kernels, (n_batch, n_l, n_prev): square and on the 4 x 4 tile grid,
# and odd sizes off it.
KERNEL_SHAPES = [(BATCH, WIDTH, WIDTH), (7, 6, 20) if NO_JIT else (70, 61, 200)]
# Networks, (sizes, n_batch): "wide" goes parallel in every layer, the output
# layer too; "deep" has odd sizes, three weight layers and serial ones among them.
NETWORKS = {
    "wide": ([WIDTH, WIDTH, 10], BATCH),
    "deep": ([30, 7, 4, 5], 9) if NO_JIT else ([300, 70, 37, 5], 45),
}
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


def problem(dtype, output="sigmoid", cost="quadratic", seed=0, network="wide"):
    sizes, n_batch = NETWORKS[network]
    net = ln.Network(sizes, "tanh", output, cost, dtype=dtype, seed=seed)
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_batch, sizes[0])).astype(dtype)
    return net, X, targets(rng, output, cost, n_batch, sizes[-1], dtype)


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
    for n_batch, n_l, n_prev in KERNEL_SHAPES:  # forward, errors, gradient kernels
        assert use_threads(n_batch * n_l * n_prev)
    for sizes, n_batch in NETWORKS.values():  # gradient, forward, cost
        assert use_threads(n_batch * sizes[0] * sizes[1])
    assert use_threads(BATCH * 10 * WIDTH)  # the wide network's output layer too
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
@pytest.mark.parametrize("network", list(NETWORKS))
@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("output, cost", PAIRINGS)
def test_network_is_bitwise_equal_with_one_thread_and_more(
    network, reduction, dtype, output, cost
):
    """Gradient, cost and forward pass; the gradient also agrees with the twin."""
    net, X, Y = problem(dtype, output, cost, network=network)
    results = []
    for n_threads in THREAD_SEQUENCE:
        with threads(n_threads):
            results.append(
                (
                    net.gradient(X, Y, reduction, l2=0.1).flat,
                    net.cost(X, Y, reduction, l2=0.1),
                    net.forward(X),
                )
            )
    gradient_one, cost_one, output_one = results[0]
    for gradient, cost_more, output_more in results[1:]:
        assert np.array_equal(gradient, gradient_one)
        assert cost_more == cost_one
        assert np.array_equal(output_more, output_one)
    matrix = net.gradient(X, Y, reduction, l2=0.1, method="matrix").flat
    np.testing.assert_allclose(gradient_one, matrix, **TOL[dtype])


@needs_two_threads
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n_batch, n_l, n_prev", KERNEL_SHAPES)
def test_kernels_are_bitwise_equal_with_one_thread_and_more(
    dtype, n_batch, n_l, n_prev
):
    rng = np.random.default_rng(0)
    W = rng.standard_normal((n_l, n_prev)).astype(dtype)
    bias = rng.standard_normal(n_l).astype(dtype)
    A_prev = rng.random((n_batch, n_prev)).astype(dtype)
    A = rng.random((n_batch, n_l)).astype(dtype)  # also Z of the output errors
    delta = rng.standard_normal((n_batch, n_l)).astype(dtype)
    Y = rng.random((n_batch, n_l)).astype(dtype)
    calls = {
        "forward_layer softmax": lambda: kernels.forward_layer(
            W, A_prev, bias, "softmax"
        ),
        "forward_layer tanh": lambda: kernels.forward_layer(W, A_prev, bias, "tanh"),
        "output_error": lambda: kernels.output_error(
            A, A, Y, "softmax", "cross_entropy"
        ),
        "output_error_general": lambda: kernels.output_error_general(
            A, Y, Y, "sigmoid", "quadratic"
        ),
        "hidden_error": lambda: kernels.hidden_error(delta, W, A_prev, "sigmoid"),
        "weight_gradient": lambda: kernels.weight_gradient(delta, A_prev),
        "bias_gradient": lambda: kernels.bias_gradient(delta),
        "sgd_step": lambda: kernels.sgd_step(W, W, 0.1, 0.01, 0.9, W),
    }
    runs = []
    for n_threads in THREAD_SEQUENCE:
        with threads(n_threads):
            runs.append({name: _arrays(kernel()) for name, kernel in calls.items()})
    for run in runs[1:]:
        for name, one in runs[0].items():
            for a, b in zip(one, run[name], strict=True):
                assert np.array_equal(a, b), name


def _arrays(result):
    """A kernel's result as a tuple of arrays: (Z, A), (W, v) or (dW,)."""
    return result if isinstance(result, tuple) else (result,)


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


# --- Python threads calling loopnet at once ------------------------------------


@pytest.mark.skipif(
    numba.config.THREADING_LAYER == "workqueue",
    reason="Numba's workqueue layer is not thread-safe (docs/robustness.md)",
)
@pytest.mark.parametrize("dtype", DTYPES)
def test_python_threads_at_once_get_the_bits_of_one(dtype):
    """One network's gradient, forward and cost, and fits, from 6 threads at once.

    Each result equals, bit for bit, the same call made alone. The fits train
    copies (one network trained by two threads at once would be a race of the
    caller's making); the other threads read the network they share.
    """
    net, X, Y = problem(dtype)
    alone = {
        "gradient": net.gradient(X, Y, l2=0.1).flat,
        "forward": net.forward(X),
        "cost": net.cost(X, Y),
    }
    params_alone, history_alone = trained(dtype)
    calls = {
        "gradient": lambda: net.gradient(X, Y, l2=0.1).flat,
        "forward": lambda: net.forward(X),
        "cost": lambda: net.cost(X, Y),
    }

    def read(name):
        return [(name, calls[name]()) for _ in range(4)]

    def train():
        return [("fit", trained(dtype))]

    jobs = [(read, "gradient"), (read, "gradient"), (read, "forward")]
    jobs += [(read, "cost"), (train,), (train,)]
    with concurrent.futures.ThreadPoolExecutor(len(jobs)) as pool:
        futures = [pool.submit(*job) for job in jobs]
        # a failure in a thread raises here; a hang fails at the timeout
        results = [pair for future in futures for pair in future.result(600)]
    assert len(results) == 18
    for name, value in results:
        if name == "fit":
            params, history = value
            assert np.array_equal(params, params_alone)
            assert history.cost == history_alone.cost
        else:
            assert np.array_equal(value, alone[name]), name


def test_a_process_that_never_forked_runs_parallel_kernels():
    """``serial_only`` holds only in a forked child of an OpenMP process."""
    from loopnet import _jit

    assert not _jit.serial_only()
    assert _jit.use_threads(_jit.MIN_PARALLEL_WORK)
