"""Initial weights and biases: each scheme's distribution, drawn from one Generator.

For layer l, with ``W`` of shape (n_l, n_prev) (row j a neuron of layer l, column
k a neuron of layer l-1), every ``W[j, k]`` is drawn independently:

    "nielsen"          W[j, k] ~ N(0, 1/n_prev)            bias_j ~ N(0, 1)
    "large"            W[j, k] ~ N(0, 1)                   bias_j ~ N(0, 1)
    "glorot_uniform"   W[j, k] ~ U(-r, r), r = sqrt(6 / (n_prev + n_l))   bias_j = 0
    "glorot_normal"    W[j, k] ~ N(0, 2 / (n_prev + n_l))                 bias_j = 0
    "he_uniform"       W[j, k] ~ U(-r, r), r = sqrt(6 / n_prev)           bias_j = 0
    "he_normal"        W[j, k] ~ N(0, 2 / n_prev)                         bias_j = 0

N(0, s^2) is given by its variance; U(-r, r) has variance r^2 / 3, so each
uniform scheme has the variance of its normal twin: 2 / (n_prev + n_l) (Glorot and
Bengio 2010) and 2 / n_prev (He et al. 2015). "nielsen" is the seeds' default
(Nielsen's ``default_weight_initializer``, chapter 3) and ``Network``'s; "large" is
his chapter 1 ``large_weight_initializer``.

Draws are made in float64, layer by layer (weights, then that layer's biases when
the network has them and the scheme draws them), and rounded once to the
parameters' dtype: one seed gives the same values, up to rounding, in float32 and
float64.
"""

import math
from typing import NamedTuple

import numpy as np

from loopnet import _validation as check


def _nielsen_weights(rng, n_l, n_prev):
    return rng.standard_normal((n_l, n_prev)) / math.sqrt(n_prev)


def _standard_normal_weights(rng, n_l, n_prev):
    return rng.standard_normal((n_l, n_prev))


def _glorot_uniform_weights(rng, n_l, n_prev):
    limit = math.sqrt(6 / (n_prev + n_l))
    return rng.uniform(-limit, limit, (n_l, n_prev))


def _glorot_normal_weights(rng, n_l, n_prev):
    return rng.standard_normal((n_l, n_prev)) * math.sqrt(2 / (n_prev + n_l))


def _he_uniform_weights(rng, n_l, n_prev):
    limit = math.sqrt(6 / n_prev)
    return rng.uniform(-limit, limit, (n_l, n_prev))


def _he_normal_weights(rng, n_l, n_prev):
    return rng.standard_normal((n_l, n_prev)) * math.sqrt(2 / n_prev)


def _standard_normal_biases(rng, n_l):
    return rng.standard_normal(n_l)


def _zero_biases(rng, n_l):
    return np.zeros(n_l)  # draws nothing: the next layer's draws are unchanged


class Initialization(NamedTuple):
    """How one scheme draws a layer's parameters, in float64.

    Attributes
    ----------
    weights : callable
        ``weights(rng, n_l, n_prev)``: the (n_l, n_prev) weight matrix.
    biases : callable
        ``biases(rng, n_l)``: the (n_l,) bias vector.
    """

    weights: object
    biases: object


INITIALIZATIONS = {
    "nielsen": Initialization(_nielsen_weights, _standard_normal_biases),
    "large": Initialization(_standard_normal_weights, _standard_normal_biases),
    "glorot_uniform": Initialization(_glorot_uniform_weights, _zero_biases),
    "glorot_normal": Initialization(_glorot_normal_weights, _zero_biases),
    "he_uniform": Initialization(_he_uniform_weights, _zero_biases),
    "he_normal": Initialization(_he_normal_weights, _zero_biases),
}
"""Initialization name -> its draws (the table of the module docstring)."""


def check_init(init):
    """Return ``init`` if it names a scheme of ``INITIALIZATIONS``; else ValueError."""
    return check.check_choice(init, "init", tuple(INITIALIZATIONS))


def initialize(weights, biases, rng, init="nielsen"):
    """Fill every layer's ``W`` (and ``bias``) in place with the draws of ``init``.

    Parameters
    ----------
    weights : list of ndarray
        ``weights[layer]`` of shape (n_l, n_prev), written in place (the views
        ``Network.weights``).
    biases : list of ndarray or None
        ``biases[layer]`` of shape (n_l,), written in place (``Network.biases``);
        ``None`` for a network without biases, which draws none.
    rng : numpy.random.Generator
        The source of every draw, in the order: layer 1's ``W``, its bias, layer
        2's ``W``, ... (schemes with zero biases draw nothing for them).
    init : str
        A name of ``INITIALIZATIONS``.

    Raises
    ------
    ValueError
        For an unknown ``init``, naming it and the known names.

    Examples
    --------
    >>> import numpy as np
    >>> from loopnet.initializations import initialize
    >>> weights = [np.empty((3, 2)), np.empty((1, 3))]  # a [2, 3, 1] network
    >>> biases = [np.empty(3), np.empty(1)]
    >>> initialize(weights, biases, np.random.default_rng(0), "he_uniform")
    >>> bool(np.all(np.abs(weights[0]) <= np.sqrt(6 / 2))), biases[0]
    (True, array([0., 0., 0.]))
    """
    scheme = INITIALIZATIONS[check_init(init)]
    for layer, W in enumerate(weights):
        n_l, n_prev = W.shape
        W[...] = scheme.weights(rng, n_l, n_prev)
        if biases is not None:
            biases[layer][...] = scheme.biases(rng, n_l)
