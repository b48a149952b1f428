"""Finding numba-cuda and a GPU when asked: importing ``loopnet.cuda`` needs neither.

``numba_cuda()`` returns the ``numba.cuda`` module of numba-cuda (NVIDIA's CUDA
target for Numba, the optional extra ``cuda``) or raises ImportError
saying how to install it; ``require_gpu()`` also raises RuntimeError when no GPU can
be used. Numba's CUDA simulator (``NUMBA_ENABLE_CUDASIM=1`` set before Numba is
imported) counts as a GPU: it runs the same kernels, slowly, on the CPU.
"""

from loopnet._extras import install_hint

INSTALL = install_hint("cuda")


def numba_cuda():
    """Return numba-cuda's ``numba.cuda`` module.

    Returns
    -------
    module
        ``numba.cuda``, provided by the numba-cuda package.

    Raises
    ------
    ImportError
        When numba-cuda is not installed, including when only the deprecated CUDA
        target built into older Numba releases is found.
    """
    try:
        from numba import cuda
    except ImportError as error:
        raise ImportError(
            "loopnet.cuda needs numba-cuda, NVIDIA's CUDA target for Numba, which is"
            f" not installed: {INSTALL}"
        ) from error
    if getattr(cuda, "implementation", None) != "NVIDIA":
        raise ImportError(
            "loopnet.cuda needs numba-cuda, NVIDIA's CUDA target for Numba; only the"
            f" deprecated target built into Numba was found: {INSTALL}"
        )
    return cuda


def simulator():
    """Whether Numba's CUDA simulator stands in for the GPU (NUMBA_ENABLE_CUDASIM)."""
    from numba.core import config

    return bool(config.ENABLE_CUDASIM)


def is_available():
    """Whether ``loopnet.cuda`` can run: numba-cuda is installed and sees a GPU.

    Returns
    -------
    bool
        Never raises; True under Numba's CUDA simulator as well.

    Examples
    --------
    >>> import loopnet.cuda
    >>> isinstance(loopnet.cuda.is_available(), bool)
    True
    """
    try:
        cuda = numba_cuda()
    except ImportError:
        return False
    return bool(cuda.is_available())


def require_gpu():
    """Return ``numba.cuda`` if a GPU (or the simulator) can run the kernels.

    Raises
    ------
    ImportError
        When numba-cuda is not installed.
    RuntimeError
        When numba-cuda finds no usable GPU; the message carries the driver's
        reason.
    """
    cuda = numba_cuda()
    if not cuda.is_available():
        raise RuntimeError(
            "loopnet.cuda found no usable NVIDIA GPU"
            f" ({cuda.cuda_error() or 'no CUDA device'}). Compute on the CPU with"
            " method='loop', or set NUMBA_ENABLE_CUDASIM=1 before Numba is imported to"
            " run the CUDA kernels on Numba's simulator (slow; meant for tests)."
        )
    return cuda
