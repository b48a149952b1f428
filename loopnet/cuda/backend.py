"""The ``"cuda"`` backend: ``loopnet.cuda``'s kernels behind ``loopnet.backends``.

The functions every backend has (``loopnet.backends``), on arguments its caller
has checked: parameters and data go to the GPU, results come back.
"""

from loopnet.cuda.network import gradient_checked as gradient
from loopnet.cuda.training import Trainer

__all__ = ["OPTIMIZERS", "gradient", "trainer"]

OPTIMIZERS = ("sgd",)
"""The optimizers of the GPU loop: SGD, with classical momentum when mu > 0.
``fit`` refuses the others (and continuing a state) for ``method="cuda"``."""


class _Runner:
    """``run`` of a ``Trainer``, copying the parameters back after every call.

    Ctrl-C between calls then leaves the last completed chunk's parameters in
    ``params``. The GPU loop keeps no running cost.
    """

    running_cost = False

    def __init__(self, trainer):
        self._trainer = trainer

    def set_lr(self, lr):
        """Use learning rate ``lr`` from the next step on (a schedule's next epoch)."""
        self._trainer.lr = self._trainer._real(lr)

    def snapshot(self):
        """Device copies of the parameters and the velocity (``Trainer.snapshot``)."""
        return self._trainer.snapshot()

    def restore(self, snapshot):
        """Put ``snapshot`` back on the device, and its parameters in ``params``."""
        self._trainer.restore(snapshot)
        self._trainer.pull()

    def run(self, order, first, stop, cost_sum):
        """Mini-batches ``first .. stop - 1`` of ``order`` on the GPU; returns None."""
        self._trainer.run(order, first, stop)
        self._trainer.pull()


def trainer(layout, params, X, Y, batch_size, rule):
    """Mini-batch SGD of ``params`` on the GPU (``Trainer``), copied back per call.

    The arguments of ``loopnet.backends.loop.trainer``; only ``"sgd"`` from rest
    (a rule whose ``state`` is None): Adam's and Nesterov's constants are unused.
    """
    if rule.optimizer not in OPTIMIZERS or rule.state is not None:
        raise ValueError(
            "the cuda backend trains by SGD (with momentum) from rest only; got"
            f" optimizer={rule.optimizer!r}"
            f"{'' if rule.state is None else ' and a state'}"
        )
    return _Runner(
        Trainer.from_layout(
            layout, params, X, Y, batch_size, rule.lr, rule.decay, rule.momentum
        )
    )
