"""loopnet and its honest peers, one class per way to train or differentiate.

Every contender works on the benchmarks' networks (sigmoid layers, quadratic
cost 1/2 ||a - y||^2 averaged over the batch) and is built once per workload,
compiling or warming up outside any timing:

- epochs of mini-batch SGD (``EPOCHS``): ``fit`` (``Network.fit``), ``numpy``
  (the loop a user would write: forward with ``@``, the deltas, ``delta.T @ a``,
  an in-place update), ``jax`` (``jit`` of a ``lax.scan`` over the epoch, each
  mini-batch gathered inside the scan, ``jax.grad`` of the cost), ``torch``
  (PyTorch eager, ``nn.Linear`` + sigmoid, ``optim.SGD``);
- gradients of one batch (``GRADIENTS``): ``loop`` and ``matrix``
  (``Network.gradient(method=...)``), ``numpy`` (the same backward pass as the
  NumPy epoch), ``jax`` (``jit(grad)``), ``torch`` (autograd).

JAX and PyTorch are optional (``pip install -e ".[bench]" jax torch``): their
constructors raise ImportError, which the scripts report and asv turns into a
skipped benchmark; for the benchmarks, PyTorch's CPU wheel
(``pip install torch --index-url https://download.pytorch.org/whl/cpu``) spares
the CUDA build. Every contender runs on as many threads as the others (one
unless asked): the scripts and asv set the pools before NumPy, JAX or PyTorch
starts them (``benchmarks/fit_epoch.py``, ``common.set_threads``).
"""

import time

import numba
import numpy as np

import loopnet as ln

# asv imports every module of benchmarks/ and runs any function named time_*,
# track_*, peakmem_*, mem_* or timeraw_* as a benchmark: none of these is one.


def threads():
    """Threads of every contender: Numba's count, which the scripts and asv set.

    ``fit_epoch``'s ``--threads`` and ``common.set_threads`` size Numba's and
    OpenBLAS's pools and the CPUs XLA may use alike; PyTorch takes this count.
    """
    return numba.get_num_threads()


def flat(weights, biases):
    """Parameters in loopnet's flat layout: each layer's W (row-major), then bias."""
    return np.concatenate(
        [part for W, b in zip(weights, biases, strict=True) for part in (W.ravel(), b)]
    )


def initial_parameters(sizes, dtype, seed=0):
    """The network every contender starts from: (weights, biases), layer by layer."""
    net = ln.Network(sizes, dtype=dtype, seed=seed)
    return [W.copy() for W in net.weights], [b.copy() for b in net.biases]


# --- the tight NumPy loop -----------------------------------------------------


def numpy_backward(weights, biases, X, Y):
    """(dWs, dbiases) of the mean quadratic cost, sigmoid layers, as NumPy code."""
    activations = [X]
    for W, bias in zip(weights, biases, strict=True):
        activations.append(1 / (1 + np.exp(-(activations[-1] @ W.T + bias))))
    a = activations[-1]
    delta = (a - Y) * a * (1 - a)
    scale = X.dtype.type(1 / X.shape[0])
    dWs, dbiases = [None] * len(weights), [None] * len(weights)
    for layer in range(len(weights) - 1, -1, -1):
        a_prev = activations[layer]
        dWs[layer] = scale * (delta.T @ a_prev)
        dbiases[layer] = scale * delta.sum(axis=0)
        delta = (delta @ weights[layer]) * a_prev * (1 - a_prev)
    return dWs, dbiases


def numpy_epoch(weights, biases, X, Y, order, lr, batch_size):
    """One epoch of mini-batch SGD as a user writes it in NumPy, in place."""
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


# --- epochs -------------------------------------------------------------------


class FitEpoch:
    """``Network.fit`` over the epoch, compiled (or loaded from cache) once."""

    name = "fit"

    def __init__(self, sizes, batch_size, lr, X, Y):
        self.batch_size, self.lr, self.X, self.Y = batch_size, lr, X, Y
        self.net = ln.Network(sizes, dtype=X.dtype, seed=0)
        self.net.fit(
            X[:batch_size], Y[:batch_size], batch_size=batch_size, lr=lr, progress=False
        )

    def epoch(self, weights, biases, seed):
        """Train from (weights, biases) on ``fit``'s shuffle of ``seed``.

        Returns (seconds, trained flat parameters).
        """
        for W, bias, W0, bias0 in zip(
            self.net.weights, self.net.biases, weights, biases, strict=True
        ):
            W[...], bias[...] = W0, bias0
        started = time.perf_counter()
        self.net.fit(
            self.X,
            self.Y,
            batch_size=self.batch_size,
            lr=self.lr,
            seed=seed,
            progress=False,
        )
        return time.perf_counter() - started, self.net.params.copy()


def fit_order(n_examples, seed):
    """The order ``fit(seed=seed)`` visits the examples in its first epoch."""
    return np.random.default_rng(seed).permutation(n_examples)


class NumPyEpoch:
    """The tight NumPy loop of ``numpy_epoch``."""

    name = "numpy"

    def __init__(self, sizes, batch_size, lr, X, Y):
        self.batch_size, self.lr, self.X, self.Y = batch_size, lr, X, Y

    def epoch(self, weights, biases, seed):
        weights = [W.copy() for W in weights]
        biases = [b.copy() for b in biases]
        order = fit_order(self.X.shape[0], seed)
        started = time.perf_counter()
        numpy_epoch(weights, biases, self.X, self.Y, order, self.lr, self.batch_size)
        return time.perf_counter() - started, flat(weights, biases)


def _jax(dtype):
    """``jax`` and ``jax.numpy``, 64-bit floats on for float64."""
    import jax

    jax.config.update("jax_enable_x64", np.dtype(dtype) == np.float64)
    import jax.numpy as jnp

    return jax, jnp


def _jax_cost(jax, jnp):
    def cost(params, x, y):
        a = x
        for W, bias in params:
            a = jax.nn.sigmoid(a @ W.T + bias)
        return 0.5 * jnp.sum((a - y) ** 2) / x.shape[0]

    return cost


class JAXEpoch:
    """``jax.jit`` of ``lax.scan`` over the epoch's mini-batches, gathered inside."""

    name = "jax"

    def __init__(self, sizes, batch_size, lr, X, Y):
        self.jax, self.jnp = _jax(X.dtype)
        self.X, self.Y = self.jnp.asarray(X), self.jnp.asarray(Y)
        self.batch_size, self.lr = batch_size, lr
        self.run = self.jax.jit(self._epoch)
        weights, biases = initial_parameters(sizes, X.dtype)
        self._call(weights, biases, np.arange(X.shape[0]))  # compile, untimed

    def _epoch(self, params, X, Y, order):
        jax, jnp = self.jax, self.jnp
        batch_size, lr = self.batch_size, self.lr
        cost = _jax_cost(jax, jnp)

        def update(params, rows):
            grads = jax.grad(cost)(params, X[rows], Y[rows])
            return jax.tree_util.tree_map(lambda p, g: p - lr * g, params, grads)

        def step(params, i):
            rows = jax.lax.dynamic_slice(order, (i * batch_size,), (batch_size,))
            return update(params, rows), None

        n_full = X.shape[0] // batch_size
        params, _ = jax.lax.scan(step, params, jnp.arange(n_full))
        if X.shape[0] % batch_size:  # the short last mini-batch, as fit trains it
            params = update(params, order[n_full * batch_size :])
        return params

    def _call(self, weights, biases, order):
        jnp = self.jnp
        params = [
            (jnp.asarray(W), jnp.asarray(b))
            for W, b in zip(weights, biases, strict=True)
        ]
        result = self.run(params, self.X, self.Y, jnp.asarray(order))
        return self.jax.block_until_ready(result)

    def epoch(self, weights, biases, seed):
        order = fit_order(self.X.shape[0], seed)
        started = time.perf_counter()
        params = self._call(weights, biases, order)
        seconds = time.perf_counter() - started
        return seconds, flat(
            [np.asarray(W) for W, _ in params], [np.asarray(b) for _, b in params]
        )


def _torch_model(torch, weights, biases, dtype):
    layers = []
    for W, bias in zip(weights, biases, strict=True):
        linear = torch.nn.Linear(W.shape[1], W.shape[0]).to(dtype)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(W))
            linear.bias.copy_(torch.from_numpy(bias))
        layers += [linear, torch.nn.Sigmoid()]
    return torch.nn.Sequential(*layers)


def _torch_parameters(model):
    import torch

    linears = [layer for layer in model if isinstance(layer, torch.nn.Linear)]
    return [layer.weight for layer in linears], [layer.bias for layer in linears]


def _torch_cost(output, target):
    """Mean over the batch of 1/2 ||a - y||^2, as loopnet's quadratic cost."""
    return 0.5 * ((output - target) ** 2).sum() / output.shape[0]


class TorchEpoch:
    """PyTorch eager on the CPU: ``nn.Linear`` + sigmoid, ``optim.SGD``."""

    name = "torch"

    def __init__(self, sizes, batch_size, lr, X, Y):
        import torch

        torch.set_num_threads(threads())
        self.torch = torch
        self.batch_size, self.lr = batch_size, lr
        self.X, self.Y = torch.from_numpy(X), torch.from_numpy(Y)
        # PyTorch's first forward and backward pass starts its kernels and the
        # autograd engine: one mini-batch here, untimed, as fit and JAX compile
        self._train(
            *initial_parameters(sizes, X.dtype), np.arange(min(batch_size, X.shape[0]))
        )

    def _train(self, weights, biases, order):
        """(seconds, trained model) of SGD from (weights, biases) through ``order``."""
        torch = self.torch
        model = _torch_model(torch, weights, biases, self.X.dtype)
        optimizer = torch.optim.SGD(model.parameters(), lr=self.lr)
        order = torch.from_numpy(order)
        started = time.perf_counter()
        for start in range(0, order.shape[0], self.batch_size):
            rows = order[start : start + self.batch_size]
            optimizer.zero_grad()
            _torch_cost(model(self.X[rows]), self.Y[rows]).backward()
            optimizer.step()
        return time.perf_counter() - started, model

    def epoch(self, weights, biases, seed):
        order = fit_order(self.X.shape[0], seed)
        seconds, model = self._train(weights, biases, order)
        weights, biases = _torch_parameters(model)
        return seconds, flat(
            [W.detach().numpy() for W in weights], [b.detach().numpy() for b in biases]
        )


EPOCHS = {c.name: c for c in (FitEpoch, NumPyEpoch, JAXEpoch, TorchEpoch)}


# --- gradients ------------------------------------------------------------------


class NetworkGradient:
    """``Network.gradient(X, Y, method=...)``: the public call, checks included."""

    def __init__(self, method, sizes, X, Y):
        self.method = method
        self.net = ln.Network(sizes, dtype=X.dtype, seed=0)
        self.X, self.Y = X, Y
        self()  # compile (or load the cache), untimed

    def __call__(self):
        return self.net.gradient(self.X, self.Y, method=self.method).flat


class NumPyGradient:
    """The backward pass of the NumPy epoch (``numpy_backward``), flattened."""

    def __init__(self, sizes, X, Y):
        self.weights, self.biases = initial_parameters(sizes, X.dtype)
        self.X, self.Y = X, Y

    def __call__(self):
        return flat(*numpy_backward(self.weights, self.biases, self.X, self.Y))


class JAXGradient:
    """``jax.jit(jax.grad(cost))`` of the batch."""

    def __init__(self, sizes, X, Y):
        jax, jnp = _jax(X.dtype)
        weights, biases = initial_parameters(sizes, X.dtype)
        self.params = [
            (jnp.asarray(W), jnp.asarray(b))
            for W, b in zip(weights, biases, strict=True)
        ]
        self.X, self.Y = jnp.asarray(X), jnp.asarray(Y)
        self.jax = jax
        self.grad = jax.jit(jax.grad(_jax_cost(jax, jnp)))
        self()  # compile, untimed

    def __call__(self):
        grads = self.jax.block_until_ready(self.grad(self.params, self.X, self.Y))
        return flat(
            [np.asarray(W) for W, _ in grads], [np.asarray(b) for _, b in grads]
        )


class TorchGradient:
    """PyTorch autograd of the batch: forward, ``backward()``, the ``.grad``s."""

    def __init__(self, sizes, X, Y):
        import torch

        torch.set_num_threads(threads())
        weights, biases = initial_parameters(sizes, X.dtype)
        self.torch = torch
        self.model = _torch_model(torch, weights, biases, torch.from_numpy(X).dtype)
        self.X, self.Y = torch.from_numpy(X), torch.from_numpy(Y)

    def __call__(self):
        self.model.zero_grad()
        _torch_cost(self.model(self.X), self.Y).backward()
        weights, biases = _torch_parameters(self.model)
        return flat([W.grad.numpy() for W in weights], [b.grad.numpy() for b in biases])


def gradient(form, sizes, X, Y):
    """The gradient contender called ``form``, built and warmed up."""
    if form in ("loop", "matrix"):
        return NetworkGradient(form, sizes, X, Y)
    return {"numpy": NumPyGradient, "jax": JAXGradient, "torch": TorchGradient}[form](
        sizes, X, Y
    )


GRADIENTS = ("loop", "matrix", "numpy", "jax", "torch")
