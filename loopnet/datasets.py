"""Data sets for the examples and tests.

Holds a reader for MNIST-style IDX files (:func:`load_idx`, plain or gzip),
scikit-learn's bundled 8x8 handwritten digits split into train and test sets
(:func:`digits`, returning a :class:`Split`), and :func:`one_hot`, which turns
class indices into the target rows ``Y`` the costs expect. Inputs come back one
example per row, shape ``(n_examples, n_features)``, as everywhere in loopnet.
"""

import gzip
import math
import numbers
import os
import stat
import struct
import zlib
from typing import NamedTuple

import numpy as np

from loopnet._extras import missing_extra
from loopnet._validation import as_array, check_count, read_at_most

__all__ = ["Split", "digits", "load_idx", "one_hot"]

# IDX type codes (third byte of the magic number); multi-byte data is big-endian.
_IDX_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_GZIP_MAGIC = b"\x1f\x8b"


def _parse_idx(stream, name, file_size):
    """Parse one IDX stream into a native-endian array.

    Parameters
    ----------
    stream : binary file object
        The (decompressed) IDX bytes, positioned at the magic number.
    name : str or bytes
        The path, for error messages.
    file_size : int or None
        Size in bytes of the whole uncompressed file when known (a plain
        regular file), else None.

    Returns
    -------
    ndarray
        Shape and dtype from the header, native byte order, writable.
    """
    where = f"IDX file {name!r}"
    header = read_at_most(stream, 4)
    if len(header) < 4:
        raise ValueError(
            f"{where}: truncated header: expected 4 bytes (magic number), "
            f"found {len(header)}"
        )
    if header[0] != 0 or header[1] != 0:
        raise ValueError(
            f"{where}: bad magic number: expected the first two bytes to be "
            f"00 00, found {header[0]:02x} {header[1]:02x}"
        )
    code, ndim = header[2], header[3]
    if code not in _IDX_DTYPES:
        known = ", ".join(f"0x{c:02X}" for c in _IDX_DTYPES)
        raise ValueError(
            f"{where}: unknown dtype code 0x{code:02X}; expected one of {known}"
        )
    if ndim == 0:
        raise ValueError(f"{where}: ndim is 0; expected at least 1 dimension")
    raw_sizes = read_at_most(stream, 4 * ndim)
    if len(raw_sizes) < 4 * ndim:
        raise ValueError(
            f"{where}: truncated header: ndim={ndim} needs {4 * ndim} bytes of "
            f"dimension sizes, found {len(raw_sizes)}"
        )
    shape = struct.unpack(f">{ndim}I", raw_sizes)
    dtype = _IDX_DTYPES[code]
    # Python ints: the product of 255 uint32 sizes cannot overflow.
    expected = math.prod(shape) * dtype.itemsize
    need = f"shape {shape} of {dtype.name} needs {expected} data bytes"
    if file_size is not None:
        found = file_size - 4 - 4 * ndim
        if found != expected:
            kind = "truncated data" if found < expected else "trailing bytes"
            raise ValueError(f"{where}: {kind}: {need}, found {found}")
    # One byte past the end tells trailing data apart without reading all of it.
    data = read_at_most(stream, expected + 1)
    if len(data) < expected:
        raise ValueError(f"{where}: truncated data: {need}, found {len(data)}")
    if len(data) > expected:
        raise ValueError(f"{where}: trailing bytes: {need}, found more than {expected}")
    array = np.frombuffer(data, dtype=dtype).reshape(shape)
    if not array.dtype.isnative:
        # The bytearray is ours alone: swap in place rather than copy.
        array.byteswap(inplace=True)
        array = array.view(array.dtype.newbyteorder("="))
    return array


def load_idx(path):
    """Read an IDX file (the MNIST format) into an array.

    An IDX file is a 4-byte magic number (two zero bytes, a dtype code, the
    number of dimensions ``ndim``), then ``ndim`` big-endian uint32 sizes, then
    the data in C order, big-endian.

    Parameters
    ----------
    path : str or os.PathLike
        The file, plain or gzip-compressed; compression is recognised by the
        gzip magic bytes ``1f 8b``, not by the file name.

    Returns
    -------
    ndarray
        Shape given by the header; dtype uint8 (code 0x08), int8 (0x09),
        int16 (0x0B), int32 (0x0C), float32 (0x0D) or float64 (0x0E), in
        native byte order. A dimension of size 0 gives an empty array.

    Raises
    ------
    TypeError
        If ``path`` is not a str or os.PathLike.
    FileNotFoundError
        If the file does not exist.
    ValueError
        If the magic number is wrong, the dtype code unknown, ``ndim`` is 0,
        the header is truncated, the data is shorter or longer than the sizes
        say, or the gzip stream is corrupt. The message names the file.

    Notes
    -----
    Sizes are checked against the bytes actually present before anything of
    that size is allocated, so a corrupt or hostile header cannot make the
    reader allocate more than the file holds. For MNIST, rows of ``X`` are
    ``load_idx("train-images-idx3-ubyte.gz").reshape(-1, 784) / 255.0`` and
    the targets are ``one_hot(load_idx("train-labels-idx1-ubyte.gz"))``.

    Examples
    --------
    >>> import gzip, os, tempfile
    >>> tmp = tempfile.TemporaryDirectory()
    >>> path = os.path.join(tmp.name, "labels-idx1-ubyte.gz")
    >>> header = bytes([0, 0, 0x08, 1]) + (3).to_bytes(4, "big")
    >>> with gzip.open(path, "wb") as f:
    ...     _ = f.write(header + bytes([7, 0, 9]))
    >>> load_idx(path)
    array([7, 0, 9], dtype=uint8)
    >>> tmp.cleanup()
    """
    if not isinstance(path, str | os.PathLike):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    name = os.fspath(path)
    with open(name, "rb") as f:
        magic = f.read(2)
        f.seek(0)
        if magic == _GZIP_MAGIC:
            try:
                with gzip.GzipFile(fileobj=f, mode="rb") as stream:
                    return _parse_idx(stream, name, None)
            except (OSError, EOFError, zlib.error) as exc:
                # gzip.BadGzipFile is an OSError; EOFError is a cut stream.
                raise ValueError(
                    f"IDX file {name!r}: corrupt gzip stream: {exc}"
                ) from exc
        st = os.fstat(f.fileno())
        file_size = st.st_size if stat.S_ISREG(st.st_mode) else None
        return _parse_idx(f, name, file_size)


def one_hot(labels, n_classes=None, dtype="float64"):
    """Encode class indices as one-hot rows: ``Y[b, j] = 1 if labels[b] == j``.

    Parameters
    ----------
    labels : array_like of int, shape (n_examples,)
        Class index of each example, in ``0 .. n_classes - 1``.
    n_classes : int, optional
        Number of classes, the columns of the result. Default
        ``labels.max() + 1``.
    dtype : str or dtype, default "float64"
        Dtype of the result.

    Returns
    -------
    ndarray, shape (n_examples, n_classes)
        Zeros with a single 1 in column ``labels[b]`` of row ``b``.

    Raises
    ------
    TypeError
        If ``labels`` is not numeric, ``n_classes`` not an integer, or ``dtype``
        not a real numeric dtype.
    ValueError
        If ``labels`` is not 1-D or not of an integer dtype, a label is
        negative or not below ``n_classes``, ``n_classes`` is below 1, the
        result would be too large to address, or ``labels`` is empty and
        ``n_classes`` is not given.

    Examples
    --------
    >>> one_hot([2, 0, 1])
    array([[0., 0., 1.],
           [1., 0., 0.],
           [0., 1., 0.]])
    >>> one_hot([1], n_classes=4, dtype="float32").argmax(axis=1)
    array([1])
    """
    labels = as_array(labels, "labels")
    try:
        dtype = np.dtype(dtype)
    except TypeError as error:
        raise TypeError(
            f"dtype must be a numeric NumPy dtype, got {dtype!r}"
        ) from error
    if dtype.kind not in "biuf":
        raise TypeError(
            f"dtype must be a real numeric dtype (bool, int or float), got {dtype}"
        )
    if labels.dtype.kind not in "biufc":
        raise TypeError(
            f"labels must be numeric class indices, got dtype {labels.dtype}"
        )
    if labels.dtype.kind not in "iu":
        raise ValueError(f"labels must have an integer dtype, got {labels.dtype}")
    if labels.ndim != 1:
        raise ValueError(
            f"labels must be 1-D, shape (n_examples,); got shape {labels.shape}"
        )
    if n_classes is None:
        if labels.size == 0:
            raise ValueError("labels is empty; pass n_classes to set the columns")
        n_classes = int(labels.max()) + 1
    else:
        n_classes = check_count(n_classes, "n_classes", minimum=0)
    if n_classes < 1:
        raise ValueError(f"n_classes must be at least 1, got {n_classes}")
    if labels.size:
        # Python ints: no wrap-around for uint64 labels or a huge n_classes.
        lowest, highest = int(labels.min()), int(labels.max())
        if lowest < 0:
            at = int(labels.argmin())
            raise ValueError(
                f"labels must be non-negative; found {lowest} at index {at}"
            )
        if highest >= n_classes:
            at = int(labels.argmax())
            raise ValueError(
                f"labels must be < n_classes={n_classes}; found {highest} at index {at}"
            )
    # Python ints: the product cannot overflow before it is compared.
    if labels.size * n_classes * dtype.itemsize > np.iinfo(np.intp).max:
        raise ValueError(
            f"one_hot of {labels.size} labels with n_classes={n_classes} would hold"
            f" {labels.size * n_classes} entries, more than an array can address"
            " (is a label or n_classes far too large?)"
        )
    Y = np.zeros((labels.size, n_classes), dtype=dtype)
    Y[np.arange(labels.size), labels.astype(np.intp)] = 1
    return Y


class Split(NamedTuple):
    """A train/test split, one example per row.

    Attributes
    ----------
    X_train : ndarray, shape (n_train, n_features)
        Training inputs.
    Y_train : ndarray, shape (n_train, n_classes)
        One-hot training targets.
    labels_train : ndarray of int, shape (n_train,)
        Class index of each training example.
    X_test : ndarray, shape (n_test, n_features)
        Test inputs.
    Y_test : ndarray, shape (n_test, n_classes)
        One-hot test targets.
    labels_test : ndarray of int, shape (n_test,)
        Class index of each test example.
    """

    X_train: np.ndarray
    Y_train: np.ndarray
    labels_train: np.ndarray
    X_test: np.ndarray
    Y_test: np.ndarray
    labels_test: np.ndarray


def digits(test_size=0.2, seed=0):
    """Load scikit-learn's 8x8 handwritten digits, split into train and test.

    The 1797 images are bundled with scikit-learn, so nothing is downloaded.

    Parameters
    ----------
    test_size : float, default 0.2
        Fraction of the examples in the test set, strictly between 0 and 1;
        the test set has ``ceil(test_size * 1797)`` examples, as in
        scikit-learn's ``train_test_split``.
    seed : int, default 0
        Seed of ``numpy.random.default_rng``, whose ``permutation`` shuffles
        the examples; the same seed gives the same split.

    Returns
    -------
    Split
        ``X_*`` float64 of shape ``(n, 64)``, pixel intensities 0..16 scaled to
        [0, 1]; ``Y_*`` float64 one-hot of shape ``(n, 10)``; ``labels_*`` int64
        digit of each row. The test set is the first ``n_test`` examples of the
        permutation, the training set the rest.

    Raises
    ------
    ImportError
        If scikit-learn is not installed.
    TypeError
        If ``test_size`` is not a real number.
    ValueError
        If ``test_size`` is not strictly between 0 and 1, or leaves the train
        or test set empty.

    Examples
    --------
    >>> split = digits(test_size=0.2, seed=0)
    >>> split.X_train.shape, split.Y_train.shape, split.labels_train.shape
    ((1437, 64), (1437, 10), (1437,))
    >>> split.X_test.shape, split.Y_test.shape, split.labels_test.shape
    ((360, 64), (360, 10), (360,))
    """
    if isinstance(test_size, bool) or not isinstance(test_size, numbers.Real):
        raise TypeError(
            f"test_size must be a float in (0, 1), got {type(test_size).__name__}"
        )
    if not 0 < test_size < 1:
        raise ValueError(f"test_size must be in (0, 1), got {test_size}")
    try:
        from sklearn.datasets import load_digits
    except ImportError as error:
        raise missing_extra("digits()", "scikit-learn", "examples", error) from error
    X, labels = load_digits(return_X_y=True)
    n = X.shape[0]
    n_test = math.ceil(test_size * n)
    if n_test >= n:
        raise ValueError(
            f"test_size={test_size} puts all {n} examples in the test set; "
            "expected a smaller fraction"
        )
    X = np.asarray(X, dtype=np.float64) / 16.0
    labels = np.asarray(labels, dtype=np.int64)
    order = np.random.default_rng(seed).permutation(n)
    test, train = order[:n_test], order[n_test:]
    return Split(
        X_train=X[train],
        Y_train=one_hot(labels[train], n_classes=10),
        labels_train=labels[train],
        X_test=X[test],
        Y_test=one_hot(labels[test], n_classes=10),
        labels_test=labels[test],
    )
