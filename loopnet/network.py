"""``Network``: a fully-connected network whose parameters live in one flat array."""

import warnings

import numpy as np

from loopnet import _validation as check
from loopnet import backends, saving, training
from loopnet.backends import loop
from loopnet.costs import example_costs, target_classes
from loopnet.initializations import check_init, initialize
from loopnet.layout import Gradient, Layout, check_architecture

__all__ = ["Gradient", "Network"]

METHODS = backends.NAMES
"""Backends ``gradient`` and ``fit`` take as ``method=`` (``loopnet.backends``)."""

DEVICES = {"cpu": "loop", "cuda": "cuda"}
"""``fit``'s old ``device=`` values and the ``method`` each now is."""


class Network:
    r"""A fully-connected network: z^l = W^l a^{l-1} + b^l, a^l = sigma(z^l).

    Parameters
    ----------
    sizes : sequence of int
        Units per layer, inputs first: ``[784, 30, 10]``. At least two layers,
        each of size >= 1.
    activation : str
        Hidden layers' activation: ``"sigmoid"``, ``"tanh"``, ``"relu"`` or
        ``"identity"``.
    output : str
        Output layer's activation: any of the above or ``"softmax"`` (at least two
        output units).
    cost : str
        ``"quadratic"`` (any output), ``"cross_entropy"`` or ``"log_likelihood"``
        (sigmoid or softmax outputs; targets in [0, 1]).
    bias : bool
        Whether layers have biases. Without them every bias is a fixed zero and
        ``params`` holds weights only.
    dtype : {"float64", "float32"}
        Precision of the parameters and of every computation.
    seed : None, int or numpy.random.Generator
        Seed of the initialization (a negative or non-integer seed raises,
        naming ``seed``). The draws are made in float64 and rounded to
        ``dtype``, so the float32 and float64 networks of one seed hold the same
        values up to rounding.
    init : str
        How the weights and biases are drawn, a name of
        ``loopnet.initializations.INITIALIZATIONS``. ``"nielsen"`` (default, as
        in the seeds): weights from N(0, 1/n_prev) (standard deviation
        1/sqrt(n_prev)), biases from N(0, 1). ``"large"``: both from N(0, 1).
        ``"glorot_uniform"``, ``"glorot_normal"`` (variance 2 / (n_prev + n_l)),
        ``"he_uniform"``, ``"he_normal"`` (variance 2 / n_prev): zero biases.

    Attributes
    ----------
    params : ndarray, shape (n_params,)
        Every parameter in one contiguous array: for each layer, ``W`` row-major
        then ``bias``. Edit it in place; ``weights`` and ``biases`` follow.
    weights : list of ndarray
        ``weights[layer]`` has shape ``(sizes[layer + 1], sizes[layer])``;
        ``W[j, k]`` connects neuron k of layer l-1 to neuron j of layer l.
    biases : list of ndarray
        ``biases[layer]`` has shape ``(sizes[layer + 1],)``.
    activations : tuple of str
        Activation of each layer after the input.
    init : str
        The initialization the parameters were drawn with.
    optimizer_state : loopnet.training.SavedOptimizer or None
        The optimizer's state after the last ``fit`` (see ``fit``'s
        ``warm_start``); None before any.

    Notes
    -----
    ``layer`` counts from 0 in code; it is layer l = layer + 1 of the maths.

    Examples
    --------
    >>> import numpy as np
    >>> import loopnet as ln
    >>> net = ln.Network([2, 3, 1], seed=0)
    >>> X, Y = np.array([[0.3, 1.0]]), np.array([[0.75]])
    >>> loop, matrix = net.gradient(X, Y), net.gradient(X, Y, method="matrix")
    >>> bool(np.allclose(loop.flat, matrix.flat, rtol=1e-12, atol=1e-15))
    True
    """

    def __init__(
        self,
        sizes,
        activation="sigmoid",
        output="sigmoid",
        cost="quadratic",
        bias=True,
        dtype="float64",
        seed=None,
        init="nielsen",
    ):
        sizes = check_architecture(sizes, activation, output, cost, bias)
        self.sizes = sizes
        self.activation = activation
        self.output = output
        self.cost_name = cost
        self.bias = bool(bias)
        self.dtype = check.resolve_dtype(dtype)
        self.init = check_init(init)
        self.activations = (activation,) * (len(sizes) - 2) + (output,)
        self._layout = Layout.build(sizes, self.activations, cost, self.bias)
        self._params = np.empty(self._layout.n_params, dtype=self.dtype)
        self.weights, self.biases = self._layout.views(self._params)
        biases = self.biases if self.bias else None  # else read-only zeros
        initialize(self.weights, biases, check.check_seed(seed), self.init)
        self.optimizer_state = None  # what the last fit's optimizer left

    @property
    def layout(self):
        """The parameter layout shared by every backend (``loopnet.layout.Layout``).

        Sizes, offsets of each layer's ``W`` and ``bias`` in ``params``,
        activation and cost codes, as read-only arrays; ``layout.views(flat)``
        gives the per-layer views of any array laid out like ``params``.
        """
        return self._layout

    @property
    def params(self):
        """Every parameter in one flat array (edit in place; do not rebind)."""
        return self._params

    @property
    def n_params(self):
        """Number of parameters: sum over layers of n_l * n_prev (+ n_l with biases)."""
        return self._params.shape[0]

    def __repr__(self):
        """Network([sizes], activation=..., output=..., cost=..., ...)."""
        return (
            f"Network({list(self.sizes)}, activation={self.activation!r},"
            f" output={self.output!r}, cost={self.cost_name!r}, bias={self.bias},"
            f" dtype={self.dtype.name!r})"
        )

    def copy(self):
        """An independent network: the same architecture, a copy of ``params``."""
        clone = Network(
            self.sizes,
            self.activation,
            self.output,
            self.cost_name,
            self.bias,
            self.dtype,
            seed=0,
            init=self.init,
        )
        clone.params[:] = self.params
        return clone

    # --- checked inputs --------------------------------------------------------

    def _outputs(self, X):
        """Output activations a^L of checked ``X``, checked to be finite."""
        _, outputs = loop.forward(self._layout, self._params, X)
        return check.check_finite_result(outputs, "the output", "X (or params)")

    # --- public computations ---------------------------------------------------

    def forward(self, X):
        """Output activations a^L of every example, by the compiled loop kernels.

        Parameters
        ----------
        X : array_like, shape (n_examples, sizes[0])
            Inputs, one example per row (converted to the network's dtype).

        Returns
        -------
        ndarray, shape (n_examples, sizes[-1])
            In the network's dtype.

        Raises
        ------
        ValueError
            For bad ``X`` (shape, NaN, infinity), or when an output would not be
            finite (``X`` or the parameters too large for the dtype).

        Examples
        --------
        >>> import loopnet as ln
        >>> ln.Network([2, 3, 1], seed=0).forward([[0.3, 1.0]]).shape
        (1, 1)
        """
        X = self._layout.check_inputs(X, self.dtype)
        self._layout.check_params(self._params)
        return self._outputs(X).copy()

    def cost(self, X, Y, reduction="mean", l2=0.0):
        """The cost C of the batch, with optional L2 on the weights.

        ``reduction="sum"``: C = sum_b C_b + l2/2 * sum W^2; ``"mean"``:
        C = (1/n) sum_b C_b + l2/(2n) * sum W^2. Biases are never regularized.

        Parameters
        ----------
        X : array_like, shape (n_examples, sizes[0])
            Inputs, one example per row.
        Y : array_like, shape (n_examples, sizes[-1])
            Targets.
        reduction : {"mean", "sum"}
            Average or sum over the examples.
        l2 : float
            L2 strength, >= 0.

        Returns
        -------
        numpy scalar of the network's dtype

        Raises
        ------
        ValueError
            For bad arguments, or when the cost would not be finite (``X``,
            ``Y`` or ``l2`` too large for the dtype).

        Examples
        --------
        >>> import numpy as np
        >>> import loopnet as ln
        >>> net = ln.Network([2, 3, 1], bias=False, seed=0)
        >>> for W in net.weights:
        ...     W[...] = 1.0
        >>> round(float(net.cost([[0.3, 1.0]], [[0.75]], reduction="sum")), 4)
        0.0134
        """
        X, Y, _, l2 = self._layout.check_cost_arguments(X, Y, self.dtype, reduction, l2)
        self._layout.check_params(self._params)
        Z_out, A_out = loop.forward(self._layout, self._params, X)
        # An overflow is reported once, as the ValueError below, not as warnings.
        with np.errstate(over="ignore", invalid="ignore"):
            costs = example_costs(Z_out, A_out, Y, self.output, self.cost_name)
            total = costs.sum()
            if l2:
                total += self.dtype.type(l2 / 2) * sum(
                    np.sum(W * W) for W in self.weights
                )
            if reduction == "mean":
                total /= X.shape[0]
        return check.check_finite_result(
            self.dtype.type(total), "the cost", "X, Y and l2 (or params)"
        )

    def gradient(self, X, Y, reduction="mean", l2=0.0, method="loop"):
        """Gradient of ``cost(X, Y, reduction, l2)`` with respect to every parameter.

        Parameters
        ----------
        X : array_like, shape (n_examples, sizes[0])
            Inputs, one example per row.
        Y : array_like, shape (n_examples, sizes[-1])
            Targets.
        reduction : {"mean", "sum"}
            Gradient of the mean or of the summed cost.
        l2 : float
            L2 strength, >= 0; adds l2 * W (sum) or (l2/n) * W (mean) to dC/dW.
        method : {"loop", "matrix", "cuda"}
            ``"loop"``: the compiled per-index kernels; ``"matrix"``: the NumPy
            matrix form of ``loopnet.reference``; ``"cuda"``: the same loops on an
            NVIDIA GPU (``loopnet.cuda.gradient``; needs the ``cuda`` extra).

        Returns
        -------
        Gradient
            ``.flat`` in the layout of ``params``; ``.weights`` and ``.biases``
            views shaped like the network's, all in the network's dtype.

        Raises
        ------
        ValueError
            For bad arguments, or when an entry would not be finite (``X``,
            ``Y`` or ``l2`` too large for the dtype).

        Examples
        --------
        >>> import loopnet as ln
        >>> net = ln.Network([2, 3, 1], seed=0)
        >>> g = net.gradient([[0.3, 1.0]], [[0.75]])
        >>> g.flat.shape, g.weights[0].shape, g.biases[1].shape
        ((13,), (3, 2), (1,))
        """
        backends.check_name(method)
        X, Y, scale, l2 = self._layout.check_cost_arguments(
            X, Y, self.dtype, reduction, l2
        )
        self._layout.check_params(self._params)
        backend = backends.get(method)
        flat = backend.gradient(self._layout, self._params, X, Y, scale, l2)
        check.check_finite_result(flat, "the gradient", "X, Y and l2 (or params)")
        return self._layout.gradient(flat)

    # --- training, prediction, files --------------------------------------------

    def fit(
        self,
        X,
        Y,
        epochs=1,
        batch_size=10,
        lr=0.1,
        l2=0.0,
        momentum=0.0,
        seed=None,
        validation=None,
        progress=True,
        method="loop",
        device=None,
        optimizer="sgd",
        beta1=0.9,
        beta2=0.999,
        eps=1e-8,
        early_stopping=False,
        validation_fraction=0.1,
        patience=10,
        tol=1e-4,
        callback=None,
        warm_start=False,
    ):
        """Train by mini-batch gradient steps, each epoch's loop in compiled code.

        Minimizes the mean cost over the N training examples plus the L2 term,
        (1/N) sum_b C_b + l2/(2N) sum W^2 (biases never regularized). For each
        mini-batch B of m examples, with g the mean gradient (1/m) sum_{b in B}
        dC_b/dparams plus (l2/N) W on the weights (0 on biases), ``"sgd"`` steps

            W <- W - lr * (g_W + (l2/N) W),   bias <- bias - lr * g_bias

        or, with momentum mu > 0, v <- mu v - lr g and W <- W + v (classical
        momentum); ``"nesterov"`` and ``"adam"`` step as
        ``loopnet.kernels.optimizers`` (docs/estimators.md has every formula).

        Parameters
        ----------
        X : array_like, shape (N, sizes[0])
            Training inputs, one example per row.
        Y : array_like, shape (N, sizes[-1])
            Training targets.
        epochs : int
            Passes over the training set, >= 1.
        batch_size : int
            Examples per mini-batch, >= 1. The last mini-batch of an epoch holds
            the remaining N mod batch_size examples when that is not 0 (it is
            used, not dropped); ``batch_size >= N`` is full-batch gradient descent.
        lr : float, loopnet.schedules.Schedule or callable
            Learning rate, finite and > 0; or a schedule, lr(e) for epoch e = 0,
            1, ... of this call (``loopnet.schedules``: ``StepDecay``,
            ``Exponential``, ``InverseScaling``, or any callable of the epoch).
            Every epoch's rate is computed and checked before training starts.
        l2 : float
            L2 strength, >= 0; note the 1/N, N the training set's size (not the
            mini-batch's), as in the seeds.
        momentum : float
            mu in [0, 1) of ``"sgd"`` (0 is plain SGD) and ``"nesterov"``; must
            be 0 with ``"adam"``, whose momentum is ``beta1``.
        seed : None, int or numpy.random.Generator
            Seed of the shuffling: one ``numpy.random.default_rng(seed)`` per call,
            and epoch e trains on ``order = rng.permutation(N)`` (the e-th draw),
            mini-batch i being ``order[i * batch_size : (i + 1) * batch_size]``.
            ``None`` shuffles differently on every call.
        validation : (X_val, Y_val), optional
            Evaluated after every epoch: mean cost and ``score``.
        progress : bool
            Show a tqdm progress bar (examples done, epoch, running cost) on
            standard error when it is a terminal, preceded, when the compiled
            loop is about to compile rather than load from Numba's cache, by the
            line "compiling loopnet's kernels (first run, ...)"; never when
            False.
        method : {"loop", "matrix", "cuda"}
            The backend, as in ``gradient``. ``"loop"``: the compiled loop
            above. ``"matrix"``: the same steps by the NumPy matrix form, one
            Python iteration per mini-batch (slow; for checking the loop).
            ``"cuda"``: the same steps on an NVIDIA GPU
            (``loopnet.cuda.Trainer``; needs the ``cuda`` extra and a GPU), with
            the data and parameters resident on the device and copied back after
            every chunk. All draw the same shuffles and agree up to rounding. The
            GPU loop keeps no running cost, so ``history.cost`` then holds the
            mean cost of the training set after each epoch.
        device : {"cpu", "cuda"}, optional
            Deprecated name of the choice: ``"cpu"`` is ``method="loop"``,
            ``"cuda"`` is ``method="cuda"`` (a ``DeprecationWarning``).
        optimizer : {"sgd", "nesterov", "adam"}
            ``"sgd"``: plain SGD, classical momentum with ``momentum`` > 0 (the
            default, as before). ``"nesterov"``: Nesterov momentum, PyTorch's
            ``SGD(nesterov=True)``. ``"adam"``: Adam with bias correction
            (Kingma and Ba 2015, Algorithm 1), ``torch.optim.Adam``'s step. L2
            is added to the weights' gradient for all three. ``method="cuda"``
            has ``"sgd"`` only (a ValueError otherwise).
        beta1, beta2 : float
            Adam's decay rates of its moment estimates, in [0, 1).
        eps : float
            Adam's epsilon, > 0.
        early_stopping : bool
            Stop when the validation cost (of ``validation``, or without it of a
            held-out ``validation_fraction`` of ``X``, ``Y``, the seed's first
            draw) has not fallen below its best so far minus ``tol`` for
            ``patience`` epochs in a row, then put back the parameters (and
            optimizer state) of the best epoch; ``history.best_epoch`` says which.
            At the end of ``epochs`` the best epoch's parameters are put back too.
        validation_fraction : float
            In (0, 1): the share held out for ``early_stopping`` when
            ``validation`` is not given (at least one example).
        patience : int
            Epochs without improvement before stopping, >= 1.
        tol : float
            The improvement that counts, >= 0.
        callback : callable, optional
            Called after every epoch with its row of the history
            (``History.row``: ``epoch`` from 1, ``cost``, ``lr``, ``seconds``,
            ``val_cost`` and ``val_accuracy`` with validation); returning a
            true value stops training after that epoch
            (``history.stopped_by == "callback"``). An exception it raises
            propagates, the parameters being those of the completed epoch.
        warm_start : bool
            False (default): the optimizer starts at rest (zero velocity and
            moments, t = 0), as in every earlier version. True: it continues
            from ``self.optimizer_state``, the state the last ``fit`` of this
            network left (at rest when there is none); the optimizer must be
            the same (ValueError otherwise), and the backend a CPU one.

        Returns
        -------
        History
            Per-epoch ``cost``, ``val_cost``, ``val_accuracy`` and ``seconds``
            (see ``History``).

        Raises
        ------
        ValueError, TypeError
            For a bad argument, naming it, before anything is changed (NaN or
            infinite ``params`` too).
        DivergenceError
            A ``FloatingPointError``, when training diverges: a mini-batch's
            step would leave NaN or infinite parameters (or, on the CPU, its
            examples' cost is not finite). The parameters, and the optimizer's
            state, are then those from before that step; the error names the
            epoch and mini-batch, and ``error.history`` holds the epochs
            completed before it. Try a smaller ``lr``.

        Notes
        -----
        Trains in place in the network's dtype: float32 networks compute and
        update in float32. Every buffer is allocated once per call. The compiled
        loop runs a chunk of mini-batches per call (about ``CHUNK_WORK``
        multiply-adds, ``loopnet.training``), which never changes the result; on
        Ctrl-C the parameters are those of the last completed step and
        ``KeyboardInterrupt`` propagates. After each chunk the parameters are
        checked to be finite; when they are not, the chunk is undone and run
        again one mini-batch at a time to find the step that diverged, so
        ``fit`` never leaves non-finite parameters.

        After every call on a CPU backend (returned or raised),
        ``self.optimizer_state`` holds the optimizer's state
        (``training.SavedOptimizer``: the optimizer's name, then its velocity,
        moments and step count t, laid out like ``params``) for a later
        ``fit(..., warm_start=True)``; after ``method="cuda"`` it is None.
        ``copy``, ``save`` and ``load`` do not keep it.

        Examples
        --------
        >>> import numpy as np
        >>> import loopnet as ln
        >>> X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
        >>> Y = np.array([[0.0], [1.0], [1.0], [0.0]])
        >>> net = ln.Network([2, 8, 1], cost="cross_entropy", seed=1)
        >>> history = net.fit(X, Y, epochs=2000, batch_size=4, lr=2.0, seed=0)
        >>> net.predict(X), history.cost[-1] < 0.05
        (array([0, 1, 1, 0]), True)
        """
        if device is not None:
            method = self._method_of_device(device, method)
        return training.fit(
            self,
            X,
            Y,
            epochs=epochs,
            batch_size=batch_size,
            lr=lr,
            l2=l2,
            momentum=momentum,
            seed=seed,
            validation=validation,
            progress=progress,
            method=method,
            optimizer=optimizer,
            beta1=beta1,
            beta2=beta2,
            eps=eps,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            patience=patience,
            tol=tol,
            callback=callback,
            warm_start=warm_start,
        )

    @staticmethod
    def _method_of_device(device, method):
        """The ``method`` an old ``fit(device=...)`` call asks for, with a warning."""
        check.check_choice(device, "device", tuple(DEVICES))
        if method not in ("loop", DEVICES[device]):
            raise ValueError(
                f"device={device!r} and method={method!r} disagree; pass method"
                " only (device is deprecated)"
            )
        warnings.warn(
            f"fit(device={device!r}) is deprecated; use method={DEVICES[device]!r}",
            DeprecationWarning,
            stacklevel=3,
        )
        return DEVICES[device]

    def predict(self, X):
        """Predict each example's class: argmax_j a^L_j, or a^L > 0.5 for one output.

        Parameters
        ----------
        X : array_like, shape (n_examples, sizes[0])
            Inputs, one example per row.

        Returns
        -------
        ndarray of int64, shape (n_examples,)
            The index of the largest output (the first one on a tie); for a
            network with one output unit, 1 where that output exceeds 0.5 (a
            sigmoid output read as the probability of class 1), else 0.

        Examples
        --------
        >>> import loopnet as ln
        >>> net = ln.Network([2, 3, 4], seed=0)
        >>> net.predict([[0.3, 1.0], [1.0, 0.4]]).shape
        (2,)
        """
        X = self._layout.check_inputs(X, self.dtype)
        self._layout.check_params(self._params)
        return target_classes(self._outputs(X))

    def _check_labels(self, labels, n_examples):
        """Class indexes from 1-D labels or 2-D targets (see ``score``)."""
        array = check.as_array(labels, "labels")
        if array.dtype.kind not in "biuf":
            raise TypeError(f"labels must be numeric, got dtype {array.dtype}")
        n_classes = max(2, self.sizes[-1])
        if array.ndim == 2:
            array = check.data_array(array, "labels", self.dtype, self.sizes[-1])
            classes = target_classes(array)
        elif array.ndim == 1:
            if array.dtype.kind not in "biu":
                raise ValueError(
                    f"1-D labels must be integer class indexes, got dtype {array.dtype}"
                    " (pass one-hot targets as a 2-D array)"
                )
            classes = array.astype(np.int64)
            if classes.size and (classes.min() < 0 or classes.max() >= n_classes):
                raise ValueError(
                    f"labels must lie in 0..{n_classes - 1}, got values in"
                    f" [{classes.min()}, {classes.max()}]"
                )
        else:
            raise ValueError(
                "labels must be 1-D class indexes or 2-D targets, got shape"
                f" {array.shape}"
            )
        if classes.shape[0] != n_examples:
            raise ValueError(
                f"labels has {classes.shape[0]} rows but X has {n_examples}: one per"
                " example"
            )
        return classes

    def score(self, X, labels):
        """Accuracy: the fraction of examples whose ``predict`` matches the label.

        Parameters
        ----------
        X : array_like, shape (n_examples, sizes[0])
            Inputs, one example per row.
        labels : array_like
            Either the class index of each example, integers of shape
            (n_examples,), in ``0 .. sizes[-1] - 1`` (0 or 1 for one output
            unit); or targets of shape (n_examples, sizes[-1]), such as one-hot
            rows, read like outputs: the class is each row's argmax (> 0.5 for one
            column).

        Returns
        -------
        float
            In [0, 1].

        Examples
        --------
        >>> import loopnet as ln
        >>> net = ln.Network([2, 3, 2], seed=0)
        >>> X = [[0.3, 1.0], [1.0, 0.4]]
        >>> net.score(X, net.predict(X)), net.score(X, [[1, 0], [1, 0]]) in (0, 0.5, 1)
        (1.0, True)
        """
        X = self._layout.check_inputs(X, self.dtype)
        classes = self._check_labels(labels, X.shape[0])
        self._layout.check_params(self._params)
        return float(np.mean(self.predict(X) == classes))

    def save(self, path):
        """Write the network to ``path`` as an ``.npz``, atomically.

        The file holds the format version, sizes, activation names, cost, bias
        flag, dtype and ``params`` (``loopnet.saving`` lists the fields). It is
        written to a temporary file in the same folder, flushed to disk, then
        renamed over ``path``, so an interrupted save never leaves a half-written
        model; the old file, if any, stays whole until the rename.

        Parameters
        ----------
        path : str or os.PathLike
            Destination, used as given (no extension is added).

        Raises
        ------
        ValueError
            If ``params`` holds NaN or infinite values (a diverged training).

        Examples
        --------
        >>> import os, tempfile
        >>> import numpy as np
        >>> import loopnet as ln
        >>> net = ln.Network([2, 3, 1], seed=0)
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     net.save(os.path.join(folder, "net.npz"))
        ...     same = ln.Network.load(os.path.join(folder, "net.npz"))
        >>> same.sizes, bool(np.array_equal(same.params, net.params))
        ((2, 3, 1), True)
        """
        if not np.all(np.isfinite(self._params)):
            raise ValueError(
                "params holds NaN or infinite values (did training diverge?); refusing"
                " to save a network that cannot be used"
            )
        saving.write_model(
            path,
            {
                "format": np.array(saving.FORMAT),
                "format_version": np.array(saving.FORMAT_VERSION, dtype=np.int64),
                "sizes": np.array(self.sizes, dtype=np.int64),
                "activation": np.array(self.activation),
                "output": np.array(self.output),
                "cost": np.array(self.cost_name),
                "bias": np.array(self.bias),
                "dtype": np.array(self.dtype.name),
                "params": self._params,
            },
        )

    @classmethod
    def load(cls, path):
        """Read a network written by ``save``; never unpickles.

        Parameters
        ----------
        path : str or os.PathLike
            The file.

        Returns
        -------
        Network
            Same architecture, dtype and parameters as the saved one.

        Raises
        ------
        FileNotFoundError
            If there is no file at ``path``.
        ValueError
            If the file is truncated, corrupt, not a loopnet model, of another
            format version, or inconsistent (params length or dtype not matching
            sizes, an unknown activation or cost); the message names the file.

        Examples
        --------
        See ``save``.
        """
        model = saving.read_model(path)
        try:
            net = cls(
                model["sizes"],
                model["activation"],
                model["output"],
                model["cost"],
                model["bias"],
                model["dtype"],
                seed=0,
            )
        except (TypeError, ValueError) as error:
            raise ValueError(
                f"{path!r} is not a valid loopnet model file: {error}"
            ) from error
        net.params[:] = model["params"]
        return net
