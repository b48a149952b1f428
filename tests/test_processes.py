"""Worker processes after a parallel call: fork, spawn, forkserver and executors.

A program that has computed a gradient big enough to go parallel, then starts
worker processes that compute too, must get answers, whatever the start method
and whichever threading layer Numba runs (docs/robustness.md). Under GNU OpenMP
a forked child's first parallel loop used to end it ("fork() called from a
process already using GNU OpenMP") and a ``multiprocessing`` pool then waited
forever. Each case runs in a fresh interpreter with a timeout, so that a hang
fails the test instead of blocking the run, on 2 Numba threads whatever the
machine has, and checks the workers' gradients bit for bit against the
parent's.
"""

import importlib.metadata
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.helpers import NO_JIT

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 300  # seconds; a start-up compiles nothing (the parent's run has cached)

# heavy: fresh interpreters (a minute in all) around kernels tested elsewhere
pytestmark = [
    pytest.mark.skipif(
        NO_JIT,
        reason="about compiled threads; without the JIT nothing runs in parallel",
    ),
    pytest.mark.heavy,
]

try:
    importlib.metadata.version("tbb")
    HAS_TBB = sys.platform == "linux"
except importlib.metadata.PackageNotFoundError:
    HAS_TBB = False

# The workers' function lives in a file, so that spawned children can import it.
SCRIPT = """
import concurrent.futures, json, multiprocessing, sys
import numba, numpy as np
import loopnet as ln
from loopnet import _jit

net = ln.Network([160, 160, 10], seed=0)
X = np.random.default_rng(0).random((256, 160))  # 6.5M multiply-adds: parallel
Y = np.random.default_rng(1).random((256, 10))


def gradient(_):
    return net.gradient(X, Y).flat.tobytes(), _jit.serial_only()


if __name__ == "__main__":
    assert _jit.use_threads(256 * 160 * 160) and numba.get_num_threads() == 2
    want = gradient(0)[0]
    context = multiprocessing.get_context(sys.argv[1])
    with context.Pool(2) as pool:
        results = pool.map_async(gradient, range(3)).get(TIMEOUT)
    with concurrent.futures.ProcessPoolExecutor(2, mp_context=context) as pool:
        results += list(pool.map(gradient, range(3), timeout=TIMEOUT))
    print(json.dumps({
        "layer": numba.threading_layer(),
        "equal": [bits == want for bits, _ in results],
        "serial": [serial for _, serial in results],
    }))
"""


def run(tmp_path, method, layer=None):
    """Run SCRIPT in a fresh interpreter; return its report (a dict)."""
    script = tmp_path / "workers.py"
    script.write_text(textwrap.dedent(SCRIPT).replace("TIMEOUT", str(TIMEOUT - 60)))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NUMBA_NUM_THREADS": "2"}
    env.pop("NUMBA_THREADING_LAYER", None)
    if layer is not None:
        env["NUMBA_THREADING_LAYER"] = layer
    try:
        done = subprocess.run(
            [sys.executable, str(script), method],
            env=env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
            cwd=tmp_path,
        )
    except subprocess.TimeoutExpired as error:
        pytest.fail(f"{method} workers did not answer in {TIMEOUT} s: {error.stderr}")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


@pytest.mark.parametrize("method", ["fork", "spawn", "forkserver"])
def test_workers_answer_after_a_parallel_call(tmp_path, method):
    """The default threading layer: a Pool, then a ProcessPoolExecutor."""
    report = run(tmp_path, method)
    assert report["equal"] == [True] * 6
    if HAS_TBB:  # loopnet depends on tbb on Linux x86-64, and loads it for Numba
        assert report["layer"] == "tbb"
        assert report["serial"] == [False] * 6  # TBB workers keep their threads


# (a forkserver's children fork from a fresh server, which is the spawn case)
@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_workers_answer_under_gnu_openmp(tmp_path, method):
    """NUMBA_THREADING_LAYER=omp, the user's choice, wins; forked children go serial."""
    report = run(tmp_path, method, layer="omp")
    assert report["layer"] == "omp"
    assert report["equal"] == [True] * 6
    # only a child forked from the OpenMP parent must not start threads again
    assert report["serial"] == [method == "fork"] * 6


def test_the_users_workqueue_layer_wins(tmp_path):
    report = run(tmp_path, "fork", layer="workqueue")
    assert report["layer"] == "workqueue" and report["equal"] == [True] * 6
    assert report["serial"] == [False] * 6  # fork-safe: children keep threads
