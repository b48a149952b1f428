"""What pytest must find here: the ``rng`` fixture, the hypothesis profile, hooks.

The shared tolerances, shapes and helpers are in ``tests/helpers.py``, imported by
name (``from tests.helpers import TOL``).
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

from tests.helpers import NO_JIT, PROFILE

# Deterministic: the same examples on every run and machine (derandomize), no
# deadline (the first call of a kernel compiles it), no example database. Loaded
# here, before any test module is imported: a @settings(...) inherits from the
# profile loaded when it is created.
settings.register_profile(
    "loopnet",
    derandomize=True,
    deadline=None,
    database=None,
    max_examples=50,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
# The fuzz sample run in a subprocess (test_fuzz.py): other examples, from the
# seed given on its command line, and fewer of them.
settings.register_profile(
    "sample", parent=settings.get_profile("loopnet"), derandomize=False
)
settings.load_profile(PROFILE)


def pytest_collection_modifyitems(config, items):
    if NO_JIT:
        skip = pytest.mark.skip(reason="heavy: runs in the compiled test runs")
        for item in items:
            if "heavy" in item.keywords:
                item.add_marker(skip)


@pytest.fixture
def rng():
    return np.random.default_rng(20261123)
