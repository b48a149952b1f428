"""NaN or infinite parameters are named as such, before any kernel runs.

Every public entry that computes with ``params`` checks them first
(``Layout.check_params``): before, a NaN in ``params`` came back as "the gradient
is not finite: it overflows float64: the magnitudes of X, Y and l2 (or params)
are too large", which blames the data. The GPU entries are tested in
``test_cuda.py``.
"""

import numpy as np
import pytest

import loopnet as ln
from loopnet import backends
from loopnet.backends import loop
from loopnet.compare import layer_values
from loopnet.layout import Layout

X = np.array([[0.3, 1.0], [0.5, 0.2], [0.9, 0.1]])
Y = np.array([[0.75], [0.82], [0.1]])
LABELS = np.array([1, 0, 1])

CALLS = {
    "forward": lambda net: net.forward(X),
    "cost": lambda net: net.cost(X, Y),
    "gradient": lambda net: net.gradient(X, Y),
    "gradient matrix": lambda net: net.gradient(X, Y, method="matrix"),
    "fit": lambda net: net.fit(X, Y, epochs=2, progress=False),
    "fit matrix": lambda net: net.fit(X, Y, method="matrix", progress=False),
    "predict": lambda net: net.predict(X),
    "score": lambda net: net.score(X, LABELS),
    "compare": lambda net: ln.compare(net, X, Y, repeat=1),
    "layer_values": lambda net: layer_values(net, X, Y),
    "layer_values matrix": lambda net: layer_values(net, X, Y, method="matrix"),
    "gradcheck": lambda net: ln.gradcheck(net, X, Y),
    "trace": lambda net: ln.trace(net, X[:1], Y[:1]),
}


def _no_kernel(*args, **kwargs):
    raise AssertionError("a kernel ran on non-finite params")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("name", list(CALLS))
def test_non_finite_params_are_named(monkeypatch, name, bad, dtype):
    net = ln.Network([2, 3, 1], seed=0, dtype=dtype)
    net.params[[3, 11]] = bad  # W[1, 1] of layer 1 and W[0, 2] of layer 2
    before = net.params.copy()
    for module, function in ((loop, "forward"), (backends, "get")):
        monkeypatch.setattr(module, function, _no_kernel)
    with pytest.raises(ValueError) as raised:
        CALLS[name](net)
    message = str(raised.value)
    assert message.startswith("params holds 2 NaN or infinite values (of 13;")
    assert f"params[3] = {before[3]}, W[1, 1] of layer 1" in message
    assert "overflows" not in message and "magnitudes" not in message
    assert net.params.tobytes() == before.tobytes()


def test_finite_params_pass_the_check():
    """Huge but finite parameters are the magnitudes' problem, as before."""
    net = ln.Network([2, 3, 1], "identity", "identity", seed=0)
    net.params[:] = 1e200
    assert net.layout.check_params(net.params) is net.params
    with pytest.raises(ValueError, match="overflows float64"):
        net.gradient(X, Y)


def test_locate_names_every_entry_of_the_layout():
    layout = Layout.build((3, 2, 2), ("tanh", "sigmoid"), "quadratic")
    names = [layout.locate(i) for i in range(layout.n_params)]
    assert names[:2] == ["W[0, 0] of layer 1", "W[0, 1] of layer 1"]
    assert names[5:8] == [
        "W[1, 2] of layer 1",
        "bias[0] of layer 1",
        "bias[1] of layer 1",
    ]
    assert names[-1] == "bias[1] of layer 2" and len(set(names)) == layout.n_params
    with pytest.raises(IndexError):
        layout.locate(layout.n_params)
    no_bias = Layout.build((3, 2, 2), ("tanh", "sigmoid"), "quadratic", bias=False)
    assert no_bias.locate(6) == "W[0, 0] of layer 2"
