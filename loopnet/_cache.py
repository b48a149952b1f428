"""Where Numba caches loopnet's compiled kernels, decided before any is compiled.

Numba stores the machine code of a ``cache=True`` function in the first writable
place among ``NUMBA_CACHE_DIR``, the ``__pycache__`` folder beside its source and
the user-wide cache (``~/.cache/numba``); when none is writable, decorating the
function raises "cannot cache function ...: no locator available", and importing
loopnet would fail. A read-only install (a system site-packages, a container
image, a read-only home) is exactly that case.

``CACHE`` is decided once, when ``loopnet._jit`` is imported, before any
kernel is decorated: if one of Numba's places works for every folder holding
kernels, nothing changes. Otherwise ``numba.config.CACHE_DIR`` points at a
private folder of this user in the temporary directory (this process only; the
environment is left alone), or, if that cannot be made either, caching is turned
off. Either way one ``NumbaCacheWarning`` says so.
"""

import os
import pickle
import stat
import tempfile
import warnings

import numba

_PACKAGE = os.path.dirname(os.path.abspath(__file__))
KERNEL_FOLDERS = (_PACKAGE, os.path.join(_PACKAGE, "kernels"))
"""Folders whose modules define compiled functions (``activations``, ``costs``,
``kernels/*``): Numba caches each next to its source by default."""


class NumbaCacheWarning(UserWarning):
    """Numba cannot cache loopnet's kernels where it would; see ``loopnet._cache``."""


def writable(folder):
    """Whether ``folder`` exists or can be made, and a file can be written in it.

    The same test Numba makes before it picks a cache folder.
    """
    try:
        os.makedirs(folder, exist_ok=True)
        tempfile.TemporaryFile(dir=folder).close()
    except OSError:
        return False
    return True


def user_wide_folder():
    """Numba's user-wide cache folder (``~/.cache/numba`` on Linux), or None."""
    try:
        from numba.misc.appdirs import AppDirs
    except ImportError:  # a Numba without it has no user-wide cache to try
        return None
    return AppDirs(appname="numba", appauthor=False).user_cache_dir


def numba_can_cache(folders, user_wide):
    """Whether Numba finds a writable cache folder for a kernel in each of ``folders``.

    Parameters
    ----------
    folders : sequence of str
        Folders holding modules with ``cache=True`` functions.
    user_wide : str or None
        Numba's user-wide cache folder.

    Returns
    -------
    bool
        True when, for every folder, ``numba.config.CACHE_DIR`` (if set), the
        folder's ``__pycache__`` or ``user_wide`` is writable: Numba tries them in
        that order.
    """
    for folder in folders:
        candidates = [numba.config.CACHE_DIR, os.path.join(folder, "__pycache__")]
        candidates.append(user_wide)
        if not any(place and writable(place) for place in candidates):
            return False
    return True


def private_folder():
    """A cache folder in the temporary directory that only this user can write.

    ``loopnet-numba-cache-<uid>`` is reused between processes, so a fallback
    cache still saves compile time; a cache holds pickled data, so the folder
    is used only when it is a real folder owned by this user and closed to
    others. Otherwise a fresh ``tempfile.mkdtemp`` folder (private, but for this
    process only). None when neither can be made.
    """
    try:
        tmp = tempfile.gettempdir()
    except OSError:  # "no usable temporary directory"
        return None
    getuid = getattr(os, "getuid", None)
    owner = getuid() if getuid else None
    name = "user" if owner is None else owner
    folder = os.path.join(tmp, f"loopnet-numba-cache-{name}")
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
        info = os.lstat(folder)
        private = (
            stat.S_ISDIR(info.st_mode)
            and (owner is None or info.st_uid == owner)
            and not info.st_mode & 0o077
        )
        if private and writable(folder):
            return folder
        return tempfile.mkdtemp(prefix="loopnet-numba-cache-")
    except OSError:
        return None


def configure(folders=KERNEL_FOLDERS):
    """Decide whether loopnet's kernels are cached, and where; warn once if moved.

    Parameters
    ----------
    folders : sequence of str
        Folders holding loopnet's compiled functions.

    Returns
    -------
    bool
        The ``cache`` option for ``numba.njit``: True when Numba can cache
        (possibly in the fallback folder now in ``numba.config.CACHE_DIR``),
        False when caching had to be turned off.
    """
    if numba.config.DISABLE_JIT:  # nothing is compiled, so nothing is cached
        return True
    if numba_can_cache(folders, user_wide_folder()):
        return True
    problem = (
        "loopnet: Numba cannot cache compiled kernels in the package folder"
        f" ({folders[0]}), NUMBA_CACHE_DIR ({numba.config.CACHE_DIR or 'unset'})"
        f" or the user cache ({user_wide_folder()}): none is writable"
    )
    fallback = private_folder()
    if fallback is None:
        warnings.warn(
            f"{problem}, nor is a temporary folder; caching is off, so every"
            " process compiles the kernels it uses again. Set NUMBA_CACHE_DIR to a"
            " writable folder to cache them.",
            NumbaCacheWarning,
            stacklevel=2,
        )
        return False
    numba.config.CACHE_DIR = fallback
    warnings.warn(
        f"{problem}; caching them in {fallback} instead. Set NUMBA_CACHE_DIR to a"
        " writable folder to choose the place.",
        NumbaCacheWarning,
        stacklevel=2,
    )
    return True


CACHE = configure()
"""The ``cache`` option of every kernel (``loopnet._jit.JIT``)."""


def _for_dtype(signature, dtype):
    """Whether a compiled signature takes arrays of ``dtype`` (the parameters')."""
    return any(getattr(argument, "dtype", None) == dtype for argument in signature)


def will_compile(dispatcher, dtype):
    """Whether calling ``dispatcher`` on arrays of ``dtype`` will compile it.

    False when this process has it already (compiled or loaded), or Numba's
    cache holds it for this machine and these sources: the entry Numba itself
    would load, found by reading the cache index (``.nbi``, a few hundred
    bytes) with Numba's own key, which names the signature, the CPU and the
    function's bytecode; the index's stamp covers the sources
    (``loopnet._cache_stamp``). Caching off means always True. Where Numba's
    cache internals are not as expected the answer is False: what it decides,
    a notice, may be left out, never shown wrongly.

    Parameters
    ----------
    dispatcher : numba dispatcher
        A compiled function of loopnet (a plain function without the JIT).
    dtype : numpy.dtype
        The dtype of the arrays it will be called with.

    Returns
    -------
    bool
    """
    if numba.config.DISABLE_JIT or not hasattr(dispatcher, "signatures"):
        return False
    wanted = numba.from_dtype(dtype)
    if any(_for_dtype(signature, wanted) for signature in dispatcher.signatures):
        return False
    cache = getattr(dispatcher, "_cache", None)
    if not CACHE or type(cache).__name__ == "NullCache":
        return True
    try:
        index = cache._cache_file._load_index()
        codegen = dispatcher.targetctx.codegen()
        for key in index:
            if _for_dtype(key[0], wanted) and cache._index_key(key[0], codegen) == key:
                return False
    except (AttributeError, TypeError, ValueError, OSError, EOFError, IndexError):
        return False
    except pickle.UnpicklingError:  # a damaged index: Numba compiles again
        return True
    return True
