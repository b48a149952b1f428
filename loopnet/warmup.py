"""Compile every kernel ahead of time, for both dtypes: ``loopnet warmup``.

The first call of a kernel in a fresh install compiles it (seconds per kernel;
``benchmarks/README.md`` times a first run of each entry point); Numba caches the
machine code, and later processes load it instead. ``warmup()`` makes that first
run happen now, when an image is built, not when a user or a server first asks:
the network drivers (gradient, forward, ``layer_values``, fit) through a small
``Network``, and each public kernel of ``loopnet.kernels`` on small arrays, in
float32 and float64. Tiny sizes compile the same code as large ones: Numba
compiles by argument types. The drivers' parallel forms, which a large batch on
several threads runs, are a second compiled form of each driver
(``backends.loop.compile_parallel``): warmed where Numba has more than one
thread, or when asked.

Each entry says what its calls did, as Numba's events show it: ``compiled``
(something compiled), ``cached`` (loaded from Numba's cache, nothing compiled)
or ``in memory`` (nothing to load: an entry before it loaded or compiled all it
runs, as a public kernel shares its compiled body with the drivers).

The public kernels are called with arguments made from their parameters' names,
which follow the project's index convention (``W``, ``A_prev``, ``delta``, ...;
``ARGUMENTS``); a kernel with a parameter outside it is reported, not warmed.
"""

import inspect
import time
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial

import numba
import numpy as np
from numba.core import event

from loopnet import kernels
from loopnet.backends import loop
from loopnet.compare import layer_values
from loopnet.network import Network

DTYPES = ("float32", "float64")

N_BATCH, N_L, N_PREV, N_NEXT = 3, 4, 5, 2
"""The sizes of the arrays the public kernels are warmed on."""

ARGUMENTS = {
    "W": (N_L, N_PREV),
    "dW": (N_L, N_PREV),
    "velocity": (N_L, N_PREV),
    "bias": (N_L,),
    "A_prev": (N_BATCH, N_PREV),
    "Z": (N_BATCH, N_L),
    "A": (N_BATCH, N_L),
    "Y": (N_BATCH, N_L),
    "delta": (N_BATCH, N_L),
    "delta_next": (N_BATCH, N_NEXT),
    "W_next": (N_NEXT, N_L),
    "a_prev": (N_PREV,),
    "z": (N_L,),
    "a": (N_L,),
    "y": (N_L,),
    "lr": (),
}
"""Shape of the argument each parameter name stands for; ``()`` is a scalar.

In a ``*_example`` kernel (one example) the batched names lose their first axis.
Parameters with defaults that are not listed keep their defaults.
"""

_BATCHED = ("A_prev", "Z", "A", "Y", "delta", "delta_next")


@dataclass(frozen=True)
class Warmed:
    """One compiled entry of a ``warmup``.

    Attributes
    ----------
    name : str
        ``"Network.fit"``, ``"kernels.forward_layer"``, ...
    dtype : str
        ``"float32"`` or ``"float64"``.
    state : str
        ``"compiled"`` when its calls compiled code, ``"cached"`` when they
        loaded it from Numba's cache and compiled nothing, ``"in memory"`` when
        they did neither (``STATES``).
    seconds : float
        Wall time of its calls.
    """

    name: str
    dtype: str
    state: str
    seconds: float


STATES = ("compiled", "cached", "in memory")
"""What a warmed entry's calls did, from most work to least (``Warmed.state``)."""


@contextmanager
def _watched():
    """Record Numba's compiles and its compiler lock while the block runs.

    Yields a dict whose ``"state"`` is set, when the block ends, to one of
    ``STATES``: a dispatcher compiles inside the ``"numba:compile"`` event;
    one loads from the cache holding the compiler lock but without it; a call
    whose compiled code is loaded already takes neither.
    """
    seen = {}
    with (
        event.install_recorder("numba:compile") as compiles,
        event.install_recorder("numba:compiler_lock") as locks,
    ):
        yield seen
    if compiles.buffer:
        seen["state"] = "compiled"
    else:
        seen["state"] = "cached" if locks.buffer else "in memory"


def kernel_arguments(name, dtype, rng=None):
    """Arguments for ``loopnet.kernels.<name>`` of the right shapes, or None.

    Parameters
    ----------
    name : str
        A name of ``loopnet.kernels.__all__``.
    dtype : str or numpy.dtype
        The arrays' dtype.
    rng : numpy.random.Generator, optional
        Source of the values, uniform on [0.1, 0.9) (valid targets and rates).

    Returns
    -------
    dict or None
        Keyword arguments; None when a parameter without a default has a name
        outside ``ARGUMENTS``.

    Examples
    --------
    >>> from loopnet.warmup import kernel_arguments
    >>> {key: value.shape for key, value in kernel_arguments("weight_gradient",
    ...                                                      "float64").items()}
    {'delta': (3, 4), 'A_prev': (3, 5)}
    """
    rng = np.random.default_rng(0) if rng is None else rng
    example = name.endswith("_example")
    arguments = {}
    for parameter in inspect.signature(getattr(kernels, name)).parameters.values():
        shape = ARGUMENTS.get(parameter.name)
        if shape is None:
            if parameter.default is inspect.Parameter.empty:
                return None
            continue
        if shape == ():
            arguments[parameter.name] = 0.1
            continue
        if example and parameter.name in _BATCHED:
            shape = shape[1:]
        arguments[parameter.name] = rng.uniform(0.1, 0.9, shape).astype(dtype)
    return arguments


def _network_calls(dtype, parallel):
    """(name, call) for every driver a ``Network`` runs."""
    net = Network(
        [N_PREV, N_L, N_NEXT], "tanh", "softmax", "log_likelihood", dtype=dtype, seed=0
    )
    rng = np.random.default_rng(0)
    X = rng.random((N_BATCH, N_PREV)).astype(dtype)
    Y = np.eye(N_NEXT, dtype=dtype)[rng.integers(0, N_NEXT, N_BATCH)]
    calls = [
        ("Network.forward", lambda: net.forward(X)),
        ("Network.gradient", lambda: net.gradient(X, Y)),
        ("layer_values", lambda: layer_values(net, X, Y)),
        (
            "Network.fit",
            lambda: net.fit(
                X, Y, epochs=1, batch_size=2, momentum=0.5, seed=0, progress=False
            ),
        ),
    ]
    if parallel:
        call = partial(loop.compile_parallel, net.layout, net.params, X, Y)
        calls.append(("parallel drivers", call))
    return calls


def warmup(dtypes=DTYPES, report=None, parallel=None):
    """Compile (or load from the cache) every kernel for each of ``dtypes``.

    Parameters
    ----------
    dtypes : sequence of str
        ``"float32"`` and/or ``"float64"``.
    parallel : bool, optional
        Whether to warm the drivers' parallel forms too (the entry
        ``"parallel drivers"``); by default, where Numba has more than one
        thread.
    report : callable, optional
        Called with each ``Warmed`` as it is done (``loopnet warmup`` prints
        them).

    Returns
    -------
    warmed : list of Warmed
        Every entry, drivers first.
    skipped : list of str
        Public kernels whose arguments could not be made (``kernel_arguments``).

    Examples
    --------
    >>> from loopnet.warmup import warmup
    >>> warmed, skipped = warmup(["float64"])
    >>> sorted({item.name for item in warmed})[:2], skipped
    (['Network.fit', 'Network.forward'], [])
    """
    warmed, skipped = [], []
    if parallel is None:
        parallel = numba.get_num_threads() > 1
    for dtype in dtypes:
        dtype = np.dtype(dtype).name
        items = list(_network_calls(dtype, parallel))
        for name in kernels.__all__:
            arguments = kernel_arguments(name, dtype)
            if arguments is None:
                if name not in skipped:
                    skipped.append(name)
                continue
            kernel = getattr(kernels, name)
            items.append((f"kernels.{name}", partial(kernel, **arguments)))
        for name, call in items:
            started = time.perf_counter()
            with _watched() as seen:
                call()
            item = Warmed(name, dtype, seen["state"], time.perf_counter() - started)
            warmed.append(item)
            if report is not None:
                report(item)
    return warmed, skipped
