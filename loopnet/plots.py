"""Pictures: the network as the seeds draw it, and the loop-vs-matrix speed sweep.

matplotlib is optional (the ``examples`` extra); it is imported when a figure is
made, and its absence is an ImportError saying what to install. Figures are built
with the object-oriented API (``matplotlib.figure.Figure``), never ``pyplot``, so
nothing here opens a window or changes the process's backend; ``Figure.savefig``
renders with Agg.
"""

import numpy as np

from loopnet._extras import missing_extra
from loopnet.compare import layer_values

MAX_DIAGRAM_UNITS = 16
"""Most units per layer ``network_figure`` draws."""


def figure_class():
    """Return ``matplotlib.figure.Figure`` (ImportError saying how to install it)."""
    try:
        from matplotlib.figure import Figure
    except ImportError as error:
        raise missing_extra("drawing", "matplotlib", "examples", error) from error
    return Figure


_X_GAP, _Y_GAP, _RADIUS = 3.0, 2.0, 0.35
"""Distance between layers, between units of a layer, and unit radius (data units)."""

_LABEL_POINTS = 7
"""Font size of the values written under the units."""

_CHARACTER_WIDTH = 0.62
"""Width of a character of the labels' font, in font sizes (an upper estimate)."""


def _unit_positions(sizes, x_gap=_X_GAP):
    """Return (x, y) of unit j of each layer: layers left to right, units centred."""
    return [
        [(x_gap * layer, _Y_GAP * ((n - 1) / 2 - j)) for j in range(n)]
        for layer, n in enumerate(sizes)
    ]


def _port(labels, inches):
    """How far beside its unit a weight's line starts and ends (data units).

    Past the half-width of the widest label written under the units (``inches``
    per data unit), so that no line crosses one: a grey stub joins the unit to
    its port. Without labels, at the unit's edge.
    """
    lines = [line for label in labels for line in label.splitlines()]
    if not lines:
        return _RADIUS
    points = max(map(len, lines)) * _LABEL_POINTS * _CHARACTER_WIDTH
    return max(_RADIUS, points / 72 / inches / 2 + 0.1)


def network_figure(net, X=None, Y=None, title=None):
    """Draw ``net``: units as circles, weights as edges, the example's values as labels.

    Edge width grows with |W[j, k]| and colour gives its sign and size (blue
    negative, red positive, on a scale symmetric about 0). With ``X`` and ``Y``
    (one example; of a batch, the first row is drawn), every unit j of layer
    l >= 1 is labelled with z_j, a_j and delta_j, computed by the loop kernels,
    and every input with x_k.

    Parameters
    ----------
    net : Network
        At most ``MAX_DIAGRAM_UNITS`` units per layer.
    X : array_like, shape (n_batch, sizes[0]), optional
        Inputs; the first row is drawn.
    Y : array_like, shape (n_batch, sizes[-1]), optional
        Targets; required with ``X`` (delta depends on them).
    title : str, optional
        Figure title; by default the layer sizes.

    Returns
    -------
    matplotlib.figure.Figure
        Save it with ``fig.savefig("net.png")``.

    Examples
    --------
    >>> from loopnet.plots import network_figure
    >>> from loopnet.trace import worked_example
    >>> fig = network_figure(*worked_example())
    >>> len(fig.axes)
    2
    """
    if max(net.sizes) > MAX_DIAGRAM_UNITS:
        raise ValueError(
            f"network_figure draws at most {MAX_DIAGRAM_UNITS} units per layer;"
            f" got sizes {list(net.sizes)}"
        )
    if (X is None) != (Y is None):
        raise ValueError("pass both X and Y (the labels need delta), or neither")
    values = None if X is None else layer_values(net, X, Y, "sum", 0.0, "plain")
    Figure = figure_class()
    from matplotlib import cm, colormaps, colors
    from matplotlib.patches import Circle

    sizes = net.sizes
    half_height = _Y_GAP * (max(sizes) - 1) / 2
    y_range = (-half_height - 1.8, half_height + 1.6)
    inches = min(0.7, 12 / (y_range[1] - y_range[0]))
    labels = [
        [_unit_label(net, values, X, layer, j) for j in range(n)]
        for layer, n in enumerate(sizes)
    ]
    port = _port([label for layer in labels for label in layer], inches)
    x_gap = max(_X_GAP, 2 * port + 1.5)  # room for the lines between the ports
    positions = _unit_positions(sizes, x_gap)
    x_range = (-max(1.2, port + 0.2), x_gap * (len(sizes) - 1) + max(1.2, port + 0.2))
    fig = Figure(
        figsize=(
            inches * (x_range[1] - x_range[0]) + 1.8,
            inches * (y_range[1] - y_range[0]) + 0.6,
        ),
        layout="constrained",
    )
    ax = fig.add_subplot()
    scale = max(float(np.max(np.abs(W))) for W in net.weights) or 1.0
    norm = colors.Normalize(-scale, scale)
    cmap = colormaps["coolwarm"]
    for layer, units in enumerate(positions):
        if port > _RADIUS:  # grey stubs from each unit to its ports, one each side
            for x, y in units:
                sides = [side for side in (-1, 1) if 0 <= layer + side < len(sizes)]
                for side in sides:
                    ax.plot(
                        [x + side * _RADIUS, x + side * port],
                        [y, y],
                        color="0.45",
                        linewidth=1.0,
                        zorder=1,
                    )
    for layer, W in enumerate(net.weights):
        for j, k in np.ndindex(W.shape):
            (x0, y0), (x1, y1) = positions[layer][k], positions[layer + 1][j]
            weight = float(W[j, k])
            ax.plot(
                [x0 + port, x1 - port],
                [y0, y1],
                color=cmap(norm(weight)),
                linewidth=0.5 + 3.5 * abs(weight) / scale,
                zorder=1,
            )
    box = {"boxstyle": "round,pad=0.2", "facecolor": "white", "lw": 0}
    for layer, units in enumerate(positions):
        for j, (x, y) in enumerate(units):
            ax.add_patch(
                Circle(
                    (x, y),
                    _RADIUS,
                    facecolor="0.9" if layer == 0 else "white",
                    edgecolor="black",
                    zorder=2,
                )
            )
            ax.text(x, y, str(j), ha="center", va="center", fontsize=9, zorder=3)
            if labels[layer][j]:
                ax.text(
                    x, y - _RADIUS - 0.1, labels[layer][j], ha="center", va="top",
                    fontsize=_LABEL_POINTS, zorder=4, bbox=box,
                )  # fmt: skip
    for layer, n in enumerate(sizes):
        heading = (
            "input" if layer == 0 else f"layer {layer}, {net.activations[layer - 1]}"
        )
        ax.text(
            x_gap * layer, half_height + 0.7, f"{heading}\n{n} unit(s)",
            ha="center", va="bottom", fontsize=9,
        )  # fmt: skip
    ax.set_xlim(*x_range)
    ax.set_ylim(*y_range)
    ax.set_aspect("equal")
    ax.axis("off")
    fig.colorbar(cm.ScalarMappable(norm, cmap), ax=ax, shrink=0.5, label="W[j, k]")
    ax.set_title(title or f"network {list(sizes)}, cost {net.cost_name}")
    return fig


def _unit_label(net, values, X, layer, j):
    """Return the values written under unit j: x_k for inputs, z, a, delta above."""
    if values is None:
        return ""
    if layer == 0:
        return f"x = {np.asarray(X, dtype=float).reshape(-1, net.sizes[0])[0, j]:.3g}"
    z, a, delta = (values[name][layer - 1][0, j] for name in ("z", "a", "delta"))
    text = f"z = {z:.3g}\na = {a:.3g}\nδ = {delta:.3g}"
    if net.bias:
        text += f"\nbias = {net.biases[layer - 1][j]:.3g}"
    return text


_TICK_MANTISSAS = (
    (1.0, 2.0, 5.0),
    (1.0, 2.0, 3.0, 5.0, 7.0),
    (1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0),
)
"""Tick values m * 10**e of a log axis, coarsest first."""


def ratio_ticks(low, high, at_least=4):
    """Ticks for a log axis from ``low`` to ``high``: the coarsest set with enough.

    Parameters
    ----------
    low, high : float
        The axis's range, 0 < low < high.
    at_least : int
        How many ticks to give: from the coarsest of ``_TICK_MANTISSAS`` that
        has as many, or, for a range too narrow for any, the multiples of the
        coarsest step (1, 2, 2.5 or 5 times a power of 10) that has.

    Returns
    -------
    list of float

    Examples
    --------
    >>> from loopnet.plots import ratio_ticks
    >>> ratio_ticks(0.3, 1.1)
    [0.3, 0.5, 0.7, 1.0]
    >>> ratio_ticks(0.05, 1.1)
    [0.05, 0.1, 0.2, 0.5, 1.0]
    >>> ratio_ticks(0.85, 1.15)
    [0.85, 0.9, 0.95, 1.0, 1.05, 1.1, 1.15]
    """
    decades = range(int(np.floor(np.log10(low))), int(np.ceil(np.log10(high))) + 1)
    for mantissas in _TICK_MANTISSAS:
        ticks = sorted(
            {
                float(f"{m * 10.0**e:.6g}")
                for e in decades
                for m in mantissas
                if low <= m * 10.0**e <= high
            }
        )
        if len(ticks) >= at_least:
            return ticks
    top = int(np.floor(np.log10(high - low)))
    steps = sorted(m * 10.0**e for e in range(top - 2, top + 1) for m in (1, 2, 2.5, 5))
    for step in reversed(steps):
        first = int(np.ceil(low / step - 1e-9))  # 1e-9: 1.15 / 0.05 is 22.99...
        last = int(np.floor(high / step + 1e-9))
        if last - first + 1 >= at_least:
            break
    return [float(f"{i * step:.6g}") for i in range(first, last + 1)]


def bench_figure(points, threads=None):
    """Plot a ``loopnet bench`` sweep: time and loop/matrix ratio against width.

    Left: median gradient time of the loop form (solid) and the matrix form
    (dashed), one colour per batch size. Right: loop time / matrix time; the
    line at 1 is the crossover, below it the loops are faster, as the axis's label
    says; its ticks are the coarsest of ``ratio_ticks`` that give four or more.
    Both on log axes.

    Parameters
    ----------
    points : sequence of BenchPoint
        The sweep (``loopnet.compare.bench_point`` results).
    threads : str, optional
        What the timings ran on (``loopnet.compare.thread_line``), written
        across the top of the figure.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> from loopnet.compare import BenchPoint
    >>> from loopnet.plots import bench_figure
    >>> points = [BenchPoint(w, 1, (w, w, w), 1e-6 * w, 2e-6) for w in (4, 8)]
    >>> [ax.get_xscale() for ax in bench_figure(points).axes]
    ['log', 'log']
    """
    if not points:
        raise ValueError("points must hold at least one BenchPoint, got none")
    Figure = figure_class()
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

    fig = Figure(figsize=(10, 4), layout="constrained")
    time_ax, ratio_ax = fig.subplots(1, 2)
    batches = sorted({point.n_batch for point in points})
    colours = [f"C{i % 10}" for i in range(len(batches))]
    for n_batch, colour in zip(batches, colours, strict=True):
        row = sorted((p for p in points if p.n_batch == n_batch), key=lambda p: p.width)
        row_widths = [p.width for p in row]
        time_ax.plot(
            row_widths,
            [p.loop_seconds for p in row],
            "o-",
            color=colour,
            label=f"batch {n_batch}, loop",
        )
        time_ax.plot(
            row_widths,
            [p.matrix_seconds for p in row],
            "s--",
            color=colour,
            label=f"batch {n_batch}, matrix",
        )
        ratio_ax.plot(
            row_widths,
            [p.ratio for p in row],
            "o-",
            color=colour,
            label=f"batch {n_batch}",
        )
    ratio_ax.axhline(1.0, color="black", linewidth=1)
    widths = sorted({point.width for point in points})
    network = "-".join(["w"] * len(points[0].sizes))
    time_ax.set_title(f"gradient time, network {network}")
    time_ax.set_ylabel("median seconds")
    ratio_ax.set_title("loop time / matrix time")
    ratio_ax.set_ylabel("ratio (below 1: the loops are faster)")
    for ax in (time_ax, ratio_ax):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("width w (units per layer)")
        ax.grid(True, which="both", alpha=0.3)
        ax.set_xticks(widths, [str(width) for width in widths])
        ax.xaxis.set_minor_formatter(NullFormatter())
    ratios = [point.ratio for point in points] + [1.0]
    low, high = min(ratios) / 1.08, max(ratios) * 1.08  # the line at 1 in view
    ratio_ax.set_ylim(low, high)
    ratio_ax.yaxis.set_major_locator(FixedLocator(ratio_ticks(low, high)))
    ratio_ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    ratio_ax.yaxis.set_minor_formatter(NullFormatter())
    time_ax.legend(fontsize=7)
    ratio_ax.legend(fontsize=7)
    if threads is not None:
        fig.suptitle(threads, fontsize=9)
    return fig
