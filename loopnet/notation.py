"""Conversions between loopnet and the seeds' notations for the same network.

loopnet writes layer l as

    z^l_j = sum_k W^l[j, k] a^{l-1}_k + b^l_j,      W^l of shape (n_l, n_{l-1}),

with one example per row of ``X``. The seeds write the same network two other
ways, converted here rather than adopted:

- **Welch** (seed 001): ``z^(2) = X W^(1)``, ``a^(2) = f(z^(2))``,
  ``z^(3) = a^(2) W^(2)``, ``yhat = f(z^(3))``, ``J = sum 1/2 (y - yhat)^2``.
  ``W^(l)`` has shape ``(inputLayerSize, hiddenLayerSize)``: one row per unit of
  the layer below, one column per unit above, and there are no biases. So
  Welch's ``W^(l)`` is loopnet's ``W^l.T``, his layer l + 1 is loopnet's layer
  l, and ``dJ/dW^(l) = (dC/dW^l).T`` with the summed cost (``reduction="sum"``).
- **Ng** (seed 000): ``Theta^(l)`` has ``s_{l+1}`` rows and ``s_l + 1``
  columns, "the +1 for columns comes from bias nodes": column 0 multiplies a
  constant bias unit ``a_0 = 1``. So ``Theta[:, 0]`` is loopnet's bias and
  ``Theta[:, 1:]`` its ``W``. Ng's regularized gradient
  ``D = (1/m) Delta + (lambda/m) Theta`` for ``j != 0``, with "no regularization
  for bias term" ``j = 0``, is loopnet's ``gradient(reduction="mean",
  l2=lambda)``, whose L2 term never touches biases. Ng's parameters are also
  unrolled into one vector, ``thetaVec = [Theta1(:); Theta2(:)]``, in Octave's
  column-major order (``unroll``, ``reshape``).

Every function keeps the precision of the matrices it is given (float32 or
float64; integers become float64).
"""

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from loopnet import _validation as check
from loopnet.layout import Gradient, check_sizes
from loopnet.network import Network

ORDERS = ("F", "C")


def _float_dtype(dtypes, name):
    """Return the dtype arrays convert to: float32 if all are, else float64."""
    dtype = np.result_type(*dtypes, np.float32)
    if dtype not in check.FLOAT_DTYPES:
        raise ValueError(f"{name} must be float32 or float64, got {dtype}")
    return dtype


def _matrices(matrices, name):
    """``matrices`` as a list of finite 2-D float arrays of one dtype."""
    if isinstance(matrices, str | bytes | np.ndarray) or not isinstance(
        matrices, Sequence
    ):
        raise TypeError(
            f"{name} must be a list of 2-D matrices, got {type(matrices).__name__}"
        )
    if not matrices:
        raise ValueError(f"{name} must hold at least one matrix, got an empty list")
    arrays = []
    for i, matrix in enumerate(matrices):
        array = check.as_array(matrix, f"{name}[{i}]")
        check._check_numeric(array, f"{name}[{i}]")
        if array.ndim != 2 or 0 in array.shape:
            raise ValueError(
                f"{name}[{i}] must be a non-empty 2-D matrix, got shape {array.shape}"
            )
        arrays.append(array)
    dtype = _float_dtype([array.dtype for array in arrays], name)
    arrays = [array.astype(dtype, copy=False) for array in arrays]
    for i, array in enumerate(arrays):
        check._check_finite(array, f"{name}[{i}]")
    return arrays


def _parameter_lists(source, function):
    """``(weights, biases, has_bias)`` of a Network or a Gradient."""
    if isinstance(source, Network):
        return source.weights, source.biases, source.bias
    if isinstance(source, Gradient):
        n_weights = sum(W.size for W in source.weights)
        return source.weights, source.biases, source.flat.size > n_weights
    raise TypeError(
        f"{function} takes a loopnet.Network or a Gradient, got {type(source).__name__}"
    )


def from_welch(weights, activation="sigmoid", output="sigmoid"):
    """Build a bias-free network from Welch's matrices, used as z = a_prev @ W.

    Seed 001 writes ``z^(2) = X W^(1)``, ``a^(2) = f(z^(2))``,
    ``z^(3) = a^(2) W^(2)``, ``yhat = f(z^(3))`` and ``J = sum 1/2 (y - yhat)^2``,
    with ``W1`` of shape ``(inputLayerSize, hiddenLayerSize)`` and no biases.
    loopnet's ``W^l[j, k]`` is Welch's ``W^(l)[k, j]``.

    Parameters
    ----------
    weights : sequence of array_like
        ``weights[i]`` has shape ``(n_in, n_out)``; the ``n_out`` of one matrix
        is the ``n_in`` of the next.
    activation : str
        Hidden activation f (Welch: the sigmoid).
    output : str
        Output activation (Welch: the sigmoid again).

    Returns
    -------
    Network
        ``bias=False``, ``cost="quadratic"``, in the matrices' dtype. Its
        ``gradient(X, y, reduction="sum")`` is Welch's dJ/dW, transposed:
        ``to_welch(net.gradient(X, y, reduction="sum"))`` gives
        ``[dJdW1, dJdW2, ...]`` in his layout.

    Examples
    --------
    >>> import numpy as np
    >>> from loopnet import notation
    >>> net = notation.from_welch([np.ones((2, 3)), np.ones((3, 1))])
    >>> net.sizes, net.bias, net.weights[0].shape
    ((2, 3, 1), False, (3, 2))
    """
    weights = _matrices(weights, "weights")
    for i in range(1, len(weights)):
        n_in, n_prev_out = weights[i].shape[0], weights[i - 1].shape[1]
        if n_in != n_prev_out:
            raise ValueError(
                f"weights[{i}] has {n_in} rows but weights[{i - 1}] has"
                f" {n_prev_out} columns: consecutive (n_in, n_out) matrices must"
                " chain, the n_out of one being the n_in of the next"
            )
    sizes = [weights[0].shape[0], *(W.shape[1] for W in weights)]
    net = Network(
        sizes,
        activation,
        output,
        "quadratic",
        bias=False,
        dtype=weights[0].dtype,
        seed=0,
    )
    for W, welch in zip(net.weights, weights, strict=True):
        W[...] = welch.T
    return net


def to_welch(source):
    """Welch's ``(n_in, n_out)`` matrices of a bias-free network or of its gradient.

    ``to_welch(net)[l - 1]`` is loopnet's ``W^l.T``, Welch's ``W^(l)`` in
    ``z^(l+1) = a^(l) W^(l)`` (seed 001). Given ``net.gradient(X, y,
    reduction="sum")`` it returns Welch's ``[dJdW1, dJdW2, ...]``.

    Parameters
    ----------
    source : Network or Gradient
        A network without biases, or a gradient of one.

    Returns
    -------
    list of ndarray
        New C-contiguous arrays in the source's dtype.

    Raises
    ------
    ValueError
        If the network has biases: Welch's notation has none (``to_theta``
        keeps them).

    Examples
    --------
    >>> import numpy as np
    >>> from loopnet import notation
    >>> net = notation.from_welch([np.ones((2, 3)), np.ones((3, 1))])
    >>> [W.shape for W in notation.to_welch(net)]
    [(2, 3), (3, 1)]
    """
    weights, _, has_bias = _parameter_lists(source, "to_welch")
    if has_bias:
        raise ValueError(
            "to_welch needs a network without biases (Welch's z = X @ W has none);"
            " the given one has bias=True: use to_theta, whose column 0 holds them"
        )
    return [np.ascontiguousarray(W.T) for W in weights]


def from_theta(thetas, activation="sigmoid", output="sigmoid", cost="cross_entropy"):
    """Build a network from Ng's Theta matrices, column 0 multiplying the bias unit.

    Seed 000: "If network has s_j units in layer j and s_{j+1} units in layer
    j+1, then Theta^(j) will have s_{j+1} rows and s_j + 1 columns. (The +1 for
    columns comes from bias nodes)", and ``z^(j+1) = Theta^(j) a^(j)`` with
    ``a^(j)`` headed by ``a_0 = 1``. So loopnet's ``bias = Theta[:, 0]`` and
    ``W = Theta[:, 1:]``.

    Parameters
    ----------
    thetas : sequence of array_like
        ``thetas[i]`` has shape ``(n_l, n_prev + 1)``; the rows of one matrix
        plus one are the columns of the next.
    activation : str
        Hidden activation g (Ng: the sigmoid).
    output : str
        Output activation (Ng: the sigmoid).
    cost : str
        Ng's cost is the logistic one, ``J = -(1/m) sum [y log h + (1 - y)
        log(1 - h)]``: ``"cross_entropy"``.

    Returns
    -------
    Network
        With biases, in the matrices' dtype. Its ``gradient(X, Y,
        reduction="mean", l2=lam)`` is Ng's regularized ``D``: ``to_theta`` of it
        lays it out as Ng's ``Theta`` gradients, column 0 unregularized.

    Examples
    --------
    >>> import numpy as np
    >>> from loopnet import notation
    >>> net = notation.from_theta([np.zeros((3, 3)), np.zeros((1, 4))])
    >>> net.sizes, net.bias
    ((2, 3, 1), True)
    """
    thetas = _matrices(thetas, "thetas")
    for i, theta in enumerate(thetas):
        if theta.shape[1] < 2:
            raise ValueError(
                f"thetas[{i}] has {theta.shape[1]} column; it needs the bias column"
                " 0 plus one column per unit of the layer below"
            )
        if i and theta.shape[1] != thetas[i - 1].shape[0] + 1:
            n_prev = thetas[i - 1].shape[0]
            raise ValueError(
                f"thetas[{i}] has {theta.shape[1]} columns but thetas[{i - 1}] has"
                f" {n_prev} rows: consecutive matrices must chain, thetas[{i}]"
                f" needs {n_prev} + 1 columns (column 0 multiplies the bias unit)"
            )
    sizes = [thetas[0].shape[1] - 1, *(theta.shape[0] for theta in thetas)]
    net = Network(
        sizes, activation, output, cost, bias=True, dtype=thetas[0].dtype, seed=0
    )
    for W, bias, theta in zip(net.weights, net.biases, thetas, strict=True):
        bias[...] = theta[:, 0]
        W[...] = theta[:, 1:]
    return net


def to_theta(source):
    """Ng's ``(n_l, n_prev + 1)`` Theta matrices of a network or of its gradient.

    ``to_theta(net)[l - 1]`` is ``[bias^l | W^l]``: column 0 the bias (seed 000's
    bias-node column), columns 1.. the weights. A network without biases gets a
    column of zeros.

    Parameters
    ----------
    source : Network or Gradient
        The network, or a gradient of one (giving Ng's ``D`` matrices).

    Returns
    -------
    list of ndarray
        New C-contiguous arrays in the source's dtype.

    Examples
    --------
    >>> import numpy as np
    >>> from loopnet import notation
    >>> thetas = [np.arange(6.0).reshape(2, 3), np.arange(3.0).reshape(1, 3)]
    >>> back = notation.to_theta(notation.from_theta(thetas))
    >>> all(np.array_equal(a, b) for a, b in zip(thetas, back))
    True
    """
    weights, biases, _ = _parameter_lists(source, "to_theta")
    return [
        np.concatenate([bias[:, None], W], axis=1)
        for W, bias in zip(weights, biases, strict=True)
    ]


def unroll(thetas, order="F"):
    """Ng's unrolled parameter vector, ``thetaVec = [Theta1(:); Theta2(:); ...]``.

    Parameters
    ----------
    thetas : sequence of array_like
        2-D matrices (any shapes; ``reshape`` undoes it given the layer sizes).
    order : {"F", "C"}
        ``"F"``, Octave's ``Theta(:)``, reads each matrix column by column, as in
        the course seed 000 follows; ``"C"`` row by row, as ``Theta.ravel()``.

    Returns
    -------
    ndarray, shape (sum of the matrices' sizes,)
        In the matrices' dtype.

    Examples
    --------
    >>> import numpy as np
    >>> from loopnet import notation
    >>> notation.unroll([np.array([[1.0, 2.0], [3.0, 4.0]])])
    array([1., 3., 2., 4.])
    """
    check.check_choice(order, "order", ORDERS)
    thetas = _matrices(thetas, "thetas")
    return np.concatenate([theta.ravel(order=order) for theta in thetas])


def reshape(flat, sizes, order="F"):
    """Ng's Theta matrices from an unrolled vector: the inverse of ``unroll``.

    Octave's ``Theta1 = reshape(thetaVec(1:s2 * (s1 + 1)), s2, s1 + 1)`` and so
    on for every layer.

    Parameters
    ----------
    flat : array_like, shape (n,)
        The unrolled vector; n = sum over layers of n_l * (n_prev + 1).
    sizes : sequence of int
        Units per layer, inputs first, bias units not counted: ``[2, 3, 1]``.
    order : {"F", "C"}
        The order ``unroll`` used.

    Returns
    -------
    list of ndarray
        ``thetas[l - 1]`` of shape ``(n_l, n_prev + 1)``, views into the vector
        (as converted to float32 or float64).

    Examples
    --------
    >>> import numpy as np
    >>> from loopnet import notation
    >>> [t.shape for t in notation.reshape(np.zeros(13), [2, 3, 1])]
    [(3, 3), (1, 4)]
    """
    check.check_choice(order, "order", ORDERS)
    sizes = check_sizes(sizes)
    array = check.as_array(flat, "flat")
    check._check_numeric(array, "flat")
    if array.ndim != 1:
        raise ValueError(f"flat must be a 1-D vector, got shape {array.shape}")
    flat = array.astype(_float_dtype([array.dtype], "flat"), copy=False)
    check._check_finite(flat, "flat")
    shapes = [(n_l, n_prev + 1) for n_prev, n_l in itertools.pairwise(sizes)]
    n_expected = sum(n_l * n_cols for n_l, n_cols in shapes)
    if flat.shape[0] != n_expected:
        raise ValueError(
            f"flat has {flat.shape[0]} entries; sizes {list(sizes)} need"
            f" {n_expected} (n_l * (n_prev + 1) per layer)"
        )
    thetas, start = [], 0
    for shape in shapes:
        n = shape[0] * shape[1]
        thetas.append(flat[start : start + n].reshape(shape, order=order))
        start += n
    return thetas


class Symbol(NamedTuple):
    """One quantity as a notation writes it: base, superscript, subscript, suffix.

    ``text`` joins them as ``base^sup_sub suffix`` (``"z^1[0, 2]"``, ``"w^2_13"``);
    a page sets ``sup`` and ``sub`` raised and lowered.
    """

    base: str
    sup: str
    sub: str
    suffix: str

    @property
    def text(self):
        """The symbol on one line of plain text."""
        sup = f"^{self.sup}" if self.sup else ""
        sub = f"_{self.sub}" if self.sub else ""
        return f"{self.base}{sup}{sub}{self.suffix}"


@dataclass(frozen=True)
class Notation:
    """How one notation names and numbers a network's quantities.

    Attributes
    ----------
    title : str
        Whose notation, for a reader.
    letters : dict of str to str
        The letter of each quantity: ``"x"``, ``"y"``, ``"z"``, ``"a"``,
        ``"output"`` (a of the last layer), ``"delta"``, ``"W"``, ``"bias"``,
        ``"sigma"`` (the sigmoid), ``"cost"`` and ``"lr"``.
    input_layer : int
        The number of the input layer (loopnet's layer 0): units of loopnet's
        layer l are numbered ``l + input_layer``.
    weights_above : bool
        Whether a weight matrix takes the number of the layer it feeds (loopnet,
        Nielsen) rather than of the layer it reads (Welch's W^(l), Ng's Theta^(l)).
    first_index : int
        The index of the first unit and of the first example: 0 or 1.
    brackets : bool
        Indexes as ``[b, j]`` after the symbol, example first (loopnet, Welch),
        rather than as subscripts (Nielsen, Ng).
    transposed : bool
        Weights indexed ``[k, j]``, one row per unit below (Welch's
        ``z = X W``), rather than ``[j, k]``.
    bias_column : bool
        A bias is column 0 of the weight matrix, the bias unit's (Ng's Theta,
        whose units are numbered from 1).
    parenthesized : bool
        Layer numbers written ``(l)``.
    example : str
        Format of example b's mark where indexes are subscripts and there are
        several examples: a superscript ending in ``","`` goes before the layer
        number (Nielsen's ``a^{x,l}``), one starting with ``" "`` after the
        symbol.
    """

    title: str
    letters: dict
    input_layer: int
    weights_above: bool
    first_index: int
    brackets: bool
    transposed: bool = False
    bias_column: bool = False
    parenthesized: bool = False
    example: str = ""

    def symbol(self, quantity, layer, index, n_batch=1):
        """Write loopnet's ``quantity`` of ``layer`` at ``index`` in this notation.

        Parameters
        ----------
        quantity : {"x", "y", "z", "a", "output", "delta", "W", "bias"}
            ``x`` is layer 0's; ``output`` is ``a`` of the last layer, ``y`` its
            targets.
        layer : int
            loopnet's layer l (0 for ``x``).
        index : tuple of int
            loopnet's indexes: ``(b, j)`` (``(b, k)`` for ``x``), ``(j, k)`` for
            ``W``, ``(j,)`` for ``bias``.
        n_batch : int
            Examples in the batch; with one, subscript notations leave b out.

        Returns
        -------
        Symbol

        Examples
        --------
        >>> from loopnet.notation import NOTATIONS
        >>> [NOTATIONS[name].symbol("W", 1, (0, 2)).text for name in NOTATIONS]
        ['W^1[0, 2]', 'w^2_13', 'W^(1)[2, 0]', 'Θ^(1)_1,3']
        """
        first = self.first_index
        if quantity in ("W", "bias"):
            number = layer + self.input_layer - (0 if self.weights_above else 1)
            sup = self._layer(number)
            j = index[0]
            if quantity == "bias" and self.bias_column:
                return Symbol(self.letters["W"], sup, f"{j + first},0", "")
            if quantity == "bias":
                units = (j + first,)
            else:
                units = (j + first, index[1] + first)
                units = units[::-1] if self.transposed else units
            letter = self.letters[quantity]
            if self.brackets:
                return Symbol(letter, sup, "", f"[{', '.join(map(str, units))}]")
            comma = "," if self.bias_column else ""
            return Symbol(letter, sup, comma.join(map(str, units)), "")
        b, unit = index
        letter = self.letters[quantity]
        sup = "" if quantity in ("x", "y") else self._layer(layer + self.input_layer)
        if letter != self.letters["a"] and quantity == "output":
            sup = ""  # Welch's yhat needs no layer
        if self.brackets:
            return Symbol(letter, sup, "", f"[{b + first}, {unit + first}]")
        mark = self.example.format(b + first) if n_batch > 1 else ""
        if mark.endswith(","):
            sup = f"{mark}{sup}".rstrip(",")
            mark = ""
        return Symbol(letter, sup, str(unit + first), mark)

    def _layer(self, number):
        return f"({number})" if self.parenthesized else str(number)


NOTATIONS = {
    "loopnet": Notation(
        "loopnet's own (DESIGN's index names, as loopnet trace prints them)",
        {
            **{q: q for q in ("x", "y", "z", "a", "W", "bias")},
            "output": "a",
            "delta": "δ",
            "sigma": "σ",
            "cost": "C",
            "lr": "η",
        },
        input_layer=0,
        weights_above=True,
        first_index=0,
        brackets=True,
    ),
    "nielsen": Notation(
        "Nielsen's (Neural Networks and Deep Learning): input layer 1, neurons"
        " from 1, w^l_jk from neuron k of layer l-1 to neuron j of layer l",
        {
            **{q: q for q in ("x", "y", "z", "a")},
            "output": "a",
            "delta": "δ",
            "W": "w",
            "bias": "b",
            "sigma": "σ",
            "cost": "C",
            "lr": "η",
        },
        input_layer=1,
        weights_above=True,
        first_index=1,
        brackets=False,
        example="x{},",
    ),
    "welch": Notation(
        "Welch's (seed 001): z^(l+1) = a^(l) W^(l), one example per row of X,"
        " W^(l) of shape (units below, units above), no biases, yhat the output",
        {
            **{q: q for q in ("y", "z", "a", "W")},
            "x": "X",
            "output": "ŷ",
            "delta": "δ",
            "bias": "b",
            "sigma": "f",
            "cost": "J",
            "lr": "η",
        },
        input_layer=1,
        weights_above=False,
        first_index=0,
        brackets=True,
        transposed=True,
        parenthesized=True,
    ),
    "ng": Notation(
        "Ng's (seed 000): input layer 1, units from 1, Theta^(l) from layer l to"
        " l+1 with column 0 for the bias unit, x^(i) the i-th example",
        {
            **{q: q for q in ("x", "y", "z", "a")},
            "output": "a",
            "delta": "δ",
            "W": "Θ",
            "bias": "Θ",
            "sigma": "g",
            "cost": "J",
            "lr": "α",
        },
        input_layer=1,
        weights_above=False,
        first_index=1,
        brackets=False,
        bias_column=True,
        parenthesized=True,
        example=" (i={})",
    ),
}
"""The notations a trace page switches between, loopnet's own first."""
