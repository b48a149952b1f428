"""A trace as one self-contained HTML page: the network, a stepper, every table.

``page(trace)`` writes a ``loopnet.trace.Trace`` as a single HTML file with
inline CSS, SVG and a little plain JavaScript, which needs no network and opens
from ``file://``:

- the network as SVG, units as circles and weights as lines whose width and
  colour follow their value, with solid lines for positive weights and dashed
  ones for negative (colour is not the only carrier of sign);
- a stepper, one card per step in the trace's order (forward pass, output error,
  hidden errors, gradients, SGD step), each equation written out with every term
  and its numbers, the loop kernels' value, the matrix form's and their
  difference, the unit or weight in question highlighted in the network;
- a notation switch (``loopnet.notation.NOTATIONS``);
- every step again as tables, which are all a reader without JavaScript, or a
  printer, sees.

Every number on the page is one the trace computed, written by Python; the
script only shows, hides and relabels (it embeds the values in a JSON block,
``#trace-data``, for that and for tests).
"""

import html
import json

from loopnet.notation import NOTATIONS

NOTATION_NAMES = {
    "loopnet": "loopnet",
    "nielsen": "Nielsen",
    "welch": "Welch",
    "ng": "Ng",
}
"""How the switch labels each of ``NOTATIONS``."""

_FUNCTIONS = {"tanh": "tanh", "relu": "ReLU", "identity": "id", "softmax": "softmax"}
"""Activation names in an equation; the sigmoid's letter is the notation's."""

_DERIVATIVES = {
    "sigmoid": "σ′(z) = σ(z) (1 − σ(z))",
    "tanh": "tanh′(z) = 1 − tanh(z)²",
    "relu": "ReLU′(z) = 1 where z > 0, else 0",
    "identity": "id′(z) = 1",
}

_COSTS = {
    "quadratic": "C_b = ½ Σ_j (a_j − y_j)²",
    "cross_entropy": "C_b = −Σ_j [y_j ln a_j + (1 − y_j) ln(1 − a_j)]",
    "log_likelihood": "C_b = −Σ_j y_j ln a_j",
}

_X_GAP, _Y_GAP, _RADIUS, _MARGIN = 190, 78, 24, 70
"""SVG layout, in pixels: between layers, between units, unit radius, margin."""


def _esc(text):
    return html.escape(str(text), quote=True)


def _num(value):
    """An operand as the equations write it: 4 significant digits."""
    return f"{value:.4g}"


def _full(value):
    """A result: the shortest text that reads back as the same float."""
    return repr(float(value))


# --- symbols -----------------------------------------------------------------


def _key(quantity, layer, index):
    return f"{quantity}:{layer}:{','.join(map(str, index))}"


class _Symbols:
    """Every symbol a page shows, written in each notation, keyed by ``_key``."""

    def __init__(self, trace):
        self.trace = trace
        self.n_layers = len(trace.activations)
        self.html = {name: {} for name in NOTATIONS}

    def span(self, quantity, layer, index, notation):
        """``<span class="sym">`` of the symbol in ``notation``; remembers it."""
        key = _key(quantity, layer, index)
        if key not in self.html[notation]:
            for name in NOTATIONS:
                self.html[name][key] = self._render(name, quantity, layer, index)
        return f'<span class="sym" data-sym="{key}">{self.html[notation][key]}</span>'

    def text(self, quantity, layer, index, notation):
        """The symbol as plain text (SVG titles)."""
        return self._render(notation, quantity, layer, index, plain=True)

    def _render(self, notation, quantity, layer, index, plain=False):
        rules = NOTATIONS[notation]
        letters = rules.letters

        def atom(name, at_layer, at_index, prime=""):
            if name == "a" and at_layer == self.n_layers:
                name = "output"
            symbol = rules.symbol(name, at_layer, at_index, self.trace.n_batch)
            symbol = symbol._replace(base=symbol.base + prime)
            if plain:
                return symbol.text
            sup = f"<sup>{_esc(symbol.sup)}</sup>" if symbol.sup else ""
            sub = f"<sub>{_esc(symbol.sub)}</sub>" if symbol.sub else ""
            return f"{_esc(symbol.base)}{sup}{sub}{_esc(symbol.suffix)}"

        def function(at_layer):
            activation = self.trace.activations[at_layer - 1]
            return _esc(_FUNCTIONS.get(activation, letters["sigma"]))

        cost = _esc(letters["cost"])
        if quantity == "sigma":
            return function(layer)
        if quantity == "sigma_prime":
            return f"{function(layer)}′({atom('z', layer, index)})"
        if quantity == "lr":
            return _esc(letters["lr"])
        if quantity == "grad_a":
            return f"∂{cost}/∂{atom('a', layer, index)}"
        if quantity in ("dW", "dbias"):
            name = "W" if quantity == "dW" else "bias"
            return f"∂{cost}/∂{atom(name, layer, index)}"
        if quantity in ("W_new", "bias_new"):
            return atom(quantity[:-4], layer, index, prime="′")
        return atom(quantity, layer, index)


# --- the steps ---------------------------------------------------------------


def _expression(tokens, symbols, notation):
    """The right-hand side in symbols: each Factor a symbol, strings as they are."""
    parts = []
    for token in tokens:
        if isinstance(token, str):
            parts.append(_esc(token))
        else:
            parts.append(
                symbols.span(token.quantity, token.layer, token.index, notation)
            )
    return "".join(parts)


def _numbers(tokens, symbols, notation):
    """The right-hand side with numbers; negative operands after the first bracketed."""
    parts = []
    for position, token in enumerate(tokens):
        if isinstance(token, str):
            parts.append(_esc(token))
        elif token.value is None:  # a function's name
            parts.append(
                symbols.span(token.quantity, token.layer, token.index, notation)
            )
        else:
            text = _num(token.value)
            if token.value < 0 and position > 0:
                text = f"({text})"
            parts.append(f'<span class="num">{_esc(text)}</span>')
    return "".join(parts)


def _unit_id(layer, j):
    return f"u-{layer}-{j}"


def _weight_id(layer, j, k):
    return f"w-{layer}-{j}-{k}"


def _highlights(step, sizes):
    """Ids of the element a step computes, and of those its equation reads."""
    layer, index = step.layer, step.index
    if step.quantity in ("dW", "W_new"):
        j, k = index
        return [_weight_id(layer, j, k)], [_unit_id(layer, j), _unit_id(layer - 1, k)]
    j = index[-1] if step.quantity in ("z", "a", "delta") else index[0]
    involved = []
    if step.quantity == "z":
        involved = [_weight_id(layer, j, k) for k in range(sizes[layer - 1])]
        involved += [_unit_id(layer - 1, k) for k in range(sizes[layer - 1])]
    elif step.quantity == "delta" and layer < len(sizes) - 1:
        involved = [_weight_id(layer + 1, m, j) for m in range(sizes[layer + 1])]
        involved += [_unit_id(layer + 1, m) for m in range(sizes[layer + 1])]
    return [_unit_id(layer, j)], involved


def _explanation(step, trace):
    """One sentence on what a step's stage computes, in words."""
    layer, n_layers = step.layer, len(trace.activations)
    activation = trace.activations[layer - 1]
    below = "input" if layer == 1 else f"layer {layer - 1}"
    if step.quantity == "z":
        bias = ", plus its bias" if "bias" in step.equation else ""
        return (
            f"Forward pass, layer {layer}: the weighted input z of unit {step.index[1]}"
            f" is the sum over the units k of the {below} of weight × activation"
            f"{bias}."
        )
    if step.quantity == "a":
        rule = " σ(z) = 1 / (1 + e^(−z))." if activation == "sigmoid" else ""
        return f"Its activation: the layer's {activation} applied to z.{rule}"
    if step.quantity == "delta" and layer == n_layers:
        derivative = _DERIVATIVES.get(activation, "")
        return (
            "Output error: δ = ∂C_b/∂z of an output unit, how example b's cost"
            f" changes with the unit's z; the cost is {_COSTS[trace.cost]}."
            + (f" Here {derivative}." if derivative else "")
        )
    if step.quantity == "delta":
        return (
            f"Hidden error, layer {layer}: the errors δ of layer {layer + 1}, each"
            f" through the weight from unit {step.index[1]} to it, summed and times the"
            f" slope of the activation at z: {_DERIVATIVES[activation]}."
        )
    if step.quantity in ("dW", "dbias"):
        reads = (
            "the weight's gradient: the error δ of the unit it feeds times the"
            " activation it carries"
            if step.quantity == "dW"
            else "the bias's gradient: the error δ of its unit"
        )
        total = (
            ", summed over the examples b"
            if trace.n_batch > 1
            else " (one example, so one term)"
        )
        return f"Gradient, layer {layer}: {reads}{total}."
    return (
        f"SGD step: each parameter moves against its gradient, scaled by the learning"
        f" rate {trace.lr:g}. The cost is summed over the batch, C = Σ_b C_b."
    )


# --- the network -------------------------------------------------------------


def _position(layer, j, sizes):
    height = (max(sizes) - 1) * _Y_GAP
    return (
        _MARGIN + _RADIUS + layer * _X_GAP,
        _MARGIN + 20 + height / 2 + (j - (sizes[layer] - 1) / 2) * _Y_GAP,
    )


def _colour(value, scale):
    """Red for positive, blue for negative, paler as |value| / scale falls."""
    strength = 0.3 + 0.7 * min(abs(value) / scale, 1.0)
    ends = (178, 24, 43) if value >= 0 else (33, 102, 172)
    return "rgb({}, {}, {})".format(*(round(255 + strength * (c - 255)) for c in ends))


def _svg(trace, values, symbols, notation):
    """The network: weights as lines (width, colour, dash by value), units circles."""
    sizes = trace.sizes
    weights = values["W"]
    scale = max((abs(w) for w in weights.values()), default=0.0) or 1.0
    width = 2 * (_MARGIN + _RADIUS) + (len(sizes) - 1) * _X_GAP
    height = _MARGIN + 20 + (max(sizes) - 1) * _Y_GAP + _RADIUS + 16
    opening = (
        f'<svg id="network" viewBox="0 0 {width} {height}" width="{width}"'
        f' height="{height}" role="group" aria-label="the network">'
    )
    parts = [opening]
    first_labels = _labels(values, 0)
    for (layer, j, k), w in sorted(weights.items()):
        x0, y0 = _position(layer - 1, k, sizes)
        x1, y1 = _position(layer, j, sizes)
        sign = "positive" if w >= 0 else "negative"
        label = f"{symbols.text('W', layer, (j, k), notation)} = {_num(w)}"
        parts.append(
            f'<g class="weight {sign}" id="{_weight_id(layer, j, k)}" tabindex="0"'
            f' data-layer="{layer}" data-j="{j}" data-k="{k}"'
            f' aria-label="{_esc(label)}">'
            f"<title>{_esc(label)}</title>"
            f'<line class="hit" x1="{x0}" y1="{y0}" x2="{x1}" y2="{y1}"/>'
            f'<line class="edge" x1="{x0}" y1="{y0}" x2="{x1}" y2="{y1}"'
            f' stroke="{_colour(w, scale)}"'
            f' stroke-width="{1 + 5 * abs(w) / scale:.2f}"/></g>'
        )
    for layer, n in enumerate(sizes):
        x, _ = _position(layer, 0, sizes)
        heading = (
            "input"
            if layer == 0
            else f"layer {layer}, {trace.activations[layer - 1]}"
            + (" (output)" if layer == len(sizes) - 1 else "")
        )
        parts.append(
            f'<text class="heading" x="{x}" y="{_MARGIN - 24}">{heading}</text>'
        )
        for j in range(n):
            cx, cy = _position(layer, j, sizes)
            label = f"unit {j} of {'the input' if layer == 0 else f'layer {layer}'}"
            parts.append(
                f'<g class="unit" id="{_unit_id(layer, j)}" tabindex="0"'
                f' data-layer="{layer}" data-j="{j}" aria-label="{_esc(label)}">'
                f"<title>{_esc(label)}</title>"
                f'<circle cx="{cx}" cy="{cy}" r="{_RADIUS}"/>'
                f'<text x="{cx}" y="{cy + 4}">'
                f"{_esc(first_labels.get(_unit_id(layer, j), ''))}</text></g>"
            )
    parts.append("</svg>")
    return "".join(parts)


def _labels(values, b):
    """What the circles show for example b: its inputs and each unit's activation."""
    labels = {}
    for quantity in ("x", "a"):
        for (layer, example, j), value in values[quantity].items():
            if example == b:
                labels[_unit_id(layer, j)] = f"{value:.3g}"  # to fit in a circle
    return labels


def _values(trace):
    """Per element: x, y, z, a, delta by (layer, b, j); W, dW, W_new by (l, j, k)."""
    values = {name: {} for name in ("x", "y", "z", "a", "delta", "dW", "W", "W_new")}
    values.update({"bias": {}, "dbias": {}, "bias_new": {}})
    for step in trace.steps:
        if step.quantity in values:
            values[step.quantity][(step.layer, *step.index)] = step.loop
        for token in step.expression:
            if not isinstance(token, str) and token.quantity in ("x", "y", "W", "bias"):
                key = (token.layer, *token.index)
                values[token.quantity][key] = token.value
    return values


def _details(trace, values, symbols, notation):
    """The values hovering or focusing an element shows, per element id."""
    details = {}
    sizes, n_layers = trace.sizes, len(trace.activations)

    def row(quantity, layer, index, value):
        if value is None:
            return ""
        symbol = symbols.span(quantity, layer, index, notation)
        return f"<tr><th>{symbol}</th><td>{_esc(_full(value))}</td></tr>"

    for layer, n in enumerate(sizes):
        for j in range(n):
            rows = []
            for b in range(trace.n_batch):
                if layer == 0:
                    rows.append(row("x", 0, (b, j), values["x"].get((0, b, j))))
                    continue
                for quantity in ("z", "a", "delta"):
                    value = values[quantity].get((layer, b, j))
                    rows.append(row(quantity, layer, (b, j), value))
                if layer == n_layers:
                    rows.append(row("y", layer, (b, j), values["y"].get((layer, b, j))))
            for quantity in ("bias", "dbias", "bias_new"):
                rows.append(
                    row(quantity, layer, (j,), values[quantity].get((layer, j)))
                )
            heading = "the input" if layer == 0 else f"layer {layer}"
            details[_unit_id(layer, j)] = (
                f"<p>unit {j} of {heading}</p><table>{''.join(rows)}</table>"
            )
    for layer, j, k in values["W"]:
        rows = [
            row(quantity, layer, (j, k), values[quantity].get((layer, j, k)))
            for quantity in ("W", "dW", "W_new")
        ]
        below = "input" if layer == 1 else f"layer {layer - 1}"
        details[_weight_id(layer, j, k)] = (
            f"<p>the weight from unit {k} of the {below}"
            f" to unit {j} of layer {layer}</p><table>{''.join(rows)}</table>"
        )
    return details


# --- the page ----------------------------------------------------------------


def _step_parts(step, symbols, notation):
    """(symbol, expression, numbers) of a step, as HTML."""
    lhs = symbols.span(step.quantity, step.layer, step.index, notation)
    if step.expression:
        return (
            lhs,
            _expression(step.expression, symbols, notation),
            _numbers(step.expression, symbols, notation),
        )
    return lhs, _esc(step.equation), ""


def _card(i, n_steps, section, step, parts, explanation):
    lhs, expression, numbers = parts
    numbers_line = f'<div class="line">= {numbers}</div>' if numbers else ""
    diff = abs(step.loop - step.matrix)
    return (
        f'<article class="card" id="card-{i}" data-step="{i}" hidden>'
        f'<p class="stage">Step {i + 1} of {n_steps} · {_esc(section.title)}</p>'
        f'<p class="why">{_esc(explanation)}</p>'
        f'<div class="equation"><div class="line">{lhs} = {expression}</div>'
        f"{numbers_line}"
        f'<div class="line result">= <span class="value">{_full(step.loop)}</span>'
        "</div></div>"
        '<table class="forms"><tr><th>loop kernels</th>'
        f'<td class="loop" data-value="{_full(step.loop)}">{_full(step.loop)}</td></tr>'
        f'<tr><th>matrix form</th><td class="matrix" data-value="{_full(step.matrix)}">'
        f"{_full(step.matrix)}</td></tr>"
        f'<tr><th>|loop − matrix|</th><td class="diff">{diff:.1e}</td></tr></table>'
        f'<p class="matrix-form">The matrix form of this stage:'
        f" <code>{_esc(section.matrix_form)}</code></p></article>"
    )


def _row(i, step, parts):
    lhs, expression, numbers = parts
    diff = abs(step.loop - step.matrix)
    return (
        f'<tr id="row-{i}" data-step="{i}"><td>{i + 1}</td><td>{lhs}</td>'
        f"<td>{expression}</td><td>{numbers}</td>"
        f'<td class="loop">{_full(step.loop)}</td>'
        f'<td class="matrix">{_full(step.matrix)}</td><td>{diff:.1e}</td></tr>'
    )


def _data_table(trace, values, symbols, notation):
    """The inputs and targets, one row per example."""
    rows = []
    for b in range(trace.n_batch):
        cells = [
            f"{symbols.span(q, layer, (b, j), notation)} = {_esc(_num(value))}"
            for q in ("x", "y")
            for (layer, bb, j), value in sorted(values[q].items())
            if bb == b
        ]
        rows.append(f"<tr><td>{b}</td><td>{', '.join(cells)}</td></tr>")
    return (
        '<table class="data"><tr><th>example b</th><th>inputs and targets</th></tr>'
        f"{''.join(rows)}</table>"
    )


def page(trace, notation="loopnet", leave_out=()):
    """Write ``trace`` as one self-contained HTML page.

    Parameters
    ----------
    trace : loopnet.trace.Trace
        A trace with its network (``sizes``, ``activations``): what
        ``loopnet.trace.trace`` returns.
    notation : str
        The notation the page opens in, and the tables keep without JavaScript:
        a key of ``loopnet.notation.NOTATIONS``.
    leave_out : sequence of str
        Header lines the page does not show: those that read the text trace's
        columns (``loopnet.trace.EXPLANATION``), which its guide says for the page.

    Returns
    -------
    str
        The page: no external resources, no network.

    Examples
    --------
    >>> from loopnet.trace import worked_trace
    >>> text = worked_trace().to_html()
    >>> text.startswith("<!DOCTYPE html>"), "http" in text
    (True, False)
    """
    if notation not in NOTATIONS:
        expected = ", ".join(repr(name) for name in NOTATIONS)
        raise ValueError(f"notation must be one of {expected}; got {notation!r}")
    if not trace.sizes:
        raise ValueError("trace has no network (sizes); build it with trace.trace")
    symbols = _Symbols(trace)
    values = _values(trace)
    steps, cards, tables, i = [], [], [], 0
    n_steps = len(trace.steps)
    for section in trace.sections:
        rows = []
        for step in section.steps:
            parts = _step_parts(step, symbols, notation)
            cards.append(
                _card(i, n_steps, section, step, parts, _explanation(step, trace))
            )
            rows.append(_row(i, step, parts))
            current, involved = _highlights(step, trace.sizes)
            steps.append(
                {
                    "name": step.name,
                    "quantity": step.quantity,
                    "layer": step.layer,
                    "index": list(step.index),
                    "loop": step.loop,
                    "matrix": step.matrix,
                    "example": step.index[0]
                    if step.quantity in ("z", "a", "delta")
                    else None,
                    "current": current,
                    "involved": involved,
                }
            )
            i += 1
        tables.append(
            f"<section><h3>{_esc(section.title)}</h3>"
            f"<p>Matrix form: <code>{_esc(section.matrix_form)}</code></p>"
            '<div class="scroll"><table class="steps"><thead><tr><th>step</th>'
            "<th>value</th><th>equation</th><th>with its numbers</th>"
            "<th>loop kernels</th><th>matrix form</th><th>|loop − matrix|</th>"
            f"</tr></thead><tbody>{''.join(rows)}</tbody></table></div></section>"
        )
    svg = _svg(trace, values, symbols, notation)
    details = {name: _details(trace, values, symbols, name) for name in NOTATIONS}
    data_table = _data_table(trace, values, symbols, notation)
    data = {
        "notation": notation,
        "notations": {
            name: {"label": NOTATION_NAMES[name], "title": rules.title}
            for name, rules in NOTATIONS.items()
        },
        "symbols": symbols.html,
        "details": details,
        "steps": steps,
        "labels": [_labels(values, b) for b in range(trace.n_batch)],
        "lr": trace.lr,
        "sizes": list(trace.sizes),
    }
    blob = json.dumps(data, ensure_ascii=False).replace("<", "\\u003c")
    switch = "".join(
        f'<label><input type="radio" name="notation" value="{name}"'
        f"{' checked' if name == notation else ''}> {NOTATION_NAMES[name]}</label>"
        for name in NOTATIONS
    )
    title = trace.header[0] if trace.header else "a trace"
    header = " ".join(line.strip() for line in trace.header if line not in leave_out)
    footer = "\n".join(trace.footer)
    return _TEMPLATE.format(
        title=_esc(f"loopnet trace: {title}"),
        style=_STYLE,
        header=_esc(header),
        guide=_guide(trace),
        data_table=data_table,
        notation_title=_esc(NOTATIONS[notation].title),
        switch=switch,
        svg=svg,
        cards="".join(cards),
        n_steps=n_steps,
        tables="".join(tables),
        footer=f"<pre>{_esc(footer)}</pre>" if footer else "",
        data=blob,
        script=_SCRIPT,
    )


def _guide(trace):
    """How to read the page, for this trace's cost and learning rate."""
    return (
        "<p>Backpropagation in five stages, in the order of the steps: the"
        " <b>forward pass</b>, layer by layer (each unit's weighted input z and its"
        " activation a); the <b>output error</b> δ = ∂C/∂z of the last layer; the"
        " <b>hidden errors</b>, δ of a layer from the δ of the layer above through"
        " the same weights; the <b>gradients</b> ∂C/∂W of every weight (and bias);"
        " and one <b>SGD step</b>, every weight moved against its gradient by the"
        f" learning rate {trace.lr:g}. The cost is summed over the examples,"
        f" C = Σ_b C_b, with {_esc(_COSTS[trace.cost])}.</p>"
        "<p>Indexes, in loopnet's notation: b an example (a row of the inputs"
        " X), j a unit of the layer, k a unit of the layer below, m of the layer"
        " above; W[j, k] is the weight from unit k below to unit j, and layer 0"
        " is the input. The notation switch above the steps writes them as"
        " Nielsen, Welch or Ng do.</p>"
        "<p>Every value was computed twice before this page was written: by"
        " loopnet's compiled per-index loops (<b>loop kernels</b>) and by its NumPy"
        " matrix form (<b>matrix form</b>); |loop − matrix| is their difference."
        " The page only shows those numbers: nothing is computed in the browser."
        " Operands are rounded to 4 significant digits, results are shown in"
        " full.</p>"
    )


_TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>{style}</style>
</head>
<body>
<header>
<h1>Backpropagation, step by step</h1>
<p class="intro">{header}</p>
{guide}
{data_table}
</header>
<main>
<div id="workbench">
<section id="picture" aria-label="the network">
{svg}
<p class="legend"><span class="swatch positive"></span> solid red: a positive weight;
<span class="swatch negative"></span> dashed blue: a negative weight; the wider the
line, the larger |w|. In the circles: the inputs and each unit's activation, of
example 0 or, once a step names one, of the step's example. The step's value is
ringed in orange, what its equation reads in green.</p>
<div id="details" role="status" aria-live="polite" hidden></div>
</section>
<section id="stepper" aria-label="the stepper" hidden>
<div class="controls">
<button type="button" id="previous" aria-label="previous step">&larr; previous</button>
<span id="counter" aria-live="polite"></span>
<button type="button" id="next" aria-label="next step">next &rarr;</button>
</div>
<fieldset class="notation"><legend>notation</legend>{switch}
<span id="notation-title">{notation_title}</span></fieldset>
<p class="keys">Keys: &larr; and &rarr; step, Home and End go to the first and last
step. Hover over or Tab to a unit or weight for its values; click a row of the
tables below to go to its step.</p>
<div id="cards">{cards}</div>
</section>
</div>
<section id="tables">
<h2>The whole trace: {n_steps} steps</h2>
{tables}
{footer}
</section>
</main>
<script type="application/json" id="trace-data">{data}</script>
<script>{script}</script>
</body>
</html>
"""

_STYLE = """
:root { --current: #e69f00; --involved: #009e73; --ink: #1b1b1b; }
body { font: 16px/1.45 system-ui, sans-serif; color: var(--ink); margin: 0 auto;
  max-width: 72rem; padding: 1rem 1.5rem; }
h1 { font-size: 1.6rem; margin: 0.2rem 0 0.6rem; }
h2 { font-size: 1.25rem; margin-top: 2rem; }
h3 { font-size: 1.05rem; margin: 1.4rem 0 0.2rem; }
code { font-size: 0.95em; }
sub, sup { font-size: 0.72em; }
.sym { white-space: nowrap; }
table { border-collapse: collapse; }
th, td { padding: 0.15rem 0.6rem; text-align: left; vertical-align: top; }
table.steps td, table.steps th, table.data td, table.data th {
  border-bottom: 1px solid #ccc; }
table.steps td.loop, table.steps td.matrix { font-variant-numeric: tabular-nums; }
table.steps tr.current { background: #fff1cc; }
.scroll { overflow-x: auto; }
#workbench { display: grid; grid-template-columns: minmax(0, 36rem) minmax(24rem, 1fr);
  gap: 1.5rem; align-items: start; }
@media (max-width: 62rem) { #workbench { grid-template-columns: 1fr; } }
svg { max-width: 100%; height: auto; }
svg .heading { text-anchor: middle; font-size: 14px; fill: var(--ink); }
.unit circle { fill: #fff; stroke: var(--ink); stroke-width: 1.5; }
.unit text { text-anchor: middle; font-size: 12px; fill: var(--ink); }
#u-0-0 circle, .unit[data-layer="0"] circle { fill: #eee; }
.weight .hit { stroke: transparent; stroke-width: 12; }
.weight.negative .edge { stroke-dasharray: 7 5; }
.unit.current circle { stroke: var(--current); stroke-width: 6; }
.unit.involved circle { stroke: var(--involved); stroke-width: 4; }
.weight.current .edge { stroke: var(--current); stroke-width: 7; }
.weight.involved .edge { stroke: var(--involved); }
.unit:focus, .weight:focus { outline: none; }
.unit:focus circle, .unit:hover circle { fill: #ffe9a8; }
.weight:focus .hit, .weight:hover .hit { stroke: rgba(230, 159, 0, 0.35); }
:focus-visible { outline: 3px solid #0b57d0; outline-offset: 2px; }
.unit:focus-visible circle { stroke: #0b57d0; stroke-width: 5; }
.weight:focus-visible .hit { stroke: rgba(11, 87, 208, 0.45); }
.legend { font-size: 0.9rem; max-width: 40rem; }
.swatch { display: inline-block; width: 2.2rem; height: 0; vertical-align: middle;
  border-top: 4px solid #b2182b; }
.swatch.negative { border-top: 4px dashed #2166ac; }
#details { border: 1px solid #999; border-radius: 6px; padding: 0.4rem 0.8rem;
  min-width: 16rem; background: #fafafa; }
#details p { margin: 0.2rem 0; font-weight: 600; }
.controls { display: flex; flex-wrap: wrap; gap: 0.8rem; align-items: center; }
button { font: inherit; padding: 0.3rem 0.9rem; border: 1px solid #555;
  border-radius: 4px; background: #f4f4f4; cursor: pointer; }
fieldset.notation { border: 1px solid #999; border-radius: 4px;
  padding: 0.1rem 0.6rem; margin: 0.6rem 0 0; }
fieldset.notation label { margin-right: 0.6rem; }
.keys { font-size: 0.9rem; color: #444; }
#notation-title { display: block; font-size: 0.85rem; font-style: italic; }
.card { border: 2px solid var(--current); border-radius: 8px; padding: 0.6rem 1rem;
  background: #fffdf6; }
.card .stage { font-weight: 600; margin: 0; }
.card .why { margin: 0.3rem 0 0.6rem; }
.equation { font-size: 1.2rem; margin: 0.4rem 0; overflow-x: auto; }
.equation .line { padding: 0.1rem 0; }
.equation .result { font-weight: 600; }
.forms th { white-space: nowrap; }
.forms td { font-variant-numeric: tabular-nums; overflow-wrap: anywhere; }
.matrix-form { font-size: 0.9rem; color: #444; }
pre { white-space: pre-wrap; }
@media print {
  #stepper, #details { display: none !important; }
  #workbench { display: block; }
  body { max-width: none; font-size: 11pt; }
  table.steps tr { break-inside: avoid; }
  table.steps tr.current { background: none; }
  section { break-inside: auto; }
  svg { print-color-adjust: exact; -webkit-print-color-adjust: exact; }
  .unit.current circle, .unit.involved circle { stroke: #000; stroke-width: 1.5; }
  .weight.current .edge, .weight.involved .edge { stroke-width: inherit; }
}
"""

_SCRIPT = """
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("trace-data").textContent);
  var stepper = document.getElementById("stepper");
  var cards = document.querySelectorAll("#cards .card");
  var counter = document.getElementById("counter");
  var details = document.getElementById("details");
  var notation = data.notation, current = 0, shown = null;
  document.documentElement.classList.add("js");
  stepper.hidden = false;

  function each(selector, action) {
    Array.prototype.forEach.call(document.querySelectorAll(selector), action);
  }
  function show(i) {
    i = Math.max(0, Math.min(cards.length - 1, i));
    cards[current].hidden = true;
    document.getElementById("row-" + current).classList.remove("current");
    each(".current, .involved", function (el) {
      el.classList.remove("current", "involved");
    });
    current = i;
    cards[i].hidden = false;
    document.getElementById("row-" + i).classList.add("current");
    data.steps[i].current.forEach(function (id) {
      document.getElementById(id).classList.add("current");
    });
    data.steps[i].involved.forEach(function (id) {
      document.getElementById(id).classList.add("involved");
    });
    counter.textContent = "Step " + (i + 1) + " of " + cards.length;
    if (data.steps[i].example !== null) { label(data.steps[i].example); }
  }
  function label(example) {
    var labels = data.labels[example];
    each("#network .unit", function (unit) {
      unit.querySelector("text").textContent = labels[unit.id] || "";
    });
  }
  function detail(id) {
    shown = id;
    details.innerHTML = data.details[notation][id];
    details.hidden = false;
  }
  function rename(name) {
    notation = name;
    var symbols = data.symbols[name];
    each(".sym", function (el) { el.innerHTML = symbols[el.dataset.sym]; });
    document.getElementById("notation-title").textContent =
      data.notations[name].title;
    if (shown !== null) { detail(shown); }
  }
  document.getElementById("previous").addEventListener("click", function () {
    show(current - 1);
  });
  document.getElementById("next").addEventListener("click", function () {
    show(current + 1);
  });
  each("input[name=notation]", function (input) {
    input.addEventListener("change", function () { rename(input.value); });
  });
  each(".unit, .weight", function (el) {
    el.addEventListener("mouseenter", function () { detail(el.id); });
    el.addEventListener("focus", function () { detail(el.id); });
  });
  each("#tables tbody tr", function (row) {
    row.addEventListener("click", function () { show(Number(row.dataset.step)); });
  });
  document.addEventListener("keydown", function (event) {
    var target = event.target;
    if (target.tagName === "INPUT" || event.altKey || event.ctrlKey ||
        event.metaKey) { return; }
    var moves = { ArrowRight: current + 1, ArrowLeft: current - 1,
                  Home: 0, End: cards.length - 1 };
    if (event.key in moves) {
      event.preventDefault();
      show(moves[event.key]);
    }
  });
  show(0);
})();
"""
