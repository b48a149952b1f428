"""``loopnet.reference`` is the twin of ``loopnet.kernels``: one twin per kernel.

Every name of ``loopnet.kernels.__all__`` has a function of the same name in
``loopnet.reference`` taking the same arguments (an ``out`` buffer, which only a
loop kernel writes into, aside); each test file checks a twin's values against
its kernel.
"""

import inspect

import pytest

from loopnet import kernels, reference


def _arguments(function):
    """The parameters of ``function`` (name, kind, default), ``out`` left out."""
    return [
        parameter
        for parameter in inspect.signature(function).parameters.values()
        if parameter.name != "out"
    ]


@pytest.mark.parametrize("name", kernels.__all__)
def test_every_kernel_has_a_twin_of_the_same_name(name):
    assert callable(getattr(kernels, name))
    twin = getattr(reference, name, None)
    assert callable(twin), f"loopnet.reference has no twin of kernels.{name}"


@pytest.mark.parametrize("name", kernels.__all__)
def test_twin_takes_the_kernels_arguments(name):
    assert _arguments(getattr(reference, name)) == _arguments(getattr(kernels, name))
