"""Bad input raises ValueError/TypeError naming the argument; params stay untouched."""

import warnings

import numpy as np
import pytest

import loopnet as ln
from loopnet import _validation as check
from loopnet import kernels

X_OK = np.array([[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]])
Y_OK = np.array([[0.0, 1.0], [1.0, 0.0]])


@pytest.fixture
def net():
    return ln.Network([3, 4, 2], "tanh", "sigmoid", "cross_entropy", seed=0)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"sizes": [3]}, ValueError, "at least two layers"),
        ({"sizes": []}, ValueError, "at least two layers"),
        ({"sizes": [3, 0, 2]}, ValueError, r"sizes\[1\] must be >= 1"),
        ({"sizes": [3, -4, 2]}, ValueError, r"sizes\[1\]"),
        ({"sizes": [3, 2.5]}, TypeError, r"sizes\[1\] must be an integer"),
        ({"sizes": [3, True]}, TypeError, r"sizes\[1\]"),
        ({"sizes": "3,2"}, TypeError, "sizes"),
        ({"sizes": 3}, TypeError, "sizes"),
        ({"activation": "softmax"}, ValueError, "activation must be one of"),
        ({"activation": "swish"}, ValueError, "activation"),
        ({"output": "gelu"}, ValueError, "output"),
        ({"cost": "hinge"}, ValueError, "cost"),
        (
            {"output": "tanh", "cost": "cross_entropy"},
            ValueError,
            "output must be one of",
        ),
        ({"output": "relu", "cost": "log_likelihood"}, ValueError, "output"),
        ({"sizes": [3, 1], "output": "softmax"}, ValueError, "at least 2 output units"),
        ({"dtype": "int32"}, ValueError, "dtype"),
        ({"dtype": "float16"}, ValueError, "dtype"),
        ({"dtype": "complex128"}, ValueError, "dtype"),
        ({"dtype": "banana"}, ValueError, "dtype"),
        ({"bias": "yes"}, TypeError, "bias"),
    ],
)
def test_constructor_rejects_bad_arguments(kwargs, error, match):
    arguments = {"sizes": [3, 2]} | kwargs
    with pytest.raises(error, match=match):
        ln.Network(**arguments)


def test_constructor_accepts_numpy_sizes_and_dtypes():
    net = ln.Network(np.array([3, 2]), dtype=np.float32)
    assert net.sizes == (3, 2) and net.dtype == np.float32


BAD_DATA = [
    ({"X": X_OK[0]}, ValueError, "X must be 2-D"),
    ({"X": X_OK[None]}, ValueError, "X must be 2-D"),
    ({"X": np.float64(1.0)}, ValueError, "X must be 2-D"),
    ({"X": X_OK[:, :2]}, ValueError, "X has 2 columns; the network expects 3"),
    (
        {"X": np.empty((0, 3)), "Y": np.empty((0, 2))},
        ValueError,
        "X must have at least one row",
    ),
    ({"Y": Y_OK[:, :1]}, ValueError, "Y has 1 columns; the network expects 2"),
    ({"Y": Y_OK[:1]}, ValueError, "Y has 1 rows but X has 2"),
    ({"X": np.where(X_OK > 0.3, np.nan, X_OK)}, ValueError, "X must be finite"),
    ({"Y": np.where(Y_OK > 0.5, np.inf, Y_OK)}, ValueError, "Y must be finite"),
    ({"Y": Y_OK + 0.5}, ValueError, r"Y must lie in \[0, 1\]"),
    ({"X": X_OK.astype(str)}, TypeError, "X must hold numbers"),
    ({"X": X_OK.astype(object)}, TypeError, "X must hold numbers"),
    ({"Y": Y_OK.astype(complex)}, TypeError, "Y must be real-valued"),
    ({"X": [[1, 2, "a"], [4, 5, 6]]}, TypeError, "X must hold numbers"),
    ({"reduction": "max"}, ValueError, "reduction must be one of"),
    ({"l2": -0.1}, ValueError, r"l2 must be finite and in \[0.0, inf\)"),
    ({"l2": float("nan")}, ValueError, "l2"),
    ({"l2": "0.1"}, TypeError, "l2"),
]


@pytest.mark.parametrize("bad, error, match", BAD_DATA)
@pytest.mark.parametrize("call", ["cost", "gradient_loop", "gradient_matrix"])
def test_data_errors_name_the_argument_and_leave_params(net, bad, error, match, call):
    arguments = {"X": X_OK, "Y": Y_OK, "reduction": "mean", "l2": 0.0} | bad
    before = net.params.copy()
    with pytest.raises(error, match=match):
        if call == "cost":
            net.cost(**arguments)
        else:
            net.gradient(**arguments, method=call.split("_")[1])
    np.testing.assert_array_equal(net.params, before)


def test_values_that_overflow_float32_are_rejected():
    net = ln.Network([3, 2], dtype="float32")
    with pytest.raises(ValueError, match="X holds values beyond the range of float32"):
        net.forward([[1e308, 0.0, 0.0]])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "values, finite",
    [
        ([0.5, -2.0, 3.0], True),
        ("max", True),  # finite entries whose sum overflows to infinity
        ("-max", True),
        ([0.5, np.nan, 3.0], False),
        ([np.inf, 1.0, 1.0], False),
        ([1.0, 1.0, -np.inf], False),
        ([np.inf, -np.inf, 1.0], False),  # a NaN sum
        ("max+nan", False),
    ],
)
def test_all_finite_holds_exactly_when_every_entry_is(dtype, values, finite):
    big = np.finfo(dtype).max
    named = {
        "max": [big, big, big],
        "-max": [-big, -big, 1.0],
        "max+nan": [big, big, np.nan],
    }
    values = named[values] if isinstance(values, str) else values
    for n_rows in (5, check.SUM_CHECK_SIZE):  # entry by entry, then by the sums
        rows = np.array(values, dtype=dtype).reshape(1, 3).repeat(n_rows, axis=0)
        one_bad_row = np.ones((n_rows, 3), dtype=dtype)
        one_bad_row[n_rows // 2] = values
        # row sums (C order), one sum (Fortran order, a 1-D array)
        for array in (rows, one_bad_row, np.asfortranarray(rows), rows.reshape(-1)):
            with warnings.catch_warnings():
                warnings.simplefilter("error")  # the overflowing sum warns nothing
                assert check.all_finite(array) is finite
            assert finite == bool(np.isfinite(array).all())


@pytest.mark.parametrize(
    "bad, error, match", [b for b in BAD_DATA if "Y" not in b[0] and "X" in b[0]]
)
def test_forward_rejects_bad_X(net, bad, error, match):
    with pytest.raises(error, match=match):
        net.forward(bad["X"])


def test_unknown_method(net):
    with pytest.raises(ValueError, match="method must be one of 'loop', 'matrix'"):
        net.gradient(X_OK, Y_OK, method="autograd")


def test_kernel_wrappers_check_shapes_and_dtypes():
    W = np.ones((3, 2))
    with pytest.raises(ValueError, match="A_prev has 3 columns; W expects n_prev=2"):
        kernels.forward_layer(W, np.ones((4, 3)))
    with pytest.raises(TypeError, match="A_prev is float32 but W is float64"):
        kernels.forward_layer(W, np.ones((4, 2), dtype=np.float32))
    with pytest.raises(TypeError, match="W must be a float32 or float64 array"):
        kernels.forward_layer(np.ones((3, 2), dtype=int), np.ones((4, 2)))
    with pytest.raises(ValueError, match="bias has 2 entries; W has n_l=3 rows"):
        kernels.forward_layer(W, np.ones((4, 2)), bias=np.ones(2))
    with pytest.raises(ValueError, match="A_prev must be 2-D"):
        kernels.forward_layer(W, np.ones(2))
    with pytest.raises(ValueError, match="activation"):
        kernels.forward_layer(W, np.ones((4, 2)), activation="swish")
    with pytest.raises(ValueError, match="A_prev has 3 rows; delta has 4"):
        kernels.weight_gradient(np.ones((4, 2)), np.ones((3, 5)))
    with pytest.raises(ValueError, match="delta must not be empty"):
        kernels.bias_gradient(np.ones((0, 2)))
    with pytest.raises(
        ValueError, match="delta_next has 3 columns; W_next has n_next=2 rows"
    ):
        kernels.hidden_error(np.ones((4, 3)), np.ones((2, 5)), np.ones((4, 5)))
    with pytest.raises(ValueError, match="activation must be one of"):
        kernels.hidden_error(
            np.ones((4, 2)), np.ones((2, 5)), np.ones((4, 5)), "softmax"
        )
    with pytest.raises(ValueError, match="Y has shape"):
        kernels.output_error(np.ones((4, 2)), np.ones((4, 2)), np.ones((4, 3)))
    with pytest.raises(ValueError, match="delta must be finite"):
        kernels.weight_gradient(np.full((1, 1), np.nan), np.ones((1, 1)))
