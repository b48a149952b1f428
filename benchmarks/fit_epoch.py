"""One training epoch: ``fit`` against its honest peers, at the seeds' setup or a sweep.

Without ``--sweep``, the seeds' MNIST setup: sizes [784, 30, 10], mini-batches
of 10, 50,000 examples. With ``--sweep``, issue 27's workloads
(``common.SWEEP``): [784, 30, 10] b10, [784, 100, 10] b32, [784, 256, 256, 10]
b64, [784, 100, 10] b200 (scikit-learn's default batch), [784, 256, 256, 10]
b128 and [1024, 1024, 1024, 10] b256, each in float64 and float32, over 50,000
examples, 20,000 for the [784, 256, 256, 10] networks and 5,120 (20
mini-batches, so that a round takes seconds) for the [1024, 1024, 1024, 10] one
(``SWEEP_SETUP``). Every workload: sigmoid layers, quadratic cost, plain SGD at
learning rate 3.0 (0.5 for the [1024, 1024, 1024, 10] network, whose sigmoids
3.0 drives past exp's range), one epoch over synthetic examples (uniform
inputs, random one-hot targets), every contender from the same initial
parameters through the same shuffle. The contenders
(``benchmarks/contenders.py``, shared with the asv suite):

- ``fit``: ``Network.fit``, the whole epoch inside compiled loops;
- ``numpy``: the loop a user would write: per mini-batch, the forward pass with
  ``@``, the deltas, ``delta.T @ a`` and an in-place update;
- ``jax`` (when installed): ``jit(lax.scan)`` over the epoch's mini-batches, each
  gathered inside the scan, ``jax.grad`` of the same cost;
- ``torch`` (when installed): PyTorch eager, ``nn.Linear`` + sigmoid, the same
  cost, ``optim.SGD``.

A contender that is not installed is skipped, and the output says so. For the
benchmark, install JAX's CPU build and PyTorch's CPU wheel beside loopnet (they
are no dependency of it)::

    pip install jax jaxlib
    pip install torch --index-url https://download.pytorch.org/whl/cpu

Every contender runs on ``--threads`` threads (1 by default) of as many CPUs:
OpenBLAS, Numba, PyTorch (``torch.set_num_threads``) and XLA, whose pool follows
the CPUs the process may use (``benchmarks.use_cpus``; JAX 0.10 ignores XLA_FLAGS'
thread settings). The pools' environment variables must be set before NumPy
loads, so a run whose environment does not match ``--threads`` starts itself
again with it. OpenBLAS runs its own kernel (``benchmarks/__init__.py``).
Contenders are interleaved round by round; each figure is the median over
``--rounds`` epochs, with its GFLOP/s (the products of forward pass, hidden
errors and weight gradients) and its fraction of this process's rate of a
1024 x 1024 product (GEMM, on the same threads, measured per dtype), and the
last column the largest difference of its trained parameters from ``fit``'s (a
wrong contender shows there). The run ends with a Markdown table of the
medians, fit/NumPy, fit/JAX, fit's rate and the largest parameter difference;
``--json PATH`` writes all of it (each round's time too), with the machine, the
CPU, the commit, the BLAS kernel (threadpoolctl) and each pool's threads.

    python -m benchmarks.fit_epoch [--examples 50000] [--rounds 5]
        [--contenders fit,numpy,jax,torch] [--dtypes float64,float32]
    python -m benchmarks.fit_epoch --sweep [--workloads 784-100-10/b32,...]
        [--examples N] [--threads 2] [--json sweep.json]

``--examples`` sets every workload's number of examples (for a quick check:
``--sweep --examples 2000 --rounds 2``).
"""

import os

# One thread for every contender, set before NumPy, JAX or PyTorch starts a pool;
# main() starts the script again when --threads asks for another number.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import argparse
import datetime
import itertools
import json
import platform
import statistics
import sys
import tempfile
from importlib import metadata
from pathlib import Path

import numba
import numpy as np

import loopnet as ln
from benchmarks import ALLOWED_CPUS, common, contenders, machine, use_cpus

POOL_VARIABLES = (
    "OPENBLAS_NUM_THREADS",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMBA_NUM_THREADS",
)
"""The environment variables that size the contenders' pools when they load."""

SEEDS_WORKLOAD, SEEDS_LR = common.NIELSEN, 3.0
"""The workload without ``--sweep``: the seeds' [784, 30, 10] at batch 10."""

SWEEP_SETUP = {
    common.NIELSEN: (50_000, SEEDS_LR),
    "784-100-10/b32": (50_000, 3.0),
    "784-256-256-10/b64": (20_000, 3.0),
    "784-100-10/b200": (50_000, 3.0),
    "784-256-256-10/b128": (20_000, 3.0),
    common.LARGE: (5_120, 0.5),
}
"""name -> (examples per epoch, learning rate) of each workload of the sweep
(issue 27's table; 20 mini-batches of the [1024, 1024, 1024, 10] network, about
54 GFLOP, at a rate that keeps its sigmoids within exp's range: 3.0 overflows
it in the NumPy loop)."""

CONTENDERS = ("fit", "numpy", "jax", "torch")

# asv imports every module of benchmarks/ and runs any function named time_*,
# track_*, peakmem_*, mem_* or timeraw_* as a benchmark: none of these is one.


def epoch_flops(sizes, n_examples):
    """Flops of one epoch's products: forward, hidden errors and weight gradients.

    A multiply-add counts as two; per example, z = W a for every layer,
    delta W for every layer but the first, and delta^T a for every layer.
    """
    products = [n_l * n_prev for n_prev, n_l in itertools.pairwise(sizes)]
    return 2 * n_examples * (2 * sum(products) + sum(products[1:]))


def data(sizes, n_examples, dtype):
    """Synthetic inputs in [0, 1) and one-hot targets, seeded."""
    rng = np.random.default_rng(0)
    X = rng.random((n_examples, sizes[0])).astype(dtype)
    Y = ln.datasets.one_hot(rng.integers(0, sizes[-1], n_examples), dtype=dtype)
    return X, Y


def available(names, sizes, batch_size, lr, X, Y):
    """(contenders built, {name: why skipped}) of those asked for.

    JAX and PyTorch are optional: a missing one is skipped, not fatal.
    """
    ready, skipped = [], {}
    for name in names:
        try:
            ready.append(contenders.EPOCHS[name](sizes, batch_size, lr, X, Y))
        except ImportError as error:
            skipped[name] = str(error)
            print(f"  {name}: skipped ({error})")
    return ready, skipped


def measure(sizes, batch_size, lr, dtype, n_examples, rounds, names):
    """Each contender's epoch seconds and trained parameters, interleaved.

    Round r trains every contender from the same initial parameters through
    ``fit``'s shuffle of seed r; the contender that goes first rotates.
    Returns ({name: [seconds per round]}, {name: trained parameters}, skipped).
    """
    X, Y = data(sizes, n_examples, dtype)
    ready, skipped = available(names, sizes, batch_size, lr, X, Y)
    weights, biases = contenders.initial_parameters(sizes, dtype)
    seconds = {contender.name: [] for contender in ready}
    trained = {}
    for round_ in range(rounds):
        shift = round_ % len(ready)
        for contender in ready[shift:] + ready[:shift]:
            elapsed, params = contender.epoch(weights, biases, round_)
            seconds[contender.name].append(elapsed)
            trained[contender.name] = params
    return seconds, trained, skipped


def ratio(numerator, denominator):
    """numerator / denominator, None when either is missing."""
    if numerator is None or denominator is None:
        return None
    return numerator / denominator


def cell(workload, dtype, rounds, names, gemm):
    """The measurement of one workload in one dtype, as the JSON holds it.

    ``workload`` is (name, examples, learning rate).
    """
    name, n_examples, lr = workload
    sizes, batch_size = common.EPOCH_WORKLOADS[name]
    seconds, trained, skipped = measure(
        sizes, batch_size, lr, dtype, n_examples, rounds, names
    )
    flops = epoch_flops(sizes, n_examples)
    results = {}
    for contender, times in seconds.items():
        median = statistics.median(times)
        rate = flops / median / 1e9
        diff = (
            float(np.max(np.abs(trained[contender] - trained["fit"])))
            if "fit" in trained
            else None
        )
        results[contender] = {
            "median_ms": median * 1e3,
            "rounds_ms": [t * 1e3 for t in times],
            "gflops": rate,
            "of_gemm": rate / gemm,
            "max_abs_param_diff_from_fit": diff,
        }

    def median_of(contender):
        return results[contender]["median_ms"] if contender in results else None

    return {
        "workload": f"{list(sizes)} b{batch_size}",
        "sizes": list(sizes),
        "batch_size": batch_size,
        "examples": n_examples,
        "learning_rate": lr,
        "dtype": dtype,
        "gflop_per_epoch": flops / 1e9,
        "gemm_gflops": gemm,
        "contenders": results,
        "skipped": skipped,
        "fit_over_numpy": ratio(median_of("fit"), median_of("numpy")),
        "fit_over_jax": ratio(median_of("fit"), median_of("jax")),
    }


def print_cell(result):
    """One workload and dtype: each contender's median, rate and check."""
    print(
        f"\n{result['workload']}, {result['dtype']}, {result['examples']} examples"
        f" at lr {result['learning_rate']}"
        f" ({result['gflop_per_epoch']:.2f} GFLOP of products per epoch)"
    )
    print(
        f"  {'contender':10s} {'median':>9s} {'GFLOP/s':>8s} {'of GEMM':>8s}"
        f" {'fit/it':>7s} {'max |p - p_fit|':>16s}"
    )
    fit = result["contenders"].get("fit")
    for name, figures in result["contenders"].items():
        fit_over = fit["median_ms"] / figures["median_ms"] if fit else float("nan")
        diff = figures["max_abs_param_diff_from_fit"]
        print(
            f"  {name:10s} {figures['median_ms']:7.1f} ms {figures['gflops']:8.1f}"
            f" {figures['of_gemm']:8.2f} {fit_over:7.2f}"
            f" {float('nan') if diff is None else diff:16.2e}"
        )


def _format(value, spec):
    return "-" if value is None else format(value, spec)


def table(results, names):
    """The sweep as a Markdown table: medians in ms, the ratios, fit's rate.

    The last column is the largest difference of any contender's trained
    parameters from ``fit``'s, so that a wrong one shows in the table too.
    """
    header = (
        ["workload", "dtype"]
        + [f"{name} (ms)" for name in names]
        + ["fit/NumPy", "fit/JAX", "fit GFLOP/s", "fit of GEMM", "max abs(p - p_fit)"]
    )
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for result in results:
        figures = result["contenders"]
        fit = figures.get("fit", {})
        diffs = [f["max_abs_param_diff_from_fit"] for f in figures.values()]
        diffs = [d for d in diffs if d is not None]
        row = [result["workload"], result["dtype"]]
        row += [_format(figures.get(n, {}).get("median_ms"), ".0f") for n in names]
        row += [
            _format(result["fit_over_numpy"], ".2f"),
            _format(result["fit_over_jax"], ".2f"),
            _format(fit.get("gflops"), ".1f"),
            _format(fit.get("of_gemm"), ".2f"),
            _format(max(diffs) if diffs else None, ".1e"),
        ]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def versions():
    """Versions of the contenders' libraries, None for one not installed."""
    found = {}
    for package in ("numpy", "numba", "jax", "jaxlib", "torch"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = None
    return found


def pool_threads():
    """The threads each library's pool has now (PyTorch's once it is loaded)."""
    torch = sys.modules.get("torch")
    return {
        "numba": numba.get_num_threads(),
        "blas": [pool[-1] for pool in machine.blas_pools()],
        "torch": torch.get_num_threads() if torch else None,
        "xla_cpus": len(os.sched_getaffinity(0)) if ALLOWED_CPUS else None,
    }


def report(args, gemm, results):
    """Everything the run printed, with the machine, for ``--json``."""
    return {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "commit": machine.commit(),
        "machine": platform.node(),
        "cpu": machine.cpu_name(),
        "llvm_target": machine.llvm_target(),
        "cores": os.cpu_count(),
        "load_average": os.getloadavg()[0],
        "threads": args.threads,
        "pool_threads": pool_threads(),
        "cpus_used": sorted(os.sched_getaffinity(0)) if ALLOWED_CPUS else None,
        "blas": [
            dict(
                zip(
                    ("owner", "library", "version", "kernel", "threads"),
                    pool,
                    strict=True,
                )
            )
            for pool in machine.blas_pools()
        ],
        "software": {"python": platform.python_version(), **versions()},
        "description": machine.describe(),
        "rounds": args.rounds,
        "gemm_gflops": gemm,
        "results": results,
    }


def write_json(path, document):
    """Write ``document`` to ``path`` atomically (a temporary file, then rename)."""
    path = Path(path)
    with tempfile.NamedTemporaryFile(
        "w", dir=path.parent, prefix=f".{path.name}.", delete=False
    ) as file:
        json.dump(document, file, indent=1)
        file.write("\n")
    os.replace(file.name, path)


def workloads(args):
    """[(name, examples, learning rate)] that this run measures."""
    if not args.sweep:
        if args.workloads:
            raise SystemExit("--workloads needs --sweep")
        return [(SEEDS_WORKLOAD, args.examples or 50_000, SEEDS_LR)]
    names = args.workloads.split(",") if args.workloads else common.SWEEP
    unknown = [name for name in names if name not in SWEEP_SETUP]
    if unknown:
        raise SystemExit(
            f"--workloads: unknown {', '.join(unknown)}; the sweep's are"
            f" {', '.join(common.SWEEP)}"
        )
    return [
        (name, args.examples or SWEEP_SETUP[name][0], SWEEP_SETUP[name][1])
        for name in names
    ]


def parse(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sweep", action="store_true", help="issue 27's workloads")
    parser.add_argument("--workloads", help="with --sweep: some of common.SWEEP")
    parser.add_argument(
        "--examples", type=int, help="examples per epoch (default: per workload)"
    )
    parser.add_argument("--rounds", type=int, default=5, help="epochs per contender")
    parser.add_argument("--contenders", default=",".join(CONTENDERS))
    parser.add_argument("--dtypes", default="float64,float32")
    parser.add_argument("--threads", type=int, default=1, help="of every contender")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)
    if args.examples is not None and args.examples < 1:
        parser.error("--examples must be >= 1")
    if args.rounds < 1:
        parser.error("--rounds must be >= 1")
    unknown = set(args.contenders.split(",")) - set(CONTENDERS)
    if unknown:
        parser.error(f"--contenders: unknown {', '.join(sorted(unknown))}")
    cpus = len(ALLOWED_CPUS) or os.cpu_count()
    if not 1 <= args.threads <= cpus:
        parser.error(f"--threads must be in [1, {cpus}], the CPUs this process has")
    return args


def restart_with_pools(n_threads, argv):
    """Start this script again with every pool sized to ``n_threads``, if need be.

    NumPy, Numba and PyTorch size their pools from the environment when they
    load, which this module's imports did already.
    """
    wanted = str(n_threads)
    if all(os.environ.get(name) == wanted for name in POOL_VARIABLES):
        return
    environment = dict(os.environ, **dict.fromkeys(POOL_VARIABLES, wanted))
    command = [sys.executable, "-m", "benchmarks.fit_epoch", *argv]
    sys.stdout.flush()
    os.execve(sys.executable, command, environment)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse(argv)
    restart_with_pools(args.threads, argv)
    use_cpus(args.threads)  # before JAX starts XLA's pool, sized by the CPUs allowed
    names = args.contenders.split(",")
    plan = workloads(args)
    print("\n".join(machine.describe()))
    print(
        "sigmoid layers, quadratic cost, plain SGD: one epoch; medians"
        f" of {args.rounds} interleaved rounds, {args.threads} thread(s) each"
    )
    results, gemm = [], {}
    dtypes = args.dtypes.split(",")
    for dtype in dtypes:
        gemm[dtype] = machine.blas_rate(dtype)
        print(
            f"{dtype}: GEMM (1024 x 1024 product, {args.threads} thread(s))"
            f" {gemm[dtype]:.1f} GFLOP/s"
        )
    for workload in plan:
        for dtype in dtypes:
            result = cell(workload, dtype, args.rounds, names, gemm[dtype])
            print_cell(result)
            results.append(result)
    print()
    print(table(results, names))
    if args.json:
        write_json(args.json, report(args, gemm, results))
        print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
