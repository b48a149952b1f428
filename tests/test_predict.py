"""Network.predict and Network.score."""

import numpy as np
import pytest

import loopnet as ln
from tests.helpers import needs_sklearn


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_predict_is_argmax_of_forward(rng, dtype):
    net = ln.Network([4, 6, 5], output="softmax", cost="log_likelihood", dtype=dtype)
    X = rng.standard_normal((20, 4))
    classes = net.predict(X)
    assert classes.dtype == np.int64 and classes.shape == (20,)
    np.testing.assert_array_equal(classes, net.forward(X).argmax(axis=1))


def _single_output_net(bias_value):
    """Build a [1, 1] sigmoid network whose output is sigma(x + bias_value)."""
    net = ln.Network([1, 1], seed=0)
    net.weights[0][...] = 1.0
    net.biases[0][...] = bias_value
    return net


def test_single_output_thresholds_at_one_half():
    net = _single_output_net(0.0)
    X = np.array([[-2.0], [-1e-3], [0.0], [1e-3], [3.0]])  # sigma(0) = 0.5 exactly
    np.testing.assert_array_equal(net.predict(X), [0, 0, 0, 1, 1])
    assert net.score(X, [0, 0, 0, 1, 1]) == 1.0
    assert net.score(X, np.array([[0.2], [0.0], [0.4], [0.9], [1.0]])) == 1.0
    assert net.score(X, np.array([True, True, False, False, True])) == 0.4


def test_ties_go_to_the_first_class():
    net = ln.Network([2, 3], output="identity", bias=False, seed=0)
    net.weights[0][...] = 0.0
    np.testing.assert_array_equal(net.predict(np.ones((2, 2))), [0, 0])


@needs_sklearn
def test_score_with_labels_and_one_hot(rng):
    split = ln.datasets.digits()
    net = ln.Network([64, 10, 10], seed=0)
    X, labels = split.X_test, split.labels_test
    expected = np.mean(net.predict(X) == labels)
    assert net.score(X, labels) == expected
    assert net.score(X, split.Y_test) == expected
    assert net.score(X, labels.astype(np.uint8)) == expected
    assert isinstance(net.score(X, labels), float)


@pytest.mark.parametrize(
    "labels, error, match",
    [
        (np.zeros(4, dtype=int), ValueError, "labels has 4 rows but X has 3"),
        (np.array([0.0, 1.0, 2.0]), ValueError, "integer class indexes"),
        (np.array([0, 1, 5]), ValueError, "labels must lie in 0..4"),
        (np.array([-1, 1, 2]), ValueError, "labels must lie in 0..4"),
        (np.zeros((3, 4)), ValueError, "labels has 4 columns"),
        (np.zeros((3, 5, 1)), ValueError, "1-D class indexes or 2-D targets"),
        (np.array(["a", "b", "c"]), TypeError, "labels must be numeric"),
        (np.full((3, 5), np.nan), ValueError, "labels must be finite"),
    ],
)
def test_score_rejects_bad_labels(rng, labels, error, match):
    net = ln.Network([2, 5], seed=0)
    with pytest.raises(error, match=match):
        net.score(rng.random((3, 2)), labels)


def test_predict_rejects_bad_input():
    net = ln.Network([2, 5], seed=0)
    with pytest.raises(ValueError, match="X has 3 columns"):
        net.predict(np.zeros((1, 3)))
    with pytest.raises(ValueError, match="X must be 2-D"):
        net.predict(np.zeros(2))
