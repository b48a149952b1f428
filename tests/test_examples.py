"""The scripts in examples/, each run in a subprocess as a user would run it."""

import gzip
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import loopnet as ln
from tests.helpers import needs_matplotlib, needs_sklearn

ROOT = Path(__file__).resolve().parents[1]


def run(script, *args, cwd):
    """Run ``examples/<script>`` with loopnet importable from this checkout."""
    paths = [str(ROOT), os.environ.get("PYTHONPATH", "")]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, paths)))
    return subprocess.run(
        [sys.executable, str(ROOT / "examples" / script), *map(str, args)],
        check=False,
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_worked_example(tmp_path):
    result = run("worked_example.py", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    # seed 001, question 11: sigma(1.3), yhat, J and dJ/dW^(2) = delta^(3) a^(2)
    for value in ("0.785835", "0.913529", "0.013371", "0.012918", "0.010151"):
        assert value in out
    # question 16 with y = [0.75, 0.82, 0.93]: J and dJ/dW^(2)
    assert "0.015329" in out and "0.013664" in out
    assert "bit for bit: True" in out
    gap = float(re.search(r"largest loop/matrix difference anywhere: (\S+)", out)[1])
    assert gap < 1e-15


@pytest.mark.heavy
@needs_sklearn
@needs_matplotlib  # --plot
def test_digits_reaches_95_percent(tmp_path):
    """The full 30-epoch run takes a few seconds, so the test runs all of it."""
    result = run("digits.py", "--plot", "curves.png", "--save", "net.npz", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert (
        len(re.findall(r"^epoch +\d+ +cost \S+ +test accuracy \S+$", out, re.MULTILINE))
        == 30
    )
    accuracy = float(
        re.search(r"^test accuracy (\S+) after 30 epochs", out, re.MULTILINE)[1]
    )
    assert accuracy >= 0.95
    assert (tmp_path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    split = ln.datasets.digits()
    net = ln.Network.load(tmp_path / "net.npz")
    assert net.score(split.X_test, split.labels_test) == pytest.approx(
        accuracy, abs=1e-4
    )


def _write_idx(path, array, compress):
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        n.to_bytes(4, "big") for n in array.shape
    )
    opener = gzip.open if compress else open
    with opener(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def _fake_mnist(folder, rng, n_train=300, n_test=100):
    """Images whose label is written as a bright 7x7 block: learnable in an epoch."""
    for part, n, compress in (("train", n_train, True), ("t10k", n_test, False)):
        labels = rng.integers(0, 10, n)
        images = rng.integers(0, 40, (n, 28, 28))
        for b, label in enumerate(labels):
            row, col = divmod(int(label), 4)
            images[b, 7 * row : 7 * row + 7, 7 * col : 7 * col + 7] = 255
        suffix = ".gz" if compress else ""
        _write_idx(folder / f"{part}-images-idx3-ubyte{suffix}", images, compress)
        _write_idx(folder / f"{part}-labels-idx1-ubyte{suffix}", labels, compress)


def test_mnist_on_fake_idx_files(tmp_path, rng):
    _fake_mnist(tmp_path, rng)
    result = run(
        "mnist.py",
        tmp_path,
        "--fast",
        "--train-size",
        250,
        "--save",
        "m.npz",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "250 training and 100 test images; 1 epochs, batch 10, lr 3.0" in out
    correct = int(
        re.search(r"^epoch  1: (\d+) / 100 test images", out, re.MULTILINE)[1]
    )
    assert correct >= 50  # chance is 10
    net = ln.Network.load(tmp_path / "m.npz")
    assert net.sizes == (784, 30, 10)


def test_mnist_without_files_says_where_to_get_them(tmp_path):
    result = run("mnist.py", tmp_path, cwd=tmp_path)
    assert result.returncode == 2 and result.stdout == ""
    message = result.stderr.strip()
    assert "\n" not in message
    assert "train-images-idx3-ubyte(.gz) is not in" in message
    assert "https://ossci-datasets.s3.amazonaws.com/mnist/" in message


def test_mnist_with_a_corrupt_file(tmp_path, rng):
    _fake_mnist(tmp_path, rng, n_train=20, n_test=10)
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(b"\x00\x00\x08\x01garbage")
    result = run("mnist.py", tmp_path, cwd=tmp_path)
    assert result.returncode == 2 and "t10k-labels-idx1-ubyte" in result.stderr


@pytest.mark.heavy  # compiles the example's own Numba functions, a few seconds
def test_custom_loop_beats_the_quadratic_cost_on_outliers(tmp_path):
    result = run("custom_loop.py", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    costs = re.findall(r"^epoch +\d+  pseudo-Huber cost (\S+)$", out, re.MULTILINE)
    assert len(costs) == 30 and float(costs[-1]) < float(costs[0])
    line = r"^(.+?) +mean \|a - y\| on clean test targets (\S+)$"
    errors = dict(re.findall(line, out, re.MULTILINE))
    assert float(errors["pseudo-Huber"]) < float(errors["quadratic (fit)"])


@pytest.mark.heavy
@needs_sklearn
def test_estimators_against_mlp_prints_its_table(tmp_path):
    result = run("estimators_vs_mlp.py", "--seeds", "1", "--epochs", "2", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    row = r"^\| (\d+) \| (\d+) \| 0\.\d+ ± 0\.0000 \|"
    rows = re.findall(row, result.stdout, re.MULTILINE)
    assert rows == [("100", "200"), ("100", "32"), ("30", "10")]
    assert "commit " in result.stdout
