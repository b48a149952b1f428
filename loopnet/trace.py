"""One small network followed through every equation of backpropagation.

``trace(net, X, Y)`` lists, in the order backpropagation computes them, every

    z[b, j]     = sum_k W[j, k] a_prev[b, k] + bias[j]
    a[b, j]     = sigma(z[b, j])
    delta[b, j] = dC_b/dz[b, j]          (output error, then hidden errors)
    dC/dW[j, k] = sum_b delta[b, j] a_prev[b, k]
    dC/dbias[j] = sum_b delta[b, j]
    W_new[j, k] = W[j, k] - lr dC/dW[j, k]   (the SGD step, and so for biases)

each with its equation, the equation's numbers, the value computed by the
compiled per-index loop kernels (their plain siblings: each equation as a triple
loop, ``layer_values(method="plain")``) and the value of the NumPy matrix form. The
cost
is summed over the batch, C = sum_b C_b, as in the seeds. ``worked_example()``
is seed 001's 2-3-1 network, which ``loopnet trace --example worked`` follows.
Each step also keeps its equation as a sequence of named values (``Factor``), so
that ``loopnet.trace_page`` can write it in any notation with these numbers.
"""

from dataclasses import dataclass

import numpy as np

from loopnet import kernels, reference
from loopnet._validation import check_real
from loopnet.activations import ARRAY_FORMS
from loopnet.compare import layer_values
from loopnet.costs import cost_gradient
from loopnet.notation import from_welch, to_welch

MAX_UNITS = 6
"""Most units per layer ``trace`` accepts: each z sums one term per unit below."""

MAX_BATCH = 4
"""Most examples ``trace`` accepts."""

LR = 0.5
"""Learning rate of the SGD step a trace ends with, unless given."""

WORKED_X = ((0.3, 1.0),)
WORKED_Y = ((0.75,),)
WORKED_BATCH_X = ((0.3, 1.0), (0.5, 0.2), (1.0, 0.4))
WORKED_BATCH_Y = ((0.75,), (0.82,), (0.93,))

EXAMPLES = ("worked", "worked-batch")
"""Names of the seeds' examples ``worked_example`` builds."""


def worked_example(name="worked"):
    """Seed 001's worked example: the 2-3-1 network and its input(s).

    ``W1 = ones(2, 3)``, ``W2 = ones(3, 1)`` in Welch's ``z = X @ W`` notation,
    no biases, sigmoid units, ``J = sum 1/2 (y - yhat)^2``.

    Parameters
    ----------
    name : {"worked", "worked-batch"}
        ``"worked"``: the one example ``X = [[0.3, 1.0]]``, ``y = [[0.75]]``
        (the seed's question 11). ``"worked-batch"``: the three examples
        ``X = [[0.3, 1.0], [0.5, 0.2], [1.0, 0.4]]`` of question 16, with
        targets ``[[0.75], [0.82], [0.93]]``: the seed gives the first only;
        the other two are the scores of the same data set in the video series
        the notes accompany (hours of sleep and study, scaled by their maxima).

    Returns
    -------
    net : Network
        ``from_welch([ones(2, 3), ones(3, 1)])``.
    X, Y : ndarray
        Inputs and targets, one example per row.

    Examples
    --------
    >>> from loopnet.trace import worked_example
    >>> net, X, Y = worked_example()
    >>> net.sizes, X.tolist(), Y.tolist()
    ((2, 3, 1), [[0.3, 1.0]], [[0.75]])
    """
    if name not in EXAMPLES:
        expected = ", ".join(repr(e) for e in EXAMPLES)
        raise ValueError(f"name must be one of {expected}; got {name!r}")
    net = from_welch([np.ones((2, 3)), np.ones((3, 1))])
    if name == "worked":
        return net, np.array(WORKED_X), np.array(WORKED_Y)
    return net, np.array(WORKED_BATCH_X), np.array(WORKED_BATCH_Y)


@dataclass(frozen=True)
class Factor:
    """One named value an equation reads, as loopnet indexes it.

    Attributes
    ----------
    quantity : str
        ``"x"``, ``"y"``, ``"z"``, ``"a"``, ``"delta"``, ``"W"``, ``"bias"``,
        ``"dW"``, ``"dbias"``, ``"sigma_prime"`` (sigma'(z) of the unit),
        ``"grad_a"`` (dC_b/da of an output unit),
        ``"lr"``, or ``"sigma"``: the layer's activation function, a name
        without a value.
    layer : int
        loopnet's layer l (0 for ``x``, the last layer for ``y``).
    index : tuple of int
        ``(b, j)`` for a unit's value of example b (``(b, k)`` for ``x``),
        ``(j, k)`` for a weight, ``(j,)`` for a bias, ``()`` for ``lr``.
    value : float or None
        The number the equation used (``None`` for ``"sigma"``).
    """

    quantity: str
    layer: int
    index: tuple
    value: float | None


def _factor(quantity, layer, index, value=None):
    return Factor(
        quantity, layer, tuple(index), None if value is None else float(value)
    )


@dataclass(frozen=True)
class Step:
    """One value of backpropagation, computed both ways.

    Attributes
    ----------
    name : str
        The quantity with its indexes, ``"z[0, 2]"``.
    equation : str
        The equation that produced it, in DESIGN's index names.
    numbers : str
        The right-hand side with the numbers put in.
    loop : float
        Value from the compiled per-index loop kernels (the plain siblings).
    matrix : float
        Value from the NumPy matrix form.
    quantity : str
        What is computed: ``"z"``, ``"a"``, ``"delta"``, ``"dW"``, ``"dbias"``,
        ``"W_new"`` or ``"bias_new"``.
    layer : int
        loopnet's layer l of the quantity.
    index : tuple of int
        Its indexes, as ``Factor.index``.
    expression : tuple
        The right-hand side with every term: ``Factor`` values between strings
        (operators and brackets).
    """

    name: str
    equation: str
    numbers: str
    loop: float
    matrix: float
    quantity: str = ""
    layer: int = 0
    index: tuple = ()
    expression: tuple = ()


@dataclass(frozen=True)
class Section:
    """The steps of one stage of one layer, with the matrix one-liner they expand."""

    title: str
    matrix_form: str
    steps: tuple


@dataclass(frozen=True)
class Trace:
    """Every step of one forward and backward pass, layer by layer.

    Attributes
    ----------
    header : tuple of str
        Lines describing the network and the example.
    sections : tuple of Section
        Forward pass layer 1..L, errors and gradients for layer L..1, then the
        SGD step of layer 1..L.
    footer : tuple of str
        Closing lines (for the worked example: the seed's answers).
    sizes : tuple of int
        Units per layer, inputs first.
    activations : tuple of str
        Activation of layer l = 1..L, at index l - 1.
    cost : str
        The cost's name.
    lr : float
        Learning rate of the SGD step.
    n_batch : int
        Examples followed.
    """

    header: tuple
    sections: tuple
    footer: tuple = ()
    sizes: tuple = ()
    activations: tuple = ()
    cost: str = ""
    lr: float = LR
    n_batch: int = 1

    @property
    def steps(self):
        """Every step, in order."""
        return [step for section in self.sections for step in section.steps]

    @property
    def max_abs_diff(self):
        """Return the largest |loop - matrix| over the steps."""
        return max(abs(step.loop - step.matrix) for step in self.steps)

    def __str__(self):
        """Return the trace as text: header, sections of steps, footer."""
        lines = list(self.header)
        for section in self.sections:
            lines += ["", section.title, f"  matrix form: {section.matrix_form}"]
            for step in section.steps:
                pad = " " * (len(step.name) + 1)
                lines.append(f"  {step.name} = {step.equation}")
                if step.numbers:
                    lines.append(f"  {pad}= {step.numbers}")
                value = f"= {step.loop:.10g}"
                lines.append(
                    f"  {pad}{value:<20} matrix {step.matrix:<18.10g}"
                    f" |loop - matrix| {abs(step.loop - step.matrix):.1e}"
                )
        if self.footer:
            lines += ["", *self.footer]
        return "\n".join(lines)

    def to_html(self, notation="loopnet"):
        """Return the trace as one self-contained HTML page (``loopnet.trace_page``).

        Parameters
        ----------
        notation : str
            The notation the page opens in, a key of ``loopnet.notation.NOTATIONS``.

        Returns
        -------
        str
        """
        from loopnet.trace_page import page  # the page builds on this module

        return page(self, notation, EXPLANATION)

    def _repr_html_(self):
        """Show the page inline in Jupyter, in a frame of its own.

        The frame keeps the page's style, ids and script apart from the
        notebook's and from other traces shown beside it.
        """
        from html import escape

        return (
            f'<iframe srcdoc="{escape(self.to_html(), quote=True)}"'
            ' title="loopnet trace" style="width: 100%; height: 900px; border: 0">'
            "</iframe>"
        )


def _step(name, equation, numbers, loop, matrix, quantity, layer, index, expression):
    """Build a Step, its values as Python floats (the buffers hold NumPy scalars)."""
    return Step(
        name,
        equation,
        numbers,
        float(loop),
        float(matrix),
        quantity,
        layer,
        tuple(int(i) for i in index),
        tuple(expression),
    )


def _sum_of(terms):
    """``terms`` (each a list of tokens) joined by ``" + "``."""
    tokens = []
    for i, term in enumerate(terms):
        tokens += ([" + "] if i else []) + list(term)
    return tokens


def _num(x):
    return f"{x:.4g}"


def _join(values, texts):
    """Join ``texts`` (each for ``abs`` of its value) with the values' signs."""
    text = ""
    for i, (value, term) in enumerate(zip(values, texts, strict=True)):
        if i == 0:
            text = term if value >= 0 else f"-{term}"
        else:
            text += f" + {term}" if value >= 0 else f" - {term}"
    return text


def _products(lefts, rights, extra=None):
    """``"l1*r1 + l2*r2 - ..."``, then ``extra`` (a bias) added as a last term."""
    values = list(lefts)
    texts = [
        f"{_num(abs(left))}*{_num(right)}"
        for left, right in zip(lefts, rights, strict=True)
    ]
    if extra is not None:
        values.append(extra)
        texts.append(_num(abs(extra)))
    return _join(values, texts)


def _sum(values):
    """``"v1 + v2 - ..."``."""
    return _join(values, [_num(abs(value)) for value in values])


def _output_error_step(output, cost, layer, b, j, Z, A, Y):
    """(equation, numbers, matrix form, expression) of delta[b, j] of the outputs."""
    prime = f"{output}'(z[b, j])"
    z, a, y = Z[b, j], A[b, j], Y[b, j]
    a_factor = _factor("a", layer, (b, j), a)
    y_factor = _factor("y", layer, (b, j), y)
    if output == "sigmoid" and cost == "cross_entropy":
        return (
            "a[b, j] - y[b, j]",
            f"{_num(a)} - {_num(y)}",
            "delta = A - Y",
            (a_factor, " − ", y_factor),
        )
    if output == "softmax" and cost == "log_likelihood":
        targets = [[_factor("y", layer, (b, i), Y[b, i])] for i in range(Y.shape[1])]
        return (
            "a[b, j] * sum_i y[b, i] - y[b, j]",
            f"{_num(a)} * {_num(Y[b].sum())} - {_num(y)}",
            "delta = A * Y.sum(axis=1, keepdims=True) - Y",
            (a_factor, " · (", *_sum_of(targets), ") − ", y_factor),
        )
    if output == "sigmoid" and cost == "log_likelihood":
        return (
            "-y[b, j] * (1 - a[b, j])",
            f"-{_num(y)} * (1 - {_num(a)})",
            "delta = -Y * (1 - A)",
            ("−", y_factor, " · (1 − ", a_factor, ")"),
        )
    if cost == "quadratic" and output != "softmax":
        sigma_prime = ARRAY_FORMS[output][1](np.array([z]))[0]
        return (
            f"(a[b, j] - y[b, j]) * {prime}",
            f"({_num(a)} - {_num(y)}) * {_num(sigma_prime)}",
            f"delta = (A - Y) * {output}'(Z)",
            (
                "(",
                a_factor,
                " − ",
                y_factor,
                ") · ",
                _factor("sigma_prime", layer, (b, j), sigma_prime),
            ),
        )
    # softmax with a cost of each output: the Jacobian product J^T g, whose row j
    # is a_j (g_j - sum_i a_i g_i) with g = dC_b/da (reference.jacobian_...)
    g = cost_gradient(cost, A[b : b + 1], Y[b : b + 1])[0]
    n_out = A.shape[1]
    weighted = [
        [
            _factor("a", layer, (b, i), A[b, i]),
            " · ",
            _factor("grad_a", layer, (b, i), g[i]),
        ]
        for i in range(n_out)
    ]
    equation = (
        "a[b, j] * (g[b, j] - sum_i a[b, i] g[b, i]), g = dC_b/da, the softmax"
        " Jacobian product"
    )
    return (
        equation,
        f"{_num(a)} * ({_num(g[j])} - ({_products(A[b], g)}))",
        "delta = A * (G - (A * G).sum(axis=1, keepdims=True)), G = grad_a C",
        (
            a_factor,
            " · (",
            _factor("grad_a", layer, (b, j), g[j]),
            " − (",
            *_sum_of(weighted),
            "))",
        ),
    )


def _unit_input(layer, b, k, value):
    """Factor of unit k of layer ``layer`` - 1 as layer ``layer`` reads it."""
    return _factor("x" if layer == 1 else "a", layer - 1, (b, k), value)


def _forward_section(net, layer, A_prev, loop, matrix):
    """Build the steps z[b, j] and a[b, j] of layer l = ``layer + 1``."""
    W, bias, activation = net.weights[layer], net.biases[layer], net.activations[layer]
    number = layer + 1
    inputs = "x" if layer == 0 else "a_prev"
    z_equation = f"sum_k W[j, k] {inputs}[b, k]" + (" + bias[j]" if net.bias else "")
    steps = []
    for b in range(A_prev.shape[0]):
        for j in range(W.shape[0]):
            numbers = _products(W[j], A_prev[b], bias[j] if net.bias else None)
            terms = [
                [
                    _factor("W", number, (j, k), W[j, k]),
                    " · ",
                    _unit_input(number, b, k, a_k),
                ]
                for k, a_k in enumerate(A_prev[b])
            ]
            if net.bias:
                terms.append([_factor("bias", number, (j,), bias[j])])
            z = loop["z"][layer][b, j]
            steps.append(
                _step(
                    f"z[{b}, {j}]",
                    z_equation,
                    numbers,
                    z,
                    matrix["z"][layer][b, j],
                    "z",
                    number,
                    (b, j),
                    _sum_of(terms),
                )
            )
            if activation == "softmax":
                a_equation = "exp(z[b, j]) / sum_i exp(z[b, i])"
                total = np.exp(loop["z"][layer][b]).sum()
                a_numbers = f"exp({_num(z)}) / {_num(total)}"
                exps = [
                    ["exp(", _factor("z", number, (b, i), z_i), ")"]
                    for i, z_i in enumerate(loop["z"][layer][b])
                ]
                expression = [
                    "exp(",
                    _factor("z", number, (b, j), z),
                    ") / (",
                    *_sum_of(exps),
                    ")",
                ]
            else:
                a_equation = f"{activation}(z[b, j])"
                a_numbers = f"{activation}({_num(z)})"
                expression = [
                    _factor("sigma", number, ()),
                    "(",
                    _factor("z", number, (b, j), z),
                    ")",
                ]
            a_loop, a_matrix = loop["a"][layer][b, j], matrix["a"][layer][b, j]
            steps.append(
                _step(
                    f"a[{b}, {j}]",
                    a_equation,
                    a_numbers,
                    a_loop,
                    a_matrix,
                    "a",
                    number,
                    (b, j),
                    expression,
                )
            )
    bias_term = " + bias" if net.bias else ""
    return Section(
        f"Layer {number} forward: {W.shape[0]} {activation} unit(s)",
        f"Z = A_prev @ W.T{bias_term};  A = {activation}(Z)",
        tuple(steps),
    )


def _error_section(net, layer, Y, loop, matrix):
    """Build the steps delta[b, j] of layer l = ``layer + 1`` (output or hidden)."""
    delta = loop["delta"][layer]
    Z, A = loop["z"][layer], loop["a"][layer]
    number = layer + 1
    steps = []
    if layer == len(net.activations) - 1:
        title = f"Layer {number} output error: {net.output} + {net.cost_name}"
        for b, j in np.ndindex(delta.shape):
            equation, numbers, matrix_form, expression = _output_error_step(
                net.output, net.cost_name, number, b, j, Z, A, Y
            )
            steps.append(
                _step(
                    f"delta[{b}, {j}]",
                    equation,
                    numbers,
                    delta[b, j],
                    matrix["delta"][layer][b, j],
                    "delta",
                    number,
                    (b, j),
                    expression,
                )
            )
        return Section(title, matrix_form, tuple(steps))
    activation = net.activations[layer]
    W_next, delta_next = net.weights[layer + 1], loop["delta"][layer + 1]
    sigma_prime = ARRAY_FORMS[activation][1](Z)
    equation = f"{activation}'(z[b, j]) * sum_m delta_next[b, m] W_next[m, j]"
    for b, j in np.ndindex(delta.shape):
        terms = _products(delta_next[b], W_next[:, j])
        numbers = f"{_num(sigma_prime[b, j])} * ({terms})"
        products = [
            [
                _factor("delta", number + 1, (b, m), delta_next[b, m]),
                " · ",
                _factor("W", number + 1, (m, j), W_next[m, j]),
            ]
            for m in range(W_next.shape[0])
        ]
        expression = [
            _factor("sigma_prime", number, (b, j), sigma_prime[b, j]),
            " · (",
            *_sum_of(products),
            ")",
        ]
        steps.append(
            _step(
                f"delta[{b}, {j}]",
                equation,
                numbers,
                delta[b, j],
                matrix["delta"][layer][b, j],
                "delta",
                number,
                (b, j),
                expression,
            )
        )
    return Section(
        f"Layer {number} hidden error",
        f"delta = (delta_next @ W_next) * {activation}'(Z)",
        tuple(steps),
    )


def _gradient_section(net, layer, A_prev, loop, matrix):
    """Build the steps dC/dW[j, k] and dC/dbias[j] of layer l = ``layer + 1``."""
    delta = loop["delta"][layer]
    number = layer + 1
    inputs = "x" if layer == 0 else "a_prev"
    steps = []
    for j, k in np.ndindex(net.weights[layer].shape):
        numbers = _products(delta[:, j], A_prev[:, k])
        terms = [
            [
                _factor("delta", number, (b, j), delta[b, j]),
                " · ",
                _unit_input(number, b, k, A_prev[b, k]),
            ]
            for b in range(delta.shape[0])
        ]
        steps.append(
            _step(
                f"dC/dW[{j}, {k}]",
                f"sum_b delta[b, j] {inputs}[b, k]",
                numbers,
                loop["dW"][layer][j, k],
                matrix["dW"][layer][j, k],
                "dW",
                number,
                (j, k),
                _sum_of(terms),
            )
        )
    matrix_form = "dW = delta.T @ A_prev"
    if net.bias:
        matrix_form += ";  dbias = delta.sum(axis=0)"
        for j in range(delta.shape[1]):
            terms = [
                [_factor("delta", number, (b, j), delta[b, j])]
                for b in range(delta.shape[0])
            ]
            steps.append(
                _step(
                    f"dC/dbias[{j}]",
                    "sum_b delta[b, j]",
                    _sum(delta[:, j]),
                    loop["dbias"][layer][j],
                    matrix["dbias"][layer][j],
                    "dbias",
                    number,
                    (j,),
                    _sum_of(terms),
                )
            )
    return Section(f"Layer {number} gradient", matrix_form, tuple(steps))


def _sgd_section(net, layer, lr, loop, matrix):
    """Build the steps W_new[j, k] and bias_new[j] of layer l = ``layer + 1``.

    The loop value is ``kernels.sgd_step`` of the loop form's gradient, the
    matrix value ``reference.sgd_step`` of the matrix form's.
    """
    number = layer + 1
    lr_factor = _factor("lr", 0, (), lr)
    parameters = [("W", "dW", net.weights[layer])]
    if net.bias:
        parameters.append(("bias", "dbias", net.biases[layer]))
    steps = []
    for name, gradient, values in parameters:
        loop_new = kernels.sgd_step(values, loop[gradient][layer], lr)[0]
        matrix_new = reference.sgd_step(values, matrix[gradient][layer], lr)[0]
        label = "dC/dW" if name == "W" else "dC/dbias"
        for index in np.ndindex(values.shape):
            at = ", ".join(map(str, index))
            value, grad = values[index], loop[gradient][layer][index]
            steps.append(
                _step(
                    f"{name}_new[{at}]",
                    f"{name}[{at}] - lr * {label}[{at}]",
                    _join(
                        [value, -grad],
                        [_num(abs(value)), f"{_num(lr)}*{_num(abs(grad))}"],
                    ),
                    loop_new[index],
                    matrix_new[index],
                    f"{name}_new",
                    number,
                    index,
                    (
                        _factor(name, number, index, value),
                        " − ",
                        lr_factor,
                        " · ",
                        _factor(gradient, number, index, grad),
                    ),
                )
            )
    bias_form = ";  bias_new = bias - lr * dbias" if net.bias else ""
    return Section(
        f"Layer {number} SGD step, lr {lr:g}",
        f"W_new = W - lr * dW{bias_form}",
        tuple(steps),
    )


def trace(net, X, Y, header=(), footer=(), lr=LR):
    """Follow ``X`` through every equation of ``net``, loop value beside matrix value.

    Parameters
    ----------
    net : Network
        A small network: at most ``MAX_UNITS`` units per layer.
    X : array_like, shape (n_batch, sizes[0])
        At most ``MAX_BATCH`` examples, one per row.
    Y : array_like, shape (n_batch, sizes[-1])
        Targets.
    header, footer : sequence of str
        Lines printed before and after the steps.
    lr : float
        Learning rate of the closing SGD step, > 0.

    Returns
    -------
    Trace
        ``str(trace)`` prints it; ``trace.to_html()`` is the same as a page.

    Examples
    --------
    >>> from loopnet.trace import trace, worked_example
    >>> steps = trace(*worked_example()).steps
    >>> steps[0].name, steps[0].numbers, round(steps[1].loop, 4)
    ('z[0, 0]', '1*0.3 + 1*1', 0.7858)
    >>> steps[-1].name, steps[-1].numbers, round(steps[-1].loop, 6)
    ('W_new[0, 2]', '1 - 0.5*0.01015', 0.994924)
    """
    loop = layer_values(net, X, Y, "sum", 0.0, "plain")
    if max(net.sizes) > MAX_UNITS:
        raise ValueError(
            f"trace follows small networks, at most {MAX_UNITS} units per layer;"
            f" got sizes {list(net.sizes)}"
        )
    X, Y = net.layout.check_examples(X, Y, net.dtype)
    if X.shape[0] > MAX_BATCH:
        raise ValueError(
            f"trace follows at most {MAX_BATCH} examples; X has {X.shape[0]} rows"
        )
    lr = check_real(lr, "lr", 0.0, low_open=True, dtype=net.dtype)
    matrix = layer_values(net, X, Y, "sum", 0.0, "matrix")
    A_prevs = [X, *loop["a"][:-1]]
    n_layers = len(net.activations)
    sections = [
        _forward_section(net, layer, A_prevs[layer], loop, matrix)
        for layer in range(n_layers)
    ]
    for layer in range(n_layers - 1, -1, -1):
        sections.append(_error_section(net, layer, Y, loop, matrix))
        sections.append(_gradient_section(net, layer, A_prevs[layer], loop, matrix))
    sections += [
        _sgd_section(net, layer, lr, loop, matrix) for layer in range(n_layers)
    ]
    return Trace(
        tuple(header),
        tuple(sections),
        tuple(footer),
        tuple(net.sizes),
        tuple(net.activations),
        net.cost_name,
        lr,
        X.shape[0],
    )


EXPLANATION = (
    "Indexes: b an example (a row of X), j a unit of the layer, k a unit of the",
    "layer below, m of the layer above; W[j, k] joins unit k below to unit j.",
    "Each value is computed twice: after '=' by compiled loops written as the sums,",
    "after 'matrix' by the NumPy matrix form. C = sum_b C_b, summed over the batch.",
)


def worked_trace(name="worked", lr=LR):
    """Trace seed 001's worked example, with its notation and answers around it.

    Parameters
    ----------
    name : {"worked", "worked-batch"}
        One example or three, as in ``worked_example``.
    lr : float
        Learning rate of the closing SGD step.

    Returns
    -------
    Trace
        Its header maps Welch's notation to loopnet's; its footer gives the
        seed's answers dJdW2 = a2^T delta3 and dJdW1 = X^T delta2 in Welch's
        layout, and notes the seed's rounding.

    Examples
    --------
    >>> from loopnet.trace import worked_trace
    >>> print(worked_trace().footer[1])
      dJdW2 = a2.T @ delta3 = [[0.01015], [0.01015], [0.01015]]
    """
    net, X, Y = worked_example(name)
    data = ("X = [[0.3, 1.0]], y = [[0.75]].",)
    if name == "worked-batch":
        data = (
            "X = [[0.3, 1.0], [0.5, 0.2], [1.0, 0.4]], y = [[0.75], [0.82], [0.93]]",
            "(the seed gives y for the first row only).",
        )
    header = (
        "Seed 001's worked example (Welch's notes): a 2-3-1 network, W1 = ones(2, 3),",
        "W2 = ones(3, 1), no biases, sigmoid units, J = sum 1/2 (y - yhat)^2,",
        *data,
        "Welch's layer l + 1 is loopnet's layer l (his z^(2), a^(2), delta^(2) are",
        "z, a, delta of layer 1 below) and his W^(l) is loopnet's W transposed:",
        "W[j, k] = W^(l)[k, j].",
        *EXPLANATION,
    )
    dJdW1, dJdW2 = to_welch(net.gradient(X, Y, reduction="sum"))
    footer = (
        "In Welch's layout (his dJ/dW^(number) is loopnet's dC/dW^number transposed):",
        f"  dJdW2 = a2.T @ delta3 = {_matrix(dJdW2)}",
        f"  dJdW1 = X.T @ delta2 = {_matrix(dJdW1)}",
        "The notes' hand arithmetic writes sigmoid(1.3) as 0.74 (and z3 = 2.37,",
        "yhat = 0.92); computed: a2 = 0.7858, z3 = 2.358, yhat = 0.9135 (example 1).",
    )
    return trace(net, X, Y, header, footer, lr)


def _matrix(array):
    """Format a small matrix as nested lists of 4-significant-digit numbers."""
    return "[" + ", ".join("[" + ", ".join(map(_num, row)) + "]" for row in array) + "]"


def network_line(net):
    """Describe ``net`` in one line: sizes, activations, cost, bias and dtype.

    Examples
    --------
    >>> import loopnet as ln
    >>> from loopnet.trace import network_line
    >>> network_line(ln.Network([3, 2, 2], output="tanh"))
    'network [3, 2, 2]: sigmoid hidden, tanh output, cost quadratic, bias on, float64'
    """
    hidden = f"{net.activation} hidden, " if len(net.sizes) > 2 else ""
    return (
        f"network {list(net.sizes)}: {hidden}{net.output} output, cost {net.cost_name},"
        f" bias {'on' if net.bias else 'off'}, {net.dtype.name}"
    )
