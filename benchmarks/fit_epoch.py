"""One training epoch of the seeds' MNIST setup: ``fit`` against its honest peers.

The setup: sizes [784, 30, 10], sigmoid layers, quadratic cost, mini-batches of
10, learning rate 3.0, one epoch over synthetic examples of width 784 (uniform
pixels, random one-hot targets), every contender from the same initial
parameters through the same shuffle. The contenders:

- ``fit``: ``Network.fit``, the whole epoch inside compiled loops;
- ``numpy``: the loop a user would write: per mini-batch, the forward pass with
  ``@``, the deltas, ``delta.T @ a`` and an in-place update (``numpy_epoch``);
- ``jax`` (when installed): ``jit(lax.scan)`` over the epoch's mini-batches, each
  gathered inside the scan, ``jax.grad`` of the same cost;
- ``torch`` (when installed): PyTorch eager, ``nn.Linear`` + sigmoid, the same
  cost, ``optim.SGD``.

Every contender runs on one thread (OpenBLAS, Numba, XLA, PyTorch), with
OpenBLAS at its own kernel (``benchmarks/__init__.py``). Contenders are
interleaved round by round; each figure is the median over ``--rounds`` epochs,
with its GFLOP/s (4.79 GFLOP of products per 50,000-example epoch) and the
fraction of this machine's single-thread BLAS rate (a 1024 x 1024 product), and
the last column the largest difference of its trained parameters from ``fit``'s.

    python -m benchmarks.fit_epoch [--examples 50000] [--rounds 5]
        [--contenders fit,numpy,jax,torch] [--dtypes float64,float32]
"""

import os

# One thread for every contender, set before NumPy, JAX or PyTorch starts a pool.
for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_name, "1")
os.environ.setdefault(
    "XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
)

import argparse
import itertools
import statistics
import time

import numpy as np

import loopnet as ln
from benchmarks import machine

SIZES, BATCH, LR = (784, 30, 10), 10, 3.0

# asv imports every module of benchmarks/ and runs any function named time_*,
# track_*, peakmem_*, mem_* or timeraw_* as a benchmark: none of these is one.


def epoch_flops(sizes, n_examples):
    """Flops of one epoch's products: forward, hidden errors and weight gradients.

    A multiply-add counts as two; per example, z = W a for every layer,
    delta W for every layer but the first, and delta^T a for every layer.
    """
    products = [n_l * n_prev for n_prev, n_l in itertools.pairwise(sizes)]
    return 2 * n_examples * (2 * sum(products) + sum(products[1:]))


def data(n_examples, dtype):
    """Synthetic inputs in [0, 1) and one-hot targets, seeded."""
    rng = np.random.default_rng(0)
    X = rng.random((n_examples, SIZES[0])).astype(dtype)
    Y = ln.datasets.one_hot(rng.integers(0, SIZES[-1], n_examples), dtype=dtype)
    return X, Y


def initial_parameters(dtype):
    """The network every contender starts from: weights and biases, layer by layer."""
    net = ln.Network(SIZES, dtype=dtype, seed=0)
    return [W.copy() for W in net.weights], [b.copy() for b in net.biases]


# --- the contenders: each trains one epoch from (weights, biases) in ``order`` ----


class Fit:
    """``Network.fit``: compiled once outside the timing."""

    name = "fit"

    def __init__(self, X, Y):
        self.X, self.Y = X, Y
        self.net = ln.Network(SIZES, dtype=X.dtype, seed=0)
        self.net.fit(X[:BATCH], Y[:BATCH], batch_size=BATCH, lr=LR, progress=False)

    def epoch(self, weights, biases, order, seed):
        """Train; return (seconds, trained flat parameters)."""
        for W, bias, W0, bias0 in zip(
            self.net.weights, self.net.biases, weights, biases, strict=True
        ):
            W[...], bias[...] = W0, bias0
        started = time.perf_counter()
        self.net.fit(
            self.X, self.Y, batch_size=BATCH, lr=LR, seed=seed, progress=False
        )
        return time.perf_counter() - started, self.net.params.copy()


def numpy_epoch(weights, biases, X, Y, order, lr, batch_size):
    """One epoch of mini-batch SGD as a user writes it in NumPy, in place.

    Sigmoid layers, cost 1/2 ||a - y||^2 averaged over each mini-batch.
    """
    for start in range(0, X.shape[0], batch_size):
        rows = order[start : start + batch_size]
        activations = [X[rows]]
        for W, bias in zip(weights, biases, strict=True):
            activations.append(1 / (1 + np.exp(-(activations[-1] @ W.T + bias))))
        a = activations[-1]
        delta = (a - Y[rows]) * a * (1 - a)
        step = X.dtype.type(lr / rows.shape[0])
        for layer in range(len(weights) - 1, -1, -1):
            a_prev = activations[layer]
            delta_prev = (delta @ weights[layer]) * a_prev * (1 - a_prev)
            weights[layer] -= step * (delta.T @ a_prev)
            biases[layer] -= step * delta.sum(axis=0)
            delta = delta_prev


class NumPy:
    """The tight NumPy loop of ``numpy_epoch``."""

    name = "numpy"

    def __init__(self, X, Y):
        self.X, self.Y = X, Y

    def epoch(self, weights, biases, order, seed):
        weights = [W.copy() for W in weights]
        biases = [b.copy() for b in biases]
        started = time.perf_counter()
        numpy_epoch(weights, biases, self.X, self.Y, order, LR, BATCH)
        seconds = time.perf_counter() - started
        return seconds, _flat(weights, biases)


class JAX:
    """``jax.jit`` of ``lax.scan`` over the epoch's mini-batches, gathered inside."""

    name = "jax"

    def __init__(self, X, Y):
        import jax

        jax.config.update("jax_enable_x64", X.dtype == np.float64)
        import jax.numpy as jnp

        self.jax, self.jnp = jax, jnp
        self.X, self.Y = jnp.asarray(X), jnp.asarray(Y)
        self.run = jax.jit(self._epoch)
        weights, biases = initial_parameters(X.dtype)
        order = np.arange(X.shape[0])
        self._call(weights, biases, order)  # compile outside the timing

    def _epoch(self, params, X, Y, order):
        jax, jnp = self.jax, self.jnp
        n_batches = X.shape[0] // BATCH

        def cost(params, x, y):
            a = x
            for W, bias in params:
                a = jax.nn.sigmoid(a @ W.T + bias)
            return 0.5 * jnp.sum((a - y) ** 2) / x.shape[0]

        def step(params, i):
            rows = jax.lax.dynamic_slice(order, (i * BATCH,), (BATCH,))
            grads = jax.grad(cost)(params, X[rows], Y[rows])
            new = jax.tree_util.tree_map(lambda p, g: p - LR * g, params, grads)
            return new, None

        params, _ = jax.lax.scan(step, params, jnp.arange(n_batches))
        return params

    def _call(self, weights, biases, order):
        params = [
            (self.jnp.asarray(W), self.jnp.asarray(b))
            for W, b in zip(weights, biases, strict=True)
        ]
        result = self.run(params, self.X, self.Y, self.jnp.asarray(order))
        return self.jax.block_until_ready(result)

    def epoch(self, weights, biases, order, seed):
        started = time.perf_counter()
        params = self._call(weights, biases, order)
        seconds = time.perf_counter() - started
        return seconds, _flat(
            [np.asarray(W) for W, _ in params], [np.asarray(b) for _, b in params]
        )


class Torch:
    """PyTorch eager on the CPU: ``nn.Linear`` + sigmoid, ``optim.SGD``."""

    name = "torch"

    def __init__(self, X, Y):
        import torch

        torch.set_num_threads(1)
        self.torch = torch
        self.X, self.Y = torch.from_numpy(X), torch.from_numpy(Y)

    def epoch(self, weights, biases, order, seed):
        torch = self.torch
        layers = []
        for W, bias in zip(weights, biases, strict=True):
            linear = torch.nn.Linear(W.shape[1], W.shape[0]).to(self.X.dtype)
            with torch.no_grad():
                linear.weight.copy_(torch.from_numpy(W))
                linear.bias.copy_(torch.from_numpy(bias))
            layers += [linear, torch.nn.Sigmoid()]
        model = torch.nn.Sequential(*layers)
        optimizer = torch.optim.SGD(model.parameters(), lr=LR)
        order = torch.from_numpy(order)
        started = time.perf_counter()
        for start in range(0, self.X.shape[0], BATCH):
            rows = order[start : start + BATCH]
            optimizer.zero_grad()
            output = model(self.X[rows])
            # mean over the batch of 1/2 ||a - y||^2, as loopnet's quadratic cost
            loss = 0.5 * ((output - self.Y[rows]) ** 2).sum() / rows.shape[0]
            loss.backward()
            optimizer.step()
        seconds = time.perf_counter() - started
        linears = [layer for layer in model if isinstance(layer, torch.nn.Linear)]
        return seconds, _flat(
            [layer.weight.detach().numpy() for layer in linears],
            [layer.bias.detach().numpy() for layer in linears],
        )


def _flat(weights, biases):
    """Parameters in loopnet's flat layout: each layer's W (row-major), then bias."""
    return np.concatenate(
        [part for W, b in zip(weights, biases, strict=True) for part in (W.ravel(), b)]
    )


CONTENDERS = {c.name: c for c in (Fit, NumPy, JAX, Torch)}


def available(names, X, Y):
    """The contenders asked for that can run here (JAX and PyTorch are optional)."""
    ready = []
    for name in names:
        try:
            ready.append(CONTENDERS[name](X, Y))
        except ImportError as error:
            print(f"  {name}: skipped ({error})")
    return ready


def measure(dtype, n_examples, rounds, names):
    """Median epoch seconds and trained parameters of each contender, interleaved."""
    X, Y = data(n_examples, dtype)
    contenders = available(names, X, Y)
    weights, biases = initial_parameters(dtype)
    seconds = {c.name: [] for c in contenders}
    trained = {}
    for round_ in range(rounds):
        order = np.random.default_rng(round_).permutation(n_examples)  # fit's draw
        # rotate who goes first, so no contender always runs after the same one
        shift = round_ % len(contenders)
        for contender in contenders[shift:] + contenders[:shift]:
            elapsed, params = contender.epoch(weights, biases, order, round_)
            seconds[contender.name].append(elapsed)
            trained[contender.name] = params
    medians = {name: statistics.median(times) for name, times in seconds.items()}
    return medians, seconds, trained


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=50_000, help="default 50000")
    parser.add_argument("--rounds", type=int, default=5, help="epochs per contender")
    parser.add_argument("--contenders", default="fit,numpy,jax,torch")
    parser.add_argument("--dtypes", default="float64,float32")
    args = parser.parse_args()
    names = args.contenders.split(",")
    print("\n".join(machine.describe()))
    flops = epoch_flops(SIZES, args.examples)
    print(
        f"[784, 30, 10] sigmoid, quadratic cost, batch {BATCH}, lr {LR}: one epoch"
        f" over {args.examples} examples ({flops / 1e9:.2f} GFLOP of products);"
        f" medians of {args.rounds} interleaved rounds, one thread each"
    )
    for dtype in args.dtypes.split(","):
        peak = machine.blas_rate(dtype)
        print(f"\n{dtype}: BLAS 1024 x 1024 product {peak:.1f} GFLOP/s")
        medians, _, trained = measure(dtype, args.examples, args.rounds, names)
        print(
            f"  {'contender':10s} {'median':>9s} {'GFLOP/s':>8s} {'of BLAS':>8s}"
            f" {'fit/it':>7s} {'max |p - p_fit|':>16s}"
        )
        for name, median in medians.items():
            rate = flops / median / 1e9
            ratio = medians["fit"] / median if "fit" in medians else float("nan")
            diff = (
                np.max(np.abs(trained[name] - trained["fit"]))
                if "fit" in trained
                else float("nan")
            )
            print(
                f"  {name:10s} {median * 1e3:7.1f} ms {rate:8.1f} {rate / peak:8.2f}"
                f" {ratio:7.2f} {diff:16.2e}"
            )


if __name__ == "__main__":
    main()
