"""The ``"matrix"`` backend: the NumPy matrix form of ``loopnet.reference``.

The same functions as the loop backend, computed by the twin written for
reading: one matrix product per layer and equation. Its trainer is a Python loop
over mini-batches, slow next to the compiled one; it is there to check it.
"""

import numpy as np

from loopnet import reference
from loopnet.costs import example_costs
from loopnet.kernels.update import ADAM, NESTEROV, SGD, OptimizerState


def _reference_biases(layout, biases):
    """Biases as ``reference`` takes them: ``None`` per layer without biases."""
    return biases if layout.bias else [None] * layout.n_layers


def _layer_gradients(layout, params, X, Y, scale, l2):
    """(dWs, dbiases) of ``reference.gradient``, scaled: the reduction is ``scale``."""
    weights, biases = layout.views(params)
    # An overflow is reported once, by the caller's check of the result.
    with np.errstate(over="ignore", invalid="ignore"):
        dWs, dbiases = reference.gradient(
            weights,
            _reference_biases(layout, biases),
            X,
            Y,
            layout.activation_names,
            layout.cost_name,
            "sum",
            l2,
        )
        dWs = [scale * dW for dW in dWs]
        dbiases = [None if dbias is None else scale * dbias for dbias in dbiases]
    return dWs, dbiases


def gradient(layout, params, X, Y, scale, l2):
    """dC/dparams by ``reference.gradient``, in the flat layout."""
    flat = np.empty_like(params)
    weights, biases = layout.views(flat)
    dWs, dbiases = _layer_gradients(layout, params, X, Y, scale, l2)
    for out, value in zip(weights + biases, dWs + dbiases, strict=True):
        if value is not None:
            out[...] = value
    return flat


def layer_values(layout, params, X, Y, scale, l2):
    """z^l, a^l, delta^l and dW^l, dbias^l of every layer, by ``loopnet.reference``.

    Returns the dict of ``loop.layer_values``.
    """
    weights, biases = layout.views(params)
    biases = _reference_biases(layout, biases)
    names, cost = layout.activation_names, layout.cost_name
    with np.errstate(over="ignore", invalid="ignore"):
        Zs, As = reference.forward(weights, biases, X, names)
        deltas = reference.backward(weights, Zs, As, Y, names, cost)
    dWs, dbiases = _layer_gradients(layout, params, X, Y, scale, l2)
    return {"z": Zs, "a": As, "delta": deltas, "dW": dWs, "dbias": dbiases}


OPTIMIZERS = {"sgd": SGD, "nesterov": NESTEROV, "adam": ADAM}
"""The optimizers this backend's trainer takes (``reference``'s steps of each),
and their codes, whose ``OptimizerState`` is laid out as the loop backend's."""


class Trainer:
    """Mini-batch training by the matrix form, one Python iteration per mini-batch.

    Each step is ``reference.sgd_step``, ``reference.nesterov_step`` or
    ``reference.adam_step`` on every block, with the mean mini-batch gradient of
    ``reference.forward`` and ``reference.backward``: the equations of
    ``kernels.training._train_batches``, summed by NumPy. The state is an
    ``OptimizerState``, laid out as the loop backend's, so either continues the
    other's.
    """

    running_cost = True

    def __init__(
        self, layout, params, X, Y, batch_size, lr, decay, momentum, optimizer, betas
    ):
        self.layout, self.params, self.X, self.Y = layout, params, X, Y
        self.batch_size, self.optimizer = batch_size, optimizer
        to = params.dtype.type
        self.lr, self.decay, self.momentum = to(lr), to(decay), to(momentum)
        self.beta1, self.beta2, self.eps = (to(x) for x in betas)
        self.weights, biases = layout.views(params)
        self.biases = _reference_biases(layout, biases)

    def _blocks(self):
        """Per block: (param view, its decay, its state's views), weights first."""
        layout = self.layout
        views = [
            layout.views(array) if array.size else None for array in self.state[:3]
        ]
        blocks = []
        for layer in range(layout.n_layers):
            for kind, params in ((0, self.weights), (1, self.biases)):
                if params[layer] is None:
                    continue
                states = [None if v is None else v[kind][layer] for v in views]
                decay = self.decay if kind == 0 else self.params.dtype.type(0)
                blocks.append((params[layer], decay, states))
        return blocks

    def snapshot(self):
        """A copy of everything a step changes: the parameters and the state."""
        return self.params.copy(), [array.copy() for array in self.state]

    def restore(self, snapshot):
        """Put back the parameters and state of ``snapshot`` (``snapshot()``)."""
        params, state = snapshot
        self.params[...] = params
        for array, saved in zip(self.state, state, strict=True):
            array[...] = saved

    def set_lr(self, lr):
        """Use learning rate ``lr`` from the next step on (a schedule's next epoch)."""
        self.lr = self.params.dtype.type(lr)

    def run(self, order, first, stop, cost_sum):
        """Mini-batches ``first .. stop - 1`` of ``order``; return the running cost."""
        layout = self.layout
        names, cost = layout.activation_names, layout.cost_name
        for i in range(first, stop):
            rows = order[i * self.batch_size : (i + 1) * self.batch_size]
            X, Y = self.X[rows], self.Y[rows]
            with np.errstate(all="ignore"):  # divergence shows in the cost
                Zs, As = reference.forward(self.weights, self.biases, X, names)
                cost_sum += float(
                    example_costs(Zs[-1], As[-1], Y, names[-1], cost).sum()
                )
                deltas = reference.backward(self.weights, Zs, As, Y, names, cost)
                scale = self.params.dtype.type(1 / X.shape[0])
                grads = []
                for delta, A_prev in zip(deltas, [X, *As[:-1]], strict=True):
                    grads.append(scale * reference.weight_gradient(delta, A_prev))
                    if layout.bias:
                        grads.append(scale * reference.bias_gradient(delta))
                self.state.t[0] += 1
                for (param, decay, states), grad in zip(
                    self._blocks(), grads, strict=True
                ):
                    self._step(param, grad, decay, *states)
        return cost_sum

    def _step(self, param, grad, decay, velocity, m, v):
        """The optimizer's ``reference`` step of one block, written back in place."""
        if self.optimizer == "adam":
            param[...], m[...], v[...] = reference.adam_step(
                param,
                grad,
                self.lr,
                decay,
                self.beta1,
                self.beta2,
                self.eps,
                m,
                v,
                int(self.state.t[0]),
            )
        elif self.optimizer == "nesterov":
            param[...], velocity[...] = reference.nesterov_step(
                param, grad, self.lr, decay, self.momentum, velocity
            )
        else:
            param[...], velocity[...] = reference.sgd_step(
                param, grad, self.lr, decay, self.momentum, velocity
            )


def trainer(layout, params, X, Y, batch_size, rule):
    """A ``Trainer`` of ``params`` in place; the arguments of ``loop.trainer``."""
    trained = Trainer(
        layout,
        params,
        X,
        Y,
        batch_size,
        rule.lr,
        rule.decay,
        rule.momentum,
        rule.optimizer,
        (rule.beta1, rule.beta2, rule.eps),
    )
    state = rule.state
    if state is None:
        kind = OPTIMIZERS[rule.optimizer]
        state = OptimizerState.zeros(kind, params.shape[0], params.dtype)
    trained.state = OptimizerState(*(array.copy() for array in state))
    return trained
