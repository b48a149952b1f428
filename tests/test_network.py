"""Network: parameter layout, initialization, and loop vs matrix gradients."""

import numpy as np
import pytest

import loopnet as ln
from loopnet.kernels.backprop import _network_gradient_by_example
from tests.helpers import DTYPES, HIDDEN, PAIRINGS, TOL, targets

ARCHITECTURES = [
    [3, 2],
    [2, 3, 1],
    [5, 1, 4],
    [7, 6, 5, 3],
    [4, 9, 1, 8, 5],
]  # depth 1 to 4
BATCHES = [1, 3, 17, 64]


def _sizes_for(sizes, output):
    """Softmax needs two output units at least."""
    return sizes[:-1] + [max(sizes[-1], 2)] if output == "softmax" else sizes


def _data(rng, net, n_batch):
    X = rng.uniform(-1, 1, (n_batch, net.sizes[0])).astype(net.dtype)
    Y = targets(rng, net.output, net.cost_name, n_batch, net.sizes[-1], net.dtype)
    return X, Y


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("output, cost", PAIRINGS)
@pytest.mark.parametrize("activation", HIDDEN)
@pytest.mark.parametrize("sizes", ARCHITECTURES)
@pytest.mark.parametrize("bias", [True, False])
def test_loop_gradient_matches_matrix(
    rng, dtype, output, cost, activation, sizes, bias
):
    net = ln.Network(
        _sizes_for(sizes, output), activation, output, cost, bias, dtype, seed=1
    )
    for n_batch in BATCHES:
        X, Y = _data(rng, net, n_batch)
        for reduction, l2 in [("mean", 0.0), ("sum", 0.3)]:
            loop = net.gradient(X, Y, reduction, l2, method="loop")
            matrix = net.gradient(X, Y, reduction, l2, method="matrix")
            assert loop.flat.dtype == matrix.flat.dtype == dtype
            np.testing.assert_allclose(loop.flat, matrix.flat, **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("output, cost", PAIRINGS)
@pytest.mark.parametrize("bias", [True, False])
def test_per_example_driver_matches_batched(rng, dtype, output, cost, bias):
    """The seeds' one-example-at-a-time algorithm gives the batched gradient.

    Not bit for bit: the batched kernels sum each dot product in vectorized
    register tiles (reassociated, with fused multiply-adds: ``kernels._tiles``),
    the per-example kernels in index order, so the two differ by rounding only.
    """
    net = ln.Network(
        _sizes_for([6, 5, 4, 3], output), "tanh", output, cost, bias, dtype, seed=2
    )
    X, Y = _data(rng, net, 17)
    batched = net.gradient(X, Y, "mean", 0.1).flat
    by_example = np.empty_like(net.params)
    _network_gradient_by_example(
        net.layout, net.params, X, Y, dtype(1 / 17), dtype(0.1), by_example
    )
    np.testing.assert_allclose(by_example, batched, **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
def test_sum_reduction_is_n_times_mean(rng, dtype):
    net = ln.Network(
        [4, 6, 3], "relu", "softmax", "log_likelihood", dtype=dtype, seed=3
    )
    X, Y = _data(rng, net, 17)
    for method in ("loop", "matrix"):
        total = net.gradient(X, Y, "sum", 0.5, method).flat
        mean = net.gradient(X, Y, "mean", 0.5, method).flat
        np.testing.assert_allclose(total, 17 * mean, **TOL[dtype])
    assert net.cost(X, Y, "sum", 0.5) == pytest.approx(
        17 * net.cost(X, Y, "mean", 0.5), rel=1e-5
    )


def test_l2_touches_weights_only(rng):
    net = ln.Network([3, 4, 2], seed=4)
    X, Y = _data(rng, net, 5)
    plain = net.gradient(X, Y, "sum")
    regularized = net.gradient(X, Y, "sum", l2=0.7)
    for W, g0, g1 in zip(net.weights, plain.weights, regularized.weights, strict=True):
        np.testing.assert_allclose(g1 - g0, 0.7 * W, rtol=1e-12, atol=1e-14)
    for g0, g1 in zip(plain.biases, regularized.biases, strict=True):
        np.testing.assert_array_equal(g0, g1)


def test_parameters_live_in_one_flat_array():
    net = ln.Network([3, 4, 2], seed=0)
    assert net.params.shape == (3 * 4 + 4 + 4 * 2 + 2,) == (net.n_params,)
    assert [W.shape for W in net.weights] == [(4, 3), (2, 4)]
    assert [bias.shape for bias in net.biases] == [(4,), (2,)]
    for array in net.weights + net.biases:
        assert np.shares_memory(array, net.params)
    net.weights[1][1, 2] = 42.0  # W^2[j=1, k=2]: layer 2's block, row 1, column 2
    assert net.params[3 * 4 + 4 + 1 * 4 + 2] == 42.0
    net.params[-1] = -7.0
    assert net.biases[1][1] == -7.0
    g = net.gradient(np.ones((1, 3)), np.ones((1, 2)))
    assert all(np.shares_memory(a, g.flat) for a in g.weights + g.biases)
    assert [a.shape for a in g.weights + g.biases] == [(4, 3), (2, 4), (4,), (2,)]


def test_network_without_biases_has_weights_only():
    net = ln.Network([3, 4, 2], bias=False, seed=0)
    assert net.n_params == 3 * 4 + 4 * 2
    assert all(not b.any() and not b.flags.writeable for b in net.biases)
    g = net.gradient(np.ones((2, 3)), np.ones((2, 2)))
    assert g.flat.shape == (net.n_params,)
    assert all(not b.any() for b in g.biases)


def test_initialization_is_seeded_and_scaled():
    a = ln.Network([400, 300, 10], seed=5)
    b = ln.Network([400, 300, 10], seed=5)
    c = ln.Network([400, 300, 10], seed=6)
    np.testing.assert_array_equal(a.params, b.params)
    assert not np.array_equal(a.params, c.params)
    assert a.weights[0].std() == pytest.approx(1 / np.sqrt(400), rel=0.02)
    assert a.weights[1].std() == pytest.approx(1 / np.sqrt(300), rel=0.1)
    assert a.biases[0].std() == pytest.approx(1.0, rel=0.15)
    single = ln.Network([400, 300, 10], dtype="float32", seed=5)
    np.testing.assert_array_equal(single.params, a.params.astype(np.float32))


@pytest.mark.parametrize("dtype", DTYPES)
def test_everything_stays_in_the_network_dtype(rng, dtype):
    net = ln.Network([3, 5, 2], "tanh", "sigmoid", "cross_entropy", dtype=dtype, seed=0)
    X = rng.random((4, 3))  # float64 input to a float32 network is converted
    Y = rng.random((4, 2))
    assert net.params.dtype == dtype
    assert net.forward(X).dtype == dtype
    assert net.cost(X, Y).dtype == dtype
    for method in ("loop", "matrix"):
        g = net.gradient(X, Y, method=method)
        assert g.flat.dtype == dtype
        assert all(a.dtype == dtype for a in g.weights + g.biases)


def test_forward_matches_reference(rng):
    net = ln.Network([5, 4, 3], "relu", "softmax", "log_likelihood", seed=0)
    X = rng.random((6, 5))
    _, As = ln.reference.forward(net.weights, net.biases, X, net.activations)
    np.testing.assert_allclose(net.forward(X), As[-1], rtol=1e-12, atol=1e-12)


def test_non_contiguous_and_fortran_inputs_give_the_same_gradient(rng):
    net = ln.Network([4, 3, 2], seed=0)
    X = rng.random((5, 4))
    Y = rng.random((5, 2))
    expected = net.gradient(X, Y).flat
    wide = np.zeros((10, 8))
    wide[::2, ::2] = X
    for X_in in (np.asfortranarray(X), wide[::2, ::2], X.tolist()):
        np.testing.assert_array_equal(net.gradient(X_in, Y).flat, expected)


def test_integer_and_boolean_data_are_converted(rng):
    net = ln.Network([2, 2], "sigmoid", "sigmoid", "cross_entropy", seed=0)
    X = np.array([[0, 1], [1, 0]])
    Y = np.array([[True, False], [False, True]])
    expected = net.gradient(X.astype(float), Y.astype(float)).flat
    np.testing.assert_array_equal(net.gradient(X, Y).flat, expected)


def test_copy_is_independent():
    net = ln.Network([2, 3, 1], seed=0)
    clone = net.copy()
    np.testing.assert_array_equal(clone.params, net.params)
    clone.params[0] += 1
    assert clone.params[0] != net.params[0]
    assert repr(clone) == repr(net)
