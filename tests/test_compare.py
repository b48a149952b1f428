"""``compare``: per-layer loop-vs-matrix differences, timings, and the report."""

import dataclasses
import json
import os
import re
import runpy
from pathlib import Path

import numba
import numpy as np
import pytest

import loopnet as ln
from loopnet.compare import (
    BLAS_OVERRIDES,
    QUANTITIES,
    BenchPoint,
    Difference,
    bench_point,
    format_bench,
    layer_values,
    load_warning,
    pinned_threads,
    random_batch,
)
from tests.helpers import TOL, targets

EXAMPLE = Path(__file__).parents[1] / "examples" / "loop_vs_matrix.py"

# (sizes, activation, output, cost, bias, dtype, reduction, l2)
CASES = [
    ([5, 4, 3], "sigmoid", "sigmoid", "quadratic", True, np.float64, "mean", 0.0),
    ([4, 3, 3, 2], "tanh", "softmax", "log_likelihood", True, np.float32, "sum", 0.0),
    ([3, 2], "relu", "relu", "quadratic", False, np.float64, "mean", 0.5),
    ([4, 5, 2], "identity", "sigmoid", "cross_entropy", True, np.float64, "sum", 1.0),
]


def make(rng, sizes, activation, output, cost, bias, dtype, n_batch=7):
    net = ln.Network(sizes, activation, output, cost, bias=bias, dtype=dtype, seed=1)
    X = rng.random((n_batch, sizes[0])).astype(dtype)
    return net, X, targets(rng, output, cost, n_batch, sizes[-1], dtype)


@pytest.mark.parametrize(
    "sizes, activation, output, cost, bias, dtype, reduction, l2", CASES
)
def test_layer_values_loop_matches_matrix(
    rng, sizes, activation, output, cost, bias, dtype, reduction, l2
):
    net, X, Y = make(rng, sizes, activation, output, cost, bias, dtype)
    loop = layer_values(net, X, Y, reduction, l2, "loop")
    matrix = layer_values(net, X, Y, reduction, l2, "matrix")
    for name in QUANTITIES:
        assert len(loop[name]) == len(matrix[name]) == len(sizes) - 1
        for layer, (got, expected) in enumerate(
            zip(loop[name], matrix[name], strict=True)
        ):
            if name == "dbias" and not bias:
                assert got is None and expected is None
                continue
            assert got.dtype == dtype and got.shape == expected.shape
            if name in ("z", "a", "delta"):
                assert got.shape == (X.shape[0], sizes[layer + 1])
            np.testing.assert_allclose(got, expected, **TOL[dtype])


def test_loop_values_are_what_network_gradient_computes(rng):
    net, X, Y = make(
        rng, [4, 3, 2], "sigmoid", "softmax", "log_likelihood", True, np.float64
    )
    loop = layer_values(net, X, Y, "mean", 0.3, "loop")
    grad = net.gradient(X, Y, "mean", 0.3, method="loop")
    for got, expected in zip(
        loop["dW"] + loop["dbias"], grad.weights + grad.biases, strict=True
    ):
        np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(loop["a"][-1], net.forward(X))


@pytest.mark.parametrize(
    "sizes, activation, output, cost, bias, dtype, reduction, l2", CASES
)
def test_compare_report(
    rng, sizes, activation, output, cost, bias, dtype, reduction, l2
):
    net, X, Y = make(rng, sizes, activation, output, cost, bias, dtype)
    params = net.params.copy()
    report = ln.compare(net, X, Y, repeat=3, reduction=reduction, l2=l2)
    np.testing.assert_array_equal(net.params, params)
    assert isinstance(report, ln.CompareReport)
    assert report.agree and report.max_rel <= TOL[dtype]["rtol"]
    assert report.sizes == tuple(sizes) and report.dtype == np.dtype(dtype).name
    assert (report.n_batch, report.reduction, report.l2) == (7, reduction, l2)
    assert [layer.layer for layer in report.layers] == list(range(1, len(sizes)))
    for layer in report.layers:
        assert (layer.dbias is None) == (not bias)
        assert len(layer.differences()) == (5 if bias else 4)
    assert len(report.loop_times) == len(report.matrix_times) == 3
    assert report.loop_seconds > 0 and report.matrix_seconds > 0
    assert report.ratio == report.loop_seconds / report.matrix_seconds
    assert report.numba_threads >= 1


def test_report_round_trips_through_json(rng):
    net, X, Y = make(
        rng, [5, 4, 3], "sigmoid", "sigmoid", "quadratic", False, np.float64
    )
    d = ln.compare(net, X, Y, repeat=2).to_dict()
    assert json.loads(json.dumps(d)) == d
    assert d["sizes"] == [5, 4, 3] and d["agree"] is True
    assert d["layers"][0]["dbias"] is None
    assert set(d["layers"][1]["dW"]) == {"max_abs", "max_rel"}
    assert {"loop_seconds", "matrix_seconds", "ratio", "max_rel"} <= set(d)


def test_report_table_is_aligned(rng):
    net, X, Y = make(
        rng, [5, 4, 3], "sigmoid", "sigmoid", "quadratic", True, np.float64
    )
    text = str(ln.compare(net, X, Y, repeat=1))
    lines = text.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("layer"))
    rows = lines[header + 2 : header + 12]
    assert len({len(row) for row in [lines[header + 1], *rows]}) == 1
    assert [row.split()[1] for row in rows] == list(QUANTITIES) * 2
    assert "agree: yes" in text and "loop/matrix" in text and "threads: numba" in text


def test_disagreement_is_reported(rng):
    net, X, Y = make(rng, [3, 2], "sigmoid", "sigmoid", "quadratic", True, np.float64)
    report = ln.compare(net, X, Y, repeat=1)
    layer = dataclasses.replace(report.layers[0], dW=Difference(1.0, 0.1))
    broken = dataclasses.replace(report, layers=(layer,))
    assert not broken.agree and broken.max_rel == 0.1
    assert "agree: NO" in str(broken)


def test_difference_between():
    assert Difference.between(np.zeros(3), np.zeros(3)) == Difference(0.0, 0.0)
    difference = Difference.between(np.array([1.0, 4.0]), np.array([1.5, 4.0]))
    assert difference == Difference(0.5, 0.125)
    assert Difference.between(np.ones(2), np.zeros(2)).max_rel == float("inf")


@pytest.mark.parametrize(
    "arguments, error, match",
    [
        ({"repeat": 0}, ValueError, "repeat"),
        ({"repeat": 1.5}, TypeError, "repeat"),
        ({"reduction": "avg"}, ValueError, "reduction"),
        ({"l2": -1.0}, ValueError, "l2"),
    ],
)
def test_compare_rejects_bad_arguments(rng, arguments, error, match):
    net, X, Y = make(rng, [3, 2], "sigmoid", "sigmoid", "quadratic", True, np.float64)
    with pytest.raises(error, match=match):
        ln.compare(net, X, Y, **arguments)


def test_compare_rejects_bad_data(rng):
    net, X, Y = make(rng, [3, 2], "sigmoid", "sigmoid", "quadratic", True, np.float64)
    with pytest.raises(ValueError, match="X has 2 columns"):
        ln.compare(net, X[:, :2], Y)
    with pytest.raises(ValueError, match="Y has 3 rows"):
        ln.compare(net, X, Y[:3])
    with pytest.raises(TypeError, match="net must be a loopnet.Network"):
        ln.compare("net", X, Y)
    with pytest.raises(ValueError, match="method"):
        layer_values(net, X, Y, method="cuda")


def test_random_batch_suits_the_output():
    softmax = ln.Network(
        [3, 4], output="softmax", cost="log_likelihood", dtype="float32"
    )
    X, Y = random_batch(softmax, 6, seed=2)
    assert X.dtype == Y.dtype == np.float32 and X.shape == (6, 3)
    np.testing.assert_array_equal(Y.sum(axis=1), 1)
    _, Y = random_batch(ln.Network([3, 4], output="tanh"), 50)
    assert Y.min() < 0 < Y.max() <= 1
    with pytest.raises(ValueError, match="n_batch"):
        random_batch(softmax, 0)


def test_bench_point_and_table():
    points = [bench_point(3, n_batch, depth=1, repeat=1) for n_batch in (1, 2)]
    assert [point.sizes for point in points] == [(3, 3), (3, 3)]
    assert all(point.loop_seconds > 0 and point.matrix_seconds > 0 for point in points)
    table = format_bench(points).splitlines()
    assert table[0].split() == ["network", "batch", "loop", "matrix", "loop/matrix"]
    assert table[2].split()[:2] == ["3-3", "1"] and len(table) == 4
    with pytest.raises(ValueError, match="width"):
        bench_point(0, 1)


@pytest.mark.heavy  # times the kernels at [784, 256, 10], batch 128: a minute as Python
def test_loop_vs_matrix_example_runs(capsys):
    runpy.run_path(str(EXAMPLE), run_name="__main__")
    out = capsys.readouterr().out
    for step in ("forward", "hidden error", "weight gradient"):
        assert f"=== {step} ===" in out
    assert "def _hidden_error_plain(" in out and "return delta.T @ A_prev" in out
    # the table's last column: "2.2e-16", or "0.0e+00" where the forms agree exactly
    differences = [
        float(line.split()[-1])
        for line in out.splitlines()
        if line.split() and re.fullmatch(r"\d\.\de[-+]\d\d", line.split()[-1])
    ]
    assert len(differences) == 6 and max(differences) < 1e-12


@pytest.mark.parametrize(
    "seconds, text",
    [(2.0, "2 s"), (0.0009996, "1 ms"), (0.0125, "12.5 ms"), (1.5e-6, "1.5 us")],
)
def test_durations_are_printed_in_the_unit_of_their_rounded_value(seconds, text):
    point = BenchPoint(4, 2, (4, 4, 4), seconds, 1.0)
    row = format_bench([point]).splitlines()[-1]
    assert [cell.strip() for cell in row.split("  ") if cell][2] == text


# --- both forms on the same threads, and the load --------------------------------


def _blas_threads():
    from threadpoolctl import threadpool_info

    return [
        pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"
    ]


@pytest.mark.parametrize("threads", [1, 2])
def test_pinned_threads_pins_both_pools_and_puts_them_back(threads):
    if threads > numba.config.NUMBA_NUM_THREADS:
        pytest.skip("Numba's pool has one thread (NUMBA_NUM_THREADS=1)")
    numba_before, blas_before = numba.get_num_threads(), _blas_threads()
    with pinned_threads(threads):
        assert numba.get_num_threads() == threads
        assert _blas_threads() and set(_blas_threads()) == {threads}
    assert numba.get_num_threads() == numba_before and _blas_threads() == blas_before


def test_pinned_threads_refuses_more_than_numba_has():
    too_many = numba.config.NUMBA_NUM_THREADS + 1
    with (
        pytest.raises(ValueError, match="threads=.* more than Numba's pool"),
        pinned_threads(too_many),
    ):
        pass


def test_compare_and_bench_point_run_both_forms_on_the_threads_asked(rng):
    net, X, Y = make(
        rng, [5, 4, 3], "sigmoid", "sigmoid", "quadratic", True, np.float64
    )
    report = ln.compare(net, X, Y, repeat=1, threads=1)
    assert (report.numba_threads, report.blas_threads) == (1, 1)
    assert report.threading_layer in ("tbb", "omp", "workqueue", "not started")
    line = next(line for line in str(report).splitlines() if line.startswith("threads"))
    assert line.startswith("threads: numba 1 (") and ", BLAS 1 (" in line
    point = bench_point(3, 2, depth=1, repeat=1, threads=1)
    assert (point.numba_threads, point.blas_threads) == (1, 1)


@pytest.mark.parametrize(
    "load, threads, warned",
    [
        ((0.3, 2), 1, False),
        ((1.0, 2), 1, False),  # one core busy elsewhere, one left for the timing
        ((1.3, 2), 1, True),
        ((0.4, 2), 2, False),
        ((0.8, 2), 2, True),  # two timed threads, and a core partly taken
        ((2.5, 4), 1, False),
        ((3.5, 4), 1, True),
        (None, 1, False),  # no load average on this system
    ],
)
def test_load_warning(load, threads, warned):
    warning = load_warning(load, threads)
    assert (warning is not None) is warned
    if warned:
        assert f"load average is {load[0]:.2f} on {load[1]} cores" in warning
        assert "unreliable" in warning


def test_a_loaded_machine_is_said_in_the_report(rng, monkeypatch):
    for name in BLAS_OVERRIDES:  # a warning of their own, below
        monkeypatch.delenv(name, raising=False)
    net, X, Y = make(
        rng, [5, 4, 3], "sigmoid", "sigmoid", "quadratic", True, np.float64
    )
    monkeypatch.setattr(os, "getloadavg", lambda: (7.5, 7.0, 6.0))
    report = ln.compare(net, X, Y, repeat=1, threads=1)
    assert report.load == (7.5, os.cpu_count())
    assert "load average 7.50 on" in str(report)
    assert "warning: the load average is 7.50" in str(report)
    assert report.to_dict()["load_warning"] == report.load_warning
    monkeypatch.setattr(os, "getloadavg", lambda: (0.0, 0.0, 0.0))
    quiet = ln.compare(net, X, Y, repeat=1, threads=1)
    assert quiet.load_warning is None and "warning" not in str(quiet)


@pytest.mark.parametrize(
    "environment",
    [
        {},
        {"OPENBLAS_CORETYPE": "Haswell"},
        {"OPENBLAS_CORETYPE": "Haswell", "OPENBLAS_L2_SIZE": "512"},
    ],
)
def test_a_pinned_blas_kernel_is_said_in_the_report(rng, monkeypatch, environment):
    """Set before NumPy loads OpenBLAS, they slow the matrix form: the report says."""
    monkeypatch.setattr(os, "getloadavg", lambda: (0.0, 0.0, 0.0))
    for name in BLAS_OVERRIDES:
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    net, X, Y = make(
        rng, [5, 4, 3], "sigmoid", "sigmoid", "quadratic", True, np.float64
    )
    report = ln.compare(net, X, Y, repeat=1, threads=1)
    assert report.overrides == tuple(f"{n}={v}" for n, v in environment.items())
    assert report.to_dict()["blas_warning"] == report.blas_warning
    if environment:
        names = " and ".join(environment)
        assert f"warning: {', '.join(report.overrides)} in the environment" in str(
            report
        )
        assert f"unset {names} before starting Python" in report.blas_warning
    else:
        assert report.blas_warning is None and "warning" not in str(report)
