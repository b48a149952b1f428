"""Shared tolerances, shapes, pairings, targets and the no-JIT and extras switches.

TOL is the one table of loop-vs-matrix tolerances: the loop kernels sum in index
order, NumPy/BLAS in blocked or pairwise order, so results differ by rounding only.

Under ``NUMBA_DISABLE_JIT=1`` (CI's coverage run) the kernels run as plain Python,
about 100 times slower: ``NO_JIT`` is then true, the large layer shapes shrink,
hypothesis runs a tenth of the examples (``examples``), and tests marked
``heavy`` are skipped (they run in the compiled runs; ``tests/conftest.py``).

Optional extras (``pip install -e ".[examples]"``): a test that needs one carries
``needs_sklearn`` or ``needs_matplotlib`` and is skipped, with the install command
as its reason, where the package is missing.
"""

import importlib.util
import os

import numba
import numpy as np
import pytest

NO_JIT = bool(numba.config.DISABLE_JIT)

# The hypothesis profile (registered in tests/conftest.py): "loopnet" by default,
# "sample" in the fuzz sample run in a subprocess (test_fuzz.py).
PROFILE = os.environ.get("LOOPNET_HYPOTHESIS_PROFILE", "loopnet")


def examples(n):
    """Hypothesis examples for a test of ``n``: fewer without the JIT and in samples.

    A tenth (at least 3) under NUMBA_DISABLE_JIT, a fifth in the fuzz sample.
    """
    if NO_JIT:
        return max(3, n // 10)
    return max(3, n // 5) if PROFILE == "sample" else n


def _needs(module, package, extra):
    """Skip unless ``module`` is installed; the reason says how to install it."""
    return pytest.mark.skipif(
        importlib.util.find_spec(module) is None,
        reason=f'{package} is not installed: pip install -e ".[{extra}]"',
    )


needs_sklearn = _needs("sklearn", "scikit-learn", "examples")
needs_matplotlib = _needs("matplotlib", "matplotlib", "examples")

TOL = {
    np.float64: {"rtol": 1e-12, "atol": 1e-12},
    np.float32: {"rtol": 1e-5, "atol": 1e-5},
}

DTYPES = [np.float32, np.float64]

# One layer: (n_batch, n_l, n_prev); batch 1, a layer of 1, odd and real sizes.
LAYER_SHAPES = [(1, 1, 1), (1, 3, 2), (3, 5, 7), (17, 2, 9), (64, 30, 784)]
if NO_JIT:  # a real size is 1.5M multiply-adds: seconds in Python
    LAYER_SHAPES[-1] = (16, 10, 50)

# Matrix products (n_rows, n_columns, n_sum) for the register tiles and the
# parallel kernels: rows and columns on and off the 4 x 4 tile grid, sums shorter
# and longer than MIN_DOT_LENGTH and MIN_TILED_BATCH, one row, one column. A kernel
# reads them in its own names, (n_batch, n_l, n_prev) for the forward pass.
PRODUCT_SHAPES = [
    (1, 1, 1),
    (3, 5, 2),
    (9, 7, 33),
    (17, 13, 70),
    (64, 30, 784),
    (6, 41, 31),
    (11, 6, 130),
]
if NO_JIT:  # the real size is 1.5M multiply-adds: seconds in Python
    PRODUCT_SHAPES[4] = (16, 10, 50)

# Every (output activation, cost) pairing the library accepts.
PAIRINGS = [
    ("sigmoid", "quadratic"),
    ("tanh", "quadratic"),
    ("relu", "quadratic"),
    ("identity", "quadratic"),
    ("softmax", "quadratic"),
    ("sigmoid", "cross_entropy"),
    ("softmax", "cross_entropy"),
    ("sigmoid", "log_likelihood"),
    ("softmax", "log_likelihood"),
]

HIDDEN = ["sigmoid", "tanh", "relu", "identity"]


def targets(rng, output, cost, n_batch, n_out, dtype=np.float64):
    """Targets that suit a pairing: one-hot rows for softmax, [0, 1] for log costs."""
    if output == "softmax":
        Y = np.zeros((n_batch, n_out))
        Y[np.arange(n_batch), rng.integers(0, n_out, n_batch)] = 1
    elif cost == "quadratic" and output in ("tanh", "identity"):
        Y = rng.uniform(-1, 1, (n_batch, n_out))
    else:
        Y = rng.uniform(0, 1, (n_batch, n_out))
    return Y.astype(dtype)


def reference_biases(net):
    """``net``'s biases as ``loopnet.reference`` takes them: None without biases."""
    return list(net.biases) if net.bias else [None] * len(net.biases)


# fit's divergence (tests/test_divergence.py, test_cuda.py): an identity network on
# inputs of magnitude ~10, whose parameters grow by orders of magnitude per step.
# Under DIVERGING's (lr, momentum) it diverges in its second epoch, by its
# parameters or by its cost, with mini-batches of DIVERGING_BATCH_SIZE drawn by
# seed DIVERGING_SEED.
DIVERGING = {"parameters": (0.01, 0.9), "cost": (0.01, 0.5)}
DIVERGING_BATCH_SIZE, DIVERGING_SEED = 5, 2


def diverging_problem(dtype=np.float64):
    """``(net, X, Y)``: a [3, 4, 2] identity network and 23 examples."""
    rng = np.random.default_rng(3)
    X = (10 * rng.standard_normal((23, 3))).astype(dtype)
    Y = rng.uniform(-1, 1, (23, 2)).astype(dtype)
    import loopnet as ln

    net = ln.Network([3, 4, 2], "identity", "identity", dtype=dtype, seed=1)
    return net, X, Y
