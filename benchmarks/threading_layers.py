"""Launch cost and safety of Numba's threading layers: the figures behind loopnet's.

    python benchmarks/threading_layers.py [--rounds 5] [--layers tbb,omp,workqueue]

For each layer, every figure comes from fresh processes started with
``NUMBA_THREADING_LAYER`` set to it (one layer per process: Numba loads one):

- **launch**: seconds per call of the smallest parallel loop, a ``prange`` over
  4 elements, on 1 and on 2 threads; the median of 9 samples of ~20 ms of calls
  each, 1 and 2 threads alternating. "idle" with nothing else started by this
  script, "loaded" with one busy process (a Python ``while True``) beside it, as
  when another job holds a core. The layers and the two loads alternate round by
  round, so a change of the machine's load falls on all of them; each figure is
  the median over the rounds, with the range.
- **fork**: after a parallel call in the parent, a ``fork`` pool of 2 workers
  maps the same parallel call: "ran", "killed" (the children died, the pool's
  map timed out) or "hung".
- **loopnet fork**: the same through loopnet (``Network([512, 512, 10])``,
  batch 256, whose layers go parallel), where ``loopnet._jit`` runs a forked
  child of a GNU OpenMP parent serially; its kernels are compiled or loaded in a
  process of their own first, so that no compile time counts against the
  timeout.
- **threads**: 4 Python threads making 300 parallel calls each, at once: "ok"
  (every result right), "wrong" or "aborted".

- **compare under load** (``--load-sweep``): ``loopnet compare --json`` on 1
  and on 2 threads with 0, 1 and 2 busy processes beside it, the loads
  alternating round by round: the loop and matrix medians' range per load,
  the figures behind the load warning of ``loopnet compare`` and ``bench``
  (``loopnet.compare.load_warning``).

The load average is printed before and after. Nothing here is a test: the figures
depend on the machine and its other jobs.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

LAYERS = ("tbb", "omp", "workqueue")
TIMEOUT = 60

CHILD = r"""
import json, multiprocessing, sys, threading, time
import loopnet  # loads the tbb package's library (loopnet._jit.load_tbb)
import numba
import numpy as np
from numba import njit, prange

@njit(parallel=True)
def tiny(a):
    for i in prange(a.shape[0]):
        a[i] += 1.0

def per_call(n_threads, a):
    numba.set_num_threads(n_threads)
    calls, start = 0, time.perf_counter()
    while time.perf_counter() - start < 0.02:
        for _ in range(50):
            tiny(a)
        calls += 50
    return (time.perf_counter() - start) / calls

def parallel_sum(_):
    a = np.zeros(4)
    tiny(a)
    return float(a.sum())

part = sys.argv[1]
a = np.zeros(4)
tiny(a)
result = {"layer": numba.threading_layer()}
if part == "launch":
    samples = {1: [], 2: []}
    for _ in range(9):
        for n in samples:
            samples[n].append(per_call(n, a))
    result.update({str(n): float(np.median(s)) for n, s in samples.items()})
elif part == "fork":
    with multiprocessing.get_context("fork").Pool(2) as pool:
        result["values"] = pool.map_async(parallel_sum, range(4)).get(20)
elif part in ("loopnet-fork", "warm"):
    net = loopnet.Network([512, 512, 10], seed=0)
    X = np.random.default_rng(0).random((256, 512))
    Y = np.random.default_rng(1).random((256, 10))
    want = net.gradient(X, Y).flat
    if part == "warm":
        sys.exit(0)
    def gradient(_):
        return bool(np.array_equal(net.gradient(X, Y).flat, want))
    with multiprocessing.get_context("fork").Pool(2) as pool:
        result["values"] = pool.map_async(gradient, range(4)).get(20)
elif part == "threads":
    wrong = []
    def work():
        b = np.zeros(4)
        for i in range(300):
            tiny(b)
        if not np.array_equal(b, np.full(4, 300.0)):
            wrong.append(b)
    workers = [threading.Thread(target=work) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    result["wrong"] = len(wrong)
print("RESULT " + json.dumps(result), flush=True)
"""


def child(layer, part, timeout=TIMEOUT):
    """Run one part in a fresh process on ``layer``: its result dict and outcome."""
    env = {**os.environ, "NUMBA_THREADING_LAYER": layer, "NUMBA_NUM_THREADS": "2"}
    try:
        done = subprocess.run(
            [sys.executable, "-c", CHILD, part],
            env=env,
            check=False,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as error:
        stderr = error.stderr or b""
        if isinstance(stderr, bytes):
            stderr = stderr.decode(errors="replace")
        last = (stderr.strip().splitlines() or ["no message"])[-1]
        return None, f"hung ({timeout} s; last message: {last})"
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:]), "ran"
    text = (done.stderr.strip().splitlines() or ["(no message)"])[-1]
    if "TimeoutError" in done.stderr:
        return None, "killed (the pool waited: " + _terminating(done.stderr) + ")"
    return None, f"aborted, status {done.returncode}: {text}"


def _terminating(stderr):
    lines = [line for line in stderr.splitlines() if "Terminating" in line]
    return lines[0] if lines else "children gone"


def launch(layers, rounds):
    """Median (and range) of the per-call time per layer, load and thread count."""
    times = {(layer, load, n): [] for layer in layers for load in (0, 1) for n in "12"}
    for _ in range(rounds):
        for load in (0, 1):
            busy = None
            if load:
                busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
                time.sleep(0.5)
            try:
                for layer in layers:
                    result, outcome = child(layer, "launch")
                    if result is None:
                        print(f"{layer}: launch {outcome}")
                        continue
                    for n in "12":
                        times[layer, load, n].append(result[n])
            finally:
                if busy is not None:
                    busy.kill()
                    busy.wait()
    print("\nlaunch cost of a 4-element prange call, microseconds: median [range]")
    print(
        f"{'layer':10} {'idle 1':>16} {'idle 2':>16} {'loaded 1':>16} {'loaded 2':>16}"
    )
    for layer in layers:
        cells = []
        for load in (0, 1):
            for n in "12":
                values = [t * 1e6 for t in times[layer, load, n]]
                if not values:
                    cells.append("-")
                    continue
                cells.append(
                    f"{statistics.median(values):.1f}"
                    f" [{min(values):.1f}-{max(values):.1f}]"
                )
        print(f"{layer:10} " + " ".join(f"{cell:>16}" for cell in cells))


def safety(layers):
    """Fork, loopnet fork and threads outcome per layer."""
    print("\nsafety after a parallel call in the parent")
    # loopnet's kernels compile (or load) here, not in the timed-out parts below
    child(layers[0], "warm", timeout=900)
    for layer in layers:
        for part in ("fork", "loopnet-fork", "threads"):
            result, outcome = child(layer, part)
            if result is not None:
                if part == "threads":
                    outcome = "ok" if result["wrong"] == 0 else "wrong results"
                elif part == "loopnet-fork" and not all(result["values"]):
                    outcome = "ran, wrong bits"
                layer_seen = result["layer"]
            else:
                layer_seen = layer
            print(f"{layer:10} ({layer_seen}) {part:13} {outcome}")


def _busy(n):
    """Start ``n`` processes that each keep one core busy."""
    return [
        subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)
    ]


def load_sweep(rounds):
    """loopnet compare's medians with 0, 1 and 2 busy processes beside it."""
    seconds = {(n, busy): ([], []) for n in (1, 2) for busy in (0, 1, 2)}
    for _ in range(rounds):
        for busy in (0, 1, 2):
            workers = _busy(busy)
            time.sleep(0.5)
            try:
                for n in (1, 2):
                    done = subprocess.run(
                        ["loopnet", "compare", "--json", "--threads", str(n)],
                        capture_output=True,
                        text=True,
                        timeout=TIMEOUT,
                        check=True,
                    )
                    report = json.loads(done.stdout)
                    seconds[n, busy][0].append(report["loop_seconds"])
                    seconds[n, busy][1].append(report["matrix_seconds"])
            finally:
                for worker in workers:
                    worker.kill()
                    worker.wait()
    print("\nloopnet compare ([784, 100, 10], batch 64), ms: median [range] of runs")
    print(f"{'threads':>7} {'busy':>4} {'loop':>22} {'matrix':>22}")
    for (n, busy), (loop, matrix) in seconds.items():
        cells = [
            f"{statistics.median(v) * 1e3:.2f} [{min(v) * 1e3:.2f}-{max(v) * 1e3:.2f}]"
            for v in (loop, matrix)
        ]
        print(f"{n:>7} {busy:>4} {cells[0]:>22} {cells[1]:>22}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="rounds (median)")
    parser.add_argument("--layers", default=",".join(LAYERS), help="layers to try")
    parser.add_argument("--skip-launch", action="store_true")
    parser.add_argument("--skip-safety", action="store_true")
    parser.add_argument(
        "--load-sweep", action="store_true", help="also time compare under load"
    )
    args = parser.parse_args()
    layers = [layer for layer in args.layers.split(",") if layer]
    print(f"load average {os.getloadavg()}; {os.cpu_count()} cores")
    if not args.skip_launch:
        launch(layers, args.rounds)
    if not args.skip_safety:
        safety(layers)
    if args.load_sweep:
        load_sweep(args.rounds)
    print(f"\nload average {os.getloadavg()}")


if __name__ == "__main__":
    main()
