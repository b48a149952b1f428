"""The seeds' notations: each seed's own formulas, in its own notation, against loopnet.

Every test that reproduces a seed cites its file under ``../shared/seeds/``.
"""

import itertools

import numpy as np
import pytest

import loopnet as ln
from loopnet import notation
from tests.helpers import TOL

WELCH_X1 = np.array([[0.3, 1.0]])
WELCH_Y1 = np.array([[0.75]])
WELCH_X3 = np.array([[0.3, 1.0], [0.5, 0.2], [1.0, 0.4]])
# The seed gives y for the first example only; 0.82 and 0.93 are the scores of the
# same (scaled) data set in the video series the notes accompany.
WELCH_Y3 = np.array([[0.75], [0.82], [0.93]])


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def welch_gradients(W1, W2, X, y):
    """Seed 001 (001_864c21fac4f9d984.txt), equations (1)-(5) and questions 6-17.

    z2 = X W1, a2 = f(z2), z3 = a2 W2, yhat = f(z3), J = sum 1/2 (y - yhat)^2;
    f'(z) = e^{-z} / (1 + e^{-z})^2; delta3 = -(y - yhat) f'(z3);
    dJdW2 = a2^T delta3; delta2 = delta3 W2^T * f'(z2); dJdW1 = X^T delta2.
    """

    def f_prime(z):
        return np.exp(-z) / (1 + np.exp(-z)) ** 2

    z2 = X @ W1
    a2 = sigmoid(z2)
    z3 = a2 @ W2
    yhat = sigmoid(z3)
    J = np.sum(0.5 * (y - yhat) ** 2)
    delta3 = -(y - yhat) * f_prime(z3)
    dJdW2 = a2.T @ delta3
    delta2 = delta3 @ W2.T * f_prime(z2)
    dJdW1 = X.T @ delta2
    return J, dJdW1, dJdW2, a2


@pytest.mark.parametrize(
    "X, y", [(WELCH_X1, WELCH_Y1), (WELCH_X3, WELCH_Y3)], ids=["1-example", "3-example"]
)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_welch_worked_example_matches_seed_formulas(X, y, dtype):
    """Seed 001: the 2-3-1 network, W1 = ones(2, 3), W2 = ones(3, 1), summed cost."""
    W1, W2 = np.ones((2, 3)), np.ones((3, 1))
    J, dJdW1, dJdW2, _ = welch_gradients(W1, W2, X, y)
    net = notation.from_welch([W1.astype(dtype), W2.astype(dtype)])
    assert net.dtype == dtype and not net.bias and net.cost_name == "quadratic"
    grad = net.gradient(X, y, reduction="sum")
    loop_dW1, loop_dW2 = notation.to_welch(grad)
    matrix_dW1, matrix_dW2 = notation.to_welch(
        net.gradient(X, y, reduction="sum", method="matrix")
    )
    for loop, matrix, seed in (
        (loop_dW1, matrix_dW1, dJdW1),
        (loop_dW2, matrix_dW2, dJdW2),
    ):
        assert loop.dtype == dtype and loop.shape == seed.shape
        np.testing.assert_allclose(loop, seed, **TOL[dtype])
        np.testing.assert_allclose(matrix, seed, **TOL[dtype])
    np.testing.assert_allclose(net.cost(X, y, reduction="sum"), J, **TOL[dtype])


def test_welch_hand_arithmetic_rounds_sigmoid():
    """Seed 001 writes a2 = f(1.3) = 0.74 by hand; the true value is 0.7858."""
    *_, a2 = welch_gradients(np.ones((2, 3)), np.ones((3, 1)), WELCH_X1, WELCH_Y1)
    np.testing.assert_allclose(a2, 1 / (1 + np.exp(-1.3)))
    assert round(float(a2[0, 0]), 4) == 0.7858
    net = notation.from_welch([np.ones((2, 3)), np.ones((3, 1))])
    hidden = ln.Network([2, 3], bias=False)
    hidden.weights[0][...] = net.weights[0]
    np.testing.assert_allclose(hidden.forward(WELCH_X1), a2, **TOL[np.float64])


def softmax_rows(Z):
    E = np.exp(Z - Z.max(axis=1, keepdims=True))
    return E / E.sum(axis=1, keepdims=True)


def batched_softmax_gradients(weights, biases, X, Y):
    """Seed 003 (003_64cbd0125598e8f1.txt): four layers, softmax + cross-entropy.

    Rows are samples; each layer h_l = f(h_{l-1} W_l + b_l) with ``W_l`` of shape
    (n_in, n_out), f elementwise (sigmoid here), softmax at the output and the
    cross-entropy L = -sum y log yhat with one-hot y. Backward: dL/dz = yhat - y
    at the output, dL/dW_l = h_{l-1}^T delta_l (summed over the samples by the
    product), "since the bias is shared across all samples" dL/db_l is delta_l
    summed over the samples, and delta_{l-1} = (delta_l W_l^T) (x) f'(z_{l-1}).
    """
    hs, zs = [X], []
    for layer, (W, b) in enumerate(zip(weights, biases, strict=True)):
        z = hs[-1] @ W + b
        zs.append(z)
        hs.append(softmax_rows(z) if layer == len(weights) - 1 else sigmoid(z))
    loss = -np.sum(Y * np.log(hs[-1]))
    delta = hs[-1] - Y
    dWs, dbs = [None] * len(weights), [None] * len(weights)
    for layer in range(len(weights) - 1, -1, -1):
        dWs[layer] = hs[layer].T @ delta
        dbs[layer] = delta.sum(axis=0)
        if layer:
            h = hs[layer]
            delta = (delta @ weights[layer].T) * h * (1 - h)
    return loss, dWs, dbs


def test_batched_softmax_cross_entropy_matches_seed_formulas(rng):
    """Seed 003: a 3-sample batch, bias gradients summed over the samples."""
    sizes = [3, 4, 4, 3]
    weights = [rng.standard_normal(shape) for shape in itertools.pairwise(sizes)]
    biases = [rng.standard_normal(n_out) for n_out in sizes[1:]]
    X = rng.random((3, 3))
    Y = np.eye(3)[[0, 2, 1]]
    loss, dWs, dbs = batched_softmax_gradients(weights, biases, X, Y)

    net = ln.Network(sizes, "sigmoid", "softmax", "log_likelihood")
    for W, bias, seed_W, seed_b in zip(
        net.weights, net.biases, weights, biases, strict=True
    ):
        W[...] = seed_W.T
        bias[...] = seed_b
    np.testing.assert_allclose(net.cost(X, Y, reduction="sum"), loss, **TOL[np.float64])
    for method in ("loop", "matrix"):
        grad = net.gradient(X, Y, reduction="sum", method=method)
        for loop_W, loop_b, seed_W, seed_b in zip(
            grad.weights, grad.biases, dWs, dbs, strict=True
        ):
            np.testing.assert_allclose(loop_W, seed_W.T, **TOL[np.float64])
            np.testing.assert_allclose(loop_b, seed_b, **TOL[np.float64])
        mean = net.gradient(X, Y, reduction="mean", method=method)
        np.testing.assert_allclose(mean.flat, grad.flat / 3, **TOL[np.float64])
    # the seed's point: the batch's bias gradient is the sum of the samples' ones
    per_sample = sum(
        net.gradient(X[b : b + 1], Y[b : b + 1], "sum").flat for b in range(3)
    )
    np.testing.assert_allclose(grad.flat, per_sample, **TOL[np.float64])


def random_thetas(rng, sizes):
    """Ng's Theta^(l) of shape (n_l, n_prev + 1) for every layer."""
    return [
        rng.standard_normal((n_l, n_prev + 1))
        for n_prev, n_l in itertools.pairwise(sizes)
    ]


def ng_cost_and_gradient(thetas, X, Y, lam):
    """Seed 000 (000_447916687de1a608.txt): Ng's per-example backpropagation.

    For each example: a1 = [1; x], z^(l+1) = Theta^(l) a^(l), a^(l+1) = [1; g(z)]
    (no bias unit at the output); delta^(L) = a^(L) - y;
    delta^(l) = (Theta^(l)^T delta^(l+1))(2:end) .* g'(z^(l)); Delta^(l) +=
    delta^(l+1) (a^(l))^T. Then D = (1/m) Delta + (lambda/m) Theta for j != 0 and
    D = (1/m) Delta for j = 0 ("no regularization for bias term"). The cost is
    J = -(1/m) sum [y log h + (1 - y) log(1 - h)] + lambda/(2m) sum Theta(:, 2:)^2.
    """
    m = X.shape[0]
    Deltas = [np.zeros_like(theta) for theta in thetas]
    J = 0.0
    for i in range(m):
        activations, zs = [np.concatenate([[1.0], X[i]])], []
        for layer, theta in enumerate(thetas):
            z = theta @ activations[-1]
            zs.append(z)
            a = sigmoid(z)
            last = layer == len(thetas) - 1
            activations.append(a if last else np.concatenate([[1.0], a]))
        h, y = activations[-1], Y[i]
        J -= np.sum(y * np.log(h) + (1 - y) * np.log(1 - h))
        delta = h - y
        for layer in range(len(thetas) - 1, -1, -1):
            Deltas[layer] += np.outer(delta, activations[layer])
            if layer:
                g = sigmoid(zs[layer - 1])
                delta = (thetas[layer].T @ delta)[1:] * g * (1 - g)
    D = []
    for Delta, theta in zip(Deltas, thetas, strict=True):
        D_l = Delta / m
        D_l[:, 1:] += lam / m * theta[:, 1:]
        D.append(D_l)
    J = J / m + lam / (2 * m) * sum(np.sum(theta[:, 1:] ** 2) for theta in thetas)
    return J, D


@pytest.mark.parametrize("lam", [0.0, 1.0, 3.0])
def test_ng_regularized_gradient_matches_seed_formulas(rng, lam):
    """Seed 000: D = (1/m) Delta + (lambda/m) Theta, column 0 unregularized."""
    sizes = [3, 5, 4, 2]
    thetas = random_thetas(rng, sizes)
    X, Y = rng.random((6, 3)), rng.random((6, 2))
    J, D = ng_cost_and_gradient(thetas, X, Y, lam)
    net = notation.from_theta(thetas)
    assert net.cost_name == "cross_entropy" and net.sizes == tuple(sizes)
    np.testing.assert_allclose(net.cost(X, Y, "mean", l2=lam), J, **TOL[np.float64])
    for method in ("loop", "matrix"):
        grads = notation.to_theta(net.gradient(X, Y, "mean", l2=lam, method=method))
        for got, expected in zip(grads, D, strict=True):
            np.testing.assert_allclose(got, expected, **TOL[np.float64])


def test_ng_bias_column_is_not_regularized(rng):
    """Seed 000: 'Update j = 0 <- no regularization for bias term'."""
    thetas = [rng.standard_normal((4, 3)), rng.standard_normal((2, 5))]
    X, Y = rng.random((5, 2)), rng.random((5, 2))
    net = notation.from_theta(thetas)
    plain = notation.to_theta(net.gradient(X, Y, "mean", l2=0.0))
    regularized = notation.to_theta(net.gradient(X, Y, "mean", l2=2.0))
    for D0, D2, theta in zip(plain, regularized, thetas, strict=True):
        np.testing.assert_array_equal(D2[:, 0], D0[:, 0])
        np.testing.assert_allclose(
            D2[:, 1:] - D0[:, 1:], 2.0 / 5 * theta[:, 1:], rtol=1e-12
        )


def test_ng_gradient_checking_with_unrolled_vector(rng):
    """Seed 000's gradient checking: gradApprox(i) = (J(theta+) - J(theta-)) / 2 eps."""
    sizes, lam, epsilon = [2, 3, 2], 0.5, 1e-4
    thetas = random_thetas(rng, sizes)
    X, Y = rng.random((4, 2)), rng.random((4, 2))
    theta = notation.unroll(thetas)

    def J(vector):
        return notation.from_theta(notation.reshape(vector, sizes)).cost(X, Y, l2=lam)

    grad_approx = np.zeros_like(theta)
    for i in range(theta.size):
        plus, minus = theta.copy(), theta.copy()
        plus[i] += epsilon
        minus[i] -= epsilon
        grad_approx[i] = (J(plus) - J(minus)) / (2 * epsilon)
    net = notation.from_theta(thetas)
    grad = notation.unroll(notation.to_theta(net.gradient(X, Y, l2=lam)))
    np.testing.assert_allclose(grad, grad_approx, rtol=0, atol=1e-8)


# --- conversions ---------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_welch_round_trip_is_exact(dtype):
    net = ln.Network([4, 3, 5, 2], "tanh", "identity", bias=False, dtype=dtype, seed=3)
    welch = notation.to_welch(net)
    assert [W.shape for W in welch] == [(4, 3), (3, 5), (5, 2)]
    assert all(W.dtype == dtype and W.flags.c_contiguous for W in welch)
    back = notation.from_welch(welch, activation="tanh", output="identity")
    assert back.dtype == dtype and back.sizes == net.sizes
    np.testing.assert_array_equal(back.params, net.params)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_theta_round_trip_is_exact(dtype):
    net = ln.Network(
        [3, 4, 2], "relu", "softmax", "log_likelihood", dtype=dtype, seed=4
    )
    thetas = notation.to_theta(net)
    assert [theta.shape for theta in thetas] == [(4, 4), (2, 5)]
    np.testing.assert_array_equal(thetas[0][:, 0], net.biases[0])
    np.testing.assert_array_equal(thetas[0][:, 1:], net.weights[0])
    back = notation.from_theta(thetas, "relu", "softmax", "log_likelihood")
    assert back.dtype == dtype and back.activations == net.activations
    np.testing.assert_array_equal(back.params, net.params)


@pytest.mark.parametrize("order", ["F", "C"])
def test_unroll_reshape_round_trip(rng, order):
    sizes = [3, 4, 2]
    thetas = [rng.standard_normal((4, 4)), rng.standard_normal((2, 5))]
    flat = notation.unroll(thetas, order=order)
    assert flat.shape == (26,)
    for got, theta in zip(
        notation.reshape(flat, sizes, order=order), thetas, strict=True
    ):
        np.testing.assert_array_equal(got, theta)


def test_unroll_follows_octave_column_order():
    """Octave's Theta(:) reads column by column (seed 000 follows Ng's course)."""
    theta = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    np.testing.assert_array_equal(notation.unroll([theta]), [1, 4, 2, 5, 3, 6])
    np.testing.assert_array_equal(
        notation.unroll([theta], order="C"), [1, 2, 3, 4, 5, 6]
    )


def test_dtype_is_preserved_and_integers_become_float64():
    assert notation.from_welch([np.ones((2, 2), np.float32)]).dtype == np.float32
    assert notation.from_welch([[[1, 2], [3, 4]]]).dtype == np.float64
    thetas = [np.ones((2, 3), np.float32), np.ones((1, 3), np.float32)]
    assert notation.from_theta(thetas).dtype == np.float32
    assert notation.unroll(thetas).dtype == np.float32
    assert notation.reshape(np.zeros(9, np.float32), [2, 2, 1])[0].dtype == np.float32


def test_to_theta_of_a_network_without_biases_has_a_zero_column():
    net = ln.Network([2, 3, 1], bias=False, seed=0)
    thetas = notation.to_theta(net)
    assert all(np.all(theta[:, 0] == 0) for theta in thetas)


def test_to_welch_of_a_gradient_without_biases():
    net = notation.from_welch([np.ones((2, 3)), np.ones((3, 1))])
    grad = net.gradient(WELCH_X1, WELCH_Y1, reduction="sum")
    assert [W.shape for W in notation.to_welch(grad)] == [(2, 3), (3, 1)]


# --- bad input -----------------------------------------------------------------


@pytest.mark.parametrize(
    "weights, error, match",
    [
        ([], ValueError, "at least one matrix"),
        (np.ones((2, 3)), TypeError, "list of 2-D matrices"),
        ("abc", TypeError, "list of 2-D matrices"),
        ([np.ones(3)], ValueError, r"weights\[0\] must be a non-empty 2-D"),
        ([np.ones((2, 0))], ValueError, r"weights\[0\] must be a non-empty 2-D"),
        ([np.ones((2, 3)), np.ones((4, 1))], ValueError, r"weights\[1\] has 4 rows"),
        ([np.array([["a", "b"]])], TypeError, r"weights\[0\] must hold numbers"),
        ([np.array([[1.0, np.nan]])], ValueError, r"weights\[0\] must be finite"),
        ([np.ones((2, 2), dtype=np.complex128)], TypeError, "real-valued"),
    ],
)
def test_from_welch_rejects_bad_matrices(weights, error, match):
    with pytest.raises(error, match=match):
        notation.from_welch(weights)


@pytest.mark.parametrize(
    "thetas, match",
    [
        ([np.ones((3, 1))], r"thetas\[0\] has 1 column"),
        (
            [np.ones((3, 3)), np.ones((1, 3))],
            r"thetas\[1\] has 3 columns but thetas\[0\]",
        ),
    ],
)
def test_from_theta_rejects_matrices_that_do_not_chain(thetas, match):
    with pytest.raises(ValueError, match=match):
        notation.from_theta(thetas)


def test_from_theta_checks_its_names():
    with pytest.raises(ValueError, match="cost"):
        notation.from_theta([np.ones((1, 3))], cost="hinge")


def test_to_welch_refuses_biases():
    with pytest.raises(ValueError, match="to_welch needs a network without biases"):
        notation.to_welch(ln.Network([2, 2], seed=0))
    net = ln.Network([2, 2], seed=0)
    with pytest.raises(ValueError, match="without biases"):
        notation.to_welch(net.gradient([[0.1, 0.2]], [[0.5, 0.5]]))


@pytest.mark.parametrize("function", [notation.to_welch, notation.to_theta])
def test_to_functions_need_a_network_or_gradient(function):
    with pytest.raises(TypeError, match="Network or a Gradient"):
        function([np.ones((2, 2))])


@pytest.mark.parametrize(
    "flat, sizes, order, error, match",
    [
        (np.zeros(12), [2, 3, 1], "F", ValueError, "flat has 12 entries"),
        (np.zeros((1, 13)), [2, 3, 1], "F", ValueError, "flat must be a 1-D"),
        (np.zeros(13), [2, 3, 1], "A", ValueError, "order"),
        (np.zeros(13), [2], "F", ValueError, "sizes"),
        (np.full(13, np.inf), [2, 3, 1], "F", ValueError, "flat must be finite"),
    ],
)
def test_reshape_rejects_bad_input(flat, sizes, order, error, match):
    with pytest.raises(error, match=match):
        notation.reshape(flat, sizes, order=order)
