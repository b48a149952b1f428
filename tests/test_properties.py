"""Properties of the gradient over random networks, searched by hypothesis.

Architectures of 1-4 weight layers and widths 1-40, batches of 1-50 examples,
both dtypes, every hidden activation, every valid (output, cost) pairing, with
and without biases, both reductions and L2. Each property is an identity the
mathematics guarantees, checked with a tolerance derived from the rounding it
allows:

- loop == matrix: the two forms differ by summation order only (``close``);
- sum == n * mean: the same bits scaled by a rounded 1/n, so within 3 roundings;
- permuting the rows changes only the order of the sums over examples, bounded
  by the classic (n - 1) u sum_b |term_b| of recursive summation;
- central differences agree with the gradient (float64, away from relu's kink).
"""

import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import loopnet as ln
from loopnet import reference
from tests.helpers import (
    DTYPES,
    HIDDEN,
    NO_JIT,
    PAIRINGS,
    TOL,
    examples,
    reference_biases,
    targets,
)

MAX_WIDTH, MAX_BATCH = (8, 8) if NO_JIT else (40, 50)


@st.composite
def problems(draw, max_depth=4, max_width=MAX_WIDTH, max_batch=MAX_BATCH, dtypes=None):
    """A network, a batch (X, Y) and gradient options, drawn at random.

    X is uniform on [-scale, scale] with a drawn scale, Y suits the pairing
    (``tests.helpers.targets``); the values come from a drawn seed.
    """
    depth = draw(st.integers(1, max_depth))
    output, cost = draw(st.sampled_from(PAIRINGS))
    widths = st.integers(1, max_width)
    sizes = [draw(widths) for _ in range(depth)]
    sizes.append(draw(st.integers(2 if output == "softmax" else 1, max_width)))
    net = ln.Network(
        sizes,
        activation=draw(st.sampled_from(HIDDEN)),
        output=output,
        cost=cost,
        bias=draw(st.booleans()),
        dtype=draw(st.sampled_from(dtypes or DTYPES)),
        seed=draw(st.integers(0, 2**32 - 1)),
    )
    n_batch = draw(st.integers(1, max_batch))
    scale = draw(st.sampled_from([1e-3, 1.0, 3.0]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    X = (rng.uniform(-scale, scale, (n_batch, sizes[0]))).astype(net.dtype)
    Y = targets(rng, output, cost, n_batch, sizes[-1], net.dtype)
    options = {
        "reduction": draw(st.sampled_from(["mean", "sum"])),
        "l2": draw(st.sampled_from([0.0, 0.0, 0.1, 1.5])),
    }
    return net, X, Y, options


def close(loop, matrix, dtype):
    """assert loop == matrix within TOL, the absolute part scaled by max |matrix|.

    TOL's atol is for quantities of order 1; deep identity or relu layers with
    L2 reach larger gradients, whose rounding scales with them.
    """
    tol = TOL[np.dtype(dtype).type]
    scale = max(1.0, float(np.max(np.abs(matrix))))
    np.testing.assert_allclose(loop, matrix, rtol=tol["rtol"], atol=tol["atol"] * scale)


@settings(max_examples=examples(150))
@given(problems())
def test_loop_gradient_equals_matrix_gradient(problem):
    net, X, Y, options = problem
    loop = net.gradient(X, Y, method="loop", **options)
    matrix = net.gradient(X, Y, method="matrix", **options)
    assert loop.flat.dtype == matrix.flat.dtype == net.dtype
    close(loop.flat, matrix.flat, net.dtype)


@settings(max_examples=examples(100))
@given(problems(), st.sampled_from(["loop", "matrix"]))
def test_sum_is_n_times_mean(problem, method):
    """Both reductions scale the same summed bits: n * mean is sum within 3 u."""
    net, X, Y, options = problem
    n = X.shape[0]
    eps = np.finfo(net.dtype).eps  # 2u: rtol 2 eps allows 4 roundings
    tiny = n * np.finfo(net.dtype).tiny  # results in the subnormal range
    l2 = options["l2"]
    total = net.gradient(X, Y, "sum", l2, method).flat.astype(np.float64)
    mean = net.gradient(X, Y, "mean", l2, method).flat.astype(np.float64)
    np.testing.assert_allclose(n * mean, total, rtol=2 * eps, atol=tiny)
    cost_total = float(net.cost(X, Y, "sum", l2))
    cost_mean = float(net.cost(X, Y, "mean", l2))
    np.testing.assert_allclose(n * cost_mean, cost_total, rtol=2 * eps, atol=tiny)


@settings(max_examples=examples(100))
@given(problems(), st.integers(0, 2**32 - 1))
def test_permuting_rows_keeps_the_summed_gradient(problem, seed):
    """Only the order of the sums over b changes.

    Each example's z, a, delta and dC_b/dparams are computed by the same
    operations wherever its row is, so the two gradients differ only in how
    sum_b term_b was rounded: at most (n - 1) u sum_b |term_b| each, u the unit
    roundoff, plus the rounding of the L2 term and the scaling (2 u |g| each).
    """
    net, X, Y, options = problem
    n = X.shape[0]
    order = np.random.default_rng(seed).permutation(n)
    g = net.gradient(X, Y, **options).flat.astype(np.float64)
    permuted = net.gradient(X[order], Y[order], **options).flat.astype(np.float64)
    scale = 1 / n if options["reduction"] == "mean" else 1.0
    terms = sum(
        np.abs(net.gradient(X[b : b + 1], Y[b : b + 1], "sum").flat) for b in range(n)
    )
    u = np.finfo(net.dtype).eps / 2
    bound = 2 * (n - 1) * u * scale * terms + 4 * u * np.abs(g)
    excess = np.abs(permuted - g) - 2 * bound  # a factor 2 for second-order terms
    assert np.all(excess <= n * np.finfo(net.dtype).tiny), excess.max()


@settings(max_examples=examples(60))
@given(problems(max_depth=3, max_width=8, max_batch=8, dtypes=[np.float64]))
def test_gradcheck_passes_in_float64(problem):
    net, X, Y, options = problem
    if "relu" in net.activations:  # central differences need z away from the kink
        Zs, _ = reference.forward(
            net.weights, reference_biases(net), X, net.activations
        )
        margins = [
            np.abs(Z).min()
            for Z, activation in zip(Zs, net.activations, strict=True)
            if activation == "relu"
        ]
        assume(min(margins) > 1e-4)
    for method in ("loop", "matrix"):
        result = ln.gradcheck(net, X, Y, method=method, **options)
        assert result.ok, result
