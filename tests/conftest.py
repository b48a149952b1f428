"""Shared tolerances and fixtures.

TOL is the one table of loop-vs-matrix tolerances: the loop kernels sum in index
order, NumPy/BLAS in blocked or pairwise order, so results differ by rounding only.
"""

import numpy as np
import pytest

TOL = {
    np.float64: {"rtol": 1e-12, "atol": 1e-12},
    np.float32: {"rtol": 1e-5, "atol": 1e-5},
}

DTYPES = [np.float32, np.float64]

# One layer: (n_batch, n_l, n_prev); batch 1, a layer of 1, odd and real sizes.
LAYER_SHAPES = [(1, 1, 1), (1, 3, 2), (3, 5, 7), (17, 2, 9), (64, 30, 784)]

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


@pytest.fixture
def rng():
    return np.random.default_rng(20261123)


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
