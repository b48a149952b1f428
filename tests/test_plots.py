"""The figures' layout: no weight line crosses a unit's values, readable ratio ticks."""

import itertools

import numpy as np
import pytest

import loopnet as ln
from loopnet.compare import BenchPoint
from loopnet.trace import worked_example
from tests.helpers import needs_matplotlib

pytestmark = needs_matplotlib


def crossings(fig):
    """(line, label) pairs where a line of the figure passes through a label."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw(renderer)
    ax = fig.axes[0]
    boxes = [
        text.get_window_extent(renderer).padded(-1)
        for text in ax.texts
        if "z =" in text.get_text() or "x =" in text.get_text()
    ]
    assert boxes, "no labels drawn"
    found = []
    for line in ax.lines:
        xy = line.get_transform().transform(line.get_xydata())
        for start, end in itertools.pairwise(xy):
            for t in np.linspace(0, 1, 200):
                x, y = start + t * (end - start)
                found += [(line, box) for box in boxes if box.contains(x, y)]
    return found


@pytest.mark.parametrize("sizes", [(2, 3, 1), (4, 6, 3), (3, 16, 2), (5, 2, 5)])
def test_no_weight_line_crosses_a_label(sizes):
    from loopnet.plots import network_figure

    if sizes == (2, 3, 1):
        net, X, Y = worked_example()
    else:
        rng = np.random.default_rng(0)
        net = ln.Network(sizes, seed=0)
        X, Y = rng.random((1, sizes[0])), rng.random((1, sizes[-1]))
    assert crossings(network_figure(net, X, Y)) == []


def sweep(ratios):
    return [
        BenchPoint(w, 1, (w, w), r * 1e-6 * w, 1e-6 * w)
        for w, r in zip((16, 64, 256, 1024), ratios, strict=True)
    ]


@pytest.mark.parametrize(
    "ratios", [(0.35, 0.5, 0.8, 1.05), (0.9, 0.95, 1.0, 1.1), (0.02, 0.1, 0.5, 3.0)]
)
def test_the_ratio_axis_has_four_ticks_or_more(ratios):
    from loopnet.plots import bench_figure

    ratio_ax = bench_figure(sweep(ratios)).axes[1]
    low, high = ratio_ax.get_ylim()
    ticks = [tick for tick in ratio_ax.get_yticks() if low <= tick <= high]
    assert len(ticks) >= 4, ticks
    assert low <= min(ratios) and max(ratios) <= high and low < 1 < high


def test_the_crossover_is_explained_by_the_axis_label_not_over_the_lines():
    from loopnet.plots import bench_figure

    ratio_ax = bench_figure(sweep((0.35, 0.5, 0.97, 1.05))).axes[1]
    assert len(ratio_ax.texts) == 0
    assert "below 1: the loops are faster" in ratio_ax.get_ylabel()
