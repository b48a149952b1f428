"""The epoch benchmark (benchmarks/fit_epoch.py): its contenders train as fit does.

A contender that trained something else (a dropped mini-batch, another cost)
would make every ratio of the sweep meaningless, so each is checked against
``fit`` on a network small enough for the tests, with a short last mini-batch.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import NO_JIT

pytest.importorskip(
    "threadpoolctl", reason='threadpoolctl is not installed: pip install -e ".[bench]"'
)

# not fit_epoch: importing it sets the pools' variables for every later subprocess
from benchmarks import common, contenders

ROOT = Path(__file__).resolve().parents[1]

OPTIONAL = {"jax": "jax", "torch": "torch"}
"""Contenders that need a package beyond loopnet's, by the module they import."""


@pytest.mark.parametrize("name", ["numpy", "jax", "torch"])
def test_contender_trains_as_fit_does(name):
    if name in OPTIONAL:
        pytest.importorskip(
            OPTIONAL[name], reason=f"{name} is not installed (a benchmark contender)"
        )
    sizes, batch_size, lr = [6, 5, 3], 4, 0.5
    X, Y = common.examples(sizes, np.float64, 11)  # 2 full mini-batches, then 3 rows
    weights, biases = contenders.initial_parameters(sizes, np.float64)
    fit = contenders.EPOCHS["fit"](sizes, batch_size, lr, X, Y)
    other = contenders.EPOCHS[name](sizes, batch_size, lr, X, Y)
    _, expected = fit.epoch(weights, biases, seed=3)
    _, trained = other.epoch(weights, biases, seed=3)
    np.testing.assert_allclose(trained, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.skipif(NO_JIT, reason="an epoch of the sweep's networks needs the JIT")
def test_sweep_writes_json(tmp_path):
    path = tmp_path / "sweep.json"
    command = [
        sys.executable,
        "-m",
        "benchmarks.fit_epoch",
        "--sweep",
        "--workloads",
        "784-100-10/b32",
        "--examples",
        "40",
        "--rounds",
        "2",
        "--contenders",
        "fit,numpy",
        "--dtypes",
        "float64",
        "--json",
        str(path),
    ]
    paths = [str(ROOT), os.environ.get("PYTHONPATH", "")]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, paths)))
    result = subprocess.run(
        command,
        check=False,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "| [784, 100, 10] b32 | float64 |" in result.stdout
    report = json.loads(path.read_text())
    assert report["threads"] == 1 and report["pool_threads"]["numba"] == 1
    assert report["blas"] and report["commit"] and report["cpu"]
    (cell,) = report["results"]
    assert (cell["sizes"], cell["batch_size"], cell["examples"]) == (
        [784, 100, 10],
        32,
        40,
    )
    assert set(cell["contenders"]) == {"fit", "numpy"}
    numpy = cell["contenders"]["numpy"]
    assert len(numpy["rounds_ms"]) == 2
    assert numpy["max_abs_param_diff_from_fit"] < 1e-12
    assert cell["fit_over_numpy"] == pytest.approx(
        cell["contenders"]["fit"]["median_ms"] / numpy["median_ms"]
    )
    assert cell["fit_over_jax"] is None
