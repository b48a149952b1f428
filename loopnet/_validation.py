"""Checks at the public boundary, before any compiled kernel runs.

Every message names the argument, what was expected and what was given.
Compiled kernels trust their inputs, so nothing
reaches them before passing through here.
"""

import numbers
import operator

import numpy as np

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


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


def check_l2(l2):
    """Return ``l2`` as a finite float >= 0."""
    return check_real(l2, "l2", 0.0)


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


def _check_finite(array, name):
    if not np.all(np.isfinite(array)):
        bad = np.count_nonzero(~np.isfinite(array))
        raise ValueError(
            f"{name} must be finite; it holds {bad} NaN or infinite value(s)"
            f" (in {array.dtype})"
        )


def data_array(x, name, dtype, n_columns):
    """Return data ``x`` as a C-contiguous ``(n_rows, n_columns)`` array of ``dtype``.

    Booleans and integers are converted; complex, string and object arrays raise
    TypeError. Values that do not fit ``dtype`` (1e308 into float32) show up as
    infinities after the conversion and raise ValueError like any non-finite value.
    """
    array = np.asarray(x)
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
    with np.errstate(over="ignore", invalid="ignore"):
        array = np.ascontiguousarray(array, dtype=dtype)
    _check_finite(array, name)
    return array


def kernel_array(x, name, ndim, dtype=None):
    """Return ``x`` as a C-contiguous float array for a public kernel wrapper.

    The kernels compute in their inputs' own precision, so ``x`` must already be
    float32 or float64 (TypeError otherwise) and, when ``dtype`` is given, of that
    dtype: mixing precisions would compile a second specialization and silently
    upcast.
    """
    array = np.asarray(x)
    _check_numeric(array, name)
    if array.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{name} must be a float32 or float64 array, got {array.dtype}")
    if dtype is not None and array.dtype != dtype:
        raise TypeError(
            f"{name} is {array.dtype} but the other arrays are {dtype}:"
            " pass one float dtype"
        )
    if array.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {array.shape}")
    if 0 in array.shape:
        raise ValueError(f"{name} must not be empty, got shape {array.shape}")
    array = np.ascontiguousarray(array)
    _check_finite(array, name)
    return array


def check_length(actual, expected, message):
    """Raise ValueError with ``message`` unless ``actual == expected``."""
    if actual != expected:
        raise ValueError(message)


def check_real(value, name, low, high=None, *, low_open=False):
    """Return ``value`` as a finite float in [low, high), or (low, high) if low_open.

    ``high=None`` means no upper bound. Bools and non-real numbers raise TypeError,
    values outside the interval (or not finite) ValueError naming ``name``.
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
    return value
