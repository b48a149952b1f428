"""Learning-rate schedules: each formula, epoch from 0, and every refused value."""

import dataclasses
import math

import numpy as np
import pytest

from loopnet.schedules import (
    Constant,
    Exponential,
    FromFunction,
    InverseScaling,
    Schedule,
    StepDecay,
    as_schedule,
)
from tests.helpers import needs_sklearn

EPOCHS = [0, 1, 2, 9, 10, 11, 29, 30, 1000]


@pytest.mark.parametrize("epoch", EPOCHS)
def test_constant(epoch):
    assert Constant(0.3)(epoch) == 0.3


@pytest.mark.parametrize("epoch", EPOCHS)
@pytest.mark.parametrize(
    "drop, every", [(0.5, 10), (0.5, 1), (0.1, 100), (1.0, 3), (0.9, 7)]
)
def test_step_decay(epoch, drop, every):
    assert StepDecay(0.3, drop, every)(epoch) == 0.3 * drop ** math.floor(epoch / every)


def test_step_decay_drops_at_multiples_of_every():
    schedule = StepDecay(2.0, drop=0.5, every=3)
    rates = [schedule(e) for e in range(10)]
    assert rates == [2.0, 2.0, 2.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.25]


@pytest.mark.parametrize("epoch", EPOCHS)
@pytest.mark.parametrize("gamma", [0.5, 0.95, 1.0])
def test_exponential(epoch, gamma):
    assert Exponential(0.3, gamma)(epoch) == 0.3 * gamma**epoch


@pytest.mark.parametrize("epoch", EPOCHS)
@pytest.mark.parametrize("power", [0.0, 0.25, 0.5, 1.0, 2.0])
def test_inverse_scaling(epoch, power):
    assert InverseScaling(0.3, power)(epoch) == 0.3 / (epoch + 1) ** power


@needs_sklearn
@pytest.mark.parametrize("power", [0.25, 0.5])
def test_inverse_scaling_is_scikit_learns_invscaling(power):
    """scikit-learn's SGD optimizer, after ``iteration_ends(e)``, uses lr(e)."""
    from sklearn.neural_network._stochastic_optimizers import SGDOptimizer

    optimizer = SGDOptimizer(
        [np.zeros(1)], learning_rate_init=0.3, lr_schedule="invscaling", power_t=power
    )
    for epoch in EPOCHS:
        optimizer.iteration_ends(epoch)
        assert InverseScaling(0.3, power)(epoch) == optimizer.learning_rate


@pytest.mark.parametrize("epoch", EPOCHS)
def test_from_function(epoch):
    assert FromFunction(lambda e: 0.1 / (1 + e))(epoch) == 0.1 / (1 + epoch)


def test_epoch_counts_from_zero():
    seen = []
    schedule = as_schedule(lambda e: seen.append(e) or 1.0)
    assert seen == []  # not called before an epoch is asked for
    schedule(0)
    schedule(np.int64(7))
    assert seen == [0, 7] and all(type(e) is int for e in seen)


def test_as_schedule_of_a_number_is_constant():
    for lr in (0.25, 2, np.float32(0.25), np.float64(0.5)):
        schedule = as_schedule(lr)
        assert schedule == Constant(float(lr)) and schedule(5) == float(lr)
        assert type(schedule(5)) is float


def test_as_schedule_keeps_a_schedule_and_wraps_a_callable():
    step = StepDecay(0.1)
    assert as_schedule(step) is step

    def rate(epoch):
        return 0.1

    assert as_schedule(rate) == FromFunction(rate)


def test_schedules_are_frozen_values():
    schedule = Exponential(0.1, 0.5)
    assert schedule == Exponential(0.1, 0.5) and repr(schedule) == (
        "Exponential(lr0=0.1, gamma=0.5)"
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        schedule.gamma = 0.9


@pytest.mark.parametrize("lr", [0.0, -0.1, np.nan, np.inf, -np.inf])
def test_as_schedule_refuses_a_bad_number(lr):
    with pytest.raises(ValueError, match="lr must be finite and in"):
        as_schedule(lr)


@pytest.mark.parametrize("lr", ["0.1", None, True, [0.1], np.array([0.1]), 1j])
def test_as_schedule_refuses_what_is_not_a_rate(lr):
    with pytest.raises(TypeError, match="lr must be a number > 0"):
        as_schedule(lr)


@pytest.mark.parametrize("bad", [np.nan, np.inf, 0.0, -1.0])
def test_a_callable_returning_a_bad_value_raises_at_that_epoch(bad):
    schedule = as_schedule(lambda e: bad if e == 3 else 0.1)
    assert [schedule(e) for e in range(3)] == [0.1] * 3
    with pytest.raises(ValueError, match="lr at epoch 3, from the schedule .*lr must"):
        schedule(3)
    assert schedule(4) == 0.1


@pytest.mark.parametrize("bad", ["0.1", None, True, np.array([0.1])])
def test_a_callable_returning_a_non_number_raises_at_that_epoch(bad):
    schedule = as_schedule(lambda e: bad)
    with pytest.raises(TypeError, match="lr at epoch 2 must be a real number"):
        schedule(2)


def test_a_rate_that_underflows_raises_at_that_epoch():
    schedule = Exponential(1.0, gamma=0.5)
    assert schedule(1074) == 5e-324  # the smallest float64
    with pytest.raises(ValueError, match="lr at epoch 1075"):
        schedule(1075)


def test_a_rate_is_checked_in_the_dtype_it_will_be_used_in():
    assert Constant(1e-40)(0, dtype=np.float64) == 1e-40
    with pytest.raises(ValueError, match="lr at epoch 0.*rounds to 0.0 in float32"):
        Constant(1e-50)(0, dtype=np.float32)
    with pytest.raises(ValueError, match="lr at epoch 2.*overflows float32"):
        as_schedule(lambda e: 1e300)(2, dtype=np.float32)


@pytest.mark.parametrize(
    "epoch, error", [(-1, ValueError), (1.5, TypeError), (True, TypeError)]
)
def test_a_bad_epoch_is_refused(epoch, error):
    with pytest.raises(error, match="epoch"):
        Constant(0.1)(epoch)


@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda: Constant(0.0), ValueError, "lr0"),
        (lambda: Constant(np.nan), ValueError, "lr0"),
        (lambda: Constant("0.1"), TypeError, "lr0"),
        (lambda: StepDecay(-1.0), ValueError, "lr0"),
        (lambda: StepDecay(0.1, drop=0.0), ValueError, "drop"),
        (lambda: StepDecay(0.1, drop=1.5), ValueError, r"drop must be in \(0, 1\]"),
        (lambda: StepDecay(0.1, every=0), ValueError, "every must be >= 1"),
        (lambda: StepDecay(0.1, every=2.5), TypeError, "every must be an integer"),
        (lambda: Exponential(0.1, gamma=0.0), ValueError, "gamma"),
        (lambda: Exponential(0.1, gamma=1.01), ValueError, "gamma"),
        (lambda: InverseScaling(0.1, power=-0.5), ValueError, "power"),
        (lambda: InverseScaling(0.1, power=np.inf), ValueError, "power"),
        (lambda: FromFunction(0.1), TypeError, "function must be callable"),
    ],
)
def test_a_bad_schedule_is_refused_when_made(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_every_schedule_is_a_schedule():
    for schedule in (
        Constant(0.1),
        StepDecay(0.1),
        Exponential(0.1),
        InverseScaling(0.1),
        FromFunction(abs),
    ):
        assert isinstance(schedule, Schedule) and callable(schedule)
