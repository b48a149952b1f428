"""Stamp loopnet's cached kernels with all of loopnet's compiled sources, not one file.

Numba keys a cached function to the source of its own file only (a SHA-256 of
its content since Numba 0.68, the file's mtime and size before). A cached
caller whose callee lives in another file therefore keeps running the callee's
old machine code after that other file changes (numba#4908): after an upgrade of
loopnet in which only ``kernels/forward.py`` changed, ``fit``'s compiled loop in
``kernels/training.py`` would silently keep the old forward pass.

``install()`` puts one cache locator in front of Numba's own. For a function
defined in loopnet it defers to the locator Numba would have used (same
folder, same file names) and adds to the source stamp the SHA-256 of every
module of loopnet that holds compiled code (``SOURCES``), so any edit to any of
them makes every cached kernel stale and Numba compiles it again. Functions of
other packages never reach it. The hook uses Numba's cache internals
(``numba.core.caching``); where they are not as expected, it installs nothing
and caching works as plain Numba does.
"""

import hashlib
import os

from numba.core import caching

from loopnet._cache import KERNEL_FOLDERS

_PACKAGE = KERNEL_FOLDERS[0]


def compiled_sources(folders=KERNEL_FOLDERS):
    """The modules in ``folders`` that define compiled functions: path -> bytes.

    A module counts when its text mentions ``njit`` or ``intrinsic``: the
    kernels, the activations and costs they call, whose constants are compiled in
    with them, and the LLVM IR that ``kernels._vectors`` emits into its callers.
    Each file is read once; the paths come sorted.
    """
    sources = {}
    for folder in folders:
        for name in sorted(os.listdir(folder)):
            if not name.endswith(".py"):
                continue
            path = os.path.join(folder, name)
            with open(path, "rb") as file:
                content = file.read()
            if b"njit" in content or b"intrinsic" in content:
                sources[path] = content
    return sources


def sources_digest(sources):
    """SHA-256 (hex) of ``sources`` (path -> bytes): names (relative) and contents."""
    digest = hashlib.sha256()
    for path, content in sources.items():
        digest.update(os.path.relpath(path, _PACKAGE).encode("utf-8") + b"\0")
        digest.update(len(content).to_bytes(8, "little") + content)
    return digest.hexdigest()


class LoopnetCacheLocator:
    """Numba's cache locator for a loopnet function, stamped with ``DIGEST``.

    Parameters
    ----------
    inner : numba cache locator
        The locator Numba's own list chose for the function.
    digest : str
        ``sources_digest`` of loopnet's compiled modules.
    """

    numba_locators = ()
    """Numba's own locator classes, tried in order; set by ``install``."""

    digest = None
    """``sources_digest(compiled_sources())``; set by ``install``."""

    def __init__(self, inner):
        self._inner = inner

    @classmethod
    def from_function(cls, py_func, py_file):
        """A locator for functions defined in loopnet's folder; None for any other."""
        if os.path.dirname(os.path.abspath(py_file)) not in KERNEL_FOLDERS:
            return None
        for locator_class in cls.numba_locators:
            inner = locator_class.from_function(py_func, py_file)
            if inner is not None:
                return cls(inner)
        return None

    def ensure_cache_path(self):
        self._inner.ensure_cache_path()

    def get_cache_path(self):
        return self._inner.get_cache_path()

    def get_disambiguator(self):
        return self._inner.get_disambiguator()

    def get_source_stamp(self):
        """Numba's stamp of the function's own file, and the digest of all of them."""
        return (self._inner.get_source_stamp(), self.digest)

    def __getattr__(self, name):
        """Anything else Numba reads of a locator: the inner locator's.

        Numba reads ``_py_file``, say, when it warns that a function cannot be
        cached.
        """
        return getattr(self._inner, name)


def install():
    """Put ``LoopnetCacheLocator`` first in Numba's locator list, once.

    Returns
    -------
    bool
        Whether it is installed; False when this Numba keeps its locators
        somewhere else (then Numba's own stamps apply unchanged).
    """
    impl = getattr(caching, "CacheImpl", None) or getattr(caching, "_CacheImpl", None)
    locators = getattr(impl, "_locator_classes", None)
    if not isinstance(locators, list):
        return False
    if LoopnetCacheLocator in locators:
        return True
    LoopnetCacheLocator.numba_locators = tuple(locators)
    LoopnetCacheLocator.digest = sources_digest(compiled_sources())
    locators.insert(0, LoopnetCacheLocator)
    return True
