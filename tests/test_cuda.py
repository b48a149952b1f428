"""The CUDA kernels (loopnet.cuda) against the NumPy twin, on a GPU or its simulator.

Where no NVIDIA GPU answers, the root ``conftest.py`` switches Numba to its CUDA
simulator before ``numba.cuda`` is first imported (``NUMBA_ENABLE_CUDASIM=1``
forces the simulator, ``=0`` the GPU). The simulator runs every GPU thread as a
Python thread, so its sizes are tiny, chosen to cross the kernels' tile edges (32
outputs or terms per tile); ``gpu_only`` tests add real sizes where a GPU is
present. Without numba-cuda every test here is skipped.
"""

import itertools
import os
import subprocess
import sys

import numpy as np
import pytest
from numba.core import config

import loopnet as ln
import loopnet.cuda as lc
from loopnet import reference
from loopnet.activations import ARRAY_FORMS
from loopnet.steps import StepRule
from tests.helpers import (
    DIVERGING,
    DIVERGING_BATCH_SIZE,
    DIVERGING_SEED,
    DTYPES,
    HIDDEN,
    PAIRINGS,
    TOL,
    diverging_problem,
    targets,
)

pytest.importorskip(
    "numba_cuda", reason='numba-cuda is not installed: pip install -e ".[cuda]"'
)
if not lc.is_available():
    pytest.skip(
        "no GPU answers and the simulator is off (NUMBA_ENABLE_CUDASIM=0)",
        allow_module_level=True,
    )
kernels = lc.kernels
tiles = pytest.importorskip("loopnet.cuda.kernels._tiles")

SIMULATOR = bool(config.ENABLE_CUDASIM)
gpu_only = pytest.mark.skipif(
    SIMULATOR, reason="real GPU only: too slow on the simulator"
)

T = tiles.TILE  # outputs per tile side: 32 on a GPU, 8 on the simulator
# (n_batch, n_l, n_prev); the last spans 2 x 2 tiles of outputs
LAYER_SHAPES = [(1, 1, 1), (1, 3, 2), (7, 5, 3), (T + 1, T + 3, 4)]
# (n_batch, n_l, n_prev); the last spans 2 x 2 tiles and sums over two slices
GRADIENT_SHAPES = [(1, 1, 1), (1, 3, 2), (7, 5, 3), (T + 8, T + 1, T + 3)]
GPU_SHAPES = [(10, 30, 784), (67, 129, 65), (256, 1024, 1024)]


def assert_sum_close(loop, ref, abs_sum, n_terms, dtype):
    """|loop - ref| within twice the worst-case rounding of an n_terms-term sum.

    Recursive summation errs by at most gamma_n * sum |terms| with gamma_n =
    n u / (1 - n u) (Higham, Accuracy and Stability, 4.2); loop and twin each may.
    """
    u = np.finfo(dtype).eps / 2
    gamma = (n_terms + 1) * u / (1 - (n_terms + 1) * u)
    tol = TOL[dtype]
    bound = 2 * gamma * abs_sum + tol["atol"] + tol["rtol"] * np.abs(ref)
    assert np.all(np.abs(loop.astype(np.float64) - ref) <= bound)


# --- importing without the GPU ----------------------------------------------------


def run_python(code, **env):
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
        check=False,
    )


def test_import_needs_no_numba_cuda():
    result = run_python(
        "import sys\n"
        "sys.modules['numba_cuda'] = sys.modules['numba.cuda'] = None\n"
        "import numpy as np, loopnet as ln, loopnet.cuda\n"
        "assert loopnet.cuda.is_available() is False\n"
        "net = ln.Network([2, 1])\n"
        "try:\n"
        "    net.gradient(np.ones((1, 2)), np.ones((1, 1)), method='cuda')\n"
        "except ImportError as error:\n"
        "    print(error)\n"
    )
    assert result.returncode == 0, result.stderr
    assert 'pip install -e ".[cuda]"' in result.stdout


def test_import_loopnet_does_not_import_numba_cuda():
    result = run_python(
        "import sys, loopnet, loopnet.cuda\nprint('numba.cuda' in sys.modules)"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_no_gpu_raises_a_clear_error():
    result = run_python(
        "import numpy as np, loopnet as ln, loopnet.cuda\n"
        "if loopnet.cuda.is_available():\n"
        "    print('a GPU is present')\n"
        "    raise SystemExit\n"
        "try:\n"
        "    X, Y = np.ones((1, 2)), np.ones((1, 1))\n"
        "    loopnet.cuda.gradient(ln.Network([2, 1]), X, Y)\n"
        "except RuntimeError as error:\n"
        "    print(error)\n",
        NUMBA_ENABLE_CUDASIM="0",
    )
    assert result.returncode == 0, result.stderr
    if result.stdout.strip() == "a GPU is present":
        pytest.skip("a GPU is present")
    assert "no usable NVIDIA GPU" in result.stdout


def test_is_available():
    assert lc.is_available()


# --- forward ----------------------------------------------------------------------


def layer(rng, n_l, n_prev, dtype):
    W = rng.standard_normal((n_l, n_prev)) / np.sqrt(n_prev)
    return W.astype(dtype), rng.standard_normal(n_l).astype(dtype)


def check_forward(rng, dtype, activation, n_batch, n_l, n_prev, bias=True):
    W, bias_values = layer(rng, n_l, n_prev, dtype)
    bias_values = bias_values if bias else None
    A_prev = rng.random((n_batch, n_prev)).astype(dtype)
    Z, A = kernels.forward_layer(W, A_prev, bias_values, activation)
    Z_ref, A_ref = reference.forward_layer(W, A_prev, bias_values, activation)
    assert Z.dtype == A.dtype == dtype and Z.shape == A.shape == Z_ref.shape
    abs_sum = np.abs(A_prev) @ np.abs(W.T).astype(np.float64)
    if bias:
        abs_sum += np.abs(bias_values)
    assert_sum_close(Z, Z_ref, abs_sum, n_prev, dtype)
    # sigma is 1-Lipschitz (softmax too, in the infinity norm, up to a factor 2)
    bound = 2 * np.max(np.abs(Z.astype(np.float64) - Z_ref)) + TOL[dtype]["atol"]
    np.testing.assert_allclose(A, A_ref, rtol=TOL[dtype]["rtol"], atol=bound)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", [*HIDDEN, "softmax"])
@pytest.mark.parametrize("n_batch, n_l, n_prev", LAYER_SHAPES)
def test_forward_layer_matches_reference(rng, dtype, activation, n_batch, n_l, n_prev):
    check_forward(rng, dtype, activation, n_batch, n_l, n_prev)


@pytest.mark.parametrize("dtype", DTYPES)
def test_forward_layer_without_bias(rng, dtype):
    check_forward(rng, dtype, "tanh", 3, 4, 5, bias=False)


@gpu_only
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", ["sigmoid", "softmax"])
@pytest.mark.parametrize("n_batch, n_l, n_prev", GPU_SHAPES)
def test_forward_layer_real_sizes(rng, dtype, activation, n_batch, n_l, n_prev):
    check_forward(rng, dtype, activation, n_batch, n_l, n_prev)


def test_forward_layer_is_stable_at_large_z(rng):
    W = np.array([[1e4], [-1e4], [0.0]])
    A_prev = np.ones((2, 1))
    for activation in [*HIDDEN, "softmax"]:
        _, A = kernels.forward_layer(W, A_prev, None, activation)
        _, A_ref = reference.forward_layer(W, A_prev, None, activation)
        assert np.all(np.isfinite(A))
        np.testing.assert_allclose(A, A_ref, **TOL[np.float64])


def test_forward_layer_checks_its_arguments(rng):
    W, _ = layer(rng, 3, 4, np.float64)
    with pytest.raises(ValueError, match="A_prev"):
        kernels.forward_layer(W, np.ones((2, 5)))
    with pytest.raises(TypeError, match="A_prev"):
        kernels.forward_layer(W, np.ones((2, 4), dtype=np.float32))


# --- output error -----------------------------------------------------------------


def output_layer(rng, output, cost, n_batch, n_l, dtype, spread=2.0):
    Z = spread * rng.standard_normal((n_batch, n_l))
    A = ARRAY_FORMS[output][0](Z)
    Y = targets(rng, output, cost, n_batch, n_l)
    return Z.astype(dtype), A.astype(dtype), Y.astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("output, cost", PAIRINGS)
@pytest.mark.parametrize("n_batch, n_l", [(1, 2), (5, 3)])
def test_output_error_matches_reference(rng, dtype, output, cost, n_batch, n_l):
    Z, A, Y = output_layer(rng, output, cost, n_batch, n_l, dtype)
    loop = kernels.output_error(Z, A, Y, output, cost)
    ref = reference.output_error(Z, A, Y, output, cost)
    assert loop.dtype == dtype and loop.shape == ref.shape
    np.testing.assert_allclose(loop, ref, **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("output, cost", PAIRINGS)
def test_output_error_general_matches_reference(rng, dtype, output, cost):
    Z, A, Y = output_layer(rng, output, cost, 4, 3, dtype, spread=1.0)
    loop = kernels.output_error_general(Z, A, Y, output, cost)
    ref = reference.output_error_general(Z, A, Y, output, cost)
    assert loop.dtype == dtype
    np.testing.assert_allclose(loop, ref, **TOL[dtype])


@pytest.mark.parametrize("output, cost", PAIRINGS)
def test_output_error_is_finite_when_outputs_saturate(rng, output, cost):
    Z = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 3.0]])
    A = ARRAY_FORMS[output][0](Z)
    Y = targets(rng, output, cost, 2, 3)
    loop = kernels.output_error(Z, A, Y, output, cost)
    assert np.all(np.isfinite(loop))
    # the twin's softmax + cross_entropy form overflows exp(z_j - L_j) on its diagonal
    # before masking it out; the overflowed entries are discarded
    with np.errstate(over="ignore"):
        ref = reference.output_error(Z, A, Y, output, cost)
    np.testing.assert_allclose(loop, ref)


def test_softmax_cross_entropy_of_one_unit_is_zero():
    delta = kernels.output_error(
        np.ones((2, 1)), np.ones((2, 1)), np.ones((2, 1)), "softmax", "cross_entropy"
    )
    np.testing.assert_array_equal(delta, np.zeros((2, 1)))


# --- hidden error -----------------------------------------------------------------


def check_hidden(rng, dtype, activation, n_batch, n_l, n_next):
    delta_next = rng.standard_normal((n_batch, n_next)).astype(dtype)
    W_next, _ = layer(rng, n_next, n_l, dtype)
    Z = rng.standard_normal((n_batch, n_l)).astype(dtype)
    loop = kernels.hidden_error(delta_next, W_next, Z, activation)
    ref = reference.hidden_error(delta_next, W_next, Z, activation)
    assert loop.dtype == dtype and loop.shape == ref.shape
    abs_sum = np.abs(delta_next) @ np.abs(W_next).astype(np.float64)
    assert_sum_close(loop, ref, abs_sum, n_next, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", HIDDEN)
@pytest.mark.parametrize("n_batch, n_l, n_next", LAYER_SHAPES)
def test_hidden_error_matches_reference(rng, dtype, activation, n_batch, n_l, n_next):
    check_hidden(rng, dtype, activation, n_batch, n_l, n_next)


@gpu_only
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n_batch, n_l, n_next", GPU_SHAPES)
def test_hidden_error_real_sizes(rng, dtype, n_batch, n_l, n_next):
    check_hidden(rng, dtype, "sigmoid", n_batch, n_l, n_next)


def test_hidden_error_checks_its_arguments(rng):
    with pytest.raises(ValueError, match="delta_next"):
        kernels.hidden_error(np.ones((2, 3)), np.ones((4, 5)), np.ones((2, 5)))


# --- weight and bias gradients ----------------------------------------------------


def check_gradients(rng, dtype, n_batch, n_l, n_prev):
    delta = rng.standard_normal((n_batch, n_l)).astype(dtype)
    A_prev = rng.random((n_batch, n_prev)).astype(dtype)
    loop = kernels.weight_gradient(delta, A_prev)
    ref = reference.weight_gradient(delta, A_prev)
    assert loop.dtype == dtype and loop.shape == ref.shape
    abs_sum = np.abs(delta.T) @ np.abs(A_prev).astype(np.float64)
    assert_sum_close(loop, ref, abs_sum, n_batch, dtype)
    loop = kernels.bias_gradient(delta)
    ref = reference.bias_gradient(delta)
    assert loop.dtype == dtype and loop.shape == (n_l,)
    assert_sum_close(loop, ref, np.abs(delta).sum(axis=0), n_batch, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n_batch, n_l, n_prev", GRADIENT_SHAPES)
def test_gradients_match_reference(rng, dtype, n_batch, n_l, n_prev):
    check_gradients(rng, dtype, n_batch, n_l, n_prev)


@gpu_only
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n_batch, n_l, n_prev", GPU_SHAPES)
def test_gradients_real_sizes(rng, dtype, n_batch, n_l, n_prev):
    check_gradients(rng, dtype, n_batch, n_l, n_prev)


def test_weight_gradient_checks_its_arguments():
    with pytest.raises(ValueError, match="A_prev"):
        kernels.weight_gradient(np.ones((2, 3)), np.ones((3, 4)))


# --- the SGD step -----------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("momentum", [0.0, 0.9])
@pytest.mark.parametrize("n_batch, n_l, n_prev", [(1, 1, 1), GRADIENT_SHAPES[-1]])
def test_sgd_step_matches_reference(rng, dtype, momentum, n_batch, n_l, n_prev):
    W, bias = layer(rng, n_l, n_prev, dtype)
    delta = rng.standard_normal((n_batch, n_l)).astype(dtype)
    A_prev = rng.random((n_batch, n_prev)).astype(dtype)
    velocity = rng.standard_normal((n_l, n_prev)).astype(dtype)
    bias_velocity = rng.standard_normal(n_l).astype(dtype)
    lr, decay = 0.3, 0.01
    W_loop, v_loop = kernels.sgd_step(W, delta, A_prev, lr, decay, momentum, velocity)
    bias_loop, bv_loop = kernels.sgd_step_bias(bias, delta, lr, momentum, bias_velocity)
    g = reference.weight_gradient(delta, A_prev) / n_batch + decay * W
    g_bias = reference.bias_gradient(delta) / n_batch
    if momentum:
        v_ref, bv_ref = (
            momentum * velocity - lr * g,
            momentum * bias_velocity - lr * g_bias,
        )
        W_ref, bias_ref = W + v_ref, bias + bv_ref
    else:
        v_ref, bv_ref = velocity, bias_velocity
        W_ref, bias_ref = W - lr * g, bias - lr * g_bias
    for loop, ref in [
        (W_loop, W_ref),
        (v_loop, v_ref),
        (bias_loop, bias_ref),
        (bv_loop, bv_ref),
    ]:
        assert loop.dtype == dtype and loop.shape == ref.shape
        np.testing.assert_allclose(loop, ref, **TOL[dtype])


def test_sgd_step_checks_its_arguments():
    with pytest.raises(ValueError, match="lr"):
        kernels.sgd_step(np.ones((1, 1)), np.ones((1, 1)), np.ones((1, 1)), lr=-1.0)
    with pytest.raises(ValueError, match="momentum"):
        kernels.sgd_step_bias(np.ones(1), np.ones((1, 1)), lr=0.1, momentum=1.0)
    with pytest.raises(ValueError, match="velocity"):
        kernels.sgd_step_bias(np.ones(1), np.ones((1, 1)), lr=0.1, velocity=np.ones(2))


# --- the network's gradient -------------------------------------------------------


def network_data(rng, net, n_batch):
    X = rng.standard_normal((n_batch, net.sizes[0]))
    Y = targets(rng, net.output, net.cost_name, n_batch, net.sizes[-1])
    return X.astype(net.dtype), Y.astype(net.dtype)


def check_network_gradient(rng, net, n_batch, reduction="mean", l2=0.0):
    X, Y = network_data(rng, net, n_batch)
    loop = lc.gradient(net, X, Y, reduction, l2)
    ref = net.gradient(X, Y, reduction, l2, method="matrix")
    assert isinstance(loop, ln.Gradient) and loop.flat.dtype == net.dtype
    np.testing.assert_allclose(loop.flat, ref.flat, **TOL[net.dtype.type])
    for layer_index, W in enumerate(net.weights):
        assert loop.weights[layer_index].shape == W.shape
        assert np.shares_memory(loop.weights[layer_index], loop.flat)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("output, cost", PAIRINGS)
def test_network_gradient_matches_reference(rng, dtype, output, cost):
    net = ln.Network([3, 4, 2], "tanh", output, cost, dtype=dtype, seed=1)
    check_network_gradient(rng, net, 5)


@pytest.mark.parametrize("activation", HIDDEN)
def test_network_gradient_every_hidden_activation(rng, activation):
    net = ln.Network([3, 5, 4, 2], activation, "sigmoid", "quadratic", seed=2)
    check_network_gradient(rng, net, 1, reduction="sum", l2=0.3)


@pytest.mark.parametrize("dtype", DTYPES)
def test_network_gradient_without_bias(rng, dtype):
    net = ln.Network([3, 4, 2], bias=False, dtype=dtype, seed=3)
    check_network_gradient(rng, net, 3, l2=0.5)


@gpu_only
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "sizes, n_batch",
    [([784, 30, 10], 10), ([784, 100, 10], 1000), ([64, 65, 33, 10], 37)],
)
def test_network_gradient_real_sizes(rng, dtype, sizes, n_batch):
    net = ln.Network(
        sizes, output="softmax", cost="log_likelihood", dtype=dtype, seed=4
    )
    X, Y = network_data(rng, net, n_batch)
    loop = lc.gradient(net, X, Y)
    ref = net.gradient(X, Y, method="matrix")
    # float32 sums of up to 1000 terms: compare on the gradient's own scale
    scale = np.max(np.abs(ref.flat))
    tol = 1e-12 if dtype == np.float64 else 1e-4
    np.testing.assert_allclose(loop.flat, ref.flat, rtol=tol, atol=tol * scale)


def test_network_method_cuda(rng):
    net = ln.Network([3, 4, 2], seed=5)
    X, Y = network_data(rng, net, 4)
    np.testing.assert_array_equal(
        net.gradient(X, Y, method="cuda").flat, lc.gradient(net, X, Y).flat
    )


def test_device_network_keeps_the_gradient_on_the_device(rng):
    net = ln.Network([3, 4, 2], seed=6)
    X, Y = network_data(rng, net, 4)
    device = lc.DeviceNetwork(net)
    from numba import cuda

    grad = device.gradient(cuda.to_device(X), cuda.to_device(Y), "sum", 0.1)
    assert cuda.devicearray.is_cuda_ndarray(grad)
    np.testing.assert_allclose(
        grad.copy_to_host(), net.gradient(X, Y, "sum", 0.1, method="matrix").flat
    )
    with pytest.raises(ValueError, match="Y"):
        device.gradient(
            cuda.to_device(X), cuda.to_device(np.ascontiguousarray(Y[:, :1]))
        )


def test_gradient_checks_its_arguments(rng):
    net = ln.Network([3, 4, 2], seed=7)
    X, Y = network_data(rng, net, 4)
    with pytest.raises(ValueError, match="X"):
        lc.gradient(net, X[:, :2], Y)
    with pytest.raises(ValueError, match="reduction"):
        lc.gradient(net, X, Y, reduction="max")
    with pytest.raises(ValueError, match="l2"):
        net.gradient(X, Y, l2=-1.0, method="cuda")


# --- training ---------------------------------------------------------------------


def weight_mask(net, X, Y):
    """Mark where ``params`` holds a weight (biases take no L2), read off a Gradient."""
    g = net.gradient(X[:1], Y[:1], method="matrix")
    g.flat[:] = 0
    for dW in g.weights:
        dW[...] = 1
    return g.flat == 1


def numpy_sgd(net, X, Y, permutations, batch_size, lr, l2, momentum):
    """Run fit's SGD straightforwardly: mean minibatch gradient + (l2/N) W."""
    clone = net.copy()
    n_examples = X.shape[0]
    is_weight = weight_mask(net, X, Y)
    velocity = np.zeros_like(clone.params)
    for order in permutations:
        for start in range(0, n_examples, batch_size):
            batch = order[start : start + batch_size]
            g = clone.gradient(X[batch], Y[batch], method="matrix").flat
            g = g + np.where(is_weight, l2 / n_examples * clone.params, 0).astype(
                net.dtype
            )
            if momentum:
                velocity = momentum * velocity - lr * g
                clone.params[:] += velocity
            else:
                clone.params[:] -= lr * g
    return clone.params


def permutations(rng, epochs, n_examples):
    return np.array([rng.permutation(n_examples) for _ in range(epochs)])


TRAIN_CASES = [
    ("sigmoid", "quadratic", 0.0, 0.0),
    ("softmax", "log_likelihood", 0.9, 0.2),
    ("sigmoid", "cross_entropy", 0.5, 0.0),
    ("softmax", "cross_entropy", 0.0, 0.1),
    ("identity", "quadratic", 0.9, 0.0),
]


# every case on the fused kernel; the per-layer path, slower on the simulator, shares
# the per-index output-error code and gets two cases of one epoch
@pytest.mark.parametrize(
    "fused, output, cost, momentum, l2",
    [(True, *case) for case in TRAIN_CASES]
    + [(False, *case) for case in TRAIN_CASES[:2]],
)
def test_trainer_matches_numpy_sgd(rng, fused, output, cost, momentum, l2):
    net = ln.Network([3, 4, 2], "sigmoid", output, cost, seed=8)
    X, Y = network_data(rng, net, 7)
    orders = permutations(rng, 2 if fused else 1, 7)
    expected = numpy_sgd(net, X, Y, orders, 3, 0.5, l2, momentum)
    trainer = lc.Trainer(
        net, X, Y, batch_size=3, lr=0.5, l2=l2, momentum=momentum, fused=fused
    )
    assert trainer.fused is fused and trainer.n_batches == 3
    for order in orders:
        trainer.run(order)
    trainer.pull()
    np.testing.assert_allclose(net.params, expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("fused", [True, False])
def test_trainer_float32_without_bias(rng, fused):
    net = ln.Network([3, 4, 2], "relu", dtype="float32", bias=False, seed=9)
    X, Y = network_data(rng, net, 5)
    orders = permutations(rng, 2 if fused else 1, 5)
    expected = numpy_sgd(net, X, Y, orders, 2, 0.5, 0.1, 0.5)
    trainer = lc.Trainer(
        net, X, Y, batch_size=2, lr=0.5, l2=0.1, momentum=0.5, fused=fused
    )
    for order in orders:
        trainer.run(order)
    trainer.pull()
    assert net.params.dtype == np.float32
    np.testing.assert_allclose(net.params, expected, rtol=1e-5, atol=1e-6)


def test_running_an_epoch_in_pieces_changes_nothing(rng):
    results = []
    order = rng.permutation(7)
    for pieces in [(0, 3), (0, 1, 3), (0, 1, 2, 3)]:
        net = ln.Network([3, 4, 2], seed=10)
        X, Y = network_data(np.random.default_rng(0), net, 7)
        trainer = lc.Trainer(net, X, Y, batch_size=3, lr=0.5, momentum=0.9, fused=True)
        for first, stop in itertools.pairwise(pieces):
            trainer.run(order, first, stop)
        trainer.pull()
        results.append(net.params.copy())
    np.testing.assert_array_equal(results[0], results[1])
    np.testing.assert_array_equal(results[0], results[2])


def test_train_matches_numpy_sgd(rng):
    net = ln.Network([3, 4, 2], output="softmax", cost="log_likelihood", seed=11)
    X, Y = network_data(rng, net, 6)
    orders = permutations(rng, 2, 6)
    expected = numpy_sgd(net, X, Y, orders, 4, 0.2, 0.1, 0.5)
    assert (
        lc.train(net, X, Y, orders, batch_size=4, lr=0.2, l2=0.1, momentum=0.5) is None
    )
    np.testing.assert_allclose(net.params, expected, rtol=1e-10, atol=1e-12)


def test_batch_larger_than_the_data_is_one_batch(rng):
    net = ln.Network([3, 4, 2], seed=12)
    X, Y = network_data(rng, net, 3)
    orders = permutations(rng, 1, 3)
    expected = numpy_sgd(net, X, Y, orders, 50, 1.0, 0.0, 0.0)
    lc.train(net, X, Y, orders, batch_size=50, lr=1.0)
    np.testing.assert_allclose(net.params, expected, rtol=1e-10, atol=1e-12)


def test_train_checks_every_permutation_before_a_step(rng):
    net = ln.Network([3, 4, 2], seed=13)
    X, Y = network_data(rng, net, 4)
    before = net.params.copy()
    bad = [np.arange(4), np.array([0, 1, 1, 2])]
    with pytest.raises(ValueError, match=r"permutations\[1\]"):
        lc.train(net, X, Y, bad)
    with pytest.raises(ValueError, match="permutations"):
        lc.train(net, X, Y, np.arange(4))
    with pytest.raises(ValueError, match=r"permutations\[0\]"):
        lc.train(net, X, Y, [np.arange(1, 5)])
    np.testing.assert_array_equal(net.params, before)


def test_trainer_checks_its_arguments(rng):
    net = ln.Network([3, 4, 2], seed=14)
    X, Y = network_data(rng, net, 4)
    with pytest.raises(ValueError, match="batch_size"):
        lc.Trainer(net, X, Y, batch_size=0, lr=0.1)
    with pytest.raises(ValueError, match="momentum"):
        lc.Trainer(net, X, Y, batch_size=2, lr=0.1, momentum=1.5)
    trainer = lc.Trainer(net, X, Y, batch_size=2, lr=0.1)
    with pytest.raises(ValueError, match="stop"):
        trainer.run(np.arange(4), 0, 3)
    with pytest.raises(ValueError, match="order"):
        trainer.run(np.arange(5))


@gpu_only
@pytest.mark.parametrize("fused", [True, False])
def test_trainer_real_size(rng, fused):
    net = ln.Network([784, 30, 10], seed=15)
    X, Y = network_data(rng, net, 2000)
    orders = permutations(rng, 1, 2000)
    expected = numpy_sgd(net, X, Y, orders, 10, 3.0, 0.0, 0.0)
    trainer = lc.Trainer(net, X, Y, batch_size=10, lr=3.0, fused=fused)
    trainer.run(orders[0])
    trainer.pull()
    np.testing.assert_allclose(net.params, expected, rtol=1e-9, atol=1e-9)


def test_small_grids_raise_no_performance_warning(recwarn):
    # few blocks are deliberate for small layers and the fused kernel; a width used
    # nowhere else makes this launch configure a new geometry
    kernels.bias_gradient(np.ones((2, 2 * tiles.ELEMENT_BLOCK + 1)))
    assert not [w for w in recwarn if "Grid size" in str(w.message)]


@pytest.mark.parametrize("dtype", DTYPES)
def test_fit_on_the_gpu_matches_the_cpu(rng, dtype):
    """``Network.fit(method="cuda")``: the same shuffles and steps as the CPU loop."""
    net = ln.Network(
        [4, 5, 3], "tanh", "softmax", "log_likelihood", dtype=dtype, seed=3
    )
    X = rng.random((11, 4)).astype(dtype)
    Y = targets(rng, "softmax", "log_likelihood", 11, 3, dtype)
    on_cpu, on_gpu = net.copy(), net.copy()
    arguments = {
        "epochs": 2,
        "batch_size": 4,
        "lr": 0.5,
        "l2": 0.1,
        "momentum": 0.5,
        "seed": 7,
        "validation": (X, Y),
        "progress": False,
    }
    on_cpu.fit(X, Y, **arguments)
    history = on_gpu.fit(X, Y, method="cuda", **arguments)
    assert on_gpu.params.dtype == dtype
    np.testing.assert_allclose(on_gpu.params, on_cpu.params, **TOL[dtype])
    assert history.epochs == 2 and len(history.val_accuracy) == 2
    # The GPU loop keeps no running cost: the history holds the end-of-epoch cost.
    assert history.cost[-1] == pytest.approx(float(on_gpu.cost(X, Y)), rel=1e-5)


def test_fit_on_the_gpu_runs_a_schedule_and_stops_early(rng):
    """Schedules, early stopping and callbacks live in fit's Python driver."""
    net = ln.Network([4, 5, 3], "tanh", "softmax", "log_likelihood", seed=3)
    X = rng.random((11, 4))
    Y = targets(rng, "softmax", "log_likelihood", 11, 3, np.float64)
    on_cpu, on_gpu = net.copy(), net.copy()
    arguments = {
        "epochs": 3,
        "batch_size": 4,
        "lr": ln.schedules.StepDecay(0.5, drop=0.5, every=1),
        "momentum": 0.5,
        "seed": 7,
        "validation": (X, Y),
        "early_stopping": True,
        "progress": False,
    }
    on_cpu.fit(X, Y, **arguments)
    history = on_gpu.fit(X, Y, method="cuda", **arguments)
    np.testing.assert_allclose(on_gpu.params, on_cpu.params, **TOL[np.float64])
    assert history.lr == [0.5, 0.25, 0.125] and on_gpu.optimizer_state is None


@pytest.mark.parametrize(
    "options, match",
    [
        ({"optimizer": "adam"}, "optimizer='adam' is not available with method='cuda'"),
        ({"optimizer": "nesterov"}, "optimizer='nesterov' is not available"),
        ({"warm_start": True}, "warm_start=True needs a CPU backend"),
    ],
)
def test_fit_on_the_gpu_refuses_what_it_has_not(rng, options, match):
    net = ln.Network([2, 2], seed=0)
    before = net.params.copy()
    with pytest.raises(ValueError, match=match):
        net.fit(np.ones((3, 2)), np.ones((3, 2)), method="cuda", **options)
    np.testing.assert_array_equal(net.params, before)


def test_fit_rejects_an_unknown_device(rng):
    net = ln.Network([2, 2], seed=0)
    before = net.params.copy()
    with pytest.raises(ValueError, match="device must be one of 'cpu', 'cuda'"):
        net.fit(np.ones((3, 2)), np.ones((3, 2)), device="tpu")
    np.testing.assert_array_equal(net.params, before)


# --- divergence and non-finite parameters (docs/training.md "Divergence") ------


# the simulator runs the kernels as NumPy scalars, which warn as they overflow
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_fit_on_the_gpu_stops_before_the_step_that_diverges():
    lr, momentum = DIVERGING["parameters"]
    BATCH_SIZE, SEED = DIVERGING_BATCH_SIZE, DIVERGING_SEED
    net, X, Y = diverging_problem()
    N = X.shape[0]
    N_BATCHES = -(-N // BATCH_SIZE)
    start = net.copy()
    with pytest.raises(ln.DivergenceError, match="smaller lr") as raised:
        net.fit(
            X, Y, epochs=60, batch_size=BATCH_SIZE, lr=lr, momentum=momentum,
            seed=SEED, method="cuda", progress=False,
        )  # fmt: skip
    error = raised.value
    assert isinstance(error, FloatingPointError) and (error.epoch, error.batch) > (1, 1)
    assert error.history.epochs == error.epoch - 1
    assert np.all(np.isfinite(net.params))
    # the state after mini-batch batch - 1, rebuilt by the GPU trainer step by step
    params = start.params.copy()
    trainer = ln.backends.get("cuda").trainer(
        start.layout, params, X, Y, BATCH_SIZE, StepRule(lr=lr, momentum=momentum)
    )
    rng = np.random.default_rng(SEED)
    for _ in range(error.epoch - 1):
        trainer.run(rng.permutation(N).astype(np.int64), 0, N_BATCHES, None)
    order = rng.permutation(N).astype(np.int64)
    for batch in range(error.batch - 1):
        trainer.run(order, batch, batch + 1, None)
    assert net.params.tobytes() == params.tobytes()
    trainer.run(order, error.batch - 1, error.batch, None)
    assert not np.all(np.isfinite(params))  # the next step is the one that diverged


def test_gpu_trainer_snapshot_restores_parameters_and_velocity():
    net, X, Y = diverging_problem()
    params = net.params.copy()
    trainer = ln.backends.get("cuda").trainer(
        net.layout, params, X, Y, 5, StepRule(lr=1e-4, momentum=0.9)
    )
    order = np.random.default_rng(0).permutation(X.shape[0]).astype(np.int64)
    trainer.run(order, 0, 2, None)
    saved = trainer.snapshot()
    before = params.copy()
    trainer.run(order, 2, 5, None)
    once = params.copy()
    trainer.restore(saved)
    assert params.tobytes() == before.tobytes()
    trainer.run(order, 2, 5, None)
    assert params.tobytes() == once.tobytes()


@pytest.mark.parametrize(
    "call",
    [
        lambda net, X, Y: net.gradient(X, Y, method="cuda"),
        lambda net, X, Y: lc.gradient(net, X, Y),
        lambda net, X, Y: net.fit(X, Y, method="cuda", progress=False),
        lambda net, X, Y: lc.Trainer(net, X, Y, batch_size=2, lr=0.1),
        lambda net, X, Y: lc.train(net, X, Y, [np.arange(3)]),
        lambda net, X, Y: lc.DeviceNetwork(net),
    ],
)
def test_non_finite_params_are_named_on_the_gpu(call):
    net = ln.Network([2, 3, 1], seed=0)
    X, Y = np.ones((3, 2)), np.full((3, 1), 0.5)
    net.params[4] = np.nan
    before = net.params.copy()
    with pytest.raises(ValueError, match=r"params holds 1 NaN or infinite value"):
        call(net, X, Y)
    assert net.params.tobytes() == before.tobytes()


def test_device_network_push_refuses_non_finite_params():
    net = ln.Network([2, 3, 1], seed=0)
    device = lc.DeviceNetwork(net)
    net.params[0] = np.inf
    with pytest.raises(ValueError, match="params holds 1 NaN or infinite value"):
        device.push()
    assert np.all(np.isfinite(device.params.copy_to_host()))
