"""A training step's rule as ``fit`` checked it, before a backend rounds it.

Every backend's ``trainer(layout, params, X, Y, batch_size, rule)`` takes one
``StepRule``: the optimizer, its constants in float64 (each backend rounds them
once to the parameters' dtype) and the optimizer state to continue, if any.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class StepRule:
    """The optimizer and constants of each step of ``fit``, and where it starts.

    Attributes
    ----------
    optimizer : str
        ``"sgd"`` (with momentum when ``momentum`` > 0), ``"nesterov"`` or
        ``"adam"``.
    lr : float
        Learning rate of the first epoch (a schedule's next ones go through
        the trainer's ``set_lr``).
    decay : float
        L2 decay of the weights, l2 / N for N training examples.
    momentum : float
        mu in [0, 1) for SGD and Nesterov; unused by Adam.
    beta1, beta2, eps : float
        Adam's constants; unused by the others.
    state : OptimizerState or None
        The state to continue (copied, never changed), or None to start at rest.

    Examples
    --------
    >>> StepRule("sgd", lr=0.5, momentum=0.9).decay
    0.0
    """

    optimizer: str = "sgd"
    lr: float = 0.1
    decay: float = 0.0
    momentum: float = 0.0
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    state: object = None
