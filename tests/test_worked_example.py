"""The worked 2-3-1 example of shared/seeds/001_864c21fac4f9d984.txt (Welch's notes).

The notes write z2 = X W1, a2 = f(z2), z3 = a2 W2, yhat = f(z3), J = sum 1/2 (y -
yhat)^2 with W1 = ones(2, 3), W2 = ones(3, 1), no biases, sigmoid f, and derive
delta3 = -(y - yhat) f'(z3), dJ/dW2 = a2^T delta3, delta2 = delta3 W2^T * f'(z2),
dJ/dW1 = X^T delta2. loopnet stores W^l[j, k] = W_l^T, so its gradients are the
transposes. The notes round sigmoid(1.3) to 0.74 by hand; the true value is
0.7858, and the tests use the computed values.
"""

import numpy as np
import pytest

import loopnet as ln


def f(z):
    return 1 / (1 + np.exp(-z))


def f_prime(z):
    return np.exp(-z) / (1 + np.exp(-z)) ** 2  # the notes' own form of f'


def welch_gradients(X, y, W1, W2):
    """The seed's closed forms, in the seed's notation."""
    z2 = X @ W1
    a2 = f(z2)
    z3 = a2 @ W2
    yhat = f(z3)
    delta3 = -(y - yhat) * f_prime(z3)
    dJdW2 = a2.T @ delta3
    delta2 = (delta3 @ W2.T) * f_prime(z2)
    dJdW1 = X.T @ delta2
    return dJdW1, dJdW2, yhat


def worked_network():
    net = ln.Network([2, 3, 1], "sigmoid", "sigmoid", "quadratic", bias=False, seed=0)
    for W in net.weights:
        W[...] = 1.0
    return net


CASES = {
    "one example": (np.array([[0.3, 1.0]]), np.array([[0.75]])),
    # The notes give X for three examples but no targets; these are ours.
    "three examples": (
        np.array([[0.3, 1.0], [0.5, 0.2], [1.0, 0.4]]),
        np.array([[0.75], [0.82], [0.93]]),
    ),
}


@pytest.mark.parametrize("method", ["loop", "matrix"])
@pytest.mark.parametrize("case", list(CASES))
def test_gradients_match_the_notes_closed_forms(case, method):
    X, y = CASES[case]
    dJdW1, dJdW2, yhat = welch_gradients(X, y, np.ones((2, 3)), np.ones((3, 1)))
    net = worked_network()
    g = net.gradient(X, y, reduction="sum", method=method)
    np.testing.assert_allclose(g.weights[0], dJdW1.T, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(g.weights[1], dJdW2.T, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(net.forward(X), yhat, rtol=1e-14)
    assert net.cost(X, y, reduction="sum") == pytest.approx(
        np.sum(0.5 * (y - yhat) ** 2)
    )


def test_forward_pass_of_one_example():
    net = worked_network()
    X, y = CASES["one example"]
    Z, A = ln.kernels.forward_layer(net.weights[0], X)
    np.testing.assert_allclose(Z, [[1.3, 1.3, 1.3]], rtol=1e-15)
    np.testing.assert_allclose(A, f(1.3) * np.ones((1, 3)), rtol=1e-15)
    assert A[0, 0] == pytest.approx(0.7858, abs=5e-5)  # the notes' 0.74 is a slip
    # With equal hidden activations dJ/dW2 has three equal entries, as the notes find.
    g = net.gradient(X, y, reduction="sum").weights[1]
    assert g[0, 0] == g[0, 1] == g[0, 2] > 0
