"""Mini-batch SGD on the GPU: data, parameters, velocities and buffers stay there.

Each step is ``Network.fit``'s step (see ``loopnet.cuda.kernels.update``): for a
minibatch of n_batch examples out of N, g = mean gradient over the minibatch +
(l2/N) W (biases unregularized), then W <- W - lr g, or with momentum
v <- momentum v - lr g, W <- W + v. An epoch visits the examples in the order the
caller gives, ``batch_size`` at a time; a last, smaller minibatch is used.

Two ways to run the steps compute the same equations with the same per-index
device functions:

- fused, for small networks, where launching kernels would cost more than the
  arithmetic: one kernel launch runs a run of minibatches in a single thread block,
  its phases (gather, forward, output error, hidden errors, update) separated by
  block barriers;
- per layer, for large ones: per minibatch, the tiled kernels, the update fused
  into the weight gradient (``_sgd_step``).
"""

import itertools
import math

import numpy as np

from loopnet import _validation as check
from loopnet.activations import SOFTMAX
from loopnet.cuda._backend import numba_cuda, simulator
from loopnet.cuda.kernels._tiles import elementwise, launcher
from loopnet.cuda.kernels.activations import activate, softmax_at
from loopnet.cuda.kernels.errors import (
    hidden_error_at,
    launch_hidden_error,
    launch_output_error,
    output_error_at,
)
from loopnet.cuda.kernels.forward import weighted_input_at
from loopnet.cuda.kernels.gradients import bias_gradient_at, weight_gradient_at
from loopnet.cuda.kernels.update import (
    launch_sgd_step,
    launch_sgd_step_bias,
    sgd_update,
)
from loopnet.cuda.network import DeviceNetwork

cuda = numba_cuda()

FUSED_THREADS = 32 if simulator() else 512
"""Threads of the fused kernel's single block (the simulator runs each thread as an
operating-system thread, so it gets one warp)."""

FUSED_MAX_WORK = 800_000
"""The fused kernel is chosen when batch_size * (number of weights), the
multiply-adds of one pass over a minibatch, is at most this: up to there its
single block was faster on an H100 than the per-layer steps, whose launches from
Python cost the same whatever the size (``benchmarks/NOTES.md``)."""


@cuda.jit
def _gather_rows(M, order, start, n_rows, out):
    """Write out[b, k] = M[order[start + b], k] for the minibatch's rows b < n_rows.

    Notes
    -----
    One thread per (b, k), k fastest so that reads and writes coalesce; launch
    ``elementwise(kernel, n_rows * n_columns)``.
    """
    n_columns = M.shape[1]
    index = cuda.grid(1)
    if index < n_rows * n_columns:
        b = index // n_columns
        k = index % n_columns
        out[b, k] = M[order[start + b], k]


@cuda.jit
def _train_fused(
    Ws,
    biases,
    W_velocities,
    bias_velocities,
    has_bias,
    activations,
    cost,
    X,
    Y,
    order,
    first,
    stop,
    batch_size,
    lr,
    decay,
    momentum,
    As,
    Zs,
    Ds,
    Y_batch,
):
    """Run minibatches ``first``, ..., ``stop - 1`` of an epoch in one thread block.

    Parameters
    ----------
    Ws, biases : tuple of device arrays
        Per layer, W (n_l, n_prev) and bias (n_l,), updated in place.
    W_velocities, bias_velocities : tuple of device arrays
        Their velocities, updated in place when ``momentum != 0``.
    has_bias : bool
        Whether the network has biases (otherwise ``biases`` are zeros, left alone).
    activations : device array of int64, shape (L,)
        Activation code of each layer.
    cost : int
        Cost code.
    X, Y : device array, shape (N, n_0), (N, n_L)
        The training set.
    order : device array of int64, shape (N,)
        The epoch's order of examples: minibatch i is order[i * batch_size :
        (i + 1) * batch_size].
    first, stop : int
        Minibatches to run.
    batch_size : int
        Examples per minibatch (the last may have fewer).
    lr, decay, momentum : float
        Learning rate, l2 / N and momentum, in the parameters' dtype.
    As : tuple of device arrays
        L + 1 buffers of shape (batch_size, n_l): As[0] receives the minibatch's
        inputs, As[l] its a^l.
    Zs, Ds : tuple of device arrays
        L buffers each: z^l and delta^l, layer l = 1 first.
    Y_batch : device array, shape (batch_size, n_L)
        Receives the minibatch's targets.

    Notes
    -----
    Launch one block of any size (``FUSED_THREADS``). Every phase hands out its
    outputs (b, j) or (j, k) to the threads in turn and ends at a block barrier,
    so each output has one writer and the next phase reads complete values. The
    hidden errors use the weights before the step, which the last phase takes for
    every layer at once.
    """
    thread = cuda.threadIdx.x
    n_threads = cuda.blockDim.x
    n_layers = len(Ws)
    last = n_layers - 1
    n_examples = order.shape[0]
    real = type(lr)
    for batch in range(first, stop):
        start = batch * batch_size
        n_batch = min(batch_size, n_examples - start)
        scale = real(1) / real(n_batch)
        # the minibatch's inputs and targets, gathered into contiguous rows
        X_batch = As[0]
        n_in = X.shape[1]
        for index in range(thread, n_batch * n_in, n_threads):
            b = index // n_in
            k = index % n_in
            X_batch[b, k] = X[order[start + b], k]
        n_out = Y.shape[1]
        for index in range(thread, n_batch * n_out, n_threads):
            b = index // n_out
            j = index % n_out
            Y_batch[b, j] = Y[order[start + b], j]
        cuda.syncthreads()
        # forward: z^l and a^l, layer by layer
        for layer in range(n_layers):
            W = Ws[layer]
            Z = Zs[layer]
            A = As[layer + 1]
            activation = activations[layer]
            n_l = W.shape[0]
            for index in range(thread, n_batch * n_l, n_threads):
                # b fastest: a warp's threads share a few rows of W
                j = index // n_batch
                b = index % n_batch
                z = weighted_input_at(W, biases[layer], As[layer], b, j)
                Z[b, j] = z
                if activation != SOFTMAX:
                    A[b, j] = activate(activation, z)
            cuda.syncthreads()
            if activation == SOFTMAX:
                for index in range(thread, n_batch * n_l, n_threads):
                    b = index // n_l
                    j = index % n_l
                    A[b, j] = softmax_at(Z, b, j)
                cuda.syncthreads()
        # output error
        delta = Ds[last]
        n_l = delta.shape[1]
        for index in range(thread, n_batch * n_l, n_threads):
            b = index // n_l
            j = index % n_l
            delta[b, j] = output_error_at(
                Zs[last], As[last + 1], Y_batch, activations[last], cost, b, j
            )
        cuda.syncthreads()
        # hidden errors, through the weights before this step
        for layer in range(last, 0, -1):
            delta = Ds[layer - 1]
            n_l = delta.shape[1]
            for index in range(thread, n_batch * n_l, n_threads):
                b = index // n_l
                j = index % n_l
                delta[b, j] = hidden_error_at(
                    Ds[layer], Ws[layer], Zs[layer - 1], activations[layer - 1], b, j
                )
            cuda.syncthreads()
        # the step, every layer at once
        for layer in range(n_layers):
            W = Ws[layer]
            W_velocity = W_velocities[layer]
            delta = Ds[layer]
            n_l, n_prev = W.shape
            for index in range(thread, n_l * n_prev, n_threads):
                # k fastest: W, its velocity and the rows of a^{l-1} coalesce
                j = index // n_prev
                k = index % n_prev
                g = scale * weight_gradient_at(delta, As[layer], n_batch, j, k)
                g += decay * W[j, k]
                W[j, k], W_velocity[j, k] = sgd_update(
                    W[j, k], W_velocity[j, k], g, lr, momentum
                )
            if has_bias:
                bias = biases[layer]
                bias_velocity = bias_velocities[layer]
                for j in range(thread, n_l, n_threads):
                    g = scale * bias_gradient_at(delta, n_batch, j)
                    bias[j], bias_velocity[j] = sgd_update(
                        bias[j], bias_velocity[j], g, lr, momentum
                    )
        cuda.syncthreads()


def check_order(order, n_examples, name="order"):
    """Return ``order`` as int64 if it is a permutation of range(n_examples).

    Raises
    ------
    ValueError
        Naming ``name``, for any other array: a kernel indexes the training set
        with it.
    """
    array = np.asarray(order)
    if array.dtype.kind not in "iu" or array.shape != (n_examples,):
        raise ValueError(
            f"{name} must be a permutation of range({n_examples}), an integer array of"
            f" shape ({n_examples},); got dtype {array.dtype}, shape {array.shape}"
        )
    if not np.array_equal(np.sort(array), np.arange(n_examples)):
        raise ValueError(
            f"{name} must be a permutation of range({n_examples}): each example once"
        )
    return array.astype(np.int64)


class Trainer:
    """Mini-batch SGD of a network on the GPU, with everything resident between calls.

    Parameters
    ----------
    net : Network
        The network trained; its ``params`` are the starting point, and ``pull``
        writes the trained ones back.
    X : array_like, shape (N, sizes[0])
        Training inputs, one example per row (checked as by ``Network.gradient``).
    Y : array_like, shape (N, sizes[-1])
        Training targets.
    batch_size : int
        Examples per minibatch, >= 1; the last minibatch of an epoch may be smaller.
    lr : float
        Learning rate, finite and > 0 (as ``Network.fit``).
    l2 : float
        L2 strength, >= 0: each step adds (l2 / N) W to the weights' mean gradient.
    momentum : float
        Classical momentum in [0, 1); 0 is plain SGD. Velocities start at zero
        and persist across ``run`` calls.
    fused : bool or None
        Run steps in the fused single-block kernel (True) or per layer (False);
        ``None`` chooses the fused kernel when batch_size * (number of weights)
        is at most ``FUSED_MAX_WORK``. Both give the same results up to rounding.

    Examples
    --------
    >>> import numpy as np
    >>> import loopnet as ln
    >>> from loopnet.cuda import Trainer
    >>> net = ln.Network([2, 3, 1], seed=0)
    >>> X, Y = np.random.default_rng(0).random((5, 2)), np.ones((5, 1))
    >>> trainer = Trainer(net, X, Y, batch_size=2, lr=0.5)
    >>> trainer.n_batches
    3
    >>> trainer.run(np.arange(5))  # one epoch, examples in order
    >>> trainer.pull()  # net.params now holds the trained parameters
    """

    def __init__(self, net, X, Y, batch_size, lr, l2=0.0, momentum=0.0, fused=None):
        layout, dtype = net.layout, net.dtype
        X, Y = layout.check_examples(X, Y, dtype)
        batch_size = check.check_count(batch_size, "batch_size")
        lr = check.check_real(lr, "lr", 0.0, low_open=True, dtype=dtype)
        decay = check.check_l2(l2, dtype) / X.shape[0]
        momentum = check.check_real(momentum, "momentum", 0.0, 1.0)
        self._setup(layout, net.params, X, Y, batch_size, lr, decay, momentum, fused)

    @classmethod
    def from_layout(cls, layout, params, X, Y, batch_size, lr, decay, momentum):
        """A ``Trainer`` of flat host ``params`` on checked arguments (the backend's).

        ``decay`` is l2 / N; ``pull`` writes the trained parameters into ``params``.
        """
        trainer = cls.__new__(cls)
        trainer._setup(layout, params, X, Y, batch_size, lr, decay, momentum, None)
        return trainer

    def _setup(self, layout, params, X, Y, batch_size, lr, decay, momentum, fused):
        self.n_examples = X.shape[0]
        self.batch_size = batch_size
        self._real = real = params.dtype.type
        self.lr, self.decay, self.momentum = real(lr), real(decay), real(momentum)
        if fused is None:
            sizes = [int(n) for n in layout.sizes]
            n_weights = sum(a * b for a, b in itertools.pairwise(sizes))
            fused = self.batch_size * n_weights <= FUSED_MAX_WORK
        self.fused = bool(fused)
        self.device = DeviceNetwork.from_layout(layout, params)
        self.X, self.Y = cuda.to_device(X), cuda.to_device(Y)
        self.velocity = cuda.to_device(np.zeros_like(params))
        self.W_velocities, self.bias_velocities = self.device.views(self.velocity)
        capacity = min(self.batch_size, self.n_examples)
        dtype = params.dtype
        self.X_batch = cuda.device_array((capacity, X.shape[1]), dtype=dtype)
        self.Y_batch = cuda.device_array((capacity, Y.shape[1]), dtype=dtype)
        self.Zs, As, self.Ds = self.device.buffers(capacity)
        self.As = (self.X_batch, *As)
        self._codes = cuda.to_device(np.array(self.device.codes, dtype=np.int64))

    @property
    def n_batches(self):
        """Minibatches per epoch: ceil(N / batch_size)."""
        return math.ceil(self.n_examples / self.batch_size)

    def run(self, order, first=0, stop=None):
        """Run minibatches ``first``, ..., ``stop - 1`` of the epoch visiting ``order``.

        Parameters
        ----------
        order : array_like of int, shape (N,)
            A permutation of range(N): minibatch i holds the examples
            ``order[i * batch_size : (i + 1) * batch_size]``.
        first, stop : int
            The minibatches to run, 0 <= first <= stop <= ``n_batches``; ``stop``
            defaults to the end of the epoch. Running an epoch in pieces gives the
            same result as running it at once.
        """
        order = cuda.to_device(check_order(order, self.n_examples))
        stop = self.n_batches if stop is None else stop
        for value, name in ((first, "first"), (stop, "stop")):
            check.check_count(value, name, minimum=0)
        if not first <= stop <= self.n_batches:
            raise ValueError(
                f"first and stop must satisfy 0 <= first <= stop <= {self.n_batches}"
                f" (minibatches per epoch); got first={first}, stop={stop}"
            )
        if self.fused:
            device = self.device
            launcher(_train_fused, 1, FUSED_THREADS)(
                device.weights,
                device.biases,
                self.W_velocities,
                self.bias_velocities,
                device.layout.bias,
                self._codes,
                device.cost,
                self.X,
                self.Y,
                order,
                first,
                stop,
                self.batch_size,
                self.lr,
                self.decay,
                self.momentum,
                self.As,
                self.Zs,
                self.Ds,
                self.Y_batch,
            )
        else:
            for batch in range(first, stop):
                self._step(order, batch)

    def _step(self, order, batch):
        """Launch one minibatch's step layer by layer."""
        device, As, Zs, Ds = self.device, self.As, self.Zs, self.Ds
        start = batch * self.batch_size
        n_batch = min(self.batch_size, self.n_examples - start)
        scale = self._real(1) / self._real(n_batch)
        for M, out in ((self.X, self.X_batch), (self.Y, self.Y_batch)):
            elementwise(_gather_rows, n_batch * M.shape[1])(
                M, order, start, n_batch, out
            )
        device.forward(self.X_batch, n_batch, Zs, As[1:])
        last = device.n_layers - 1
        launch_output_error(
            Zs[last],
            As[last + 1],
            self.Y_batch,
            device.codes[last],
            device.cost,
            n_batch,
            Ds[last],
        )
        for layer in range(last, -1, -1):
            if layer > 0:  # through W^l before its step
                launch_hidden_error(
                    Ds[layer],
                    device.weights[layer],
                    Zs[layer - 1],
                    device.codes[layer - 1],
                    n_batch,
                    Ds[layer - 1],
                )
            launch_sgd_step(
                device.weights[layer],
                self.W_velocities[layer],
                Ds[layer],
                As[layer],
                n_batch,
                scale,
                self.decay,
                self.lr,
                self.momentum,
            )
            if device.layout.bias:
                launch_sgd_step_bias(
                    device.biases[layer],
                    self.bias_velocities[layer],
                    Ds[layer],
                    n_batch,
                    scale,
                    self.lr,
                    self.momentum,
                )

    def snapshot(self):
        """Copies, on the device, of the parameters and the velocity.

        Returns
        -------
        tuple of device arrays
            ``(params, velocity)``, for ``restore``.
        """
        copies = []
        for array in (self.device.params, self.velocity):
            copy = cuda.device_array_like(array)
            copy.copy_to_device(array)
            copies.append(copy)
        return tuple(copies)

    def restore(self, snapshot):
        """Put back the parameters and velocity of ``snapshot`` on the device.

        ``pull`` then brings the restored parameters to the host.
        """
        params, velocity = snapshot
        self.device.params.copy_to_device(params)
        self.velocity.copy_to_device(velocity)

    def pull(self):
        """Copy the trained parameters into ``net.params``."""
        self.device.pull()


def train(net, X, Y, permutations, batch_size, lr, l2, momentum):
    """Run ``loopnet.cuda.train``: every epoch's order is checked before any step."""
    trainer = Trainer(net, X, Y, batch_size, lr, l2, momentum)
    permutations = np.asarray(permutations)
    if permutations.ndim != 2:
        raise ValueError(
            "permutations must be 2-D, one permutation of range(N) per epoch; got"
            f" shape {permutations.shape}"
        )
    orders = [
        check_order(order, trainer.n_examples, f"permutations[{epoch}]")
        for epoch, order in enumerate(permutations)
    ]
    for order in orders:
        trainer.run(order)
    trainer.pull()
