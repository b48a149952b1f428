"""The parameter layout: where each layer's weights and biases live in one flat array.

Every backend reads a network's parameters through one ``Layout``, built once per
network. For layer l (``layer = l - 1`` in code) the flat array holds ``W``
(n_l * n_prev entries, row-major, ``W[j, k]``) and then, when the network has
biases, ``bias`` (n_l entries); layers follow each other in order. A gradient has
the same layout (``Gradient``).

``Layout`` is a NamedTuple of int64 arrays and one int, so compiled code takes it
as one argument and reads its fields (``layout.sizes[layer + 1]``); in Python it
also answers the questions every caller asks of it: the views of a flat array per
layer, the checks of a batch of data against the layer sizes and the cost.
"""

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from loopnet import _validation as check
from loopnet.activations import ACTIVATIONS, HIDDEN_ACTIVATIONS
from loopnet.costs import COSTS, PROBABILITY_TARGETS, VALID_OUTPUTS

REDUCTIONS = ("mean", "sum")
"""How a batch's per-example costs C_b combine: their mean or their sum."""

_ACTIVATION_NAMES = {code: name for name, code in ACTIVATIONS.items()}
_COST_NAMES = {code: name for name, code in COSTS.items()}


def check_sizes(sizes):
    """Return ``sizes`` as a tuple of ints >= 1, at least two of them.

    Raises
    ------
    TypeError
        For anything but a 1-D sequence of integers.
    ValueError
        For fewer than two layers, a layer of size < 1, or more weights than
        an array can address.
    """
    if isinstance(sizes, str | bytes) or not isinstance(sizes, Sequence | np.ndarray):
        raise TypeError(f"sizes must be a sequence of layer sizes, got {sizes!r}")
    if isinstance(sizes, np.ndarray) and sizes.ndim != 1:
        raise TypeError(
            f"sizes must be a 1-D sequence of layer sizes, got shape {sizes.shape}"
        )
    sizes = tuple(check.check_count(n, f"sizes[{i}]") for i, n in enumerate(sizes))
    if len(sizes) < 2:
        raise ValueError(
            "sizes must list at least two layers (inputs and outputs),"
            f" got {list(sizes)}"
        )
    # Python ints: the count cannot overflow before the comparison.
    n_weights = sum(n_l * n_prev for n_prev, n_l in itertools.pairwise(sizes))
    if n_weights * 8 > np.iinfo(np.int64).max:
        raise ValueError(
            f"sizes {list(sizes)} need {n_weights} weights, more than an array can"
            " address"
        )
    return sizes


def check_architecture(sizes, activation, output, cost, bias):
    """Check a network's architecture; return ``sizes`` as a tuple of ints.

    Raises ValueError or TypeError naming the argument: an unknown activation,
    output or cost, a pairing of output and cost that is not defined, a softmax
    over fewer than two units, a ``bias`` that is not a bool.
    """
    sizes = check_sizes(sizes)
    check.check_choice(activation, "activation", HIDDEN_ACTIVATIONS)
    check.check_choice(output, "output", tuple(ACTIVATIONS))
    check.check_choice(cost, "cost", tuple(COSTS))
    if output not in VALID_OUTPUTS[cost]:
        raise ValueError(
            f"cost={cost!r} needs outputs in (0, 1): output must be one of"
            f" {VALID_OUTPUTS[cost]}, got output={output!r}"
        )
    if output == "softmax" and sizes[-1] < 2:
        raise ValueError(
            "output='softmax' needs at least 2 output units (a softmax over one"
            f" unit is the constant 1); sizes[-1] is {sizes[-1]}"
        )
    if not isinstance(bias, bool | np.bool_):
        raise TypeError(f"bias must be True or False, got {bias!r}")
    return sizes


def _read_only(values):
    array = np.array(values, dtype=np.int64)
    array.flags.writeable = False
    return array


@dataclass(frozen=True, eq=False)
class Gradient:
    """A gradient in the network's parameter layout.

    Attributes
    ----------
    flat : ndarray, shape (n_params,)
        dC/dparams, laid out like ``Network.params``.
    weights : list of ndarray
        ``weights[layer][j, k]`` = dC/dW^l[j, k], views into ``flat``.
    biases : list of ndarray
        ``biases[layer][j]`` = dC/dbias^l[j], views into ``flat`` (read-only
        zeros for a network without biases).
    """

    flat: np.ndarray
    weights: list
    biases: list


class Layout(NamedTuple):
    """Layer sizes, parameter offsets, activation and cost codes of one network.

    Attributes
    ----------
    sizes : ndarray of int64, shape (L + 1,)
        Units per layer, inputs first: n_0, ..., n_L.
    w_offsets : ndarray of int64, shape (L,)
        Start of layer l's ``W`` (``layer = l - 1``) in the flat array.
    b_offsets : ndarray of int64, shape (L,)
        Start of layer l's ``bias``; -1 when the network has no biases.
    activations : ndarray of int64, shape (L,)
        Activation code of each layer (``loopnet.activations.ACTIVATIONS``).
    cost : int
        Cost code (``loopnet.costs.COSTS``).

    Notes
    -----
    The arrays are read-only: compiled kernels index the flat parameters with
    them, so they are never edited after ``build``. Numba takes a ``Layout`` as
    one argument; its type does not depend on the number of layers, so one
    compiled driver serves every network.

    Examples
    --------
    >>> import numpy as np
    >>> from loopnet.layout import Layout
    >>> layout = Layout.build((2, 3, 1), ("sigmoid", "sigmoid"), "quadratic")
    >>> layout.n_params, layout.w_offsets.tolist(), layout.b_offsets.tolist()
    (13, [0, 9], [6, 12])
    >>> weights, biases = layout.views(np.arange(13.0))
    >>> weights[1], biases[1]
    (array([[ 9., 10., 11.]]), array([12.]))
    """

    sizes: np.ndarray
    w_offsets: np.ndarray
    b_offsets: np.ndarray
    activations: np.ndarray
    cost: int

    @classmethod
    def build(cls, sizes, activations, cost, bias=True):
        """The layout of a network: W^l then bias^l for l = 1..L, in layer order.

        Parameters
        ----------
        sizes : sequence of int
            Units per layer, inputs first (already checked).
        activations : sequence of str
            Activation name of each layer after the input.
        cost : str
            Cost name.
        bias : bool
            Whether each layer has a bias vector after its weights.

        Returns
        -------
        Layout
        """
        n_layers = len(sizes) - 1
        w_offsets, b_offsets = [], []
        start = 0
        for layer in range(n_layers):
            w_offsets.append(start)
            start += sizes[layer + 1] * sizes[layer]
            b_offsets.append(start if bias else -1)
            if bias:
                start += sizes[layer + 1]
        return cls(
            _read_only(sizes),
            _read_only(w_offsets),
            _read_only(b_offsets),
            _read_only([ACTIVATIONS[name] for name in activations]),
            COSTS[cost],
        )

    # --- what the layout says, in Python's terms --------------------------------

    @property
    def n_layers(self):
        """L, the number of layers after the input."""
        return self.sizes.shape[0] - 1

    @property
    def bias(self):
        """Whether the layers have biases."""
        return bool(self.b_offsets[0] >= 0)

    @property
    def n_params(self):
        """Length of the flat array: sum over l of n_l * n_prev (+ n_l with biases)."""
        last = self.n_layers - 1
        n_l, n_prev = int(self.sizes[-1]), int(self.sizes[-2])
        end = int(self.w_offsets[last]) + n_l * n_prev
        return end + n_l if self.bias else end

    @property
    def activation_names(self):
        """Activation name of each layer after the input."""
        return tuple(_ACTIVATION_NAMES[int(code)] for code in self.activations)

    @property
    def cost_name(self):
        """Name of the cost."""
        return _COST_NAMES[int(self.cost)]

    def weight_slice(self, layer):
        """``slice`` of layer l's ``W`` (``layer = l - 1``) in the flat array."""
        start = int(self.w_offsets[layer])
        return slice(start, start + int(self.sizes[layer + 1] * self.sizes[layer]))

    def bias_slice(self, layer):
        """``slice`` of layer l's ``bias`` in the flat array; None without biases."""
        start = int(self.b_offsets[layer])
        if start < 0:
            return None
        return slice(start, start + int(self.sizes[layer + 1]))

    def views(self, flat, zeros=None):
        """Per-layer views of a flat array in this layout.

        Parameters
        ----------
        flat : array, shape (n_params,)
            Parameters or a gradient: a NumPy array, or any array type that
            slices and reshapes into views (a Numba CUDA device array).
        zeros : array, optional
            For a network without biases, what each bias is a view of (at least
            max(sizes) entries). By default a read-only NumPy vector of zeros per
            layer, in ``flat``'s dtype.

        Returns
        -------
        weights : list
            ``weights[layer]`` of shape (n_l, n_prev), a view of ``flat``.
        biases : list
            ``biases[layer]`` of shape (n_l,), a view of ``flat``; without
            biases, of ``zeros``, not a parameter.
        """
        weights, biases = [], []
        # Python ints: indexing with NumPy scalars costs more than the views
        sizes, w_offsets = self.sizes.tolist(), self.w_offsets.tolist()
        for layer, b_start in enumerate(self.b_offsets.tolist()):
            n_l, n_prev = sizes[layer + 1], sizes[layer]
            start = w_offsets[layer]
            weights.append(flat[start : start + n_l * n_prev].reshape(n_l, n_prev))
            if b_start >= 0:
                biases.append(flat[b_start : b_start + n_l])
            elif zeros is not None:
                biases.append(zeros[:n_l])
            else:
                bias = np.zeros(n_l, dtype=flat.dtype)
                bias.flags.writeable = False
                biases.append(bias)
        return weights, biases

    def gradient(self, flat):
        """``flat`` as a ``Gradient``: the flat array and its per-layer views."""
        return Gradient(flat, *self.views(flat))

    def locate(self, index):
        """What entry ``index`` of a flat array is: ``"W[j, k] of layer l"`` or bias.

        Examples
        --------
        >>> from loopnet.layout import Layout
        >>> layout = Layout.build((2, 3, 1), ("sigmoid", "sigmoid"), "quadratic")
        >>> layout.locate(5), layout.locate(7), layout.locate(12)
        ('W[2, 1] of layer 1', 'bias[1] of layer 1', 'bias[0] of layer 2')
        """
        for layer in range(self.n_layers):
            where = self.weight_slice(layer)
            if where.start <= index < where.stop:
                j, k = divmod(index - where.start, int(self.sizes[layer]))
                return f"W[{j}, {k}] of layer {layer + 1}"
            where = self.bias_slice(layer)
            if where is not None and where.start <= index < where.stop:
                return f"bias[{index - where.start}] of layer {layer + 1}"
        raise IndexError(f"index {index} is past the {self.n_params} parameters")

    def check_params(self, params):
        """Return ``params`` if every entry is finite, else raise ValueError.

        Called by every public computation before a kernel runs: a NaN or an
        infinity in the parameters (a diverged training, an edit) makes every
        output non-finite, which the checks of results would blame on the
        magnitudes of the data. The message counts them and names the first.
        """
        finite = np.isfinite(params)
        if finite.all():
            return params
        bad = np.flatnonzero(~finite)
        first = int(bad[0])
        values = "value" if bad.size == 1 else "values"
        raise ValueError(
            f"params holds {bad.size} NaN or infinite {values} (of {params.size};"
            f" the first is params[{first}] = {params[first]}, {self.locate(first)}),"
            " so nothing computed from them can be finite; did a training diverge?"
            " Put finite values in params (or load a saved network) first"
        )

    # --- data that fits this layout ---------------------------------------------

    def check_inputs(self, X, dtype):
        """Return ``X`` as a C-contiguous (n, sizes[0]) array of ``dtype``, checked.

        Raises TypeError or ValueError naming ``X`` (``_validation.data_array``).
        """
        return check.data_array(X, "X", dtype, int(self.sizes[0]))

    def check_examples(self, X, Y, dtype, names=("X", "Y"), finite_X=True):
        """Return inputs ``X`` and targets ``Y`` as checked arrays of ``dtype``.

        ``Y`` must have one row per row of ``X``, ``sizes[-1]`` columns and, for
        the log costs, values in [0, 1] (targets are probabilities). With
        ``finite_X`` False, the caller checks that ``X`` is finite
        (``_validation.check_finite_data``).

        Parameters
        ----------
        X, Y : array_like
            Inputs and targets, one example per row.
        dtype : numpy.dtype
            The network's dtype.
        names : (str, str)
            What the messages call ``X`` and ``Y``.
        finite_X : bool
            Whether to check here that every entry of ``X`` is finite.

        Returns
        -------
        X, Y : ndarray
        """
        x_name, y_name = names
        X = check.data_array(X, x_name, dtype, int(self.sizes[0]), finite_X)
        Y = check.data_array(Y, y_name, dtype, int(self.sizes[-1]))
        if Y.shape[0] != X.shape[0]:
            raise ValueError(
                f"{y_name} has {Y.shape[0]} rows but {x_name} has {X.shape[0]}:"
                " one target row per example"
            )
        cost = self.cost_name
        if cost in PROBABILITY_TARGETS and (Y.min() < 0 or Y.max() > 1):
            raise ValueError(
                f"{y_name} must lie in [0, 1] for cost={cost!r} (targets are"
                f" probabilities); got values in [{Y.min()}, {Y.max()}]"
            )
        return X, Y

    def check_cost_arguments(self, X, Y, dtype, reduction, l2):
        """Check the arguments of a cost or gradient, as every backend takes them.

        Returns
        -------
        X, Y : ndarray
            As ``check_examples``.
        scale : numpy scalar of ``dtype``
            1 / n for ``reduction="mean"``, 1 for ``"sum"``.
        l2 : numpy scalar of ``dtype``
            L2 strength, finite and >= 0 in ``dtype``.
        """
        X, Y = self.check_examples(X, Y, dtype)
        return (X, Y, *check_reduction(reduction, l2, dtype, X.shape[0]))


def check_reduction(reduction, l2, dtype, n_examples):
    """The scale of a ``reduction`` over ``n_examples`` and ``l2``, in ``dtype``.

    Returns
    -------
    scale : numpy scalar
        1 / n_examples for ``"mean"``, 1 for ``"sum"``.
    l2 : numpy scalar
        L2 strength, checked finite and >= 0 in ``dtype``.
    """
    check.check_choice(reduction, "reduction", REDUCTIONS)
    l2 = check.check_l2(l2, dtype)
    to = np.dtype(dtype).type
    scale = to(1 / n_examples) if reduction == "mean" else to(1)
    return scale, to(l2)
