"""Learning-rate schedules: the rate lr(e) of each epoch e, counted from 0.

    Constant(lr0)                   lr(e) = lr0
    StepDecay(lr0, drop, every)     lr(e) = lr0 * drop^floor(e / every)
    Exponential(lr0, gamma)         lr(e) = lr0 * gamma^e
    InverseScaling(lr0, power)      lr(e) = lr0 / (e + 1)^power
    FromFunction(function)          lr(e) = function(e)

``InverseScaling`` is scikit-learn's ``learning_rate="invscaling"`` with the
epoch as its time step. ``as_schedule`` turns what a user passes as ``lr`` (a
number, a schedule, any callable of the epoch) into a schedule, checked: a
schedule's value at an epoch is checked when that epoch is asked for, so a
callable that returns a bad value raises then, naming the epoch.
"""

import abc
import numbers
from dataclasses import dataclass

from loopnet import _validation as check

__all__ = [
    "Constant",
    "Exponential",
    "FromFunction",
    "InverseScaling",
    "Schedule",
    "StepDecay",
    "as_schedule",
]


class Schedule(abc.ABC):
    """A learning rate per epoch: ``schedule(epoch)`` is lr(e), checked.

    Subclasses define ``rate(epoch)``, the formula; calling the schedule checks
    the epoch and the rate.
    """

    @abc.abstractmethod
    def rate(self, epoch):
        """lr(e) by the schedule's formula, unchecked."""

    def __call__(self, epoch, dtype=None):
        """The learning rate of epoch ``epoch`` (from 0), a finite float > 0.

        Parameters
        ----------
        epoch : int
            The epoch, >= 0.
        dtype : numpy dtype, optional
            The dtype the rate will be used in: it must also stay finite and
            above 0 when rounded to it.

        Returns
        -------
        float

        Raises
        ------
        ValueError, TypeError
            For a bad ``epoch``, or a rate that is not a finite real number
            > 0 (in ``dtype``), naming ``lr`` and the epoch.
        """
        epoch = check.check_count(epoch, "epoch", 0)
        value = self.rate(epoch)
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(
                f"lr at epoch {epoch} must be a real number; the schedule {self!r}"
                f" gave {value!r}"
            )
        try:
            return check.check_real(value, "lr", 0.0, low_open=True, dtype=dtype)
        except ValueError as error:
            raise ValueError(
                f"lr at epoch {epoch}, from the schedule {self!r}: {error}"
            ) from error


def _positive(value, name):
    return check.check_real(value, name, 0.0, low_open=True)


def _fraction(value, name):
    """``value`` in (0, 1]: a factor that decays the rate, never to 0."""
    value = _positive(value, name)
    if value > 1:
        raise ValueError(f"{name} must be in (0, 1], got {value!r}")
    return value


@dataclass(frozen=True)
class Constant(Schedule):
    """lr(e) = lr0 for every epoch e.

    Parameters
    ----------
    lr0 : float
        The rate, finite and > 0.

    Examples
    --------
    >>> from loopnet.schedules import Constant
    >>> Constant(0.5)(0), Constant(0.5)(100)
    (0.5, 0.5)
    """

    lr0: float

    def __post_init__(self):
        """Check ``lr0``."""
        object.__setattr__(self, "lr0", _positive(self.lr0, "lr0"))

    def rate(self, epoch):
        """lr0."""
        return self.lr0


@dataclass(frozen=True)
class StepDecay(Schedule):
    """lr(e) = lr0 * drop^floor(e / every): multiplied by ``drop`` every ``every``.

    Parameters
    ----------
    lr0 : float
        The rate of epochs 0 .. every - 1, finite and > 0.
    drop : float
        The factor, in (0, 1].
    every : int
        Epochs between drops, >= 1.

    Examples
    --------
    >>> from loopnet.schedules import StepDecay
    >>> schedule = StepDecay(1.0, drop=0.5, every=10)
    >>> [schedule(e) for e in (0, 9, 10, 19, 20)]
    [1.0, 1.0, 0.5, 0.5, 0.25]
    """

    lr0: float
    drop: float = 0.5
    every: int = 10

    def __post_init__(self):
        """Check the arguments."""
        object.__setattr__(self, "lr0", _positive(self.lr0, "lr0"))
        object.__setattr__(self, "drop", _fraction(self.drop, "drop"))
        object.__setattr__(self, "every", check.check_count(self.every, "every"))

    def rate(self, epoch):
        """lr0 * drop^floor(e / every)."""
        return self.lr0 * self.drop ** (epoch // self.every)


@dataclass(frozen=True)
class Exponential(Schedule):
    """lr(e) = lr0 * gamma^e.

    Parameters
    ----------
    lr0 : float
        The rate of epoch 0, finite and > 0.
    gamma : float
        The factor per epoch, in (0, 1].

    Notes
    -----
    lr0 * gamma^e underflows to 0 after a few hundred epochs of a small gamma
    (0.5^1075 is 0 in float64); asking for such an epoch raises ValueError.

    Examples
    --------
    >>> from loopnet.schedules import Exponential
    >>> [Exponential(1.0, gamma=0.5)(e) for e in range(4)]
    [1.0, 0.5, 0.25, 0.125]
    """

    lr0: float
    gamma: float = 0.95

    def __post_init__(self):
        """Check the arguments."""
        object.__setattr__(self, "lr0", _positive(self.lr0, "lr0"))
        object.__setattr__(self, "gamma", _fraction(self.gamma, "gamma"))

    def rate(self, epoch):
        """lr0 * gamma^e."""
        return self.lr0 * self.gamma**epoch


@dataclass(frozen=True)
class InverseScaling(Schedule):
    """lr(e) = lr0 / (e + 1)^power, scikit-learn's ``"invscaling"`` by epoch.

    Parameters
    ----------
    lr0 : float
        The rate of epoch 0, finite and > 0.
    power : float
        The exponent, finite and >= 0 (scikit-learn's ``power_t``, 0.5 by
        default there too); 0 is a constant rate.

    Examples
    --------
    >>> from loopnet.schedules import InverseScaling
    >>> [InverseScaling(1.0, power=0.5)(e) for e in (0, 3, 99)]
    [1.0, 0.5, 0.1]
    """

    lr0: float
    power: float = 0.5

    def __post_init__(self):
        """Check the arguments."""
        object.__setattr__(self, "lr0", _positive(self.lr0, "lr0"))
        object.__setattr__(self, "power", check.check_real(self.power, "power", 0.0))

    def rate(self, epoch):
        """lr0 / (e + 1)^power."""
        return self.lr0 / (epoch + 1) ** self.power


@dataclass(frozen=True)
class FromFunction(Schedule):
    """lr(e) = function(e), for any callable of the epoch.

    Parameters
    ----------
    function : callable
        Called with the epoch (an int from 0); it should return a finite real
        number > 0. It is not called before an epoch is asked for: what it
        returns is checked then, and a bad value raises naming the epoch.

    Examples
    --------
    >>> from loopnet.schedules import FromFunction
    >>> schedule = FromFunction(lambda e: 0.1 if e < 5 else 0.01)
    >>> schedule(4), schedule(5)
    (0.1, 0.01)
    """

    function: object

    def __post_init__(self):
        """Check that ``function`` is callable."""
        if not callable(self.function):
            raise TypeError(f"function must be callable, got {self.function!r}")

    def rate(self, epoch):
        """function(e)."""
        return self.function(epoch)


def as_schedule(lr):
    """The checked schedule of what a user passes as ``lr``.

    Parameters
    ----------
    lr : float, Schedule or callable
        A number: ``Constant(lr)``, finite and > 0. A ``Schedule``: itself
        (checked when it was made). Any other callable ``f``:
        ``FromFunction(f)``, its values checked at each epoch.

    Returns
    -------
    Schedule

    Raises
    ------
    ValueError
        For a number that is not finite or is <= 0, naming ``lr``.
    TypeError
        For anything else (a string, a bool, None), naming ``lr``.

    Examples
    --------
    >>> import math
    >>> from loopnet.schedules import as_schedule, StepDecay
    >>> as_schedule(0.1)
    Constant(lr0=0.1)
    >>> as_schedule(StepDecay(0.1, drop=0.5, every=5))(5)
    0.05
    >>> round(as_schedule(lambda e: 0.1 * math.cos(e / 10))(3), 6)
    0.095534
    """
    if isinstance(lr, Schedule):
        return lr
    if isinstance(lr, numbers.Real) and not isinstance(lr, bool):
        return Constant(check.check_real(lr, "lr", 0.0, low_open=True))
    if callable(lr):
        return FromFunction(lr)
    raise TypeError(
        "lr must be a number > 0, a loopnet.schedules.Schedule or a callable of"
        f" the epoch; got {lr!r}"
    )
