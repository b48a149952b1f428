r"""Initializations: each scheme's distribution, its seeds, and ``Network(init=...)``.

The statistical bound. A layer of N independent weights W[j, k] with mean 0 and
promised variance s^2 is estimated by the mean of squares, S = (1/N) sum W^2
(the mean is known to be 0). S has mean s^2 and standard deviation

    s^2 sqrt(2 / N)      for N(0, s^2)    (Var W^2 = E W^4 - s^4 = 3 s^4 - s^4)
    s^2 sqrt(0.8 / N)    for U(-r, r)     (s^2 = r^2/3, E W^4 = r^4/5 = 9 s^4 / 5)

and, N being large, is normal to a good approximation (central limit theorem). The
tests accept |S / s^2 - 1| < 6 sqrt(2 / N) for both (a looser bound for the
uniform): a right scheme fails it with probability about 2e-9, while with the
layer used here, N = 400 x 1000 weights, the bound is 1.3 %, and the variances of
the schemes differ by 33 % or more (Glorot's 2 / 1400 against He's 2 / 1000), so
a swapped n_l and n_prev or a wrong constant fails it. The fourth moment tells a
normal from a uniform of the same variance: E W^4 / s^4 is 3 for a normal (its
estimate has standard deviation sqrt(96 / N)) and 1.8 for a uniform (sqrt(5.76 /
N)); the tests accept 6 of those standard deviations. The seed is fixed, so the
tests are deterministic; the bound says why they pass, not how often.
"""

import math

import numpy as np
import pytest

import loopnet as ln
from loopnet.initializations import INITIALIZATIONS, initialize
from tests.helpers import DTYPES

N_L, N_PREV = 400, 1000  # one layer of N = 400 000 weights, n_l != n_prev

# name -> (variance of W[j, k] as a function of (n_l, n_prev), distribution, biases)
PROMISED = {
    "nielsen": (lambda n_l, n_prev: 1 / n_prev, "normal", "normal"),
    "large": (lambda n_l, n_prev: 1.0, "normal", "normal"),
    "glorot_uniform": (lambda n_l, n_prev: 2 / (n_prev + n_l), "uniform", "zero"),
    "glorot_normal": (lambda n_l, n_prev: 2 / (n_prev + n_l), "normal", "zero"),
    "he_uniform": (lambda n_l, n_prev: 2 / n_prev, "uniform", "zero"),
    "he_normal": (lambda n_l, n_prev: 2 / n_prev, "normal", "zero"),
}
FOURTH_MOMENT = {"normal": (3.0, 96.0), "uniform": (1.8, 5.76)}  # mean, N * variance


def _todays_draw(sizes, seed, dtype, bias):
    """The parameters Network drew before ``init`` existed, written out as it did."""
    net = ln.Network(sizes, bias=bias, dtype=dtype, seed=0)
    rng = np.random.default_rng(seed)
    for W, b in zip(net.weights, net.biases, strict=True):
        W[...] = rng.standard_normal(W.shape) / math.sqrt(W.shape[1])
        if bias:
            b[...] = rng.standard_normal(b.shape)
    return net.params


def test_every_scheme_is_tested():
    assert set(INITIALIZATIONS) == set(PROMISED)


@pytest.mark.parametrize("init", sorted(PROMISED))
def test_weights_have_the_promised_variance(init):
    variance, distribution, _ = PROMISED[init]
    net = ln.Network([N_PREV, N_L], seed=11, init=init)
    W = net.weights[0]
    n = W.size
    s2 = variance(N_L, N_PREV)
    assert abs(np.mean(W) / math.sqrt(s2 / n)) < 6
    assert abs(np.mean(W**2) / s2 - 1) < 6 * math.sqrt(2 / n)
    mean, n_variance = FOURTH_MOMENT[distribution]
    assert abs(np.mean(W**4) / s2**2 - mean) < 6 * math.sqrt(n_variance / n)
    if distribution == "uniform":
        limit = math.sqrt(3 * s2)
        # the largest of N uniform draws lies below 0.999 r with chance 0.999^N = e^-400
        assert limit * 0.999 < np.max(np.abs(W)) <= limit


@pytest.mark.parametrize("init", sorted(PROMISED))
def test_biases_are_as_promised(init):
    _, _, biases = PROMISED[init]
    net = ln.Network([2, 100_000], seed=12, init=init)
    bias = net.biases[0]
    if biases == "zero":
        np.testing.assert_array_equal(bias, 0.0)
    else:  # N(0, 1), by the bound of the module docstring
        assert abs(np.mean(bias) * math.sqrt(bias.size)) < 6
        assert abs(np.mean(bias**2) - 1) < 6 * math.sqrt(2 / bias.size)


@pytest.mark.parametrize("init", sorted(PROMISED))
@pytest.mark.parametrize("bias", [True, False])
def test_same_seed_same_bits(init, bias):
    first = ln.Network([5, 4, 3], bias=bias, seed=3, init=init)
    again = ln.Network([5, 4, 3], bias=bias, seed=np.random.default_rng(3), init=init)
    other = ln.Network([5, 4, 3], bias=bias, seed=4, init=init)
    np.testing.assert_array_equal(first.params, again.params)
    assert not np.array_equal(first.params, other.params)


@pytest.mark.parametrize("init", sorted(PROMISED))
def test_draws_are_float64_rounded_once(init):
    wide = ln.Network([6, 5, 2], seed=8, init=init)
    narrow = ln.Network([6, 5, 2], dtype="float32", seed=8, init=init)
    np.testing.assert_array_equal(narrow.params, wide.params.astype(np.float32))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("sizes", [(1, 1), (3, 4, 2), (784, 30, 10)])
def test_nielsen_is_the_default_draw_bit_for_bit(dtype, bias, sizes):
    want = _todays_draw(sizes, 2026, dtype, bias)
    for net in (
        ln.Network(sizes, bias=bias, dtype=dtype, seed=2026),
        ln.Network(sizes, bias=bias, dtype=dtype, seed=2026, init="nielsen"),
    ):
        assert net.init == "nielsen"
        np.testing.assert_array_equal(net.params, want)


def test_zero_biases_draw_nothing():
    """A scheme with zero biases draws only weights, layer after layer."""
    rng = np.random.default_rng(5)
    first = rng.uniform(-math.sqrt(6 / 3), math.sqrt(6 / 3), (4, 3))
    second = rng.uniform(-math.sqrt(6 / 4), math.sqrt(6 / 4), (2, 4))
    net = ln.Network([3, 4, 2], seed=5, init="he_uniform")
    np.testing.assert_array_equal(net.weights[0], first)
    np.testing.assert_array_equal(net.weights[1], second)


def test_initialize_fills_views_in_place():
    weights, biases = [np.full((2, 3), np.nan)], [np.full(2, np.nan)]
    initialize(weights, biases, np.random.default_rng(0), "large")
    assert np.all(np.isfinite(weights[0])) and np.all(np.isfinite(biases[0]))
    weights = [np.full((2, 3), np.nan)]
    initialize(weights, None, np.random.default_rng(0))
    assert np.all(np.isfinite(weights[0]))


def test_copy_keeps_init_and_params():
    net = ln.Network([3, 4, 2], seed=1, init="glorot_normal")
    clone = net.copy()
    assert clone.init == "glorot_normal"
    np.testing.assert_array_equal(clone.params, net.params)


def test_load_keeps_params(tmp_path):
    net = ln.Network([3, 4, 2], seed=1, init="he_normal")
    net.save(tmp_path / "net.npz")
    same = ln.Network.load(tmp_path / "net.npz")
    np.testing.assert_array_equal(same.params, net.params)
    assert same.init == "nielsen"  # the file holds params, not how they were drawn


@pytest.mark.parametrize("init", ["xavier", "Nielsen", "", None, 3, ("he_normal",)])
def test_unknown_init_is_refused(init):
    with pytest.raises(ValueError, match="init must be one of 'nielsen'"):
        ln.Network([2, 3], init=init)
    with pytest.raises(ValueError, match="init"):
        initialize([np.zeros((3, 2))], None, np.random.default_rng(0), init)
