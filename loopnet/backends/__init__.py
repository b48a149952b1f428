"""The backends: one name per way of computing a gradient or training a network.

``Network.gradient(method=...)`` and ``Network.fit(method=...)`` check their
arguments once and hand the checked arrays to the backend ``get(method)``
returns. Every backend is a module with the same functions, each taking the
network's ``Layout`` and flat ``params``, never the ``Network`` itself:

- ``gradient(layout, params, X, Y, scale, l2)`` -> dC/dparams, a new flat array;
- ``layer_values(layout, params, X, Y, scale, l2)`` -> z^l, a^l, delta^l, dW^l and
  dbias^l of every layer (``loopnet.compare``; the CPU backends only);
- ``trainer(layout, params, X, Y, batch_size, rule)``, ``rule`` a
  ``loopnet.steps.StepRule`` (the optimizer, its constants, the state to
  continue) -> an object whose
  ``run(order, first, stop, cost_sum)`` takes mini-batch steps ``first .. stop -
  1`` of an epoch in ``order`` and leaves the result in ``params``;
  ``running_cost`` says whether ``run`` returns the running cost; ``set_lr(lr)``
  changes the rate from the next step on (a schedule's next epoch);
  ``snapshot()`` copies the parameters and the optimizer's state and
  ``restore(snapshot)`` puts them back, on the host or the device (``fit`` undoes
  a step that diverged, and returns to early stopping's best epoch, with them).
  ``OPTIMIZERS`` names the optimizers a backend has; the CPU backends' trainers
  keep their ``kernels.update.OptimizerState`` as ``state`` (continued from
  the rule's), which ``fit`` leaves in ``Network.optimizer_state``. A backend
  with ``TRAINER_CHECKS_INPUTS = True`` has a ``run`` that finds a NaN or an
  infinity in ``X`` or ``Y`` itself, stopping before that mini-batch's step
  with a NaN cost: ``fit`` then spares a pass over all of ``X`` first.

``"loop"`` is the compiled kernels of ``loopnet.kernels``, ``"matrix"`` the NumPy
matrix form of ``loopnet.reference`` and ``"cuda"`` the kernels of
``loopnet.cuda`` on an NVIDIA GPU. The CUDA backend is imported here, when it is
asked for, and nowhere else: numba-cuda is an optional extra.
"""

import importlib

from loopnet import _validation as check

NAMES = ("loop", "matrix", "cuda")
"""The backends, by the name ``method=`` takes."""

_MODULES = {
    "loop": "loopnet.backends.loop",
    "matrix": "loopnet.backends.matrix",
    "cuda": "loopnet.cuda.backend",
}


def check_name(method):
    """Return ``method`` if it names a backend, else raise ValueError naming it."""
    return check.check_choice(method, "method", NAMES)


def get(method):
    """The backend module called ``method``, imported on first use.

    Raises
    ------
    ValueError
        For a name not in ``NAMES``.
    ImportError
        For ``"cuda"`` without numba-cuda (the message says how to install it).

    Examples
    --------
    >>> from loopnet import backends
    >>> backends.get("loop").__name__
    'loopnet.backends.loop'
    """
    return importlib.import_module(_MODULES[check_name(method)])
