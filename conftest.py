"""Numba's CUDA simulator where no GPU answers; doctests that need a missing extra skip.

``tests/test_cuda.py`` and the doctests of ``loopnet.cuda`` (collected from
``loopnet/``) need a GPU or Numba's CUDA simulator, and the simulator must be
switched on (``NUMBA_ENABLE_CUDASIM=1``) before ``numba.cuda`` is first imported.
Deciding here, in the root conftest, makes it hold for any selection of tests:
the CUDA doctests used to pass only when ``tests/test_cuda.py`` was collected
too, and failed under ``pytest loopnet`` on a machine without a GPU.
``NUMBA_ENABLE_CUDASIM`` set by hand wins: ``=1`` forces the simulator, ``=0``
the GPU.

The doctests of ``loopnet/`` (``--doctest-modules``) that need an optional extra
(``DOCTEST_EXTRAS``) are skipped, with the install command as the reason, where it
is not installed, and so are the modules that import it (``loopnet.cuda``'s
kernels import numba-cuda): ``pip install -e ".[test]" && pytest`` passes without
the examples and cuda extras. The tests under ``tests/`` mark their own
(``tests.helpers.needs_sklearn``, ...).
"""

import ctypes
import importlib.util
import os

import pytest
from numba.core import config

# Doctests and modules of loopnet/ by the start of their dotted name: (the module
# they need, its package, the extra that installs it).
DOCTEST_EXTRAS = {
    "loopnet.datasets.digits": ("sklearn", "scikit-learn", "examples"),
    "loopnet.sklearn": ("sklearn", "scikit-learn", "test"),
    "loopnet.plots.": ("matplotlib", "matplotlib", "examples"),
    "loopnet.cuda.": ("numba_cuda", "numba-cuda", "cuda"),
    "loopnet.distributed": ("distributed", "dask[distributed]", "distributed"),
}
MISSING_EXTRAS = {
    prefix: f'{package} is not installed: pip install -e ".[{extra}]"'
    for prefix, (module, package, extra) in DOCTEST_EXTRAS.items()
    if importlib.util.find_spec(module) is None
}
"""The prefixes of ``DOCTEST_EXTRAS`` whose module is missing, with the skip reason."""


def gpu_present():
    """Whether the CUDA driver answers with at least one device (without numba.cuda)."""
    try:
        libcuda = ctypes.CDLL("libcuda.so.1")
    except OSError:
        return False
    count = ctypes.c_int(0)
    return (
        libcuda.cuInit(0) == 0
        and libcuda.cuDeviceGetCount(ctypes.byref(count)) == 0
        and count.value > 0
    )


if "NUMBA_ENABLE_CUDASIM" not in os.environ and not gpu_present():
    os.environ["NUMBA_ENABLE_CUDASIM"] = "1"
    config.reload_config()


class NeedsExtra(pytest.File):
    """A module of loopnet/ that imports a missing extra: never imported.

    Its doctests are one skipped item, named ``doctests``, so that the skip is
    reported under the module's path.
    """

    def __init__(self, *, reason, **kwargs):
        super().__init__(**kwargs)
        self.reason = reason

    def collect(self):
        """One item for the module's doctests, skipped with the install command."""
        item = SkippedDoctests.from_parent(self, name="doctests")
        item.add_marker(pytest.mark.skip(reason=self.reason))
        yield item


class SkippedDoctests(pytest.Item):
    """The doctests of a module that cannot be imported here (never run)."""

    def runtest(self):
        """Never called: the item is marked skip."""

    def reportinfo(self):
        """The module's path and its first line."""
        return self.path, 0, self.name


def _dotted_name(path, root):
    """``loopnet/cuda/kernels/errors.py`` -> ``loopnet.cuda.kernels.errors``."""
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@pytest.hookimpl(wrapper=True)
def pytest_collect_file(file_path, parent):
    """Collect a module that needs a missing extra as one skip, not an import error."""
    collectors = yield
    if collectors and file_path.is_relative_to(parent.config.rootpath):
        name = _dotted_name(file_path, parent.config.rootpath)
        for prefix, reason in MISSING_EXTRAS.items():
            if name.startswith(prefix):
                return [NeedsExtra.from_parent(parent, path=file_path, reason=reason)]
    return collectors


def pytest_collection_modifyitems(config, items):
    """Skip each doctest named in ``DOCTEST_EXTRAS`` whose extra is missing."""
    doctests = [item for item in items if isinstance(item, pytest.DoctestItem)]
    for item in doctests:  # named after the object it documents
        for prefix, reason in MISSING_EXTRAS.items():
            if item.name.startswith(prefix):
                item.add_marker(pytest.mark.skip(reason=reason))
