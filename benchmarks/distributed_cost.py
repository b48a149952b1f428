"""The cost of a step of ``loopnet.distributed.fit``, measured, and its projection.

For each workload ([784, 30, 10] b10, [784, 100, 10] b64, [1024, 1024, 1024, 10]
b256, float64) and for 1 and 2 worker processes of a ``LocalCluster`` (one
thread each, on this machine), one epoch of each mode; per step (sync) or round
(local SGD) the median of ``DistributedHistory``'s compute, reduce (the
driver's sum and step) and communication times, beside ``Network.fit``'s time
per mini-batch in this process. Then the model of docs/distributed.md projects
the speed-up over ``Network.fit`` alone to 8, 32 and 100 workers.

    python benchmarks/distributed_cost.py [--json results.json]
    python benchmarks/distributed_cost.py --from-json results.json  # tables only

Prints two Markdown tables (docs/distributed.md holds a run's output). Not part
of the asv suite: it starts clusters and takes minutes.
"""

import argparse
import json
import math
import os
import statistics
import sys
import time

import numpy as np

import loopnet as ln

try:  # asv imports every module of benchmarks/, also in environments without Dask
    from distributed import Client, LocalCluster

    from loopnet import distributed
except ImportError as error:
    MISSING_DASK = error
else:
    MISSING_DASK = None

WORKLOADS = {
    # name: (sizes, batch size, rows: enough steps for a median, few minutes)
    "784-30-10/b10": ([784, 30, 10], 10, 1000),
    "784-100-10/b64": ([784, 100, 10], 64, 64 * 40),
    "1024-1024-1024-10/b256": ([1024, 1024, 1024, 10], 256, 256 * 16),
}
SYNC_EVERY = 20  # local SGD's mini-batches per round, for every workload
WORKERS = (1, 2)
PROJECTED = (8, 32, 100)

# Assumed for the projection: a cluster network, and Dask's costs there.
BANDWIDTH = 10e9 / 8  # bytes/s: 10 Gbit/s
LATENCY = 50e-6  # s, one message
TASK = 300e-6  # s of the scheduler's time per task ("hundreds of microseconds")
STEP_OVERHEAD = 1e-3  # s per step: submit, a round trip, gather
N_PROJECTED = 50_000  # examples per epoch (MNIST's training set)


def data(sizes, n_rows):
    rng = np.random.default_rng(0)
    X = rng.random((n_rows, sizes[0]))
    return X, np.eye(sizes[-1])[rng.integers(0, sizes[-1], n_rows)]


def network(sizes):
    return ln.Network(sizes, output="softmax", cost="log_likelihood", seed=0)


def median(values):
    return statistics.median(values[1:] if len(values) > 2 else values)


def fit_alone(sizes, batch_size, X, Y):
    """Seconds per mini-batch of ``Network.fit`` here (its second epoch)."""
    net = network(sizes)
    history = net.fit(X, Y, epochs=2, batch_size=batch_size, lr=0.1, progress=False)
    return history.seconds[-1] / math.ceil(X.shape[0] / batch_size)


def measure(client, sizes, batch_size, X, Y, mode):
    """Median seconds per step (or round): wall, compute, reduce, communication."""
    net = network(sizes)
    options = {"sync_every": SYNC_EVERY} if mode == "local_sgd" else {}
    history = distributed.fit(
        net, X, Y, client, mode=mode, batch_size=batch_size, lr=0.1,
        seed=0, progress=False, **options,
    )  # fmt: skip
    return {
        "wall": median(history.step_seconds),
        "compute": median(history.compute_seconds),
        "reduce": median(history.reduce_seconds),
        "communication": median(history.communication_seconds),
        "steps": len(history.step_seconds),
    }


def run():
    results = {"loadavg_before": os.getloadavg(), "workloads": {}}
    for name, (sizes, batch_size, n_rows) in WORKLOADS.items():
        X, Y = data(sizes, n_rows)
        entry = {"alone": fit_alone(sizes, batch_size, X, Y)}
        entry["params_bytes"] = network(sizes).params.nbytes
        for n_workers in WORKERS:
            with (
                LocalCluster(
                    n_workers=n_workers,
                    threads_per_worker=1,
                    processes=True,
                    host="127.0.0.1",
                    dashboard_address=None,
                ) as cluster,
                Client(cluster) as client,
            ):
                client.wait_for_workers(n_workers)
                for mode in distributed.MODES:
                    entry[f"{mode}/{n_workers}"] = measure(
                        client, sizes, batch_size, X, Y, mode
                    )
                    print(name, mode, n_workers, entry[f"{mode}/{n_workers}"])
        results["workloads"][name] = entry
    results["loadavg_after"] = os.getloadavg()
    return results


def projected_step(entry, batch_size, n_workers, mode):
    """Modelled seconds of one step (sync) or round (local SGD) on P workers.

    compute: sync splits the batch's rows, at least one a worker; local SGD
    runs SYNC_EVERY whole mini-batches on every worker, as ``fit`` does.
    communication, as implemented (star): the parameters (and, for local SGD,
    as much optimizer state: SGD's velocity here) out to P workers and P
    results back through one link, a latency each way, and the scheduler's time
    for P tasks; the driver's reduce adds P results at the measured rate.
    ``"sync/allreduce"`` (not implemented): the workers sum among themselves by
    a ring allreduce, 2 S (P - 1) / P bytes per link and 2 log2(P) latencies,
    the reduce split over them. The sync model is of sync mode's step at
    01a6f12, one task per shard (docs/distributed.md); today's, which sums as
    ``fit`` does, adds a second layer of tasks.
    """
    measured = "sync" if mode == "sync/allreduce" else mode
    one = entry[f"{measured}/1"]
    size = entry["params_bytes"] * (2 if mode == "local_sgd" else 1)
    if mode == "local_sgd":
        compute = SYNC_EVERY * entry["alone"]
    else:
        compute = one["compute"] * math.ceil(batch_size / n_workers) / batch_size
    per_result = max(entry[f"{measured}/2"]["reduce"] - one["reduce"], 0.0)
    overhead = STEP_OVERHEAD + n_workers * TASK
    if mode == "sync/allreduce":
        reduce = one["reduce"] + per_result
        hops = 2 * math.log2(n_workers) * LATENCY
        return compute + reduce + overhead + hops + 2 * size / BANDWIDTH
    reduce = one["reduce"] + (n_workers - 1) * per_result
    return compute + reduce + overhead + 2 * LATENCY + 2 * n_workers * size / BANDWIDTH


def speedup(entry, batch_size, n_workers, mode):
    """``Network.fit``'s epoch over the modelled epoch of N_PROJECTED examples."""
    n_batches = N_PROJECTED / batch_size
    alone = n_batches * entry["alone"]
    if mode != "local_sgd":
        steps = n_batches
    else:  # every worker runs n_batches / P mini-batches, SYNC_EVERY a round
        steps = n_batches / n_workers / SYNC_EVERY
    return alone / (steps * projected_step(entry, batch_size, n_workers, mode))


def tables(results):
    ms = 1e3
    lines = [
        (
            "| workload | fit alone, ms/batch | mode | workers | step, ms | compute"
            " | reduce | communication |"
        ),
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, entry in results["workloads"].items():
        for mode in distributed.MODES:
            for n_workers in WORKERS:
                m = entry[f"{mode}/{n_workers}"]
                lines.append(
                    f"| {name} | {entry['alone'] * ms:.2f} | {mode} | {n_workers} |"
                    f" {m['wall'] * ms:.1f} | {m['compute'] * ms:.1f} |"
                    f" {m['reduce'] * ms:.2f} | {m['communication'] * ms:.1f} |"
                )
    lines += [
        "",
        "| workload | mode | " + " | ".join(f"P = {p}" for p in PROJECTED) + " |",
        "|---|---|" + "---|" * len(PROJECTED),
    ]
    for name, entry in results["workloads"].items():
        batch_size = WORKLOADS[name][1]
        for mode in (*distributed.MODES, "sync/allreduce"):
            cells = " | ".join(
                f"{speedup(entry, batch_size, p, mode):.2g}x" for p in PROJECTED
            )
            lines.append(f"| {name} | {mode} | {cells} |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="also write the measurements here")
    parser.add_argument("--from-json", help="project measurements saved by --json")
    arguments = parser.parse_args()
    if MISSING_DASK is not None:
        sys.exit(f'needs Dask: pip install -e ".[distributed]" ({MISSING_DASK})')
    if arguments.from_json:
        with open(arguments.from_json) as file:
            results = json.load(file)
    else:
        started = time.perf_counter()
        results = run()
        results["seconds"] = time.perf_counter() - started
    print(tables(results))
    print(f"load average before {results['loadavg_before']}, after", end=" ")
    print(f"{results['loadavg_after']}; {results['seconds']:.0f} s")
    if arguments.json and not arguments.from_json:
        with open(arguments.json, "w") as file:
            json.dump(results, file, indent=1)


if __name__ == "__main__":
    main()
