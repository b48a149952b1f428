"""The ``"matrix"`` backend: the NumPy matrix form of ``loopnet.reference``.

The same functions as the loop backend, computed by the twin written for
reading: one matrix product per layer and equation. Its trainer is a Python loop
over mini-batches, slow next to the compiled one; it is there to check it.
"""

import numpy as np

from loopnet import reference
from loopnet.costs import example_costs


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


class Trainer:
    """Mini-batch SGD by the matrix form, one Python iteration per mini-batch.

    Each step is ``reference.sgd_step`` on every block, with the mean mini-batch
    gradient of ``reference.forward`` and ``reference.backward``: the equations
    of ``kernels.training._train_batches``, summed by NumPy.
    """

    running_cost = True

    def __init__(self, layout, params, X, Y, batch_size, lr, decay, momentum):
        self.layout, self.params, self.X, self.Y = layout, params, X, Y
        self.batch_size = batch_size
        self.lr, self.decay, self.momentum = lr, decay, momentum
        self.weights, biases = layout.views(params)
        self.biases = _reference_biases(layout, biases)
        self.velocity = np.zeros_like(params)
        self.W_velocities, self.bias_velocities = layout.views(self.velocity)

    def snapshot(self):
        """A copy of everything a step changes: the parameters and the velocity."""
        return self.params.copy(), self.velocity.copy()

    def restore(self, snapshot):
        """Put back the parameters and velocity of ``snapshot`` (``snapshot()``)."""
        params, velocity = snapshot
        self.params[...] = params
        self.velocity[...] = velocity

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
                A_prevs = [X, *As[:-1]]
                for layer, (delta, A_prev) in enumerate(
                    zip(deltas, A_prevs, strict=True)
                ):
                    self._step(
                        self.weights[layer],
                        self.W_velocities[layer],
                        scale * reference.weight_gradient(delta, A_prev),
                        self.decay,
                    )
                    if self.biases[layer] is not None:
                        self._step(
                            self.biases[layer],
                            self.bias_velocities[layer],
                            scale * reference.bias_gradient(delta),
                            0.0,
                        )
        return cost_sum

    def _step(self, param, velocity, grad, decay):
        """``reference.sgd_step`` of one block, written back into ``params``."""
        param[...], velocity[...] = reference.sgd_step(
            param, grad, self.lr, decay, self.momentum, velocity
        )


def trainer(layout, params, X, Y, batch_size, lr, decay, momentum):
    """A ``Trainer`` of ``params`` in place: lr, decay (l2 / N) and momentum mu."""
    return Trainer(layout, params, X, Y, batch_size, lr, decay, momentum)
