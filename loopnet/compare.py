"""Loop and matrix forms side by side: how far apart their values are, how fast each is.

``compare(net, X, Y)`` runs one batch through both forms of backpropagation and
reports, layer by layer, the largest difference between them in

    z^l_j     = sum_k W^l[j, k] a^{l-1}_k + b^l_j       a^l_j = sigma(z^l_j)
    delta^l_j = dC/dz^l_j                               (output and hidden errors)
    dC/dW^l[j, k] = sum_b delta^l[b, j] a^{l-1}[b, k]   dC/db^l_j = sum_b delta^l[b, j]

the "loop" values read from the buffers of the compiled kernels (the ``"loop"``
backend), the "matrix" values from ``loopnet.reference`` (the ``"matrix"``
backend);
then it times ``Network.gradient`` in both forms. ``bench_point`` times one cell
of the ``loopnet bench`` sweep.

``loopnet.compare`` is also the name of the function ``compare``, re-exported by
the package: ``ln.compare(net, X, Y)`` calls it, and the rest of this module is
imported by name, ``from loopnet.compare import layer_values``.
"""

import contextlib
import os
import statistics
import time
from dataclasses import asdict, dataclass

import numba
import numpy as np

from loopnet import _validation as check
from loopnet import backends
from loopnet.network import Network

QUANTITIES = ("z", "a", "delta", "dW", "dbias")
"""The per-layer quantities compared, in the order of the backward pass."""

TOLERANCE = {np.dtype(np.float64): 1e-12, np.dtype(np.float32): 1e-5}
"""Largest relative difference for which the two forms are said to agree.

The test suite's tolerances: the loops sum in index order, NumPy and BLAS in
blocked or pairwise order, so the forms differ by rounding only.
"""

_BLAS_ENV = ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS")

BLAS_OVERRIDES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
"""Variables that make OpenBLAS use the kernel or cache size they name instead
of its own choice for the CPU: the project's machines set them, and its matrix
products ran slower (benchmarks/NOTES.md). They take effect when NumPy
loads OpenBLAS, so a running process can only report them."""

DEFAULT_THREADS = 1
"""Threads of each form in ``loopnet compare`` and ``loopnet bench``.

One: the loops' single-thread speed against BLAS's, the figures' setting in
docs/ (on the project's shared 2-core machines a second thread competes with
other jobs); ``--threads`` asks for more.
"""


def _check_net(net):
    if not isinstance(net, Network):
        raise TypeError(f"net must be a loopnet.Network, got {type(net).__name__}")


def layer_values(net, X, Y, reduction="mean", l2=0.0, method="loop"):
    """z^l, a^l, delta^l, dC/dW^l and dC/dbias^l of every layer, by one form.

    Parameters
    ----------
    net : Network
        The network.
    X : array_like, shape (n_batch, sizes[0])
        Inputs, one example per row.
    Y : array_like, shape (n_batch, sizes[-1])
        Targets.
    reduction : {"mean", "sum"}
        Cost whose gradient is computed, as in ``Network.gradient``.
    l2 : float
        L2 strength, >= 0.
    method : {"loop", "plain", "matrix"}
        ``"loop"``: the buffers of the compiled ``_network_gradient``, the
        driver ``Network.gradient`` runs; ``"plain"``: their plain siblings, each
        equation as a triple loop (``kernels.backprop._network_gradient_plain``,
        what ``loopnet trace`` shows); ``"matrix"``: ``reference.forward``,
        ``reference.backward`` and ``reference.gradient``.

    Returns
    -------
    dict of str to list
        Keys ``QUANTITIES``; one entry per layer l = 1..L (index ``layer`` =
        l - 1). ``z``, ``a`` and ``delta`` are ``(n_batch, n_l)`` arrays,
        ``delta[b, j]`` = dC_b/dz[b, j] of example b before any reduction;
        ``dW`` is ``(n_l, n_prev)`` and ``dbias`` ``(n_l,)`` (``None`` without
        biases), both of the reduced, regularized cost. All in the network's
        dtype.

    Raises
    ------
    ValueError
        For bad arguments, or when a quantity would not be finite (``X``, ``Y``
        or ``l2`` too large for the dtype), naming the quantity and layer.

    Examples
    --------
    >>> import loopnet as ln
    >>> from loopnet.compare import layer_values
    >>> net = ln.notation.from_welch([[[1.0, 1.0, 1.0]] * 2, [[1.0]] * 3])
    >>> values = layer_values(net, [[0.3, 1.0]], [[0.75]])
    >>> values["z"][0]
    array([[1.3, 1.3, 1.3]])
    """
    _check_net(net)
    check.check_choice(method, "method", ("loop", "plain", "matrix"))
    layout = net.layout
    X, Y, scale, l2 = layout.check_cost_arguments(X, Y, net.dtype, reduction, l2)
    layout.check_params(net.params)
    return _layer_values(net, X, Y, scale, l2, method)


def _layer_values(net, X, Y, scale, l2, method):
    """``layer_values`` of checked arguments, each checked to be finite."""
    if method == "plain":
        compute = backends.get("loop").layer_values_plain
    else:
        compute = backends.get(method).layer_values
    values = compute(net.layout, net.params, X, Y, scale, l2)
    for name, layers in values.items():
        for layer, value in enumerate(layers):
            if value is not None:
                check.check_finite_result(
                    value, f"{name} of layer {layer + 1}", "X, Y and l2 (or params)"
                )
    return values


@dataclass(frozen=True)
class Difference:
    """How far the loop value of one quantity is from its matrix value.

    Attributes
    ----------
    max_abs : float
        max over entries of |loop - matrix|.
    max_rel : float
        ``max_abs / max |matrix|``: the largest difference relative to the
        largest entry of the quantity in that layer (0 when both are all zero).
        Normwise rather than entrywise, so an entry that cancels to nearly zero
        in both forms does not read as a large relative disagreement.
    """

    max_abs: float
    max_rel: float

    @classmethod
    def between(cls, loop, matrix):
        """Measure the difference of two arrays of one shape, in float64."""
        loop = np.asarray(loop, dtype=np.float64)
        matrix = np.asarray(matrix, dtype=np.float64)
        max_abs = float(np.max(np.abs(loop - matrix)))
        scale = float(np.max(np.abs(matrix)))
        if scale > 0:
            max_rel = max_abs / scale
        else:
            max_rel = 0.0 if max_abs == 0 else float("inf")
        return cls(max_abs, max_rel)


@dataclass(frozen=True)
class LayerComparison:
    """Loop against matrix form for the quantities of one layer l.

    Attributes
    ----------
    layer : int
        l, counted from 1 (layer 0 is the input).
    n_l, n_prev : int
        Units of layer l and of layer l-1; ``W`` has shape ``(n_l, n_prev)``.
    activation : str
        Activation of layer l.
    z, a, delta, dW : Difference
        Differences in z^l, a^l, delta^l (every example) and dC/dW^l.
    dbias : Difference or None
        Difference in dC/dbias^l; ``None`` for a network without biases.
    """

    layer: int
    n_l: int
    n_prev: int
    activation: str
    z: Difference
    a: Difference
    delta: Difference
    dW: Difference
    dbias: Difference | None

    def differences(self):
        """Return the present ``(quantity, Difference)`` pairs, in QUANTITIES order."""
        pairs = ((name, getattr(self, name)) for name in QUANTITIES)
        return [
            (name, difference) for name, difference in pairs if difference is not None
        ]


def _blas_threads():
    """Return (threads, where read) of NumPy's BLAS, or (None, "unknown")."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        for name in _BLAS_ENV:
            if os.environ.get(name, "").isdigit():
                return int(os.environ[name]), f"${name}"
        return None, "unknown"
    for pool in threadpool_info():
        if pool["user_api"] == "blas":
            library = pool["internal_api"]
            if pool.get("architecture"):  # the kernel OpenBLAS chose, or was told
                library += f" {pool['architecture']} kernel"
            return pool["num_threads"], f"{library}, via threadpoolctl"
    return None, "unknown"


def threading_layer():
    """Numba's threading layer (``"tbb"``, ``"omp"``, ...), or ``"not started"``.

    Numba chooses it at the first parallel loop of the process.
    """
    try:
        return numba.threading_layer()
    except ValueError:
        return "not started"


@contextlib.contextmanager
def pinned_threads(threads):
    """Run the block with both forms on ``threads`` threads, then restore them.

    The loops run on Numba's pool (``numba.set_num_threads``), the matrix form
    on BLAS's (``threadpoolctl.threadpool_limits``); unpinned, on a 2-core
    machine, ``loopnet bench`` timed the matrix form far too slow, the two pools
    taking the cores from each other (``benchmarks/NOTES.md``). ``None`` leaves
    both as they are.

    Raises
    ------
    ValueError
        For more threads than Numba's pool holds (``NUMBA_NUM_THREADS``, read
        when Numba starts), naming ``threads``.
    """
    if threads is None:
        yield
        return
    threads = check.check_count(threads, "threads")
    if threads > numba.config.NUMBA_NUM_THREADS:
        raise ValueError(
            f"threads={threads} is more than Numba's pool holds"
            f" ({numba.config.NUMBA_NUM_THREADS}; NUMBA_NUM_THREADS sets it before"
            " Python starts)"
        )
    from threadpoolctl import threadpool_limits

    before = numba.get_num_threads()
    numba.set_num_threads(threads)
    try:
        with threadpool_limits(limits=threads, user_api="blas"):
            yield
    finally:
        numba.set_num_threads(before)


def thread_line(numba_threads, blas_threads, blas_source, layer, load):
    """``threads: numba 1 (tbb), BLAS 1 (openblas, via threadpoolctl); load ...``."""
    blas = "unknown" if blas_threads is None else str(blas_threads)
    line = f"threads: numba {numba_threads} ({layer}), BLAS {blas} ({blas_source})"
    if load is not None:
        line += f"; load average {load[0]:.2f} on {load[1]} cores"
    return line


def threads_in_use(threads=None, load=None):
    """The ``thread_line`` of both forms on ``threads`` (``pinned_threads``)."""
    with pinned_threads(threads):
        blas_threads, blas_source = _blas_threads()
        numba_threads = numba.get_num_threads()
    layer = threading_layer()
    return thread_line(numba_threads, blas_threads, blas_source, layer, load)


def machine_load():
    """``(1-minute load average, cores)``, or None where the system has none."""
    try:
        return os.getloadavg()[0], os.cpu_count() or 1
    except (AttributeError, OSError):
        return None


def blas_overrides():
    """``BLAS_OVERRIDES`` set in this process's environment, as ``NAME=value``."""
    return tuple(f"{n}={os.environ[n]}" for n in BLAS_OVERRIDES if n in os.environ)


def blas_warning(overrides):
    """A warning that the matrix form's BLAS is not at its best, or None.

    ``overrides`` is what ``blas_overrides`` returned when the timings ran.
    """
    if not overrides:
        return None
    names = " and ".join(item.split("=")[0] for item in overrides)
    return (
        f"{', '.join(overrides)} in the environment: OpenBLAS runs the kernel it"
        " names, not its own choice for this CPU, so the matrix form may be"
        f" slower than it can be (1.5-2x on loopnet's machines); unset {names}"
        " before starting Python for its best"
    )


def load_warning(load, threads):
    """A warning when other processes likely hold cores the timing needs, or None.

    The timed process needs ``threads`` cores; the 1-minute load average counts
    the processes running or waiting for a core. Above ``cores - threads``
    (and at least 0.5) some timed thread waits for a core: on the project's
    2-core machine ``loopnet compare`` on one thread was steady with one busy
    process beside it and not with two (docs/robustness.md has the
    measurement).
    """
    if load is None:
        return None
    average, cores = load
    free = max(cores - (threads or numba.get_num_threads()), 0.5)
    if average <= free:
        return None
    return (
        f"the load average is {average:.2f} on {cores} cores: other processes"
        f" hold cores the {threads or numba.get_num_threads()} timed thread(s)"
        " need, so the timings are unreliable; repeat them on a quieter machine"
    )


def _seconds(seconds):
    """Format a duration in s, ms, us or ns, with 3 significant digits."""
    for unit, factor in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        # compare the rounded figure: 999.6 us is "1 ms", not "1e+03 us"
        if float(f"{seconds / factor:.3g}") >= 1:
            return f"{seconds / factor:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def _table(rows, aligns):
    """Rows of strings as aligned columns, a rule under the first (header) row."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(aligns))]
    lines = [
        "  ".join(
            cell.rjust(width) if align == ">" else cell.ljust(width)
            for cell, align, width in zip(row, aligns, widths, strict=True)
        ).rstrip()
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return lines


@dataclass(frozen=True)
class CompareReport:
    """Agreement and speed of the loop and matrix forms on one network and batch.

    Attributes
    ----------
    sizes : tuple of int
        The network's layer sizes.
    activations : tuple of str
        Activation of each layer after the input.
    cost : str
        The cost.
    bias : bool
        Whether the network has biases.
    dtype : str
        ``"float64"`` or ``"float32"``.
    n_batch : int
        Examples in the batch.
    reduction : str
        ``"mean"`` or ``"sum"``.
    l2 : float
        L2 strength.
    layers : tuple of LayerComparison
        One per layer l = 1..L.
    loop_times, matrix_times : tuple of float
        Seconds of each timed ``net.gradient(method="loop")`` and
        ``net.gradient(method="matrix")`` call, after one warm-up call of each.
    numba_threads : int
        ``numba.get_num_threads()``.
    blas_threads : int or None
        Threads of NumPy's BLAS (``None`` when unknown).
    blas_source : str
        Where ``blas_threads`` was read: threadpoolctl, an environment variable,
        or ``"unknown"``.
    tolerance : float
        The forms agree when every relative difference is at most this
        (``TOLERANCE[dtype]``).
    threading_layer : str
        Numba's threading layer, or ``"not started"`` when no kernel has run
        in parallel in the process.
    load : (float, int) or None
        The 1-minute load average and the number of cores, before the timings.
    overrides : tuple of str
        ``blas_overrides()`` when the timings ran.
    """

    sizes: tuple
    activations: tuple
    cost: str
    bias: bool
    dtype: str
    n_batch: int
    reduction: str
    l2: float
    layers: tuple
    loop_times: tuple
    matrix_times: tuple
    numba_threads: int
    blas_threads: int | None
    blas_source: str
    tolerance: float
    threading_layer: str = "not started"
    load: tuple | None = None
    overrides: tuple = ()

    @property
    def loop_seconds(self):
        """Median seconds of the loop form's gradient."""
        return statistics.median(self.loop_times)

    @property
    def matrix_seconds(self):
        """Median seconds of the matrix form's gradient."""
        return statistics.median(self.matrix_times)

    @property
    def ratio(self):
        """loop_seconds / matrix_seconds: above 1 the loops are slower."""
        return self.loop_seconds / self.matrix_seconds

    @property
    def max_rel(self):
        """The largest relative difference over every layer and quantity."""
        return max(d.max_rel for layer in self.layers for _, d in layer.differences())

    @property
    def agree(self):
        """Whether ``max_rel <= tolerance``."""
        return self.max_rel <= self.tolerance

    @property
    def load_warning(self):
        """Why the timings may be unreliable (``load_warning``), or None."""
        return load_warning(self.load, self.numba_threads)

    @property
    def blas_warning(self):
        """Why the matrix form may be slower than it can be (``blas_warning``)."""
        return blas_warning(self.overrides)

    def to_dict(self):
        """Every field and derived value as JSON-serializable built-in types.

        Tuples become lists, so ``json.loads(json.dumps(d)) == d``; the derived
        ``loop_seconds``, ``matrix_seconds``, ``ratio``, ``max_rel`` and
        ``agree`` are included.
        """
        result = asdict(self)
        for key in ("sizes", "activations", "loop_times", "matrix_times", "overrides"):
            result[key] = list(result[key])
        if result["load"] is not None:
            result["load"] = list(result["load"])
        result["layers"] = list(result["layers"])
        derived = ("loop_seconds", "matrix_seconds", "ratio", "max_rel", "agree")
        for key in (*derived, "load_warning", "blas_warning"):
            result[key] = getattr(self, key)
        return result

    def __str__(self):
        """Return the report as an aligned table, timings and verdict below it."""
        activations = "/".join(self.activations)
        header = (
            f"network {list(self.sizes)}, {activations}, cost {self.cost},"
            f" bias {'on' if self.bias else 'off'}, {self.dtype}"
        )
        batch = f"batch {self.n_batch}, reduction {self.reduction}, l2 {self.l2:g}"
        rows = [("layer", "quantity", "shape", "max |loop - matrix|", "relative")]
        for layer in self.layers:
            shapes = {
                "z": f"{self.n_batch} x {layer.n_l}",
                "dW": f"{layer.n_l} x {layer.n_prev}",
                "dbias": f"{layer.n_l}",
            }
            shapes["a"] = shapes["delta"] = shapes["z"]
            for name, difference in layer.differences():
                rows.append(
                    (
                        str(layer.layer),
                        name,
                        shapes[name],
                        f"{difference.max_abs:.2e}",
                        f"{difference.max_rel:.2e}",
                    )
                )
        repeat = len(self.loop_times)
        verdict = "yes" if self.agree else "NO"
        lines = [
            header,
            batch,
            "",
            *_table(rows, "><>>>"),
            "",
            (
                f"gradient time, median of {repeat}: loop"
                f" {_seconds(self.loop_seconds)}, matrix"
                f" {_seconds(self.matrix_seconds)}, loop/matrix {self.ratio:.2f}"
            ),
            thread_line(
                self.numba_threads,
                self.blas_threads,
                self.blas_source,
                self.threading_layer,
                self.load,
            ),
            *(
                f"warning: {warning}"
                for warning in (self.load_warning, self.blas_warning)
                if warning is not None
            ),
            (
                f"agree: {verdict} (max relative difference {self.max_rel:.2e},"
                f" tolerance {self.tolerance:g} for {self.dtype})"
            ),
        ]
        return "\n".join(lines)


def _gradient_times(net, X, Y, reduction, l2, repeat):
    """Seconds of ``repeat`` loop and matrix gradient calls, after one warm-up each.

    The calls alternate loop, matrix, loop, ... so that a change of machine
    load during the runs falls on both forms alike.
    """
    times = {"loop": [], "matrix": []}
    for method in times:
        net.gradient(X, Y, reduction, l2, method=method)
    for _ in range(repeat):
        for method, seconds in times.items():
            start = time.perf_counter()
            net.gradient(X, Y, reduction, l2, method=method)
            seconds.append(time.perf_counter() - start)
    return tuple(times["loop"]), tuple(times["matrix"])


def compare(net, X, Y, repeat=5, reduction="mean", l2=0.0, threads=None):
    """Compare the loop and matrix forms of backpropagation on one batch.

    For every layer l: max |loop - matrix| and its relative size for z^l, a^l,
    delta^l, dC/dW^l and dC/dbias^l; then the median time of
    ``net.gradient(X, Y, reduction, l2, method="loop")`` and of
    ``method="matrix"`` over ``repeat`` calls each, after one warm-up call each,
    both on ``threads`` threads.

    Parameters
    ----------
    net : Network
        The network (left unchanged).
    X : array_like, shape (n_batch, sizes[0])
        Inputs, one example per row.
    Y : array_like, shape (n_batch, sizes[-1])
        Targets.
    repeat : int
        Timed calls of each form, >= 1.
    reduction : {"mean", "sum"}
        Gradient of the mean or of the summed cost.
    l2 : float
        L2 strength, >= 0.
    threads : int, optional
        Run the loops on this many of Numba's threads and the matrix form on as
        many of BLAS's (``pinned_threads``), both put back afterwards; by
        default, whatever they are set to (``loopnet compare`` pins both to
        ``DEFAULT_THREADS``).

    Returns
    -------
    CompareReport
        ``str(report)`` is an aligned table; ``report.to_dict()`` is
        JSON-serializable.

    Examples
    --------
    >>> import loopnet as ln
    >>> net = ln.Network([2, 3, 1], seed=0)
    >>> report = ln.compare(net, [[0.3, 1.0]], [[0.75]], repeat=1)
    >>> report.agree, len(report.layers), report.layers[0].dW.max_rel < 1e-12
    (True, 2, True)
    """
    _check_net(net)
    X, Y, scale, l2_value = net.layout.check_cost_arguments(
        X, Y, net.dtype, reduction, l2
    )
    repeat = check.check_count(repeat, "repeat")
    if threads is not None:
        threads = check.check_count(threads, "threads")
    net.layout.check_params(net.params)
    with pinned_threads(threads):  # the threads the timings use, and no others
        loop = _layer_values(net, X, Y, scale, l2_value, "loop")
        matrix = _layer_values(net, X, Y, scale, l2_value, "matrix")
    layers = []
    for layer, activation in enumerate(net.activations):
        differences = {}
        for name in QUANTITIES:
            value = loop[name][layer]
            differences[name] = (
                None
                if value is None
                else Difference.between(value, matrix[name][layer])
            )
        layers.append(
            LayerComparison(
                layer + 1,
                net.sizes[layer + 1],
                net.sizes[layer],
                activation,
                **differences,
            )
        )
    load = machine_load()
    with pinned_threads(threads):
        loop_times, matrix_times = _gradient_times(net, X, Y, reduction, l2, repeat)
        blas_threads, blas_source = _blas_threads()
        numba_threads = numba.get_num_threads()
    return CompareReport(
        sizes=tuple(net.sizes),
        activations=tuple(net.activations),
        cost=net.cost_name,
        bias=net.bias,
        dtype=net.dtype.name,
        n_batch=X.shape[0],
        reduction=reduction,
        l2=float(l2),
        layers=tuple(layers),
        loop_times=loop_times,
        matrix_times=matrix_times,
        numba_threads=numba_threads,
        blas_threads=blas_threads,
        blas_source=blas_source,
        tolerance=TOLERANCE[net.dtype],
        threading_layer=threading_layer(),
        load=load,
        overrides=blas_overrides(),
    )


def random_batch(net, n_batch, seed=0):
    """Seeded inputs and targets that suit ``net``'s output and cost.

    Parameters
    ----------
    net : Network
        The network whose ``sizes[0]`` inputs and ``sizes[-1]`` outputs are drawn.
    n_batch : int
        Examples (rows), >= 1.
    seed : int
        Seed of ``numpy.random.default_rng``.

    Returns
    -------
    X : ndarray, shape (n_batch, sizes[0])
        Uniform on [0, 1).
    Y : ndarray, shape (n_batch, sizes[-1])
        One-hot rows for a softmax output; uniform on [-1, 1) for a tanh or
        identity output with the quadratic cost; uniform on [0, 1) otherwise.
        Both in the network's dtype.

    Examples
    --------
    >>> import loopnet as ln
    >>> from loopnet.compare import random_batch
    >>> net = ln.Network([4, 3, 2], output="softmax", cost="log_likelihood")
    >>> X, Y = random_batch(net, 5)
    >>> X.shape, Y.sum(axis=1).tolist()
    ((5, 4), [1.0, 1.0, 1.0, 1.0, 1.0])
    """
    _check_net(net)
    n_batch = check.check_count(n_batch, "n_batch")
    rng = np.random.default_rng(seed)
    n_in, n_out = net.sizes[0], net.sizes[-1]
    X = rng.random((n_batch, n_in))
    if net.output == "softmax":
        Y = np.zeros((n_batch, n_out))
        Y[np.arange(n_batch), rng.integers(0, n_out, n_batch)] = 1
    elif net.cost_name == "quadratic" and net.output in ("tanh", "identity"):
        Y = rng.uniform(-1, 1, (n_batch, n_out))
    else:
        Y = rng.random((n_batch, n_out))
    return X.astype(net.dtype), Y.astype(net.dtype)


@dataclass(frozen=True)
class BenchPoint:
    """Median gradient time of both forms for one network width and batch size.

    Attributes
    ----------
    width : int
        Units of every layer, inputs included.
    n_batch : int
        Examples per batch.
    sizes : tuple of int
        The timed network's sizes, ``(width,) * (depth + 1)``.
    loop_seconds, matrix_seconds : float
        Median seconds of ``net.gradient`` with ``method="loop"`` and
        ``method="matrix"``.
    numba_threads, blas_threads : int or None
        The threads each form ran on (None: not recorded; BLAS's when unknown).
    """

    width: int
    n_batch: int
    sizes: tuple
    loop_seconds: float
    matrix_seconds: float
    numba_threads: int | None = None
    blas_threads: int | None = None

    @property
    def ratio(self):
        """loop_seconds / matrix_seconds: above 1 the loops are slower."""
        return self.loop_seconds / self.matrix_seconds


def bench_point(
    width, n_batch, depth=2, dtype="float64", repeat=3, seed=0, threads=None
):
    """Time the gradient of a ``[width] * (depth + 1)`` network in both forms.

    Sigmoid layers, quadratic cost, mean reduction, a ``random_batch`` of
    ``n_batch`` examples; each form is called once to warm up, then ``repeat``
    times, alternating, both on ``threads`` threads (``pinned_threads``; by
    default as they are set).

    Parameters
    ----------
    width : int
        Units per layer, >= 1.
    n_batch : int
        Examples, >= 1.
    depth : int
        Weight layers, >= 1.
    dtype : {"float64", "float32"}
        Precision.
    repeat : int
        Timed calls of each form, >= 1.
    seed : int
        Seed of the network and of the batch.
    threads : int, optional
        Threads of each form (``compare``).

    Returns
    -------
    BenchPoint

    Examples
    --------
    >>> from loopnet.compare import bench_point
    >>> bench_point(4, 2, repeat=1).sizes
    (4, 4, 4)
    """
    width = check.check_count(width, "width")
    depth = check.check_count(depth, "depth")
    repeat = check.check_count(repeat, "repeat")
    net = Network([width] * (depth + 1), dtype=dtype, seed=seed)
    X, Y = random_batch(net, n_batch, seed)
    with pinned_threads(threads):
        loop_times, matrix_times = _gradient_times(net, X, Y, "mean", 0.0, repeat)
        numba_threads, blas_threads = numba.get_num_threads(), _blas_threads()[0]
    return BenchPoint(
        width,
        X.shape[0],
        tuple(net.sizes),
        statistics.median(loop_times),
        statistics.median(matrix_times),
        numba_threads,
        blas_threads,
    )


def format_bench(points, notes=()):
    """Format the points of a sweep as a table: sizes, batch, both times, ratio.

    Parameters
    ----------
    points : sequence of BenchPoint
        The measured cells.
    notes : sequence of str
        Lines under the table: what the timings ran on (``thread_line``), a
        ``load_warning``.

    Returns
    -------
    str
    """
    rows = [("network", "batch", "loop", "matrix", "loop/matrix")]
    for point in points:
        rows.append(
            (
                "-".join(map(str, point.sizes)),
                str(point.n_batch),
                _seconds(point.loop_seconds),
                _seconds(point.matrix_seconds),
                f"{point.ratio:.2f}",
            )
        )
    lines = _table(rows, "<>>>>")
    if notes:
        lines += ["", *notes]
    return "\n".join(lines)
