"""Checks at the public boundary, before any compiled kernel runs.

Every message names the argument, what was expected and what was given.
Compiled kernels trust their inputs, so nothing
reaches them before passing through here.
"""

import numbers
import operator

import numpy as np

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))

_CHUNK = 1 << 22
"""Bytes per read of an untrusted file (``read_at_most``)."""


def as_array(x, name):
    """Return ``np.asarray(x)``; a ragged or unconvertible ``x`` raises naming ``name``.

    NumPy's own message for a ragged nested list ("setting an array element with
    a sequence") does not say which argument was ragged.
    """
    try:
        return np.asarray(x)
    except (TypeError, ValueError) as error:
        raise type(error)(
            f"{name} must be an array of numbers (rectangular, one value per"
            f" entry); NumPy could not convert it: {error}"
        ) from error


def resolve_dtype(dtype):
    """Return ``np.dtype(float32)`` or ``np.dtype(float64)`` for ``dtype``."""
    try:
        resolved = np.dtype(dtype)
    except TypeError as error:
        raise ValueError(
            f"dtype must be 'float32' or 'float64', got {dtype!r}"
        ) from error
    if resolved not in FLOAT_DTYPES:
        raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
    return resolved


def check_choice(value, name, choices):
    """Raise ValueError unless ``value`` is one of ``choices``."""
    if not isinstance(value, str) or value not in choices:
        expected = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{name} must be one of {expected}; got {value!r}")
    return value


def check_l2(l2, dtype=None):
    """Return ``l2`` as a finite float >= 0 (representable in ``dtype`` if given)."""
    return check_real(l2, "l2", 0.0, dtype=dtype)


def check_seed(seed, name="seed"):
    """Return ``numpy.random.default_rng(seed)``, naming ``name`` if it is refused."""
    try:
        return np.random.default_rng(seed)
    except (TypeError, ValueError) as error:
        raise type(error)(
            f"{name} must be None, a non-negative int or a numpy Generator;"
            f" got {seed!r}"
        ) from error


def check_count(value, name, minimum=1):
    """Return ``value`` as an int >= ``minimum`` (bools and floats are refused)."""
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    try:
        value = operator.index(value)
    except TypeError as error:
        raise TypeError(f"{name} must be an integer, got {value!r}") from error
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def _check_numeric(array, name):
    kind = array.dtype.kind
    if kind == "c":
        raise TypeError(f"{name} must be real-valued, got complex dtype {array.dtype}")
    if kind not in "biuf":
        raise TypeError(f"{name} must hold numbers, got dtype {array.dtype}")


SUM_CHECK_SIZE = 2**16
"""Entries from which ``all_finite`` first tries the sum."""


def all_finite(array):
    """Whether every entry of a float array is finite.

    A sum of finite terms is finite unless it overflows, and a NaN or an
    infinity among the terms makes it NaN or infinite: finite sums prove every
    term finite in one pass with no temporary array the size of the input. A
    C-contiguous float32 or float64 matrix is summed by rows, as the product
    with a vector of ones (BLAS's matrix-vector product reads it at memory
    speed, faster than ``np.add.reduce``: ``benchmarks/NOTES.md``); other arrays
    by ``np.add.reduce``. Only a sum
    that is not finite needs the test entry by entry, and so do arrays under
    ``SUM_CHECK_SIZE`` entries, where the sum's set-up costs more than it saves.
    """
    if array.size >= SUM_CHECK_SIZE:
        with np.errstate(over="ignore", invalid="ignore"):
            if (
                array.ndim == 2
                and array.flags.c_contiguous
                and array.dtype in (np.float32, np.float64)
            ):
                sums = array @ np.ones(array.shape[1], dtype=array.dtype)
            else:
                sums = np.add.reduce(array, axis=None)
        if np.isfinite(sums).all():
            return True
    return bool(np.isfinite(array).all())


def _not_finite(array, name):
    """The message for a float ``array`` that holds NaN or infinities, else None."""
    if all_finite(array):
        return None
    bad = np.count_nonzero(~np.isfinite(array))
    return (
        f"{name} must be finite; it holds {bad} NaN or infinite value(s)"
        f" (in {array.dtype})"
    )


def _check_finite(array, name):
    problem = _not_finite(array, name)
    if problem is not None:
        raise ValueError(problem)


def data_array(x, name, dtype, n_columns, finite=True):
    """Return data ``x`` as a C-contiguous ``(n_rows, n_columns)`` array of ``dtype``.

    Booleans, integers, float16 and other memory orders or byte orders are
    converted; complex, string and object arrays raise TypeError. NaN, infinities
    and values that do not fit ``dtype`` (1e308 into float32) raise ValueError,
    unless ``finite`` is False: then the caller checks the entries itself, with
    ``check_finite_data`` (``fit``'s compiled loop finds them as it gathers
    mini-batches, sparing a pass over the whole array).
    """
    array = as_array(x, name)
    _check_numeric(array, name)
    if array.ndim != 2:
        hint = " (one example per row; reshape a single example with .reshape(1, -1))"
        raise ValueError(
            f"{name} must be 2-D, shape (n_examples, {n_columns}){hint};"
            f" got {array.ndim}-D"
            f" with shape {array.shape}"
        )
    if array.shape[0] == 0:
        raise ValueError(
            f"{name} must have at least one row (example); got shape {array.shape}"
        )
    if array.shape[1] != n_columns:
        raise ValueError(
            f"{name} has {array.shape[1]} columns; the network expects {n_columns}"
        )
    converted = array
    if array.dtype != dtype or not array.flags.c_contiguous:
        with np.errstate(over="ignore", invalid="ignore"):
            converted = np.ascontiguousarray(array, dtype=dtype)
    if finite:
        check_finite_data(converted, array, name)
    return converted


def check_finite_data(array, x, name):
    """Raise ValueError unless ``array``, ``data_array``'s result for ``x``, is finite.

    ``finite_data_problem`` gives the message.
    """
    problem = finite_data_problem(array, x, name)
    if problem is not None:
        raise ValueError(problem)


def finite_data_problem(array, x, name):
    """Why ``array``, ``data_array``'s result for ``x``, is not finite, or None.

    The message tells an entry of ``x`` that is NaN or infinite from a finite
    one that overflowed in the conversion to ``array``'s dtype.
    """
    if all_finite(array):
        return None
    original = as_array(x, name)
    if original.dtype.kind == "f" and all_finite(original):
        return (
            f"{name} holds values beyond the range of {array.dtype} (largest"
            f" {np.finfo(array.dtype).max:.4g}), which overflow to infinity when"
            f" converted to {array.dtype}"
        )
    return _not_finite(array, name)


def kernel_array(x, name, ndim, dtype=None, dtype_of=None):
    """Return ``x`` as a C-contiguous float array for a public kernel wrapper.

    The kernels compute in their inputs' own precision, so ``x`` must already be
    float32 or float64 (TypeError otherwise) and, when ``dtype`` is given, of that
    dtype, the dtype of the argument named ``dtype_of``: mixing precisions would
    compile a second specialization and silently upcast. A float32 or float64
    array in the other byte order is converted to the native one (compiled code
    reads native numbers only). ``x`` keeps its number of dimensions, 0-D
    included.
    """
    array = as_array(x, name)
    _check_numeric(array, name)
    if array.dtype.kind == "f" and not array.dtype.isnative:
        array = array.astype(array.dtype.newbyteorder("="))
    if array.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{name} must be a float32 or float64 array, got {array.dtype}")
    if dtype is not None and array.dtype != dtype:
        raise TypeError(
            f"{name} is {array.dtype} but {dtype_of} is {dtype}: pass arrays of one"
            " float dtype"
        )
    if array.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {array.shape}")
    if 0 in array.shape:
        raise ValueError(f"{name} must not be empty, got shape {array.shape}")
    array = np.asarray(array, order="C")  # unlike ascontiguousarray, keeps 0-D
    _check_finite(array, name)
    return array


def check_finite_result(result, what, arguments, reason=None):
    """Raise ValueError unless every entry of ``result`` is finite.

    Finite inputs give a non-finite result only when a value overflows the
    dtype somewhere in the computation (or, in the general output error, a log
    cost divides by an output of exactly 0 or 1). Checking the result names the
    arguments that decide it, so that no call hands back infinities or NaN.

    Parameters
    ----------
    result : ndarray or numpy scalar
        The computed value.
    what : str
        Its name in the message (``"the gradient"``).
    arguments : str
        The arguments whose magnitudes decide it (``"X, Y and l2"``).
    reason : str, optional
        Replaces the default explanation (overflow); must name the arguments.

    Returns
    -------
    ndarray or numpy scalar
        ``result`` itself.
    """
    if not np.isfinite(result).all():
        dtype = np.asarray(result).dtype
        if reason is None:
            reason = (
                f"it overflows {dtype}: the magnitudes of {arguments} are too large"
                " for this computation in that dtype"
            )
        raise ValueError(f"{what} is not finite: {reason}")
    return result


def read_at_most(stream, n_bytes):
    """Read up to ``n_bytes`` from ``stream``, stopping early at end of file.

    Parameters
    ----------
    stream : binary file object
        Plain, gzip or zip-member stream, positioned where reading starts.
    n_bytes : int
        Most bytes to read.

    Returns
    -------
    bytearray
        The bytes read; shorter than ``n_bytes`` only at end of file.

    Notes
    -----
    Reads in chunks of at most 4 MiB: ``read(n)`` allocates ``n`` bytes up
    front, so a single read sized from an untrusted header could exhaust memory
    before finding out that the data is not there.
    """
    buf = bytearray()
    while len(buf) < n_bytes:
        chunk = stream.read(min(_CHUNK, n_bytes - len(buf)))
        if not chunk:
            break
        buf += chunk
    return buf


def check_length(actual, expected, message):
    """Raise ValueError with ``message`` unless ``actual == expected``."""
    if actual != expected:
        raise ValueError(message)


def check_real(value, name, low, high=None, *, low_open=False, dtype=None):
    """Return ``value`` as a finite float in [low, high), or (low, high) if low_open.

    ``high=None`` means no upper bound. Bools and non-real numbers raise TypeError,
    values outside the interval (or not finite) ValueError naming ``name``. With
    ``dtype``, the value must also stay finite when rounded to it (1e300 is not a
    float32), and with ``low_open`` stay above ``low`` (1e-50 rounds to 0 in
    float32), since the kernels compute with it in that dtype.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    above = value > low if low_open else value >= low
    if not (np.isfinite(value) and above and (high is None or value < high)):
        interval = (
            f"{'(' if low_open else '['}{low}, {'inf' if high is None else high})"
        )
        raise ValueError(f"{name} must be finite and in {interval}, got {value!r}")
    if dtype is not None and value != 0:  # 0 is 0 in every dtype
        with np.errstate(over="ignore", under="ignore"):
            rounded = np.dtype(dtype).type(value)
        if not np.isfinite(rounded):
            raise ValueError(
                f"{name}={value!r} overflows {np.dtype(dtype)}, whose largest value"
                f" is {np.finfo(dtype).max:.4g}"
            )
        if low_open and not rounded > low:
            raise ValueError(
                f"{name}={value!r} rounds to {rounded} in {np.dtype(dtype)}; it must"
                f" stay above {low}"
            )
    return value
