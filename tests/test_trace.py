"""``trace``: seed 001's worked example and small networks, step by step."""

import numpy as np
import pytest

import loopnet as ln
from loopnet.activations import ARRAY_FORMS
from loopnet.compare import random_batch
from loopnet.trace import trace, worked_example, worked_trace
from tests.helpers import PAIRINGS, TOL


def test_worked_example_steps_match_seed_arithmetic():
    """Seed 001 (001_864c21fac4f9d984.txt), question 11, computed exactly.

    X = [0.3, 1.0], W1 = ones(2, 3): z2 = [1.3, 1.3, 1.3], a2 = f(z2) (the notes
    write 0.74; f(1.3) = 0.7858), z3 = a2 W2 = 3 f(1.3), yhat = f(z3),
    delta3 = -(y - yhat) f'(z3), dJ/dW2 = a2^T delta3.
    """
    result = worked_trace()
    sections = result.sections
    assert [s.title.split(":")[0] for s in sections] == [
        "Layer 1 forward",
        "Layer 2 forward",
        "Layer 2 output error",
        "Layer 2 gradient",
        "Layer 1 hidden error",
        "Layer 1 gradient",
        "Layer 1 SGD step, lr 0.5",
        "Layer 2 SGD step, lr 0.5",
    ]
    a2 = 1 / (1 + np.exp(-1.3))
    z3 = 3 * a2
    yhat = 1 / (1 + np.exp(-z3))
    delta3 = -(0.75 - yhat) * yhat * (1 - yhat)
    expected = [
        (0, "z[0, 1]", 1.3),
        (0, "a[0, 2]", a2),
        (1, "z[0, 0]", z3),
        (1, "a[0, 0]", yhat),
        (2, "delta[0, 0]", delta3),
        (3, "dC/dW[0, 2]", a2 * delta3),
        (4, "delta[0, 1]", a2 * (1 - a2) * delta3),
        (5, "dC/dW[1, 0]", 0.3 * a2 * (1 - a2) * delta3),
        (6, "W_new[1, 0]", 1 - 0.5 * 0.3 * a2 * (1 - a2) * delta3),
        (7, "W_new[0, 2]", 1 - 0.5 * a2 * delta3),
    ]
    for section, name, value in expected:
        step = next(s for s in sections[section].steps if s.name == name)
        np.testing.assert_allclose(step.loop, value, **TOL[np.float64])
        np.testing.assert_allclose(step.matrix, value, **TOL[np.float64])
    assert len(result.steps) == 6 + 2 + 1 + 3 + 3 + 6 + 6 + 3
    assert result.max_abs_diff <= 1e-15
    assert sections[0].steps[0].numbers == "1*0.3 + 1*1"


def test_worked_trace_text_names_both_notations():
    text = str(worked_trace())
    assert "Welch" in text and "W[j, k] = W^(l)[k, j]" in text
    assert "dJdW2 = a2.T @ delta3 = [[0.01015], [0.01015], [0.01015]]" in text
    assert "matrix form: delta = (delta_next @ W_next) * sigmoid'(Z)" in text
    assert "0.74" in text and "0.7858" in text


def test_worked_batch_sums_over_the_three_examples():
    net, X, Y = worked_example("worked-batch")
    assert X.shape == (3, 2) and Y.shape == (3, 1)
    result = worked_trace("worked-batch")
    assert len(result.steps) == 3 * 8 + 3 * 4 + 9 + 9
    gradient = result.sections[3].steps[0]
    assert gradient.name == "dC/dW[0, 0]" and gradient.numbers.count("*") == 3
    expected = net.gradient(X, Y, reduction="sum", method="matrix").weights[1][0, 0]
    np.testing.assert_allclose(gradient.loop, expected, **TOL[np.float64])


@pytest.mark.parametrize("output, cost", PAIRINGS)
def test_trace_agrees_for_every_pairing(output, cost):
    net = ln.Network([3, 2, 3], "tanh", output, cost, seed=5)
    X, Y = random_batch(net, 2, seed=1)
    result = trace(net, X, Y, header=("a header",), footer=("a footer",))
    for step in result.steps:
        np.testing.assert_allclose(step.loop, step.matrix, **TOL[np.float64])
    text = str(result)
    assert text.startswith("a header") and text.endswith("a footer")
    assert "+ -" not in text and "dC/dbias[2]" in text


def test_sgd_step_is_the_kernel_and_the_twin_of_the_gradient():
    net = ln.Network([3, 2, 2], seed=1)
    X, Y = random_batch(net, 2, seed=1)
    result = trace(net, X, Y, lr=0.25)
    gradient = net.gradient(X, Y, reduction="sum", method="matrix")
    steps = {step.name: step for step in result.sections[-1].steps}
    W_new = net.weights[1] - 0.25 * gradient.weights[1]
    bias_new = net.biases[1] - 0.25 * gradient.biases[1]
    np.testing.assert_allclose(
        steps["W_new[1, 0]"].loop, W_new[1, 0], **TOL[np.float64]
    )
    np.testing.assert_allclose(
        steps["bias_new[1]"].matrix, bias_new[1], **TOL[np.float64]
    )
    assert (
        result.lr == 0.25 and result.sections[-1].title == "Layer 2 SGD step, lr 0.25"
    )
    with pytest.raises(ValueError, match="lr must be finite and in"):
        trace(net, X, Y, lr=0.0)


def test_steps_keep_their_equation_as_named_values():
    """Each step's expression holds the numbers of its ``numbers`` text, named."""
    net = ln.Network([2, 2, 1], seed=3)
    result = trace(net, [[0.1, -0.9]], [[0.3]])
    z = result.steps[0]
    assert (z.quantity, z.layer, z.index) == ("z", 1, (0, 0))
    factors = [token for token in z.expression if not isinstance(token, str)]
    assert [(f.quantity, f.layer, f.index) for f in factors] == [
        ("W", 1, (0, 0)),
        ("x", 0, (0, 0)),
        ("W", 1, (0, 1)),
        ("x", 0, (0, 1)),
        ("bias", 1, (0,)),
    ]
    assert [f.value for f in factors] == [
        net.weights[0][0, 0],
        0.1,
        net.weights[0][0, 1],
        -0.9,
        net.biases[0][0],
    ]
    hidden = next(s for s in result.steps if s.name == "delta[0, 1]" and s.layer == 1)
    factors = [token for token in hidden.expression if not isinstance(token, str)]
    assert factors[0].quantity == "sigma_prime"
    assert (factors[2].quantity, factors[2].index) == ("W", (0, 1))


def evaluate(step, activations):
    """The value of a step's expression, each Factor at its full value."""
    names = {"exp": np.exp, "np": np}
    text = ""
    for token in step.expression:
        if isinstance(token, str):
            text += token.replace("·", "*").replace("−", "-")
        elif token.value is None:  # the layer's activation
            text += f"sigma{token.layer}"
            names[f"sigma{token.layer}"] = ARRAY_FORMS[activations[token.layer - 1]][0]
        else:
            text += f"np.float64({token.value!r})"
    return float(eval(text, {"__builtins__": {}}, names))


@pytest.mark.parametrize("output, cost", PAIRINGS)
def test_every_written_equation_gives_its_value(output, cost):
    """Each step's expression, evaluated, is the value the kernels computed."""
    net = ln.Network([3, 2, 3], "tanh", output, cost, seed=5)
    X, Y = random_batch(net, 2, seed=1)
    result = trace(net, X, Y)
    for step in result.steps:
        assert step.expression, step.name
        np.testing.assert_allclose(
            evaluate(step, result.activations), step.loop, rtol=1e-12, atol=1e-15
        )


def test_trace_without_biases_has_no_bias_steps():
    net = ln.Network([2, 2, 1], bias=False, seed=0)
    result = trace(net, [[0.1, 0.9]], [[0.3]])
    assert not any(
        "bias" in step.name or "bias" in step.equation for step in result.steps
    )


def test_trace_refuses_large_networks_and_batches():
    with pytest.raises(ValueError, match="at most 6 units"):
        trace(ln.Network([7, 2]), np.zeros((1, 7)), np.zeros((1, 2)))
    with pytest.raises(ValueError, match="at most 4 examples"):
        trace(ln.Network([2, 2]), np.zeros((5, 2)), np.zeros((5, 2)))
    with pytest.raises(ValueError, match="X has 3 columns"):
        trace(ln.Network([2, 2]), np.zeros((1, 3)), np.zeros((1, 2)))
    with pytest.raises(ValueError, match="name"):
        worked_example("worked-twice")
