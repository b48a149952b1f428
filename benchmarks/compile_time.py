"""A user's first run: each entry point cold, in a fresh interpreter and a fresh cache.

For each entry point, a new interpreter with ``NUMBA_CACHE_DIR`` set to a new
empty folder runs it once, as a user's first command would; the figure is that
interpreter's whole run (start-up, import, compiling, the work itself), the
time a user waits. Numba's compile events (``numba.core.event``) count the
functions compiled and, with ``--dispatchers``, give each dispatcher's own
compile time (its callees' taken out), the table of benchmarks/README.md.

    python -m benchmarks.compile_time [--entries compare,gradient,...]
        [--repeat 1] [--dispatchers 12] [--json PATH]

The entries: ``compare`` (``loopnet compare``, its defaults), ``gradient`` (a
[784, 30, 10] gradient of 10 examples), ``fit-sgd`` and ``fit-adam`` (one epoch
of a [64, 30, 10] network over 200 examples, float64), ``classifier``
(``LoopNetClassifier(epochs=1).fit`` on 200 examples of 64 features and 10
classes) and ``warmup`` (``loopnet warmup``, both dtypes).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

from benchmarks import machine

ENTRIES = {
    "compare": """
from loopnet.cli import main
try:
    main(["compare"])
except SystemExit as exit:
    assert not exit.code, exit.code
""",
    "gradient": """
import numpy as np
import loopnet as ln
net = ln.Network([784, 30, 10], seed=0)
net.gradient(np.random.default_rng(1).random((10, 784)), np.eye(10))
""",
    "fit-sgd": """
import numpy as np
import loopnet as ln
rng = np.random.default_rng(1)
X, Y = rng.random((200, 64)), np.eye(10)[rng.integers(0, 10, 200)]
ln.Network([64, 30, 10], seed=0).fit(X, Y, epochs=1, lr=3.0, progress=False)
""",
    "fit-adam": """
import numpy as np
import loopnet as ln
rng = np.random.default_rng(1)
X, Y = rng.random((200, 64)), np.eye(10)[rng.integers(0, 10, 200)]
net = ln.Network([64, 30, 10], seed=0)
net.fit(X, Y, epochs=1, lr=0.01, optimizer="adam", progress=False)
""",
    "classifier": """
import numpy as np
from loopnet.sklearn import LoopNetClassifier
rng = np.random.default_rng(1)
X, y = rng.random((200, 64)), rng.integers(0, 10, 200)
LoopNetClassifier(epochs=1, random_state=0).fit(X, y)
""",
    "warmup": """
from loopnet.cli import main
try:
    main(["warmup"])
except SystemExit as exit:
    assert not exit.code, exit.code
""",
}
"""Entry point name -> the code a user's first run executes."""

LISTENER = """
import collections, json, sys, time
from numba.core import event

started = time.perf_counter()
own = collections.Counter()
calls = collections.Counter()
stack = []


class Compiles(event.Listener):
    def on_start(self, ev):
        stack.append((ev.data["dispatcher"].py_func.__qualname__, time.perf_counter()))

    def on_end(self, ev):
        name, start = stack.pop()
        seconds = time.perf_counter() - start
        own[name] += seconds
        calls[name] += 1
        if stack:  # a callee compiled inside its caller: not the caller's own time
            own[stack[-1][0]] -= seconds


event.register("numba:compile", Compiles())
"""

REPORT = """
json.dump({"compiled": sum(calls.values()), "dispatchers": {
    name: [own[name], calls[name]] for name in own}}, sys.stderr)
"""


def run_cold(entry):
    """One cold run of ``entry``: wall seconds, functions compiled, per dispatcher."""
    code = LISTENER + ENTRIES[entry] + REPORT
    with tempfile.TemporaryDirectory(prefix="loopnet-cold-") as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        started = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-c", code],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        seconds = time.perf_counter() - started
    if result.returncode:
        raise RuntimeError(f"{entry} failed:\n{result.stderr[-3000:]}")
    report = json.loads(result.stderr[result.stderr.rindex('{"compiled"') :])
    return seconds, report["compiled"], report["dispatchers"]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", default=",".join(ENTRIES))
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument(
        "--dispatchers",
        type=int,
        default=0,
        metavar="N",
        help="print the N dispatchers with the most compile time of each entry",
    )
    parser.add_argument("--json", metavar="PATH")
    args = parser.parse_args(argv)
    entries = args.entries.split(",")
    unknown = sorted(set(entries) - set(ENTRIES))
    if unknown:
        parser.error(f"unknown entries {unknown}; choose from {sorted(ENTRIES)}")
    print("\n".join(machine.describe()))
    runs = {entry: [] for entry in entries}
    for _ in range(args.repeat):  # interleaved, so that a busy spell hits all
        for entry in entries:
            runs[entry].append(run_cold(entry))
    print(f"\n{'entry':<12} {'cold s':>8} {'compiled':>9}  (median of {args.repeat})")
    results = {}
    for entry, samples in runs.items():
        seconds = statistics.median(sample[0] for sample in samples)
        compiled = samples[0][1]
        results[entry] = {"seconds": seconds, "compiled": compiled}
        print(f"{entry:<12} {seconds:8.1f} {compiled:9d}")
    for entry, samples in runs.items():
        if not args.dispatchers:
            break
        dispatchers = samples[0][2]
        top = sorted(dispatchers.items(), key=lambda item: -item[1][0])
        print(f"\n{entry}: own compile seconds, compiles, dispatcher")
        for name, (seconds, count) in top[: args.dispatchers]:
            print(f"{seconds:7.2f} {count:3d}  {name}")
        results[entry]["dispatchers"] = dispatchers
    if args.json:
        with open(args.json, "w") as file:
            json.dump({"machine": machine.describe(), "entries": results}, file)


if __name__ == "__main__":
    main()
