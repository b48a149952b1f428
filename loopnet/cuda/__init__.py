"""The loop kernels on an NVIDIA GPU, compiled with numba-cuda.

The same equations, names and index convention as ``loopnet.kernels``, written as
CUDA kernels: one thread per (b, j) for z, a and delta, one per (j, k) for dW, with
shared-memory tiling of the sums. Install with the ``cuda`` extra
(``pip install -e ".[cuda]"``).

Importing this module needs neither numba-cuda nor a GPU; the functions that use
the GPU raise ImportError (numba-cuda missing, with the install command) or
RuntimeError (no usable GPU). Setting ``NUMBA_ENABLE_CUDASIM=1`` before Numba is
imported runs everything on Numba's CUDA simulator instead, slowly: the tests do.

- ``gradient(net, X, Y, reduction, l2)``: ``Network.gradient(..., method="cuda")``;
- ``train(net, X, Y, permutations, batch_size, lr, l2, momentum)``: mini-batch SGD,
  everything resident on the GPU;
- ``Trainer``, ``DeviceNetwork``: the resident pieces, for callers that keep data and
  parameters on the GPU between calls;
- ``kernels``: the CUDA kernels, one by one, each with a host-array wrapper named
  like its CPU twin;
- ``is_available()``: whether all of this can run here.
"""

import importlib

from loopnet.cuda._backend import is_available

_LAZY = {
    "DeviceNetwork": "loopnet.cuda.network",
    "Trainer": "loopnet.cuda.training",
}


def __getattr__(name):
    """Import the GPU parts on first use, so that importing this module never fails."""
    if name == "kernels":
        return importlib.import_module("loopnet.cuda.kernels")
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'loopnet.cuda' has no attribute {name!r}")


def gradient(net, X, Y, reduction="mean", l2=0.0):
    """Gradient of ``net.cost(X, Y, reduction, l2)``, computed on the GPU.

    ``Network.gradient(X, Y, reduction, l2, method="cuda")``: arguments, checks
    and result as ``Network.gradient``. The parameters and the data are copied to
    the GPU, the gradient back; ``DeviceNetwork.gradient`` keeps both on the GPU.

    Parameters
    ----------
    net : Network
        The network.
    X : array_like, shape (n_examples, sizes[0])
        Inputs, one example per row.
    Y : array_like, shape (n_examples, sizes[-1])
        Targets.
    reduction : {"mean", "sum"}
        Gradient of the mean or of the summed cost.
    l2 : float
        L2 strength, >= 0.

    Returns
    -------
    Gradient
        ``.flat`` in the layout of ``params``; ``.weights`` and ``.biases``
        views of it, in the network's dtype.

    Raises
    ------
    ImportError
        When numba-cuda is not installed.
    RuntimeError
        When no GPU can be used.
    """
    return net.gradient(X, Y, reduction, l2, method="cuda")


def train(net, X, Y, permutations, batch_size=10, lr=0.1, l2=0.0, momentum=0.0):
    r"""Train ``net`` by mini-batch SGD on the GPU, one epoch per permutation.

    The contract of ``Network.fit``'s step: epoch e visits the examples
    in the order ``permutations[e]``, ``batch_size`` at a time, the last minibatch
    smaller when ``batch_size`` does not divide N. For a minibatch B of n_B
    examples, with N = ``len(X)``,

    .. math::

        g = \frac{1}{n_B} \sum_{b \in B} \nabla C_b + \frac{l_2}{N} W, \qquad
        v \leftarrow \mu v - \eta g, \quad p \leftarrow p + v

    for every weight (biases take no L2 term), with v = 0 before the first step;
    without momentum (mu = 0) the step is p <- p - eta g. ``net.params`` is
    overwritten with the result once, at the end; if an argument is invalid,
    nothing is changed.

    Parameters
    ----------
    net : Network
        The network, trained in place.
    X : array_like, shape (N, sizes[0])
        Training inputs (checked as by ``Network.gradient``).
    Y : array_like, shape (N, sizes[-1])
        Training targets.
    permutations : array_like of int, shape (epochs, N)
        Each row a permutation of range(N), drawn by the caller (``fit`` draws
        them from its seeded generator, so that the CPU and the GPU visit the
        examples in the same order).
    batch_size : int
        Examples per minibatch, >= 1.
    lr : float
        Learning rate eta, finite and > 0.
    l2 : float
        L2 strength, >= 0.
    momentum : float
        Classical momentum mu, in [0, 1).

    Raises
    ------
    ImportError, RuntimeError
        As ``gradient``.

    See Also
    --------
    Trainer : the same, run in pieces (for progress reports or per-epoch history).

    Examples
    --------
    >>> import numpy as np
    >>> import loopnet as ln
    >>> import loopnet.cuda
    >>> net = ln.Network([2, 3, 1], seed=0)
    >>> X, Y = np.random.default_rng(0).random((5, 2)), np.ones((5, 1))
    >>> before = net.cost(X, Y)
    >>> rng = np.random.default_rng(1)
    >>> orders = [rng.permutation(5) for epoch in range(3)]
    >>> loopnet.cuda.train(net, X, Y, orders, batch_size=2, lr=1.0)
    >>> bool(net.cost(X, Y) < before)
    True
    """
    from loopnet.cuda import training

    training.train(net, X, Y, permutations, batch_size, lr, l2, momentum)


__all__ = ["DeviceNetwork", "Trainer", "gradient", "is_available", "kernels", "train"]
