"""Gradient checking by central differences of the cost over the flat parameters."""

from dataclasses import dataclass

import numpy as np

from loopnet import _validation as check
from loopnet.backends import NAMES as METHODS
from loopnet.layout import REDUCTIONS
from loopnet.network import Network


@dataclass(frozen=True)
class GradcheckResult:
    """Outcome of ``gradcheck``.

    Attributes
    ----------
    max_rel_error : float
        max over the checked parameters i of
        |g_i - g_num_i| / max(1, |g_i| + |g_num_i|).
    ok : bool
        ``max_rel_error < tol``.
    tol : float
        The threshold used.
    n_checked : int
        How many parameters were perturbed.
    worst_index : int
        Index into ``params`` of the parameter with the largest error.
    """

    max_rel_error: float
    ok: bool
    tol: float
    n_checked: int
    worst_index: int


def gradcheck(
    net,
    X,
    Y,
    eps=1e-6,
    reduction="mean",
    l2=0.0,
    *,
    method="loop",
    max_params=300,
    seed=0,
    tol=None,
):
    """Compare ``net.gradient`` with central differences of ``net.cost``.

    g_num_i = (C(p + eps e_i) - C(p - eps e_i)) / (2 eps), for every parameter i
    when the network has at most ``max_params`` of them, otherwise for a seeded
    random subset of ``max_params`` indexes.

    Parameters
    ----------
    net : Network
        The network; its parameters are perturbed one at a time and always restored
        bit for bit, also when a call raises.
    X, Y : array_like
        Inputs and targets, as for ``Network.gradient``.
    eps : float
        Step of the central difference.
    reduction : {"mean", "sum"}
        Which cost.
    l2 : float
        L2 strength.
    method : {"loop", "matrix"}
        Which form of ``net.gradient`` is checked.
    max_params : int
        Check every parameter up to this many, else a random subset of this size.
    seed : None, int or numpy.random.Generator
        Seed of the subset.
    tol : float, optional
        Threshold on ``max_rel_error`` for ``ok``: 1e-6 by default for float64. For a
        float32 network the differences of the cost are taken on a float64 copy of
        it (float32 cannot resolve a step of 1e-6) and the default is 1e-3, the
        float32 gradient's own rounding.

    Returns
    -------
    GradcheckResult

    Raises
    ------
    TypeError, ValueError
        For a bad argument, naming it; ``net``'s parameters are left as they
        were.

    Examples
    --------
    >>> import numpy as np
    >>> import loopnet as ln
    >>> net = ln.Network([2, 3, 1], seed=0)
    >>> ln.gradcheck(net, [[0.3, 1.0], [0.5, 0.2]], [[0.75], [0.82]]).ok
    True
    """
    if not isinstance(net, Network):
        raise TypeError(f"net must be a loopnet.Network, got {type(net).__name__}")
    eps = check.check_real(eps, "eps", 0.0, low_open=True)
    max_params = check.check_count(max_params, "max_params")
    check.check_choice(method, "method", METHODS)
    check.check_choice(reduction, "reduction", REDUCTIONS)
    if tol is not None:
        tol = check.check_real(tol, "tol", 0.0, low_open=True)
    rng = check.check_seed(seed)
    net.layout.check_params(net.params)
    analytic = net.gradient(X, Y, reduction=reduction, l2=l2, method=method).flat
    probe = net if net.dtype == np.float64 else _float64_copy(net)
    if tol is None:
        tol = 1e-6 if net.dtype == np.float64 else 1e-3
    n_params = net.n_params
    if n_params <= max_params:
        indexes = np.arange(n_params)
    else:
        indexes = np.sort(rng.choice(n_params, max_params, replace=False))
    numeric = np.empty(indexes.shape[0])
    params = probe.params
    for position, i in enumerate(indexes):
        original = params[i]
        try:
            params[i] = original + eps
            c_plus = float(probe.cost(X, Y, reduction=reduction, l2=l2))
            params[i] = original - eps
            c_minus = float(probe.cost(X, Y, reduction=reduction, l2=l2))
        except ValueError as error:  # X, Y and l2 passed above: the step did it
            raise ValueError(
                f"eps={eps!r} is too large: the cost at params[{i}] +- eps is not"
                f" finite ({error})"
            ) from error
        finally:
            params[i] = original
        difference = (c_plus - c_minus) / (2 * eps)
        if not np.isfinite(difference):
            raise ValueError(
                f"eps={eps!r} is too small: (C(p + eps) - C(p - eps)) / (2 eps)"
                f" overflows at params[{i}]"
            )
        numeric[position] = difference
    g = analytic[indexes].astype(np.float64)
    errors = np.abs(g - numeric) / np.maximum(1.0, np.abs(g) + np.abs(numeric))
    worst = int(np.argmax(errors))
    max_rel_error = float(errors[worst])
    return GradcheckResult(
        max_rel_error=max_rel_error,
        ok=bool(max_rel_error < tol),
        tol=float(tol),
        n_checked=int(indexes.shape[0]),
        worst_index=int(indexes[worst]),
    )


def _float64_copy(net):
    """The same network in float64, for differences a float32 cost cannot resolve."""
    from loopnet.network import Network

    clone = Network(
        net.sizes,
        net.activation,
        net.output,
        net.cost_name,
        net.bias,
        "float64",
        seed=0,
    )
    clone.params[:] = net.params
    return clone
