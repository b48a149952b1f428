"""The gradient of one batch, loopnet's two forms against their honest peers.

For each workload of ``benchmarks/common.py`` (tiny [2, 3, 1] batch 3, Nielsen's
[784, 30, 10] batch 10, medium [784, 100, 10] batch 64, large [1024, 1024,
1024, 10] batch 256; sigmoid layers, quadratic cost, mean over the batch) and
dtype, the contenders of ``benchmarks/contenders.py``: ``loop`` and ``matrix``
(the public ``Network.gradient``), ``numpy`` (the backward pass a user writes),
``jax`` (``jit(grad)``) and ``torch`` (autograd) where installed. Everything runs
on one thread with OpenBLAS at its own kernel; contenders are interleaved round
by round, each sample timing enough calls to last ``--sample`` seconds, and each
figure is the median of ``--rounds`` samples, with its GFLOP/s and the fraction
of the machine's single-thread BLAS rate (a 1024 x 1024 product).

    python -m benchmarks.gradient_speed [--rounds 15] [--sample 0.05]
        [--workloads 2-3-1/b3,...] [--contenders loop,matrix,numpy,jax,torch]
"""

import os

# One thread for every contender, set before NumPy, JAX or PyTorch starts a pool.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import argparse
import statistics
import time

import numpy as np

from benchmarks import common, contenders, machine, use_cpus

# asv imports every module of benchmarks/ and runs any function named time_*,
# track_*, peakmem_*, mem_* or timeraw_* as a benchmark: none of these is one.


def seconds_per_call(call, min_seconds):
    """Seconds of one call of ``call``, from enough calls to last ``min_seconds``."""
    started = time.perf_counter()
    call()
    once = max(time.perf_counter() - started, 1e-7)
    n_calls = max(1, int(min_seconds / once))
    started = time.perf_counter()
    for _ in range(n_calls):
        call()
    return (time.perf_counter() - started) / n_calls


def measure(workload, dtype, names, rounds, sample):
    """Median seconds per gradient of each contender that can run, interleaved."""
    sizes, _ = common.WORKLOADS[workload]
    X, Y = common.batch(workload, dtype)
    ready = {}
    for name in names:
        try:
            ready[name] = contenders.gradient(name, sizes, X, Y)
        except ImportError as error:
            print(f"  {name}: skipped ({error})")
    reference = ready[next(iter(ready))]()
    differences = {
        name: np.max(np.abs(call() - reference)) for name, call in ready.items()
    }
    samples = {name: [] for name in ready}
    order = list(ready)
    for round_ in range(rounds):
        shift = round_ % len(order)
        for name in order[shift:] + order[:shift]:
            samples[name].append(seconds_per_call(ready[name], sample))
    return {name: statistics.median(s) for name, s in samples.items()}, differences


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--sample", type=float, default=0.05, help="seconds")
    parser.add_argument("--workloads", default=",".join(common.WORKLOADS))
    parser.add_argument("--contenders", default=",".join(contenders.GRADIENTS))
    parser.add_argument("--dtypes", default="float32,float64")
    args = parser.parse_args()
    use_cpus(1)  # before JAX starts XLA's pool, sized by the CPUs allowed
    names = args.contenders.split(",")
    print("\n".join(machine.describe()))
    peaks = {dtype: machine.blas_rate(dtype) for dtype in args.dtypes.split(",")}
    print(
        "BLAS 1024 x 1024 product: "
        + ", ".join(f"{dtype} {rate:.1f} GFLOP/s" for dtype, rate in peaks.items())
    )
    print(f"medians of {args.rounds} interleaved rounds, one thread each")
    for workload in args.workloads.split(","):
        sizes, n_batch = common.WORKLOADS[workload]
        flops = common.gradient_flops(sizes, n_batch)
        for dtype in args.dtypes.split(","):
            medians, differences = measure(
                workload, dtype, names, args.rounds, args.sample
            )
            print(f"\n{workload} {dtype} ({flops / 1e6:.3g} MFLOP of products)")
            print(
                f"  {'contender':10s} {'median':>10s} {'GFLOP/s':>8s} {'of BLAS':>8s}"
                f" {'loop/it':>8s} {'max |g - g_loop|':>17s}"
            )
            for name, median in medians.items():
                rate = flops / median / 1e9
                ratio = medians.get("loop", float("nan")) / median
                print(
                    f"  {name:10s} {median * 1e6:8.1f} us {rate:8.2f}"
                    f" {rate / peaks[dtype]:8.3f} {ratio:8.2f}"
                    f" {differences[name]:17.2e}"
                )


if __name__ == "__main__":
    main()
