"""One small network followed through every equation of backpropagation.

``trace(net, X, Y)`` lists, in the order backpropagation computes them, every

    z[b, j]     = sum_k W[j, k] a_prev[b, k] + bias[j]
    a[b, j]     = sigma(z[b, j])
    delta[b, j] = dC_b/dz[b, j]          (output error, then hidden errors)
    dC/dW[j, k] = sum_b delta[b, j] a_prev[b, k]
    dC/dbias[j] = sum_b delta[b, j]

each with its equation, the equation's numbers, the value computed by the
compiled per-index loop kernels (their plain siblings: each equation as a triple
loop, ``layer_values(method="plain")``) and the value of the NumPy matrix form. The
cost
is summed over the batch, C = sum_b C_b, as in the seeds. ``worked_example()``
is seed 001's 2-3-1 network, which ``loopnet trace --example worked`` follows.
"""

from dataclasses import dataclass

import numpy as np

from loopnet.activations import ARRAY_FORMS
from loopnet.compare import layer_values
from loopnet.notation import from_welch, to_welch

MAX_UNITS = 6
"""Most units per layer ``trace`` accepts: each z sums one term per unit below."""

MAX_BATCH = 4
"""Most examples ``trace`` accepts."""

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
class Step:
    """One value of backpropagation, computed both ways.

    Attributes
    ----------
    name : str
        The quantity with its indexes, ``"z[0, 2]"``.
    equation : str
        The equation that produced it, in DESIGN's index names.
    numbers : str
        The right-hand side with the numbers put in (empty where the equation
        is a Jacobian product too long to write out).
    loop : float
        Value from the compiled per-index loop kernels (the plain siblings).
    matrix : float
        Value from the NumPy matrix form.
    """

    name: str
    equation: str
    numbers: str
    loop: float
    matrix: float


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
        Forward pass layer 1..L, then errors and gradients for layer L..1.
    footer : tuple of str
        Closing lines (for the worked example: the seed's answers).
    """

    header: tuple
    sections: tuple
    footer: tuple = ()

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


def _step(name, equation, numbers, loop, matrix):
    """Build a Step, its values as Python floats (the buffers hold NumPy scalars)."""
    return Step(name, equation, numbers, float(loop), float(matrix))


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


def _output_error_step(output, cost, z, a, y, y_total):
    """(equation, numbers, matrix form) of delta[b, j] for the output pairing."""
    prime = f"{output}'(z[b, j])"
    if output == "sigmoid" and cost == "cross_entropy":
        return "a[b, j] - y[b, j]", f"{_num(a)} - {_num(y)}", "delta = A - Y"
    if output == "softmax" and cost == "log_likelihood":
        return (
            "a[b, j] * sum_i y[b, i] - y[b, j]",
            f"{_num(a)} * {_num(y_total)} - {_num(y)}",
            "delta = A * Y.sum(axis=1, keepdims=True) - Y",
        )
    if output == "sigmoid" and cost == "log_likelihood":
        return (
            "-y[b, j] * (1 - a[b, j])",
            f"-{_num(y)} * (1 - {_num(a)})",
            "delta = -Y * (1 - A)",
        )
    if cost == "quadratic" and output != "softmax":
        sigma_prime = ARRAY_FORMS[output][1](np.array([z]))[0]
        return (
            f"(a[b, j] - y[b, j]) * {prime}",
            f"({_num(a)} - {_num(y)}) * {_num(sigma_prime)}",
            f"delta = (A - Y) * {output}'(Z)",
        )
    return (
        "sum_i J[i, j] dC_b/da[b, i], J the softmax Jacobian",
        "",
        "delta = J^T grad_a C, row by row (reference.output_error)",
    )


def _forward_section(net, layer, A_prev, loop, matrix):
    """Build the steps z[b, j] and a[b, j] of layer l = ``layer + 1``."""
    W, bias, activation = net.weights[layer], net.biases[layer], net.activations[layer]
    inputs = "x" if layer == 0 else "a_prev"
    z_equation = f"sum_k W[j, k] {inputs}[b, k]" + (" + bias[j]" if net.bias else "")
    steps = []
    for b in range(A_prev.shape[0]):
        for j in range(W.shape[0]):
            numbers = _products(W[j], A_prev[b], bias[j] if net.bias else None)
            z = loop["z"][layer][b, j]
            steps.append(
                _step(f"z[{b}, {j}]", z_equation, numbers, z, matrix["z"][layer][b, j])
            )
            if activation == "softmax":
                a_equation = "exp(z[b, j]) / sum_i exp(z[b, i])"
                total = np.exp(loop["z"][layer][b]).sum()
                a_numbers = f"exp({_num(z)}) / {_num(total)}"
            else:
                a_equation = f"{activation}(z[b, j])"
                a_numbers = f"{activation}({_num(z)})"
            a_loop, a_matrix = loop["a"][layer][b, j], matrix["a"][layer][b, j]
            steps.append(_step(f"a[{b}, {j}]", a_equation, a_numbers, a_loop, a_matrix))
    bias_term = " + bias" if net.bias else ""
    return Section(
        f"Layer {layer + 1} forward: {W.shape[0]} {activation} unit(s)",
        f"Z = A_prev @ W.T{bias_term};  A = {activation}(Z)",
        tuple(steps),
    )


def _error_section(net, layer, Y, loop, matrix):
    """Build the steps delta[b, j] of layer l = ``layer + 1`` (output or hidden)."""
    delta = loop["delta"][layer]
    Z, A = loop["z"][layer], loop["a"][layer]
    steps = []
    if layer == len(net.activations) - 1:
        title = f"Layer {layer + 1} output error: {net.output} + {net.cost_name}"
        for b, j in np.ndindex(delta.shape):
            equation, numbers, matrix_form = _output_error_step(
                net.output, net.cost_name, Z[b, j], A[b, j], Y[b, j], Y[b].sum()
            )
            steps.append(
                _step(
                    f"delta[{b}, {j}]",
                    equation,
                    numbers,
                    delta[b, j],
                    matrix["delta"][layer][b, j],
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
        steps.append(
            _step(
                f"delta[{b}, {j}]",
                equation,
                numbers,
                delta[b, j],
                matrix["delta"][layer][b, j],
            )
        )
    return Section(
        f"Layer {layer + 1} hidden error",
        f"delta = (delta_next @ W_next) * {activation}'(Z)",
        tuple(steps),
    )


def _gradient_section(net, layer, A_prev, loop, matrix):
    """Build the steps dC/dW[j, k] and dC/dbias[j] of layer l = ``layer + 1``."""
    delta = loop["delta"][layer]
    inputs = "x" if layer == 0 else "a_prev"
    steps = []
    for j, k in np.ndindex(net.weights[layer].shape):
        numbers = _products(delta[:, j], A_prev[:, k])
        steps.append(
            _step(
                f"dC/dW[{j}, {k}]",
                f"sum_b delta[b, j] {inputs}[b, k]",
                numbers,
                loop["dW"][layer][j, k],
                matrix["dW"][layer][j, k],
            )
        )
    matrix_form = "dW = delta.T @ A_prev"
    if net.bias:
        matrix_form += ";  dbias = delta.sum(axis=0)"
        for j in range(delta.shape[1]):
            steps.append(
                _step(
                    f"dC/dbias[{j}]",
                    "sum_b delta[b, j]",
                    _sum(delta[:, j]),
                    loop["dbias"][layer][j],
                    matrix["dbias"][layer][j],
                )
            )
    return Section(f"Layer {layer + 1} gradient", matrix_form, tuple(steps))


def trace(net, X, Y, header=(), footer=()):
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

    Returns
    -------
    Trace
        ``str(trace)`` prints it.

    Examples
    --------
    >>> from loopnet.trace import trace, worked_example
    >>> steps = trace(*worked_example()).steps
    >>> steps[0].name, steps[0].numbers, round(steps[1].loop, 4)
    ('z[0, 0]', '1*0.3 + 1*1', 0.7858)
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
    matrix = layer_values(net, X, Y, "sum", 0.0, "matrix")
    A_prevs = [X, *loop["a"][:-1]]
    sections = [
        _forward_section(net, layer, A_prevs[layer], loop, matrix)
        for layer in range(len(net.activations))
    ]
    for layer in range(len(net.activations) - 1, -1, -1):
        sections.append(_error_section(net, layer, Y, loop, matrix))
        sections.append(_gradient_section(net, layer, A_prevs[layer], loop, matrix))
    return Trace(tuple(header), tuple(sections), tuple(footer))


EXPLANATION = (
    "Indexes: b an example (a row of X), j a unit of the layer, k a unit of the",
    "layer below, m of the layer above; W[j, k] joins unit k below to unit j.",
    "Each value is computed twice: after '=' by compiled loops written as the sums,",
    "after 'matrix' by the NumPy matrix form. C = sum_b C_b, summed over the batch.",
)


def worked_trace(name="worked"):
    """Trace seed 001's worked example, with its notation and answers around it.

    Parameters
    ----------
    name : {"worked", "worked-batch"}
        One example or three, as in ``worked_example``.

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
        "In Welch's layout (his dJ/dW^(l) is loopnet's dC/dW^l transposed):",
        f"  dJdW2 = a2.T @ delta3 = {_matrix(dJdW2)}",
        f"  dJdW1 = X.T @ delta2 = {_matrix(dJdW1)}",
        "The notes' hand arithmetic writes sigmoid(1.3) as 0.74 (and z3 = 2.37,",
        "yhat = 0.92); computed: a2 = 0.7858, z3 = 2.358, yhat = 0.9135 (example 1).",
    )
    return trace(net, X, Y, header, footer)


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
